/*
 * Login names: user id and domain, the canonical name and the replay name
 * (lib/loginname.h). Every input is a client's: bounded copies only.
 */
#include <stdio.h>
#include <string.h>

#include "loginname.h"

#define ATTR_NAME_BYTES	128	/* %A[attr]: an attribute's name */

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* The last byte of name that is one of delims, or NULL. */
static const char *
last_delim(const char *name, const char *delims)
{
	const char	*p, *last = NULL;

	if (*delims == '\0')
		return NULL;
	for (p = name; *p != '\0'; p++)
		if (strchr(delims, *p) != NULL)
			last = p;
	return last;
}

int
login_name_split(const char *name, const struct login_rules *r,
    struct login_name *ln, char *err, size_t errlen)
{
	const char	*d, *dom = NULL;
	size_t		 len = strlen(name);
	int		 n;

	memset(ln, 0, sizeof(*ln));
	if (len == 0 || len >= sizeof(ln->orig)) {
		(void)snprintf(err, errlen, "user name empty or too long");
		return -1;
	}
	memcpy(ln->orig, name, len + 1);
	if ((d = last_delim(name, nz(r->delims))) != NULL) {
		memcpy(ln->uid, name, (size_t)(d - name));
		dom = d + 1;
		ln->from = LDOM_TYPED;
		if (*dom == '\0') {
			(void)snprintf(err, errlen, "empty domain after the "
			    "delimiter");
			return -1;
		}
	} else {
		memcpy(ln->uid, name, len + 1);
		if (*nz(r->vdomain) != '\0') {
			dom = r->vdomain;
			ln->from = LDOM_VIRTUAL;
		} else if (*nz(r->defdomain) != '\0') {
			dom = r->defdomain;
			ln->from = LDOM_DEFAULT;
		} else
			ln->from = LDOM_NONE;
	}
	if (ln->uid[0] == '\0') {
		(void)snprintf(err, errlen, "empty user id before the "
		    "delimiter");
		return -1;
	}
	if (dom != NULL && strlcpy(ln->domain, dom, sizeof(ln->domain)) >=
	    sizeof(ln->domain)) {
		(void)snprintf(err, errlen, "domain too long");
		return -1;
	}
	if (ln->domain[0] == '\0')
		n = snprintf(ln->canon, sizeof(ln->canon), "%s", ln->uid);
	else
		n = snprintf(ln->canon, sizeof(ln->canon), "%s%s%s", ln->uid,
		    nz(r->canondelim), ln->domain);
	if (n < 0 || (size_t)n >= sizeof(ln->canon) ||
	    (size_t)n > MMP_USER_BYTES) {
		(void)snprintf(err, errlen, "user name with its domain too "
		    "long");
		return -1;
	}
	return 0;
}

int
login_name_replay(const struct login_name *ln, const char *canondelim,
    char *out, size_t outsz)
{
	int	n;

	if (ln->from == LDOM_VIRTUAL)
		n = snprintf(out, outsz, "%s%s%s", ln->orig, nz(canondelim),
		    ln->domain);
	else
		n = snprintf(out, outsz, "%s", ln->orig);
	if (n < 0 || (size_t)n >= outsz || (size_t)n > MMP_USER_BYTES)
		return -1;
	return 0;
}

/* "[attr]" at p: the name into attr, the length of "[attr]", or -1. */
static int
replay_attr_name(const char *p, char *attr, size_t attrsz)
{
	const char	*end;
	size_t		 n;

	if (*p != '[' || (end = strchr(p, ']')) == NULL)
		return -1;
	n = (size_t)(end - p - 1);
	if (n == 0 || n >= attrsz || n >= ATTR_NAME_BYTES)
		return -1;
	memcpy(attr, p + 1, n);
	attr[n] = '\0';
	for (p = attr; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == ';'))
			return -1;
	return (int)n + 2;
}

/* The value of code at *pp (advanced past it), NULL with err. */
static const char *
replay_value(const char **pp, const struct login_name *ln,
    login_attr_fn attrfn, void *arg, char *err, size_t errlen)
{
	char		 attr[ATTR_NAME_BYTES];
	const char	*v;
	int		 n;

	switch (**pp) {
	case 's':
		return ln->canon;
	case 'U':
		return ln->uid;
	case 'V':
		return ln->domain;
	case 'o':
		return ln->orig;
	case '%':
		return "%";
	case 'A':
		if ((n = replay_attr_name(*pp + 1, attr, sizeof(attr))) ==
		    -1) {
			(void)snprintf(err, errlen, "%%A needs [attribute]");
			return NULL;
		}
		*pp += n;
		if (attrfn == NULL || (v = attrfn(arg, attr)) == NULL) {
			(void)snprintf(err, errlen, "the entry has no usable "
			    "%s for the replay name", attr);
			return NULL;
		}
		return v;
	default:
		(void)snprintf(err, errlen, "unknown code %%%c in the replay "
		    "format", **pp != '\0' ? **pp : '?');
		return NULL;
	}
}

int
login_replay_expand(const char *fmt, const struct login_name *ln,
    login_attr_fn attrfn, void *arg, char *out, size_t outsz, char *err,
    size_t errlen)
{
	const char	*p, *v;
	size_t		 len = 0, n;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			v = p;
			n = 1;
		} else {
			p++;
			if ((v = replay_value(&p, ln, attrfn, arg, err,
			    errlen)) == NULL)
				goto fail;
			n = strlen(v);
		}
		if (len + n >= outsz || len + n > MMP_USER_BYTES) {
			(void)snprintf(err, errlen, "replay name longer than "
			    "%d bytes", MMP_USER_BYTES);
			goto fail;
		}
		memcpy(out + len, v, n);
		len += n;
		out[len] = '\0';
	}
	if (len == 0 || strpbrk(out, "\r\n") != NULL) {
		(void)snprintf(err, errlen, "replay name empty or with CR/LF");
		goto fail;
	}
	return (int)len;
 fail:
	out[0] = '\0';
	return -1;
}

int
login_replay_check(const char *fmt, char *err, size_t errlen)
{
	char		 attr[ATTR_NAME_BYTES];
	const char	*p;
	int		 n;

	if (*fmt == '\0') {
		(void)snprintf(err, errlen, "empty replay format");
		return -1;
	}
	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == 'A') {
			if ((n = replay_attr_name(p + 1, attr,
			    sizeof(attr))) == -1) {
				(void)snprintf(err, errlen, "%%A needs "
				    "[attribute]");
				return -1;
			}
			p += n;
		} else if (*p == '\0' || strchr("sUVo%", *p) == NULL) {
			(void)snprintf(err, errlen, "unknown code %%%c "
			    "(known: %%s %%U %%V %%o %%A[attr] %%%%)",
			    *p != '\0' ? *p : '?');
			return -1;
		}
	}
	return 0;
}
