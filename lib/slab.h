/*
 * Objects of one size on pages of their own: a slab of whole pages holds
 * several, and goes back to the kernel as soon as its last object is
 * freed. For what many sessions hold for long: glibc's heap keeps a page
 * resident for any small chunk left on it, so the memory of a burst of
 * sessions spread among long-lived allocations never came back.
 */
#ifndef MMP_SLAB_H
#define MMP_SLAB_H

#include <sys/queue.h>
#include <stddef.h>

struct slab;
LIST_HEAD(slab_list, slab);

struct slab_cache {
	size_t			 objbytes;	/* an object, aligned */
	size_t			 slabbytes;	/* a power of two, whole pages */
	size_t			 perslab;
	struct slab_list	 partial;	/* slabs with a free object */
	struct slab		*spare;		/* one empty slab, kept */
	size_t			 nslabs;	/* mapped, the spare included */
	size_t			 nobjs;		/* handed out */
};

/* For objects of size bytes (at most SLAB_OBJ_MAX_BYTES). 0 or -1. */
int	 slab_cache_init(struct slab_cache *, size_t size);
/* A zeroed object, 16-byte aligned, or NULL (ENOMEM). */
void	*slab_get(struct slab_cache *);
/* Wipes it; an empty slab goes back to the kernel (but the spare). */
void	 slab_put(struct slab_cache *, void *);
/* Unmaps the spare; every object must have been put back. */
void	 slab_cache_free(struct slab_cache *);

#define SLAB_OBJ_MAX_BYTES	(64 * 1024)

/* Defined in the sanitizer build, where a put object is poisoned. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN	1
#endif
#endif

#endif /* MMP_SLAB_H */
