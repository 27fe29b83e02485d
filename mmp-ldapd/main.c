/*
 * mmp-ldapd's start: started by the parent with the parent channel on
 * fd 3; takes its first configuration (ldapd_start), confines itself,
 * then serves the relays until the parent lets it go.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "ldapd.h"
#include "log.h"
#include "leakcheck.h"
#include "sandboxes.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mmp-ldapd [-v]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct ldapd	*env;
	size_t		 i;
	int		 ch, verbose = 0, svc;

	leakcheck_start("mmp-ldapd");
	while ((ch = getopt(argc, argv, "v")) != -1) {
		switch (ch) {
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (fcntl(MMP_CHILD_FD, F_GETFD) == -1) {
		fprintf(stderr, "mmp-ldapd: no parent channel on fd %d: "
		    "mmp-ldapd is started by mmpd\n", MMP_CHILD_FD);
		exit(1);
	}
	/* Before any libldap call: never read ldap.conf or .ldaprc. */
	if (setenv("LDAPNOINIT", "1", 1) == -1)
		exit(1);
	log_init("ldapd", 0, verbose ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);	/* a dead LDAP server is an error */
	signal(SIGHUP, SIG_IGN);	/* the parent sends reloads */
	signal(SIGINT, SIG_IGN);	/* and decides when to stop */
	signal(SIGUSR1, SIG_IGN);	/* log rotation is the parent's */
	env = ldapd_start(verbose);
	/* What mmp-ldapd may do from here on: lib/sandboxes.c. */
	sandbox_ldapd(env->conf);
	env->started = 1;
	ldapd_send_ready(env);
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		conn_start(env->conn[svc]);
		for (i = 0; i < env->nvdconn[svc]; i++)
			conn_start(env->vdconn[svc][i]);
	}
	event_base_dispatch(env->evb);
	ldapd_exit(0);
}
