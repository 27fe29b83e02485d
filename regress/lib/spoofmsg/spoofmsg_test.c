/*
 * Unit tests for lib/spoofmsg.c: SpoofMessageFile made into a message
 * (line ends, headers added or checked, bounds) and IMSG_CONF_SPOOF.
 */
#include <stdio.h>
#include <string.h>

#include "spoofmsg.h"
#include "tap.h"

#define NOW	1700000000	/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define HDRS	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n" \
		"From: Mail System <postmaster@mx.example>\r\n" \
		"Subject: " SPOOF_SUBJECT "\r\n"

struct mcase {
	const char	*name;
	const char	*raw;
	const char	*want;		/* NULL: refused */
	const char	*why;		/* of a refusal: a part of it */
};

static const struct mcase mcases[] = {
	{ "body: headers added", "Try later.\n", HDRS "\r\nTry later.\r\n",
	    NULL },
	{ "body without last LF", "a\nb", HDRS "\r\na\r\nb\r\n", NULL },
	{ "CRLF kept", "a\r\n.b\r\n", HDRS "\r\na\r\n.b\r\n", NULL },
	{ "8-bit body: MIME", "caf\xc3\xa9\n", HDRS "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n", NULL },
	{ "body with a colon later", "Dear user: hello\n",
	    HDRS "\r\nDear user: hello\r\n", NULL },
	{ "message kept", "From: a@b\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: x\n  folded\n\n.dot\n", "From: a@b\r\nDate: Mon, 1 Jan "
	    "2024 00:00:00 +0000\r\nSubject: x\r\n  folded\r\n\r\n.dot\r\n",
	    NULL },
	{ "headers only", "From: a@b\r\nDate: x\r\n",
	    "From: a@b\r\nDate: x\r\n\r\n", NULL },
	{ "headers only, no LF", "date: x\nfrom: y",
	    "date: x\r\nfrom: y\r\n\r\n", NULL },
	{ "no From", "Date: x\nSubject: y\n\nb\n", NULL, "no From:" },
	{ "no Date", "From: x\n\nb\n", NULL, "no Date:" },
	{ "bad header line", "From: x\nDate: y\nnot a header\n\nb\n", NULL,
	    "is no header field" },
	{ "empty", "", NULL, "empty" },
	{ "lone CR", "a\rb\n", NULL, "a CR not before an LF" },
	{ "CR at the end", "a\r", NULL, "a CR not before an LF" },
};

static void
test_make(void)
{
	char		out[SPOOF_MSG_MAX_BYTES], why[256];
	size_t		i, len;
	int		rv;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];

		why[0] = '\0';
		rv = spoof_msg_make(c->raw, strlen(c->raw), "mx.example", NOW,
		    out, sizeof(out), &len, why, sizeof(why));
		if (c->want != NULL) {
			tap_ok(rv == 0 && len == strlen(c->want) &&
			    memcmp(out, c->want, len) == 0, "%s", c->name);
			if (rv == 0)
				tap_ok(spoof_msg_ok(out, len), "%s: ok",
				    c->name);
			else
				tap_diag("refused: %s", why);
		} else
			tap_ok(rv == -1 && strstr(why, c->why) != NULL,
			    "%s: refused (%s)", c->name, why);
	}
	/* NUL: the length counts, not strlen. */
	tap_ok(spoof_msg_make("a\0b\n", 4, "h", NOW, out, sizeof(out), &len,
	    why, sizeof(why)) == -1 && strstr(why, "NUL") != NULL,
	    "NUL refused");
	/* A host name that is not one: From gets localhost. */
	tap_ok(spoof_msg_make("x\n", 2, "a b>\r\nBcc: c", NOW, out,
	    sizeof(out), &len, why, sizeof(why)) == 0 &&
	    memmem(out, len, "<postmaster@localhost>", 22) != NULL,
	    "odd host name: localhost");
}

static void
test_bounds(void)
{
	static char	raw[SPOOF_MSG_MAX_BYTES * 2];
	char		out[SPOOF_MSG_MAX_BYTES], why[256];
	size_t		len, hdr = strlen("From: a\r\nDate: b\r\n\r\n"), n;
	int		i;

	/* 998 bytes a line, not 999. */
	memset(raw, 'x', 999);
	raw[999] = '\n';
	tap_ok(spoof_msg_make(raw, 1000, "h", NOW, out, sizeof(out), &len,
	    why, sizeof(why)) == -1 && strstr(why, "longer than 998") != NULL,
	    "a line of 999 refused");
	tap_ok(spoof_msg_make(raw + 1, 999, "h", NOW, out, sizeof(out), &len,
	    why, sizeof(why)) == 0, "a line of 998 taken");
	/* Exactly SPOOF_MSG_MAX_BYTES, and one more. */
	memcpy(raw, "From: a\r\nDate: b\r\n\r\n", hdr);
	n = hdr;
	for (i = 0; n + 100 <= SPOOF_MSG_MAX_BYTES; i++) {
		memset(raw + n, 'y', 98);
		memcpy(raw + n + 98, "\r\n", 2);
		n += 100;
	}
	memset(raw + n, 'z', SPOOF_MSG_MAX_BYTES - n - 2);
	memcpy(raw + SPOOF_MSG_MAX_BYTES - 2, "\r\n", 2);
	tap_ok(spoof_msg_make(raw, SPOOF_MSG_MAX_BYTES, "h", NOW, out,
	    sizeof(out), &len, why, sizeof(why)) == 0 &&
	    len == SPOOF_MSG_MAX_BYTES, "%d bytes taken", SPOOF_MSG_MAX_BYTES);
	raw[SPOOF_MSG_MAX_BYTES - 2] = 'z';
	raw[SPOOF_MSG_MAX_BYTES - 1] = '\r';
	raw[SPOOF_MSG_MAX_BYTES] = '\n';
	tap_ok(spoof_msg_make(raw, SPOOF_MSG_MAX_BYTES + 1, "h", NOW, out,
	    sizeof(out), &len, why, sizeof(why)) == -1 &&
	    strstr(why, "longer than") != NULL, "%d bytes refused",
	    SPOOF_MSG_MAX_BYTES + 1);
	/* LF ends grow into CRLF: counted after. */
	memcpy(raw, "From: a\nDate: b\n\n", 17);
	for (n = 17; n + 2 <= SPOOF_MSG_MAX_BYTES - 2; n += 2)
		memcpy(raw + n, "q\n", 2);
	tap_ok(spoof_msg_make(raw, n, "h", NOW, out, sizeof(out), &len, why,
	    sizeof(why)) == -1, "LF file too long once CRLF refused");
	/* A smaller out than the maximum bounds it too. */
	tap_ok(spoof_msg_make("x\n", 2, "h", NOW, out, 50, &len, why,
	    sizeof(why)) == -1, "out of room refused");
}

static void
test_ok(void)
{
	tap_ok(spoof_msg_ok("\r\nx\r\n", 5), "empty header section ok");
	tap_is_int((int)spoof_msg_body("\r\nx\r\n", 5), 2, "its body at 2");
	tap_is_int((int)spoof_msg_body("A: b\r\n\r\nx\r\n", 11), 8,
	    "body after the empty line");
	tap_ok(!spoof_msg_ok("A: b\r\nx\r\n", 9), "no empty line: not ok");
	tap_ok(!spoof_msg_ok("A: b\r\n\r\nx\n", 10), "bare LF: not ok");
	tap_ok(!spoof_msg_ok("A: b\r\n\r\nx\r", 10), "CR at the end: not ok");
	tap_ok(!spoof_msg_ok("A: b\r\n\r\nx\ry\r\n", 13), "bare CR: not ok");
	tap_ok(!spoof_msg_ok("A: b\r\n\r\nx\0\r\n", 12), "NUL: not ok");
	tap_ok(!spoof_msg_ok("", 0), "empty: not ok");
}

static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static void
test_imsg(void)
{
	static const char	m[] = "From: a\r\nDate: b\r\n\r\nhi\r\n";
	char			buf[SPOOF_MSG_MAX_BYTES];
	struct msg_writer	w;
	struct imsg		imsg;
	size_t			len;

	msg_writer_init(&w);
	spoof_msg_write(&w, m, sizeof(m) - 1);
	as_imsg(&w, &imsg);
	tap_ok(spoof_msg_read(&imsg, buf, &len) == 0 && len == sizeof(m) - 1 &&
	    memcmp(buf, m, len) == 0, "CONF_SPOOF read back");
	msg_writer_init(&w);
	spoof_msg_write(&w, m, sizeof(m) - 1);
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(spoof_msg_read(&imsg, buf, &len), -1, "trailing byte "
	    "refused");
	msg_writer_init(&w);
	spoof_msg_write(&w, m, sizeof(m) - 1);
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(spoof_msg_read(&imsg, buf, &len), -1, "short refused");
	msg_writer_init(&w);
	spoof_msg_write(&w, "a\nb\r\n", 5);
	as_imsg(&w, &imsg);
	tap_is_int(spoof_msg_read(&imsg, buf, &len), -1, "bare LF refused");
	msg_writer_init(&w);
	msg_add_u16(&w, SPOOF_MSG_MAX_BYTES + 1);
	as_imsg(&w, &imsg);
	tap_is_int(spoof_msg_read(&imsg, buf, &len), -1, "length over the "
	    "maximum refused");
}

int
main(void)
{
	test_make();
	test_bounds();
	test_ok();
	test_imsg();
	return tap_done();
}
