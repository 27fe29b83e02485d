/*
 * libevent's allocator: a block of at most 1 KiB, head included (the
 * events, the per-descriptor slots, the event base), comes from the slab
 * cache of its size class, a bigger one (the arrays libevent grows to the
 * highest descriptor number or the number of timers) from malloc. Each
 * block is preceded by its head: the size asked and where it came from,
 * which is all that free and realloc need.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evmem.h"
#include "slab.h"

struct evmem_head {
	size_t		 size;		/* asked */
	size_t		 class;		/* in evmem_classes, or EVMEM_HEAP */
};
_Static_assert(sizeof(struct evmem_head) % 16 == 0,
    "evmem: a block stays 16-byte aligned");

/*
 * The size classes, head included: struct event is 128 bytes on x86-64
 * (class 160), a descriptor's slot (struct evmap_io) 16 (class 32, as
 * glibc's chunk for it); at most a third of a block is lost to its class.
 */
static const size_t	evmem_sizes[] = {
	32, 48, 64, 96, 128, 160, 192, 256, 384, 512, 768, 1024
};
#define EVMEM_NCLASS		(sizeof(evmem_sizes) / sizeof(evmem_sizes[0]))
#define EVMEM_HEAP		EVMEM_NCLASS

static struct slab_cache	evmem_classes[EVMEM_NCLASS];
static int			evmem_ready;

static void
evmem_setup(void)
{
	size_t	i;

	for (i = 0; i < EVMEM_NCLASS; i++)
		if (slab_cache_init(&evmem_classes[i], evmem_sizes[i]) == -1)
			abort();	/* constant sizes, each within bounds */
	evmem_ready = 1;
}

/* The caches are set up by the first block asked (evmem_malloc). */
void
evmem_init(void)
{
	event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}

/* The class of a block of n bytes with its head, EVMEM_HEAP if none. */
static size_t
evmem_class(size_t n)
{
	size_t	i;

	for (i = 0; i < EVMEM_NCLASS; i++)
		if (n <= evmem_sizes[i])
			return i;
	return EVMEM_HEAP;
}

void *
evmem_malloc(size_t size)
{
	struct evmem_head	*h;
	size_t			 n, class;

	if (size > SIZE_MAX - sizeof(*h)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!evmem_ready)
		evmem_setup();
	n = sizeof(*h) + size;
	class = evmem_class(n);
	if (class == EVMEM_HEAP)
		h = malloc(n);
	else
		h = slab_get(&evmem_classes[class]);
	if (h == NULL)
		return NULL;
	h->size = size;
	h->class = class;
	return h + 1;
}

void
evmem_free(void *p)
{
	struct evmem_head	*h;

	if (p == NULL)
		return;
	h = (struct evmem_head *)p - 1;
	if (h->class == EVMEM_HEAP)
		free(h);
	else
		slab_put(&evmem_classes[h->class], h);
}

void *
evmem_realloc(void *p, size_t size)
{
	struct evmem_head	*h, *nh;
	void			*q;

	if (p == NULL)
		return evmem_malloc(size);
	if (size == 0) {
		evmem_free(p);
		return NULL;
	}
	if (size > SIZE_MAX - sizeof(*h)) {
		errno = ENOMEM;
		return NULL;
	}
	h = (struct evmem_head *)p - 1;
	if (h->class == evmem_class(sizeof(*h) + size)) {
		if (h->class != EVMEM_HEAP) {
			h->size = size;
			return p;
		}
		if ((nh = realloc(h, sizeof(*h) + size)) == NULL)
			return NULL;
		nh->size = size;
		return nh + 1;
	}
	if ((q = evmem_malloc(size)) == NULL)
		return NULL;
	memcpy(q, p, size < h->size ? size : h->size);
	evmem_free(p);
	return q;
}

size_t
evmem_slab_bytes(void)
{
	size_t	i, n = 0;

	for (i = 0; i < EVMEM_NCLASS; i++)
		n += evmem_classes[i].nslabs * evmem_classes[i].slabbytes;
	return n;
}
