/*
 * Unit test for lib/namemsg.c: a relay's question and mmp-ldapd's answer
 * round-trip, and each reader refuses what its process must not trust
 * (short, trailing, a name that is no host's, an address that is not
 * numeric, a status out of range).
 */
#include <stdio.h>
#include <string.h>

#include "namemsg.h"
#include "tcpaccess.h"
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
test_req(void)
{
	static const struct {
		const char	*addr;
		int		 ok;
	} cases[] = {
		{ "192.0.2.7", 1 }, { "2001:db8::1", 1 }, { "::1", 1 },
		{ "192.0.2.07", 0 }, { "2001:DB8::1", 0 }, { "2001:db8:0::1", 0 },
		{ "::ffff:192.0.2.7", 0 }, { "host.example", 0 }, { "", 0 },
		{ "192.0.2.7 ", 0 }, { "[::1]", 0 }, { "192.0.2.7:143", 0 },
	};
	struct name_req		rq, got;
	struct msg_writer	w;
	struct imsg		imsg;
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&rq, 0, sizeof(rq));
		rq.reqid = 7;
		rq.sid = 9;
		(void)strlcpy(rq.addr, cases[i].addr, sizeof(rq.addr));
		msg_writer_init(&w);
		tap_is_int(name_req_write(&w, &rq), cases[i].ok ? 0 : -1,
		    "write \"%s\"", cases[i].addr);
		tap_is_int(w.err, !cases[i].ok, "writer failed iff refused");
		/* what a hostile relay could send anyway */
		msg_writer_init(&w);
		msg_add_u64(&w, 7);
		msg_add_u64(&w, 9);
		msg_add_str(&w, cases[i].addr);
		as_imsg(&w, &imsg);
		tap_is_int(name_req_read(&imsg, &got), cases[i].ok ? 0 : -1,
		    "read \"%s\"", cases[i].addr);
		if (cases[i].ok)
			tap_ok(got.reqid == 7 && got.sid == 9 &&
			    strcmp(got.addr, cases[i].addr) == 0, "fields kept");
	}
	msg_writer_init(&w);
	msg_add_u64(&w, 7);
	msg_add_u64(&w, 9);
	as_imsg(&w, &imsg);
	tap_is_int(name_req_read(&imsg, &got), -1, "short request refused");
	msg_add_str(&w, "192.0.2.7");
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(name_req_read(&imsg, &got), -1, "trailing byte refused");
}

static int
answer_read(uint64_t reqid, int status, const char *name, const char *detail,
    struct name_answer *got)
{
	struct msg_writer	w;
	struct imsg		imsg;

	msg_writer_init(&w);
	msg_add_u64(&w, reqid);
	msg_add_u8(&w, (uint8_t)status);
	msg_add_str(&w, name);
	msg_add_str(&w, detail);
	as_imsg(&w, &imsg);
	return name_answer_read(&imsg, got);
}

static void
test_answer(void)
{
	static const struct {
		int		 status;
		const char	*name;
		const char	*detail;
		int		 ok;
	} cases[] = {
		{ TCPA_NAME_KNOWN, "mail.example.com", "confirmed", 1 },
		{ TCPA_NAME_KNOWN, "mailhub", "", 1 },
		{ TCPA_NAME_SPOOFED, "liar.example", "does not resolve", 1 },
		{ TCPA_NAME_UNKNOWN, "", "no name", 1 },
		{ TCPA_NAME_UNKNOWN, "x.example", "", 0 },
		{ TCPA_NAME_KNOWN, "", "", 0 },
		{ TCPA_NAME_NONE, "", "", 0 },
		{ TCPA_NAME_MAX, "a.example", "", 0 },
		{ 200, "a.example", "", 0 },
		{ TCPA_NAME_KNOWN, "a..example", "", 0 },
		{ TCPA_NAME_KNOWN, "a.example.", "", 0 },
		{ TCPA_NAME_KNOWN, ".example", "", 0 },
		{ TCPA_NAME_KNOWN, "a example", "", 0 },
		{ TCPA_NAME_KNOWN, "a\r\nb", "", 0 },
		{ TCPA_NAME_KNOWN, "evil\"name", "", 0 },
		{ TCPA_NAME_KNOWN, "a.example", "bad\ndetail", 0 },
		{ TCPA_NAME_KNOWN, "a.example", "bell\a", 0 },
	};
	struct name_answer	a, got;
	struct msg_writer	w;
	char			long_name[300], label[70];
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tap_is_int(answer_read(5, cases[i].status, cases[i].name,
		    cases[i].detail, &got), cases[i].ok ? 0 : -1,
		    "answer %zu (status %d) %s", i, cases[i].status,
		    cases[i].ok ? "taken" : "refused");
		memset(&a, 0, sizeof(a));
		a.reqid = 5;
		a.status = (uint8_t)cases[i].status;
		(void)strlcpy(a.name, cases[i].name, sizeof(a.name));
		(void)strlcpy(a.detail, cases[i].detail, sizeof(a.detail));
		msg_writer_init(&w);
		tap_is_int(name_answer_write(&w, &a), cases[i].ok ? 0 : -1,
		    "the writer agrees");
		tap_is_int(w.err, !cases[i].ok, "and marks itself failed "
		    "when it refuses");
	}
	memset(label, 'a', 63);
	label[63] = '\0';
	(void)snprintf(long_name, sizeof(long_name), "%s.%s.%s.%.61s", label,
	    label, label, label);
	tap_is_int((long long)strlen(long_name), 253, "a name of 253 bytes");
	tap_is_int(answer_read(5, TCPA_NAME_KNOWN, long_name, "", &got), 0,
	    "253 bytes taken");
	(void)strlcat(long_name, "a", sizeof(long_name));
	tap_is_int(answer_read(5, TCPA_NAME_KNOWN, long_name, "", &got), -1,
	    "254 bytes refused");
	label[63] = 'a';
	label[64] = '\0';
	tap_is_int(answer_read(5, TCPA_NAME_KNOWN, label, "", &got), -1,
	    "a label of 64 bytes refused");
	tap_ok(answer_read(0x1234, TCPA_NAME_KNOWN, "h.example", "ok",
	    &got) == 0 && got.reqid == 0x1234 && strcmp(got.name,
	    "h.example") == 0 && strcmp(got.detail, "ok") == 0,
	    "fields kept");
}

int
main(void)
{
	test_req();
	test_answer();
	return tap_done();
}
