/*
 * State every relay worker must see, without a process round trip per
 * accept: one shared memory region the parent creates and every relay
 * maps. Each relay writes only its own section; every relay reads all.
 */
#ifndef MMP_SHM_H
#define MMP_SHM_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bgtable.h"

/*
 * Sections: twice Workers' maximum. A relay keeps its section until it
 * exits, and a reload that lowers Workers and raises it again starts new
 * relays while the retired ones still drain their sessions: the parent
 * hands each new relay a free section, never one still written.
 */
#define SHM_SECTIONS		128
#define SHM_ADDR_SLOTS		32768	/* client addresses per relay */
#define SHM_STORE_SLOTS		1024	/* store addresses per relay */
#define SHM_PROBE_MAX		64	/* slots one key may be looked for in */
#define SHM_PAGE_BYTES		4096
#define SHM_MAGIC		0x6d6d7073	/* "mmps" */

/*
 * A key: an address as 16 bytes (IPv4 as IPv4-mapped IPv6, so a client is
 * one key however the listener saw it) and a tag that tells apart what
 * counts separately (the service of a ConnLimits count, the port of a
 * store).
 */
struct shm_key {
	uint8_t		addr[16];
	uint32_t	tag;
};
#define SHM_KEY_WORDS	(sizeof(struct shm_key) / sizeof(uint32_t))

enum shm_slot_state {
	SHM_EMPTY,		/* never used: a search ends here */
	SHM_USED,
	SHM_TOMB,		/* was used: a search goes on past it */
};

/*
 * One slot of a counter table. seq is odd while its writer changes it
 * (a seqlock): a reader that sees it odd, or changed across its read,
 * reads again, so it never takes half a key or another key's value.
 */
struct shm_slot {
	_Atomic uint32_t	seq;
	_Atomic uint32_t	state;		/* enum shm_slot_state */
	_Atomic uint32_t	key[SHM_KEY_WORDS];
	_Atomic int32_t		value;
};

/* A table's head: how many slots hold a key (readers skip an empty one). */
struct shm_thead {
	_Atomic uint32_t	nused;
	uint32_t		ntomb;		/* the writer's own bookkeeping */
};

/*
 * A counter per key, open addressing with linear probing. Entries never
 * move: a removed one leaves a tombstone, reused by the next add that
 * passes it, and a run of tombstones before an empty slot becomes empty.
 */
#define SHM_TABLE(n)	struct { struct shm_thead head; \
			    struct shm_slot slot[n]; }

/* Counters of a whole section, summed over the sections by readers. */
struct shm_scalars {
	_Atomic int32_t		preauth;	/* sessions before their login */
};

/*
 * One relay's section; a new table is one more member (BadGuy's goes
 * after stores). Page-aligned, so a wipe frees whole pages, and pages
 * never touched cost no memory.
 */
struct shm_section {
	struct shm_scalars		scalars;
	/* ConnLimits: sessions open per client address (tag: service). */
	SHM_TABLE(SHM_ADDR_SLOTS)	conns __attribute__((aligned(64)));
	/*
	 * MaxConcurrentConnectionAttempts: connects to a store in flight
	 * (tag: its port).
	 */
	SHM_TABLE(SHM_STORE_SLOTS)	stores __attribute__((aligned(64)));
	/* BadGuy: failed logins this relay saw, per address (bgtable.h). */
	struct bg_section		badguy __attribute__((aligned(64)));
} __attribute__((aligned(SHM_PAGE_BYTES)));

/* The region's first page: written by the parent before it seals it. */
struct shm_header {
	uint32_t	magic;
	uint32_t	nsections;
	uint64_t	section_bytes;
	uint64_t	seed[2];	/* of the keyed hash: no chosen collisions */
	/*
	 * Sections ever handed out are below this (the parent raises it
	 * before a relay gets one): a sum reads no more sections than that.
	 */
	_Atomic uint32_t hiwater;
};

#define SHM_HEADER_BYTES	SHM_PAGE_BYTES
#define SHM_REGION_BYTES	(SHM_HEADER_BYTES + \
			    (size_t)SHM_SECTIONS * sizeof(struct shm_section))

/* A table of struct shm_section, by where it is and how many slots. */
struct shm_table {
	size_t		off;
	uint32_t	nslots;		/* a power of two */
};
#define SHM_TABLE_OF(m)	{ offsetof(struct shm_section, m), \
			    sizeof(((struct shm_section *)0)->m.slot) / \
			    sizeof(struct shm_slot) }
extern const struct shm_table	shm_conns;
extern const struct shm_table	shm_stores;

/* A process's view of the region; own is the section it writes, or -1. */
struct shm {
	uint8_t			*base;
	struct shm_header	*hdr;
	int			 own;
};

/*
 * Parent: the region as a sealed memfd (size fixed, random hash seed),
 * or -1 with errno. shm_wipe empties a section (a relay died: it leaves
 * no phantom entries) by giving its pages back; 0 or -1 with errno.
 */
int	shm_create(void);
int	shm_wipe(int fd, unsigned int section);

/*
 * Relay: map the region read/write and close fd; 0, or -1 (a region of
 * the wrong size or kind). own: the section this process writes.
 */
int	shm_map(struct shm *, int fd, int own);
void	shm_unmap(struct shm *);
/* Parent: section n - 1 is about to be handed out (the mapping's own -1). */
void	shm_hiwater(struct shm *, unsigned int n);
struct shm_section *shm_section(const struct shm *, unsigned int);

/* A key from a socket address (IPv4 as v4-mapped) and a tag. */
void	shm_key_sockaddr(struct shm_key *, const struct sockaddr_storage *,
	    uint32_t tag);

/*
 * The writer's side, on its own section: add delta to key's counter. The
 * new value, or -1 when there is no room for a new key (the table is full
 * along its probe run) or the value would go below 0 (nothing changed).
 * A counter that comes to 0 is removed.
 */
int32_t	shm_add(struct shm *, const struct shm_table *, const struct shm_key *,
	    int32_t delta);
/* key's counter in one section (0 if absent), as any reader sees it. */
int32_t	shm_get(const struct shm *, unsigned int section,
	    const struct shm_table *, const struct shm_key *);
/*
 * key's counter summed over every section. After its own shm_add, a limit
 * check sums: two relays that race both see each other's add (the sum
 * starts with a full fence), so a limit is never exceeded.
 */
int64_t	shm_sum(const struct shm *, const struct shm_table *,
	    const struct shm_key *);
/* The region's keyed hash of len bytes (tables of their own: BadGuy). */
uint64_t shm_hash(const struct shm *, const void *, size_t);
/* A scalar of struct shm_scalars (by offsetof) summed over the sections. */
int64_t	shm_sum_scalar(const struct shm *, size_t);
/* Own section's scalar += delta (single writer). */
void	shm_add_scalar(struct shm *, size_t, int32_t);

#endif /* MMP_SHM_H */
