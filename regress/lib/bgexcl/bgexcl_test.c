/*
 * Unit test for lib/bgexcl.c: BGExcluded files and inline values, the
 * nasty ones refused with file:line, and which BadGuy keys match.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgexcl.h"
#include "regress/tap.h"

static const struct {
	const char	*text;
	int		 n;		/* networks, -1 refused */
	const char	*err;		/* part of the error */
} parse_cases[] = {
	{ "", 0, NULL },
	{ "\n\n\n", 0, NULL },
	{ "# only a comment\n", 0, NULL },
	{ "127.0.0.5|255.255.255.255", 1, NULL },
	{ "10.0.0.0|255.0.0.0\n192.0.2.0/24\n", 2, NULL },
	{ "10.0.0.0|255.0.0.0 192.0.2.0/24,198.51.100.7", 3, NULL },
	{ "  10.0.0.0/8 # webmail\n\t# x 1.2.3.4\n2001:db8::/32", 2, NULL },
	{ "10.0.0.0/8\r\n192.0.2.1\r\n", 2, NULL },
	{ ",,, 10.0.0.0/8 ,,,", 1, NULL },
	{ "10.0.0.0/8#no blank before the comment", 1, NULL },
	{ "no final newline 1.2.3.4", -1, "t:1: \"no\"" },
	{ "10.0.0.0/8\n10.1.2.3/8\n", -1, "t:2: \"10.1.2.3/8\" has host bits" },
	{ "\n\n300.0.0.1", -1, "t:3:" },
	{ "10.0.0.0|255.0.255.0", -1, "t:1: \"10.0.0.0|255.0.255.0\": the "
	    "mask" },
	{ "10.0.0.0/33", -1, "prefix length" },
	{ "10.0.0.0/8\n1.2.3.4\0junk\n", -1, "t:2: NUL byte" },
	{ "10.0.0.0 / 8", -1, "t:1:" },
	{ "::ffff:10.0.0.1", -1, "IPv4-mapped" },
	{ "10.0.0.0|255.0.0.0|255.0.0.0", -1, "mask" },
	{ "host.example.com", -1, "not an IPv4" },
	{ "10.0.0.0/8;192.0.2.1", -1, "t:1:" },
	{ "\xff\xfe" "10.0.0.1", -1, "t:1:" },
	{ "1.2.3.4\x0b", -1, "t:1:" },
};

static void
test_parse(void)
{
	struct bgexcl	x;
	char		err[512];
	size_t		i, len;
	int		r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		memset(&x, 0, sizeof(x));
		err[0] = '\0';
		len = strlen(parse_cases[i].text);
		/* The NUL case: the bytes up to the second newline. */
		if (strstr(parse_cases[i].err != NULL ? parse_cases[i].err :
		    "", "NUL") != NULL)
			len = strlen(parse_cases[i].text) + 1 + 5;
		r = bgexcl_parse(parse_cases[i].text, len, "t", &x, err,
		    sizeof(err));
		if (parse_cases[i].n >= 0) {
			if (!tap_ok(r == 0 && x.n == (size_t)parse_cases[i].n,
			    "case %zu: %d networks", i, parse_cases[i].n))
				tap_diag("r %d n %zu err %s", r, x.n, err);
		} else if (!tap_ok(r == -1 &&
		    strstr(err, parse_cases[i].err) != NULL,
		    "case %zu refused: %s", i, parse_cases[i].err))
			tap_diag("r %d err %s", r, err);
		bgexcl_free(&x);
	}
}

/* A file of one network too many, a line far too long. */
static void
test_bounds(void)
{
	struct bgexcl	 x;
	char		*text, err[512];
	size_t		 i, len = 0, cap = (BGEXCL_MAX + 1) * 24;
	int		 r;

	if ((text = malloc(cap)) == NULL)
		exit(1);
	for (i = 0; i < BGEXCL_MAX; i++)
		len += snprintf(text + len, cap - len, "10.%zu.%zu.0/24\n",
		    i / 256, i % 256);
	memset(&x, 0, sizeof(x));
	r = bgexcl_parse(text, len, "t", &x, err, sizeof(err));
	tap_ok(r == 0 && x.n == BGEXCL_MAX, "%d networks fit", BGEXCL_MAX);
	bgexcl_free(&x);
	len += snprintf(text + len, cap - len, "192.0.2.1\n");
	r = bgexcl_parse(text, len, "t", &x, err, sizeof(err));
	tap_ok(r == -1 && strstr(err, "more than") != NULL &&
	    x.n == BGEXCL_MAX, "one more is refused, the table stays bounded");
	bgexcl_free(&x);
	memset(text, '1', 4000);
	r = bgexcl_parse(text, 4000, "t", &x, err, sizeof(err));
	tap_ok(r == -1 && strstr(err, "t:1:") != NULL &&
	    strstr(err, "too long") != NULL && strlen(err) < 200,
	    "a 4000-byte token is refused, the error stays short");
	free(text);
}

static void
key_of(const char *addr, uint8_t key[16])
{
	uint8_t	v4[4];

	memset(key, 0, 16);
	if (inet_pton(AF_INET, addr, v4) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, v4, 4);
	} else if (inet_pton(AF_INET6, addr, key) != 1)
		exit(1);
}

static const struct {
	const char	*list;
	const char	*addr;
	int		 want;
} match_cases[] = {
	{ "127.0.0.5|255.255.255.255", "127.0.0.5", 1 },
	{ "127.0.0.5|255.255.255.255", "127.0.0.6", 0 },
	{ "10.0.0.0|255.0.0.0", "10.200.3.4", 1 },
	{ "10.0.0.0|255.0.0.0", "11.0.0.0", 0 },
	{ "0.0.0.0|0.0.0.0", "203.0.113.1", 1 },
	{ "0.0.0.0|0.0.0.0", "2001:db8::1", 0 },
	{ "::/0", "10.0.0.1", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "2001:db8::/32", "2001:db8:1::1", 1 },
	{ "2001:db8::/32", "2001:db9::1", 0 },
	{ "", "10.0.0.1", 0 },
};

static void
test_match(void)
{
	struct bgexcl	x;
	uint8_t		key[16];
	char		err[512];
	size_t		i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		memset(&x, 0, sizeof(x));
		if (bgexcl_parse(match_cases[i].list,
		    strlen(match_cases[i].list), "t", &x, err,
		    sizeof(err)) == -1) {
			tap_ok(0, "%s: %s", match_cases[i].list, err);
			continue;
		}
		key_of(match_cases[i].addr, key);
		tap_is_int(bgexcl_match(&x, key), match_cases[i].want,
		    "%s in %s: %d", match_cases[i].addr, match_cases[i].list,
		    match_cases[i].want);
		bgexcl_free(&x);
	}
}

static void
test_text(void)
{
	struct bgexcl	x;
	char		err[512], text[64];

	memset(&x, 0, sizeof(x));
	if (bgexcl_parse("10.0.0.0|255.0.0.0 2001:db8::/32", 32, "t", &x, err,
	    sizeof(err)) == -1 || x.n != 2) {
		tap_ok(0, "text: %s", err);
		return;
	}
	bgexcl_text(&x.v[0], text, sizeof(text));
	tap_is_str(text, "10.0.0.0/8", "IPv4 network as text");
	bgexcl_text(&x.v[1], text, sizeof(text));
	tap_is_str(text, "2001:db8::/32", "IPv6 network as text");
	bgexcl_free(&x);
}

int
main(void)
{
	test_parse();
	test_bounds();
	test_match();
	test_text();
	return tap_done();
}
