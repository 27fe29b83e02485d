/*
 * libFuzzer target for lib/lookupmsg.c, the two lookup payloads a relay
 * and mmp-ldapd send each other: the input is read as each; what a reader
 * takes must keep its promises (ranges, no CR/LF in the replay name) and
 * read back the same after it is written again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookupmsg.h"

static void
as_imsg(const uint8_t *data, size_t size, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = (uint8_t *)data;
	imsg->datalen = size;
}

static void
check_request(const struct imsg *imsg)
{
	struct lookup_req	rq, again;
	struct msg_writer	w;
	struct imsg		back;

	if (lookup_req_read(imsg, &rq) == -1)
		return;
	if (rq.userlen > MMP_USER_BYTES + 1 || rq.user[rq.userlen] != '\0')
		abort();
	/* A CRAM: known mechanism, a challenge, never a password. */
	if (rq.cram >= CRAM_MECH_MAX || (rq.cram != CRAM_NONE &&
	    (rq.passlen != 0 || rq.preauth ||
	    !cram_challenge_ok(rq.challenge))))
		abort();
	/* A password only with the preauth flag, which is 0 or 1. */
	if (rq.preauth > 1 || (!rq.preauth && rq.passlen != 0))
		abort();
	msg_writer_init(&w);
	if (lookup_req_write(&w, &rq) == -1)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (lookup_req_read(&back, &again) == -1 ||
	    memcmp(&rq, &again, sizeof(rq)) != 0)
		abort();
}

static void
check_answer(const struct imsg *imsg)
{
	struct lookup_answer	a, again;
	struct msg_writer	w;
	struct imsg		back;

	if (lookup_answer_read(imsg, &a) == -1)
		return;
	if (a.status >= LOOKUP_MAX || a.naddr > MMP_ADDRS_MAX ||
	    (a.status == LOOKUP_OK && a.naddr == 0) ||
	    strpbrk(a.replay, "\r\n") != NULL || a.verified > 1 ||
	    (a.verified && a.status != LOOKUP_OK && a.status != LOOKUP_HELD))
		abort();
	msg_writer_init(&w);
	lookup_answer_write(&w, &a);
	as_imsg(w.buf, w.len, &back);
	if (w.err || lookup_answer_read(&back, &again) == -1 ||
	    memcmp(&a, &again, sizeof(a)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsg	imsg;

	if (size > IMSG_MAX_BYTES)
		return 0;
	as_imsg(data, size, &imsg);
	check_request(&imsg);
	check_answer(&imsg);
	return 0;
}
