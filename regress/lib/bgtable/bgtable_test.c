/*
 * Unit test for lib/bgtable.c: growth, the ceiling, decay both ways, the
 * sum over sections, a success that wipes every section's part, the bound
 * under many addresses, and a hostile or half-written section.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgtable.h"
#include "regress/tap.h"

#define NSEC	3

static struct bg_section	*sec[NSEC];
static const struct bg_params	 step = { 2000, 60000, 900000, 0 };

static void
key_of(uint32_t n, uint8_t key[16])
{
	memset(key, 0, 16);
	key[10] = key[11] = 0xff;
	key[12] = 10;
	key[13] = (uint8_t)(n >> 16);
	key[14] = (uint8_t)(n >> 8);
	key[15] = (uint8_t)n;
}

/* Any spread will do here; the relays use the region's SipHash. */
static uint64_t
hash_of(const uint8_t key[16])
{
	uint64_t	h = 1469598103934665603ULL;
	int		i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return h;
}

static void
fresh(uint32_t share)
{
	int	i;

	for (i = 0; i < NSEC; i++) {
		memset(sec[i], 0, sizeof(*sec[i]));
		bgtable_setup(sec[i], share);
	}
}

static uint64_t
bad(uint32_t n, uint64_t now, const struct bg_params *p)
{
	uint8_t	key[16];

	key_of(n, key);
	return bgtable_badness(sec, NSEC, key, hash_of(key), now, p);
}

static int
fail(int s, uint32_t n, uint64_t now, const struct bg_params *p,
    struct bg_change *c)
{
	uint8_t	key[16];

	key_of(n, key);
	return bgtable_fail(sec[s], sec, NSEC, key, hash_of(key), now, p, c);
}

static void
test_growth(void)
{
	struct bg_change	c;
	int			i;

	fresh(1000);
	tap_is_int(bad(1, 1000, &step), 0, "no failure, no badness");
	for (i = 1; i <= 3; i++) {
		fail(0, 1, 1000 + i, &step, &c);
		tap_ok(c.before == (uint64_t)(i - 1) * 2000 &&
		    c.after == (uint64_t)i * 2000, "failure %d: %llu -> %llu",
		    i, (unsigned long long)c.before,
		    (unsigned long long)c.after);
	}
	tap_is_int(bad(1, 2000, &step), 6000, "3 failures: 3 penalties");
	tap_is_int(bad(2, 2000, &step), 0, "another address is clean");
	for (i = 0; i < 40; i++)
		fail(i % NSEC, 1, 3000 + i, &step, &c);
	tap_is_int(bad(1, 4000, &step), 60000, "capped at BGMaxBadness");
	tap_ok(c.before == 60000 && c.after == 60000,
	    "a failure at the ceiling changes nothing");
}

static void
test_decay(void)
{
	struct bg_params	p = { 2000, 60000, 3000, 0 };
	struct bg_change	c;

	fresh(1000);
	fail(0, 7, 10000, &p, &c);
	fail(0, 7, 10000, &p, &c);
	tap_is_int(bad(7, 12999, &p), 4000, "not linear: whole until BGDecay");
	tap_is_int(bad(7, 13000, &p), 0, "not linear: gone at BGDecay");
	fail(0, 7, 20000, &p, &c);
	tap_is_int(c.after, 2000, "after decay a failure starts anew");
	p.linear = 1;
	fresh(1000);
	fail(1, 8, 10000, &p, &c);
	fail(1, 8, 10000, &p, &c);
	tap_is_int(bad(8, 11500, &p), 2000, "linear: half left half way");
	tap_is_int(bad(8, 12999, &p), 1, "linear: nearly gone");
	tap_is_int(bad(8, 13000, &p), 0, "linear: gone at BGDecay");
	fail(1, 8, 11500, &p, &c);
	tap_is_int(c.after, 4000 / 2 + 2000,
	    "what decayed is gone before the penalty is added");
	p.decay = 0;
	tap_is_int(bad(8, 11500, &p), 0, "BGDecay 0: never bad");
}

static void
test_sections(void)
{
	struct bg_change	c;
	uint8_t			key[16];

	fresh(1000);
	fail(0, 3, 100, &step, &c);
	fail(1, 3, 101, &step, &c);
	tap_ok(c.before == 2000 && c.after == 4000,
	    "a second relay sees the first one's failure");
	fail(2, 3, 102, &step, &c);
	tap_is_int(bad(3, 200, &step), 6000, "badness sums over sections");
	key_of(3, key);
	tap_is_int(bgtable_clean(sec[2], sec, NSEC, key, hash_of(key), 300,
	    &step, &c), 0, "a success is recorded");
	tap_is_int(c.before, 6000, "it was bad before");
	tap_is_int(bad(3, 301, &step), 0, "clean after a success, every "
	    "section");
	fail(0, 3, 400, &step, &c);
	tap_ok(c.before == 0 && c.after == 2000,
	    "failures before the success count no more");
	fail(1, 3, 401, &step, &c);
	tap_is_int(c.after, 4000, "and new ones count again");
	/* Section 1 is wiped (its relay died): its part is gone. */
	memset(sec[1], 0, sizeof(*sec[1]));
	tap_is_int(bad(3, 402, &step), 2000, "a wiped section counts nothing");
}

static void
test_bound(void)
{
	struct bg_change	c;
	uint32_t		n, evicted = 0;
	int			i, over = 0;

	fresh(16);
	for (i = 0; i < 10; i++)
		fail(0, 99999, 1000 + i, &step, &c);
	for (n = 0; n < 5000; n++) {
		if (fail(0, n, 2000 + n, &step, &c) == -1)
			over = 1;
		evicted += c.evicted;
		if (bgtable_used(sec[0]) > 16)
			over = 1;
	}
	tap_ok(!over && bgtable_used(sec[0]) == 16,
	    "5000 addresses in a share of 16: 16 slots, never more");
	tap_ok(evicted >= 5000 - 15, "the rest made room (%u evictions)",
	    evicted);
	tap_is_int(bad(99999, 8000, &step), 20000,
	    "the worst address is never the one evicted");
	fresh(0);
	tap_is_int(fail(0, 1, 1, &step, &c), -1, "a share of 0 records nothing");
	tap_is_int(bad(1, 1, &step), 0, "and finds nothing");
	fresh(5);
	for (n = 0; n < 100; n++)
		fail(0, n, 10 + n, &step, &c);
	tap_ok(bgtable_used(sec[0]) <= 5, "a share below the ways: %u slots",
	    bgtable_used(sec[0]));
}

static void
test_setup(void)
{
	struct bg_change	c;

	fresh(1000);
	fail(0, 5, 10, &step, &c);
	bgtable_setup(sec[0], 1000);
	tap_is_int(bad(5, 11, &step), 2000, "the same layout keeps entries");
	bgtable_setup(sec[0], 2000);
	tap_is_int(bad(5, 11, &step), 0, "another layout starts empty");
	bgtable_setup(sec[0], 1000000);
	tap_ok(atomic_load(&sec[0]->nbuckets) * atomic_load(&sec[0]->ways) <=
	    BG_SLOTS, "a share beyond BG_SLOTS is clamped");
}

static void
test_hostile(void)
{
	struct bg_change	c;
	uint8_t			key[16];
	uint32_t		first;

	fresh(1000);
	fail(0, 6, 10, &step, &c);
	atomic_store(&sec[1]->nbuckets, 0xffffffffU);
	atomic_store(&sec[1]->ways, 0xffffffffU);
	tap_is_int(bad(6, 11, &step), 2000, "a section with a wild layout is "
	    "skipped, not read out of bounds");
	atomic_store(&sec[1]->nbuckets, 125);
	atomic_store(&sec[1]->ways, 8);
	fail(1, 6, 12, &step, &c);
	key_of(6, key);
	first = (uint32_t)(hash_of(key) % 125) * 8;
	/* A writer that died in the middle of a slot. */
	atomic_store(&sec[1]->slot[first].seq, 1);
	tap_is_int(bad(6, 13, &step), 2000, "a half-written slot counts "
	    "nothing");
	/* Badness far above the ceiling from a rogue section. */
	atomic_store(&sec[1]->slot[first].seq, 2);
	atomic_store(&sec[1]->slot[first].badness, 0xffffffffU);
	tap_is_int(bad(6, 13, &step), 60000, "still capped by BGMaxBadness");
}

int
main(void)
{
	int	i;

	for (i = 0; i < NSEC; i++)
		if ((sec[i] = calloc(1, sizeof(*sec[i]))) == NULL)
			return 1;
	test_growth();
	test_decay();
	test_sections();
	test_bound();
	test_setup();
	test_hostile();
	for (i = 0; i < NSEC; i++)
		free(sec[i]);
	return tap_done();
}
