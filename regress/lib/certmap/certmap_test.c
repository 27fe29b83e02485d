/*
 * Unit test for lib/certmap.c: certmap.conf files the parser must refuse
 * (with the line), and the base and filter built from subjects whose
 * values try to be more than one value (',' '=' '*' '(' ')' '\').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmap.h"
#include "dn.h"
#include "log.h"
#include "regress/tap.h"

static struct certmap_set *
parse(const char *text, char *err, size_t errlen)
{
	return certmap_parse(text, strlen(text), "certmap.conf", err, errlen);
}

/* Files refused: (text, the start of the error). */
static const struct {
	const char	*text;
	const char	*err;
} bad[] = {
	{ "", "certmap.conf: no mapping" },
	{ "# only a comment\n\n", "certmap.conf: no mapping" },
	{ "certmap other cn=CA\n", "certmap.conf:1: the first mapping must" },
	{ "certmap default cn=CA\n", "certmap.conf:1: the first mapping must" },
	{ "\ncertmap default default\ncertmap default default\n",
	    "certmap.conf:3: mapping default defined twice" },
	{ "certmap default default\nother:DNComps\n",
	    "certmap.conf:2: property of mapping other" },
	{ "certmap default default\ndefault:Library /x.so\n",
	    "certmap.conf:2: Library: certmap plug-ins" },
	{ "certmap default default\ndefault:InitFn init\n",
	    "certmap.conf:2: InitFn: certmap plug-ins" },
	{ "certmap default default\ndefault:Bogus x\n",
	    "certmap.conf:2: unknown property \"Bogus\"" },
	{ "certmap default default\ndefault:FilterComps ou=\n",
	    "certmap.conf:2: component" },
	{ "certmap default default\ndefault:FilterComps =uid\n",
	    "certmap.conf:2: component" },
	{ "certmap default default\ndefault:FilterComps a=b=c\n",
	    "certmap.conf:2: component" },
	{ "certmap default default\ndefault:FilterComps cn,,ou\n",
	    "certmap.conf:2: FilterComps: empty component" },
	{ "certmap default default\ndefault:FilterComps cn,\n",
	    "certmap.conf:2: FilterComps: empty component" },
	{ "certmap default default\ndefault:DNComps c(n\n",
	    "certmap.conf:2: component" },
	{ "certmap default default\ndefault:DNComps 1..2\n",
	    "certmap.conf:2: component" },
	{ "certmap default default\ndefault:DNComps\ndefault:DNComps o\n",
	    "certmap.conf:3: DNComps given twice" },
	{ "certmap default default\ncertmap ca notadn\n",
	    "certmap.conf:2: issuer of mapping ca is not a DN" },
	{ "certmap default default\ncertmap ca\n",
	    "certmap.conf:2: mapping ca has no issuer" },
	{ "certmap default default\ncertmap c/a cn=x\n",
	    "certmap.conf:2: invalid mapping name" },
	{ "certmap default default\ncertmap a cn=CA,o=X\n"
	    "certmap b CN=CA, O=X\n",
	    "certmap.conf:3: mappings a and b have the same issuer" },
	{ "certmap default default\ncertmap a cn=x\x15y\n",
	    "certmap.conf:2: control character" },
	{ "certmap default default\ncertmap a cn=x\x7fy\n",
	    "certmap.conf:2: control character" },
	{ "certmap default default\njunk line\n",
	    "certmap.conf:2: neither" },
	{ "certmap default default\ndefault:FilterComps "
	    "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
	    "certmap.conf:2: FilterComps: more than 16" },
};

static void
test_refused(void)
{
	struct certmap_set	*set;
	char			 err[512], text[4096];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		set = parse(bad[i].text, err, sizeof(err));
		tap_ok(set == NULL && strncmp(err, bad[i].err,
		    strlen(bad[i].err)) == 0, "refused: %s", bad[i].err);
		if (set != NULL || strncmp(err, bad[i].err, strlen(bad[i].err)))
			tap_diag("got \"%s\"", err);
		certmap_free(set);
	}
	/* A line of 1024 bytes, one too long. */
	(void)snprintf(text, sizeof(text), "certmap default default\n#%1023s\n",
	    "x");
	set = parse(text, err, sizeof(err));
	tap_ok(set == NULL && strstr(err, "certmap.conf:2: line longer") ==
	    err, "a 1024-byte line is refused (%s)", err);
	memcpy(text, "certmap default default\n# a\0b\n", 31);
	set = certmap_parse(text, 31, "certmap.conf", err, sizeof(err));
	tap_ok(set == NULL && strcmp(err, "certmap.conf:2: control "
	    "character") == 0,
	    "a NUL byte is refused (%s)", err);
	/* 65 mappings. */
	(void)strlcpy(text, "certmap default default\n", sizeof(text));
	for (i = 0; i < CERTMAP_MAPS_MAX; i++)
		(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "certmap m%zu cn=%zu\n", i, i);
	set = parse(text, err, sizeof(err));
	tap_ok(set == NULL && strstr(err, "certmap.conf:65: more than 64") ==
	    err, "mapping %d is refused (%s)", CERTMAP_MAPS_MAX + 1, err);
}

static const char seed[] =
    "# The product's example, and a CA of its own\n"
    "certmap default default\r\n"
    "default:DNComps\n"
    "default:FilterComps ou=uid\n"
    "\t\n"
    "certmap siroe  CN=Siroe CA,  O=Siroe\\, Inc., C=US  \n"
    "siroe:VerifyCert on\n"
    "siroe:CmapLdapAttr certSubjectDN\n"
    "siroe:DNComps ou , o\n"
    "siroe:FilterComps e=mail, cn\n"
    "certmap plain cn=Plain CA\n";

static void
test_parsed(void)
{
	struct certmap_set		*set;
	const struct certmap_map	*m;
	char				 err[512];

	set = parse(seed, err, sizeof(err));
	if (!tap_ok(set != NULL && set->n == 3, "the seed file parses")) {
		tap_diag("%s", set == NULL ? err : "wrong count");
		exit(tap_done());
	}
	m = &set->map[0];
	tap_ok(m->dn.state == CERTMAP_EMPTY && m->filter.state ==
	    CERTMAP_LIST && m->filter.n == 1 &&
	    strcmp(m->filter.c[0].from, "ou") == 0 &&
	    strcmp(m->filter.c[0].to, "uid") == 0, "default: ou=uid");
	m = &set->map[1];
	tap_ok(strcmp(m->issuer, "CN=Siroe CA,  O=Siroe\\, Inc., C=US") == 0 &&
	    m->dn.state == CERTMAP_LIST && m->dn.n == 2 &&
	    strcmp(m->dn.c[0].to, "ou") == 0 && strcmp(m->dn.c[1].from, "o") ==
	    0 && m->filter.n == 2 && strcmp(m->filter.c[0].from, "e") == 0 &&
	    strcmp(m->filter.c[0].to, "mail") == 0 &&
	    strcmp(m->filter.c[1].to, "cn") == 0, "siroe: lists, issuer kept");
	m = &set->map[2];
	tap_ok(m->dn.state == CERTMAP_ABSENT && m->filter.state ==
	    CERTMAP_ABSENT, "plain: nothing given");

	tap_is_str(certmap_choose(set, "cn=Siroe CA,o=Siroe\\2C Inc.,c=US")->name,
	    "siroe", "issuer: case of names, blanks, \\2C for \\,");
	tap_is_str(certmap_choose(set, "CN=Siroe CA,O=Siroe\\, Inc.,C=US")->name,
	    "siroe", "issuer: OpenSSL's RFC 4514 text");
	tap_is_str(certmap_choose(set, "CN=siroe CA,O=Siroe\\, Inc.,C=US")->name,
	    "default", "issuer: values are compared exactly");
	tap_is_str(certmap_choose(set, "CN=Siroe CA,O=Siroe,Inc.,C=US")->name,
	    "default", "issuer: an unescaped ',' is another RDN");
	tap_is_str(certmap_choose(set, "CN=Siroe CA+O=Siroe\\, Inc.,C=US")->name,
	    "default", "issuer: '+' is not ','");
	tap_is_str(certmap_choose(set, "CN=Siroe CA,O=Siroe\\, Inc.")->name,
	    "default", "issuer: a prefix is not the DN");
	tap_is_str(certmap_choose(set, "cn=Plain CA")->name, "plain",
	    "issuer: plain");
	tap_is_str(certmap_choose(set, "")->name, "default",
	    "issuer: empty is default");
	tap_is_str(certmap_choose(set, "cn=\\zz")->name, "default",
	    "issuer: malformed is default");
	certmap_free(set);
}

struct subj {
	size_t			n;
	struct tls_field	f[TLS_SUBJECT_FIELDS_MAX];
};

/* "attr=value" pairs in certificate order, separated by '|'. */
static void
subject(struct subj *s, const char *text)
{
	char	copy[2048], *p = copy, *pair, *eq;

	memset(s, 0, sizeof(*s));
	(void)strlcpy(copy, text, sizeof(copy));
	while ((pair = strsep(&p, "|")) != NULL) {
		eq = strchr(pair, '=');
		*eq = '\0';
		(void)strlcpy(s->f[s->n].attr, pair, sizeof(s->f[s->n].attr));
		(void)strlcpy(s->f[s->n].value, eq + 1,
		    sizeof(s->f[s->n].value));
		s->n++;
	}
}

/* (mapping lines, subject, base or "" for the directory's, filter). */
static const struct {
	const char	*lines;
	const char	*subject;
	const char	*base;		/* NULL: refused */
	const char	*filter;	/* NULL: refused */
} built[] = {
	/* The seed's example: subject cn=Pilar Lorca, ou=pilar, o=siroe.com */
	{ "default:DNComps\ndefault:FilterComps ou=uid\n",
	    "o=siroe.com|ou=pilar|cn=Pilar Lorca", "", "(uid=pilar)" },
	{ "", "o=siroe.com|ou=pilar|cn=Pilar Lorca",
	    "cn=Pilar Lorca,ou=pilar,o=siroe.com", "(objectClass=*)" },
	{ "default:DNComps o, ou\ndefault:FilterComps\n",
	    "o=siroe.com|ou=pilar|cn=Pilar Lorca", "ou=pilar,o=siroe.com",
	    "(objectClass=*)" },
	{ "default:DNComps ou=dc\ndefault:FilterComps cn,e=mail\n",
	    "O=siroe.com|OU=pilar|CN=Pilar Lorca|emailAddress=p@siroe.com",
	    "dc=pilar", "(&(cn=Pilar Lorca)(mail=p@siroe.com))" },
	/* Filter metacharacters are matched literally. */
	{ "default:FilterComps cn=uid\n", "cn=*", "cn=*", "(uid=\\2a)" },
	{ "default:FilterComps cn=uid\n", "cn=a)(uid=*",
	    "cn=a)(uid\\=*", "(uid=a\\29\\28uid=\\2a)" },
	{ "default:FilterComps cn=uid\n", "cn=back\\slash",
	    "cn=back\\\\slash", "(uid=back\\5cslash)" },
	/* A ',' or '=' in a value stays in that value. */
	{ "default:FilterComps ou=uid\n", "o=x|ou=pilar,ou=admin|cn=y",
	    "cn=y,ou=pilar\\,ou\\=admin,o=x", "(uid=pilar,ou=admin)" },
	{ "default:DNComps ou\n", "o=x|ou=a,o=evil|cn=y", "ou=a\\,o\\=evil",
	    "(objectClass=*)" },
	{ "", "cn= lead#|cn=#x|cn=trail ",
	    "cn=trail\\ ,cn=\\#x,cn=\\ lead#", "(objectClass=*)" },
	/* UTF-8 is kept as it is. */
	{ "default:FilterComps cn\n", "cn=Pilar Lorca Ñandú",
	    "cn=Pilar Lorca Ñandú", "(cn=Pilar Lorca Ñandú)" },
	/* Several values of one attribute: all of them, ANDed. */
	{ "default:FilterComps ou=uid\n", "ou=pilar|ou=admin",
	    "ou=admin,ou=pilar", "(&(uid=pilar)(uid=admin))" },
	/* Components the subject lacks add nothing; none at all: refused. */
	{ "default:FilterComps uid, ou=uid\n", "ou=pilar", "ou=pilar",
	    "(uid=pilar)" },
	{ "default:DNComps dc\ndefault:FilterComps uid\n", "cn=x", NULL,
	    NULL },
	{ "default:FilterComps ou\n", "ou=", "ou=", NULL },
	/* Names by alias and case. */
	{ "default:FilterComps E=mail\n", "emailaddress=a@b", "emailaddress=a@b",
	    "(mail=a@b)" },
	{ "default:FilterComps userid=uid\n", "UID=pilar", "UID=pilar",
	    "(uid=pilar)" },
	/* An attribute name a DN cannot carry. */
	{ "", "1x=y", NULL, "(objectClass=*)" },
};

static void
test_built(void)
{
	struct certmap_set	*set;
	struct subj		 s;
	char			 text[2048], err[512], out[4096];
	const char		*why;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(built) / sizeof(built[0]); i++) {
		(void)snprintf(text, sizeof(text), "certmap default default\n"
		    "%s", built[i].lines);
		if ((set = parse(text, err, sizeof(err))) == NULL) {
			tap_ok(0, "table %zu parses: %s", i, err);
			continue;
		}
		subject(&s, built[i].subject);
		why = NULL;
		r = certmap_base(&set->map[0], s.f, s.n, out, sizeof(out), &why);
		if (built[i].base == NULL)
			tap_ok(r == -1 && why != NULL, "%s: no base (%s)",
			    built[i].subject, why);
		else if (built[i].base[0] == '\0')
			tap_ok(r == 0, "%s: the directory's base",
			    built[i].subject);
		else if (set->map[0].dn.state == CERTMAP_EMPTY ||
		    (r = certmap_base(&set->map[0], s.f, s.n, out, sizeof(out),
		    &why)) != 1)
			tap_ok(0, "%s: base (%d)", built[i].subject, r);
		else
			tap_is_str(out, built[i].base, "%s: base",
			    built[i].subject);
		why = NULL;
		r = certmap_filter(&set->map[0], s.f, s.n, out, sizeof(out),
		    &why);
		if (built[i].filter == NULL)
			tap_ok(r == -1 && why != NULL, "%s: no filter (%s)",
			    built[i].subject, why);
		else
			tap_is_str(r >= 0 ? out : "(refused)", built[i].filter,
			    "%s: filter", built[i].subject);
		certmap_free(set);
	}
}

/* What does not fit is refused, never cut. */
static void
test_long(void)
{
	struct certmap_set	*set;
	struct subj		 s;
	char			 err[512], out[64];
	const char		*why = NULL;
	size_t			 i;

	set = parse("certmap default default\ndefault:FilterComps cn\n", err,
	    sizeof(err));
	memset(&s, 0, sizeof(s));
	s.n = TLS_SUBJECT_FIELDS_MAX;
	for (i = 0; i < s.n; i++) {
		(void)strlcpy(s.f[i].attr, "cn", sizeof(s.f[i].attr));
		memset(s.f[i].value, '*', sizeof(s.f[i].value) - 1);
	}
	tap_ok(certmap_filter(&set->map[0], s.f, s.n, out, sizeof(out), &why)
	    == -1 && why != NULL && strstr(why, "too long") != NULL,
	    "a filter that does not fit is refused");
	why = NULL;
	set->map[0].dn.state = CERTMAP_ABSENT;
	tap_ok(certmap_base(&set->map[0], s.f, s.n, out, sizeof(out), &why)
	    == -1 && why != NULL && strstr(why, "too long") != NULL,
	    "a base that does not fit is refused");
	certmap_free(set);
}

static void
test_dn(void)
{
	tap_ok(dn_valid("cn=a,o=b") && dn_valid("cn=a+uid=b") &&
	    dn_valid("2.5.4.3=x") && dn_valid("cn=\\2c") &&
	    dn_valid("cn="), "valid DNs");
	tap_ok(!dn_valid("") && !dn_valid("cn") &&
	    !dn_valid("cn=a,") && !dn_valid("=a") &&
	    !dn_valid("cn=\\") && !dn_valid("cn=\\q") &&
	    !dn_valid("c n=a") && !dn_valid("cn=a,,o=b"),
	    "invalid DNs");
	tap_ok(dn_equal("E=a@b, CN=x", "emailAddress=a@b,cn=x"),
	    "e is emailAddress");
	tap_ok(dn_equal("cn=x\\20", "cn=x\\ ") &&
	    !dn_equal("cn=x\\20", "cn=x "), "an escaped blank counts, "
	    "an unescaped trailing one does not");
}

int
main(void)
{
	log_init("certmap_test", 1, LOG_ERR);
	test_refused();
	test_parsed();
	test_built();
	test_long();
	test_dn();
	return tap_done();
}
