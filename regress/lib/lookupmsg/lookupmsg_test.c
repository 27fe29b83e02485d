/*
 * Unit test for lib/lookupmsg.c: what the relay writes mmp-ldapd reads
 * back the same, and the other way; each reader refuses what its process
 * must not take from the other (short, trailing, out of range, a replay
 * name with CR or LF, LOOKUP_OK without an address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookupmsg.h"
#include "regress/tap.h"

/* An imsg over the writer's bytes, as imsg_get would hand it out. */
static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static void
test_request(void)
{
	struct lookup_req	rq, got;
	struct msg_writer	w;
	struct imsg		imsg;

	memset(&rq, 0, sizeof(rq));
	rq.reqid = 0x1122334455667788ULL;
	rq.sid = 0x1000000000003ULL;
	rq.svc = 2;
	memcpy(rq.user, "da\0ve", 5);
	rq.userlen = 5;
	(void)strlcpy(rq.client, "192.0.2.7:50114", sizeof(rq.client));
	(void)strlcpy(rq.local, "[2001:db8::1]:143", sizeof(rq.local));
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), 0, "request written");
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "request read");
	tap_ok(got.sid == 0x1000000000003ULL, "the session id survives");
	tap_ok(got.reqid == rq.reqid && got.svc == 2 && got.userlen == 5 &&
	    memcmp(got.user, "da\0ve", 5) == 0 &&
	    strcmp(got.client, rq.client) == 0 &&
	    strcmp(got.local, rq.local) == 0, "a NUL in the name survives");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "short request refused");
	w.len += 2;
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "trailing byte refused");

	memcpy(rq.pass, "s3cr\0t", 6);
	rq.passlen = 6;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "a password without the "
	    "preauth flag is never written");
	rq.preauth = 1;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), 0, "request with password "
	    "written");
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "request with password "
	    "read");
	tap_ok(got.preauth == 1 && got.passlen == 6 &&
	    memcmp(got.pass, "s3cr\0t", 6) == 0 && got.pass[6] == '\0',
	    "the flag and the password survive, bytes and length");
	rq.passlen = MMP_PASS_BYTES + 1;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "a password over "
	    "MMP_PASS_BYTES is never written");
	rq.passlen = 0;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), 0, "preauth with an empty "
	    "password written (mmp-ldapd refuses it itself)");
	as_imsg(&w, &imsg);
	tap_ok(lookup_req_read(&imsg, &got) == 0 && got.preauth == 1 &&
	    got.passlen == 0, "and read as such");
	rq.preauth = 2;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "a preauth flag of 2 is "
	    "never written");
	rq.preauth = 0;

	rq.userlen = MMP_USER_BYTES + 2;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "the relay never writes a "
	    "name longer than one too long");
}

/* A relay that lies about the name's length: read as one too long. */
static void
test_long_name(void)
{
	struct lookup_req	got;
	struct msg_writer	w;
	struct imsg		imsg;
	char			name[1000];

	memset(name, 'n', sizeof(name));
	msg_writer_init(&w);
	msg_add_u64(&w, 7);
	msg_add_u64(&w, 7);
	msg_add_u8(&w, 1);
	msg_add_u16(&w, sizeof(name));
	msg_add_data(&w, name, sizeof(name));
	msg_add_str(&w, "c");
	msg_add_str(&w, "l");
	msg_add_u8(&w, 0);
	msg_add_u16(&w, 0);
	msg_add_u8(&w, CRAM_NONE);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "a 1000-byte name is read");
	tap_ok(got.userlen == MMP_USER_BYTES + 1 &&
	    strcmp(got.client, "c") == 0 && strcmp(got.local, "l") == 0,
	    "as %d bytes, one too many, and the fields after it", MMP_USER_BYTES
	    + 1);
	msg_writer_init(&w);
	msg_add_u64(&w, 7);
	msg_add_u8(&w, 1);
	msg_add_u16(&w, 60000);
	msg_add_data(&w, name, sizeof(name));
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a length beyond the "
	    "message is refused");
	msg_writer_init(&w);
	msg_add_u64(&w, 7);
	msg_add_u64(&w, 7);
	msg_add_u8(&w, 1);
	msg_add_u16(&w, 1);
	msg_add_data(&w, "n", 1);
	msg_add_str(&w, "c");
	msg_add_str(&w, "l");
	msg_add_u8(&w, 1);
	msg_add_u16(&w, sizeof(name));
	msg_add_data(&w, name, sizeof(name));
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a password over "
	    "MMP_PASS_BYTES is malformed");
}

/* The CRAM fields: written and read back, and every way to lie in them. */
static void
cram_req(struct lookup_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->reqid = 9;
	rq->sid = 9;
	rq->svc = 2;
	memcpy(rq->user, "tim", 3);
	rq->userlen = 3;
	(void)strlcpy(rq->client, "c", sizeof(rq->client));
	(void)strlcpy(rq->local, "l", sizeof(rq->local));
	rq->cram = CRAM_APOP;
	(void)strlcpy(rq->challenge, "<1896.697170952@dbc.mtview.ca.us>",
	    sizeof(rq->challenge));
	memset(rq->digest, 0xc4, sizeof(rq->digest));
}

/* The request by hand: a CRAM or PreAuth part as a liar would write it. */
static void
cram_raw_pre(struct msg_writer *w, uint8_t mech, const char *chal,
    size_t digestlen, uint16_t passlen, uint8_t preauth)
{
	uint8_t	d[CRAM_DIGEST_BYTES + 1];

	memset(d, 1, sizeof(d));
	msg_writer_init(w);
	msg_add_u64(w, 9);
	msg_add_u64(w, 9);
	msg_add_u8(w, 1);
	msg_add_u16(w, 3);
	msg_add_data(w, "tim", 3);
	msg_add_str(w, "c");
	msg_add_str(w, "l");
	msg_add_u8(w, preauth);
	msg_add_u16(w, passlen);
	msg_add_data(w, "pwpwpwpw", passlen);
	msg_add_u8(w, mech);
	if (chal != NULL)
		msg_add_str(w, chal);
	msg_add_data(w, d, digestlen);
}

/* The same, the preauth flag set when there is a password. */
static void
cram_raw(struct msg_writer *w, uint8_t mech, const char *chal,
    size_t digestlen, uint16_t passlen)
{
	cram_raw_pre(w, mech, chal, digestlen, passlen, passlen > 0);
}

static void
test_cram(void)
{
	struct lookup_req	rq, got;
	struct msg_writer	w;
	struct imsg		imsg;
	char			longchal[CRAM_CHALLENGE_BYTES + 2];

	cram_req(&rq);
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), 0, "APOP request written");
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "APOP request read");
	tap_ok(got.cram == CRAM_APOP && strcmp(got.challenge,
	    rq.challenge) == 0 && memcmp(got.digest, rq.digest,
	    sizeof(rq.digest)) == 0 && got.passlen == 0,
	    "mechanism, challenge and digest survive");
	rq.cram = CRAM_MD5;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), 0, "CRAM-MD5 request written");
	as_imsg(&w, &imsg);
	tap_ok(lookup_req_read(&imsg, &got) == 0 && got.cram == CRAM_MD5,
	    "CRAM-MD5 request read");

	rq.passlen = 2;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "a CRAM with a password "
	    "is never written");
	rq.passlen = 0;
	rq.challenge[0] = '\0';
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "nor one without a "
	    "challenge");
	cram_req(&rq);
	rq.cram = CRAM_MECH_MAX;
	msg_writer_init(&w);
	tap_is_int(lookup_req_write(&w, &rq), -1, "nor an unknown mechanism");
	tap_is_int(w.err, 1, "the writer is marked failed");

	cram_raw(&w, CRAM_APOP, "<a@b>", CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "by hand: well formed");
	cram_raw(&w, CRAM_MECH_MAX, "<a@b>", CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "mechanism out of range");
	cram_raw(&w, CRAM_APOP, "<a@b>", CRAM_DIGEST_BYTES - 1, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "short digest");
	cram_raw(&w, CRAM_APOP, "<a@b>", CRAM_DIGEST_BYTES + 1, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "long digest");
	cram_raw(&w, CRAM_MD5, "<a@b>", CRAM_DIGEST_BYTES, 4);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a password too");
	cram_raw(&w, CRAM_MD5, "a@b", CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a challenge without "
	    "<>");
	cram_raw(&w, CRAM_MD5, "<a\nb>", CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a challenge with LF");
	cram_raw(&w, CRAM_MD5, "", CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "an empty challenge");
	memset(longchal, 'x', sizeof(longchal) - 1);
	longchal[0] = '<';
	longchal[sizeof(longchal) - 2] = '>';
	longchal[sizeof(longchal) - 1] = '\0';
	cram_raw(&w, CRAM_MD5, longchal, CRAM_DIGEST_BYTES, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "a challenge over "
	    "CRAM_CHALLENGE_BYTES");
	cram_raw(&w, CRAM_NONE, NULL, 0, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), 0, "no CRAM: nothing after");
	cram_raw(&w, CRAM_NONE, NULL, 1, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "no CRAM with a byte "
	    "after it: trailing");
	cram_raw(&w, CRAM_APOP, NULL, 0, 0);
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "no mechanism byte: "
	    "short");
	cram_raw_pre(&w, CRAM_NONE, NULL, 0, 4, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "raw: a password without "
	    "the preauth flag refused");
	cram_raw_pre(&w, CRAM_NONE, NULL, 0, 0, 2);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "raw: a preauth flag of 2 "
	    "refused");
	cram_raw_pre(&w, CRAM_NONE, NULL, 0, 4, 1);
	as_imsg(&w, &imsg);
	tap_ok(lookup_req_read(&imsg, &got) == 0 && got.preauth == 1 &&
	    got.passlen == 4, "raw: preauth with a password read");
	cram_raw_pre(&w, CRAM_APOP, "<a@b>", CRAM_DIGEST_BYTES, 0, 1);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_req_read(&imsg, &got), -1, "raw: preauth with a CRAM "
	    "refused");
}

static void
answer_ok(struct lookup_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->reqid = 42;
	a->status = LOOKUP_OK;
	(void)strlcpy(a->detail, "found", sizeof(a->detail));
	(void)strlcpy(a->dn, "uid=dave,o=example", sizeof(a->dn));
	(void)strlcpy(a->mailhost, "store1.example", sizeof(a->mailhost));
	(void)strlcpy(a->replay, "dave@example", sizeof(a->replay));
	a->naddr = 2;
	(void)strlcpy(a->addrs[0], "192.0.2.21", sizeof(a->addrs[0]));
	(void)strlcpy(a->addrs[1], "2001:db8::21", sizeof(a->addrs[1]));
}

static int
answer_roundtrip(const struct lookup_answer *a, struct lookup_answer *got)
{
	struct msg_writer	w;
	struct imsg		imsg;

	msg_writer_init(&w);
	lookup_answer_write(&w, a);
	as_imsg(&w, &imsg);
	return lookup_answer_read(&imsg, got);
}

static void
test_answer(void)
{
	struct lookup_answer	a, got;
	struct msg_writer	w;
	struct imsg		imsg;
	int			i;

	answer_ok(&a);
	tap_is_int(answer_roundtrip(&a, &got), 0, "answer read");
	tap_ok(memcmp(&a, &got, sizeof(a)) == 0, "answer read back the same");

	answer_ok(&a);
	a.naddr = 0;
	tap_is_int(answer_roundtrip(&a, &got), -1, "LOOKUP_OK without an "
	    "address refused");
	a.status = LOOKUP_NOUSER;
	tap_is_int(answer_roundtrip(&a, &got), 0, "NOUSER without an address "
	    "taken");
	answer_ok(&a);
	a.status = LOOKUP_MAX;
	tap_is_int(answer_roundtrip(&a, &got), -1, "status out of range "
	    "refused");
	answer_ok(&a);
	(void)strlcpy(a.replay, "dave\r\nA1 LOGOUT", sizeof(a.replay));
	tap_is_int(answer_roundtrip(&a, &got), -1, "replay name with CR LF "
	    "refused");
	(void)strlcpy(a.replay, "dave\nx", sizeof(a.replay));
	tap_is_int(answer_roundtrip(&a, &got), -1, "replay name with LF "
	    "refused");
	answer_ok(&a);
	a.verified = 1;
	tap_ok(answer_roundtrip(&a, &got) == 0 && got.verified == 1,
	    "verified read back");
	a.status = LOOKUP_HELD;
	a.naddr = 0;
	tap_ok(answer_roundtrip(&a, &got) == 0 && got.verified == 1 &&
	    got.status == LOOKUP_HELD, "HELD, verified, no address taken");
	a.status = LOOKUP_NOUSER;
	tap_is_int(answer_roundtrip(&a, &got), -1, "verified with NOUSER "
	    "refused");
	a.status = LOOKUP_BADPASS;
	tap_is_int(answer_roundtrip(&a, &got), -1, "verified with BADPASS "
	    "refused");
	answer_ok(&a);
	a.verified = 2;
	tap_is_int(answer_roundtrip(&a, &got), -1, "verified 2 refused");

	/* Hand-made: more addresses than MMP_ADDRS_MAX, a trailing byte. */
	answer_ok(&a);
	msg_writer_init(&w);
	msg_add_u64(&w, 1);
	msg_add_u8(&w, LOOKUP_OK);
	msg_add_str(&w, "");
	msg_add_str(&w, "");
	msg_add_str(&w, "");
	msg_add_str(&w, "");
	msg_add_u8(&w, MMP_ADDRS_MAX + 1);
	for (i = 0; i <= MMP_ADDRS_MAX; i++)
		msg_add_str(&w, "192.0.2.1");
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_answer_read(&imsg, &got), -1, "%d addresses refused",
	    MMP_ADDRS_MAX + 1);
	msg_writer_init(&w);
	lookup_answer_write(&w, &a);
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(lookup_answer_read(&imsg, &got), -1, "trailing byte "
	    "refused");
	msg_writer_init(&w);
	lookup_answer_write(&w, &a);
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(lookup_answer_read(&imsg, &got), -1, "answer without its "
	    "verified byte refused");
}

int
main(void)
{
	test_request();
	test_long_name();
	test_cram();
	test_answer();
	return tap_done();
}
