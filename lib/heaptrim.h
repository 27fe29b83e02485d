/*
 * The freed heap back to the kernel, a few seconds after a burst of frees.
 * glibc gives back only the top of the heap by itself: the pages a burst
 * of sessions used stay resident below whatever outlives them, and after
 * many sessions closed the heap stays at its highest. malloc_trim returns
 * every free page (madvise, brk: stdio in the sandbox); a timer makes a
 * burst of frees cost one call.
 */
#ifndef MMP_HEAPTRIM_H
#define MMP_HEAPTRIM_H

#include <event2/event.h>

/* At most one malloc_trim per this many seconds. */
#define HEAPTRIM_DELAY_SEC	5

struct heaptrim {
	struct event	*ev;		/* the pending trim, NULL before one */
};

/* After a session's memory was freed: a trim within the delay. */
void	 heaptrim_soon(struct heaptrim *, struct event_base *);
/* At the end, before the event base goes. */
void	 heaptrim_free(struct heaptrim *);

#endif /* MMP_HEAPTRIM_H */
