#include <malloc.h>
#include <stddef.h>

#include "heaptrim.h"

static void
heaptrim_run(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	(void)malloc_trim(0);
}

void
heaptrim_soon(struct heaptrim *t, struct event_base *base)
{
	struct timeval	tv = { HEAPTRIM_DELAY_SEC, 0 };

	/* Out of memory: the pages stay until the next session's end. */
	if (t->ev == NULL &&
	    (t->ev = evtimer_new(base, heaptrim_run, NULL)) == NULL)
		return;
	if (!evtimer_pending(t->ev, NULL))
		evtimer_add(t->ev, &tv);
}

void
heaptrim_free(struct heaptrim *t)
{
	if (t->ev != NULL)
		event_free(t->ev);
	t->ev = NULL;
}
