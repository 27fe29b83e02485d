/*
 * Unit tests for lib/slab.c: sizes, alignment, zeroed and wiped objects,
 * slabs that go back to the kernel when empty (mincore says ENOMEM for an
 * unmapped page), the one spare, and a random model of gets and puts.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slab.h"
#include "regress/tap.h"

/* The sanitizer build poisons put objects: the wipe test peeks past it. */
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define PEEK_BEGIN(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define PEEK_END(p, n)		ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define PEEK_BEGIN(p, n)	do { (void)(p); (void)(n); } while (0)
#define PEEK_END(p, n)		do { (void)(p); (void)(n); } while (0)
#endif

#define OBJ_BYTES	1000
#define MODEL_LIVE	700
#define MODEL_STEPS	50000

/* Whether the page of p is mapped. */
static int
mapped(const void *p)
{
	long		page = sysconf(_SC_PAGESIZE);
	unsigned char	vec;

	return mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), 1,
	    &vec) == 0;
}

/* Bytes of anonymous memory mapped (/proc/self/maps), or 0. */
static size_t
anon_bytes(void)
{
	FILE		*f;
	char		 line[512];
	unsigned long	 from, to;
	size_t		 n = 0;
	int		 pos;

	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		pos = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s%n", &from, &to,
		    &pos) < 2 || pos == 0)
			continue;
		/* No path after the inode: anonymous. */
		if (line[pos + strspn(line + pos, " ")] == '\n')
			n += to - from;
	}
	fclose(f);
	return n;
}

static int
valgrind(void)
{
	const char	*pre = getenv("LD_PRELOAD");

	return pre != NULL && strstr(pre, "vgpreload") != NULL;
}

/* The slabs the objects lie in, by the aligned block of each. */
static size_t
blocks(uint8_t **objs, size_t n, size_t slabbytes)
{
	size_t		 i, j, nb = 0;
	uintptr_t	*b;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		uintptr_t	 x = (uintptr_t)objs[i] & ~(uintptr_t)(slabbytes - 1);

		for (j = 0; j < nb && b[j] != x; j++)
			;
		if (j == nb)
			b[nb++] = x;
	}
	free(b);
	return nb;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

static void
test_init(void)
{
	struct slab_cache	c;
	long			page = sysconf(_SC_PAGESIZE);

	tap_is_int(slab_cache_init(&c, 0), -1, "size 0 is refused");
	tap_is_int(slab_cache_init(&c, SLAB_OBJ_MAX_BYTES + 1), -1,
	    "a size over SLAB_OBJ_MAX_BYTES is refused");
	tap_is_int(slab_cache_init(&c, SLAB_OBJ_MAX_BYTES), 0,
	    "SLAB_OBJ_MAX_BYTES is taken");
	tap_ok(c.perslab >= 8 && c.slabbytes % page == 0,
	    "big objects: %zu to a slab of whole pages", c.perslab);
	tap_is_int(slab_cache_init(&c, 1), 0, "size 1 is taken");
	tap_ok(c.objbytes % 16 == 0 && c.slabbytes % page == 0,
	    "objects and slabs are aligned");
}

/* One slab filled, one more object, all put back. */
static void
test_slabs(void)
{
	struct slab_cache	c;
	uint8_t			**objs;
	size_t			i, n, anon;
	int			ok = 1;

	if (slab_cache_init(&c, OBJ_BYTES) == -1 ||
	    (objs = calloc(c.perslab * 3, sizeof(*objs))) == NULL) {
		tap_ok(0, "set up: %s", strerror(errno));
		return;
	}
	n = c.perslab * 3;
	anon = anon_bytes();
	for (i = 0; i < n; i++) {
		if ((objs[i] = slab_get(&c)) == NULL ||
		    (uintptr_t)objs[i] % 16 != 0 ||
		    !all_zero(objs[i], OBJ_BYTES))
			ok = 0;
		else
			memset(objs[i], 0xa5, OBJ_BYTES);
		if (i + 1 == c.perslab && c.nslabs != 1)
			ok = 0;
	}
	tap_ok(ok, "%zu objects: zeroed, aligned, one slab per %zu", n,
	    c.perslab);
	tap_is_int(c.nslabs, 3, "three slabs for them");
	/* Under valgrind (memcheck.t) its own mappings come and go too. */
	if (valgrind())
		tap_ok(1, "three slabs' bytes mapped # SKIP valgrind maps "
		    "memory of its own meanwhile");
	else
		tap_is_int(anon_bytes() - anon, 3 * c.slabbytes,
		    "three slabs' bytes mapped, no more");
	tap_is_int(blocks(objs, n, c.slabbytes), 3,
	    "each slab at a multiple of its size (the objects lie in 3)");
	tap_is_int(c.nobjs, n, "all counted");
	ok = 1;
	for (i = 0; i < n && ok; i++)
		ok = objs[i][0] == 0xa5 && objs[i][OBJ_BYTES - 1] == 0xa5;
	tap_ok(ok, "no object was written over by another");

	/* The first slab emptied: it is the spare, mapped and wiped. */
	for (i = 0; i < c.perslab; i++)
		slab_put(&c, objs[i]);
	tap_is_int(c.nslabs, 3, "an emptied slab stays as the spare");
	PEEK_BEGIN(objs[1], OBJ_BYTES);
	tap_ok(mapped(objs[1]) && all_zero(objs[1] + sizeof(void *),
	    OBJ_BYTES - sizeof(void *)), "a put object is wiped");
	PEEK_END(objs[1], OBJ_BYTES);
	/* The second one emptied: it goes back to the kernel. */
	for (i = c.perslab; i < 2 * c.perslab; i++)
		slab_put(&c, objs[i]);
	tap_is_int(c.nslabs, 2, "a second empty slab is unmapped");
	tap_ok(!mapped(objs[c.perslab]) && !mapped(objs[2 * c.perslab - 1]),
	    "its pages are gone (mincore: ENOMEM)");
	tap_ok(mapped(objs[0]), "the spare's pages are still there");

	/* A full slab that gets an object back serves the next get. */
	slab_put(&c, objs[2 * c.perslab + 1]);
	tap_ok(slab_get(&c) == objs[2 * c.perslab + 1],
	    "a slab that was full takes the next get again");
	tap_is_int(c.nslabs, 2, "no slab mapped for it");
	for (i = 2 * c.perslab; i < n; i++)
		slab_put(&c, objs[i]);
	tap_is_int(c.nslabs, 1, "all put back: only the spare is left");
	tap_is_int(c.nobjs, 0, "none counted");
	tap_ok(!mapped(objs[2 * c.perslab]), "the last full slab is unmapped");
	objs[0] = slab_get(&c);
	tap_is_int(c.nslabs, 1, "the spare serves the next get");
	tap_ok(objs[0] != NULL && all_zero(objs[0], OBJ_BYTES),
	    "an object from the spare is zeroed (its free link too)");
	slab_put(&c, objs[0]);
	slab_cache_free(&c);
	tap_is_int(c.nslabs, 0, "slab_cache_free unmaps the spare");
	tap_ok(!mapped(objs[0]), "its pages are gone");
	slab_put(&c, NULL);
	free(objs);
}

/* Random gets and puts against a table of live objects and their marks. */
static void
test_model(void)
{
	struct slab_cache	c;
	uint32_t		*live[MODEL_LIVE];
	size_t			nlive = 0, i, step, j;
	int			ok = 1;

	memset(live, 0, sizeof(live));
	if (slab_cache_init(&c, OBJ_BYTES) == -1) {
		tap_ok(0, "model: set up");
		return;
	}
	srandom(16);
	for (step = 0; step < MODEL_STEPS && ok; step++) {
		if (nlive < MODEL_LIVE && (nlive == 0 || random() % 2)) {
			if ((live[nlive] = slab_get(&c)) == NULL) {
				ok = 0;
				break;
			}
			for (j = 0; j < OBJ_BYTES / 4; j++)
				live[nlive][j] = (uint32_t)step;
			nlive++;
			continue;
		}
		i = random() % nlive;
		for (j = 0; j < OBJ_BYTES / 4 && ok; j++)
			ok = live[i][j] == live[i][0];
		slab_put(&c, live[i]);
		live[i] = live[--nlive];
		ok = ok && c.nobjs == nlive &&
		    c.nslabs <= (nlive + c.perslab - 1) / c.perslab + 1 +
		    nlive;
	}
	tap_ok(ok, "model: %zu steps, every object kept its bytes", step);
	while (nlive > 0)
		slab_put(&c, live[--nlive]);
	tap_is_int(c.nslabs, 1, "model: all put back, only the spare mapped");
	slab_cache_free(&c);
}

#ifdef SLAB_ASAN
/* In the sanitizer build, a read after slab_put or a second put is fatal. */
static void
test_asan(void)
{
	struct slab_cache	c;
	volatile uint8_t	*p, *q;
	pid_t			pid;
	int			status, what, fd;

	for (what = 0; what < 2; what++) {
		if (slab_cache_init(&c, OBJ_BYTES) == -1 ||
		    (p = slab_get(&c)) == NULL || (q = slab_get(&c)) == NULL) {
			tap_ok(0, "asan: set up");
			return;
		}
		p[OBJ_BYTES - 1] = 1;
		slab_put(&c, (void *)p);	/* its slab stays: q is in it */
		fflush(stdout);
		if ((pid = fork()) == 0) {
			/* The report is expected: keep it out of the log. */
			if ((fd = open("/dev/null", O_WRONLY)) != -1)
				(void)dup2(fd, STDERR_FILENO);
			if (what == 0)
				_exit(p[OBJ_BYTES - 1] == 0 ? 0 : 2);
			slab_put(&c, (void *)p);
			_exit(0);
		}
		status = 0;
		(void)waitpid(pid, &status, 0);
		tap_ok(pid > 0 && !(WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0), "asan: %s is reported",
		    what == 0 ? "a read after slab_put" : "a second slab_put");
		slab_put(&c, (void *)q);
		slab_cache_free(&c);
	}
}
#endif

int
main(void)
{
	test_init();
	test_slabs();
	test_model();
#ifdef SLAB_ASAN
	test_asan();
#endif
	return tap_done();
}
