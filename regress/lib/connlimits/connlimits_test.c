/*
 * Unit tests for lib/connlimits.c: realms that parse and the nasty ones
 * that must not, and which realm rules a client (the most specific; a
 * mask of length 0 for either family; IPv4-mapped IPv6 as IPv4).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "connlimits.h"
#include "regress/tap.h"

static const struct {
	const char	*text;
	int		 n;		/* realms, -1 refused */
} parse_cases[] = {
	{ "0.0.0.0|0.0.0.0:20", 1 },
	{ "0.0.0.0|0.0.0.0:20,10.0.0.0|255.0.0.0:5", 2 },
	{ " 0.0.0.0|0.0.0.0:20 , 10.1.0.0|255.255.0.0:0 ", 2 },
	{ "10.0.0.0/8:7", 1 },
	{ "2001:db8::|ffff:ffff:::3", 1 },
	{ "2001:db8::/32:3,::/0:9", 2 },
	{ "192.0.2.1|255.255.255.255:1000000", 1 },
	{ "", -1 },
	{ " , ,", -1 },
	{ "0.0.0.0|0.0.0.0", -1 },		/* no number */
	{ "0.0.0.0|0.0.0.0:", -1 },
	{ "0.0.0.0|0.0.0.0:-1", -1 },
	{ "0.0.0.0|0.0.0.0:+1", -1 },
	{ "0.0.0.0|0.0.0.0:1000001", -1 },
	{ "0.0.0.0|0.0.0.0:99999999999999999999", -1 },
	{ "0.0.0.0|0.0.0.0:2x", -1 },
	{ "0.0.0.0|0.0.0.0: 2", -1 },
	{ "10.0.0.1:5", -1 },			/* no mask */
	{ "10.0.0.1|255.0.0.0:5", -1 },		/* host bits */
	{ "10.0.0.0|255.0.255.0:5", -1 },	/* not contiguous */
	{ "10.0.0.0|ffff::0:5", -1 },		/* mask of the other family */
	{ "10.0.0.0/33:5", -1 },
	{ "::ffff:10.0.0.0/104:5", -1 },	/* v4-mapped: write IPv4 */
	{ "host.example|255.0.0.0:5", -1 },
	{ "10.0.0.0|255.0.0.0:5,10.0.0.0/8:6", -1 },	/* twice */
	{ ":", -1 },
	{ "|:1", -1 },
};

static void
test_parse(void)
{
	struct connlimit	v[CONNLIMITS_MAX];
	char			why[256], big[CONNLIMITS_MAX * 24 + 64];
	size_t			i, len = 0;
	int			r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		why[0] = '\0';
		r = connlimits_parse(parse_cases[i].text, v, CONNLIMITS_MAX,
		    why, sizeof(why));
		tap_is_int(r, parse_cases[i].n, "\"%s\"%s%s",
		    parse_cases[i].text, r == -1 ? ": " : "", r == -1 ? why :
		    "");
		if (r == -1)
			tap_ok(why[0] != '\0', "  with a reason");
	}
	r = connlimits_parse("10.0.0.0/8:7", v, CONNLIMITS_MAX, why,
	    sizeof(why));
	tap_ok(r == 1 && v[0].bits == 8 && v[0].max == 7 &&
	    strcmp(v[0].text, "10.0.0.0/8:7") == 0, "fields of a realm");
	/* One realm more than fits. */
	for (i = 0; i <= CONNLIMITS_MAX; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
		    "10.%zu.0.0/16:1,", i);
	tap_is_int(connlimits_parse(big, v, CONNLIMITS_MAX, why, sizeof(why)),
	    -1, "%d realms refused", CONNLIMITS_MAX + 1);
}

static int
match(const struct connlimit *v, int n, const char *text)
{
	uint8_t	a[16];

	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, a + 12) == 1)
		a[10] = a[11] = 0xff;
	else if (inet_pton(AF_INET6, text, a) != 1)
		return -2;
	return connlimits_match(v, (size_t)n, a);
}

static void
test_match(void)
{
	struct connlimit	v[CONNLIMITS_MAX];
	char			why[256];
	int			n;

	n = connlimits_parse("0.0.0.0|0.0.0.0:20, 10.1.2.3|255.255.255.255:1,"
	    "10.0.0.0|255.0.0.0:5, 10.1.0.0|255.255.0.0:3", v, CONNLIMITS_MAX,
	    why, sizeof(why));
	tap_is_int(n, 4, "four realms");
	tap_is_int(match(v, n, "10.1.2.3"), 1, "host realm beats all");
	tap_is_int(match(v, n, "10.1.9.9"), 3, "/16 beats /8, wherever listed");
	tap_is_int(match(v, n, "10.9.9.9"), 2, "/8");
	tap_is_int(match(v, n, "192.0.2.1"), 0, "catch-all");
	tap_is_int(match(v, n, "::ffff:10.1.2.3"), 1, "v4-mapped is IPv4");
	tap_is_int(match(v, n, "2001:db8::1"), 0,
	    "IPv6 client: the length-0 catch-all");
	n = connlimits_parse("10.0.0.0/8:5", v, CONNLIMITS_MAX, why,
	    sizeof(why));
	tap_is_int(match(v, n, "192.0.2.1"), -1, "no realm: -1");
	tap_is_int(match(v, n, "2001:db8::1"), -1, "nor for IPv6");
	n = connlimits_parse("0.0.0.0|0.0.0.0:20,::/0:7,2001:db8::/32:2", v,
	    CONNLIMITS_MAX, why, sizeof(why));
	tap_is_int(match(v, n, "2001:db8::1"), 2, "IPv6 realm");
	tap_is_int(match(v, n, "2001:db9::1"), 1, "IPv6 catch-all for IPv6");
	tap_is_int(match(v, n, "10.0.0.1"), 0, "IPv4 catch-all for IPv4");
	n = connlimits_parse("::/0:7,0.0.0.0|0.0.0.0:20", v, CONNLIMITS_MAX,
	    why, sizeof(why));
	tap_is_int(match(v, n, "10.0.0.1"), 1, "own family's catch-all first");
}

int
main(void)
{
	test_parse();
	test_match();
	return tap_done();
}
