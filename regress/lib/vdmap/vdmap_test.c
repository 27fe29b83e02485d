/*
 * Unit test for lib/vdmap.c and the virtual domains of lib/config.c: vdmap
 * files the parser must refuse (with file:line and the reason), the values
 * it keeps, and how a session's local address finds its domain and its
 * keys fall back to the service's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "vdmap.h"
#include "regress/tap.h"

static struct mmp_conf *
parse(const char *text, char *err, size_t errlen)
{
	struct mmp_conf	*conf;

	if ((conf = conf_new()) == NULL)
		return NULL;
	err[0] = '\0';
	if (vdmap_parse(conf, SVC_IMAP, text, strlen(text), "vdmap.cfg", err,
	    errlen) == -1) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* Files refused: (text, the start of the error). */
static const struct {
	const char	*text;
	const char	*err;
} bad[] = {
	{ "a:DefaultDomain a.test\n",
	    "vdmap.cfg:1: a: no \"vdmap a IPADDR\" line before" },
	{ "vdmap a 127.0.0.2\nb:DefaultDomain b.test\n",
	    "vdmap.cfg:2: b: no \"vdmap b IPADDR\"" },
	{ "vdmap a 127.0.0.2\na:Timeout 10\n",
	    "vdmap.cfg:2: Timeout may not be set per virtual domain" },
	{ "vdmap a 127.0.0.2\na:VirtualDomainFile /x\n",
	    "vdmap.cfg:2: VirtualDomainFile may not be set" },
	{ "vdmap a 127.0.0.2\na:PreAuth maybe\n",
	    "vdmap.cfg:2: PreAuth: \"maybe\" is not yes or no" },
	{ "vdmap a 127.0.0.2\na:SearchFormat (uid=%q)\n",
	    "vdmap.cfg:2: SearchFormat: unknown % code" },
	{ "vdmap a 127.0.0.2\na:SearchFormat uid=%s\n",
	    "vdmap.cfg:2: SearchFormat:" },
	{ "vdmap a 127.0.0.2\na:ReplayFormat %Q\n",
	    "vdmap.cfg:2: ReplayFormat:" },
	{ "vdmap a 127.0.0.2\na:ReplayFormat %A[uid\n",
	    "vdmap.cfg:2: ReplayFormat:" },
	{ "vdmap a 127.0.0.2\na:LdapUrl http://x/\n",
	    "vdmap.cfg:2: LdapUrl:" },
	{ "vdmap a 127.0.0.2\na:AuthCacheTTL -1\n",
	    "vdmap.cfg:2: AuthCacheTTL:" },
	{ "vdmap a 127.0.0.2\na:CertMap relative/path\n",
	    "vdmap.cfg:2: CertMap:" },
	{ "vdmap a 127.0.0.2\na:BindDN \"cn=x\n",
	    "vdmap.cfg:2: BindDN: no closing double quote" },
	{ "vdmap a 127.0.0.2\na:BindDN \"cn=x\" y\n",
	    "vdmap.cfg:2: BindDN: text after the closing" },
	{ "vdmap a 127.0.0.2\nvdmap a 127.0.0.3\n",
	    "vdmap.cfg:2: vdmap a: name already used at line 1" },
	{ "vdmap a 127.0.0.2\nvdmap A 127.0.0.3\n",
	    "vdmap.cfg:2: vdmap A: name already used" },
	{ "vdmap a 127.0.0.2\nvdmap b 127.0.0.2\n",
	    "vdmap.cfg:2: vdmap b: address 127.0.0.2 already used by a" },
	{ "vdmap a ::ffff:127.0.0.2\nvdmap b 127.0.0.2\n",
	    "vdmap.cfg:2: vdmap b: address 127.0.0.2 already used by a" },
	{ "vdmap a 2001:db8::1\nvdmap b 2001:DB8:0::1\n",
	    "vdmap.cfg:2: vdmap b: address 2001:db8::1 already used" },
	{ "vdmap a 127.0.0.256\n", "vdmap.cfg:1: vdmap a: \"127.0.0.256\" is "
	    "not an IPv4 or IPv6 address" },
	{ "vdmap a host.example\n", "vdmap.cfg:1: vdmap a: \"host.example\"" },
	{ "vdmap a 127.0.0.2/32\n", "vdmap.cfg:1: vdmap a:" },
	{ "vdmap a\n", "vdmap.cfg:1: not \"vdmap NAME IPADDR\"" },
	{ "vdmap\n", "vdmap.cfg:1: not \"vdmap NAME IPADDR\"" },
	{ "vdmap a 127.0.0.2 extra\n", "vdmap.cfg:1: not \"vdmap NAME" },
	{ "vdmap a/b 127.0.0.2\n", "vdmap.cfg:1: vdmap name \"a/b\"" },
	{ "vdmap a:b 127.0.0.2\n", "vdmap.cfg:1: vdmap name \"a:b\"" },
	{ "# c\n\nsomething else\n", "vdmap.cfg:3: not \"vdmap NAME IPADDR\" "
	    "or \"NAME:Key value\"" },
	{ "vdmap a 127.0.0.2\n:PreAuth yes\n", "vdmap.cfg:2: not" },
	{ "vdmap a 127.0.0.2\na: yes\n", "vdmap.cfg:2: not" },
	{ "vdmap a 127.0.0.2\na:PreAuth\tyes\r\nb\n", "vdmap.cfg:3: not" },
	{ "vdmap a 127.0.0.2\na:DefaultDomain \"a\rb\"\n",
	    "vdmap.cfg:2: DefaultDomain: value contains CR or LF" },
};

static void
test_bad(void)
{
	struct mmp_conf	*conf;
	char		 err[512];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf = parse(bad[i].text, err, sizeof(err));
		tap_ok(conf == NULL && strncmp(err, bad[i].err,
		    strlen(bad[i].err)) == 0, "refused: %s", bad[i].err);
		if (conf != NULL || strncmp(err, bad[i].err,
		    strlen(bad[i].err)) != 0)
			tap_diag("got: %s", conf != NULL ? "accepted" : err);
		conf_free(conf);
	}
}

/* A NUL byte, an overlong line, too many entries: bounded. */
static void
test_limits(void)
{
	struct mmp_conf	*conf = conf_new();
	char		 err[512], *big;
	size_t		 i, len = 0;
	static const char nul[] = "vdmap a 127.0.0.2\na:Pre\0Auth yes\n";

	tap_ok(vdmap_parse(conf, SVC_IMAP, nul, sizeof(nul) - 1, "v", err,
	    sizeof(err)) == -1 && strcmp(err, "v:2: NUL byte in line") == 0,
	    "NUL byte refused with its line (%s)", err);
	conf_free(conf);
	big = malloc(300 * 40);
	memset(big, 'x', 5000);
	memcpy(big, "# ", 2);
	big[5000] = '\0';
	conf = conf_new();
	tap_ok(vdmap_parse(conf, SVC_IMAP, big, strlen(big), "v", err,
	    sizeof(err)) == -1 && strstr(err, "v:1: line longer") == err,
	    "overlong line refused (%s)", err);
	conf_free(conf);
	for (i = 0; i < CONF_VDOMAINS_MAX + 1; i++)
		len += (size_t)snprintf(big + len, 40, "vdmap d%zu 10.0.%zu.%zu\n",
		    i, i / 256, i % 256);
	conf = conf_new();
	tap_ok(vdmap_parse(conf, SVC_IMAP, big, len, "v", err, sizeof(err)) ==
	    -1 && strstr(err, "more than 256 vdmap entries") != NULL,
	    "entry %d refused (%s)", CONF_VDOMAINS_MAX + 1, err);
	conf_free(conf);
	len = 0;
	for (i = 0; i < CONF_VDOMAINS_MAX; i++)
		len += (size_t)snprintf(big + len, 40, "vdmap d%zu 10.0.%zu.%zu\n",
		    i, i / 256, i % 256);
	conf = conf_new();
	tap_ok(vdmap_parse(conf, SVC_IMAP, big, len, "v", err, sizeof(err)) ==
	    0 && conf->nvd[SVC_IMAP] == CONF_VDOMAINS_MAX,
	    "%d entries accepted", CONF_VDOMAINS_MAX);
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "10.0.0.255"), 255,
	    "the last one found by its address");
	conf_free(conf);
	free(big);
}

static const char good[] =
    "\xef\xbb\xbf# two domains\n"
    "vdmap siroe 127.0.0.2\r\n"
    "siroe:DefaultDomain siroe.test\n"
    "  siroe:SEARCHFORMAT \"(mail=%s)\"   \n"
    "siroe:CanonicalVirtual %\n"
    "siroe:BindPass \"se\\\"cret\"\n"
    "siroe:PreAuth yes\n"
    "siroe:PreAuth on\n"
    "siroe:NoSuchKey whatever\n"
    "siroe:VDomain x\n"
    "vdmap b.test 2001:db8::2\n"
    "b.test:ReplayFormat %A[uid]@%V\n"
    "b.test:DomainDelim \"+\"\n"
    "b.test:CertMap /etc/mmpd/certmap-b.conf\n"
    "b.test:LdapURL \"ldap://127.0.0.1:389/o=b  ldap://h2/o=b\"";

static void
test_good(void)
{
	struct mmp_conf	*conf;
	char		 err[512], later[256];
	int		 a, b;

	conf = parse(good, err, sizeof(err));
	if (!tap_ok(conf != NULL, "two domains parse")) {
		tap_diag("%s", err);
		return;
	}
	tap_is_int((long long)conf->nvd[SVC_IMAP], 2, "two entries");
	tap_is_int((long long)conf->nvd[SVC_POP], 0, "none for POP");
	a = conf_vdomain_find(conf, SVC_IMAP, "127.0.0.2");
	b = conf_vdomain_find(conf, SVC_IMAP, "2001:DB8:0:0::2");
	tap_ok(a == 0 && b == 1, "found by address (%d %d)", a, b);
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "::ffff:127.0.0.2"), 0,
	    "IPv4-mapped address finds the IPv4 entry");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "127.0.0.3"), -1,
	    "another address: none");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "127.0.0.2:143"), 0,
	    "IPv4:PORT as the relays write it");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "[2001:db8::2]:993"), 1,
	    "[IPv6]:PORT");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "127.0.0.3:143"), -1,
	    "another address with a port: none");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "[2001:db8::2"), -1,
	    "unclosed bracket: none");
	tap_is_int(conf_vdomain_find(conf, SVC_POP, "127.0.0.2"), -1,
	    "another service: none");
	tap_is_int(conf_vdomain_find(conf, SVC_IMAP, "bogus"), -1,
	    "not an address: none");
	tap_is_str(conf_vdomain_domain(conf, SVC_IMAP, a), "siroe.test",
	    "domain from DefaultDomain");
	tap_is_str(conf_vdomain_domain(conf, SVC_IMAP, b), "b.test",
	    "domain from the name");
	tap_ok(conf_vdomain_domain(conf, SVC_IMAP, -1) == NULL,
	    "no domain for -1");
	tap_is_str(conf_vstr(conf, SVC_IMAP, a, CK_SEARCHFORMAT), "(mail=%s)",
	    "override, key case-insensitive, quotes and blanks");
	tap_is_str(conf_vstr(conf, SVC_IMAP, b, CK_SEARCHFORMAT), "(uid=%s)",
	    "not overridden: the service's");
	tap_is_str(conf_vstr(conf, SVC_IMAP, -1, CK_SEARCHFORMAT), "(uid=%s)",
	    "vd -1: the service's");
	tap_is_str(conf_vstr(conf, SVC_IMAP, a, CK_CANONICALDELIM), "%",
	    "CanonicalVirtual is CanonicalVirtualDomainDelim");
	tap_is_str(conf_vstr(conf, SVC_IMAP, a, CK_BINDPASS), "se\"cret",
	    "quoted secret with an escaped quote");
	tap_is_int(conf_vnum(conf, SVC_IMAP, a, CK_PREAUTH), 1,
	    "PreAuth overridden (last line wins)");
	tap_is_int(conf->vd[SVC_IMAP][a].v[CK_PREAUTH].line, 8,
	    "origin: the line that won");
	tap_is_int(conf_vnum(conf, SVC_IMAP, b, CK_PREAUTH), 0,
	    "PreAuth of the other: the default");
	tap_ok(conf_voverrides(conf, SVC_IMAP, a, CK_VDOMAIN),
	    "VDomain accepted");
	conf_later_keys(conf, SVC_IMAP, later, sizeof(later));
	tap_is_str(later, "VDomain", "a vdmap's key not in effect is listed "
	    "(CertMap is in effect there)");
	tap_is_str(conf_vstr(conf, SVC_IMAP, b, CK_REPLAYFORMAT),
	    "%A[uid]@%V", "ReplayFormat");
	tap_is_str(conf_vstr(conf, SVC_IMAP, b, CK_DOMAINDELIM), "+",
	    "DomainDelim");
	tap_is_str(conf_vstr(conf, SVC_IMAP, b, CK_CERTMAP),
	    "/etc/mmpd/certmap-b.conf", "CertMap");
	tap_is_str(conf_vstr(conf, SVC_IMAP, b, CK_LDAPURL),
	    "ldap://127.0.0.1:389/o=b ldap://h2/o=b",
	    "LdapURL normalised like the main files'; last line no LF");
	tap_ok(!conf_visset(conf, SVC_IMAP, b, CK_BINDDN) &&
	    conf_visset(conf, SVC_IMAP, b, CK_LDAPURL),
	    "conf_visset: override or service");
	tap_ok(conf_vset(conf, SVC_IMAP, a, CK_TIMEOUT, "5", "x", 1, err,
	    sizeof(err)) == -1, "conf_vset refuses a key not CF_V (%s)", err);
	tap_ok(conf_vset(conf, SVC_IMAP, 2, CK_PREAUTH, "yes", "x", 1, err,
	    sizeof(err)) == -1, "conf_vset refuses a domain out of range");
	tap_ok(vdmap_parse(conf, SVC_IMAP, good, strlen(good), "v", err,
	    sizeof(err)) == -1, "a second parse into the same service refused");
	conf_free(conf);
}

int
main(void)
{
	log_init("vdmap_test", 1, LOG_ERR);
	test_bad();
	test_limits();
	test_good();
	return tap_done();
}
