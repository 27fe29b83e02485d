/*
 * The AuthCache: after a bind as the user succeeded, "a\n" DN keeps an
 * HMAC-SHA256 of the password under a key of the process (never the
 * password); a later PreAuth login with the same password is answered
 * without a bind, compared in constant time; a failed bind drops it.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "hmac.h"
#include "ldapd.h"
#include "log.h"

#define AUTHCACHE_KEY_BYTES	(MMP_STR_BYTES + 3)	/* "a\n" DN */

/*
 * "a\n" DN: lk's entry in its service's AuthCache. The DN fits
 * (lookup_found refuses a longer one). -1: it does not.
 */
static int
authcache_key(const struct lookup *lk, char *key, size_t keysz)
{
	int	n;

	n = snprintf(key, keysz, "a\n%s", lk->dn != NULL ? lk->dn : "");
	return lk->dn == NULL || n < 0 || (size_t)n >= keysz ? -1 : 0;
}

/* The AuthCache in place now, NULL: none. */
static struct cache *
authcache_of(const struct lookup *lk)
{
	struct dir_caches	*dc = lookup_caches(lk);

	return dc != NULL ? dc->auth : NULL;
}

/* HMAC-SHA256 under the process's key: all the AuthCache holds. */
static void
authcache_mac(const struct lookup *lk, uint8_t mac[HMAC_SHA256_BYTES])
{
	hmac_sha256(lk->env->authkey, sizeof(lk->env->authkey), lk->pass,
	    lk->passlen, mac);
}

static void
authcache_mac_free(void *mac)
{
	freezero(mac, HMAC_SHA256_BYTES);
}

/*
 * Whether lk's password is the one of its DN's unexpired entry, compared
 * in constant time. Another password is a miss: the bind decides (the
 * password may have changed).
 */
int
authcache_match(struct lookup *lk)
{
	struct cache	*c = authcache_of(lk);
	const uint8_t	*want;
	uint8_t		 mac[HMAC_SHA256_BYTES];
	char		 key[AUTHCACHE_KEY_BYTES];
	int		 same;

	if (c == NULL || authcache_key(lk, key, sizeof(key)) == -1)
		return 0;
	if ((want = cache_get(c, key)) == NULL) {
		lk->env->stats.authcache[1]++;
		return 0;
	}
	authcache_mac(lk, mac);
	same = timingsafe_bcmp(mac, want, sizeof(mac)) == 0;
	explicit_bzero(mac, sizeof(mac));
	if (!same)
		cache_unhit(c);
	lk->env->stats.authcache[same ? 0 : 1]++;
	return same;
}

/*
 * A bind's outcome: a success is kept (when the caches the lookup started
 * with are still in place, so a reload's new settings are not fed by an
 * old search), anything else forgets the DN's entry.
 */
void
authcache_bound(struct lookup *lk, int ok)
{
	struct cache	*c = authcache_of(lk);
	uint8_t		*mac;
	char		 key[AUTHCACHE_KEY_BYTES];

	if (c == NULL || authcache_key(lk, key, sizeof(key)) == -1)
		return;
	if (!ok || lookup_caches(lk)->gen != lk->cachegen) {
		cache_remove(c, key);
		return;
	}
	if ((mac = malloc(HMAC_SHA256_BYTES)) == NULL) {
		cache_remove(c, key);
		return;
	}
	authcache_mac(lk, mac);
	(void)cache_put(c, key, mac, authcache_mac_free);
}
