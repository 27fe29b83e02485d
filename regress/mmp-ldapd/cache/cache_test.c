/*
 * Unit tests for mmp-ldapd/cache.c: least recently used out first, the
 * size never exceeded, expiry at the TTL on a clock the test moves, size
 * or TTL 0 = no cache, a key replaced, the counters, the values freed,
 * and the directory caches a configuration asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "mmp-ldapd/ldapd.h"
#include "regress/tap.h"

static struct timespec	fake_now = { 1000, 0 };
static int		nfreed;

static void
fake_clock(struct timespec *ts)
{
	*ts = fake_now;
}

static void
val_free(void *v)
{
	nfreed++;
	free(v);
}

static void
put(struct cache *c, const char *key, const char *val)
{
	if (cache_put(c, key, strdup(val), val_free) == -1)
		tap_diag("cache_put %s failed", key);
}

static const char *
get(struct cache *c, const char *key)
{
	const char	*v = cache_get(c, key);

	return v != NULL ? v : "(none)";
}

static struct cache *
new_cache(size_t max, unsigned int ttl)
{
	struct cache	*c;

	if ((c = cache_new(max, ttl)) != NULL)
		cache_set_clock(c, fake_clock);
	return c;
}

static void
test_lru(void)
{
	struct cache		*c = new_cache(3, 60);
	struct cache_stats	 st;
	char			 key[32];
	int			 i;

	put(c, "u\na", "A");
	put(c, "u\nb", "B");
	put(c, "u\nc", "C");
	tap_is_str(get(c, "u\na"), "A", "a is there");	/* a: most recent */
	put(c, "u\nd", "D");				/* b goes */
	tap_is_str(get(c, "u\nb"), "(none)", "the least recently used "
	    "entry (b) was evicted, not the oldest one read since (a)");
	tap_is_str(get(c, "u\na"), "A", "a stays");
	tap_is_str(get(c, "u\nc"), "C", "c stays");
	tap_is_str(get(c, "u\nd"), "D", "d is in");
	cache_stats(c, &st);
	tap_is_int(st.entries, 3, "three entries in a cache of three");
	tap_is_int(st.evicted, 1, "one eviction counted");
	tap_is_int(st.hits, 4, "four hits counted");
	tap_is_int(st.misses, 1, "one miss counted");
	for (i = 0; i < 100; i++) {
		(void)snprintf(key, sizeof(key), "u\nk%d", i);
		put(c, key, "x");
		cache_stats(c, &st);
		if (st.entries > 3)
			break;
	}
	tap_ok(st.entries == 3, "100 more puts: never more than 3 entries "
	    "(%zu)", st.entries);
	tap_is_int(st.evicted, 101, "each put into a full cache evicted one");
	tap_is_str(get(c, "u\nk99"), "x", "the last one is there");
	tap_is_str(get(c, "u\nk97"), "x", "the third last one is there");
	tap_is_str(get(c, "u\nk96"), "(none)", "the fourth last one is not");
	nfreed = 0;
	cache_free(c);
	tap_is_int(nfreed, 3, "cache_free frees the values left");
}

static void
test_one(void)
{
	struct cache		*c = new_cache(1, 60);
	struct cache_stats	 st;

	put(c, "u\na", "A");
	put(c, "u\nb", "B");
	tap_is_str(get(c, "u\na"), "(none)", "size 1: the first went");
	tap_is_str(get(c, "u\nb"), "B", "size 1: the second is there");
	cache_stats(c, &st);
	tap_is_int(st.entries, 1, "size 1: one entry");
	cache_free(c);
}

static void
test_ttl(void)
{
	struct cache		*c = new_cache(10, 30);
	struct cache_stats	 st;

	fake_now.tv_sec = 1000;
	put(c, "u\na", "A");
	fake_now.tv_sec = 1010;
	put(c, "u\nb", "B");
	fake_now.tv_sec = 1029;
	fake_now.tv_nsec = 999999999;
	tap_is_str(get(c, "u\na"), "A", "a just before its TTL is there");
	fake_now.tv_sec = 1030;
	fake_now.tv_nsec = 0;
	tap_is_str(get(c, "u\na"), "(none)", "a at its TTL is gone");
	tap_is_str(get(c, "u\nb"), "B", "b, put later, is there");
	cache_stats(c, &st);
	tap_is_int(st.expired, 1, "one expiry counted");
	tap_is_int(st.entries, 1, "the expired entry left the cache");
	tap_is_int(st.misses, 1, "an expired entry is a miss");
	fake_now.tv_sec = 1035;
	tap_is_str(get(c, "u\nb"), "B", "a read does not extend the TTL (1)");
	fake_now.tv_sec = 1040;
	tap_is_str(get(c, "u\nb"), "(none)", "a read does not extend the "
	    "TTL (2)");
	put(c, "u\nc", "C");
	fake_now.tv_sec = 1060;
	put(c, "u\nc", "C2");
	fake_now.tv_sec = 1080;
	tap_is_str(get(c, "u\nc"), "C2", "a put again starts a new TTL");
	/* expired entries at the cold end go on a put, counted as expired */
	put(c, "u\nd", "D");
	fake_now.tv_sec = 2000;
	put(c, "u\ne", "E");
	cache_stats(c, &st);
	tap_is_int(st.entries, 1, "a put drops the expired entries");
	tap_is_int(st.expired, 4, "and counts them expired");
	tap_is_int(st.evicted, 0, "not evicted");
	cache_free(c);
	fake_now.tv_sec = 1000;
}

static void
test_replace(void)
{
	struct cache		*c = new_cache(2, 60);
	struct cache_stats	 st;

	nfreed = 0;
	put(c, "u\na", "A1");
	put(c, "u\nb", "B");
	put(c, "u\na", "A2");
	tap_is_int(nfreed, 1, "replacing a key frees its old value");
	tap_is_str(get(c, "u\na"), "A2", "the new value is read");
	tap_is_str(get(c, "u\nb"), "B", "replacing a key evicts nothing");
	cache_stats(c, &st);
	tap_is_int(st.entries, 2, "two keys, two entries");
	tap_is_int(st.evicted, 0, "no eviction");
	put(c, "a\na", "auth");
	tap_is_str(get(c, "a\na"), "auth", "another kind of entry, its own "
	    "key prefix");
	tap_is_str(get(c, "u\na"), "(none)", "evicted the least recent");
	cache_remove(c, "a\na");
	tap_is_str(get(c, "a\na"), "(none)", "cache_remove forgets a key");
	cache_remove(c, "u\nnone");
	cache_unhit(c);
	cache_stats(c, &st);
	tap_is_int(st.hits, 2, "cache_unhit takes a hit back");
	tap_is_int(st.misses, 3, "and counts a miss");
	cache_clear(c);
	cache_stats(c, &st);
	tap_is_int(st.entries, 0, "cache_clear empties it");
	cache_free(c);
}

static void
test_off(void)
{
	struct dir_caches	*dc;
	struct cache_stats	 st;

	tap_ok(cache_new(0, 60) == NULL, "size 0: no cache");
	tap_ok(cache_new(10, 0) == NULL, "TTL 0: no cache");
	tap_ok(cache_get(NULL, "u\na") == NULL, "a get on no cache misses");
	nfreed = 0;
	tap_ok(cache_put(NULL, "u\na", strdup("x"), val_free) == -1 &&
	    nfreed == 1, "a put on no cache frees the value");
	cache_stats(NULL, &st);
	tap_ok(st.hits == 0 && st.entries == 0, "no cache: zero counters");

	dc = dircache_new(100, 900, 50, 600, 1, 7);
	tap_ok(dc->users != NULL && dc->auth != NULL && dc->gen == 7,
	    "both caches with PreAuth");
	dircache_free(dc);
	dc = dircache_new(100, 900, 50, 600, 0, 1);
	tap_ok(dc->users != NULL && dc->auth == NULL, "no AuthCache "
	    "without PreAuth");
	dircache_free(dc);
	dc = dircache_new(0, 900, 50, 600, 1, 1);
	tap_ok(dc->users == NULL && dc->auth != NULL, "LdapCacheSize 0: "
	    "no LdapCache, the AuthCache still");
	dircache_free(dc);
	dc = dircache_new(100, 900, 0, 600, 1, 1);
	tap_ok(dc->auth == NULL, "AuthCacheSize 0: no AuthCache");
	dircache_free(dc);
	/* A shorter LdapCacheTTL bounds the AuthCache's. */
	dc = dircache_new(100, 2, 50, 600, 1, 1);
	cache_set_clock(dc->auth, fake_clock);
	fake_now.tv_sec = 1000;
	(void)cache_put(dc->auth, "a\nx", strdup("h"), val_free);
	fake_now.tv_sec = 1001;
	tap_ok(cache_get(dc->auth, "a\nx") != NULL, "AuthCache entry within "
	    "LdapCacheTTL");
	fake_now.tv_sec = 1002;
	tap_ok(cache_get(dc->auth, "a\nx") == NULL, "AuthCache entry gone "
	    "at the shorter LdapCacheTTL");
	dircache_free(dc);
	fake_now.tv_sec = 1000;
}

static void
test_many(void)
{
	struct cache		*c = new_cache(1000, 60);
	struct cache_stats	 st;
	char			 key[32];
	int			 i, bad = 0;

	for (i = 0; i < 5000; i++) {
		(void)snprintf(key, sizeof(key), "u\n%d", i);
		put(c, key, key);
	}
	for (i = 4000; i < 5000; i++) {
		(void)snprintf(key, sizeof(key), "u\n%d", i);
		if (strcmp(get(c, key), key) != 0)
			bad++;
	}
	tap_is_int(bad, 0, "the last 1000 of 5000 keys are found");
	tap_is_str(get(c, "u\n3999"), "(none)", "the one before is not");
	cache_stats(c, &st);
	tap_ok(st.entries == 1000 && st.evicted == 4000, "1000 entries, 4000 "
	    "evicted (%zu, %llu)", st.entries, st.evicted);
	cache_free(c);
}

int
main(void)
{
	test_lru();
	test_one();
	test_ttl();
	test_replace();
	test_off();
	test_many();
	return tap_done();
}
