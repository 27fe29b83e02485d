/*
 * The LdapCache's user entries: what a search found and was usable (DN,
 * mail host, the %A[attr] values of a replay format), kept under "u\n"
 * base "\n" filter in the caches of the lookup's service or virtual
 * domain, and a lookup filled from them as if it had searched.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "ldapd.h"
#include "log.h"

static void
cached_user_free(void *arg)
{
	struct cached_user	*cu = arg;
	size_t			 i;

	if (cu == NULL)
		return;
	free(cu->dn);
	free(cu->mailhost);
	for (i = 0; i < cu->nattrs; i++) {
		free(cu->names[i]);
		free(cu->vals[i]);
	}
	free(cu);
}

struct dir_caches *
lookup_caches(const struct lookup *lk)
{
	const struct ldapd	*env = lk->env;
	int			 vd = lookup_vd(lk);

	if (vd >= 0 && (size_t)vd < env->nvdcaches[lk->svc] &&
	    env->vdcaches[lk->svc][vd] != NULL)
		return env->vdcaches[lk->svc][vd];
	return env->caches[lk->svc];
}

/* The %A[attr] values a search found, kept with the entry. */
static int
cached_user_attrs(struct cached_user *cu, const struct lookup *lk)
{
	size_t	i;

	for (i = 0; lk->rattrs[i] != NULL; i++) {
		if ((cu->names[i] = strdup(lk->rattrs[i])) == NULL ||
		    (lk->rvals[i] != NULL &&
		    (cu->vals[i] = strdup(lk->rvals[i])) == NULL))
			return -1;
		cu->nattrs = i + 1;
	}
	return 0;
}

/*
 * The %A[attr] values lk's replay format asks for, from the entry kept:
 * -1 if one was not asked for when it was found (a search must).
 */
static int
lookup_cache_attrs(struct lookup *lk, const struct cached_user *cu)
{
	size_t	i, j;

	for (i = 0; lk->rattrs[i] != NULL; i++) {
		for (j = 0; j < cu->nattrs; j++)
			if (strcasecmp(cu->names[j], lk->rattrs[i]) == 0)
				break;
		if (j == cu->nattrs)
			return -1;
		if (cu->vals[j] != NULL &&
		    (lk->rvals[i] = strdup(cu->vals[j])) == NULL)
			return -1;
	}
	return 0;
}

/*
 * A usable entry, found by a search the caches in place now were asked
 * for: kept for LdapCacheTTL. What failed, or was not there, is never
 * kept, so a user added or re-enabled logs in at once.
 */
void
lookup_cache_store(struct lookup *lk)
{
	struct dir_caches	*dc = lookup_caches(lk);
	struct cached_user	*cu;

	if (lk->cachekey == NULL || dc == NULL || dc->gen != lk->cachegen ||
	    dc->users == NULL || lk->cachehit || lk->badvalue ||
	    lk->status[0] != '\0' || lk->dn == NULL || lk->mailhost == NULL)
		return;
	if ((cu = calloc(1, sizeof(*cu))) == NULL ||
	    (cu->dn = strdup(lk->dn)) == NULL ||
	    (cu->mailhost = strdup(lk->mailhost)) == NULL ||
	    cached_user_attrs(cu, lk) == -1) {
		cached_user_free(cu);
		log_warn(LOG_SID_FMT ": LdapCache", (unsigned long long)lk->sid);
		return;
	}
	(void)cache_put(dc->users, lk->cachekey, cu, cached_user_free);
}

/* What the search would have found, from the cache; 0: not there. */
int
lookup_cache_fill(struct lookup *lk, struct dir_caches *dc)
{
	const struct cached_user	*cu;
	size_t				 i;

	if (dc->users == NULL)
		return 0;
	if ((cu = cache_get(dc->users, lk->cachekey)) == NULL) {
		lk->env->stats.ldapcache[1]++;
		return 0;
	}
	/* lk->dn is libldap's (ldap_memfree), as a search leaves it */
	if (lookup_cache_attrs(lk, cu) == -1 ||
	    (lk->dn = ber_strdup(cu->dn)) == NULL ||
	    (lk->mailhost = strdup(cu->mailhost)) == NULL) {
		cache_unhit(dc->users);
		lk->env->stats.ldapcache[1]++;
		ldap_memfree(lk->dn);
		lk->dn = NULL;
		free(lk->mailhost);
		lk->mailhost = NULL;
		for (i = 0; i < LDAPD_REPLAY_ATTRS_MAX; i++) {
			free(lk->rvals[i]);
			lk->rvals[i] = NULL;
		}
		return 0;
	}
	lk->nentries = 1;
	lk->cachehit = 1;
	lk->env->stats.ldapcache[0]++;
	return 1;
}
