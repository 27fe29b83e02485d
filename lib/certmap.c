/*
 * certmap.conf: the parser the parent runs, the checks mmp-ldapd repeats
 * on every mapping it receives, and the search base and filter built from
 * a certificate's subject fields, only through lib/escape.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmap.h"
#include "escape.h"
#include "log.h"

/* ---- attribute names ---------------------------------------------- */

/* keystring (ALPHA *(ALPHA / DIGIT / "-")) or numericoid, RFC 4512. */
int
certmap_attr_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len >= CERTMAP_ATTR_BYTES)
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
certmap_attr_canon(const char *a)
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

static int
certmap_attr_same(const char *a, const char *b)
{
	return strcasecmp(certmap_attr_canon(a), certmap_attr_canon(b)) == 0;
}

/* ---- DNs as text ---------------------------------------------------- */

struct dn_tok {
	char	attr[CERTMAP_ATTR_BYTES];
	char	val[MMP_STR_BYTES];
	size_t	vlen;
	char	sep;		/* ',' '+' or '\0' at the end */
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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
			if ((hi = hexval(p[1])) != -1 &&
			    (lo = hexval(p[2])) != -1) {
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
	if (!certmap_attr_ok(t->attr))
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
certmap_dn_equal(const char *a, const char *b)
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
		if (!certmap_attr_same(ta.attr, tb.attr) || ta.vlen != tb.vlen ||
		    memcmp(ta.val, tb.val, ta.vlen) != 0 || ta.sep != tb.sep)
			return 0;
	}
}

int
certmap_dn_valid(const char *s)
{
	struct dn_tok	t;
	int		r, n = 0;

	while ((r = dn_next(&s, &t)) == 1)
		n++;
	return r == 0 && n > 0;
}

/* ---- a set of mappings --------------------------------------------- */

struct certmap_set *
certmap_new(void)
{
	return calloc(1, sizeof(struct certmap_set));
}

void
certmap_free(struct certmap_set *set)
{
	if (set == NULL)
		return;
	free(set->map);
	free(set);
}

static int
certmap_name_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len >= CERTMAP_NAME_BYTES)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

static int
certmap_comps_ok(const struct certmap_comps *cs)
{
	uint8_t	i;

	if (cs->state >= CERTMAP_STATE_MAX || cs->n > CERTMAP_COMPS_MAX ||
	    (cs->state == CERTMAP_LIST) != (cs->n > 0))
		return 0;
	for (i = 0; i < cs->n; i++)
		if (!certmap_attr_ok(cs->c[i].from) ||
		    !certmap_attr_ok(cs->c[i].to))
			return 0;
	return 1;
}

static int
certmap_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* No C0 control character (but TAB where tab is 1) and no DEL. */
static int
certmap_text_ok(const char *s, int tab)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && !(tab && *s == '\t')) ||
		    *s == 0x7f)
			return 0;
	return 1;
}

/* The checks certmap_add makes of one mapping against the set. */
static int
certmap_check(const struct certmap_set *set, const struct certmap_map *m,
    char *err, size_t errlen)
{
	size_t	i;
	int	isdef = strcmp(m->name, CERTMAP_DEFAULT) == 0;

	if (!certmap_name_ok(m->name))
		return certmap_err(err, errlen, "invalid mapping name");
	if (set->n == 0 && (!isdef || strcmp(m->issuer, CERTMAP_DEFAULT)))
		return certmap_err(err, errlen, "the first mapping must be "
		    "\"certmap default default\"");
	if (set->n >= CERTMAP_MAPS_MAX)
		return certmap_err(err, errlen, "more than %d mappings",
		    CERTMAP_MAPS_MAX);
	for (i = 0; i < set->n; i++)
		if (strcmp(set->map[i].name, m->name) == 0)
			return certmap_err(err, errlen, "mapping %s defined "
			    "twice", m->name);
	if (!certmap_text_ok(m->issuer, 0))
		return certmap_err(err, errlen, "control character in the "
		    "issuer of mapping %s", m->name);
	if (set->n > 0 && !certmap_dn_valid(m->issuer))
		return certmap_err(err, errlen, "issuer of mapping %s is not "
		    "a DN", m->name);
	if (!certmap_comps_ok(&m->dn) || !certmap_comps_ok(&m->filter))
		return certmap_err(err, errlen, "invalid components in "
		    "mapping %s", m->name);
	for (i = 1; i < set->n; i++) {
		if (certmap_dn_equal(set->map[i].issuer, m->issuer))
			return certmap_err(err, errlen, "mappings %s and %s "
			    "have the same issuer", set->map[i].name, m->name);
	}
	return 0;
}

int
certmap_add(struct certmap_set *set, const struct certmap_map *m, char *err,
    size_t errlen)
{
	struct certmap_map	*nm;

	if (certmap_check(set, m, err, errlen) == -1)
		return -1;
	if ((nm = reallocarray(set->map, set->n + 1, sizeof(*nm))) == NULL)
		return certmap_err(err, errlen, "out of memory");
	set->map = nm;
	set->map[set->n++] = *m;
	return 0;
}

const struct certmap_map *
certmap_choose(const struct certmap_set *set, const char *issuer)
{
	size_t	i;

	if (set == NULL || set->n == 0)
		return NULL;
	for (i = 1; i < set->n; i++)
		if (certmap_dn_equal(set->map[i].issuer, issuer))
			return &set->map[i];
	return &set->map[0];
}

/* ---- the parser ----------------------------------------------------- */

struct certmap_parse {
	struct certmap_set	*set;
	const char		*file;
	int			 line;
	char			*err;
	size_t			 errlen;
};

static int
parse_err(struct certmap_parse *ps, const char *fmt, ...)
{
	char	why[512];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->file, ps->line,
	    why);
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	return s;
}

/* One component: ATTR or FROM=TO. */
static int
parse_comp(struct certmap_parse *ps, char *item, struct certmap_comp *c)
{
	char	*from = item, *to, *eq;

	if ((eq = strchr(item, '=')) != NULL) {
		*eq = '\0';
		to = trim(eq + 1);
	} else
		to = item;
	from = trim(from);
	if (!certmap_attr_ok(from) || !certmap_attr_ok(to) ||
	    (eq != NULL && strchr(to, '=') != NULL))
		return parse_err(ps, "component \"%s%s%s\" is not ATTR or "
		    "FROMATTR=TOATTR", from, eq != NULL ? "=" : "",
		    eq != NULL ? to : "");
	(void)strlcpy(c->from, from, sizeof(c->from));
	(void)strlcpy(c->to, to, sizeof(c->to));
	return 0;
}

static int
parse_comps(struct certmap_parse *ps, const char *prop, char *value,
    struct certmap_comps *cs)
{
	char	*p = value, *item;

	if (cs->state != CERTMAP_ABSENT)
		return parse_err(ps, "%s given twice for this mapping", prop);
	cs->state = CERTMAP_EMPTY;
	if (*value == '\0')
		return 0;
	cs->state = CERTMAP_LIST;
	while ((item = strsep(&p, ",")) != NULL) {
		item = trim(item);
		if (*item == '\0')
			return parse_err(ps, "%s: empty component", prop);
		if (cs->n == CERTMAP_COMPS_MAX)
			return parse_err(ps, "%s: more than %d components",
			    prop, CERTMAP_COMPS_MAX);
		if (parse_comp(ps, item, &cs->c[cs->n]) == -1)
			return -1;
		cs->n++;
	}
	return 0;
}

/* certmap NAME ISSUER */
static int
parse_certmap(struct certmap_parse *ps, char *rest)
{
	struct certmap_map	 m;
	char			*name, *issuer, why[256];

	memset(&m, 0, sizeof(m));
	rest = trim(rest);
	name = rest;
	issuer = rest + strcspn(rest, " \t");
	if (*issuer != '\0')
		*issuer++ = '\0';
	issuer = trim(issuer);
	if (!certmap_name_ok(name))
		return parse_err(ps, "invalid mapping name \"%s\"", name);
	if (*issuer == '\0')
		return parse_err(ps, "mapping %s has no issuer DN", name);
	(void)strlcpy(m.name, name, sizeof(m.name));
	(void)strlcpy(m.issuer, issuer, sizeof(m.issuer));
	if (certmap_add(ps->set, &m, why, sizeof(why)) == -1)
		return parse_err(ps, "%s", why);
	return 0;
}

static struct certmap_map *
parse_find(struct certmap_parse *ps, const char *name)
{
	size_t	i;

	for (i = 0; i < ps->set->n; i++)
		if (strcmp(ps->set->map[i].name, name) == 0)
			return &ps->set->map[i];
	return NULL;
}

/* NAME:Property [value] */
static int
parse_property(struct certmap_parse *ps, char *line, char *colon)
{
	struct certmap_map	*m;
	char			*name, *prop, *value;

	*colon = '\0';
	name = trim(line);
	prop = colon + 1;
	value = prop + strcspn(prop, " \t");
	if (*value != '\0')
		*value++ = '\0';
	value = trim(value);
	if (!certmap_name_ok(name))
		return parse_err(ps, "invalid mapping name \"%s\"", name);
	if ((m = parse_find(ps, name)) == NULL)
		return parse_err(ps, "property of mapping %s, which no "
		    "certmap line defines before", name);
	if (strcasecmp(prop, "DNComps") == 0)
		return parse_comps(ps, "DNComps", value, &m->dn);
	if (strcasecmp(prop, "FilterComps") == 0)
		return parse_comps(ps, "FilterComps", value, &m->filter);
	if (strcasecmp(prop, "VerifyCert") == 0 ||
	    strcasecmp(prop, "CmapLdapAttr") == 0) {
		log_warnx("%s:%d: %s is not supported, ignored", ps->file,
		    ps->line, prop);
		return 0;
	}
	if (strcasecmp(prop, "Library") == 0 ||
	    strcasecmp(prop, "InitFn") == 0)
		return parse_err(ps, "%s: certmap plug-ins are not supported",
		    prop);
	return parse_err(ps, "unknown property \"%s\"", prop);
}

static int
parse_line(struct certmap_parse *ps, char *line)
{
	char	*p = trim(line), *colon;

	if (*p == '\0' || *p == '#')
		return 0;
	if (strncasecmp(p, "certmap", 7) == 0 && (p[7] == ' ' || p[7] == '\t'))
		return parse_certmap(ps, p + 7);
	if ((colon = strchr(p, ':')) != NULL &&
	    (size_t)(colon - p) == strcspn(p, " \t:"))
		return parse_property(ps, p, colon);
	return parse_err(ps, "neither \"certmap NAME ISSUERDN\" nor "
	    "\"NAME:Property value\"");
}

struct certmap_set *
certmap_parse(const char *buf, size_t len, const char *file, char *err,
    size_t errlen)
{
	struct certmap_parse	 ps;
	char			 line[CERTMAP_LINE_BYTES];
	const char		*p = buf, *end = buf + len, *nl;
	size_t			 n;

	memset(&ps, 0, sizeof(ps));
	ps.file = file;
	ps.err = err;
	ps.errlen = errlen;
	if ((ps.set = certmap_new()) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	if (len > CERTMAP_FILE_MAX_BYTES) {
		(void)snprintf(err, errlen, "%s: larger than %d bytes", file,
		    CERTMAP_FILE_MAX_BYTES);
		goto fail;
	}
	while (p < end) {
		ps.line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line)) {
			(void)parse_err(&ps, "line longer than %d bytes",
			    CERTMAP_LINE_BYTES - 1);
			goto fail;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if (strlen(line) != n || !certmap_text_ok(line, 1)) {
			(void)parse_err(&ps, "control character");
			goto fail;
		}
		if (parse_line(&ps, line) == -1)
			goto fail;
		p = nl != NULL ? nl + 1 : end;
	}
	if (ps.set->n == 0) {
		(void)snprintf(err, errlen, "%s: no mapping (the first must "
		    "be \"certmap default default\")", file);
		goto fail;
	}
	return ps.set;
 fail:
	certmap_free(ps.set);
	return NULL;
}

/* ---- base and filter ------------------------------------------------ */

struct out {
	char	*p;
	size_t	 sz;
	size_t	 len;
	int	 err;
};

static void
out_str(struct out *o, const char *s)
{
	size_t	n = strlen(s);

	if (o->err || n >= o->sz - o->len) {
		o->err = 1;
		return;
	}
	memcpy(o->p + o->len, s, n + 1);
	o->len += n;
}

/* attr=value with value RFC 4514- or RFC 4515-escaped. */
static void
out_ava(struct out *o, const char *attr, const char *val, int filter)
{
	int	r;

	out_str(o, attr);
	out_str(o, "=");
	if (o->err)
		return;
	r = filter ? escape_filter_value(val, strlen(val), o->p + o->len,
	    o->sz - o->len) : escape_dn_value(val, strlen(val), o->p + o->len,
	    o->sz - o->len);
	if (r < 0)
		o->err = 1;
	else
		o->len += (size_t)r;
}

/* The component of a list that names attr, or NULL. */
static const struct certmap_comp *
comp_for(const struct certmap_comps *cs, const char *attr)
{
	uint8_t	i;

	for (i = 0; i < cs->n; i++)
		if (certmap_attr_same(cs->c[i].from, attr))
			return &cs->c[i];
	return NULL;
}

int
certmap_base(const struct certmap_map *m, const struct tls_field *f,
    size_t nf, char *out, size_t outsz, const char **why)
{
	const struct certmap_comp	*c;
	struct out			 o = { out, outsz, 0, outsz == 0 };
	size_t				 i, n = 0;

	if (m->dn.state == CERTMAP_EMPTY)
		return 0;
	if (outsz > 0)
		out[0] = '\0';
	for (i = nf; i-- > 0;) {
		if (m->dn.state == CERTMAP_ABSENT) {
			if (!certmap_attr_ok(f[i].attr)) {
				*why = "a subject attribute name cannot be "
				    "written in a DN";
				return -1;
			}
			if (n++ > 0)
				out_str(&o, ",");
			out_ava(&o, f[i].attr, f[i].value, 0);
		} else if ((c = comp_for(&m->dn, f[i].attr)) != NULL &&
		    f[i].value[0] != '\0') {
			if (n++ > 0)
				out_str(&o, ",");
			out_ava(&o, c->to, f[i].value, 0);
		}
	}
	if (n == 0) {
		*why = m->dn.state == CERTMAP_ABSENT ? "the subject is empty" :
		    "the subject has none of the DNComps";
		return -1;
	}
	if (o.err) {
		*why = "the search base is too long";
		return -1;
	}
	return 1;
}

int
certmap_filter(const struct certmap_map *m, const struct tls_field *f,
    size_t nf, char *out, size_t outsz, const char **why)
{
	struct out	o = { out, outsz, 0, outsz == 0 };
	size_t		i, n = 0;
	uint8_t		k;

	if (outsz > 0)
		out[0] = '\0';
	if (m->filter.state != CERTMAP_LIST) {
		out_str(&o, "(objectClass=*)");
		return o.err ? -1 : (int)o.len;
	}
	/* Count first: one term stands alone, several are ANDed. */
	for (k = 0; k < m->filter.n; k++)
		for (i = 0; i < nf; i++)
			if (certmap_attr_same(m->filter.c[k].from, f[i].attr) &&
			    f[i].value[0] != '\0')
				n++;
	if (n == 0) {
		*why = "the subject has none of the FilterComps";
		return -1;
	}
	if (n > 1)
		out_str(&o, "(&");
	for (k = 0; k < m->filter.n; k++)
		for (i = 0; i < nf; i++)
			if (certmap_attr_same(m->filter.c[k].from, f[i].attr) &&
			    f[i].value[0] != '\0') {
				out_str(&o, "(");
				out_ava(&o, m->filter.c[k].to, f[i].value, 1);
				out_str(&o, ")");
			}
	if (n > 1)
		out_str(&o, ")");
	if (o.err) {
		*why = "the search filter is too long";
		return -1;
	}
	return (int)o.len;
}
