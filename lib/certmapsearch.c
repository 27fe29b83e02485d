/*
 * What a certmap.conf mapping makes of a verified certificate's subject
 * fields: mmp-ldapd's search base and filter, built only through
 * lib/escape.c, never by splitting the subject's text.
 */
#include <string.h>

#include "certmap.h"
#include "dn.h"
#include "escape.h"

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
		if (dn_attr_same(cs->c[i].from, attr))
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
			if (!dn_attr_ok(f[i].attr)) {
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
			if (dn_attr_same(m->filter.c[k].from, f[i].attr) &&
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
			if (dn_attr_same(m->filter.c[k].from, f[i].attr) &&
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
