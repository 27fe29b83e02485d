/*
 * Unit tests for lib/authsvcmsg.c: the address XQUERYAUTH asks about,
 * and IMSG_AUTHSVC_RECORD, _QUERY, _ANSWER read back, with the nasty
 * payloads each reader must refuse.
 */
#include <stdio.h>
#include <string.h>

#include "authsvcmsg.h"
#include "tap.h"

static const struct {
	const char	*in;
	const char	*want;		/* NULL: refused */
} addrs[] = {
	{ "192.0.2.7", "192.0.2.7" },
	{ "0.0.0.0", "0.0.0.0" },
	{ "2001:DB8::0:1", "2001:db8::1" },
	{ "::ffff:192.0.2.7", "::ffff:192.0.2.7" },
	{ "::1", "::1" },
	{ "192.0.2.07", NULL },
	{ "192.0.2", NULL },
	{ "192.0.2.7:25", NULL },
	{ "[::1]", NULL },
	{ "192.0.2.7/32", NULL },
	{ " 192.0.2.7", NULL },
	{ "192.0.2.7 ", NULL },
	{ "fe80::1%eth0", NULL },
	{ "mta.example", NULL },
	{ "", NULL },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999", NULL },
	{ "0000:0000:0000:0000:0000:ffff:192.000.002.007", NULL },
};

static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static void
test_addr(void)
{
	char	out[AUTHSVC_ADDR_BYTES];
	size_t	i;
	int	rv;

	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		rv = authsvc_addr(addrs[i].in, strlen(addrs[i].in), out,
		    sizeof(out));
		if (addrs[i].want != NULL)
			tap_ok(rv == 0 && strcmp(out, addrs[i].want) == 0,
			    "address \"%s\" is %s", addrs[i].in,
			    addrs[i].want);
		else
			tap_is_int(rv, -1, "address \"%s\" refused",
			    addrs[i].in);
	}
	tap_is_int(authsvc_addr("192.0.2.7\0x", 11, out, sizeof(out)), -1,
	    "a NUL inside refused");
	tap_ok(authsvc_addr("192.0.2.7x", 9, out, sizeof(out)) == 0 &&
	    strcmp(out, "192.0.2.7") == 0, "len is honoured");
	tap_is_int(authsvc_addr("192.0.2.7", 9, out, 8), -1,
	    "small output refused");
}

static void
record_ok(struct authsvc_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	(void)strlcpy(rec->domain, "x", sizeof(rec->domain));
	(void)strlcpy(rec->addr, "192.0.2.7", sizeof(rec->addr));
	(void)strlcpy(rec->user, "pat@x.example", sizeof(rec->user));
	rec->ttl = 900;
}

static int
record_roundtrip(const struct authsvc_record *rec, struct authsvc_record *got)
{
	struct msg_writer	w;
	struct imsg		imsg;

	msg_writer_init(&w);
	if (authsvc_record_write(&w, rec) == -1)
		return -2;
	as_imsg(&w, &imsg);
	return authsvc_record_read(&imsg, got);
}

/* A record written by hand, whatever its fields: the reader's verdict. */
static int
record_raw(const char *domain, const char *addr, const char *user,
    uint32_t ttl, int extra)
{
	struct authsvc_record	got;
	struct msg_writer	w;
	struct imsg		imsg;

	msg_writer_init(&w);
	msg_add_str(&w, domain);
	msg_add_str(&w, addr);
	msg_add_str(&w, user);
	msg_add_u32(&w, ttl);
	if (extra)
		msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	return authsvc_record_read(&imsg, &got);
}

static void
test_record(void)
{
	struct authsvc_record	rec, got;
	char			long_user[MMP_USER_BYTES + 2];

	record_ok(&rec);
	tap_ok(record_roundtrip(&rec, &got) == 0 &&
	    memcmp(&rec, &got, sizeof(rec)) == 0, "record read back");
	rec.domain[0] = '\0';
	tap_is_int(record_roundtrip(&rec, &got), 0, "record without domain");
	record_ok(&rec);
	rec.ttl = 0;
	tap_is_int(record_roundtrip(&rec, &got), -2, "ttl 0 not written");
	tap_is_int(record_raw("x", "192.0.2.7", "pat", 0, 0), -1,
	    "ttl 0 refused");
	tap_is_int(record_raw("x", "192.0.2.7", "pat", AUTHSVC_TTL_MAX, 0), 0,
	    "ttl %d taken", AUTHSVC_TTL_MAX);
	tap_is_int(record_raw("x", "192.0.2.7", "pat", AUTHSVC_TTL_MAX + 1,
	    0), -1, "ttl %d refused", AUTHSVC_TTL_MAX + 1);
	tap_is_int(record_raw("x", "192.0.2.7", "", 60, 0), -1,
	    "empty user refused");
	tap_is_int(record_raw("x", "192.0.2.7", "pat\r\nx", 60, 0), -1,
	    "user with CR LF refused");
	tap_is_int(record_raw("x y", "192.0.2.7", "pat", 60, 0), -1,
	    "domain with a blank refused");
	tap_is_int(record_raw("x", "192.0.2.07", "pat", 60, 0), -1,
	    "address not normalised refused");
	tap_is_int(record_raw("x", "2001:DB8::1", "pat", 60, 0), -1,
	    "IPv6 address in capitals refused");
	tap_is_int(record_raw("x", "192.0.2.7", "pat", 60, 1), -1,
	    "trailing byte refused");
	memset(long_user, 'u', sizeof(long_user) - 1);
	long_user[sizeof(long_user) - 1] = '\0';
	tap_is_int(record_raw("x", "192.0.2.7", long_user, 60, 0), -1,
	    "user of %d bytes refused", MMP_USER_BYTES + 1);
	long_user[MMP_USER_BYTES] = '\0';
	tap_is_int(record_raw("x", "192.0.2.7", long_user, 60, 0), 0,
	    "user of %d bytes taken", MMP_USER_BYTES);
}

static void
test_query_answer(void)
{
	struct authsvc_query	q, gotq;
	struct authsvc_answer	a, gota;
	struct msg_writer	w;
	struct imsg		imsg;

	memset(&q, 0, sizeof(q));
	q.reqid = 0x1000000000007ULL;
	(void)strlcpy(q.domain, "y", sizeof(q.domain));
	(void)strlcpy(q.addr, "2001:db8::1", sizeof(q.addr));
	msg_writer_init(&w);
	tap_is_int(authsvc_query_write(&w, &q), 0, "query written");
	as_imsg(&w, &imsg);
	tap_ok(authsvc_query_read(&imsg, &gotq) == 0 &&
	    memcmp(&q, &gotq, sizeof(q)) == 0, "query read back");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(authsvc_query_read(&imsg, &gotq), -1, "short query "
	    "refused");
	msg_writer_init(&w);
	msg_add_u64(&w, 1);
	msg_add_str(&w, "y");
	msg_add_str(&w, "not an address");
	as_imsg(&w, &imsg);
	tap_is_int(authsvc_query_read(&imsg, &gotq), -1, "query for a name "
	    "refused");

	memset(&a, 0, sizeof(a));
	a.reqid = 42;
	(void)strlcpy(a.user, "pat", sizeof(a.user));
	msg_writer_init(&w);
	tap_is_int(authsvc_answer_write(&w, &a), 0, "answer written");
	as_imsg(&w, &imsg);
	tap_ok(authsvc_answer_read(&imsg, &gota) == 0 &&
	    memcmp(&a, &gota, sizeof(a)) == 0, "answer read back");
	a.user[0] = '\0';
	msg_writer_init(&w);
	(void)authsvc_answer_write(&w, &a);
	as_imsg(&w, &imsg);
	tap_ok(authsvc_answer_read(&imsg, &gota) == 0 && gota.user[0] == '\0',
	    "answer \"none\" read back");
	(void)strlcpy(a.user, "pat\r\n+OK root", sizeof(a.user));
	msg_writer_init(&w);
	tap_is_int(authsvc_answer_write(&w, &a), -1, "an answer with CR/LF "
	    "is never written");
	tap_is_int(w.err, 1, "and the writer is marked failed, so that "
	    "mmp-ldapd sends nothing");
	msg_writer_init(&w);
	msg_add_u64(&w, 42);
	msg_add_str(&w, "pat\r\n+OK root");
	as_imsg(&w, &imsg);
	tap_is_int(authsvc_answer_read(&imsg, &gota), -1, "answer with CR LF "
	    "refused (it goes to the MTA)");
	msg_writer_init(&w);
	msg_add_u64(&w, 42);
	as_imsg(&w, &imsg);
	tap_is_int(authsvc_answer_read(&imsg, &gota), -1, "answer without "
	    "user refused");
}

int
main(void)
{
	test_addr();
	test_record();
	test_query_answer();
	return tap_done();
}
