/*
 * Unit test for lib/tcpaccess.c: both notations of TCPAccess, the values
 * it refuses and why, and which clients each rule set lets in.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tcpaccess.h"
#include "regress/tap.h"

static const struct {
	const char	*text;
	const char	*why;		/* NULL: accepted */
} parse_cases[] = {
	{ "", NULL },
	{ "   ", NULL },
	{ "+imap:ALL", NULL },
	{ "+imap:ALL$+pop:ALL$-ALL:ALL EXCEPT server1.sesta.com", NULL },
	{ "-imap,pop:10.0.0.0/8,192.168.1.", NULL },
	{ "-ALL:10.0.0.0/255.0.0.0", NULL },
	{ "-ALL:[2001:db8::]/32 [::1]", NULL },
	{ "imap: ALL", NULL },
	{ "ALL: .siroe.com EXCEPT externalserver.siroe.com", NULL },
	{ "ALL: 127.0.0.5 : deny", NULL },
	{ "imaps, pops: 127. : DENY $ imap: LOCAL : allow", NULL },
	{ "-ALL:a EXCEPT b EXCEPT c", NULL },
	{ "-ALL:*", NULL },
	{ "-ALL:KNOWN UNKNOWN DNSSPOOFER PARANOID LOCAL", NULL },
	{ "+ALL:ALL$", "empty rule" },
	{ "$+ALL:ALL", "empty rule" },
	{ "+ALL:ALL$$-ALL:ALL", "empty rule" },
	{ "+ALL:ALL$ $-ALL:ALL", "empty rule" },
	{ "+imap", "no \":\"" },
	{ "+:ALL", "no service" },
	{ "+ , :ALL", "no service" },
	{ "+imap:", "no client pattern" },
	{ "+imap: , ", "no client pattern" },
	{ "+smtp4:ALL", "unknown service" },
	{ "+pop@mail.example:ALL", "service@host" },
	{ "+imap:@trusted", "netgroups" },
	{ "+imap:@", "netgroups" },
	{ "+imap:user@host.example", "ident" },
	{ "+imap:EXCEPT a", "before it" },
	{ "+imap:a EXCEPT", "after it" },
	{ "+imap:a EXCEPT EXCEPT b", "before it" },
	{ "+imap:10.0.0", "incomplete" },
	{ "+imap:10", "incomplete" },
	{ "+imap:10.0.0.0.0", "incomplete" },
	{ "+imap:1.2.3.4.", "prefix" },
	{ "+imap:256.", "prefix" },
	{ "+imap:01.", "prefix" },
	{ "+imap:..", "prefix" },
	{ "+imap:10.1.2.3/8", "host bits" },
	{ "+imap:10.0.0.0/33", "prefix length" },
	{ "+imap:10.0.0.0/255.0.255.0", "contiguous" },
	{ "+imap:/8", "not an IPv4" },
	{ "+imap:300.0.0.1", "not an IPv4" },
	{ "+imap:2001:db8::1", "more than one" },
	{ "imap: 2001:db8::1", "after the clients" },
	{ "+imap:[10.0.0.1]", "brackets" },
	{ "+imap:[::1", "[IPv6]" },
	{ "+imap:[::1]x", "[IPv6]" },
	{ "+imap:[]", "brackets" },
	{ "+imap:[2001:db8::1]/32", "host bits" },
	{ "+imap:[::1]/129", "prefix length" },
	{ "+imap:*.example.com", "wildcards" },
	{ "+imap:host?", "wildcards" },
	{ "+imap:bad..name", "not an address" },
	{ "+imap:.", "not an address" },
	{ "+imap:name.", "not an address" },
	{ "+imap:a/b", "not an address" },
	{ "+imap:h\xc3\xa9.example", "not an address" },
	{ "+imap:a\001b", "control character" },
	{ "imap: ALL : maybe", "allow\" or" },
	{ "imap: ALL : deny : deny", "more than one" },
	{ "imap: ALL deny", NULL },	/* a host called "deny" */
};

struct client_case {
	const char	*rules;
	int		 svc;
	int		 tls;
	const char	*addr;
	int		 namestate;
	const char	*name;
	int		 want;		/* 1 allowed */
	int		 rule;		/* the deciding rule, -1 none */
};

#define IMAP	SVC_IMAP
#define POP	SVC_POP
#define NONE	TCPA_NAME_NONE
#define KNOWN	TCPA_NAME_KNOWN
#define UNK	TCPA_NAME_UNKNOWN
#define SPOOF	TCPA_NAME_SPOOFED

static const struct client_case check_cases[] = {
	{ "", IMAP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-ALL:ALL", IMAP, 0, "10.0.0.1", NONE, NULL, 0, 0 },
	{ "-ALL:ALL", POP, 1, "::1", NONE, NULL, 0, 0 },
	/* allow rules first, whatever their place */
	{ "-ALL:ALL$+imap:10.0.0.1", IMAP, 0, "10.0.0.1", NONE, NULL, 1, 1 },
	{ "-ALL:ALL$+imap:10.0.0.1", IMAP, 0, "10.0.0.2", NONE, NULL, 0, 0 },
	{ "-ALL:ALL$+imap:10.0.0.1", POP, 0, "10.0.0.1", NONE, NULL, 0, 0 },
	/* no match: allowed */
	{ "-pop:ALL", IMAP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-pop:ALL", POP, 0, "10.0.0.1", NONE, NULL, 0, 0 },
	/* imap covers 143 and 993; imaps only the TLS listener */
	{ "-imap:ALL", IMAP, 1, "10.0.0.1", NONE, NULL, 0, 0 },
	{ "-imaps:ALL", IMAP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-imaps:ALL", IMAP, 1, "10.0.0.1", NONE, NULL, 0, 0 },
	{ "-pops:ALL", POP, 1, "10.0.0.1", NONE, NULL, 0, 0 },
	{ "-pops:ALL", POP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-pops:ALL", IMAP, 1, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-smtp:ALL", IMAP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	/* addresses */
	{ "-ALL:192.168.1.", IMAP, 0, "192.168.1.77", NONE, NULL, 0, 0 },
	{ "-ALL:192.168.1.", IMAP, 0, "192.168.10.1", NONE, NULL, 1, -1 },
	{ "-ALL:10.", IMAP, 0, "10.200.0.1", NONE, NULL, 0, 0 },
	{ "-ALL:10.0.0.0/255.255.255.252", IMAP, 0, "10.0.0.3", NONE, NULL,
	    0, 0 },
	{ "-ALL:10.0.0.0/255.255.255.252", IMAP, 0, "10.0.0.4", NONE, NULL,
	    1, -1 },
	{ "-ALL:10.0.0.0/30", IMAP, 0, "10.0.0.4", NONE, NULL, 1, -1 },
	{ "-ALL:10.0.0.0/30", IMAP, 0, "::ffff:10.0.0.2", NONE, NULL, 0, 0 },
	{ "-ALL:[2001:db8::]/32", IMAP, 0, "2001:db8::9", NONE, NULL, 0, 0 },
	{ "-ALL:[2001:db8::]/32", IMAP, 0, "2001:db9::9", NONE, NULL, 1, -1 },
	{ "-ALL:[::1]", IMAP, 0, "::1", NONE, NULL, 0, 0 },
	/* EXCEPT, nested as hosts_access(5) reads it */
	{ "-ALL:127. EXCEPT 127.0.0.5", IMAP, 0, "127.0.0.5", NONE, NULL,
	    1, -1 },
	{ "-ALL:127. EXCEPT 127.0.0.5", IMAP, 0, "127.0.0.6", NONE, NULL,
	    0, 0 },
	{ "-ALL:127. EXCEPT 127.0.0.0/29 EXCEPT 127.0.0.5", IMAP, 0,
	    "127.0.0.5", NONE, NULL, 0, 0 },
	{ "-ALL:127. EXCEPT 127.0.0.0/29 EXCEPT 127.0.0.5", IMAP, 0,
	    "127.0.0.6", NONE, NULL, 1, -1 },
	{ "-ALL:127.0.0.9, 127. EXCEPT 127.0.0.0/29", IMAP, 0, "127.0.0.5",
	    NONE, NULL, 1, -1 },
	{ "-ALL:127.0.0.9, 127. EXCEPT 127.0.0.0/29", IMAP, 0, "127.0.0.9",
	    NONE, NULL, 0, 0 },
	/* filter form, allow and deny */
	{ "ALL: 127.0.0.5 : deny", POP, 0, "127.0.0.5", NONE, NULL, 0, 0 },
	{ "imap: 127.0.0.5 $ ALL: 127. : deny", IMAP, 0, "127.0.0.5", NONE,
	    NULL, 1, 0 },
	{ "imap: 127.0.0.5 $ ALL: 127. : deny", POP, 0, "127.0.0.5", NONE,
	    NULL, 0, 1 },
	/* names */
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", KNOWN, "a.siroe.com",
	    0, 0 },
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", KNOWN, "A.SIROE.COM",
	    0, 0 },
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", KNOWN, "siroe.com",
	    1, -1 },
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", KNOWN, "xsiroe.com",
	    1, -1 },
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", UNK, NULL, 1, -1 },
	{ "-ALL:.siroe.com", IMAP, 0, "10.0.0.1", SPOOF, "a.siroe.com",
	    1, -1 },
	{ "-ALL:ALL EXCEPT ext.siroe.com", IMAP, 0, "10.0.0.1", KNOWN,
	    "ext.siroe.com", 1, -1 },
	{ "-ALL:ALL EXCEPT ext.siroe.com", IMAP, 0, "10.0.0.1", KNOWN,
	    "ext.siroe.com.evil", 0, 0 },
	{ "-ALL:ALL EXCEPT ext.siroe.com", IMAP, 0, "10.0.0.1", SPOOF,
	    "ext.siroe.com", 0, 0 },
	{ "-ALL:LOCAL", IMAP, 0, "10.0.0.1", KNOWN, "mailhub", 0, 0 },
	{ "-ALL:LOCAL", IMAP, 0, "10.0.0.1", KNOWN, "mailhub.x", 1, -1 },
	{ "-ALL:KNOWN", IMAP, 0, "10.0.0.1", KNOWN, "h.x", 0, 0 },
	{ "-ALL:KNOWN", IMAP, 0, "10.0.0.1", SPOOF, "h.x", 1, -1 },
	{ "-ALL:UNKNOWN", IMAP, 0, "10.0.0.1", UNK, NULL, 0, 0 },
	{ "-ALL:UNKNOWN", IMAP, 0, "10.0.0.1", SPOOF, "h.x", 0, 0 },
	{ "-ALL:UNKNOWN", IMAP, 0, "10.0.0.1", KNOWN, "h.x", 1, -1 },
	{ "-ALL:UNKNOWN", IMAP, 0, "10.0.0.1", NONE, NULL, 1, -1 },
	{ "-ALL:DNSSPOOFER", IMAP, 0, "10.0.0.1", SPOOF, "h.x", 0, 0 },
	{ "-ALL:PARANOID", IMAP, 0, "10.0.0.1", UNK, NULL, 1, -1 },
	{ "-ALL:host.x", IMAP, 0, "10.0.0.1", KNOWN, "host.xy", 1, -1 },
	{ "-ALL:host.x", IMAP, 0, "10.0.0.1", KNOWN, "ahost.x", 1, -1 },
	{ "-ALL:host.x", IMAP, 0, "10.0.0.1", KNOWN, "Host.X", 0, 0 },
	/* a name never matches an address pattern */
	{ "-ALL:10.0.0.1", IMAP, 0, "10.0.0.2", KNOWN, "10.0.0.1", 1, -1 },
};

static void
test_parse(void)
{
	struct tcpa_set	set;
	char		why[256];
	size_t		i;
	int		r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		why[0] = '\0';
		r = tcpa_parse(parse_cases[i].text, &set, why, sizeof(why));
		if (parse_cases[i].why == NULL) {
			if (!tap_ok(r == 0, "\"%s\" accepted",
			    parse_cases[i].text))
				tap_diag("why: %s", why);
		} else if (!tap_ok(r == -1 && strstr(why,
		    parse_cases[i].why) != NULL, "\"%s\" refused: %s",
		    parse_cases[i].text, parse_cases[i].why))
			tap_diag("r %d, why: %s", r, why);
	}
}

static void
test_limits(void)
{
	struct tcpa_set	set;
	char		text[TCPA_TEXT_BYTES + 16], why[256];
	size_t		i, len = 0;

	for (i = 0; i < TCPA_RULES_MAX; i++)
		len += snprintf(text + len, sizeof(text) - len, "%s-ALL:%zu.",
		    i ? "$" : "", i);
	tap_is_int(tcpa_parse(text, &set, why, sizeof(why)), 0,
	    "%d rules fit", TCPA_RULES_MAX);
	tap_is_int((long long)set.nrules, TCPA_RULES_MAX, "all counted");
	(void)snprintf(text + len, sizeof(text) - len, "$-ALL:1.");
	tap_ok(tcpa_parse(text, &set, why, sizeof(why)) == -1 &&
	    strstr(why, "more than") != NULL, "one more is refused");
	len = (size_t)snprintf(text, sizeof(text), "-ALL:");
	for (i = 0; i <= TCPA_ITEMS_MAX; i++)
		len += snprintf(text + len, sizeof(text) - len, "*,");
	tap_ok(tcpa_parse(text, &set, why, sizeof(why)) == -1 &&
	    strstr(why, "client patterns") != NULL, "%d patterns refused",
	    TCPA_ITEMS_MAX + 1);
	memset(text, 'a', TCPA_TEXT_BYTES);
	text[TCPA_TEXT_BYTES] = '\0';
	tap_ok(tcpa_parse(text, &set, why, sizeof(why)) == -1 &&
	    strstr(why, "longer") != NULL, "a value too long is refused");
	memset(text, 'a', 300);
	memcpy(text, "-ALL:", 5);
	text[300] = '\0';
	tap_ok(tcpa_parse(text, &set, why, sizeof(why)) == -1,
	    "a host name of 295 bytes is refused");
}

static void
test_check(void)
{
	const struct client_case	*cc;
	struct tcpa_client		 c;
	struct tcpa_set			 set;
	char				 why[256];
	size_t				 i;
	int				 rule, r;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		cc = &check_cases[i];
		if (tcpa_parse(cc->rules, &set, why, sizeof(why)) == -1) {
			tap_ok(0, "\"%s\": %s", cc->rules, why);
			continue;
		}
		c.svc = cc->svc;
		c.tls = cc->tls;
		c.addr = cc->addr;
		c.namestate = cc->namestate;
		c.name = cc->name;
		r = tcpa_check(&set, &c, &rule);
		tap_ok(r == cc->want && rule == cc->rule, "\"%s\": %s%s %s "
		    "%s (%s) %s by rule %d", cc->rules, cc->svc == IMAP ?
		    "imap" : "pop", cc->tls ? "s" : "", cc->addr,
		    cc->name ? cc->name : "-", cc->namestate == KNOWN ? "known" :
		    cc->namestate == UNK ? "unknown" : cc->namestate == SPOOF ?
		    "spoofed" : "no lookup", cc->want ? "allowed" : "refused",
		    cc->rule);
		if (r != cc->want || rule != cc->rule)
			tap_diag("got %d by rule %d", r, rule);
	}
}

static void
test_text(void)
{
	struct tcpa_set	set;
	char		why[256], buf[TCPA_TEXT_BYTES];

	tap_is_int(tcpa_parse(" +imap:ALL $ -pop:10. EXCEPT 10.0.0.1 ", &set,
	    why, sizeof(why)), 0, "spaced rules parse");
	tap_is_str(tcpa_rule_text(&set, 1, buf, sizeof(buf)),
	    "-pop:10. EXCEPT 10.0.0.1", "a rule's text, trimmed");
	tap_is_str(tcpa_rule_text(&set, 2, buf, sizeof(buf)), "(none)",
	    "no such rule");
	tap_ok(!tcpa_needs_name(&set), "addresses need no name");
	tap_is_int(tcpa_parse("-ALL:10. EXCEPT .x.example", &set, why,
	    sizeof(why)), 0, "a suffix parses");
	tap_ok(tcpa_needs_name(&set), "a suffix needs a name");
	tap_is_str(tcpa_name_pattern(&set, buf, sizeof(buf)), ".x.example",
	    "and is named");
	tap_is_int(tcpa_parse("-ALL:UNKNOWN", &set, why, sizeof(why)), 0,
	    "UNKNOWN parses");
	tap_ok(tcpa_needs_name(&set), "UNKNOWN needs a lookup");
}

int
main(void)
{
	test_parse();
	test_limits();
	test_check();
	test_text();
	return tap_done();
}
