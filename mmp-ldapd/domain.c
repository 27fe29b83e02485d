/*
 * Hosted domains (HostedDomains yes): a login name with a domain first
 * finds the domain's inetDomain entry under DcRoot; its inetDomainBaseDN,
 * inetDomainStatus, inetDomainSearchFilter and mailAccessProxyReplay then
 * decide where and how the user is searched and what the store is sent.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <ldap.h>

#include "escape.h"
#include "ldapd.h"
#include "log.h"
#include "loginname.h"

#define DOMAIN_FILTER_FMT	"(&(objectClass=inetDomain)" \
				"(associatedDomain=%s))"
#define DOMAIN_BAD_BYTES	160
#define DOMAIN_KEY_PREFIX	"d\n"	/* LdapCache: "d\n" base "\n" filter */
#define LOG_TEXT_BYTES		1024

struct lookup_domain {
	int	 pending;	/* the domain tree's search is the next */
	int	 cached;	/* found in the LdapCache, not searched */
	uint64_t cachegen;	/* of the caches when it was looked for */
	char	*dn;		/* of the domain's entry */
	char	*base;		/* inetDomainBaseDN */
	char	*filter;	/* inetDomainSearchFilter, or NULL */
	char	*replay;	/* mailAccessProxyReplay, or NULL */
	/* "inetDomainStatus inactive"; "": the domain may log in */
	char	 status[LDAPD_STATUS_BYTES];
	char	 bad[DOMAIN_BAD_BYTES];		/* why it is unusable */
	/* for %C and %S of DomainSearchFormat */
	char	 client[MMP_STR_BYTES];
	char	 local[MMP_STR_BYTES];
};

static char	attr_basedn[] = "inetDomainBaseDN";
static char	attr_status[] = "inetDomainStatus";
static char	attr_filter[] = "inetDomainSearchFilter";
static char	attr_replay[] = "mailAccessProxyReplay";
static char    *attrs[] = { attr_basedn, attr_status, attr_filter,
		    attr_replay, NULL };

/* libldap takes char **; it never writes through it. */
char **
domain_attrs(void)
{
	return attrs;
}

int
domain_wanted(const struct lookup *lk)
{
	return lk->subject == NULL && lk->name.domain[0] != '\0' &&
	    conf_vnum(lk->env->conf, lk->svc, lk->vd, CK_HOSTEDDOMAINS) != 0;
}

int
domain_pending(const struct lookup *lk)
{
	return lk->dom != NULL && lk->dom->pending;
}

void
domain_free(struct lookup_domain *d)
{
	if (d == NULL)
		return;
	ldap_memfree(d->dn);
	free(d->base);
	free(d->filter);
	free(d->replay);
	free(d);
}

/* The domain as the log shows it: escaped. */
static void
domain_name(const struct lookup *lk, char *out, size_t outsz)
{
	(void)escape_log(lk->name.domain, strlen(lk->name.domain), out,
	    outsz);
}

/*
 * The domain tree's filter for domain, the domain only through the RFC
 * 4515 escaper: a domain "*" must match no domain. Length, or -1.
 */
int
domain_filter(const char *domain, char *out, size_t outsz)
{
	char	esc[LOGIN_NAME_BYTES * 3 + 1];
	int	n;

	if (escape_filter_value(domain, strlen(domain), esc,
	    sizeof(esc)) < 0 ||
	    (n = snprintf(out, outsz, DOMAIN_FILTER_FMT, esc)) < 0 ||
	    (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}

/*
 * A usable domain entry an LdapCache keeps, beside the user entries: its
 * DN and the attributes that decide the user's search and replay. Found
 * unusable or inactive, it is never kept (fixed in the directory, it
 * works at once).
 */
struct cached_domain {
	char	*dn;
	char	*base;
	char	*filter;
	char	*replay;
};

static void	domain_found(struct lookup *);

static void
cached_domain_free(void *arg)
{
	struct cached_domain	*cd = arg;

	if (cd == NULL)
		return;
	free(cd->dn);
	free(cd->base);
	free(cd->filter);
	free(cd->replay);
	free(cd);
}

/* "d\n" DcRoot "\n" filter, or NULL: no memory. */
static char *
domain_cache_key(const struct lookup *lk)
{
	char	*key;
	size_t	 len;

	len = strlen(DOMAIN_KEY_PREFIX) + strlen(lk->base) + 1 +
	    strlen(lk->filter) + 1;
	if ((key = malloc(len)) != NULL)
		(void)snprintf(key, len, "%s%s\n%s", DOMAIN_KEY_PREFIX,
		    lk->base, lk->filter);
	return key;
}

static char *
strdup_or_null(const char *s, int *fail)
{
	char	*d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return d;
}

/* The entry from the caches in place: 1, as if just found; 0: search. */
static int
domain_cache_fill(struct lookup *lk)
{
	struct dir_caches		*dc = lookup_caches(lk);
	struct lookup_domain		*d = lk->dom;
	const struct cached_domain	*cd;
	char				*key;
	int				 fail = 0;

	if (dc == NULL || dc->users == NULL)
		return 0;
	d->cachegen = dc->gen;
	if ((key = domain_cache_key(lk)) == NULL)
		return 0;
	cd = cache_get(dc->users, key);
	free(key);
	if (cd == NULL)
		return 0;
	/* d->dn is libldap's (ldap_memfree), as a search leaves it */
	if ((d->dn = ber_strdup(cd->dn)) == NULL)
		fail = 1;
	d->base = strdup_or_null(cd->base, &fail);
	d->filter = strdup_or_null(cd->filter, &fail);
	d->replay = strdup_or_null(cd->replay, &fail);
	if (fail) {
		cache_unhit(dc->users);
		ldap_memfree(d->dn);
		free(d->base);
		free(d->filter);
		free(d->replay);
		d->dn = d->base = d->filter = d->replay = NULL;
		return 0;
	}
	lk->nentries = 1;
	d->cached = 1;
	return 1;
}

/* A usable entry a search found: kept, if its caches are still in place. */
static void
domain_cache_store(struct lookup *lk)
{
	struct dir_caches	*dc = lookup_caches(lk);
	struct lookup_domain	*d = lk->dom;
	struct cached_domain	*cd;
	char			*key;
	int			 fail = 0;

	if (d->cached || dc == NULL || dc->users == NULL ||
	    dc->gen != d->cachegen || (key = domain_cache_key(lk)) == NULL)
		return;
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		free(key);
		return;
	}
	cd->dn = strdup_or_null(d->dn, &fail);
	cd->base = strdup_or_null(d->base, &fail);
	cd->filter = strdup_or_null(d->filter, &fail);
	cd->replay = strdup_or_null(d->replay, &fail);
	if (fail)
		cached_domain_free(cd);
	else
		(void)cache_put(dc->users, key, cd, cached_domain_free);
	free(key);
}

void
domain_start(struct lookup *lk, const char *client, const char *local)
{
	struct lookup_domain	*d;
	struct ldap_conn	*c = conn_for(lk->env, lk->svc, lk->vd);
	char			 filter[LDAPD_FILTER_BYTES];

	if (c == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%s has no LdapUrl",
		    svc_name(lk->svc));
		return;
	}
	if (domain_filter(lk->name.domain, filter, sizeof(filter)) == -1) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "domain filter too "
		    "long");
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return;
	}
	lk->dom = d;
	d->pending = 1;
	(void)strlcpy(d->client, client, sizeof(d->client));
	(void)strlcpy(d->local, local, sizeof(d->local));
	if ((lk->filter = strdup(filter)) == NULL ||
	    (lk->base = strdup(conf_str(lk->env->conf, lk->svc,
	    CK_DCROOT))) == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return;
	}
	if (domain_cache_fill(lk))
		domain_found(lk);
	else
		conn_submit(c, lk);
}

/* Remember the first reason the entry cannot be used. */
static void
domain_bad(struct lookup_domain *d, const char *attr, const char *why)
{
	if (d->bad[0] == '\0')
		(void)snprintf(d->bad, sizeof(d->bad), "%s %s", attr, why);
}

/*
 * The one value of attr as a C string, or NULL: absent, or unusable
 * (several values, empty, max bytes or more, a NUL), which d->bad says.
 */
static char *
domain_value(struct ldap_conn *c, LDAPMessage *e, struct lookup_domain *d,
    const char *attr, size_t max)
{
	struct berval	**vals;
	char		 *v = NULL;

	if ((vals = ldap_get_values_len(c->ld, e, attr)) == NULL)
		return NULL;
	if (vals[0] != NULL && vals[1] != NULL)
		domain_bad(d, attr, "has more than one value");
	else if (vals[0] != NULL && (vals[0]->bv_len == 0 ||
	    vals[0]->bv_len >= max ||
	    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) != NULL))
		domain_bad(d, attr, "is empty, too long or has a NUL");
	else if (vals[0] != NULL &&
	    (v = strndup(vals[0]->bv_val, vals[0]->bv_len)) == NULL)
		domain_bad(d, attr, "cannot be read: out of memory");
	ldap_value_free_len(vals);
	return v;
}

/*
 * inetDomainStatus: absent or "active" (any case) lets the domain's users
 * in; any other value (inactive, disabled, deleted, ...) does not.
 */
static void
domain_status(struct ldap_conn *c, LDAPMessage *e, struct lookup_domain *d)
{
	struct berval	**vals;
	char		  v[LDAPD_STATUS_BYTES / 2];
	size_t		  i;

	if ((vals = ldap_get_values_len(c->ld, e, attr_status)) == NULL)
		return;
	for (i = 0; vals[i] != NULL; i++) {
		if (vals[i]->bv_len == strlen("active") &&
		    strncasecmp(vals[i]->bv_val, "active",
		    vals[i]->bv_len) == 0)
			continue;
		(void)escape_log(vals[i]->bv_val, vals[i]->bv_len, v,
		    sizeof(v));
		(void)snprintf(d->status, sizeof(d->status), "%s %s",
		    attr_status, v);
		break;
	}
	ldap_value_free_len(vals);
}

void
domain_entry(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	struct lookup_domain	*d = lk->dom;

	if (++lk->nentries > 1)
		return;
	d->dn = ldap_get_dn(c->ld, e);
	d->base = domain_value(c, e, d, attr_basedn, MMP_STR_BYTES);
	if (d->base == NULL)
		domain_bad(d, attr_basedn, "is missing");
	domain_status(c, e, d);
	d->filter = domain_value(c, e, d, attr_filter, LDAPD_FILTER_BYTES);
	d->replay = domain_value(c, e, d, attr_replay, MMP_STR_BYTES);
}

/*
 * inetDomainSearchFilter takes %U, %V and %o (and %%) only: the product's
 * codes for it. NULL, or what is wrong.
 */
const char *
domain_filter_bad(const char *f)
{
	for (; *f != '\0'; f++) {
		if (*f != '%')
			continue;
		if (*++f == '\0')
			return "ends in %";
		if (strchr("UVo%", *f) == NULL)
			return "has a % code other than %U, %V, %o";
	}
	return NULL;
}

static void
domain_log_found(const struct lookup *lk, const char *fmt)
{
	const struct lookup_domain	*d = lk->dom;
	char				 name[LOG_TEXT_BYTES];
	char				 dn[LOG_TEXT_BYTES];
	char				 base[LOG_TEXT_BYTES];
	char				 f[LOG_TEXT_BYTES], r[LOG_TEXT_BYTES];
	char				 user[LOG_TEXT_BYTES];

	if (!log_wants(lk->svc, LOG_INFO))
		return;
	domain_name(lk, name, sizeof(name));
	(void)escape_log(lk->user, strlen(lk->user), user, sizeof(user));
	(void)escape_log(d->dn, strlen(d->dn), dn, sizeof(dn));
	(void)escape_log(d->base, strlen(d->base), base, sizeof(base));
	(void)escape_log(fmt, strlen(fmt), f, sizeof(f));
	r[0] = '\0';
	if (d->replay != NULL)
		(void)escape_log(d->replay, strlen(d->replay), r, sizeof(r));
	log_svc(lk->svc, LOG_INFO, LOG_SID_FMT ": lookup \"%s\": domain "
	    "'%s' is %s: users under %s, filter %s%s%s%s%s", (unsigned long
	    long)lk->sid, user, name, dn, base, f, d->filter != NULL ?
	    " (inetDomainSearchFilter)" : " (DomainSearchFormat)",
	    d->replay != NULL ? ", mailAccessProxyReplay " : "", r,
	    d->cached ? " (cache hit)" : "");
}

/* The one entry found: check it, then search the user below its base. */
static void
domain_found(struct lookup *lk)
{
	struct lookup_domain	*d = lk->dom;
	const char		*fmt, *bad;
	char			 name[LOG_TEXT_BYTES], err[LDAPD_DETAIL_BYTES];

	domain_name(lk, name, sizeof(name));
	if (d->dn == NULL || d->bad[0] != '\0') {
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "domain '%s' is not "
		    "usable: %s", name, d->dn == NULL ? "its entry has no DN" :
		    d->bad);
		return;
	}
	/* Refused like a wrong password; the relay names the attribute. */
	if (d->status[0] != '\0') {
		lookup_finish(lk, LOOKUP_DISABLED, NULL, "%s (domain '%s')",
		    d->status, name);
		return;
	}
	if (d->filter != NULL && (bad = domain_filter_bad(d->filter)) !=
	    NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "domain '%s': %s %s",
		    name, attr_filter, bad);
		return;
	}
	if (d->replay != NULL && login_replay_check(d->replay, err,
	    sizeof(err)) == -1) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "domain '%s': %s: %s",
		    name, attr_replay, err);
		return;
	}
	/*
	 * A reload may have come between the domain search and now: lk's
	 * virtual domain by name (lookup_vd); its old index may be another
	 * domain's.
	 */
	fmt = d->filter != NULL ? d->filter : conf_vstr(lk->env->conf,
	    lk->svc, lookup_vd(lk), CK_DOMAINSEARCHFORMAT);
	domain_log_found(lk, fmt);
	domain_cache_store(lk);
	free(lk->base);
	lk->base = d->base;
	d->base = NULL;
	free(lk->replayfmt);
	lk->replayfmt = d->replay;
	d->replay = NULL;
	d->pending = 0;
	lk->nentries = 0;
	/* The user's search asks for the %A[attr] of the domain's format. */
	if (lookup_replay_attrs(lk) == -1) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return;
	}
	lookup_user_search(lk, fmt, d->client, d->local);
}

/* The domain tree's search is complete; lk is off the connection. */
void
domain_result(struct ldap_conn *c, struct lookup *lk, LDAPMessage *msg)
{
	const struct ldap_url	*u = &c->urls[c->cur];
	char			*diag = NULL, name[LOG_TEXT_BYTES];
	char			 b[LOG_TEXT_BYTES], d[LOG_TEXT_BYTES];
	int			 code = LDAP_OTHER, rc;

	rc = ldap_parse_result(c->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	domain_name(lk, name, sizeof(name));
	(void)escape_log(lk->base, strlen(lk->base), b, sizeof(b));
	(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
	    strlen(diag) : 0, d, sizeof(d));
	ldap_memfree(diag);
	if (rc != LDAP_SUCCESS)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "unreadable domain "
		    "search result from %s: %s", u->label, ldap_err2string(rc));
	else if (lk->nentries > 1 ||
	    (lk->nentries == 1 && code == LDAP_SIZELIMIT_EXCEEDED))
		lookup_finish(lk, LOOKUP_AMBIGUOUS, NULL, "domain '%s' has "
		    "more than one entry under %s at %s", name, b, u->label);
	else if (lk->nentries == 0 && (code == LDAP_SUCCESS ||
	    code == LDAP_NO_SUCH_OBJECT))
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "domain '%s' not found "
		    "in LDAP (no inetDomain entry under %s at %s)", name, b,
		    u->label);
	else if (code != LDAP_SUCCESS)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "domain search for "
		    "'%s' at %s failed: %s%s%s", name, u->label,
		    ldap_err2string(code), d[0] != '\0' ? ": " : "", d);
	else
		domain_found(lk);
}
