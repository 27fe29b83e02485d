/*
 * Unit tests for lib/escape.c: RFC 4515 filter values, RFC 4514 DN values
 * and log lines, with the inputs that broke other proxies, exact-fit and
 * one-short output buffers, and long inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "regress/tap.h"

#define BIG_BYTES	100000

struct esc_case {
	const char	*in;
	size_t		 inlen;		/* bytes of in (may hold NUL) */
	const char	*want;
};

#define C(s, w)	{ s, sizeof(s) - 1, w }

static const struct esc_case filter_cases[] = {
	C("", ""),
	C("user", "user"),
	C("user*", "user\\2a"),
	C("*)(uid=*", "\\2a\\29\\28uid=\\2a"),
	C("*)(|(objectClass=*)", "\\2a\\29\\28|\\28objectClass=\\2a\\29"),
	C("a\\b", "a\\5cb"),
	C("\\", "\\5c"),
	C("\\2a", "\\5c2a"),
	C("user0001\0junk", "user0001\\00junk"),
	C("\0", "\\00"),
	C("()", "\\28\\29"),
	C("a=b,c", "a=b,c"),
	C("#lead", "#lead"),
	C(" trail ", " trail "),
	C("caf\xc3\xa9", "caf\xc3\xa9"),			/* e acute */
	C("\xe2\x82\xac", "\xe2\x82\xac"),			/* euro sign */
	C("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"),		/* U+1F600 */
	C("caf\xe9", "caf\\e9"),				/* Latin-1 */
	C("\xff\xfe", "\\ff\\fe"),
	C("\xc3", "\\c3"),					/* cut short */
	C("\xc3(", "\\c3\\28"),
	C("\xc0\xaf", "\\c0\\af"),				/* overlong / */
	C("\xe0\x80\xaf", "\\e0\\80\\af"),			/* overlong */
	C("\xed\xa0\x80", "\\ed\\a0\\80"),			/* surrogate */
	C("\xf4\x90\x80\x80", "\\f4\\90\\80\\80"),		/* > U+10FFFF */
	C("\xe2\x82", "\\e2\\82"),
	C("\x80", "\\80"),
	C("a\xc3\xa9*\xe9", "a\xc3\xa9\\2a\\e9"),
	C("\t\r\n", "\t\r\n"),
};

static const struct esc_case dn_cases[] = {
	C("", ""),
	C("user", "user"),
	C("#lead", "\\#lead"),
	C("a#b", "a#b"),
	C(" trail ", "\\ trail\\ "),
	C(" ", "\\ "),
	C("  ", "\\ \\ "),
	C("a b", "a b"),
	C("a,b", "a\\,b"),
	C("cn=x,dc=y", "cn\\=x\\,dc\\=y"),
	C("+\"\\<>;=", "\\+\\\"\\\\\\<\\>\\;\\="),
	C("a\0b", "a\\00b"),
	C("user*", "user*"),
	C("(x)", "(x)"),
	C("caf\xc3\xa9", "caf\xc3\xa9"),
	C("caf\xe9", "caf\\e9"),
	C("\r\n", "\\0d\\0a"),
	C("\x7f", "\\7f"),
	C("# ", "\\#\\ "),
	C("x#", "x#"),
};

static const struct esc_case log_cases[] = {
	C("", ""),
	C("hello world", "hello world"),
	C("a\\b", "a\\\\b"),
	C("a\r\nb", "a\\r\\nb"),
	C("\t", "\\t"),
	C("x\0y", "x\\x00y"),
	C("\x1b[31m", "\\x1b[31m"),
	C("\x7f\x80\xff", "\\x7f\\x80\\xff"),
	C("caf\xc3\xa9", "caf\\xc3\\xa9"),
	C("~ !", "~ !"),
};

#undef C

typedef int	(*esc_fn)(const char *, size_t, char *, size_t);

static void
esc_check(const char *fname, esc_fn fn, const struct esc_case *c)
{
	char	out[256], shown[256];
	size_t	wlen = strlen(c->want);
	int	r;

	escape_log(c->in, c->inlen, shown, sizeof(shown));
	memset(out, 'Z', sizeof(out));
	r = fn(c->in, c->inlen, out, sizeof(out));
	tap_is_int(r, (long long)wlen, "%s(\"%s\") length", fname, shown);
	tap_is_mem(out, r >= 0 ? (size_t)r + 1 : 0, c->want, wlen + 1,
	    "%s(\"%s\") text", fname, shown);
	/* Exact fit: room for the text and its NUL and not one byte more. */
	memset(out, 'Z', sizeof(out));
	r = fn(c->in, c->inlen, out, wlen + 1);
	tap_ok(r == (int)wlen && memcmp(out, c->want, wlen + 1) == 0 &&
	    out[wlen + 1] == 'Z', "%s(\"%s\") exact fit", fname, shown);
	memset(out, 'Z', sizeof(out));
	r = fn(c->in, c->inlen, out, wlen);
	tap_ok(r == -1 && (wlen == 0 || out[0] == '\0') && out[wlen] == 'Z',
	    "%s(\"%s\") one byte short fails", fname, shown);
}

static void
test_filter(void)
{
	size_t	i;
	char	out[8];

	for (i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++)
		esc_check("filter", escape_filter_value, &filter_cases[i]);
	tap_is_int(escape_filter_value("a", 1, NULL, 10), -1,
	    "filter: NULL out");
	tap_is_int(escape_filter_value("a", 1, out, 0), -1,
	    "filter: zero-sized out");
	tap_is_int(escape_filter_value(NULL, 0, out, sizeof(out)), 0,
	    "filter: NULL empty input");
	tap_is_int(escape_filter_value(NULL, 3, out, sizeof(out)), -1,
	    "filter: NULL input with length");
	tap_is_int(escape_filter_value("user*", 4, out, sizeof(out)), 4,
	    "filter: inlen counts, not the NUL");
}

static void
test_dn(void)
{
	size_t	i;

	for (i = 0; i < sizeof(dn_cases) / sizeof(dn_cases[0]); i++)
		esc_check("dn", escape_dn_value, &dn_cases[i]);
	tap_is_int(escape_dn_value("a", 1, NULL, 10), -1, "dn: NULL out");
}

static void
test_log_table(void)
{
	char	out[256], shown[64];
	size_t	i, wlen;

	for (i = 0; i < sizeof(log_cases) / sizeof(log_cases[0]); i++) {
		const struct esc_case	*c = &log_cases[i];

		wlen = strlen(c->want);
		snprintf(shown, sizeof(shown), "%s", c->want);
		tap_ok(escape_log(c->in, c->inlen, out, sizeof(out)) == out,
		    "log(\"%s\") returns out", shown);
		tap_is_str(out, c->want, "log(\"%s\")", shown);
		memset(out, 'Z', sizeof(out));
		escape_log(c->in, c->inlen, out, wlen + 1);
		tap_ok(memcmp(out, c->want, wlen + 1) == 0 &&
		    out[wlen + 1] == 'Z', "log(\"%s\") exact fit", shown);
	}
}

static void
test_log_truncation(void)
{
	char	out[64];

	escape_log("abcdefghij", 10, out, 10);
	tap_is_str(out, "abcdef...", "log: cut to fit ends in ...");
	escape_log("abcdefghij", 10, out, 11);
	tap_is_str(out, "abcdefghij", "log: exact fit not cut");
	/* "ab" then an escape of 4 that does not fit before the dots. */
	escape_log("ab\x01\x02", 4, out, 8);
	tap_is_str(out, "ab...", "log: no half escape before ...");
	escape_log("a\\\\\\\\", 5, out, 8);
	tap_is_str(out, "a\\\\...", "log: no half backslash pair");
	escape_log("abcdef", 6, out, 4);
	tap_is_str(out, "...", "log: only room for ...");
	escape_log("abcdef", 6, out, 3);
	tap_is_str(out, "..", "log: room for two dots");
	escape_log("abcdef", 6, out, 1);
	tap_is_str(out, "", "log: room for the NUL only");
	out[0] = 'Z';
	tap_ok(escape_log("abc", 3, out, 0) == out && out[0] == 'Z',
	    "log: size 0 writes nothing");
	tap_ok(escape_log("abc", 3, NULL, 10) == NULL, "log: NULL out");
	escape_log(NULL, 5, out, sizeof(out));
	tap_is_str(out, "", "log: NULL input is empty");
}

static void
test_big(void)
{
	char	*in, *out;
	size_t	 i, sz = BIG_BYTES * 3 + 1;
	int	 r, ok = 1;

	if ((in = malloc(BIG_BYTES)) == NULL || (out = malloc(sz)) == NULL)
		exit(2);
	memset(in, '*', BIG_BYTES);
	r = escape_filter_value(in, BIG_BYTES, out, sz);
	tap_is_int(r, BIG_BYTES * 3, "filter: 100000 stars escaped");
	for (i = 0; i < BIG_BYTES && ok; i++)
		ok = memcmp(out + i * 3, "\\2a", 3) == 0;
	tap_ok(ok && out[sz - 1] == '\0', "filter: every star is \\2a");
	tap_is_int(escape_filter_value(in, BIG_BYTES, out, sz - 1), -1,
	    "filter: 100000 stars, one byte short");
	memset(in, ',', BIG_BYTES);
	tap_is_int(escape_dn_value(in, BIG_BYTES, out, sz), BIG_BYTES * 2,
	    "dn: 100000 commas escaped");
	memset(in, '\n', BIG_BYTES);
	escape_log(in, BIG_BYTES, out, 1000);
	tap_ok(strlen(out) == 999 && strcmp(out + 996, "...") == 0 &&
	    strncmp(out, "\\n\\n", 4) == 0, "log: long input cut at 1000");
	escape_log(in, BIG_BYTES, out, sz);
	tap_is_int((long long)strlen(out), BIG_BYTES * 2,
	    "log: long input whole when it fits");
	free(in);
	free(out);
}

int
main(void)
{
	test_filter();
	test_dn();
	test_log_table();
	test_log_truncation();
	test_big();
	return tap_done();
}
