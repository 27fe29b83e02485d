/*
 * BadGuy's table: per client address, the badness its failed logins
 * earned. One table per relay section of the shared memory (lib/shm.h):
 * a relay records the failures it saw in its own, and an address's
 * badness is the decayed sum over all sections, capped by BGMaxBadness.
 */
#ifndef MMP_BGTABLE_H
#define MMP_BGTABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BG_SLOTS	16384	/* addresses one relay's section can hold */
#define BG_WAYS		8	/* slots an address may take in a section */
#define BG_SECTIONS_MAX	128	/* sections summed over (SHM_SECTIONS) */

/*
 * One address in one section. seq is odd while the writer changes it (a
 * seqlock, as in lib/shm.c). Empty while fail and clean are both 0.
 */
struct bg_slot {
	_Atomic uint32_t	seq;
	_Atomic uint32_t	badness;	/* ms, just after the failure */
	_Atomic uint64_t	fail;		/* ms (CLOCK_MONOTONIC), 0 none */
	_Atomic uint64_t	clean;		/* ms of a success, 0 none */
	_Atomic uint32_t	key[4];		/* the address, 16 bytes */
};

/*
 * A relay's table, set-associative: an address lives only in the BG_WAYS
 * slots of its bucket (keyed hash), so a lookup reads a few slots per
 * section and a full bucket evicts its least bad entry, never grows.
 * nbuckets * ways <= the relay's share of BGMax; 0 buckets: nothing.
 */
struct bg_section {
	_Atomic uint32_t	nbuckets;
	_Atomic uint32_t	ways;
	_Atomic uint32_t	nused;		/* slots holding an address */
	_Atomic uint64_t	delayed;	/* logins BadGuy delayed */
	struct bg_slot		slot[BG_SLOTS];
};

/* A service's BG* keys in milliseconds. */
struct bg_params {
	uint64_t	penalty;
	uint64_t	max;
	uint64_t	decay;
	int		linear;
};

/* What a failure or a success changed, for the log lines. */
struct bg_change {
	uint64_t	before;		/* ms of badness before */
	uint64_t	after;		/* and after */
	int		evicted;	/* an address made room */
	uint8_t		evkey[16];	/* that address */
};

/*
 * The writer: lay its table out for share addresses (at most BG_SLOTS).
 * A different layout empties the table first; the same keeps it.
 */
void		bgtable_setup(struct bg_section *own, uint32_t share);
/*
 * key's badness in ms at now (ms), summed over n sections (at most
 * BG_SECTIONS_MAX), capped by max. hash: a keyed hash of key, the same
 * in every relay.
 */
uint64_t	bgtable_badness(struct bg_section *const *all, size_t n,
		    const uint8_t key[16], uint64_t hash, uint64_t now,
		    const struct bg_params *);
/*
 * The writer records a failure of key in its own section (one of all).
 * 0, or -1 when it has no table (a share of 0): nothing recorded.
 */
int		bgtable_fail(struct bg_section *own,
		    struct bg_section *const *all, size_t n,
		    const uint8_t key[16], uint64_t hash, uint64_t now,
		    const struct bg_params *, struct bg_change *);
/*
 * The writer records a success of key: every failure of it so far, in
 * any section, counts no more. 0 or -1 as bgtable_fail.
 */
int		bgtable_clean(struct bg_section *own,
		    struct bg_section *const *all, size_t n,
		    const uint8_t key[16], uint64_t hash, uint64_t now,
		    const struct bg_params *, struct bg_change *);
/* Addresses in the table of a section, as a reader sees them. */
uint32_t	bgtable_used(const struct bg_section *);

#endif /* MMP_BGTABLE_H */
