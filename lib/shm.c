/*
 * The shared memory of the relays (lib/shm.h): the parent creates and
 * wipes it, each relay writes its own section and reads all of them.
 * No locks: one writer per section, a seqlock per slot for the readers.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

/* Reads of a slot its writer is changing before it is skipped (a crash). */
#define SHM_SPIN_MAX		(1U << 20)

_Static_assert(sizeof(struct shm_header) <= SHM_HEADER_BYTES,
    "shm header fits its page");
_Static_assert(SHM_SECTIONS <= BG_SECTIONS_MAX,
    "BadGuy sums over every section");
_Static_assert(sizeof(struct shm_key) == SHM_KEY_WORDS * sizeof(uint32_t),
    "shm key has no padding");
_Static_assert((SHM_ADDR_SLOTS & (SHM_ADDR_SLOTS - 1)) == 0 &&
    (SHM_STORE_SLOTS & (SHM_STORE_SLOTS - 1)) == 0,
    "shm table sizes are powers of two");

const struct shm_table	shm_conns = SHM_TABLE_OF(conns);
const struct shm_table	shm_stores = SHM_TABLE_OF(stores);

/* SipHash-2-4 (Aumasson, Bernstein): keyed, so no client picks collisions. */
#define SIP_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32); \
	v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32); \
} while (0)

static uint64_t
shm_le64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
shm_siphash(const uint64_t seed[2], const uint8_t *in, size_t len)
{
	uint64_t	v0 = 0x736f6d6570736575ULL ^ seed[0];
	uint64_t	v1 = 0x646f72616e646f6dULL ^ seed[1];
	uint64_t	v2 = 0x6c7967656e657261ULL ^ seed[0];
	uint64_t	v3 = 0x7465646279746573ULL ^ seed[1];
	uint64_t	m, b = (uint64_t)len << 56;
	size_t		i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = shm_le64(in + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	while (tail-- > 0)
		b |= (uint64_t)in[i + tail] << (8 * tail);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

int
shm_create(void)
{
	struct shm_header	h;
	int			fd, saved;

	memset(&h, 0, sizeof(h));
	h.magic = SHM_MAGIC;
	h.nsections = SHM_SECTIONS;
	h.section_bytes = sizeof(struct shm_section);
	arc4random_buf(h.seed, sizeof(h.seed));
	if ((fd = memfd_create("mmpd-shared", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return -1;
	if (ftruncate(fd, SHM_REGION_BYTES) == -1 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * The hole reads back as zeros (every slot empty, every counter 0) and
 * its pages go back to the kernel.
 */
int
shm_wipe(int fd, unsigned int section)
{
	if (section >= SHM_SECTIONS) {
		errno = EINVAL;
		return -1;
	}
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    SHM_HEADER_BYTES + (off_t)section * sizeof(struct shm_section),
	    sizeof(struct shm_section));
}

int
shm_map(struct shm *m, int fd, int own)
{
	struct shm_header	*h;
	struct stat		 st;
	void			*p;
	int			 seals;

	memset(m, 0, sizeof(*m));
	m->own = -1;
	if (own < -1 || own >= SHM_SECTIONS || fstat(fd, &st) == -1 ||
	    st.st_size != (off_t)SHM_REGION_BYTES ||
	    (seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)) !=
	    (F_SEAL_SHRINK | F_SEAL_SEAL)) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, SHM_REGION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	h = p;
	if (h->magic != SHM_MAGIC || h->nsections != SHM_SECTIONS ||
	    h->section_bytes != sizeof(struct shm_section)) {
		(void)munmap(p, SHM_REGION_BYTES);
		return -1;
	}
	m->base = p;
	m->hdr = h;
	m->own = own;
	return 0;
}

void
shm_unmap(struct shm *m)
{
	if (m->base != NULL)
		(void)munmap(m->base, SHM_REGION_BYTES);
	memset(m, 0, sizeof(*m));
	m->own = -1;
}

void
shm_hiwater(struct shm *m, unsigned int n)
{
	if (m->hdr == NULL || n > SHM_SECTIONS)
		return;
	if (atomic_load_explicit(&m->hdr->hiwater, memory_order_relaxed) < n)
		atomic_store_explicit(&m->hdr->hiwater, n,
		    memory_order_release);
}

/* Sections a sum reads: those ever handed out. */
static unsigned int
shm_nread(const struct shm *m)
{
	uint32_t	n = atomic_load_explicit(&m->hdr->hiwater,
			    memory_order_acquire);

	return n > SHM_SECTIONS ? SHM_SECTIONS : n;
}

struct shm_section *
shm_section(const struct shm *m, unsigned int i)
{
	if (m->base == NULL || i >= SHM_SECTIONS)
		return NULL;
	return (struct shm_section *)(m->base + SHM_HEADER_BYTES +
	    (size_t)i * sizeof(struct shm_section));
}

void
shm_key_sockaddr(struct shm_key *k, const struct sockaddr_storage *ss,
    uint32_t tag)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	memset(k, 0, sizeof(*k));
	k->tag = tag;
	if (ss->ss_family == AF_INET) {
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6)
		memcpy(k->addr, &sin6->sin6_addr, 16);
}

static struct shm_thead *
shm_head(const struct shm *m, unsigned int section, const struct shm_table *t)
{
	return (struct shm_thead *)((uint8_t *)shm_section(m, section) +
	    t->off);
}

static struct shm_slot *
shm_slots(const struct shm *m, unsigned int section,
    const struct shm_table *t)
{
	return (struct shm_slot *)(shm_head(m, section, t) + 1);
}

static uint32_t
shm_start(const struct shm *m, const struct shm_table *t,
    const uint32_t key[SHM_KEY_WORDS])
{
	return (uint32_t)shm_siphash(m->hdr->seed, (const uint8_t *)key,
	    SHM_KEY_WORDS * sizeof(uint32_t)) & (t->nslots - 1);
}

/*
 * A consistent copy of a slot. A writer that died mid-write leaves seq
 * odd until the parent wipes its section: after SHM_SPIN_MAX tries the
 * slot reads as a tombstone, searched past and counted as nothing.
 */
static uint32_t
shm_slot_read(const struct shm_slot *sl, uint32_t key[SHM_KEY_WORDS],
    int32_t *value)
{
	uint32_t	s1, s2, state, spins;
	size_t		i;

	for (spins = 0; spins < SHM_SPIN_MAX; spins++) {
		s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		state = atomic_load_explicit(&sl->state, memory_order_relaxed);
		for (i = 0; i < SHM_KEY_WORDS; i++)
			key[i] = atomic_load_explicit(&sl->key[i],
			    memory_order_relaxed);
		*value = atomic_load_explicit(&sl->value,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
		if (s1 == s2)
			return state;
	}
	*value = 0;
	return SHM_TOMB;
}

/* The single writer of a slot: readers see the old or the new, whole. */
static void
shm_slot_write(struct shm_slot *sl, uint32_t state,
    const uint32_t key[SHM_KEY_WORDS], int32_t value)
{
	uint32_t	seq;
	size_t		i;

	seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&sl->state, state, memory_order_relaxed);
	for (i = 0; i < SHM_KEY_WORDS; i++)
		atomic_store_explicit(&sl->key[i], key[i],
		    memory_order_relaxed);
	atomic_store_explicit(&sl->value, value, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
}

/*
 * Where key is in one section's table: its slot index, or -1. *tomb gets
 * the first tombstone or empty slot of the run (where an add would go),
 * -1 if the run has none.
 */
static int64_t
shm_find(const struct shm *m, unsigned int section, const struct shm_table *t,
    const uint32_t key[SHM_KEY_WORDS], uint32_t start, int32_t *value,
    int64_t *free_slot)
{
	const struct shm_slot	*slots = shm_slots(m, section, t);
	uint32_t		 k[SHM_KEY_WORDS], i, idx, state;
	int32_t			 v;

	*value = 0;
	if (free_slot != NULL)
		*free_slot = -1;
	for (i = 0; i < SHM_PROBE_MAX && i < t->nslots; i++) {
		idx = (start + i) & (t->nslots - 1);
		state = shm_slot_read(&slots[idx], k, &v);
		if (state != SHM_USED) {
			if (free_slot != NULL && *free_slot == -1)
				*free_slot = idx;
			if (state == SHM_EMPTY)
				return -1;
			continue;
		}
		if (memcmp(k, key, sizeof(k)) == 0) {
			*value = v;
			return idx;
		}
	}
	return -1;
}

/*
 * A tombstone before an empty slot ends no search that could find
 * anything past it: the run of them there becomes empty again.
 */
static void
shm_trim(struct shm *m, const struct shm_table *t, uint32_t idx)
{
	struct shm_thead	*h = shm_head(m, m->own, t);
	struct shm_slot		*slots = shm_slots(m, m->own, t);
	const uint32_t		 zero[SHM_KEY_WORDS] = { 0 };
	uint32_t		 mask = t->nslots - 1, n;

	if (atomic_load_explicit(&slots[(idx + 1) & mask].state,
	    memory_order_relaxed) != SHM_EMPTY)
		return;
	for (n = 0; n < t->nslots && atomic_load_explicit(&slots[idx].state,
	    memory_order_relaxed) == SHM_TOMB; n++) {
		shm_slot_write(&slots[idx], SHM_EMPTY, zero, 0);
		h->ntomb--;
		idx = (idx - 1) & mask;
	}
}

int32_t
shm_add(struct shm *m, const struct shm_table *t, const struct shm_key *key,
    int32_t delta)
{
	struct shm_thead	*h;
	struct shm_slot		*slots;
	uint32_t		 k[SHM_KEY_WORDS], nused;
	int64_t			 idx, free_slot, nv;
	int32_t			 v;

	if (m->base == NULL || m->own < 0)
		return -1;
	h = shm_head(m, m->own, t);
	slots = shm_slots(m, m->own, t);
	memcpy(k, key, sizeof(k));
	idx = shm_find(m, m->own, t, k, shm_start(m, t, k), &v, &free_slot);
	nv = (int64_t)v + delta;
	if (nv < 0 || nv > INT32_MAX)
		return -1;
	nused = atomic_load_explicit(&h->nused, memory_order_relaxed);
	if (idx == -1) {
		if (nv == 0)
			return 0;
		if (free_slot == -1)
			return -1;
		if (atomic_load_explicit(&slots[free_slot].state,
		    memory_order_relaxed) == SHM_TOMB)
			h->ntomb--;
		shm_slot_write(&slots[free_slot], SHM_USED, k, (int32_t)nv);
		atomic_store_explicit(&h->nused, nused + 1,
		    memory_order_release);
		return (int32_t)nv;
	}
	if (nv > 0) {
		shm_slot_write(&slots[idx], SHM_USED, k, (int32_t)nv);
		return (int32_t)nv;
	}
	shm_slot_write(&slots[idx], SHM_TOMB, k, 0);
	h->ntomb++;
	atomic_store_explicit(&h->nused, nused - 1, memory_order_release);
	shm_trim(m, t, (uint32_t)idx);
	return 0;
}

int32_t
shm_get(const struct shm *m, unsigned int section, const struct shm_table *t,
    const struct shm_key *key)
{
	uint32_t	k[SHM_KEY_WORDS];
	int32_t		v;

	if (m->base == NULL || section >= SHM_SECTIONS)
		return 0;
	memcpy(k, key, sizeof(k));
	(void)shm_find(m, section, t, k, shm_start(m, t, k), &v, NULL);
	return v;
}

int64_t
shm_sum(const struct shm *m, const struct shm_table *t,
    const struct shm_key *key)
{
	uint32_t	k[SHM_KEY_WORDS], start, i, n;
	int64_t		sum = 0;
	int32_t		v;

	if (m->base == NULL)
		return 0;
	/* Our add before their counts: a race of two adds is seen by one. */
	atomic_thread_fence(memory_order_seq_cst);
	memcpy(k, key, sizeof(k));
	start = shm_start(m, t, k);
	n = shm_nread(m);
	for (i = 0; i < n; i++) {
		/* A relay with nothing in this table costs one read. */
		if (atomic_load_explicit(&shm_head(m, i, t)->nused,
		    memory_order_acquire) == 0)
			continue;
		(void)shm_find(m, i, t, k, start, &v, NULL);
		sum += v;
	}
	return sum;
}

int64_t
shm_sum_scalar(const struct shm *m, size_t off)
{
	const _Atomic int32_t	*p;
	int64_t			 sum = 0;
	unsigned int		 i, n;

	if (m->base == NULL)
		return 0;
	atomic_thread_fence(memory_order_seq_cst);
	n = shm_nread(m);
	for (i = 0; i < n; i++) {
		p = (const _Atomic int32_t *)((const uint8_t *)shm_section(m,
		    i) + offsetof(struct shm_section, scalars) + off);
		sum += atomic_load_explicit(p, memory_order_relaxed);
	}
	return sum;
}

void
shm_add_scalar(struct shm *m, size_t off, int32_t delta)
{
	_Atomic int32_t	*p;

	if (m->base == NULL || m->own < 0)
		return;
	p = (_Atomic int32_t *)((uint8_t *)shm_section(m, m->own) +
	    offsetof(struct shm_section, scalars) + off);
	atomic_fetch_add_explicit(p, delta, memory_order_relaxed);
}

uint64_t
shm_hash(const struct shm *m, const void *in, size_t len)
{
	return shm_siphash(m->hdr->seed, in, len);
}
