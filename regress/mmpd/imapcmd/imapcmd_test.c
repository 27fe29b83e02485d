/*
 * Unit tests for mmpd/imapcmd.c: the pre-auth command reader (syntax,
 * literals, limits, pipelining, every split of the input giving the same
 * result, wiping) and imap_append_string round trips through the reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "mmpd/imapcmd.h"
#include "regress/tap.h"

#define DESC_BYTES	65536

/* What a client connection would see from feeding in. */
struct outcome {
	enum imap_read	res;		/* CMD, BAD, FATAL, or MORE */
	int		nconts;
	size_t		used;
	char		desc[DESC_BYTES];
};

static const char *
res_name(enum imap_read r)
{
	switch (r) {
	case IMAP_READ_MORE:
		return "MORE";
	case IMAP_READ_CONT:
		return "CONT";
	case IMAP_READ_CMD:
		return "CMD";
	case IMAP_READ_BAD:
		return "BAD";
	case IMAP_READ_FATAL:
		return "FATAL";
	}
	return "?";
}

static void
cat(char *out, size_t outsz, const char *s)
{
	strlcat(out, s, outsz);
}

/* "tag NAME A:atom Q:quoted L:literal N:nil ( )", bytes escaped. */
static int
describe(const struct imap_cmd *cmd, char *out, size_t outsz)
{
	static const char	*pfx[] = { "A:", "Q:", "L:", "N:", "(", ")" };
	char			 esc[DESC_BYTES];
	int			 i, sane = 1;

	snprintf(out, outsz, "%s %s", cmd->tag, cmd->name);
	for (i = 0; i < cmd->ntok; i++) {
		const struct imap_token	*t = &cmd->tok[i];

		if (t->s == NULL || t->s[t->len] != '\0' ||
		    strlen(t->s) != t->len)
			sane = 0;
		cat(out, outsz, " ");
		cat(out, outsz, pfx[t->type]);
		if (t->type == IMAP_TOK_LPAREN || t->type == IMAP_TOK_RPAREN)
			continue;
		escape_log(t->s, t->len, esc, sizeof(esc));
		cat(out, outsz, esc);
	}
	return sane;
}

/*
 * Feed in: first `first` bytes, then `chunk` bytes at a time, taking the
 * bytes the reader left unused again, until a command, BAD or FATAL.
 */
static void
drive(struct imap_reader *r, const char *in, size_t len, size_t first,
    size_t chunk, struct outcome *o)
{
	struct imap_cmd	cmd;
	size_t		off = 0, avail = first < len ? first : len, used;
	enum imap_read	res;

	memset(o, 0, sizeof(*o));
	for (;;) {
		res = imap_reader_feed(r, in + off, avail - off, &used, &cmd);
		off += used;
		if (res == IMAP_READ_CONT) {
			o->nconts++;
			continue;
		}
		if (res == IMAP_READ_MORE) {
			if (off != avail) {
				snprintf(o->desc, sizeof(o->desc),
				    "MORE but %zu bytes unused", avail - off);
				break;
			}
			if (avail == len)
				break;
			avail = len - avail < chunk ? len : avail + chunk;
			continue;
		}
		if (res == IMAP_READ_CMD) {
			if (!describe(&cmd, o->desc, sizeof(o->desc)))
				cat(o->desc, sizeof(o->desc), " (bad token)");
		} else
			snprintf(o->desc, sizeof(o->desc), "%s: %s",
			    r->errtag, r->err);
		break;
	}
	o->res = res;
	o->used = off;
}

static void
drive_new(const char *in, size_t len, size_t first, size_t chunk,
    struct outcome *o)
{
	struct imap_reader	r;

	if (imap_reader_init(&r) == -1)
		exit(2);
	drive(&r, in, len, first, chunk, o);
	imap_reader_free(&r);
}

struct rd_case {
	const char	*in;
	size_t		 len;
	enum imap_read	 res;
	int		 nconts;
	const char	*want;	/* CMD: description; else "tag: reason..." */
};

#define CMD(i, n, w)	{ i, sizeof(i) - 1, IMAP_READ_CMD, n, w }
#define BAD(i, n, w)	{ i, sizeof(i) - 1, IMAP_READ_BAD, n, w }
#define FATAL(i, n, w)	{ i, sizeof(i) - 1, IMAP_READ_FATAL, n, w }
#define MORE(i, n)	{ i, sizeof(i) - 1, IMAP_READ_MORE, n, "" }

static const struct rd_case cases[] = {
	CMD("a1 NOOP\r\n", 0, "a1 NOOP"),
	CMD("a1 noop\n", 0, "a1 NOOP"),
	CMD("x.y] CaPaBiLiTy\r\n", 0, "x.y] CAPABILITY"),
	CMD("a x-cmd\r\n", 0, "a X-CMD"),
	CMD("s1 STARTTLS\r\n", 0, "s1 STARTTLS"),
	CMD("s1 starttls\n", 0, "s1 STARTTLS"),
	CMD("s1 StartTLS now\r\n", 0, "s1 STARTTLS A:now"),
	BAD("s1 STARTTLS \r\n", 0, "s1: "),
	CMD("A001 LOGIN bob secret\r\n", 0, "A001 LOGIN A:bob A:secret"),
	CMD("a LOGIN \"bob\" \"pa ss\"\r\n", 0, "a LOGIN Q:bob Q:pa ss"),
	CMD("a LOGIN \"b\\\"ob\" \"p\\\\w\"\r\n", 0,
	    "a LOGIN Q:b\"ob Q:p\\\\w"),
	CMD("a LOGIN \"\" \"\"\r\n", 0, "a LOGIN Q: Q:"),
	CMD("a LOGIN \"p\tw\" \"\x01\x7f\"\r\n", 0,
	    "a LOGIN Q:p\\tw Q:\\x01\\x7f"),
	CMD("a LOGIN \"p\xc3\xa4ss\" \"\xe2\x82\xac\"\r\n", 0,
	    "a LOGIN Q:p\\xc3\\xa4ss Q:\\xe2\\x82\\xac"),
	CMD("a LOGIN {3}\r\nbob {6}\r\nsecret\r\n", 2,
	    "a LOGIN L:bob L:secret"),
	CMD("a LOGIN {3+}\r\nbob {6+}\r\nsecret\r\n", 0,
	    "a LOGIN L:bob L:secret"),
	CMD("a LOGIN {3}\nbob {6+}\nsecret\n", 1, "a LOGIN L:bob L:secret"),
	CMD("a LOGIN {003}\r\nbob x\r\n", 1, "a LOGIN L:bob A:x"),
	CMD("a LOGIN bob {0}\r\n\r\n", 1, "a LOGIN A:bob L:"),
	CMD("a LOGIN bob {0+}\r\n\r\n", 0, "a LOGIN A:bob L:"),
	CMD("a LOGIN bob {6}\r\np\r\n\xff\x01x\r\n", 1,
	    "a LOGIN A:bob L:p\\r\\n\\xff\\x01x"),
	CMD("a LOGIN bob {2}\r\n\"\\\r\n", 1, "a LOGIN A:bob L:\"\\\\"),
	CMD("a LOGIN user] [x]\r\n", 0, "a LOGIN A:user] A:[x]"),
	CMD("a LOGIN NIL nil\r\n", 0, "a LOGIN N:NIL N:nil"),
	CMD("a LOGIN NILS ni\r\n", 0, "a LOGIN A:NILS A:ni"),
	CMD("a ID NIL\r\n", 0, "a ID N:NIL"),
	CMD("a ID ()\r\n", 0, "a ID ( )"),
	CMD("a ID (\"name\" \"x\" \"version\" NIL)\r\n", 0,
	    "a ID ( Q:name Q:x Q:version N:NIL )"),
	CMD("a ID ((a) b)\r\n", 0, "a ID ( ( A:a ) A:b )"),
	CMD("a ID ((((a))))\r\n", 0, "a ID ( ( ( ( A:a ) ) ) )"),
	CMD("a ID (\"name\" {3}\r\nfoo)\r\n", 1, "a ID ( Q:name L:foo )"),
	CMD("a ID () ()\r\n", 0, "a ID ( ) ( )"),
	CMD("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n", 0,
	    "a AUTHENTICATE A:PLAIN A:AHVzZXIAcGFzcw=="),
	CMD("a AUTHENTICATE PLAIN =\r\n", 0, "a AUTHENTICATE A:PLAIN A:="),

	BAD("\r\n", 0, "*: empty command"),
	BAD("\n", 0, "*: empty command"),
	BAD("a\r\n", 0, "a: missing command name"),
	BAD("a \r\n", 0, "a: missing command name"),
	BAD("a  NOOP\r\n", 0, "a: missing command name"),
	BAD("a NOOP \r\n", 0, "a: missing argument"),
	BAD("a LOGIN bob  x\r\n", 0, "a: invalid character"),
	BAD(" a NOOP\r\n", 0, "*: invalid tag"),
	BAD("a+ NOOP\r\n", 0, "*: invalid tag"),
	BAD("+ NOOP\r\n", 0, "*: invalid tag"),
	BAD("* NOOP\r\n", 0, "*: invalid tag"),
	BAD("a% NOOP\r\n", 0, "*: invalid tag"),
	BAD("a\x01 NOOP\r\n", 0, "*: invalid tag"),
	BAD("a\0 NOOP\r\n", 0, "*: invalid tag"),
	BAD("\xc3\xa4 NOOP\r\n", 0, "*: invalid tag"),
	BAD("a NOOP\rjunk\r\n", 0, "a: invalid command name"),
	BAD("a NO(OP\r\n", 0, "a: invalid command name"),
	BAD("a NOOP\r\r\n", 0, "a: invalid command name"),
	BAD("a LOGIN \"bob\" \"secret\r\n", 0,
	    "a: unterminated quoted string"),
	BAD("a LOGIN \"bob\" \"secret\n", 0, "a: unterminated quoted string"),
	BAD("a LOGIN \"bob\r\n", 0, "a: unterminated quoted string"),
	BAD("a LOGIN \"b\ro\" x\r\n", 0, "a: unterminated quoted string"),
	BAD("a LOGIN \"bob\" \"sec\\ret\"\r\n", 0, "a: invalid escape"),
	BAD("a LOGIN \"bob\\\r\n", 0, "a: invalid escape"),
	BAD("a LOGIN \"b\0b\" x\r\n", 0, "a: NUL in quoted string"),
	BAD("a LOGIN \"b\xe9\" x\r\n", 0, "a: invalid UTF-8"),
	BAD("a LOGIN \"\xed\xa0\x80\" x\r\n", 0, "a: invalid UTF-8"),
	BAD("a LOGIN bob\0junk x\r\n", 0, "a: expected space"),
	BAD("a LOGIN b\xc3\xa4 x\r\n", 0, "a: expected space"),
	BAD("a LOGIN user* x\r\n", 0, "a: expected space"),
	BAD("a LOGIN \"bob\"x\r\n", 0, "a: expected space"),
	BAD("a LOGIN bob\"x\"\r\n", 0, "a: expected space"),
	BAD("a LOGIN bob {3}\r\na\0b\r\n", 1, "a: NUL in literal"),
	BAD("a LOGIN bob {3+}\r\na\0b\r\n", 0, "a: NUL in literal"),
	BAD("a LOGIN bob {3+}\r\n\0\0\0 {5}\r\n", 0, "a: NUL in literal"),
	BAD("a LOGIN bob {99999999}\r\n", 0, "a: literal too large"),
	BAD("a LOGIN bob {18446744073709551617}\r\n", 0,
	    "a: literal too large"),
	BAD("a LOGIN bob {8193}\r\n", 0, "a: literal too large"),
	BAD("a LOGIN {3} x\r\n", 0, "a: literal must end the line"),
	BAD("a LOGIN {3}x\r\n", 0, "a: literal must end the line"),
	BAD("a LOGIN {}\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN {+}\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN {x}\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN {-1}\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN {3++}\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN {3\r\n", 0, "a: invalid literal"),
	BAD("a LOGIN ~{3}\r\n", 0, "a: expected space"),
	BAD("a LOGIN bob {3}\r\nbobx\r\n", 1, "a: expected space"),
	BAD("a ID (a\r\n", 0, "a: unbalanced parentheses"),
	BAD("a ID a)\r\n", 0, "a: unbalanced parentheses"),
	BAD("a ID ())\r\n", 0, "a: unbalanced parentheses"),
	BAD("a ID ( a)\r\n", 0, "a: invalid character"),
	BAD("a ID (a )\r\n", 0, "a: invalid character"),
	BAD("a ID (\"a\"\"b\")\r\n", 0, "a: expected space"),
	BAD("a ID ()()\r\n", 0, "a: expected space"),
	BAD("a ID (((((a)))))\r\n", 0, "a: parentheses nested too deeply"),
	BAD("a LOGIN \"x {5}\r\n", 0, "a: unterminated quoted string"),
	BAD("a LOGIN bob\x01 {5}\r\n", 0, "a: expected space"),

	FATAL("a LOGIN \"x {5+}\r\n", 0, "a: unterminated quoted string"),
	FATAL("a\x01 LOGIN {5+}\r\nhello\r\n", 0, "*: invalid tag"),
	FATAL("a LOGIN bob {99999999+}\r\n", 0, "a: literal too large"),
	FATAL("a LOGIN bob {8193+}\r\n", 0, "a: literal too large"),
	FATAL("a LOGIN bob {3+}\r\na\0b {5+}\r\n", 0, "a: NUL in literal"),

	MORE("a NOOP", 0),
	MORE("a NOOP\r", 0),
	MORE("a LOGIN {5}\r\nab", 1),
	MORE("a LOGIN {5+}\r\nabcde", 0),
	MORE("a LOGIN \"unterminated", 0),
};

#undef CMD
#undef BAD
#undef FATAL
#undef MORE

static void
check_case(size_t n, const struct rd_case *c, const struct outcome *o,
    const char *how)
{
	char	shown[96];
	int	ok;

	escape_log(c->in, c->len, shown, sizeof(shown));
	ok = o->res == c->res && o->nconts == c->nconts;
	if (c->res == IMAP_READ_CMD)
		ok = ok && strcmp(o->desc, c->want) == 0;
	else if (c->res != IMAP_READ_MORE)
		ok = ok && strncmp(o->desc, c->want, strlen(c->want)) == 0;
	ok = ok && (c->res == IMAP_READ_FATAL || o->used == c->len);
	if (!tap_ok(ok, "case %zu %s \"%s\"", n, how, shown))
		tap_diag("got %s conts %d used %zu \"%s\", want %s conts %d "
		    "\"%s\"", res_name(o->res), o->nconts, o->used, o->desc,
		    res_name(c->res), c->nconts, c->want);
}

static void
test_table(void)
{
	struct outcome	o;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		drive_new(cases[i].in, cases[i].len, cases[i].len,
		    cases[i].len, &o);
		check_case(i, &cases[i], &o, "whole");
		drive_new(cases[i].in, cases[i].len, 1, 1, &o);
		check_case(i, &cases[i], &o, "byte by byte");
	}
}

/* Every two-piece split of every input gives the single-feed result. */
static void
test_splits(void)
{
	struct outcome	whole, part;
	size_t		i, k, bad = 0, tried = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		drive_new(cases[i].in, cases[i].len, cases[i].len,
		    cases[i].len, &whole);
		for (k = 1; k < cases[i].len; k++) {
			drive_new(cases[i].in, cases[i].len, k, cases[i].len,
			    &part);
			tried++;
			if (part.res != whole.res ||
			    part.nconts != whole.nconts ||
			    part.used != whole.used ||
			    strcmp(part.desc, whole.desc) != 0) {
				if (bad++ < 5)
					tap_diag("case %zu split at %zu: %s "
					    "\"%s\"", i, k, res_name(part.res),
					    part.desc);
			}
		}
	}
	tap_ok(bad == 0, "%zu two-piece splits agree with one feed", tried);
	for (i = 0, bad = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (k = 2; k < 7; k++) {
			drive_new(cases[i].in, cases[i].len, k, k, &part);
			drive_new(cases[i].in, cases[i].len, cases[i].len,
			    cases[i].len, &whole);
			if (part.res != whole.res ||
			    strcmp(part.desc, whole.desc) != 0)
				bad++;
		}
	}
	tap_is_int((long long)bad, 0, "chunks of 2..6 bytes agree");
}

static void
test_pipelining(void)
{
	static const char	 in[] =
	    "a NOOP\r\nb LOGIN {3+}\r\nbob x\r\nc \"\r\nd LOGOUT\r\n";
	struct imap_reader	 r;
	struct imap_cmd		 cmd;
	size_t			 off = 0, used;
	enum imap_read		 res;
	char			 desc[256];

	imap_reader_init(&r);
	res = imap_reader_feed(&r, in, sizeof(in) - 1, &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && used == 8 &&
	    strcmp(cmd.tag, "a") == 0, "pipelined: first command, 8 used");
	off += used;
	res = imap_reader_feed(&r, in + off, sizeof(in) - 1 - off, &used,
	    &cmd);
	describe(&cmd, desc, sizeof(desc));
	tap_ok(res == IMAP_READ_CMD && used == 21 &&
	    strcmp(desc, "b LOGIN L:bob A:x") == 0,
	    "pipelined: LITERAL+ command, 21 used");
	off += used;
	res = imap_reader_feed(&r, in + off, sizeof(in) - 1 - off, &used,
	    &cmd);
	tap_ok(res == IMAP_READ_BAD && used == 5 &&
	    strcmp(r.errtag, "c") == 0, "pipelined: bad line consumed alone");
	off += used;
	res = imap_reader_feed(&r, in + off, sizeof(in) - 1 - off, &used,
	    &cmd);
	tap_ok(res == IMAP_READ_CMD && used == 10 &&
	    strcmp(cmd.name, "LOGOUT") == 0, "pipelined: last command");
	off += used;
	tap_is_int((long long)off, (long long)sizeof(in) - 1,
	    "pipelined: every byte used once");
	res = imap_reader_feed(&r, "", 0, &used, &cmd);
	tap_ok(res == IMAP_READ_MORE && used == 0, "empty feed: MORE");

	/*
	 * STARTTLS: the reader stops right after it, so that the session
	 * can drop what was pipelined (CVE-2011-0411) instead of parsing it.
	 */
	imap_reader_reset(&r);
	res = imap_reader_feed(&r, "s STARTTLS\r\nt LOGIN a b\r\n", 25,
	    &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && used == 12 &&
	    strcmp(cmd.name, "STARTTLS") == 0 && cmd.ntok == 0,
	    "pipelined after STARTTLS: left unused (12 of 25 used)");

	/* Literal bytes sent before the continuation are taken as data. */
	res = imap_reader_feed(&r, "e LOGIN {3}\r\nabc d\r\n", 20, &used,
	    &cmd);
	tap_ok(res == IMAP_READ_CONT && used == 13,
	    "CONT stops right after the announcement");
	res = imap_reader_feed(&r, "e LOGIN {3}\r\nabc d\r\n" + 13, 7, &used,
	    &cmd);
	describe(&cmd, desc, sizeof(desc));
	tap_ok(res == IMAP_READ_CMD && used == 7 &&
	    strcmp(desc, "e LOGIN L:abc A:d") == 0, "then the literal");
	imap_reader_free(&r);
}

static void
test_line_limits(void)
{
	struct outcome	 o;
	char		*in;

	if ((in = malloc(3 * IMAP_CMD_MAX_BYTES)) == NULL)
		exit(2);
	/* A line of exactly IMAP_LINE_MAX_BYTES with its CRLF. */
	memcpy(in, "a X ", 4);
	memset(in + 4, 'y', IMAP_LINE_MAX_BYTES - 6);
	memcpy(in + IMAP_LINE_MAX_BYTES - 2, "\r\n", 2);
	drive_new(in, IMAP_LINE_MAX_BYTES, IMAP_LINE_MAX_BYTES, 1, &o);
	tap_ok(o.res == IMAP_READ_CMD && o.used == IMAP_LINE_MAX_BYTES,
	    "line of %d bytes accepted", IMAP_LINE_MAX_BYTES);
	drive_new(in, IMAP_LINE_MAX_BYTES, 1, 1, &o);
	tap_is_int(o.res, IMAP_READ_CMD, "same, byte by byte");
	memset(in + 4, 'y', IMAP_LINE_MAX_BYTES - 5);
	memcpy(in + IMAP_LINE_MAX_BYTES - 1, "\r\n", 2);
	drive_new(in, IMAP_LINE_MAX_BYTES + 1, IMAP_LINE_MAX_BYTES + 1, 1,
	    &o);
	tap_ok(o.res == IMAP_READ_FATAL && strcmp(o.desc,
	    "a: line too long") == 0, "line of %d bytes: FATAL, tag kept",
	    IMAP_LINE_MAX_BYTES + 1);
	/* No LF at all: caught once the limit is passed, not at the end. */
	memset(in, 'y', 2 * IMAP_LINE_MAX_BYTES);
	drive_new(in, 2 * IMAP_LINE_MAX_BYTES, 1000, 1000, &o);
	tap_ok(o.res == IMAP_READ_FATAL && o.used <= IMAP_LINE_MAX_BYTES +
	    1000 && strcmp(o.desc, "*: line too long") == 0,
	    "endless line without LF: FATAL after %zu bytes", o.used);
	free(in);
}

static void
test_cmd_limits(void)
{
	struct outcome	 o;
	char		*in;
	size_t		 n, len;

	if ((in = malloc(3 * IMAP_CMD_MAX_BYTES)) == NULL)
		exit(2);
	/* Two 8000-byte literals fit a command, a third piece does not. */
	len = 0;
	len += snprintf(in + len, 64, "a LOGIN {8000+}\r\n");
	memset(in + len, 'u', 8000);
	len += 8000;
	len += snprintf(in + len, 64, " {8000+}\r\n");
	memset(in + len, 'p', 8000);
	len += 8000;
	n = len;
	len += snprintf(in + len, 64, " {300+}\r\n");
	memset(in + len, 'x', 300);
	len += 300;
	len += snprintf(in + len, 64, "\r\n");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_CMD && strlen(o.desc) > 16000,
	    "command of %zu bytes accepted", len);
	drive_new(in, len, 1, 1, &o);
	tap_is_int(o.res, IMAP_READ_CMD, "same, byte by byte");
	len = n + snprintf(in + n, 64, " {400+}\r\n");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_FATAL &&
	    strcmp(o.desc, "a: command too long") == 0,
	    "LITERAL+ past the command limit: FATAL");
	len = n + snprintf(in + n, 64, " {400}\r\n");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_BAD &&
	    strcmp(o.desc, "a: command too long") == 0 && o.used == len,
	    "synchronizing literal past the limit: BAD, no continuation");
	len = n + snprintf(in + n, 64, " x");
	memset(in + len, 'y', 600);
	len += 600;
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_FATAL &&
	    strcmp(o.desc, "a: command too long") == 0,
	    "line after literals past the command limit: FATAL");
	/* Both limits passed: the one reached first, however it is split. */
	len = n + snprintf(in + n, 64, " x");
	memset(in + len, 'y', IMAP_LINE_MAX_BYTES + 100);
	len += IMAP_LINE_MAX_BYTES + 100;
	drive_new(in, len, len, len, &o);
	tap_is_str(o.desc, "a: command too long",
	    "long line after literals, one feed: command limit first");
	drive_new(in, len, n + 1, 1000, &o);
	tap_is_str(o.desc, "a: command too long",
	    "long line after literals, in pieces: the same");

	/* A literal of exactly the maximum. */
	len = snprintf(in, 64, "a LOGIN {%d}\r\n", IMAP_LITERAL_MAX_BYTES);
	memset(in + len, 'z', IMAP_LITERAL_MAX_BYTES);
	len += IMAP_LITERAL_MAX_BYTES;
	len += snprintf(in + len, 64, " x\r\n");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_CMD && o.nconts == 1,
	    "literal of %d bytes accepted", IMAP_LITERAL_MAX_BYTES);
	free(in);
}

static void
test_names(void)
{
	char		in[256];
	struct outcome	o;
	int		len, i;

	len = snprintf(in, sizeof(in), "%.*s NOOP\r\n",
	    IMAP_TAG_MAX_BYTES - 1, "ttttttttttttttttttttttttttttttttttttttt"
	    "ttttttttttttttttttttttttttttttttttttttttttttttt");
	drive_new(in, len, len, len, &o);
	tap_is_int(o.res, IMAP_READ_CMD, "tag of %d bytes",
	    IMAP_TAG_MAX_BYTES - 1);
	memmove(in + 1, in, (size_t)len + 1);
	in[0] = 't';
	len++;
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_BAD && strcmp(o.desc, "*: tag too long") ==
	    0, "tag of %d bytes: BAD with tag *", IMAP_TAG_MAX_BYTES);
	len = snprintf(in, sizeof(in), "a %.*s\r\n", IMAP_NAME_MAX_BYTES - 1,
	    "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN");
	drive_new(in, len, len, len, &o);
	tap_is_int(o.res, IMAP_READ_CMD, "name of %d bytes",
	    IMAP_NAME_MAX_BYTES - 1);
	len = snprintf(in, sizeof(in), "a %.*s\r\n", IMAP_NAME_MAX_BYTES,
	    "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_BAD && strstr(o.desc, "too long") != NULL,
	    "name of %d bytes: BAD", IMAP_NAME_MAX_BYTES);

	len = snprintf(in, sizeof(in), "a X");
	for (i = 0; i < IMAP_TOKENS_MAX; i++)
		len += snprintf(in + len, sizeof(in) - len, " a");
	len += snprintf(in + len, sizeof(in) - len, "\r\n");
	drive_new(in, len, len, len, &o);
	tap_is_int(o.res, IMAP_READ_CMD, "%d arguments", IMAP_TOKENS_MAX);
	len = snprintf(in, sizeof(in), "a X");
	for (i = 0; i <= IMAP_TOKENS_MAX; i++)
		len += snprintf(in + len, sizeof(in) - len, " a");
	len += snprintf(in + len, sizeof(in) - len, "\r\n");
	drive_new(in, len, len, len, &o);
	tap_ok(o.res == IMAP_READ_BAD && strstr(o.desc, "too many") != NULL,
	    "%d arguments: BAD", IMAP_TOKENS_MAX + 1);
}

static int
has_bytes(const struct imap_reader *r, const char *s)
{
	return r->line.data != NULL &&
	    memmem(r->line.data, r->line.cap, s, strlen(s)) != NULL;
}

static void
test_wipe(void)
{
	struct imap_reader	 r;
	struct imap_cmd		 cmd;
	size_t			 used;
	enum imap_read		 res;
	const char		*in = "a LOGIN bob s3cr3tpw\r\n";

	imap_reader_init(&r);
	res = imap_reader_feed(&r, in, strlen(in), &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && has_bytes(&r, "s3cr3tpw"),
	    "password held while the command is handed out");
	imap_reader_reset(&r);
	tap_ok(!has_bytes(&r, "s3cr3tpw"), "reset wipes it");
	res = imap_reader_feed(&r, in, strlen(in), &used, &cmd);
	res = imap_reader_feed(&r, "b NOOP\r\n", 8, &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && !has_bytes(&r, "s3cr3tpw"),
	    "the next command wipes the last one");
	res = imap_reader_feed(&r, "c LOGIN bob \"s3cr3tpw\r\n", 23, &used,
	    &cmd);
	tap_ok(res == IMAP_READ_BAD && !has_bytes(&r, "s3cr3tpw"),
	    "a bad command is wiped at once");
	res = imap_reader_feed(&r, "d LOGIN bob {8+}\r\ns3cr3tpw", 26, &used,
	    &cmd);
	tap_ok(res == IMAP_READ_MORE && has_bytes(&r, "s3cr3tpw"),
	    "literal password buffered");
	imap_reader_free(&r);
	tap_ok(r.line.data == NULL && r.total == 0, "free clears");

	imap_reader_init(&r);
	res = imap_reader_feed(&r, "a LOGIN bob {9+}\r\n", 18, &used, &cmd);
	res = imap_reader_feed(&r, "x", 1, &used, &cmd);
	tap_ok(res == IMAP_READ_MORE && used == 1, "in a literal");
	imap_reader_reset(&r);
	res = imap_reader_feed(&r, "b NOOP\r\n", 8, &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && strcmp(cmd.tag, "b") == 0,
	    "reset mid-literal starts a fresh command");
	imap_reader_free(&r);

	imap_reader_init(&r);
	res = imap_reader_feed(&r, "a LOGIN x {9999+}\r\n", 19, &used, &cmd);
	tap_is_int(res, IMAP_READ_FATAL, "{9999+}: over the literal limit");
	res = imap_reader_feed(&r, "b NOOP\r\n", 8, &used, &cmd);
	tap_ok(res == IMAP_READ_FATAL && used == 0, "FATAL sticks");
	imap_reader_free(&r);
}

static void
test_tokens_after_cmd(void)
{
	struct imap_reader	r;
	struct imap_cmd		cmd;
	size_t			used;
	enum imap_read		res;

	imap_reader_init(&r);
	res = imap_reader_feed(&r, "t1 LOGIN \"a\\\"b\" {3+}\r\nxyz\r\n", 27,
	    &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && cmd.ntok == 2 &&
	    cmd.tok[0].type == IMAP_TOK_QUOTED && cmd.tok[0].len == 3 &&
	    memcmp(cmd.tok[0].s, "a\"b", 4) == 0 &&
	    cmd.tok[1].type == IMAP_TOK_LITERAL && cmd.tok[1].len == 3 &&
	    memcmp(cmd.tok[1].s, "xyz", 4) == 0,
	    "token types, lengths and terminators");
	tap_is_str(r.errtag, "t1", "errtag is the tag of a good command");
	res = imap_reader_feed(&r, "t2 NOOP\r\n", 9, &used, &cmd);
	tap_ok(res == IMAP_READ_CMD && cmd.ntok == 0, "next command");
	res = imap_reader_feed(&r, "t3 ", 3, &used, &cmd);
	tap_ok(res == IMAP_READ_MORE && cmd.ntok == 0 && cmd.tag[0] == '\0',
	    "cmd is cleared on MORE");
	imap_reader_free(&r);
}

/* Strings a store must get back exactly, through quoting or literals. */
static const char	*round_trip[] = {
	"bob", "", "pa ss", "pa\"ss\\", "\\", "\"", "p\xc3\xa4ss",
	"\xff\xfe", "tab\there", "\x01\x7f", "user*)(uid=*", "{5}", "NIL",
	"a  b ", " ",
};

static void
test_append_round_trip(void)
{
	struct outcome	o;
	struct buf	b;
	char		want[512], esc[128];
	const char	*s;
	size_t		i, j;
	int		plus, r, quoted;

	for (i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
		s = round_trip[i];
		for (j = 0, quoted = 1; s[j] != '\0'; j++)
			if ((unsigned char)s[j] < 0x20 ||
			    (unsigned char)s[j] > 0x7e)
				quoted = 0;
		escape_log(s, strlen(s), esc, sizeof(esc));
		snprintf(want, sizeof(want), "a LOGIN %s:%s A:x",
		    quoted ? "Q" : "L", esc);
		for (plus = 0; plus <= 1; plus++) {
			buf_init(&b, 0, 4096);
			buf_add(&b, "a LOGIN ", 8);
			r = imap_append_string(&b, s, plus);
			buf_add(&b, " x\r\n", 4);
			drive_new((char *)buf_data(&b), buf_len(&b),
			    buf_len(&b), 1, &o);
			tap_ok(r >= 0 && o.res == IMAP_READ_CMD &&
			    strcmp(o.desc, want) == 0 &&
			    o.nconts == (!quoted && !plus),
			    "round trip \"%s\"%s: %s", esc,
			    plus ? " LITERAL+" : "", o.desc);
			buf_free(&b);
		}
	}
}

static void
test_append(void)
{
	struct buf	b;
	int		r;

	buf_init(&b, 0, 64);
	tap_is_int(imap_append_string(&b, "bob", 0), 0, "quoted returns 0");
	tap_is_mem(buf_data(&b), buf_len(&b), "\"bob\"", 5, "\"bob\"");
	buf_reset(&b);
	imap_append_string(&b, "pa\"ss\\", 0);
	tap_is_mem(buf_data(&b), buf_len(&b), "\"pa\\\"ss\\\\\"", 10,
	    "quote and backslash escaped");
	buf_reset(&b);
	imap_append_string(&b, "", 0);
	tap_is_mem(buf_data(&b), buf_len(&b), "\"\"", 2, "empty string");
	buf_reset(&b);
	tap_is_int(imap_append_string(&b, "p\xc3\xa4ss", 1), 0,
	    "LITERAL+ returns 0");
	tap_is_mem(buf_data(&b), buf_len(&b), "{5+}\r\np\xc3\xa4ss", 11,
	    "8-bit goes as {5+}");
	buf_reset(&b);
	buf_add(&b, "a LOGIN ", 8);
	r = imap_append_string(&b, "p\xc3\xa4ss", 0);
	tap_is_int(r, 13, "synchronizing literal: offset of its data");
	tap_is_mem(buf_data(&b), buf_len(&b), "a LOGIN {5}\r\np\xc3\xa4ss", 18,
	    "8-bit goes as {5}");
	buf_reset(&b);
	imap_append_string(&b, "a\tb", 1);
	tap_is_mem(buf_data(&b), buf_len(&b), "{3+}\r\na\tb", 9,
	    "TAB goes as a literal");
	buf_reset(&b);
	buf_add(&b, "x", 1);
	tap_is_int(imap_append_string(&b, "pa\rss", 0), -1, "CR refused");
	tap_is_int(imap_append_string(&b, "pa\nss", 1), -1, "LF refused");
	tap_is_int(imap_append_string(&b, "\r\n", 1), -1, "CRLF refused");
	tap_is_int(imap_append_string(&b, "p\xc3\xa4\r", 0), -1,
	    "CR refused in 8-bit text too");
	tap_is_int(imap_append_string(&b, NULL, 0), -1, "NULL refused");
	tap_is_mem(buf_data(&b), buf_len(&b), "x", 1, "nothing added");
	buf_free(&b);

	buf_init(&b, 0, 6);
	tap_is_int(imap_append_string(&b, "a\"b", 0), 0, "quoted exact fit");
	buf_reset(&b);
	tap_is_int(imap_append_string(&b, "a\"bc", 0), -1,
	    "quoted one byte over");
	tap_is_int((long long)buf_len(&b), 0, "nothing partial added");
	buf_free(&b);
	buf_init(&b, 0, 7);
	tap_is_int(imap_append_string(&b, "\xff\xfe", 0), 5,
	    "literal exact fit");
	buf_reset(&b);
	tap_is_int(imap_append_string(&b, "\xff\xfe\xfd", 0), -1,
	    "literal one byte over");
	tap_is_int((long long)buf_len(&b), 0, "nothing partial added");
	buf_free(&b);
}

int
main(void)
{
	test_table();
	test_splits();
	test_pipelining();
	test_line_limits();
	test_cmd_limits();
	test_names();
	test_wipe();
	test_tokens_after_cmd();
	test_append();
	test_append_round_trip();
	return tap_done();
}
