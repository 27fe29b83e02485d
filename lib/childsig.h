/*
 * A child's SIGTERM. The parent sends it at shutdown, and it may come
 * while the child is still starting: mmpd/proc.c execs every child with
 * SIGTERM blocked, and the child takes it into its event loop here, where
 * it unblocks it. A SIGTERM that came before is delivered then, so every
 * child leaves through its orderly exit (and, in make leakcheck's build,
 * LeakSanitizer's check), never by the signal's default action.
 */
#ifndef MMP_CHILDSIG_H
#define MMP_CHILDSIG_H

#include <event2/event.h>

/* evsignal_new + evsignal_add for SIGTERM, then unblock it; fatal on
 * failure. */
struct event	*child_sigterm(struct event_base *, event_callback_fn, void *);

#endif /* MMP_CHILDSIG_H */
