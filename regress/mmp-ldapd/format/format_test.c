/*
 * Unit tests for mmp-ldapd's SearchFormat expansion (every value RFC
 * 4515-escaped), LdapUrl handling, numeric addresses, host name checks
 * and the hosts table. The LDAP and DNS paths run in integration tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>

#include "mmp-ldapd/ldapd.h"
#include "regress/tap.h"

struct fmt_case {
	const char	*fmt;
	const char	*name;
	const char	*want;		/* NULL: must fail */
};

static const struct fmt_case fmt_cases[] = {
	{ "(uid=%s)", "alice", "(uid=alice)" },
	{ "(uid=%s)", "a*b", "(uid=a\\2ab)" },
	{ "(uid=%s)", "x(y)", "(uid=x\\28y\\29)" },
	{ "(uid=%s)", "back\\slash", "(uid=back\\5cslash)" },
	{ "(uid=%s)", "*)(uid=*", "(uid=\\2a\\29\\28uid=\\2a)" },
	{ "(uid=%s)", "*", "(uid=\\2a)" },
	{ "(uid=%s)", "\\2a", "(uid=\\5c2a)" },
	{ "(uid=%s)", "j\xc3\xbcrgen", "(uid=j\xc3\xbcrgen)" },
	{ "(uid=%s)", "bad\xff", "(uid=bad\\ff)" },
	{ "(uid=%s)", "%s%%U", "(uid=%s%%U)" },
	{ "(&(uid=%U)(dom=%V))", "joe@siroe.com",
	    "(&(uid=joe)(dom=siroe.com))" },
	{ "(&(uid=%U)(dom=%V))", "joe", "(&(uid=joe)(dom=))" },
	{ "(&(uid=%U)(dom=%V))", "a@b@c", "(&(uid=a@b)(dom=c))" },
	{ "(&(uid=%U)(dom=%V))", "joe@", NULL },
	{ "(&(uid=%U)(dom=%V))", "@x", NULL },
	{ "(&(uid=%U)(dom=%V))", "*@*", "(&(uid=\\2a)(dom=\\2a))" },
	{ "(|(uid=%s)(mail=%s))", "a)b", "(|(uid=a\\29b)(mail=a\\29b))" },
	{ "(uid=%o)", "Joe@X", "(uid=Joe@X)" },
	{ "(pct=100%%)", "x", "(pct=100%)" },
	{ "(%%s=%s)", "x", "(%s=x)" },
	{ "(cn=%D)", "x", "(cn=)" },
	{ "(uid=%X)", "x", NULL },
	{ "(uid=%", "x", NULL },
};

static void
test_format(void)
{
	struct login_rules	 rules = { "@", NULL, NULL, "@" };
	struct login_name	 ln;
	struct filter_vars	 v;
	char			 out[LDAPD_FILTER_BYTES], err[128];
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		memset(&v, 0, sizeof(v));
		err[0] = '\0';
		if (login_name_split(fmt_cases[i].name, &rules, &ln, err,
		    sizeof(err)) == -1)
			r = -1;
		else {
			v.name = ln.canon;
			v.uid = ln.uid;
			v.domain = ln.domain;
			v.orig = ln.orig;
			r = lookup_filter_expand(fmt_cases[i].fmt, &v, out,
			    sizeof(out), err, sizeof(err));
		}
		if (fmt_cases[i].want == NULL) {
			tap_ok(r == -1 && err[0] != '\0', "%s with %s fails: %s",
			    fmt_cases[i].fmt, fmt_cases[i].name, err);
			continue;
		}
		tap_ok(r == (int)strlen(fmt_cases[i].want),
		    "%s with %s: length", fmt_cases[i].fmt, fmt_cases[i].name);
		tap_is_str(out, fmt_cases[i].want, "%s with %s",
		    fmt_cases[i].fmt, fmt_cases[i].name);
	}
}

static void
test_format_vars(void)
{
	struct filter_vars	 v;
	char			 out[256], err[128];

	memset(&v, 0, sizeof(v));
	v.name = "joe";
	v.orig = "Joe*";
	v.client = "192.0.2.1";
	v.local = "2001:db8::(1)";
	v.certdn = "cn=a*b";
	tap_ok(lookup_filter_expand("(&(a=%s)(b=%o)(c=%C)(d=%S)(e=%D))", &v,
	    out, sizeof(out), err, sizeof(err)) > 0, "all codes");
	tap_is_str(out, "(&(a=joe)(b=Joe\\2a)(c=192.0.2.1)"
	    "(d=2001:db8::\\281\\29)(e=cn=a\\2ab))", "%%o %%C %%S %%D escaped");
	v.name = NULL;
	tap_ok(lookup_filter_expand("(uid=%s)(d=%V)", &v, out, sizeof(out),
	    err, sizeof(err)) > 0, "NULL name");
	tap_is_str(out, "(uid=)(d=)", "NULL name is empty");
}

/* Exact fit works, one byte short fails, never writes past outsz. */
static void
test_format_bounds(void)
{
	struct filter_vars	 v;
	char			 name[MMP_USER_BYTES + 1], out[1024], err[128];
	int			 r;

	memset(name, '*', MMP_USER_BYTES);
	name[MMP_USER_BYTES] = '\0';
	memset(&v, 0, sizeof(v));
	v.name = name;
	r = lookup_filter_expand("(uid=%s)", &v, out, sizeof(out), err,
	    sizeof(err));
	tap_is_int(r, 6 + 3 * MMP_USER_BYTES, "256 stars escape to 768 bytes");
	r = lookup_filter_expand("(uid=%s)", &v, out, 6 + 3 * MMP_USER_BYTES
	    + 1, err, sizeof(err));
	tap_is_int(r, 6 + 3 * MMP_USER_BYTES, "exact fit");
	memset(out, 'Z', sizeof(out));
	r = lookup_filter_expand("(uid=%s)", &v, out, 6 + 3 * MMP_USER_BYTES,
	    err, sizeof(err));
	tap_ok(r == -1 && strstr(err, "longer than") != NULL,
	    "one byte short fails: %s", err);
	tap_ok(out[6 + 3 * MMP_USER_BYTES] == 'Z', "nothing past outsz");
	r = lookup_filter_expand("(uid=abcdef)", &v, out, 5, err,
	    sizeof(err));
	tap_ok(r == -1 && out[0] == '\0', "literal text too long fails");
}

/* The domain tree's filter: the domain escaped, whatever it holds. */
static void
test_domain_filter(void)
{
	static const struct {
		const char	*domain;
		const char	*want;
	} cases[] = {
		{ "a.test", "(&(objectClass=inetDomain)"
		    "(associatedDomain=a.test))" },
		{ "*", "(&(objectClass=inetDomain)(associatedDomain=\\2a))" },
		{ "*)(objectClass=*", "(&(objectClass=inetDomain)"
		    "(associatedDomain=\\2a\\29\\28objectClass=\\2a))" },
		{ "a\\b", "(&(objectClass=inetDomain)"
		    "(associatedDomain=a\\5cb))" },
		{ "", "(&(objectClass=inetDomain)(associatedDomain=))" },
		{ "b\xc3\xa4r.test", "(&(objectClass=inetDomain)"
		    "(associatedDomain=b\xc3\xa4r.test))" },
	};
	char	 name[LOGIN_NAME_BYTES], out[LDAPD_FILTER_BYTES];
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = domain_filter(cases[i].domain, out, sizeof(out));
		tap_ok(r == (int)strlen(cases[i].want), "domain filter %s: "
		    "length", cases[i].want);
		tap_is_str(out, cases[i].want, "domain filter for \"%s\"",
		    cases[i].domain);
	}
	/* the longest domain, all stars: three bytes each */
	memset(name, '*', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r = domain_filter(name, out, sizeof(out));
	tap_is_int(r, (int)(strlen("(&(objectClass=inetDomain)"
	    "(associatedDomain=))") + 3 * (sizeof(name) - 1)),
	    "a domain of %zu stars fits, escaped", sizeof(name) - 1);
	r = domain_filter("a.test", out, 20);
	tap_ok(r == -1 && out[0] == '\0', "too small a buffer fails, empty");
}

static void
test_domain_filter_bad(void)
{
	static const struct {
		const char	*filter;
		int		 ok;
	} cases[] = {
		{ "(uid=%U)", 1 },
		{ "(mail=%U@%V)", 1 },
		{ "(|(uid=%o)(mail=%o))", 1 },
		{ "(pct=100%%)", 1 },
		{ "(uid=joe)", 1 },
		{ "", 1 },
		{ "(uid=%s)", 0 },
		{ "(uid=%C)", 0 },
		{ "(uid=%S)", 0 },
		{ "(uid=%D)", 0 },
		{ "(uid=%A[uid])", 0 },
		{ "(uid=%", 0 },
		{ "%", 0 },
		{ "(uid=%%%)", 0 },
		{ "(uid=%u)", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_ok((domain_filter_bad(cases[i].filter) == NULL) ==
		    cases[i].ok, "inetDomainSearchFilter \"%s\": %s",
		    cases[i].filter, cases[i].ok ? "taken" : "refused");
}

struct url_case {
	const char	*url;
	int		 ok;
	const char	*host;
	int		 port;
	const char	*base;
	int		 scope;
	const char	*label;
};

static const struct url_case url_cases[] = {
	{ "ldap://ldap.example.com/o=example", 1, "ldap.example.com", 389,
	    "o=example", LDAP_SCOPE_SUBTREE, "ldap://ldap.example.com:389" },
	{ "ldap://127.0.0.1:3890/ou=people,o=example??one", 1, "127.0.0.1",
	    3890, "ou=people,o=example", LDAP_SCOPE_ONELEVEL,
	    "ldap://127.0.0.1:3890" },
	{ "ldap://h/o=x??base", 1, "h", 389, "o=x", LDAP_SCOPE_BASE,
	    "ldap://h:389" },
	{ "ldap://h/o=x??sub", 1, "h", 389, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldap://h:389" },
	{ "ldap://h/o=x?mail", 1, "h", 389, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldap://h:389" },
	{ "ldap://h/o=x?mail?", 1, "h", 389, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldap://h:389" },
	{ "LDAP://H:1/o=x", 1, "H", 1, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldap://H:1" },
	{ "ldap://[::1]:1389/o=x", 1, "::1", 1389, "o=x",
	    LDAP_SCOPE_SUBTREE, "ldap://[::1]:1389" },
	{ "ldap://h/o=a%20b,dc=%3F", 1, "h", 389, "o=a b,dc=?",
	    LDAP_SCOPE_SUBTREE, "ldap://h:389" },
	{ "ldap://h", 1, "h", 389, "", LDAP_SCOPE_SUBTREE, "ldap://h:389" },
	{ "ldap://h/", 1, "h", 389, "", LDAP_SCOPE_SUBTREE, "ldap://h:389" },
	{ "ldaps://h/o=x", 1, "h", 636, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldaps://h:636" },
	{ "LDAPS://h:6360/o=x", 1, "h", 6360, "o=x", LDAP_SCOPE_SUBTREE,
	    "ldaps://h:6360" },
	{ "ldapi://%2fvar%2frun%2fldapi/", 0, NULL, 0, NULL, 0, NULL },
	{ "http://h/o=x", 0, NULL, 0, NULL, 0, NULL },
	{ "ldap:///o=x", 0, NULL, 0, NULL, 0, NULL },
	{ "ldap://h/o=x???" "?!x-critical", 0, NULL, 0, NULL, 0, NULL },
	{ "", 0, NULL, 0, NULL, 0, NULL },
};

static void
test_url_one(const struct url_case *c)
{
	struct ldap_url	u;
	int		r;

	r = ldap_url_split(c->url, &u);
	if (!c->ok) {
		tap_ok(r == -1 && u.why[0] != '\0' && u.base == NULL,
		    "%s refused: %s", c->url, u.why);
		ldap_url_clear(&u);
		return;
	}
	tap_ok(r == 0 && u.why[0] == '\0', "%s accepted", c->url);
	tap_is_str(u.host, c->host, "%s host", c->url);
	tap_is_int(u.port, c->port, "%s port", c->url);
	tap_is_str(u.base != NULL ? u.base : "(null)", c->base, "%s base",
	    c->url);
	tap_is_int(u.scope, c->scope, "%s scope", c->url);
	tap_is_str(u.label, c->label, "%s label", c->url);
	ldap_url_clear(&u);
}

static void
test_url(void)
{
	struct ldap_url	u;
	char		out[64];
	size_t		i;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++)
		test_url_one(&url_cases[i]);

	tap_ok(ldap_url_split("ldap://\x01h/", &u) == -1, "control char in "
	    "host refused");
	tap_ok(strchr(u.label, '\x01') == NULL, "label escaped: %s", u.label);
	ldap_url_clear(&u);

	memset(&u, 0, sizeof(u));
	u.port = 3890;
	tap_ok(ldap_url_numeric(&u, "127.0.0.1", out, sizeof(out)) == 0,
	    "numeric v4");
	tap_is_str(out, "ldap://127.0.0.1:3890", "numeric v4 URL");
	tap_ok(ldap_url_numeric(&u, "2001:db8::1", out, sizeof(out)) == 0,
	    "numeric v6");
	tap_is_str(out, "ldap://[2001:db8::1]:3890", "numeric v6 URL");
	tap_ok(ldap_url_numeric(&u, "127.0.0.1", out, 21) == -1,
	    "numeric URL one byte short fails");
	tap_ok(ldap_url_numeric(&u, "127.0.0.1", out, 22) == 0,
	    "numeric URL exact fit");
}

static void
test_numeric(void)
{
	static const struct { const char *in, *want; } yes[] = {
		{ "127.0.0.1", "127.0.0.1" }, { "::1", "::1" },
		{ "[::1]", "::1" }, { "2001:DB8:0::1", "2001:db8::1" },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
	};
	static const char *const no[] = {
		"", "1.2.3", "0x7f.0.0.1", "127.0.0.1 ", "[127.0.0.1]", "[::1",
		"::1]", "host", "1.2.3.4.5", "[]", "256.0.0.1",
	};
	struct addrlist	al;
	size_t		i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		tap_ok(resolve_numeric(yes[i].in, &al) == 1 && al.n == 1,
		    "%s is numeric", yes[i].in);
		tap_is_str(al.a[0], yes[i].want, "%s canonical", yes[i].in);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		tap_ok(resolve_numeric(no[i], &al) == 0 && al.n == 0,
		    "\"%s\" is not numeric", no[i]);
}

static void
test_names(void)
{
	static const char *const good[] = {
		"store1.example", "a", "STORE-1.Example.COM", "x.", "_srv.x",
		"a1.b2.c3",
	};
	static const char *const bad[] = {
		"", ".", ".a", "a..b", "bad host!", "a/b", "a\\b", "a\tb",
		"caf\xc3\xa9.example", "a;b", "[::1]",
	};
	char	label[80], name[300];
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		tap_ok(resolve_valid_name(good[i]), "%s is a host name",
		    good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(!resolve_valid_name(bad[i]), "\"%s\" is not", bad[i]);
	memset(label, 'a', 63);
	label[63] = '\0';
	tap_ok(resolve_valid_name(label), "63-byte label");
	label[63] = 'a';
	label[64] = '\0';
	tap_ok(!resolve_valid_name(label), "64-byte label");
	for (i = 0; i < 253; i += 2)
		memcpy(name + i, "a.", 2);
	name[253] = '\0';
	tap_ok(resolve_valid_name(name), "253-byte name");
	name[253] = 'a';
	name[254] = '\0';
	tap_ok(!resolve_valid_name(name), "254-byte name");
}

static void
test_hosts(void)
{
	struct hosts		 h;
	struct addrlist		 al;
	struct ldapd		 env;
	struct resolve_req	*q;
	char			 err[128], name[32];
	int			 i, r;

	memset(&h, 0, sizeof(h));
	tap_ok(hosts_add(&h, "store1.example", "127.0.0.12") == 0, "add");
	tap_ok(hosts_add(&h, "b.example", "::1") == 0, "add v6");
	tap_ok(hosts_add(&h, "Store1.Example", "2001:DB8::1") == 0,
	    "add second address, other case");
	tap_ok(hosts_add(&h, "store1.example", "127.0.0.12") == 0,
	    "add duplicate");
	tap_ok(hosts_add(&h, "x.example", "not-an-address") == -1,
	    "name as address refused");
	tap_ok(hosts_add(&h, "bad name", "127.0.0.1") == -1,
	    "bad name refused");
	for (i = 0; i < 12; i++) {
		(void)snprintf(name, sizeof(name), "127.0.1.%d", i);
		(void)hosts_add(&h, "many.example", name);
	}
	(void)hosts_add(&h, "a.example", "192.0.2.1");
	hosts_finish(&h);
	tap_ok(hosts_lookup(&h, "STORE1.example", &al) == 1 && al.n == 2,
	    "case-insensitive, all addresses, duplicates once");
	tap_is_str(al.a[0], "127.0.0.12", "file order first");
	tap_is_str(al.a[1], "2001:db8::1", "file order second, canonical");
	tap_ok(hosts_lookup(&h, "many.example", &al) == 1 &&
	    al.n == MMP_ADDRS_MAX, "at most MMP_ADDRS_MAX addresses");
	tap_is_str(al.a[0], "127.0.1.0", "many: first in file order");
	tap_ok(hosts_lookup(&h, "a.example", &al) == 1 && al.n == 1,
	    "first entry of the sorted table");
	tap_ok(hosts_lookup(&h, "missing.example", &al) == 0 && al.n == 0,
	    "missing name");

	memset(&env, 0, sizeof(env));
	env.hosts = h;
	r = resolve_start(&env, "b.example", &al, err, sizeof(err), NULL,
	    NULL, &q);
	tap_ok(r == 1 && al.n == 1 && strcmp(al.a[0], "::1") == 0,
	    "resolve_start uses the hosts table");
	r = resolve_start(&env, "192.0.2.7", &al, err, sizeof(err), NULL,
	    NULL, &q);
	tap_ok(r == 1 && strcmp(al.a[0], "192.0.2.7") == 0,
	    "resolve_start takes a numeric address as is");
	r = resolve_start(&env, "bad host", &al, err, sizeof(err), NULL,
	    NULL, &q);
	tap_ok(r == -1 && strcmp(err, "not a host name") == 0,
	    "resolve_start refuses a bad name: %s", err);
	hosts_free(&h);
	tap_ok(h.v == NULL && h.n == 0, "hosts_free");
}

int
main(void)
{
	test_format();
	test_format_vars();
	test_format_bounds();
	test_domain_filter();
	test_domain_filter_bad();
	test_url();
	test_numeric();
	test_names();
	test_hosts();
	return tap_done();
}
