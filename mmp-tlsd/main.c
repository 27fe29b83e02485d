/*
 * mmp-tlsd's start: `mmp-tlsd [-v] -i INDEX`, the parent channel on fd 3;
 * takes its first configuration (tlsd_start), confines itself, then does
 * the TLS sessions the relays hand it until the parent lets it go.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "leakcheck.h"
#include "log.h"
#include "sandboxes.h"
#include "tlsd.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mmp-tlsd [-v] -i index\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	const char	*errstr;
	uint32_t	 index = 0;
	int		 ch, verbose = 0, have_index = 0;

	leakcheck_start("mmp-tlsd");
	while ((ch = getopt(argc, argv, "i:v")) != -1) {
		switch (ch) {
		case 'i':
			index = strtonum(optarg, 0, UINT32_MAX / 2, &errstr);
			if (errstr != NULL)
				usage();
			have_index = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_index)
		usage();
	if (fcntl(MMP_CHILD_FD, F_GETFD) == -1) {
		fprintf(stderr, "mmp-tlsd: no parent channel on fd %d: "
		    "mmp-tlsd is started by mmpd\n", MMP_CHILD_FD);
		exit(1);
	}
	log_init("tlsd", 0, verbose ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);	/* a peer gone is a write error */
	signal(SIGHUP, SIG_IGN);	/* the parent sends reloads */
	signal(SIGINT, SIG_IGN);	/* and decides when to stop */
	signal(SIGUSR1, SIG_IGN);	/* log rotation is the parent's */
	tlsd_start(verbose, index);
	/* What mmp-tlsd may do from here on: lib/sandboxes.c. */
	sandbox_tlsd(env->conf);
	env->started = 1;
	tlsd_send_ready();
	event_base_dispatch(env->evb);
	tlsd_exit(0);
}
