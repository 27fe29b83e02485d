/*
 * Unit tests for lib/shm.c: the sealed region, counters that add and go
 * away, IPv4 and v4-mapped IPv6 as one key, a full table, tombstones
 * reused, sums over sections, a wipe, and a reader racing a writer in
 * another process (a torn slot would show a key with the other's value).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"
#include "regress/tap.h"

#define RACE_READS	2000000

static void
key4(struct shm_key *k, const char *a, uint32_t tag)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	(void)inet_pton(AF_INET, a, &sin->sin_addr);
	shm_key_sockaddr(k, &ss, tag);
}

static void
key6(struct shm_key *k, const char *a, uint32_t tag)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	(void)inet_pton(AF_INET6, a, &sin6->sin6_addr);
	shm_key_sockaddr(k, &ss, tag);
}

/* Key number i: distinct IPv6 addresses. */
static void
keyn(struct shm_key *k, uint32_t i)
{
	memset(k, 0, sizeof(*k));
	k->addr[0] = 0x20;
	k->addr[1] = 0x01;
	memcpy(k->addr + 12, &i, sizeof(i));
}

static uint32_t
nused(const struct shm *m, unsigned int sec, const struct shm_table *t)
{
	const struct shm_thead	*h = (const struct shm_thead *)
	    ((const uint8_t *)shm_section(m, sec) + t->off);

	return atomic_load(&h->nused);
}

static uint32_t
ntomb(const struct shm *m, unsigned int sec, const struct shm_table *t)
{
	const struct shm_thead	*h = (const struct shm_thead *)
	    ((const uint8_t *)shm_section(m, sec) + t->off);

	return h->ntomb;
}

static int
map_own(struct shm *m, int fd, int own)
{
	return shm_map(m, dup(fd), own);
}

static void
test_region(int fd)
{
	struct shm	m;
	int		bad, seals;

	seals = fcntl(fd, F_GET_SEALS);
	tap_ok(seals != -1 && (seals & F_SEAL_SHRINK) &&
	    (seals & F_SEAL_GROW) && (seals & F_SEAL_SEAL), "region sealed");
	tap_ok(ftruncate(fd, 4096) == -1 && errno == EPERM,
	    "region cannot shrink");
	tap_is_int(lseek(fd, 0, SEEK_END), (long long)SHM_REGION_BYTES,
	    "region size");
	bad = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	tap_is_int(ftruncate(bad, SHM_REGION_BYTES), 0, "a plain memfd");
	tap_is_int(shm_map(&m, bad, 0), -1, "unsealed memfd refused");
	bad = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	tap_is_int(ftruncate(bad, 4096), 0, "a small memfd");
	(void)fcntl(bad, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL);
	tap_is_int(shm_map(&m, bad, 0), -1, "wrong size refused");
	tap_is_int(map_own(&m, fd, SHM_SECTIONS), -1, "section out of range");
	tap_is_int(shm_wipe(fd, SHM_SECTIONS), -1, "wipe out of range");
}

static void
test_keys(struct shm *a, struct shm *b)
{
	struct shm_key	k4, k6, kother, ktag;

	key4(&k4, "127.0.0.2", 1);
	key6(&k6, "::ffff:127.0.0.2", 1);
	key4(&kother, "127.0.0.3", 1);
	key4(&ktag, "127.0.0.2", 2);
	tap_ok(memcmp(&k4, &k6, sizeof(k4)) == 0, "v4 and v4-mapped v6 equal");
	tap_is_int(shm_add(a, &shm_conns, &k4, 1), 1, "add v4");
	tap_is_int(shm_add(a, &shm_conns, &k6, 1), 2, "add mapped: same key");
	tap_is_int(shm_add(b, &shm_conns, &k6, 3), 3, "other section");
	tap_is_int(shm_get(b, 0, &shm_conns, &k4), 2, "read of section 0");
	tap_is_int(shm_sum(a, &shm_conns, &k4), 5, "sum over sections");
	tap_is_int(shm_sum(a, &shm_conns, &kother), 0, "other address: 0");
	tap_is_int(shm_sum(a, &shm_conns, &ktag), 0, "other tag: 0");
	tap_is_int(shm_sum(a, &shm_stores, &k4), 0, "other table: 0");
	tap_is_int(shm_add(a, &shm_conns, &kother, -1), -1,
	    "below zero refused");
	tap_is_int(shm_add(a, &shm_conns, &k4, -3), -1, "2 - 3 refused");
	tap_is_int(shm_get(a, 0, &shm_conns, &k4), 2, "unchanged");
	tap_is_int(shm_add(a, &shm_conns, &k4, -2), 0, "down to 0");
	tap_is_int(nused(a, 0, &shm_conns), 0, "removed");
	tap_is_int(shm_sum(b, &shm_conns, &k4), 3, "sum without section 0");
	tap_is_int(shm_add(b, &shm_conns, &k4, -3), 0, "down to 0 in 1");
	tap_is_int(ntomb(b, 1, &shm_conns), 0, "lone tombstone trimmed");
}

/* Fill the store table until an add fails; every added key still reads. */
static void
test_full(struct shm *a)
{
	struct shm_key	k;
	uint32_t	i, n, tomb, bad = 0;
	int32_t		rv;

	for (n = 0; n < 2 * SHM_STORE_SLOTS; n++) {
		keyn(&k, n);
		if (shm_add(a, &shm_stores, &k, (int32_t)n + 1) == -1)
			break;
	}
	tap_ok(n > SHM_STORE_SLOTS / 2 && n <= SHM_STORE_SLOTS,
	    "table takes %u of %u keys before full", n, SHM_STORE_SLOTS);
	keyn(&k, n);
	tap_is_int(shm_add(a, &shm_stores, &k, 1), -1, "full: refused again");
	tap_is_int(shm_get(a, 0, &shm_stores, &k), 0, "refused key absent");
	for (i = 0; i < n; i++) {
		keyn(&k, i);
		if (shm_get(a, 0, &shm_stores, &k) != (int32_t)i + 1)
			bad++;
	}
	tap_is_int(bad, 0, "every added key reads back its value");
	tap_is_int(nused(a, 0, &shm_stores), n, "nused counts them");
	/* Remove every other key: tombstones inside runs. */
	for (i = 0; i < n; i += 2) {
		keyn(&k, i);
		(void)shm_add(a, &shm_stores, &k, -((int32_t)i + 1));
	}
	for (bad = 0, i = 1; i < n; i += 2) {
		keyn(&k, i);
		if (shm_get(a, 0, &shm_stores, &k) != (int32_t)i + 1)
			bad++;
	}
	tap_is_int(bad, 0, "keys behind tombstones still found");
	tap_ok(ntomb(a, 0, &shm_stores) > 0, "tombstones left (%u)",
	    ntomb(a, 0, &shm_stores));
	/* New keys take the tombstones' places. */
	tomb = ntomb(a, 0, &shm_stores);
	for (i = 0; i < n / 4; i++) {
		keyn(&k, 100000 + i);
		if ((rv = shm_add(a, &shm_stores, &k, 7)) != 7)
			break;
	}
	tap_is_int(i, n / 4, "%u new keys added", n / 4);
	tap_ok(ntomb(a, 0, &shm_stores) < tomb, "tombstones reused (%u of %u "
	    "left)", ntomb(a, 0, &shm_stores), tomb);
	for (i = 0; i < 2 * SHM_STORE_SLOTS; i++) {
		keyn(&k, i);
		rv = shm_get(a, 0, &shm_stores, &k);
		if (rv > 0)
			(void)shm_add(a, &shm_stores, &k, -rv);
		keyn(&k, 100000 + i);
		rv = shm_get(a, 0, &shm_stores, &k);
		if (rv > 0)
			(void)shm_add(a, &shm_stores, &k, -rv);
	}
	tap_is_int(nused(a, 0, &shm_stores), 0, "all removed");
}

static void
test_scalars(struct shm *a, struct shm *b)
{
	size_t	off = offsetof(struct shm_scalars, preauth);

	shm_add_scalar(a, off, 4);
	shm_add_scalar(b, off, 3);
	shm_add_scalar(b, off, -1);
	tap_is_int(shm_sum_scalar(a, off), 6, "scalar summed");
	shm_add_scalar(a, off, -4);
	shm_add_scalar(b, off, -2);
	tap_is_int(shm_sum_scalar(b, off), 0, "scalar back to 0");
}

/* Sections 0, 1 and the last: a sum, then section 1 wiped. */
static void
test_wipe(int fd, struct shm *a, struct shm *b)
{
	struct shm	last;
	struct shm_key	k;

	key4(&k, "192.0.2.1", 1);
	(void)shm_add(a, &shm_conns, &k, 2);
	(void)shm_add(b, &shm_conns, &k, 5);
	tap_is_int(map_own(&last, fd, SHM_SECTIONS - 1), 0, "map last");
	(void)shm_add(&last, &shm_conns, &k, 11);
	shm_add_scalar(b, offsetof(struct shm_scalars, preauth), 9);
	tap_is_int(shm_sum(a, &shm_conns, &k), 7, "a section above the "
	    "hiwater is not read");
	shm_hiwater(&last, SHM_SECTIONS);
	shm_hiwater(&last, 3);
	tap_is_int(shm_sum(a, &shm_conns, &k), 18, "sum of three sections, "
	    "the hiwater raised (never lowered)");
	tap_is_int(shm_wipe(fd, 1), 0, "wipe section 1");
	tap_is_int(shm_get(a, 1, &shm_conns, &k), 0, "section 1 empty");
	tap_is_int(nused(a, 1, &shm_conns), 0, "its table empty");
	tap_is_int(shm_sum(a, &shm_conns, &k), 13, "others untouched");
	tap_is_int(shm_sum_scalar(a, offsetof(struct shm_scalars, preauth)),
	    0, "its scalars 0");
	tap_is_int(shm_add(b, &shm_conns, &k, 1), 1, "section 1 usable again");
	(void)shm_add(b, &shm_conns, &k, -1);
	(void)shm_add(a, &shm_conns, &k, -2);
	(void)shm_add(&last, &shm_conns, &k, -11);
	shm_unmap(&last);
}

/*
 * Two keys that start at the same slot of the store table: the writer
 * puts one, then the other, in that one slot, each with its own value.
 */
static void
colliding(struct shm *a, struct shm_key *k1, struct shm_key *k2)
{
	const struct shm_slot	*slots = (const struct shm_slot *)
	    ((const uint8_t *)shm_section(a, a->own) + shm_stores.off +
	    sizeof(struct shm_thead));
	struct shm_key		 k;
	uint32_t		 i, j;
	int64_t			 first[SHM_STORE_SLOTS];

	for (i = 0; i < SHM_STORE_SLOTS; i++)
		first[i] = -1;
	for (i = 0;; i++) {
		keyn(&k, 500000 + i);
		/* The slot an add into an empty table takes is its start. */
		(void)shm_add(a, &shm_stores, &k, 1);
		for (j = 0; j < SHM_STORE_SLOTS; j++)
			if (atomic_load(&slots[j].state) == SHM_USED)
				break;
		(void)shm_add(a, &shm_stores, &k, -1);
		if (first[j] != -1) {
			keyn(k1, (uint32_t)first[j]);
			*k2 = k;
			return;
		}
		first[j] = 500000 + i;
	}
}

static void
test_race(int fd)
{
	struct shm	w, r;
	struct shm_key	k1, k2;
	pid_t		pid;
	uint32_t	i, torn = 0, seen1 = 0, seen2 = 0;
	int32_t		v1, v2;
	int		status;

	tap_is_int(map_own(&w, fd, 2), 0, "writer mapping");
	tap_is_int(map_own(&r, fd, 3), 0, "reader mapping");
	colliding(&w, &k1, &k2);
	if ((pid = fork()) == 0) {
		for (;;) {
			(void)shm_add(&w, &shm_stores, &k1, 1111);
			(void)shm_add(&w, &shm_stores, &k1, -1111);
			(void)shm_add(&w, &shm_stores, &k2, 2222);
			(void)shm_add(&w, &shm_stores, &k2, -2222);
		}
	}
	for (i = 0; i < RACE_READS; i++) {
		v1 = shm_get(&r, 2, &shm_stores, &k1);
		v2 = shm_get(&r, 2, &shm_stores, &k2);
		if ((v1 != 0 && v1 != 1111) || (v2 != 0 && v2 != 2222))
			torn++;
		seen1 += v1 == 1111;
		seen2 += v2 == 2222;
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	tap_ok(seen1 > 0 && seen2 > 0, "reader saw both keys (%u, %u)",
	    seen1, seen2);
	tap_is_int(torn, 0, "no torn read in %u", RACE_READS);
	/* A writer killed mid-write: the parent's wipe ends it. */
	tap_is_int(shm_wipe(fd, 2), 0, "wipe the dead writer's section");
	tap_is_int(shm_get(&r, 2, &shm_stores, &k1) +
	    shm_get(&r, 2, &shm_stores, &k2), 0, "nothing left of it");
	shm_unmap(&w);
	shm_unmap(&r);
}

/*
 * A slot its writer left half-written (seq odd: it died, or is preempted,
 * mid-write) is never read as it stands: past the spin bound it counts as
 * nothing, and once the writer finishes (seq even) it reads again.
 */
static void
test_frozen(struct shm *a)
{
	struct shm_slot	*slots = (struct shm_slot *)((uint8_t *)
	    shm_section(a, a->own) + shm_conns.off + sizeof(struct shm_thead));
	struct shm_key	 k;
	uint32_t	 i, seq;

	key4(&k, "198.51.100.7", 1);
	(void)shm_add(a, &shm_conns, &k, 3);
	for (i = 0; i < SHM_ADDR_SLOTS; i++)
		if (atomic_load(&slots[i].state) == SHM_USED)
			break;
	tap_ok(i < SHM_ADDR_SLOTS, "slot found");
	seq = atomic_load(&slots[i].seq);
	atomic_store(&slots[i].seq, seq + 1);
	atomic_store(&slots[i].value, 9999);
	tap_is_int(shm_get(a, a->own, &shm_conns, &k), 0,
	    "half-written slot not taken");
	tap_is_int(shm_sum(a, &shm_conns, &k), 0, "nor summed");
	atomic_store(&slots[i].value, 4);
	atomic_store(&slots[i].seq, seq + 2);
	tap_is_int(shm_get(a, a->own, &shm_conns, &k), 4, "finished: read");
	(void)shm_add(a, &shm_conns, &k, -4);
}

int
main(void)
{
	struct shm	a, b;
	int		fd;

	if ((fd = shm_create()) == -1) {
		tap_ok(0, "shm_create: %s", strerror(errno));
		return tap_done();
	}
	test_region(fd);
	tap_is_int(map_own(&a, fd, 0), 0, "map section 0");
	tap_is_int(map_own(&b, fd, 1), 0, "map section 1");
	/* As the parent does before it hands out sections 0 and 1. */
	shm_hiwater(&a, 2);
	test_keys(&a, &b);
	test_full(&a);
	test_scalars(&a, &b);
	test_wipe(fd, &a, &b);
	test_frozen(&a);
	test_race(fd);
	shm_unmap(&a);
	shm_unmap(&b);
	close(fd);
	return tap_done();
}
