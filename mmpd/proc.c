/*
 * The children of the parent: each is started by fork + exec so it begins
 * with a fresh address space, gets its configuration over its imsg
 * channel, relays are connected with mmp-ldapd and each mmp-tlsd, and
 * whatever dies is logged and restarted with backoff. A child is never
 * trusted: a bad message gets it killed and restarted, never the parent
 * hurt.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>


#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confmsg.h"
#include "leakcheck.h"
#include "log.h"
#include "msg.h"
#include "parent.h"

#define PROC_ARGV_MAX		8
#define PROC_ENV_BYTES		1024	/* sanitizer options with paths */
#define PROC_ENV_KEEP		6	/* variables a child inherits */
#define CHANNEL_GONE_SEC	2	/* channel closed, process alive */

static struct child	*proc_new(enum child_kind, unsigned int);
static void		 proc_free(struct child *);
static void		 proc_spawn(struct child *);
static void		 proc_spawned(struct child *, pid_t, int);
static void		 proc_exec(int, const char *, char *const [],
			    char *const []) __attribute__((__noreturn__));
static void		 proc_close(struct child *);
static void		 proc_fail(struct child *, const char *);
static void		 proc_gone(struct child *);
static int		 proc_dispatch_relay(struct chan *, struct imsg *);
static int		 proc_dispatch_ldapd(struct chan *, struct imsg *);
static int		 proc_dispatch_tlsd(struct chan *, struct imsg *);
static int		 proc_dispatch_stats(struct chan *, struct imsg *);
static void		 proc_stats_start(struct child *);
static void		 proc_stats_connect(struct child *);
static void		 proc_count_restart(struct child *);
static struct child	*proc_stats(void);
static void		 proc_lost(struct chan *, const char *);
static void		 proc_send_conf(struct child *);
static void		 proc_connect(struct child *, struct child *);
static void		 proc_restart_cb(int, short, void *);
static void		 proc_lost_cb(int, short, void *);
static void		 proc_lost_reset(struct lost *);
static void		 proc_lost_reset_all(struct child *);
static int		 proc_may_restart(const struct child *);
static void		 proc_schedule_restart(struct child *);
static int		 proc_send_shm(struct child *);
static void		 proc_shm_release(struct child *);

/* The parent's peers, by the kind of child at the other end. */
static const struct chan_peer proc_peers[] = {
	[CHILD_RELAY] = { "relay", proc_dispatch_relay, proc_lost, NULL },
	[CHILD_LDAPD] = { "mmp-ldapd", proc_dispatch_ldapd, proc_lost, NULL },
	[CHILD_TLSD] = { "mmp-tlsd", proc_dispatch_tlsd, proc_lost, NULL },
	[CHILD_STATS] = { "stats", proc_dispatch_stats, proc_lost, NULL },
};

static int
proc_is_program(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/*
 * A child's program (mmp-ldapd, mmp-tlsd): the in-tree build beside ours
 * first (../NAME/NAME), then the installed one in LIBEXECDIR. 0, or -1
 * with what was tried in err.
 */
static int
proc_find(const char *name, char *out, size_t len, char *err, size_t errlen)
{
	char	intree[PATH_MAX], installed[PATH_MAX], dir[PATH_MAX], *slash;

	(void)strlcpy(dir, penv->self, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(intree, sizeof(intree), "%s/../%s/%s", dir,
	    name, name) < sizeof(intree) && proc_is_program(intree)) {
		if (realpath(intree, out) == NULL)
			(void)strlcpy(out, intree, len);
		return 0;
	}
	(void)snprintf(installed, sizeof(installed), "%s/%s", LIBEXECDIR,
	    name);
	if (proc_is_program(installed) &&
	    strlcpy(out, installed, len) < len)
		return 0;
	(void)snprintf(err, errlen, "%s not found: tried %s and %s", name,
	    intree, installed);
	return -1;
}

void
proc_find_ldapd(void)
{
	char	err[3 * PATH_MAX];

	if (proc_find("mmp-ldapd", penv->ldapd, sizeof(penv->ldapd), err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
}

/* Only a configuration with TLS needs it: looked for when one comes. */
int
proc_find_tlsd(char *err, size_t errlen)
{
	return proc_find("mmp-tlsd", penv->tlsd, sizeof(penv->tlsd), err,
	    errlen);
}

static struct child *
proc_new(enum child_kind kind, unsigned int index)
{
	struct child	*c;
	unsigned int	 i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("cannot start a child");
		return NULL;
	}
	c->kind = kind;
	c->index = index;
	c->pid = -1;
	c->section = -1;
	if (kind == CHILD_RELAY)
		(void)snprintf(c->name, sizeof(c->name), "relay %u", index);
	else if (kind == CHILD_TLSD)
		(void)snprintf(c->name, sizeof(c->name), "mmp-tlsd %u", index);
	else if (kind == CHILD_STATS)
		(void)strlcpy(c->name, "stats", sizeof(c->name));
	else
		(void)strlcpy(c->name, "mmp-ldapd", sizeof(c->name));
	for (i = 0; i < PEERS_MAX; i++) {
		c->lost[i].relay = c;
		c->lost[i].slot = i;
	}
	if ((c->restart = evtimer_new(penv->base, proc_restart_cb, c)) ==
	    NULL) {
		log_warnx("%s: cannot create its timer", c->name);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&penv->children, c, entry);
	return c;
}

static void
proc_free(struct child *c)
{
	unsigned int	i;

	proc_close(c);
	event_free(c->restart);
	for (i = 0; i < PEERS_MAX; i++)
		if (c->lost[i].ev != NULL)
			event_free(c->lost[i].ev);
	TAILQ_REMOVE(&penv->children, c, entry);
	free(c);
}

/*
 * mmp-ldapd, the mmp-tlsd processes (none without TLS) and the relay
 * workers, each relay connected to the others; the statistics process
 * with StatsListen.
 */
void
proc_start(unsigned int nrelays, unsigned int ntlsds)
{
	struct child	*c;

	if ((c = proc_new(CHILD_LDAPD, 0)) == NULL)
		fatalx("cannot start mmp-ldapd");
	proc_spawn(c);
	proc_set_tlsds(ntlsds);
	proc_set_relays(nrelays);
	if (penv->stats.fd != -1) {
		if ((c = proc_new(CHILD_STATS, 0)) == NULL)
			fatalx("cannot start the statistics process");
		proc_spawn(c);
	}
}

/* The working (not retiring) child of kind with that index. */
static struct child *
proc_find_child(enum child_kind kind, unsigned int index)
{
	struct child	*c;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->kind == kind && !c->retiring && c->index == index)
			return c;
	return NULL;
}

static struct child *
proc_ldapd(void)
{
	return proc_find_child(CHILD_LDAPD, 0);
}

static struct child *
proc_stats(void)
{
	return proc_find_child(CHILD_STATS, 0);
}

/* A relay's peer by its slot: 0 mmp-ldapd, 1 + i mmp-tlsd i; or NULL. */
static struct child *
proc_peer(unsigned int slot)
{
	if (slot == 0)
		return proc_ldapd();
	return proc_find_child(CHILD_TLSD, slot - 1);
}

static unsigned int
proc_peer_slot(const struct child *peer)
{
	return peer->kind == CHILD_TLSD ? 1 + peer->index : 0;
}

/* Without a channel it gets none: the restart timer kills it. */
static void
proc_send_drain(struct child *c)
{
	if (c->chan != NULL &&
	    chan_compose(c->chan, IMSG_DRAIN, 0, -1, NULL, 0) == -1)
		proc_fail(c, "cannot queue DRAIN");
}

/*
 * Run n children of kind (relays, mmp-tlsd). Surplus ones drain: they
 * finish their sessions and exit without being restarted.
 */
static void
proc_set_count(enum child_kind kind, unsigned int n)
{
	struct child	*c, *next;
	unsigned int	 i;

	TAILQ_FOREACH_SAFE(c, &penv->children, entry, next) {
		if (c->kind != kind || c->retiring || c->index < n)
			continue;
		if (c->pid == -1) {
			proc_free(c);
			continue;
		}
		c->retiring = 1;
		log_info("%s: no longer needed, draining", c->name);
		proc_send_drain(c);
	}
	for (i = 0; i < n; i++)
		if (proc_find_child(kind, i) == NULL &&
		    (c = proc_new(kind, i)) != NULL)
			proc_spawn(c);
}

void
proc_set_relays(unsigned int n)
{
	proc_set_count(CHILD_RELAY, n);
	penv->nrelays = n;
}

/* 0 while the configuration has no TLS: then none runs. */
void
proc_set_tlsds(unsigned int n)
{
	proc_set_count(CHILD_TLSD, n);
	penv->ntlsds = n;
}

/* argv and environment of c's program; strings live in buffers given. */
static const char *
proc_argv(struct child *c, char *argv[], char *idx, size_t idxlen)
{
	const char	*path;
	int		 n = 0;

	(void)snprintf(idx, idxlen, "%u", c->index);
	switch (c->kind) {
	case CHILD_RELAY:
		argv[n++] = "mmpd";
		argv[n++] = "-P";
		argv[n++] = "relay";
		path = penv->self;
		break;
	case CHILD_TLSD:
		argv[n++] = "mmp-tlsd";
		path = penv->tlsd;
		break;
	case CHILD_STATS:
		argv[n++] = "mmpd";
		argv[n++] = "-P";
		argv[n++] = "stats";
		path = penv->self;
		break;
	default:
		argv[n++] = "mmp-ldapd";
		path = penv->ldapd;
		break;
	}
	if (c->kind == CHILD_RELAY || c->kind == CHILD_TLSD) {
		argv[n++] = "-i";
		argv[n++] = idx;
	}
	if (penv->verbose)
		argv[n++] = "-v";
	argv[n] = NULL;
	return path;
}

/* Of the parent's environment, only what the sandbox and sanitizers read. */
static void
proc_envp(char *envp[], char keep[][PROC_ENV_BYTES])
{
	/*
	 * What a child may inherit: the sandbox's debug switch (read only
	 * by a make SANDBOX_DEBUG=1 build, lib/sandbox.h), the
	 * sanitizer options of a make asan build, and of make leakcheck
	 * the leak checker's options and the switches of lib/leakcheck.h.
	 */
	static const char *const names[PROC_ENV_KEEP] = {
		"MMPD_SANDBOX_DEBUG", "ASAN_OPTIONS", "UBSAN_OPTIONS",
		"LSAN_OPTIONS", LEAKCHECK_ENV, LEAKCHECK_DIR_ENV
	};
	const char	*v;
	int		 i, n = 0;

	envp[n++] = "PATH=/usr/bin:/bin";
	for (i = 0; i < PROC_ENV_KEEP; i++)
		if ((v = getenv(names[i])) != NULL &&
		    (size_t)snprintf(keep[i], PROC_ENV_BYTES, "%s=%s",
		    names[i], v) < PROC_ENV_BYTES)
			envp[n++] = keep[i];
	envp[n] = NULL;
}

static void
proc_spawn(struct child *c)
{
	char		*argv[PROC_ARGV_MAX], *envp[PROC_ENV_KEEP + 2];
	char		 idx[16], keep[PROC_ENV_KEEP][PROC_ENV_BYTES];
	const char	*path;
	sigset_t	 all, saved;
	pid_t		 pid;
	int		 sp[2];

	(void)clock_gettime(CLOCK_MONOTONIC, &c->started);
	path = proc_argv(c, argv, idx, sizeof(idx));
	proc_envp(envp, keep);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		log_warn("%s: socketpair", c->name);
		proc_schedule_restart(c);
		return;
	}
	/* No handler of ours may run in the child before exec. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &saved);
	if ((pid = fork()) == 0)
		proc_exec(sp[1], path, argv, envp);
	(void)sigprocmask(SIG_SETMASK, &saved, NULL);
	close(sp[1]);
	if (pid == -1) {
		log_warn("%s: fork", c->name);
		close(sp[0]);
		proc_schedule_restart(c);
		return;
	}
	proc_spawned(c, pid, sp[0]);
}

/* Parent side of a fresh child: channel, configuration, relay links. */
static void
proc_spawned(struct child *c, pid_t pid, int fd)
{
	struct child	*o;
	unsigned int	 i;

	c->pid = pid;
	c->gen_ready = 0;
	c->sessions = 0;
	c->logins_ok = 0;
	c->logins_failed = 0;
	c->killed[0] = '\0';
	for (i = 0; i < PEERS_MAX; i++)
		c->lost[i].excess = 0;
	if ((c->chan = chan_open(penv->base, fd, &proc_peers[c->kind], c)) ==
	    NULL) {
		proc_fail(c, "cannot watch its channel");
		close(fd);
		return;
	}
	log_info("%s started, pid %d", c->name, (int)pid);
	/* Before its configuration: a relay maps it before it accepts. */
	if (c->kind == CHILD_RELAY && proc_send_shm(c) == -1)
		return;
	proc_send_conf(c);
	if (c->chan == NULL)
		return;
	if (c->kind == CHILD_STATS) {
		proc_stats_start(c);
		return;
	}
	proc_stats_connect(c);
	if (c->chan == NULL)
		return;
	if (c->kind == CHILD_RELAY) {
		for (i = 0; i < PEERS_MAX && c->chan != NULL; i++)
			if ((o = proc_peer(i)) != NULL && o->chan != NULL)
				proc_connect(c, o);
		return;
	}
	/*
	 * Draining relays too: their open sessions may still log in, and
	 * go to their stores with TLS.
	 */
	TAILQ_FOREACH(o, &penv->children, entry)
		if (o->kind == CHILD_RELAY && o->chan != NULL &&
		    c->chan != NULL)
			proc_connect(o, c);
}

/* Close every fd from `from` up; close_range where the kernel has it. */
static void
proc_close_from(int from)
{
	long	max, fd;

	if (close_range(from, ~0U, 0) == 0)
		return;
	if ((max = sysconf(_SC_OPEN_MAX)) < 0 || max > 1048576)
		max = 1048576;
	for (fd = from; fd < max; fd++)
		(void)close(fd);
}

/* A child that cannot exec says why over its channel, then exits. */
static void
proc_exec_report(const char *path, int err)
{
	struct imsgbuf		ib;
	struct msg_writer	w;
	char			line[LOG_LINE_BYTES];

	/* A path too long for the line is cut: its start says enough. */
	if ((size_t)snprintf(line, sizeof(line), "mmpd: cannot execute %s: "
	    "%s", path, strerror(err)) >= sizeof(line))
		line[sizeof(line) - 1] = '\0';
	imsgbuf_init(&ib, MMP_CHILD_FD);
	msg_writer_init(&w);
	msg_add_u8(&w, LOG_SVC_MMP);
	msg_add_u8(&w, LOG_CRIT);
	msg_add_u64(&w, log_now_ms());
	msg_add_str(&w, line);
	if (msg_compose(&ib, IMSG_LOG, 0, -1, &w) == 0)
		(void)imsgbuf_flush(&ib);
	imsgbuf_clear(&ib);
}

/* In the child: fd 3 is the channel, nothing else is inherited. */
static void
proc_exec(int fd, const char *path, char *const argv[], char *const envp[])
{
	sigset_t	set;
	int		sig;

	/* A terminal's ^C reaches only the parent, which drains. */
	(void)setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	/*
	 * SIGTERM stays blocked until the child's loop takes it
	 * (lib/childsig.h): a stop that comes while it starts is still an
	 * orderly exit.
	 */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	if (fd == MMP_CHILD_FD) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, MMP_CHILD_FD) == -1)
		_exit(127);
	proc_close_from(MMP_CHILD_FD + 1);
	(void)execve(path, argv, envp);
	proc_exec_report(path, errno);
	_exit(127);
}

/*
 * The end of a channel. Whatever the child had queued on it is read and
 * dropped first (chan_close): descriptors in it, or received and never
 * taken, are closed abortively, so no close here can block.
 */
static void
proc_close(struct child *c)
{
	proc_lost_reset_all(c);
	if (c->chan != NULL)
		chan_close(c->chan);
	c->chan = NULL;
}

/*
 * A child that broke the protocol: kill it; proc_reap restarts it. The
 * kill comes first: a child given up on gets no further turn, not even
 * the time our closes take, and nothing in them can delay its end.
 */
static void
proc_fail(struct child *c, const char *why)
{
	log_warnx("%s (pid %d): %s; killing it", c->name, (int)c->pid, why);
	(void)strlcpy(c->killed, why, sizeof(c->killed));
	if (c->pid != -1)
		(void)kill(c->pid, SIGKILL);
	proc_close(c);
}

/*
 * The channel ended: the child exited, and proc_reap will say how. One
 * that merely closed it is of no use; it gets killed if still there when
 * the timer runs out.
 */
static void
proc_gone(struct child *c)
{
	struct timeval	tv = { CHANNEL_GONE_SEC, 0 };

	proc_close(c);
	if (c->pid != -1 && evtimer_add(c->restart, &tv) == -1)
		proc_fail(c, "closed its channel");
}

/*
 * What lib/chan.c makes of a channel that ended (why NULL: the child
 * closed it, most likely by exiting) or that the child broke the
 * protocol on: the parent's one rule, kill and restart.
 */
static void
proc_lost(struct chan *ch, const char *why)
{
	struct child	*c = chan_arg(ch);

	if (why == NULL)
		proc_gone(c);
	else
		proc_fail(c, why);
}

/*
 * IMSG_LOG: u8 svc, u8 priority, u64 time, str line. The line is written
 * with the child's time (log_emit takes one from the future as now).
 */
static int
proc_handle_log(struct imsg *imsg)
{
	struct msg_reader	 r;
	char			 line[LOG_LINE_BYTES], *p;
	uint64_t		 ms;
	uint8_t			 svc, prio;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &svc) == -1 || msg_get_u8(&r, &prio) == -1 ||
	    msg_get_u64(&r, &ms) == -1 || msg_get_str(&r, line, sizeof(line)) == -1 || msg_end(&r) == -1 ||
	    svc >= LOG_SVC_MAX || prio > LOG_DEBUG)
		return CHAN_BAD;
	/* One message is one line: no forged lines in the log files. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_emit(svc, prio, ms, line);
	return CHAN_OK;
}

/*
 * IMSG_AUDIT: u8 svc, str line. mmp-ldapd escaped the line: a control
 * character in it, or a service that has no PreAuth, is a lie.
 */
static int
proc_handle_audit(struct imsg *imsg)
{
	struct msg_reader	 r;
	char			 line[LOG_LINE_BYTES];
	uint8_t			 svc;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &svc) == -1 ||
	    msg_get_str(&r, line, sizeof(line)) == -1 || msg_end(&r) == -1 ||
	    (svc != SVC_IMAP && svc != SVC_POP) || line[0] == '\0' ||
	    !msg_text_ok(line))
		return CHAN_BAD;
	log_audit(svc, line);
	return CHAN_OK;
}

/* IMSG_READY: u32 generation, one the parent sent. */
static int
proc_handle_ready(struct child *c, struct imsg *imsg)
{
	struct msg_reader	r;
	uint32_t		gen;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &gen) == -1 || msg_end(&r) == -1 || gen == 0 ||
	    gen > penv->gen)
		return CHAN_BAD;
	if (c->gen_ready == 0)
		log_info("%s ready", c->name);
	if (gen > c->gen_ready)
		c->gen_ready = gen;
	parent_child_ready(c);
	return CHAN_OK;
}

/*
 * IMSG_STATS: u32 sessions open, u64 logins accepted, u64 refused, since
 * the relay started. The parent's totals grow by what is new; a count
 * that went back is a lie.
 */
static int
proc_handle_stats(struct child *c, struct imsg *imsg)
{
	struct msg_reader	r;
	uint64_t		ok, failed;
	uint32_t		n;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &n) == -1 || msg_get_u64(&r, &ok) == -1 ||
	    msg_get_u64(&r, &failed) == -1 || msg_end(&r) == -1 ||
	    ok < c->logins_ok || failed < c->logins_failed)
		return CHAN_BAD;
	c->sessions = n;
	penv->logins_ok += ok - c->logins_ok;
	penv->logins_failed += failed - c->logins_failed;
	c->logins_ok = ok;
	c->logins_failed = failed;
	return CHAN_OK;
}

/* "mmp-ldapd", "mmp-tlsd 3": the peer of a slot, for the log. */
static const char *
proc_slot_name(unsigned int slot, char *buf, size_t len)
{
	if (slot == 0)
		return "mmp-ldapd";
	(void)snprintf(buf, len, "mmp-tlsd %u", slot - 1);
	return buf;
}

/* Time left until l's relay may have another channel; 0 if it may now. */
static int
proc_lost_wait(const struct lost *l, struct timeval *tv)
{
	struct timespec	now, end;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	end = l->given;
	end.tv_sec += CHANNEL_LOST_MIN_SEC;
	if (timespeccmp(&now, &end, >=))
		return 0;
	timespecsub(&end, &now, &end);
	TIMESPEC_TO_TIMEVAL(tv, &end);
	return 1;
}

/* Say how many LOSTs were ignored since the last time, once. */
static void
proc_lost_report(struct lost *l)
{
	char	buf[32];

	if (l->unlogged == 0)
		return;
	log_warnx("%s: ignored %u requests for an %s channel while one was "
	    "on its way (%u in all)", l->relay->name, l->unlogged,
	    proc_slot_name(l->slot, buf, sizeof(buf)), l->excess);
	l->unlogged = 0;
}

/* The held LOST is answered (or moot): no timer, a report if due. */
static void
proc_lost_reset(struct lost *l)
{
	if (l->held)
		(void)evtimer_del(l->ev);
	l->held = 0;
	proc_lost_report(l);
}

static void
proc_lost_reset_all(struct child *c)
{
	unsigned int	i;

	for (i = 0; i < PEERS_MAX; i++)
		proc_lost_reset(&c->lost[i]);
}

/* The window after the last channel ended: answer the held LOST. */
static void
proc_lost_cb(int fd, short events, void *arg)
{
	struct lost	*l = arg;
	struct child	*peer;

	(void)fd;
	(void)events;
	l->held = 0;
	proc_lost_report(l);
	if (l->relay->chan != NULL && (peer = proc_peer(l->slot)) != NULL &&
	    peer->chan != NULL)
		proc_connect(l->relay, peer);
}

/*
 * A LOST while one is held. An honest relay has no channel to lose until
 * it got the one it asked for, so it sends one only in a rare race (two
 * channels on their way, say one for a LOST and one from a restart of
 * the peer, and both lost). Those are counted and ignored: killing a
 * relay ends every session in it. Thousands are not a race: that relay is
 * broken or hostile, and is killed.
 */
static void
proc_lost_excess(struct lost *l)
{
	char	why[96], buf[32];

	l->excess++;
	l->unlogged++;
	if (l->excess < CHANNEL_LOST_EXCESS_MAX)
		return;
	l->unlogged = 0;
	(void)snprintf(why, sizeof(why), "asked for an %s channel %u times "
	    "while one was on its way", proc_slot_name(l->slot, buf,
	    sizeof(buf)), l->excess);
	proc_fail(l->relay, why);
}

/* Hold l's LOST until the window ends: 0, or -1 if no timer. */
static int
proc_lost_hold(struct lost *l, const struct timeval *tv)
{
	if (l->ev == NULL &&
	    (l->ev = evtimer_new(penv->base, proc_lost_cb, l)) == NULL)
		return -1;
	if (evtimer_add(l->ev, tv) == -1)
		return -1;
	l->held = 1;
	return 0;
}

/*
 * IMSG_LDAPD_LOST, IMSG_TLSD_LOST: a relay dropped its channel to a peer
 * (garbage on it) and asks for a new one. Each costs the parent a
 * socketpair and both children a descriptor, so a relay gets at most one
 * per peer per CHANNEL_LOST_MIN_SEC: a LOST inside that window is held
 * and answered when it ends, further ones are excess. The peer down (or
 * gone with a reload): nothing to do, its restart connects every relay.
 * A kill here closes the channel, which lib/chan.c notices: the handler
 * has nothing more to say than CHAN_OK.
 */
static int
proc_handle_lost(struct child *c, unsigned int slot)
{
	struct lost	*l = &c->lost[slot];
	struct child	*peer;
	struct timeval	 tv;

	if (l->held) {
		proc_lost_excess(l);
		return CHAN_OK;
	}
	if ((peer = proc_peer(slot)) == NULL || peer->chan == NULL)
		return CHAN_OK;
	if (proc_lost_wait(l, &tv) && proc_lost_hold(l, &tv) == 0)
		return CHAN_OK;
	/* The window is over (or no timer): answer now, not never. */
	proc_connect(c, peer);
	return CHAN_OK;
}

/* IMSG_LDAPD_LOST: no payload. */
static int
proc_handle_ldapd_lost(struct child *c, struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	return proc_handle_lost(c, 0);
}

/* IMSG_TLSD_LOST: u32 mmp-tlsd index. */
static int
proc_handle_tlsd_lost(struct child *c, struct imsg *imsg)
{
	struct msg_reader	r;
	uint32_t		index;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &index) == -1 || msg_end(&r) == -1 ||
	    index >= TLSDS_MAX)
		return CHAN_BAD;
	return proc_handle_lost(c, 1 + index);
}

/* A relay: its log lines, READY, STATS, LDAPD_LOST and TLSD_LOST. */
static int
proc_dispatch_relay(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_LOG:
		return proc_handle_log(imsg);
	case IMSG_READY:
		return proc_handle_ready(c, imsg);
	case IMSG_STATS:
		return proc_handle_stats(c, imsg);
	case IMSG_LDAPD_LOST:
		return proc_handle_ldapd_lost(c, imsg);
	case IMSG_TLSD_LOST:
		return proc_handle_tlsd_lost(c, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* mmp-ldapd: its log lines, READY and audit lines. */
static int
proc_dispatch_ldapd(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_LOG:
		return proc_handle_log(imsg);
	case IMSG_READY:
		return proc_handle_ready(c, imsg);
	case IMSG_AUDIT:
		return proc_handle_audit(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * IMSG_TLS_CONF_KEPT: u32 generation, u32 generation in use. Its READY
 * follows; the line that says what a reload came to is written once all
 * are ready (parent_child_ready).
 */
static int
proc_handle_tls_kept(struct child *c, struct imsg *imsg)
{
	struct msg_reader	r;
	uint32_t		gen, inuse;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &gen) == -1 || msg_get_u32(&r, &inuse) == -1 ||
	    msg_end(&r) == -1 || gen == 0 || gen > penv->gen || inuse >= gen)
		return CHAN_BAD;
	c->tls_kept = gen;
	c->tls_in_use = inuse;
	return CHAN_OK;
}

/* mmp-tlsd: its log lines, READY, TLS_CONF_KEPT. */
static int
proc_dispatch_tlsd(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_LOG:
		return proc_handle_log(imsg);
	case IMSG_READY:
		return proc_handle_ready(c, imsg);
	case IMSG_TLS_CONF_KEPT:
		return proc_handle_tls_kept(c, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* The statistics process: its log lines and READY. */
static int
proc_dispatch_stats(struct chan *ch, struct imsg *imsg)
{
	struct child	*c = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_LOG:
		return proc_handle_log(imsg);
	case IMSG_READY:
		return proc_handle_ready(c, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * IMSG_SHM: the relays' shared region and the section this relay writes:
 * the first free one, so a new relay never shares one with a retired
 * relay that still drains.
 */
static int
proc_send_shm(struct child *c)
{
	struct msg_writer	w;
	unsigned int		i;
	int			fd;

	for (i = 0; i < SHM_SECTIONS && penv->shm_taken[i]; i++)
		;
	if (i == SHM_SECTIONS) {
		proc_fail(c, "no free shared memory section");
		return -1;
	}
	if ((fd = fcntl(penv->shmfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup of the shared memory", c->name);
		proc_fail(c, "cannot pass the shared memory");
		return -1;
	}
	penv->shm_taken[i] = 1;
	c->section = (int)i;
	shm_hiwater(&penv->shm, i + 1);
	msg_writer_init(&w);
	msg_add_u32(&w, i);
	if (chan_compose_msg(c->chan, IMSG_SHM, 0, fd, &w) == -1) {
		proc_fail(c, "cannot queue IMSG_SHM");
		return -1;
	}
	return 0;
}

/*
 * A relay ended: whatever it counted (sessions, attempts) ended with it,
 * crash or not. Its section is emptied before another relay gets it.
 */
static void
proc_shm_release(struct child *c)
{
	if (c->section == -1)
		return;
	if (shm_wipe(penv->shmfd, (unsigned int)c->section) == -1) {
		/* Never handed out again: stale counts would refuse clients. */
		log_warn("%s: cannot wipe shared memory section %d", c->name,
		    c->section);
		c->section = -1;
		return;
	}
	penv->shm_taken[c->section] = 0;
	c->section = -1;
}

/* IMSG_CONF_LISTENER per open listener: a copy of the socket. */
static int
proc_send_listeners(struct child *c)
{
	struct msg_writer	 w;
	const struct listener	*l;
	size_t			 i;
	int			 fd;

	for (i = 0; i < penv->nlisteners; i++) {
		l = &penv->listeners[i];
		if (l->fd == -1)
			continue;
		if ((fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("%s: dup", l->cl.label);
			return -1;
		}
		msg_writer_init(&w);
		msg_add_u8(&w, l->cl.svc);
		msg_add_u8(&w, l->cl.tls);
		msg_add_u8(&w, l->cl.proxy);
		msg_add_str(&w, l->cl.label);
		if (chan_compose_msg(c->chan, IMSG_CONF_LISTENER, 0, fd, &w) ==
		    -1)
			return -1;
	}
	return 0;
}

/* IMSG_CONF_HOST per HostsFile name. */
static int
proc_send_hosts(struct child *c)
{
	struct msg_writer	w;
	size_t			i;

	for (i = 0; i < penv->nhosts; i++) {
		msg_writer_init(&w);
		msg_add_str(&w, penv->hosts[i].name);
		msg_add_str(&w, penv->hosts[i].addr);
		if (chan_compose_msg(c->chan, IMSG_CONF_HOST, 0, -1, &w) == -1)
			return -1;
	}
	return 0;
}

/* mmp-tlsd's files, read again now; a file gone kills (and restarts) it. */
static int
proc_send_tlsfiles(struct child *c)
{
	char	err[1024];

	if (tlsfiles_send(c->chan, penv->conf, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", c->name, err);
		return -1;
	}
	return 0;
}

/*
 * The running configuration; each secret to the child that needs it
 * (BindPass to mmp-ldapd, StoreAdminPass to the relays, conf_sent_to),
 * the TLS files and ticket keys to mmp-tlsd only.
 */
static void
proc_send_conf(struct child *c)
{
	int	rv;

	rv = conf_send_begin(c->chan, penv->conf, penv->gen,
	    c->kind == CHILD_LDAPD ? CONF_TO_LDAPD : c->kind == CHILD_TLSD ?
	    CONF_TO_TLSD : c->kind == CHILD_STATS ? CONF_TO_STATS :
	    CONF_TO_RELAY);
	if (rv == 0 && c->kind != CHILD_STATS) {
		if (c->kind == CHILD_RELAY) {
			rv = proc_send_listeners(c);
			if (rv == 0)
				rv = spooffile_send(c->chan, penv->conf);
		}
		else if (c->kind == CHILD_TLSD)
			rv = proc_send_tlsfiles(c);
		else
			rv = proc_send_hosts(c);
	}
	if (rv == 0 && c->kind == CHILD_LDAPD)
		rv = certmapfile_send(c->chan, penv->conf);
	if (rv == 0)
		rv = conf_send_end(c->chan, penv->gen);
	if (rv == 0 && c->kind == CHILD_TLSD)
		rv = ticket_send(c->chan);
	if (rv == -1)
		proc_fail(c, "cannot queue its configuration");
}

void
proc_send_conf_all(void)
{
	struct child	*c, *next;

	TAILQ_FOREACH_SAFE(c, &penv->children, entry, next)
		if (c->chan != NULL && !c->retiring)
			proc_send_conf(c);
}

/* The running mmp-tlsd processes get the ticket keys again. */
void
proc_send_tickets_all(void)
{
	struct child	*c;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->kind == CHILD_TLSD && c->chan != NULL && !c->retiring &&
		    ticket_send(c->chan) == -1)
			proc_fail(c, "cannot queue IMSG_TLS_TICKET_KEYS");
}

/*
 * A socketpair between a relay and a peer (mmp-ldapd or an mmp-tlsd),
 * one end to each: IMSG_LDAPD_CHANNEL or IMSG_TLSD_CHANNEL (u32 mmp-tlsd
 * index) to the relay, IMSG_RELAY_CHANNEL (u32 relay index) to the peer.
 */
static void
proc_connect(struct child *relay, struct child *peer)
{
	struct lost		*l = &relay->lost[proc_peer_slot(peer)];
	struct msg_writer	 w;
	uint32_t		 type;
	char			 why[96];
	int			 sp[2];

	/* Whatever asked for it, this answers a held LOST too. */
	proc_lost_reset(l);
	(void)clock_gettime(CLOCK_MONOTONIC, &l->given);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		/* Without a channel the relay is useless: start it again. */
		log_warn("%s: socketpair to %s", relay->name, peer->name);
		(void)snprintf(why, sizeof(why), "has no channel to %s",
		    peer->name);
		proc_fail(relay, why);
		return;
	}
	msg_writer_init(&w);
	type = IMSG_LDAPD_CHANNEL;
	if (peer->kind == CHILD_TLSD) {
		type = IMSG_TLSD_CHANNEL;
		msg_add_u32(&w, peer->index);
	}
	if (chan_compose_msg(relay->chan, type, 0, sp[0], &w) == -1) {
		close(sp[1]);
		(void)snprintf(why, sizeof(why), "cannot queue %s",
		    msg_type_name(type));
		proc_fail(relay, why);
		return;
	}
	msg_writer_init(&w);
	msg_add_u32(&w, relay->index);
	if (chan_compose_msg(peer->chan, IMSG_RELAY_CHANNEL, 0, sp[1], &w) ==
	    -1)
		proc_fail(peer, "cannot queue IMSG_RELAY_CHANNEL");
}

/* IMSG_STATS_RESTARTS to the statistics process, if it runs. */
static void
proc_send_restarts(struct child *stats)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	stats_restarts_write(&w, penv->restarts);
	if (chan_compose_msg(stats->chan, IMSG_STATS_RESTARTS, 0, -1, &w) ==
	    -1)
		proc_fail(stats, "cannot queue IMSG_STATS_RESTARTS");
}

/* One more restart of c's kind, told to the statistics process. */
static void
proc_count_restart(struct child *c)
{
	static const enum stats_kind	kinds[] = {
		[CHILD_RELAY] = STATS_KIND_RELAY,
		[CHILD_LDAPD] = STATS_KIND_LDAPD,
		[CHILD_TLSD] = STATS_KIND_TLSD,
		[CHILD_STATS] = STATS_KIND_STATS,
	};
	struct child			*stats;

	c->restarts++;
	penv->restarts[kinds[c->kind]]++;
	if ((stats = proc_stats()) != NULL && stats->chan != NULL &&
	    stats != c)
		proc_send_restarts(stats);
}

/*
 * A socketpair between the statistics process and c (a relay, mmp-ldapd,
 * an mmp-tlsd): IMSG_STATS_CHANNEL to c, IMSG_STATS_PEER (u8 kind,
 * u32 index) to the statistics process. Nothing when it does not run.
 */
static void
proc_stats_pair(struct child *stats, struct child *c)
{
	struct msg_writer	w;
	int			sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		log_warn("%s: socketpair to the statistics process", c->name);
		return;
	}
	if (chan_compose(c->chan, IMSG_STATS_CHANNEL, 0, sp[0], NULL, 0) ==
	    -1) {
		close(sp[1]);
		proc_fail(c, "cannot queue IMSG_STATS_CHANNEL");
		return;
	}
	msg_writer_init(&w);
	msg_add_u8(&w, c->kind == CHILD_RELAY ? STATS_KIND_RELAY :
	    c->kind == CHILD_LDAPD ? STATS_KIND_LDAPD : STATS_KIND_TLSD);
	msg_add_u32(&w, c->index);
	if (chan_compose_msg(stats->chan, IMSG_STATS_PEER, 0, sp[1], &w) == -1)
		proc_fail(stats, "cannot queue IMSG_STATS_PEER");
}

/* A child started: a channel to the statistics process, if it runs. */
static void
proc_stats_connect(struct child *c)
{
	struct child	*stats;

	if ((stats = proc_stats()) != NULL && stats->chan != NULL)
		proc_stats_pair(stats, c);
}

/*
 * The statistics process started: its socket, the restarts so far, and
 * a channel to every child that runs (draining relays too: their
 * sessions are still open).
 */
static void
proc_stats_start(struct child *stats)
{
	struct msg_writer	 w;
	struct child		*c;
	int			 fd;

	if ((fd = fcntl(penv->stats.fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", penv->stats.cl.label);
		proc_fail(stats, "cannot have its socket");
		return;
	}
	msg_writer_init(&w);
	msg_add_str(&w, penv->stats.cl.label);
	if (chan_compose_msg(stats->chan, IMSG_STATS_LISTENER, 0, fd, &w) ==
	    -1) {
		proc_fail(stats, "cannot queue IMSG_STATS_LISTENER");
		return;
	}
	proc_send_restarts(stats);
	TAILQ_FOREACH(c, &penv->children, entry)
		if (c != stats && c->chan != NULL && stats->chan != NULL)
			proc_stats_pair(stats, c);
}

/* "exited with status 1", "killed by signal SIGSYS (seccomp: ...)" */
static void
proc_death_text(struct child *c, int status, char *buf, size_t len)
{
	const char	*abbrev, *hint = "";
	char		 extra[128];
	int		 sig;

	if (WIFEXITED(status)) {
		(void)snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
		return;
	}
	if (!WIFSIGNALED(status)) {
		(void)snprintf(buf, len, "ended with wait status 0x%x",
		    (unsigned int)status);
		return;
	}
	sig = WTERMSIG(status);
	if (c->killed[0] != '\0') {
		(void)snprintf(extra, sizeof(extra), " (by mmpd: %s)",
		    c->killed);
		hint = extra;
	} else if (sig == SIGSYS)
		hint = " (seccomp: forbidden system call)";
	else if (sig == SIGSEGV || sig == SIGBUS)
		hint = " (invalid memory access)";
	else if (sig == SIGABRT)
		hint = " (aborted: a check failed)";
	if ((abbrev = sigabbrev_np(sig)) != NULL)
		(void)snprintf(buf, len, "killed by signal SIG%s%s", abbrev,
		    hint);
	else
		(void)snprintf(buf, len, "killed by signal %d%s", sig, hint);
}

static struct child *
proc_by_pid(pid_t pid)
{
	struct child	*c;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->pid == pid)
			return c;
	return NULL;
}

/* One child ended: say how, then restart, retire or let it go. */
static void
proc_died(struct child *c, int status)
{
	char	how[256];
	pid_t	pid;
	int	expected;

	proc_death_text(c, status, how, sizeof(how));
	expected = (penv->draining || c->retiring) &&
	    ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
	    (penv->stopping && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGTERM));
	/*
	 * Its last lines first, then how it ended. It was reaped: its pid is
	 * no longer its own, whatever the dispatch of those lines does.
	 */
	pid = c->pid;
	c->pid = -1;
	chan_read_rest(c->chan);
	proc_shm_release(c);
	if (expected)
		log_info("%s (pid %d) %s", c->name, (int)pid, how);
	else
		log_warnx("%s (pid %d) %s", c->name, (int)pid, how);
	proc_close(c);
	if (c->retiring)
		proc_free(c);
	else if (proc_may_restart(c))
		proc_schedule_restart(c);
	listen_sweep();
	parent_child_gone();
}

void
proc_reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((c = proc_by_pid(pid)) != NULL)
			proc_died(c, status);
}

/*
 * Relays are not restarted once draining; mmp-ldapd and mmp-tlsd serve
 * them to the end.
 */
static int
proc_may_restart(const struct child *c)
{
	if (c->kind != CHILD_RELAY)
		return !penv->stopping;
	return !penv->draining;
}

/* Wait 1 s, 2 s, 4 s ... 60 s; a child that ran a minute starts over. */
static void
proc_schedule_restart(struct child *c)
{
	struct timespec	now;
	struct timeval	tv;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->backoff_sec == 0 ||
	    now.tv_sec - c->started.tv_sec >= RESTART_RESET_SEC)
		c->backoff_sec = RESTART_MIN_SEC;
	tv.tv_sec = c->backoff_sec;
	tv.tv_usec = 0;
	log_notice("%s: restarting in %d s", c->name, c->backoff_sec);
	if (evtimer_add(c->restart, &tv) == -1)
		log_warnx("%s: cannot schedule its restart", c->name);
	c->backoff_sec *= 2;
	if (c->backoff_sec > RESTART_MAX_SEC)
		c->backoff_sec = RESTART_MAX_SEC;
}

/* Restart a dead child, or kill one that lives on without a channel. */
static void
proc_restart_cb(int fd, short events, void *arg)
{
	struct child	*c = arg;

	(void)fd;
	(void)events;
	if (c->pid != -1)
		proc_fail(c, "closed its channel but kept running");
	else if (proc_may_restart(c)) {
		proc_count_restart(c);
		proc_spawn(c);
	}
}

/* Shutdown: relays stop accepting; nothing is restarted any more. */
unsigned int
proc_drain(void)
{
	struct child	*c, *next;
	unsigned int	 n = 0;

	TAILQ_FOREACH_SAFE(c, &penv->children, entry, next) {
		if (c->kind != CHILD_RELAY)
			continue;
		if (c->pid == -1)
			(void)evtimer_del(c->restart);
		if (c->chan == NULL)
			continue;
		n++;
		if (!c->retiring)	/* else it has its DRAIN already */
			proc_send_drain(c);
	}
	return n;
}

/* Send sig to every running child of kind (or of any kind: -1). */
void
proc_signal(int kind, int sig)
{
	struct child	*c;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->pid != -1 && (kind == -1 || (int)c->kind == kind))
			(void)kill(c->pid, sig);
}

/* Running children of kind (-1: any). */
unsigned int
proc_count(int kind)
{
	struct child	*c;
	unsigned int	 n = 0;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->pid != -1 && (kind == -1 || (int)c->kind == kind))
			n++;
	return n;
}

/* Sessions open in all relays, as they last reported. */
unsigned long
proc_sessions(void)
{
	struct child	*c;
	unsigned long	 n = 0;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->kind == CHILD_RELAY && c->pid != -1)
			n += c->sessions;
	return n;
}

/* Has every wanted child applied generation gen? */
int
proc_all_ready(uint32_t gen)
{
	struct child	*c;
	unsigned int	 relays = 0, tlsds = 0;
	int		 ldapd = 0;

	TAILQ_FOREACH(c, &penv->children, entry) {
		if (c->retiring)
			continue;
		if (c->pid == -1 || c->gen_ready < gen)
			return 0;
		if (c->kind == CHILD_RELAY)
			relays++;
		else if (c->kind == CHILD_TLSD)
			tlsds++;
		else if (c->kind == CHILD_LDAPD)
			ldapd = 1;
	}
	return ldapd && relays == penv->nrelays && tlsds == penv->ntlsds;
}

/*
 * Did an mmp-tlsd refuse the TLS part of generation gen? The generation
 * whose certificates it serves on, or 0 if none refused.
 */
uint32_t
proc_tls_kept(uint32_t gen)
{
	struct child	*c;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->kind == CHILD_TLSD && !c->retiring &&
		    c->tls_kept == gen)
			return c->tls_in_use;
	return 0;
}

void
proc_free_all(void)
{
	struct child	*c;

	while ((c = TAILQ_FIRST(&penv->children)) != NULL)
		proc_free(c);
}
