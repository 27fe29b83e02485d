/*
 * Unit tests for lib/evmem.c: every size class and the heap's blocks,
 * realloc across them with the bytes kept, the bounds; then what it is
 * for: a burst of sessions, each with a descriptor libevent watches and
 * 4 KiB of heap, closed, leaves the heap's pages free for malloc_trim.
 * The same burst without evmem (in a child) keeps them: the control
 * that shows the measure sees the difference.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evmem.h"
#include "slab.h"
#include "regress/tap.h"

#define BURST		3000		/* sessions of the burst */
#define SESSION_BYTES	4096		/* the heap each holds */
/* Resident heap left after the burst and malloc_trim, KiB: with evmem. */
#define HEAP_LEFT_MAX_KIB	1024
/* ...and without: the burst's pages pinned (about 12 MiB here). */
#define HEAP_PINNED_MIN_KIB	4096

static int
aligned(const void *p)
{
	return ((uintptr_t)p & 15) == 0;
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int
same(const uint8_t *p, size_t n, uint8_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return 0;
	return 1;
}

/* Each size from 1 to past the classes: usable, aligned, freed. */
static void
test_sizes(void)
{
	size_t	 n, base = evmem_slab_bytes();
	uint8_t	*p;
	int	 ok = 1;

	for (n = 1; n <= 2100; n++) {
		if ((p = evmem_malloc(n)) == NULL || !aligned(p)) {
			ok = 0;
			break;
		}
		fill(p, n, (uint8_t)n);
		if (!same(p, n, (uint8_t)n))
			ok = 0;
		evmem_free(p);
	}
	tap_ok(ok, "sizes 1 to 2100: aligned, every byte usable");
	{
		void	*v[300];

		for (n = 0; n < 300; n++)
			v[n] = evmem_malloc(100);
		tap_ok(evmem_slab_bytes() >= base + 300 * 100,
		    "small blocks are on slabs");
		for (n = 0; n < 300; n++)
			evmem_free(v[n]);
	}
	base = evmem_slab_bytes();
	p = evmem_malloc(64 * 1024);
	tap_ok(p != NULL && evmem_slab_bytes() == base,
	    "a big block is not on a slab");
	evmem_free(p);
	evmem_free(NULL);
	tap_ok(1, "free of NULL");
	errno = 0;
	tap_ok(evmem_malloc(SIZE_MAX) == NULL && errno == ENOMEM,
	    "SIZE_MAX: NULL, ENOMEM");
	errno = 0;
	tap_ok(evmem_malloc(SIZE_MAX - 15) == NULL && errno == ENOMEM,
	    "SIZE_MAX - 15 (the head would wrap): NULL, ENOMEM");
}

/* Grown and shrunk through every class and the heap, the bytes kept. */
static void
test_realloc(void)
{
	static const size_t	 steps[] = { 1, 20, 40, 100, 150, 300, 700,
	    1000, 1008, 1009, 3000, 70000, 2000, 900, 33, 5 };
	uint8_t			*p = NULL, *q;
	size_t			 i, kept = 0;
	int			 ok = 1;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((q = evmem_realloc(p, steps[i])) == NULL || !aligned(q)) {
			ok = 0;
			break;
		}
		p = q;
		if (!same(p, kept < steps[i] ? kept : steps[i], 0x5a))
			ok = 0;
		fill(p, steps[i], 0x5a);
		kept = steps[i];
	}
	tap_ok(ok, "realloc through %zu sizes kept every byte",
	    sizeof(steps) / sizeof(steps[0]));
	errno = 0;
	q = evmem_realloc(p, SIZE_MAX - 8);
	tap_ok(q == NULL && errno == ENOMEM && same(p, kept, 0x5a),
	    "an impossible realloc fails and keeps the block");
	tap_ok(evmem_realloc(p, 0) == NULL, "realloc to 0 frees");
	p = evmem_realloc(NULL, 50);
	tap_ok(p != NULL && aligned(p), "realloc of NULL allocates");
	evmem_free(p);
}

/* Blocks put back: the slabs go but one spare of each class. */
static void
test_return(void)
{
	void	*v[5000];
	size_t	 i, base = evmem_slab_bytes(), full;

	for (i = 0; i < 5000; i++)
		if ((v[i] = evmem_malloc(48)) == NULL)
			break;
	full = evmem_slab_bytes();
	tap_ok(i == 5000 && full > base + 5000 * 48,
	    "5000 blocks of 48: %zu KiB of slabs", full / 1024);
	for (i = 0; i < 5000; i++)
		evmem_free(v[i]);
	tap_ok(evmem_slab_bytes() <= base + 16 * 1024,
	    "all freed: back to %zu KiB (from %zu)",
	    evmem_slab_bytes() / 1024, base / 1024);
}

/* Resident KiB of the [heap] (after a fork, two mappings). */
static long
heap_kib(void)
{
	FILE	*f;
	char		 line[256];
	unsigned long	 from, to;
	int		 inheap = 0, seen = 0;
	long		 kib = 0, n;

	if ((f = fopen("/proc/self/smaps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &from, &to) == 2) {
			inheap = strstr(line, "[heap]") != NULL;
			continue;
		}
		if (inheap && sscanf(line, "Rss: %ld kB", &n) == 1) {
			kib += n;
			seen = 1;
		}
	}
	fclose(f);
	return seen ? kib : -1;
}

/*
 * The relay's pattern: each session a new descriptor number that an
 * event watches (libevent's slot for it stays) and heap beside it; all
 * closed, malloc_trim. The resident heap left, KiB, or -1.
 */
static long
burst(int withevmem)
{
	struct event_base	*base;
	struct event		**evs;
	void			**mem;
	struct rlimit		 rl;
	int			 p[2], fd, i, n = BURST;
	long			 kib;

	if (withevmem)
		evmem_init();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < BURST + 64) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < BURST + 64)
			n = (int)rl.rlim_cur - 64;
	}
	if (pipe(p) == -1 || (base = event_base_new()) == NULL ||
	    (evs = calloc(n, sizeof(*evs))) == NULL ||
	    (mem = calloc(n, sizeof(*mem))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((mem[i] = malloc(SESSION_BYTES)) == NULL ||
		    (fd = dup(p[0])) == -1 ||
		    (evs[i] = event_new(base, fd, EV_READ, NULL, NULL)) ==
		    NULL || event_add(evs[i], NULL) == -1)
			return -1;
		memset(mem[i], 1, SESSION_BYTES);
	}
	for (i = 0; i < n; i++) {
		fd = event_get_fd(evs[i]);
		event_free(evs[i]);
		close(fd);
		free(mem[i]);
	}
	free(evs);
	free(mem);
	close(p[0]);
	close(p[1]);
	(void)malloc_trim(0);
	kib = heap_kib();
	event_base_free(base);
	return kib;
}

/* burst() in a child, so that each starts from a fresh heap. */
static long
burst_child(int withevmem)
{
	int	 p[2], status;
	long	 kib = -1;
	pid_t	 pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[0]);
		kib = burst(withevmem);
		_exit(write(p[1], &kib, sizeof(kib)) == sizeof(kib) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &kib, sizeof(kib)) != sizeof(kib))
		kib = -1;
	close(p[0]);
	(void)waitpid(pid, &status, 0);
	return kib;
}

/*
 * What the heap keeps is glibc's way: the sanitizer builds and valgrind
 * (memcheck.t) bring allocators of their own, without a [heap].
 */
static int
glibc_heap(void)
{
	const char	*pre = getenv("LD_PRELOAD");

#ifdef SLAB_ASAN
	return 0;
#endif
	return pre == NULL || strstr(pre, "vgpreload") == NULL;
}

static void
test_burst(void)
{
	long	without, with;

	if (!glibc_heap()) {
		tap_ok(1, "control # SKIP the allocator is not glibc's");
		tap_ok(1, "burst # SKIP the allocator is not glibc's");
		return;
	}
	without = burst_child(0);
	with = burst_child(1);
	tap_ok(without >= HEAP_PINNED_MIN_KIB,
	    "control, libevent on the heap: %ld KiB of heap stay resident",
	    without);
	tap_ok(with >= 0 && with <= HEAP_LEFT_MAX_KIB,
	    "libevent on evmem: %ld KiB of heap stay resident", with);
}

int
main(void)
{
	test_sizes();
	test_realloc();
	test_return();
	test_burst();
	return tap_done();
}
