/*
 * libFuzzer target for the parent's imsg receivers (mmpd/proc.c
 * proc_dispatch_relay, _ldapd, _tlsd, _stats). As in regress/mmpd/proc,
 * proc.c is included, not linked, so that its children can be set up
 * without fork and exec (proc_new, proc_spawned) and kill(2) and fork(2)
 * are fakes: a child the parent gives up on is "killed" (recorded), its
 * channel closed, and the harness starts it again at the next input, as
 * proc_reap would. The harness plays two relays, mmp-ldapd, mmp-tlsd 0 and
 * the statistics process (rxpeer.h has the input's format), with the
 * fixed configuration of rxpeer.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static int	fake_kill(pid_t, int);
static pid_t	fake_fork(void);
#define kill	fake_kill
#define fork	fake_fork
#include "mmpd/proc.c"
#undef kill
#undef fork

#include "rxpeer.h"

#define FAKE_PID_BASE	5000000	/* over Linux PID_MAX_LIMIT: no process */

enum { END_RELAY0, END_RELAY1, END_LDAPD, END_TLSD, END_STATS, END_MAX };

static struct parent	 parent_env;	/* penv: parentenv.c */
static struct rx_end	 ends[END_MAX];
static struct child	*kids[END_MAX];
static pid_t		 npids;
static unsigned long	 nkills;

/* In the order the children need each other: relays connect to peers. */
static const struct {
	enum child_kind	kind;
	unsigned int	index;
} kinds[END_MAX] = {
	[END_RELAY0] =	{ CHILD_RELAY, 0 },
	[END_RELAY1] =	{ CHILD_RELAY, 1 },
	[END_LDAPD] =	{ CHILD_LDAPD, 0 },
	[END_TLSD] =	{ CHILD_TLSD, 0 },
	[END_STATS] =	{ CHILD_STATS, 0 },
};

static int
fake_kill(pid_t pid, int sig)
{
	(void)pid;
	(void)sig;
	nkills++;
	return 0;
}

/* A restart's fork: never here (the harness starts children itself). */
static pid_t
fake_fork(void)
{
	errno = EAGAIN;
	return -1;
}

/*
 * The child of end i (again): as proc_reap and proc_spawn would after its
 * death, without a process. Its slot keeps its counters.
 */
static void
start_child(int i)
{
	struct child	*c = kids[i];
	int		 fd;

	(void)evtimer_del(c->restart);
	proc_shm_release(c);
	fd = rx_end_open(&ends[i], c->name);
	proc_spawned(c, FAKE_PID_BASE + ++npids, fd);
}

static void
setup_parent(void)
{
	int	sp[2];

	penv = &parent_env;
	TAILQ_INIT(&penv->children);
	TAILQ_INIT(&penv->old_listeners);
	if ((penv->base = event_base_new()) == NULL)
		abort();
	penv->conf = rx_conf();
	penv->gen = RX_CONF_GEN;
	if ((penv->shmfd = shm_create()) == -1 ||
	    shm_map(&penv->shm, dup(penv->shmfd), -1) == -1)
		abort();
	/* StatsListen: a socket nobody connects to. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		abort();
	close(sp[1]);
	penv->stats.fd = sp[0];
	(void)strlcpy(penv->stats.cl.label, "127.0.0.1:9100",
	    sizeof(penv->stats.cl.label));
	penv->pidfd = penv->ctlfd = -1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i, fd;

	(void)argc;
	(void)argv;
	rx_init();
	setup_parent();
	/* AUDIT lines, as AuditLog would write them: nowhere. */
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	log_set_audit(SVC_IMAP, fd, -1);
	log_set_audit(SVC_POP, dup(fd), -1);
	for (i = END_MAX - 1; i >= 0; i--) {
		if ((kids[i] = proc_new(kinds[i].kind, kinds[i].index)) ==
		    NULL)
			abort();
		start_child(i);
	}
	rx_pump(penv->base);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rx_msg	m;
	int		i;

	for (i = END_MAX - 1; i >= 0; i--)
		if (kids[i]->chan == NULL) {
			rx_end_close(&ends[i]);
			start_child(i);
		}
	rx_pump(penv->base);
	while (rx_next(&data, &size, &m)) {
		rx_send_msg(&ends[m.end % END_MAX], &m);
		rx_pump(penv->base);
	}
	return 0;
}
