/* A child's SIGTERM into its event loop (lib/childsig.h). */
#include <signal.h>

#include <event2/event.h>

#include "childsig.h"
#include "log.h"

struct event *
child_sigterm(struct event_base *base, event_callback_fn cb, void *arg)
{
	struct event	*ev;
	sigset_t	 set;

	if ((ev = evsignal_new(base, SIGTERM, cb, arg)) == NULL ||
	    evsignal_add(ev, NULL) == -1)
		fatalx("cannot handle SIGTERM");
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	return ev;
}
