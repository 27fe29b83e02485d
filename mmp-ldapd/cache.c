/*
 * mmp-ldapd's caches: one bounded map from a string key to a value the
 * caller owns the shape of (freed through the function stored with it),
 * least recently used out first, every entry dropped at its TTL on the
 * monotonic clock. A key starts with the kind of its entry ("u\n" a user
 * search, "a\n" a pre-authentication), so one cache can hold several.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ldapd.h"
#include "log.h"

struct cache_entry {
	RB_ENTRY(cache_entry)	 node;
	TAILQ_ENTRY(cache_entry) lru;		/* head: most recent */
	char			*key;
	void			*val;
	void			(*valfree)(void *);
	struct timespec		 expires;	/* monotonic */
};

RB_HEAD(cache_tree, cache_entry);

struct cache {
	struct cache_tree		 tree;
	TAILQ_HEAD(cache_lru, cache_entry) lru;
	size_t				 max;
	size_t				 n;
	unsigned int			 ttl_sec;
	void				(*clock)(struct timespec *);
	struct cache_stats		 stats;
};

int	cache_cmp(struct cache_entry *, struct cache_entry *);
RB_PROTOTYPE(cache_tree, cache_entry, node, cache_cmp)

int
cache_cmp(struct cache_entry *a, struct cache_entry *b)
{
	return strcmp(a->key, b->key);
}

/* Not _STATIC: libbsd's tree.h leaves __unused undefined. */
RB_GENERATE(cache_tree, cache_entry, node, cache_cmp)

static void
cache_mono_now(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		fatal("clock_gettime");
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* NULL: the cache is off (max or ttl_sec 0), or no memory. */
struct cache *
cache_new(size_t max, unsigned int ttl_sec)
{
	struct cache	*c;

	if (max == 0 || ttl_sec == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	RB_INIT(&c->tree);
	TAILQ_INIT(&c->lru);
	c->max = max;
	c->ttl_sec = ttl_sec;
	c->clock = cache_mono_now;
	return c;
}

/* For the tests: a clock that moves when they say. */
void
cache_set_clock(struct cache *c, void (*clock)(struct timespec *))
{
	c->clock = clock;
}

static void
cache_drop(struct cache *c, struct cache_entry *e)
{
	RB_REMOVE(cache_tree, &c->tree, e);
	TAILQ_REMOVE(&c->lru, e, lru);
	c->n--;
	if (e->valfree != NULL)
		e->valfree(e->val);
	freezero(e->key, strlen(e->key) + 1);
	free(e);
}

void
cache_clear(struct cache *c)
{
	struct cache_entry	*e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL)
		cache_drop(c, e);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	cache_clear(c);
	free(c);
}

/* Expired entries at the cold end go before anything is evicted. */
static void
cache_expire_tail(struct cache *c, const struct timespec *now)
{
	struct cache_entry	*e;

	while ((e = TAILQ_LAST(&c->lru, cache_lru)) != NULL &&
	    !ts_before(now, &e->expires)) {
		cache_drop(c, e);
		c->stats.expired++;
	}
}

static struct cache_entry *
cache_find(struct cache *c, const char *key)
{
	struct cache_entry	find;

	find.key = (char *)key;
	return RB_FIND(cache_tree, &c->tree, &find);
}

/*
 * The value under key, made the most recently used; NULL: none, or it
 * expired (and is gone). Counts a hit or a miss.
 */
void *
cache_get(struct cache *c, const char *key)
{
	struct cache_entry	*e;
	struct timespec		 now;

	if (c == NULL)
		return NULL;
	c->clock(&now);
	if ((e = cache_find(c, key)) != NULL && !ts_before(&now,
	    &e->expires)) {
		cache_drop(c, e);
		c->stats.expired++;
		e = NULL;
	}
	if (e == NULL) {
		c->stats.misses++;
		return NULL;
	}
	c->stats.hits++;
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	return e->val;
}

/* The caller found the value cache_get gave it of no use: a miss. */
void
cache_unhit(struct cache *c)
{
	if (c != NULL && c->stats.hits > 0) {
		c->stats.hits--;
		c->stats.misses++;
	}
}

/*
 * Keep val under key for the TTL, replacing what was there; the least
 * recently used entry makes room. The cache owns val from here on, even
 * when it cannot keep it (-1: no memory, val freed).
 */
int
cache_put(struct cache *c, const char *key, void *val,
    void (*valfree)(void *))
{
	struct cache_entry	*e;
	struct timespec		 now;

	if (c == NULL) {
		if (valfree != NULL)
			valfree(val);
		return -1;
	}
	c->clock(&now);
	if ((e = cache_find(c, key)) != NULL)
		cache_drop(c, e);
	cache_expire_tail(c, &now);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = strdup(key)) == NULL) {
		free(e);
		if (valfree != NULL)
			valfree(val);
		return -1;
	}
	while (c->n >= c->max) {
		cache_drop(c, TAILQ_LAST(&c->lru, cache_lru));
		c->stats.evicted++;
	}
	e->val = val;
	e->valfree = valfree;
	e->expires = now;
	e->expires.tv_sec += c->ttl_sec;
	RB_INSERT(cache_tree, &c->tree, e);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->n++;
	return 0;
}

/* Forget key, if it is there. */
void
cache_remove(struct cache *c, const char *key)
{
	struct cache_entry	*e;

	if (c != NULL && (e = cache_find(c, key)) != NULL)
		cache_drop(c, e);
}

/* The counters since the cache was made, and its entries now. */
void
cache_stats(const struct cache *c, struct cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	*st = c->stats;
	st->entries = c->n;
}

/* ---- a directory's caches ------------------------------------------ */

/*
 * The settings whose change makes what the caches hold wrong or kept
 * differently (the LDAP connection's are conn_same's).
 */
static const enum conf_key dircache_num_keys[] = {
	CK_LDAPCACHESIZE, CK_LDAPCACHETTL, CK_AUTHCACHESIZE, CK_AUTHCACHETTL,
	CK_PREAUTH,
};

/* The virtual domains of svc, the same in a and b, overrides included. */
static int
dircache_same_vdomains(const struct mmp_conf *a, const struct mmp_conf *b,
    int svc)
{
	const struct conf_keyinfo	*ki;
	const char			*va, *vb;
	size_t				 i;
	int				 k;

	if (a->nvd[svc] != b->nvd[svc])
		return 0;
	for (i = 0; i < a->nvd[svc]; i++) {
		if (strcmp(a->vd[svc][i].name, b->vd[svc][i].name) != 0 ||
		    strcmp(a->vd[svc][i].addr, b->vd[svc][i].addr) != 0)
			return 0;
		for (k = 0; k < CK_NKEYS; k++) {
			if ((ki = conf_keyinfo(k)) == NULL ||
			    !(ki->files & CF_V))
				continue;
			if (conf_voverrides(a, svc, (int)i, k) !=
			    conf_voverrides(b, svc, (int)i, k))
				return 0;
			va = conf_vstr(a, svc, (int)i, k);
			vb = conf_vstr(b, svc, (int)i, k);
			if (strcmp(va != NULL ? va : "", vb != NULL ? vb : "")
			    != 0)
				return 0;
		}
	}
	return 1;
}

int
dircache_same_conf(const struct mmp_conf *a, const struct mmp_conf *b,
    int svc)
{
	const char	*fa, *fb;
	size_t		 i;

	for (i = 0; i < sizeof(dircache_num_keys) /
	    sizeof(dircache_num_keys[0]); i++)
		if (conf_num(a, svc, dircache_num_keys[i]) !=
		    conf_num(b, svc, dircache_num_keys[i]))
			return 0;
	fa = conf_str(a, svc, CK_SEARCHFORMAT);
	fb = conf_str(b, svc, CK_SEARCHFORMAT);
	return strcmp(fa != NULL ? fa : "", fb != NULL ? fb : "") == 0 &&
	    dircache_same_vdomains(a, b, svc);
}

/*
 * Whether virtual domain vd of svc needs caches of its own: it sets their
 * sizes or lifetimes, PreAuth, or a directory of its own (its entries and
 * binds are another directory's). The others share the service's.
 */
int
dircache_vd_own(const struct mmp_conf *conf, int svc, int vd)
{
	static const enum conf_key keys[] = {
		CK_LDAPCACHESIZE, CK_LDAPCACHETTL, CK_AUTHCACHESIZE,
		CK_AUTHCACHETTL, CK_PREAUTH, CK_LDAPURL, CK_BINDDN,
		CK_BINDPASS, CK_MAILHOSTATTRS,
	};
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (conf_voverrides(conf, svc, vd, keys[i]))
			return 1;
	return 0;
}

/*
 * The caches settings ask for: LdapCacheSize entries for LdapCacheTTL;
 * with PreAuth, AuthCacheSize entries for the shorter of AuthCacheTTL
 * and LdapCacheTTL (a user's entry that expires takes the cached password
 * data with it). A size or TTL of 0 turns that cache off. fatal: no memory.
 */
struct dir_caches *
dircache_new(long long usize, long long uttl, long long asize,
    long long attl, int preauth, uint64_t gen)
{
	struct dir_caches	*dc;

	if ((dc = calloc(1, sizeof(*dc))) == NULL)
		fatal("%s", __func__);
	dc->gen = gen;
	if (usize > 0 && uttl > 0 &&
	    (dc->users = cache_new((size_t)usize, (unsigned int)uttl)) ==
	    NULL)
		fatal("%s", __func__);
	if (attl > uttl)
		attl = uttl;
	if (preauth && asize > 0 && attl > 0 &&
	    (dc->auth = cache_new((size_t)asize, (unsigned int)attl)) == NULL)
		fatal("%s", __func__);
	return dc;
}

struct dir_caches *
dircache_conf(const struct mmp_conf *conf, int svc, int vd, uint64_t gen)
{
	return dircache_new(conf_vnum(conf, svc, vd, CK_LDAPCACHESIZE),
	    conf_vnum(conf, svc, vd, CK_LDAPCACHETTL),
	    conf_vnum(conf, svc, vd, CK_AUTHCACHESIZE),
	    conf_vnum(conf, svc, vd, CK_AUTHCACHETTL),
	    conf_vnum(conf, svc, vd, CK_PREAUTH) != 0, gen);
}

static void
dircache_log_one(int svc, const char *who, const char *what,
    const struct cache *c)
{
	struct cache_stats	st;

	if (c == NULL)
		return;
	cache_stats(c, &st);
	log_svc(svc, LOG_NOTICE, "%s %s: %llu hits, %llu misses, %llu "
	    "evicted, %llu expired, %zu entries", who, what, st.hits,
	    st.misses, st.evicted, st.expired, st.entries);
}

/* One line per cache: at each reload and at the end. who: "IMAP". */
void
dircache_log(const struct dir_caches *dc, int svc, const char *who)
{
	if (dc == NULL)
		return;
	dircache_log_one(svc, who, "LdapCache", dc->users);
	dircache_log_one(svc, who, "AuthCache", dc->auth);
}

void
dircache_free(struct dir_caches *dc)
{
	if (dc == NULL)
		return;
	cache_free(dc->users);
	cache_free(dc->auth);
	free(dc);
}
