/*
 * libFuzzer target for lib/namemsg.c, ClientLookup's question and answer
 * between a relay and mmp-ldapd: the input is read as each; what a reader
 * takes must keep its promises (a numeric address; a known status, a host
 * name or none, a printable detail) and read back the same once written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "namemsg.h"
#include "tcpaccess.h"

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
	struct name_req		rq, again;
	struct msg_writer	w;
	struct imsg		back;

	if (name_req_read(imsg, &rq) == -1)
		return;
	if (!name_addr_ok(rq.addr))
		abort();
	msg_writer_init(&w);
	if (name_req_write(&w, &rq) == -1)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (name_req_read(&back, &again) == -1 ||
	    memcmp(&rq, &again, sizeof(rq)) != 0)
		abort();
}

static void
check_answer(const struct imsg *imsg)
{
	struct name_answer	a, again;
	struct msg_writer	w;
	struct imsg		back;

	if (name_answer_read(imsg, &a) == -1)
		return;
	if (a.status == TCPA_NAME_NONE || a.status >= TCPA_NAME_MAX ||
	    (a.status == TCPA_NAME_UNKNOWN) != (a.name[0] == '\0') ||
	    (a.name[0] != '\0' && !name_host_ok(a.name)) ||
	    !msg_text_ok(a.detail))
		abort();
	msg_writer_init(&w);
	if (name_answer_write(&w, &a) == -1)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (name_answer_read(&back, &again) == -1 ||
	    memcmp(&a, &again, sizeof(a)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsg	imsg;

	as_imsg(data, size, &imsg);
	check_request(&imsg);
	check_answer(&imsg);
	return 0;
}
