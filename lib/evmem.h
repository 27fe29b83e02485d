/*
 * libevent's memory on slab pages of its own (lib/slab.c), apart from the
 * sessions' heap. libevent keeps a small slot per descriptor number from
 * the first time an event watches it until its event base goes; from the
 * heap, those slots land among the memory of the sessions a burst opened,
 * one every few KiB, and each keeps its page resident after the burst
 * closed: malloc_trim can give back only whole free pages.
 */
#ifndef MMP_EVMEM_H
#define MMP_EVMEM_H

#include <stddef.h>

/*
 * Before anything of libevent is allocated (event_base_new): libevent
 * takes its memory from here from then on, and frees it here.
 */
void	 evmem_init(void);

/* libevent's allocator; exported for the unit test. */
void	*evmem_malloc(size_t);
void	*evmem_realloc(void *, size_t);
void	 evmem_free(void *);

/* Bytes of slabs mapped now (the unit test's). */
size_t	 evmem_slab_bytes(void);

#endif /* MMP_EVMEM_H */
