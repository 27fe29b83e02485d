/*
 * IMSG_LOOKUP and IMSG_LOOKUP_RESULT: the one encoder and decoder of each,
 * so that the relay and mmp-ldapd cannot disagree on a field.
 */
#include <string.h>

#include "lookupmsg.h"

int
lookup_req_write(struct msg_writer *w, const struct lookup_req *rq)
{
	if (rq->userlen > MMP_USER_BYTES + 1 || rq->passlen > MMP_PASS_BYTES ||
	    rq->preauth > 1 || (!rq->preauth && rq->passlen != 0) ||
	    rq->cram >= CRAM_MECH_MAX || (rq->cram != CRAM_NONE &&
	    (rq->preauth || !cram_challenge_ok(rq->challenge))))
		return msg_refuse(w);
	msg_add_u64(w, rq->reqid);
	msg_add_u64(w, rq->sid);
	msg_add_u8(w, rq->svc);
	/* Bytes, not msg_add_str: a NUL in a name is answered, not cut. */
	msg_add_u16(w, (uint16_t)rq->userlen);
	msg_add_data(w, rq->user, rq->userlen);
	msg_add_str(w, rq->client);
	msg_add_str(w, rq->local);
	msg_add_u8(w, rq->preauth);
	msg_add_u16(w, (uint16_t)rq->passlen);
	msg_add_data(w, rq->pass, rq->passlen);
	msg_add_u8(w, rq->cram);
	if (rq->cram != CRAM_NONE) {
		msg_add_str(w, rq->challenge);
		msg_add_data(w, rq->digest, sizeof(rq->digest));
	}
	return w->err ? -1 : 0;
}

int
lookup_req_read(const struct imsg *imsg, struct lookup_req *rq)
{
	struct msg_reader	r;
	uint16_t		len;
	size_t			keep;

	memset(rq, 0, sizeof(*rq));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &rq->reqid) == -1 ||
	    msg_get_u64(&r, &rq->sid) == -1 ||
	    msg_get_u8(&r, &rq->svc) == -1 ||
	    msg_get_u16(&r, &len) == -1 || len > r.left)
		return -1;
	/* A longer name is cut to one byte too long; the rest is skipped. */
	keep = len < sizeof(rq->user) - 1 ? len : sizeof(rq->user) - 1;
	rq->userlen = keep;
	if (msg_get_data(&r, rq->user, keep) == -1 ||
	    msg_skip(&r, len - keep) == -1 ||
	    msg_get_str(&r, rq->client, sizeof(rq->client)) == -1 ||
	    msg_get_str(&r, rq->local, sizeof(rq->local)) == -1 ||
	    msg_get_u8(&r, &rq->preauth) == -1 || rq->preauth > 1 ||
	    msg_get_u16(&r, &len) == -1 || len > MMP_PASS_BYTES ||
	    (!rq->preauth && len != 0) ||
	    msg_get_data(&r, rq->pass, len) == -1)
		return -1;
	rq->passlen = len;
	if (msg_get_u8(&r, &rq->cram) == -1 || rq->cram >= CRAM_MECH_MAX)
		return -1;
	if (rq->cram != CRAM_NONE &&
	    (rq->preauth ||
	    msg_get_str(&r, rq->challenge, sizeof(rq->challenge)) == -1 ||
	    !cram_challenge_ok(rq->challenge) ||
	    msg_get_data(&r, rq->digest, sizeof(rq->digest)) == -1))
		return -1;
	return msg_end(&r);
}

void
lookup_answer_write(struct msg_writer *w, const struct lookup_answer *a)
{
	uint8_t	i, n = a->naddr <= MMP_ADDRS_MAX ? a->naddr : MMP_ADDRS_MAX;

	msg_add_u64(w, a->reqid);
	msg_add_u8(w, a->status);
	msg_add_str(w, a->detail);
	msg_add_str(w, a->dn);
	msg_add_str(w, a->mailhost);
	msg_add_str(w, a->replay);
	msg_add_u8(w, n);
	for (i = 0; i < n; i++)
		msg_add_str(w, a->addrs[i]);
	msg_add_u8(w, a->verified);
}

int
lookup_answer_read(const struct imsg *imsg, struct lookup_answer *a)
{
	struct msg_reader	r;
	uint8_t			i;

	memset(a, 0, sizeof(*a));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &a->reqid) == -1 ||
	    msg_get_u8(&r, &a->status) == -1 ||
	    msg_get_str(&r, a->detail, sizeof(a->detail)) == -1 ||
	    msg_get_str(&r, a->dn, sizeof(a->dn)) == -1 ||
	    msg_get_str(&r, a->mailhost, sizeof(a->mailhost)) == -1 ||
	    msg_get_str(&r, a->replay, sizeof(a->replay)) == -1 ||
	    msg_get_u8(&r, &a->naddr) == -1 || a->naddr > MMP_ADDRS_MAX ||
	    a->status >= LOOKUP_MAX)
		return -1;
	for (i = 0; i < a->naddr; i++)
		if (msg_get_str(&r, a->addrs[i], sizeof(a->addrs[i])) == -1)
			return -1;
	if (msg_get_u8(&r, &a->verified) == -1 || a->verified > 1 ||
	    (a->verified && a->status != LOOKUP_OK &&
	    a->status != LOOKUP_HELD))
		return -1;
	if (msg_end(&r) == -1 || (a->status == LOOKUP_OK && a->naddr == 0) ||
	    strpbrk(a->replay, "\r\n") != NULL)
		return -1;
	return 0;
}
