/*
 * BadGuy's table in the relays' shared memory (lib/bgtable.h): one
 * writer per section, a seqlock per slot for the readers, entries that
 * never move, and a bound that eviction keeps instead of growth.
 */
#include <string.h>

#include "bgtable.h"

/* Reads of a slot its writer is changing before it counts as empty. */
#define BG_SPIN_MAX	(1U << 16)

struct bg_snap {
	uint32_t	key[4];
	uint64_t	badness;
	uint64_t	fail;
	uint64_t	clean;
};

/* Where an address is in each section, and its own slot in the writer's. */
struct bg_found {
	uint64_t	sum;		/* decayed, over all sections, uncapped */
	uint64_t	own;		/* the writer's part of sum */
	uint64_t	clean;		/* newest success in any section */
	int		ownidx;		/* -1: not in the writer's section */
	struct bg_snap	ownsnap;
};

/* A consistent copy; a writer that died mid-write leaves it empty. */
static void
bg_slot_read(const struct bg_slot *sl, struct bg_snap *out)
{
	uint32_t	s1, s2, spins;
	int		i;

	for (spins = 0; spins < BG_SPIN_MAX; spins++) {
		s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		for (i = 0; i < 4; i++)
			out->key[i] = atomic_load_explicit(&sl->key[i],
			    memory_order_relaxed);
		out->badness = atomic_load_explicit(&sl->badness,
		    memory_order_relaxed);
		out->fail = atomic_load_explicit(&sl->fail,
		    memory_order_relaxed);
		out->clean = atomic_load_explicit(&sl->clean,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
		if (s1 == s2)
			return;
	}
	memset(out, 0, sizeof(*out));
}

/* The single writer: readers see the old or the new entry, whole. */
static void
bg_slot_write(struct bg_slot *sl, const struct bg_snap *in)
{
	uint32_t	seq;
	int		i;

	seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < 4; i++)
		atomic_store_explicit(&sl->key[i], in->key[i],
		    memory_order_relaxed);
	atomic_store_explicit(&sl->badness, (uint32_t)in->badness,
	    memory_order_relaxed);
	atomic_store_explicit(&sl->fail, in->fail, memory_order_relaxed);
	atomic_store_explicit(&sl->clean, in->clean, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
}

static int
bg_used(const struct bg_snap *sn)
{
	return sn->fail != 0 || sn->clean != 0;
}

/*
 * The first slot and the number of slots of key's bucket in a section,
 * 0 if it has no table. The layout is another relay's word: bounded here.
 */
static uint32_t
bg_bucket(const struct bg_section *sec, uint64_t hash, uint32_t *first)
{
	uint32_t	nb, ways;

	nb = atomic_load_explicit(&sec->nbuckets, memory_order_acquire);
	ways = atomic_load_explicit(&sec->ways, memory_order_relaxed);
	if (nb == 0 || ways == 0 || ways > BG_WAYS ||
	    (uint64_t)nb * ways > BG_SLOTS)
		return 0;
	*first = (uint32_t)(hash % nb) * ways;
	return ways;
}

/* key's slot in a section: its index (snapshot in sn), or -1. */
static int
bg_find(const struct bg_section *sec, const uint32_t key[4], uint64_t hash,
    struct bg_snap *sn)
{
	uint32_t	first = 0, ways, i;

	ways = bg_bucket(sec, hash, &first);
	for (i = 0; i < ways; i++) {
		bg_slot_read(&sec->slot[first + i], sn);
		if (bg_used(sn) && memcmp(sn->key, key, sizeof(sn->key)) == 0)
			return (int)(first + i);
	}
	return -1;
}

/* What is left at now of one section's badness; a success wipes it. */
static uint64_t
bg_decayed(const struct bg_snap *sn, uint64_t clean, uint64_t now,
    const struct bg_params *p)
{
	uint64_t	elapsed;

	if (sn->fail == 0 || sn->fail <= clean)
		return 0;
	elapsed = now > sn->fail ? now - sn->fail : 0;
	if (elapsed >= p->decay)
		return 0;
	if (p->linear)
		return sn->badness * (p->decay - elapsed) / p->decay;
	return sn->badness;
}

static void
bg_gather(struct bg_section *own, struct bg_section *const *all, size_t n,
    const uint32_t key[4], uint64_t hash, uint64_t now,
    const struct bg_params *p, struct bg_found *f)
{
	struct bg_snap	snap[BG_SECTIONS_MAX];
	int		found[BG_SECTIONS_MAX];
	size_t		i;
	uint64_t	d;

	memset(f, 0, sizeof(*f));
	f->ownidx = -1;
	if (n > BG_SECTIONS_MAX)
		n = BG_SECTIONS_MAX;
	for (i = 0; i < n; i++) {
		found[i] = bg_find(all[i], key, hash, &snap[i]);
		if (found[i] != -1 && snap[i].clean > f->clean)
			f->clean = snap[i].clean;
	}
	for (i = 0; i < n; i++) {
		if (found[i] == -1)
			continue;
		d = bg_decayed(&snap[i], f->clean, now, p);
		f->sum += d;
		if (all[i] == own) {
			f->own = d;
			f->ownidx = found[i];
			f->ownsnap = snap[i];
		}
	}
}

uint64_t
bgtable_badness(struct bg_section *const *all, size_t n,
    const uint8_t key[16], uint64_t hash, uint64_t now,
    const struct bg_params *p)
{
	struct bg_found	f;
	uint32_t	k[4];

	memcpy(k, key, sizeof(k));
	bg_gather(NULL, all, n, k, hash, now, p, &f);
	return f.sum < p->max ? f.sum : p->max;
}

/*
 * A slot of key's bucket in the writer's section for a new address: an
 * empty one, else the one that matters least (least badness left, then
 * the oldest), whose address c->evkey reports. -1: no table.
 */
static int
bg_victim(struct bg_section *own, uint64_t hash, uint64_t now,
    const struct bg_params *p, struct bg_change *c)
{
	struct bg_snap	sn, best;
	uint64_t	d, bestd = UINT64_MAX, age, bestage = UINT64_MAX;
	uint32_t	first = 0, ways, i;
	int		idx = -1;

	ways = bg_bucket(own, hash, &first);
	for (i = 0; i < ways; i++) {
		bg_slot_read(&own->slot[first + i], &sn);
		if (!bg_used(&sn)) {
			atomic_store_explicit(&own->nused,
			    atomic_load_explicit(&own->nused,
			    memory_order_relaxed) + 1, memory_order_relaxed);
			return (int)(first + i);
		}
		d = bg_decayed(&sn, sn.clean, now, p);
		age = sn.fail > sn.clean ? sn.fail : sn.clean;
		if (d < bestd || (d == bestd && age < bestage)) {
			bestd = d;
			bestage = age;
			best = sn;
			idx = (int)(first + i);
		}
	}
	if (idx != -1) {
		c->evicted = 1;
		memcpy(c->evkey, best.key, sizeof(c->evkey));
	}
	return idx;
}

int
bgtable_fail(struct bg_section *own, struct bg_section *const *all, size_t n,
    const uint8_t key[16], uint64_t hash, uint64_t now,
    const struct bg_params *p, struct bg_change *c)
{
	struct bg_found	f;
	struct bg_snap	sn;
	uint64_t	mine;
	int		idx;

	memset(c, 0, sizeof(*c));
	memset(&sn, 0, sizeof(sn));
	memcpy(sn.key, key, sizeof(sn.key));
	bg_gather(own, all, n, sn.key, hash, now, p, &f);
	c->before = f.sum < p->max ? f.sum : p->max;
	if ((idx = f.ownidx) == -1 &&
	    (idx = bg_victim(own, hash, now, p, c)) == -1)
		return -1;
	if (f.ownidx != -1)
		sn.clean = f.ownsnap.clean;
	/* What decayed is gone; a success before wiped what came before. */
	mine = f.own + p->penalty;
	sn.badness = mine < p->max ? mine : p->max;
	sn.fail = now;
	bg_slot_write(&own->slot[idx], &sn);
	mine = f.sum - f.own + sn.badness;
	c->after = mine < p->max ? mine : p->max;
	return 0;
}

int
bgtable_clean(struct bg_section *own, struct bg_section *const *all,
    size_t n, const uint8_t key[16], uint64_t hash, uint64_t now,
    const struct bg_params *p, struct bg_change *c)
{
	struct bg_found	f;
	struct bg_snap	sn;
	int		idx;

	memset(c, 0, sizeof(*c));
	memset(&sn, 0, sizeof(sn));
	memcpy(sn.key, key, sizeof(sn.key));
	bg_gather(own, all, n, sn.key, hash, now, p, &f);
	c->before = f.sum < p->max ? f.sum : p->max;
	if ((idx = f.ownidx) == -1 &&
	    (idx = bg_victim(own, hash, now, p, c)) == -1)
		return -1;
	if (f.ownidx != -1)
		sn = f.ownsnap;
	sn.clean = now;
	bg_slot_write(&own->slot[idx], &sn);
	c->after = 0;
	return 0;
}

void
bgtable_setup(struct bg_section *own, uint32_t share)
{
	struct bg_snap	zero;
	uint32_t	ways, nb, old, i;

	if (share > BG_SLOTS)
		share = BG_SLOTS;
	ways = share < BG_WAYS ? share : BG_WAYS;
	nb = ways > 0 ? share / ways : 0;
	if (atomic_load_explicit(&own->nbuckets, memory_order_relaxed) == nb &&
	    atomic_load_explicit(&own->ways, memory_order_relaxed) == ways)
		return;
	/* Readers see no table while the slots are emptied. */
	old = atomic_load_explicit(&own->nbuckets, memory_order_relaxed) *
	    atomic_load_explicit(&own->ways, memory_order_relaxed);
	atomic_store_explicit(&own->nbuckets, 0, memory_order_release);
	memset(&zero, 0, sizeof(zero));
	for (i = 0; i < old && i < BG_SLOTS; i++)
		bg_slot_write(&own->slot[i], &zero);
	atomic_store_explicit(&own->nused, 0, memory_order_relaxed);
	atomic_store_explicit(&own->ways, ways, memory_order_relaxed);
	atomic_store_explicit(&own->nbuckets, nb, memory_order_release);
}

uint32_t
bgtable_used(const struct bg_section *sec)
{
	return atomic_load_explicit(&sec->nused, memory_order_relaxed);
}
