/*
 * certmap.conf: the parser the parent runs, and the set of mappings with
 * the checks mmp-ldapd repeats on every mapping it receives (certmap_add).
 * DN text is lib/dn.c's; the search built from a subject is
 * lib/certmapsearch.c's.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmap.h"
#include "dn.h"
#include "log.h"

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

int
certmap_comps_ok(const struct certmap_comps *cs)
{
	uint8_t	i;

	if (cs->state >= CERTMAP_STATE_MAX || cs->n > CERTMAP_COMPS_MAX ||
	    (cs->state == CERTMAP_LIST) != (cs->n > 0))
		return 0;
	for (i = 0; i < cs->n; i++)
		if (!dn_attr_ok(cs->c[i].from) ||
		    !dn_attr_ok(cs->c[i].to))
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
	if (set->n > 0 && !dn_valid(m->issuer))
		return certmap_err(err, errlen, "issuer of mapping %s is not "
		    "a DN", m->name);
	if (!certmap_comps_ok(&m->dn) || !certmap_comps_ok(&m->filter))
		return certmap_err(err, errlen, "invalid components in "
		    "mapping %s", m->name);
	for (i = 1; i < set->n; i++) {
		if (dn_equal(set->map[i].issuer, m->issuer))
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
		if (dn_equal(set->map[i].issuer, issuer))
			return &set->map[i];
	return &set->map[0];
}

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
	if (!dn_attr_ok(from) || !dn_attr_ok(to) ||
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
