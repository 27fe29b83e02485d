/*
 * Fixed-size objects from mmap'd slabs. A slab is a power of two of bytes
 * mapped at an address aligned to its size, its header first: slab_put
 * finds an object's slab by masking the object's address, so an object
 * costs its own bytes and nothing more (libevent's 16-byte slots per
 * descriptor, lib/evmem.c, are many). A free object holds the next free
 * one of its slab.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "slab.h"

/*
 * The sanitizer build sees a put object as freed memory, as it saw the
 * heap chunk this replaces: a use after slab_put is reported, not read.
 */
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n)	do { (void)(p); (void)(n); } while (0)
#define SLAB_UNPOISON(p, n)	do { (void)(p); (void)(n); } while (0)
#endif

#define SLAB_ALIGN		16
/* Small objects share a slab of at least this much... */
#define SLAB_MIN_BYTES		(16 * 1024)
/* ...and big ones at least this many to a slab, so the header is noise. */
#define SLAB_MIN_OBJS		8

struct slab {
	LIST_ENTRY(slab)	 entry;		/* in partial, when listed */
	int			 listed;
	size_t			 nused;
	void			*free;		/* first free object */
};

#define ROUND_UP(n, a)		(((n) + (a) - 1) / (a) * (a))
#define SLAB_HEAD_BYTES		ROUND_UP(sizeof(struct slab), SLAB_ALIGN)

int
slab_cache_init(struct slab_cache *c, size_t size)
{
	long	page = sysconf(_SC_PAGESIZE);
	size_t	want;

	memset(c, 0, sizeof(*c));
	LIST_INIT(&c->partial);
	if (size == 0 || size > SLAB_OBJ_MAX_BYTES || page <= 0) {
		errno = EINVAL;
		return -1;
	}
	c->objbytes = ROUND_UP(size, SLAB_ALIGN);
	want = SLAB_HEAD_BYTES + SLAB_MIN_OBJS * c->objbytes;
	if (want < SLAB_MIN_BYTES)
		want = SLAB_MIN_BYTES;
	/* A power of two, and whole pages: page sizes are powers of two. */
	c->slabbytes = (size_t)page;
	while (c->slabbytes < want)
		c->slabbytes *= 2;
	c->perslab = (c->slabbytes - SLAB_HEAD_BYTES) / c->objbytes;
	return 0;
}

static void *
slab_obj(struct slab_cache *c, struct slab *sl, size_t i)
{
	return (uint8_t *)sl + SLAB_HEAD_BYTES + i * c->objbytes;
}

/*
 * slabbytes at an address that is a multiple of it: twice that mapped,
 * then what lies before and after the aligned part given back.
 */
static void *
slab_mmap_aligned(size_t bytes)
{
	uint8_t		*p, *a;
	size_t		 head;

	p = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)ROUND_UP((uintptr_t)p, bytes);
	head = (size_t)(a - p);
	if (head > 0)
		(void)munmap(p, head);
	(void)munmap(a + bytes, bytes - head);
	return a;
}

/* A new slab, every object on its free list. */
static struct slab *
slab_map(struct slab_cache *c)
{
	struct slab	*sl;
	size_t		 i;

	if ((sl = slab_mmap_aligned(c->slabbytes)) == NULL)
		return NULL;
	/* The pages are zero: only the links need writing. */
	for (i = c->perslab; i > 0; i--) {
		*(void **)slab_obj(c, sl, i - 1) = sl->free;
		sl->free = slab_obj(c, sl, i - 1);
		SLAB_POISON(slab_obj(c, sl, i - 1), c->objbytes);
	}
	c->nslabs++;
	return sl;
}

/* The slab of obj: the start of the aligned slab it lies in. */
static struct slab *
slab_of(struct slab_cache *c, void *obj)
{
	return (struct slab *)((uintptr_t)obj & ~(uintptr_t)(c->slabbytes - 1));
}

static void
slab_unmap(struct slab_cache *c, struct slab *sl)
{
	SLAB_UNPOISON(sl, c->slabbytes);
	(void)munmap(sl, c->slabbytes);
	c->nslabs--;
}

void *
slab_get(struct slab_cache *c)
{
	struct slab	*sl;
	void		*obj;

	if ((sl = LIST_FIRST(&c->partial)) == NULL) {
		if ((sl = c->spare) != NULL)
			c->spare = NULL;
		else if ((sl = slab_map(c)) == NULL)
			return NULL;
		LIST_INSERT_HEAD(&c->partial, sl, entry);
		sl->listed = 1;
	}
	obj = sl->free;
	SLAB_UNPOISON(obj, c->objbytes);
	sl->free = *(void **)obj;
	/* Zero but its link: fresh pages, or wiped by slab_put. */
	*(void **)obj = NULL;
	if (++sl->nused == c->perslab) {
		LIST_REMOVE(sl, entry);
		sl->listed = 0;
	}
	c->nobjs++;
	return obj;
}

void
slab_put(struct slab_cache *c, void *obj)
{
	struct slab	*sl;

	if (obj == NULL)
		return;
	sl = slab_of(c, obj);
	explicit_bzero(obj, c->objbytes);
	*(void **)obj = sl->free;
	sl->free = obj;
	SLAB_POISON(obj, c->objbytes);
	c->nobjs--;
	if (--sl->nused > 0) {
		if (!sl->listed) {
			LIST_INSERT_HEAD(&c->partial, sl, entry);
			sl->listed = 1;
		}
		return;
	}
	/* Empty: one stays for the next session, the others go. */
	if (sl->listed) {
		LIST_REMOVE(sl, entry);
		sl->listed = 0;
	}
	if (c->spare == NULL)
		c->spare = sl;
	else
		slab_unmap(c, sl);
}

void
slab_cache_free(struct slab_cache *c)
{
	if (c->spare != NULL) {
		slab_unmap(c, c->spare);
		c->spare = NULL;
	}
}
