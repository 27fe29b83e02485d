/*
 * lib/childsig.c: a child started with SIGTERM blocked (as mmpd/proc.c
 * execs every child) that gets SIGTERM before child_sigterm() runs still
 * leaves through its event loop's handler, not by the signal; and one
 * that gets it afterwards too.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "childsig.h"
#include "log.h"
#include "tap.h"

#define HANDLED		7	/* the child's exit: the handler ran */
#define NOT_HANDLED	8	/* the loop ended without it */

static int	handled;

static void
on_term(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	handled = 1;
	event_base_loopbreak(arg);
}

/* The child: SIGTERM blocked, told to wait for it first or not. */
static int
child(int early, int ready[2], int go[2])
{
	struct event_base	*base;
	struct event		*ev;
	sigset_t		 set;
	char			 c = 'r';

	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	alarm(10);
	if (early) {
		/* The parent's SIGTERM comes now, before the loop has it. */
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			return 9;
	}
	if ((base = event_base_new()) == NULL)
		return 9;
	ev = child_sigterm(base, on_term, base);
	if (!early && write(ready[1], &c, 1) != 1)
		return 9;
	(void)event_base_dispatch(base);
	event_free(ev);
	event_base_free(base);
	return handled ? HANDLED : NOT_HANDLED;
}

static void
run(int early, const char *what)
{
	int	ready[2], go[2], status = 0;
	char	c;
	pid_t	pid;

	if (pipe(ready) == -1 || pipe(go) == -1) {
		tap_ok(0, "%s: pipes", what);
		return;
	}
	if ((pid = fork()) == 0)
		_exit(child(early, ready, go));
	if (read(ready[0], &c, 1) != 1)
		tap_diag("no word from the child");
	(void)kill(pid, SIGTERM);
	if (early) {
		/* Let the signal be pending a while before the loop starts. */
		usleep(100000);
		c = 'g';
		if (write(go[1], &c, 1) != 1)
			tap_diag("cannot wake the child");
	}
	(void)waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == HANDLED,
	    "%s: the loop's handler took it (status %#x)", what, status);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

int
main(void)
{
	log_init("childsig", 1, 7);
	run(1, "SIGTERM before child_sigterm");
	run(0, "SIGTERM after child_sigterm");
	return tap_done();
}
