/*
 * mmp-ldapd's caches: one bounded map from a string key to a value the
 * caller owns the shape of (freed through the function stored with it),
 * least recently used out first, every entry dropped at its TTL on the
 * monotonic clock. A key starts with the kind of its entry ("u\n" a user
 * search, "a\n" a pre-authentication, "d\n" a hosted domain), so one
 * cache can hold several.
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
