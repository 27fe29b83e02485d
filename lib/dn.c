/*
 * Distinguished names as RFC 4514 text, and the attribute names in them:
 * syntax checks, and equality as LDAP means it (names without case and
 * by their aliases, values once unescaped). Used by certmap.conf's
 * issuers and components; building a DN is lib/escape.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dn.h"
#include "escape.h"

/* keystring (ALPHA *(ALPHA / DIGIT / "-")) or numericoid, RFC 4512. */
int
dn_attr_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len >= DN_ATTR_BYTES)
		return 0;
	if (isalpha((unsigned char)s[0])) {
		for (i = 1; i < len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-')
				return 0;
		return 1;
	}
	for (i = 0; i < len; i++) {
		if (isdigit((unsigned char)s[i]))
			continue;
		if (s[i] != '.' || i == 0 || i == len - 1 || s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/*
 * The names one attribute goes by: OpenSSL's short names against the
 * ones certmap.conf files use ("e" in the product's example).
 */
static const char *
dn_attr_canon(const char *a)
{
	static const struct {
		const char	*alias;
		const char	*canon;
	} aliases[] = {
		{ "e", "emailaddress" },
		{ "email", "emailaddress" },
		{ "pkcs9email", "emailaddress" },
		{ "1.2.840.113549.1.9.1", "emailaddress" },
		{ "userid", "uid" },
		{ "0.9.2342.19200300.100.1.1", "uid" },
		{ "commonname", "cn" },
		{ "2.5.4.3", "cn" },
		{ "organizationname", "o" },
		{ "organizationalunitname", "ou" },
		{ "countryname", "c" },
		{ "localityname", "l" },
		{ "s", "st" },
		{ "stateorprovincename", "st" },
		{ "domaincomponent", "dc" },
	};
	size_t	i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(a, aliases[i].alias) == 0)
			return aliases[i].canon;
	return a;
}

int
dn_attr_same(const char *a, const char *b)
{
	return strcasecmp(dn_attr_canon(a), dn_attr_canon(b)) == 0;
}

struct dn_tok {
	char	attr[DN_ATTR_BYTES];
	char	val[MMP_STR_BYTES];
	size_t	vlen;
	char	sep;		/* ',' '+' or '\0' at the end */
};

/* The value after '=': escapes undone, unescaped trailing blanks cut. */
static int
dn_value(const char **pp, struct dn_tok *t)
{
	const char	*p = *pp;
	size_t		 keep = 0;
	int		 hi, lo;

	t->vlen = 0;
	while (*p == ' ')
		p++;
	while (*p != '\0' && *p != ',' && *p != '+' && *p != ';') {
		if (t->vlen >= sizeof(t->val))
			return -1;
		if (*p == '\\') {
			if ((hi = hex_digit_value(p[1])) != -1 &&
			    (lo = hex_digit_value(p[2])) != -1) {
				t->val[t->vlen++] = (char)(hi << 4 | lo);
				p += 3;
			} else if (p[1] != '\0' &&
			    strchr(",=+<>#;\\\" ", p[1]) != NULL) {
				t->val[t->vlen++] = p[1];
				p += 2;
			} else
				return -1;
			keep = t->vlen;
			continue;
		}
		t->val[t->vlen++] = *p++;
		if (p[-1] != ' ')
			keep = t->vlen;
	}
	t->vlen = keep;
	*pp = p;
	return 0;
}

/* The next attribute=value of a DN: 1, 0 at its end, -1 if malformed. */
static int
dn_next(const char **pp, struct dn_tok *t)
{
	const char	*p = *pp, *a, *e;
	size_t		 n;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	a = p;
	if ((e = strchr(p, '=')) == NULL)
		return -1;
	for (n = (size_t)(e - a); n > 0 && a[n - 1] == ' '; n--)
		;
	if (n == 0 || n >= sizeof(t->attr))
		return -1;
	memcpy(t->attr, a, n);
	t->attr[n] = '\0';
	if (!dn_attr_ok(t->attr))
		return -1;
	p = e + 1;
	if (dn_value(&p, t) == -1)
		return -1;
	t->sep = *p == ';' ? ',' : *p;
	if (*p != '\0') {
		p++;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;	/* a separator must separate */
	}
	*pp = p;
	return 1;
}

int
dn_equal(const char *a, const char *b)
{
	struct dn_tok	ta, tb;
	int		ra, rb;

	for (;;) {
		ra = dn_next(&a, &ta);
		rb = dn_next(&b, &tb);
		if (ra == -1 || rb == -1 || ra != rb)
			return 0;
		if (ra == 0)
			return 1;
		if (!dn_attr_same(ta.attr, tb.attr) || ta.vlen != tb.vlen ||
		    memcmp(ta.val, tb.val, ta.vlen) != 0 || ta.sep != tb.sep)
			return 0;
	}
}

int
dn_valid(const char *s)
{
	struct dn_tok	t;
	int		r, n = 0;

	while ((r = dn_next(&s, &t)) == 1)
		n++;
	return r == 0 && n > 0;
}
