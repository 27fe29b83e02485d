/*
 * Unit test for lib/netmask.c: the networks StoreNetworks accepts, the
 * typos it refuses, and which addresses match.
 */
#include <stdio.h>
#include <string.h>

#include "netmask.h"
#include "regress/tap.h"

static const struct {
	const char	*text;
	const char	*why;		/* NULL: accepted */
} parse_cases[] = {
	{ "10.0.0.0/8", NULL },
	{ "10.0.0.0|255.0.0.0", NULL },
	{ "192.0.2.10", NULL },
	{ "0.0.0.0/0", NULL },
	{ "0.0.0.0|0.0.0.0", NULL },
	{ "2001:db8::/32", NULL },
	{ "::1", NULL },
	{ "::/0", NULL },
	{ "2001:db8::|ffff:ffff::", NULL },
	{ "10.1.2.3/8", "host bits" },
	{ "10.0.0.1|255.0.0.0", "host bits" },
	{ "2001:db8::1/32", "host bits" },
	{ "10.0.0.0/33", "prefix" },
	{ "10.0.0.0/-1", "prefix" },
	{ "10.0.0.0/", "prefix" },
	{ "10.0.0.0/ 8", "prefix" },
	{ "10.0.0.0/+8", "prefix" },
	{ "10.0.0.0/0x8", "prefix" },
	{ "10.0.0.0/0008", "prefix" },
	{ "::/129", "prefix" },
	{ "10.0.0.0|255.0.255.0", "contiguous" },
	{ "10.0.0.0|ffff::", "contiguous" },
	{ "10.0.0.0|", "contiguous" },
	{ "10.0.0.0|8", "contiguous" },
	{ "10.0.0", "not an IPv4" },
	{ "10.0.0.0.0", "not an IPv4" },
	{ "010.0.0.0", "not an IPv4" },
	{ "host.example", "not an IPv4" },
	{ "fe80::1%eth0", "not an IPv4" },
	{ "", "not an IPv4" },
	{ "/8", "not an IPv4" },
	{ "10.0.0.0/8/8", "prefix" },
	{ "10.0.0.0|255.0.0.0|1", "contiguous" },
	{ "::ffff:192.0.2.9", "IPv4-mapped" },
	{ "::ffff:0:0/96", "IPv4-mapped" },
	{ "::fffe:0:0/95", NULL },
};

static const struct {
	const char	*list;
	const char	*addr;
	int		 want;
} match_cases[] = {
	{ "10.0.0.0/8", "10.255.1.2", 1 },
	{ "10.0.0.0/8", "11.0.0.1", 0 },
	{ "10.0.0.0/8", "9.255.255.255", 0 },
	{ "10.0.0.0|255.0.0.0", "10.0.0.0", 1 },
	{ "127.0.0.11/32", "127.0.0.11", 1 },
	{ "127.0.0.11/32", "127.0.0.12", 0 },
	{ "127.0.0.11", "127.0.0.11", 1 },
	{ "192.0.2.0/25", "192.0.2.127", 1 },
	{ "192.0.2.0/25", "192.0.2.128", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "::/0", "10.0.0.1", 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "2001:db8::/32", "2001:db9::1", 0 },
	{ "10.0.0.0/8", "::ffff:10.1.1.1", 1 },
	{ "10.0.0.0/8", "::ffff:11.1.1.1", 0 },
	{ "10.0.0.0/8", "::10.1.1.1", 0 },
	{ "10.0.0.0/8 2001:db8::/32", "2001:db8::5", 1 },
	{ "10.0.0.0/8,192.0.2.1", "192.0.2.1", 1 },
	{ "10.0.0.0/8, 192.0.2.1", "192.0.2.2", 0 },
	{ "10.0.0.0/8", "10.0.0.1 ", 0 },
	{ "10.0.0.0/8", "", 0 },
	{ "10.0.0.0/8", "store.example", 0 },
};

static void
test_parse(void)
{
	struct netmask	nm;
	char		why[256];
	size_t		i;
	int		r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		why[0] = '\0';
		r = netmask_parse(parse_cases[i].text, &nm, why, sizeof(why));
		if (parse_cases[i].why == NULL)
			tap_ok(r == 0, "\"%s\" accepted", parse_cases[i].text);
		else if (!tap_ok(r == -1 && strstr(why, parse_cases[i].why),
		    "\"%s\" refused: %s", parse_cases[i].text,
		    parse_cases[i].why))
			tap_diag("why: %s", why);
	}
}

static void
test_list(void)
{
	struct netmask	v[NETLIST_MAX + 1];
	char		text[NETLIST_MAX * 16 + 16], why[256];
	size_t		i, len = 0;

	tap_is_int(netlist_parse(" 10.0.0.0/8,, 192.0.2.1\t::1 ", v,
	    NETLIST_MAX, why, sizeof(why)), 3, "blanks and commas separate");
	tap_is_int(netlist_parse(" , ", v, NETLIST_MAX, why, sizeof(why)),
	    -1, "an empty list is refused");
	tap_is_int(netlist_parse("10.0.0.0/8 10.1.2.3/8", v, NETLIST_MAX,
	    why, sizeof(why)), -1, "one bad network refuses the list");
	for (i = 0; i < NETLIST_MAX; i++)
		len += snprintf(text + len, sizeof(text) - len, "10.0.%zu.0/24 ",
		    i);
	tap_is_int(netlist_parse(text, v, NETLIST_MAX, why, sizeof(why)),
	    NETLIST_MAX, "%d networks fit", NETLIST_MAX);
	(void)snprintf(text + len, sizeof(text) - len, "192.0.2.1");
	tap_ok(netlist_parse(text, v, NETLIST_MAX, why, sizeof(why)) == -1 &&
	    strstr(why, "more than") != NULL, "one more is refused");
}

/* The list's words: bounds exactly at the buffer and at max. */
static void
test_word(void)
{
	char		 tok[8], why[128];
	const char	*p = " ,1234567\t12345678";
	int		 r;

	memset(tok, 'x', sizeof(tok));
	r = netlist_word(&p, tok, sizeof(tok), 0, 4, "net", why, sizeof(why));
	tap_ok(r == 1 && strcmp(tok, "1234567") == 0 && *p == '\t',
	    "a word of 7 bytes fits 8 with its NUL, the list goes on after it");
	why[0] = '\0';
	r = netlist_word(&p, tok, sizeof(tok), 1, 4, "net", why, sizeof(why));
	tap_ok(r == -1 && strstr(why, "net \"12345678...\" is too long") !=
	    NULL, "a word of 8 bytes does not fit 8: %s", why);
	p = "a b";
	r = netlist_word(&p, tok, sizeof(tok), 2, 2, "net", why, sizeof(why));
	tap_ok(r == -1 && strcmp(why, "more than 2 nets") == 0,
	    "a third word when 2 are the most: %s", why);
	p = " ,\t";
	tap_is_int(netlist_word(&p, tok, sizeof(tok), 0, 2, "net", why,
	    sizeof(why)), 0, "blanks and commas only: the end");
	tap_ok(*p == '\0', "  at the string's end");
}

static void
test_match(void)
{
	struct netmask	v[NETLIST_MAX];
	char		why[256];
	size_t		i;
	int		n;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		n = netlist_parse(match_cases[i].list, v, NETLIST_MAX, why,
		    sizeof(why));
		if (n == -1) {
			tap_ok(0, "list \"%s\": %s", match_cases[i].list, why);
			continue;
		}
		tap_is_int(netlist_match(v, (size_t)n, match_cases[i].addr),
		    match_cases[i].want, "\"%s\" %s \"%s\"",
		    match_cases[i].addr, match_cases[i].want ? "in" :
		    "not in", match_cases[i].list);
	}
	tap_is_int(netlist_match(v, 0, "10.0.0.1"), 0, "no networks: no "
	    "match");
}

int
main(void)
{
	test_parse();
	test_list();
	test_word();
	test_match();
	return tap_done();
}
