/*
 * Unit test for mmpd/proc.c, the parent's side of its children: how much
 * a misbehaving child can make the parent do. The children are played by
 * this program on socketpairs. proc.c is included, not linked, so that
 * its static functions can set up a child without fork and exec, and so
 * that kill(2) is a fake that records what the parent did and when.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int	fake_kill(pid_t, int);
#define kill	fake_kill
#include "mmpd/proc.c"
#undef kill

#include "regress/sendfds.h"
#include "regress/tap.h"

#define FAKES_MAX	16
#define SEQ_MAX		64	/* message types kept in order */
#define TLSFILES_KEEP	8
#define KILLS_MAX	16
#define LOG_KEEP	64
#define LINGER_SEC	3	/* how long a bad close would block */
#define QUICK_SEC	1.5	/* a step that does not block is this fast */
#define FILL_SEC	5	/* longest wait for a fake end's messages */
#define FAKE_PID_BASE	5000000	/* over Linux PID_MAX_LIMIT: no process */
#define FLOOD_LOSTS	500	/* LOSTs sent at once */
#define EXTRA_FDS	19	/* harmless fds sent with a lingering one */
#define GARBAGE_BYTES	40000	/* more than the parent reads at once */

/* A child as this program plays it: our end of its channel. */
struct fake {
	struct child	*c;
	struct imsgbuf	 ib;
	int		 fd;
	unsigned int	 got[IMSG_MAX];	/* messages from the parent */
	unsigned int	 fds;		/* descriptors with them */
	uint32_t	 seq[SEQ_MAX];	/* their types, in order */
	unsigned int	 nseq;
	uint32_t	 u32[IMSG_MAX];	/* first u32 of the last of a type */
	/* IMSG_CONF_TLSFILE: header and memfd, kept */
	struct tls_file_hdr tlsfile[TLSFILES_KEEP];
	int		 tlsfd[TLSFILES_KEEP];
	unsigned int	 ntlsfiles;
	unsigned int	 kv[CK_NKEYS];	/* IMSG_CONF_KVs of each key */
};

/* What kill() was asked, and the state of things at that moment. */
struct kill_rec {
	pid_t	pid;
	int	sig;
	int	chan_open;	/* the child's channel not closed yet */
	int	sent_open;	/* the socket it sent not closed yet */
};

static struct parent	 parent_env;	/* penv: parentenv.c */
static struct fake	 fakes[FAKES_MAX];
static size_t		 nfakes;
static struct kill_rec	 kills[KILLS_MAX];
static size_t		 nkills;
static int		 watched_peer = -1;	/* peer of the sent socket */
static char		 logged[LOG_KEEP][LOG_LINE_BYTES];
static size_t		 nlogged;
static uint64_t		 logged_ms;	/* of the last line */

static double
now_sec(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Has the peer of fd closed (or reset) its end? */
static int
hung_up(int fd)
{
	struct pollfd	pfd = { fd, POLLIN | POLLRDHUP, 0 };

	if (poll(&pfd, 1, 0) == -1)
		return -1;
	return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* A TCP peer is reset (abortive close), not merely closed. */
static int
was_reset(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };

	if (poll(&pfd, 1, 0) == -1)
		return -1;
	return (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

static int
fake_kill(pid_t pid, int sig)
{
	struct kill_rec	*k;
	size_t		 i;

	if (nkills == KILLS_MAX)
		return 0;
	k = &kills[nkills++];
	k->pid = pid;
	k->sig = sig;
	k->chan_open = -1;
	for (i = 0; i < nfakes; i++)
		if (fakes[i].c->pid == pid)
			k->chan_open = !hung_up(fakes[i].fd);
	k->sent_open = watched_peer == -1 ? -1 : !was_reset(watched_peer);
	return 0;
}

static const struct kill_rec *
kill_of(const struct fake *f)
{
	size_t	i;

	for (i = 0; i < nkills; i++)
		if (kills[i].pid == f->c->pid)
			return &kills[i];
	return NULL;
}

static void
capture_log(int svc, int prio, uint64_t ms, const char *line)
{
	(void)svc;
	(void)prio;
	logged_ms = ms;
	if (nlogged < LOG_KEEP)
		(void)strlcpy(logged[nlogged++], line, sizeof(logged[0]));
}

static size_t
log_count(const char *needle)
{
	size_t	i, n = 0;

	for (i = 0; i < nlogged; i++)
		if (strstr(logged[i], needle) != NULL)
			n++;
	return n;
}

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/* The parent's event loop for sec seconds; returns how long it took. */
static double
run_loop(double sec)
{
	struct timeval	tv;
	double		t0 = now_sec();

	tv.tv_sec = (time_t)sec;
	tv.tv_usec = (suseconds_t)((sec - (double)tv.tv_sec) * 1e6);
	(void)event_base_loopexit(penv->base, &tv);
	(void)event_base_dispatch(penv->base);
	return now_sec() - t0;
}

/* A child of kind whose process this program plays. */
static struct fake *
fake_start(enum child_kind kind, unsigned int index)
{
	struct fake	*f;
	int		 sp[2];

	if (nfakes == FAKES_MAX)
		die("too many fakes");
	f = &fakes[nfakes];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		die("socketpair");
	if ((f->c = proc_new(kind, index)) == NULL)
		die("proc_new");
	nfakes++;
	f->fd = sp[1];
	imsgbuf_init(&f->ib, sp[1]);
	proc_spawned(f->c, FAKE_PID_BASE + (pid_t)nfakes, sp[0]);
	return f;
}

/* Take what the parent sent f so far, counting types and fds. */
/* IMSG_CONF_KV: u8 sect, u16 key, ...: count the key. */
static void
fake_kv(struct fake *f, struct imsg *imsg)
{
	struct msg_reader	r;
	uint16_t		key;
	uint8_t			sect;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &sect) == 0 && msg_get_u16(&r, &key) == 0 &&
	    key < CK_NKEYS)
		f->kv[key]++;
}

static void
fake_read(struct fake *f)
{
	struct imsg	imsg;
	ssize_t		n;
	int		r;

	for (;;) {
		while ((r = imsg_get(&f->ib, &imsg)) == 1) {
			if (imsg.hdr.type < IMSG_MAX)
				f->got[imsg.hdr.type]++;
			/* The shared memory: counted apart (got[IMSG_SHM]). */
			if (imsg.fd != -1 && imsg.hdr.type != IMSG_SHM)
				f->fds++;
			if (f->nseq < SEQ_MAX)
				f->seq[f->nseq++] = imsg.hdr.type;
			if (imsg.hdr.type < IMSG_MAX && imsg.datalen >= 4)
				memcpy(&f->u32[imsg.hdr.type], imsg.data, 4);
			if (imsg.hdr.type == IMSG_CONF_KV)
				fake_kv(f, &imsg);
			if (imsg.hdr.type == IMSG_CONF_TLSFILE &&
			    f->ntlsfiles < TLSFILES_KEEP &&
			    tls_file_hdr_read(&imsg,
			    &f->tlsfile[f->ntlsfiles]) == 0) {
				f->tlsfd[f->ntlsfiles++] = imsg.fd;
				imsg.fd = -1;
			}
			imsg_free(&imsg);
		}
		if (r == -1)
			die("parent sent garbage");
		if ((n = imsgbuf_read(&f->ib)) <= 0)
			return;
	}
}

static void
fake_send_tlsd_lost(struct fake *f, uint32_t index, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		if (imsg_compose(&f->ib, IMSG_TLSD_LOST, 0, -1, &index,
		    sizeof(index)) == -1)
			die("imsg_compose");
	if (imsgbuf_flush(&f->ib) == -1)
		die("imsgbuf_flush");
}

/* Where in f's messages type first came; -1 if it did not. */
static int
fake_seq_at(const struct fake *f, uint32_t type)
{
	unsigned int	i;

	for (i = 0; i < f->nseq; i++)
		if (f->seq[i] == type)
			return (int)i;
	return -1;
}

static void
fake_send_lost(struct fake *f, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		if (imsg_compose(&f->ib, IMSG_LDAPD_LOST, 0, -1, NULL, 0) ==
		    -1)
			die("imsg_compose");
	if (imsgbuf_flush(&f->ib) == -1)
		die("imsgbuf_flush");
}

/* One sendmsg: n data bytes and fds (none if nfd is 0). */
static void
send_raw(int fd, const void *data, size_t n, const int *fds, size_t nfd)
{
	if (sendfds(fd, data, n, fds, nfd) != (ssize_t)n)
		die("sendmsg");
}

/*
 * A TCP socket whose close(2) blocks for linger seconds: SO_LINGER on,
 * and unsent data that its peer (*peer, kept here and never read) has no
 * room for. An abortive close resets the peer instead.
 */
static int
lingering_socket(int linger, int *peer)
{
	struct sockaddr_in	sin;
	struct linger		l = { 1, linger };
	socklen_t		len = sizeof(sin);
	char			buf[4096];
	int			ls, s, small = 4096;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(buf, 'x', sizeof(buf));
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ==
	    -1 || setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1 ||
	    connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (*peer = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) == -1 ||
	    fcntl(s, F_SETFL, O_NONBLOCK) == -1)
		die("lingering socket");
	close(ls);
	while (write(s, buf, sizeof(buf)) > 0)
		;
	if (errno != EAGAIN)
		die("fill");
	if (setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1)
		die("SO_LINGER");
	return s;
}

static int
count_open_fds(void)
{
	DIR	*d;
	int	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void
setup(void)
{
	penv = &parent_env;
	TAILQ_INIT(&penv->children);
	TAILQ_INIT(&penv->old_listeners);
	if ((penv->base = event_base_new()) == NULL ||
	    (penv->conf = conf_new()) == NULL)
		die("setup");
	penv->gen = 1;
	if ((penv->shmfd = shm_create()) == -1 ||
	    shm_map(&penv->shm, dup(penv->shmfd), -1) == -1)
		die("shm_create");
	(void)signal(SIGPIPE, SIG_IGN);
	log_init("mmpd", 1, LOG_DEBUG);
	log_set_sink(capture_log);
}

/* The test's premise: such a socket does block a plain close. */
static void
test_premise(void)
{
	double	t0;
	int	peer, s;

	s = lingering_socket(1, &peer);
	t0 = now_sec();
	close(s);
	tap_ok(now_sec() - t0 >= 0.8, "premise: a plain close of a socket "
	    "with SO_LINGER 1 s and unsent data blocks (%.2f s)",
	    now_sec() - t0);
	close(peer);
}

/* LOSTs before mmp-ldapd is there, then mmp-ldapd connects the relay. */
static void
test_lost_ldapd_down(struct fake **relayp, struct fake **ldapdp)
{
	struct fake	*relay, *ldapd;

	relay = *relayp = fake_start(CHILD_RELAY, 0);
	fake_send_lost(relay, 3);
	(void)run_loop(0.2);
	fake_read(relay);
	tap_ok(relay->got[IMSG_LDAPD_CHANNEL] == 0 && relay->c->chan != NULL,
	    "LOST while mmp-ldapd is down: no channel, relay kept");
	ldapd = *ldapdp = fake_start(CHILD_LDAPD, 0);
	(void)run_loop(0.2);
	fake_read(relay);
	fake_read(ldapd);
	tap_ok(relay->got[IMSG_LDAPD_CHANNEL] == 1 && relay->fds == 1 &&
	    ldapd->got[IMSG_RELAY_CHANNEL] == 1 && ldapd->fds == 1,
	    "mmp-ldapd up: one channel pair for the relay");
}

/* FLOOD_LOSTS at once: one is held, the others ignored and counted. */
static void
test_lost_flood(struct fake *relay, struct fake *ldapd)
{
	double	t0;
	int	fds0;

	fds0 = count_open_fds();
	t0 = now_sec();
	fake_send_lost(relay, FLOOD_LOSTS);
	(void)run_loop(0.3);
	fake_read(relay);
	fake_read(ldapd);
	tap_ok(relay->got[IMSG_LDAPD_CHANNEL] == 1 &&
	    ldapd->got[IMSG_RELAY_CHANNEL] == 1, "%d LOSTs within %d s of the "
	    "last channel: none answered yet", FLOOD_LOSTS,
	    CHANNEL_LOST_MIN_SEC);
	while (now_sec() - t0 < CHANNEL_LOST_MIN_SEC + 0.5)
		(void)run_loop(0.1);
	fake_read(relay);
	fake_read(ldapd);
	tap_ok(relay->got[IMSG_LDAPD_CHANNEL] == 2 && relay->fds == 2 &&
	    ldapd->got[IMSG_RELAY_CHANNEL] == 2 && ldapd->fds == 2,
	    "when the window ends: exactly one more channel pair (relay %u, "
	    "ldapd %u)", relay->got[IMSG_LDAPD_CHANNEL],
	    ldapd->got[IMSG_RELAY_CHANNEL]);
	tap_is_int(count_open_fds(), fds0, "the parent holds no more "
	    "descriptors than before");
	tap_is_int(log_count("ignored 499 requests for an mmp-ldapd channel"),
	    1, "the %d ignored LOSTs are one log line", FLOOD_LOSTS - 1);
	tap_is_int(nkills, 0, "the relay was not killed for them");
}

/* Once the window is over a LOST is answered at once. */
static void
test_lost_after_window(struct fake *relay)
{
	(void)run_loop(CHANNEL_LOST_MIN_SEC + 0.1);
	fake_send_lost(relay, 1);
	(void)run_loop(0.1);
	fake_read(relay);
	tap_is_int(relay->got[IMSG_LDAPD_CHANNEL], 3, "a LOST after the "
	    "window: answered at once");
}

/* CHANNEL_LOST_EXCESS_MAX ignored LOSTs get the relay killed. */
static void
test_lost_kill(struct fake *relay)
{
	const struct kill_rec	*k;
	int			 below;

	/* Ignored so far: all of the flood but the one held. */
	below = CHANNEL_LOST_EXCESS_MAX - (FLOOD_LOSTS - 1) - 1;

	fake_send_lost(relay, 1 + below);
	(void)run_loop(0.2);
	tap_ok(nkills == 0 && relay->c->chan != NULL, "%d LOSTs ignored in "
	    "all: the relay lives", CHANNEL_LOST_EXCESS_MAX - 1);
	fake_send_lost(relay, 1);
	(void)run_loop(0.2);
	k = kill_of(relay);
	tap_ok(k != NULL && k->sig == SIGKILL && relay->c->chan == NULL,
	    "one more: the relay is killed and its channel closed");
	tap_is_int(log_count("asked for an mmp-ldapd channel 1000 times"), 1,
	    "the kill is logged with the count");
	(void)run_loop(CHANNEL_LOST_MIN_SEC + 0.2);
	fake_read(relay);
	tap_is_int(relay->got[IMSG_LDAPD_CHANNEL], 3, "the held LOST of a "
	    "killed relay makes no channel");
}

/* Read the channel the fake ldapd got for a new relay, and drop it. */
static struct fake *
relay_start(struct fake *ldapd, unsigned int index)
{
	struct fake	*f = fake_start(CHILD_RELAY, index);

	(void)run_loop(0.1);
	fake_read(ldapd);
	fake_read(f);
	return f;
}

/*
 * The child's kill, the close of its channel and of the socket it sent,
 * in this order (order: where proc.c decides, not lib/imsg.c), and none
 * of it blocking.
 */
static void
check_gave_up(struct fake *f, int peer, double took, const char *what,
    int order)
{
	const struct kill_rec	*k = kill_of(f);

	tap_ok(took < QUICK_SEC, "%s: the parent did not block (%.2f s; a "
	    "lingering close takes %d s)", what, took, LINGER_SEC);
	tap_ok(k != NULL && k->sig == SIGKILL, "%s: the child is killed",
	    what);
	if (order)
		tap_ok(k != NULL && k->chan_open == 1 && k->sent_open == 1,
		    "%s: killed before its channel and the socket it sent are "
		    "closed (channel %d, socket %d)", what,
		    k != NULL ? k->chan_open : -2,
		    k != NULL ? k->sent_open : -2);
	tap_ok(hung_up(f->fd) == 1 && was_reset(peer) == 1, "%s: channel "
	    "closed, the socket it sent closed abortively (peer reset)",
	    what);
	watched_peer = -1;
	close(peer);
}

/*
 * A child's line is written with the child's time, not the parent's: a
 * line that waited in a batch keeps the moment it was formatted. One from
 * the future is taken as now.
 */
static void
test_log_time(struct fake *ldapd)
{
	struct fake		*f = relay_start(ldapd, 5);
	struct msg_writer	 w;
	uint64_t		 past = 1796589667123ULL;

	msg_writer_init(&w);
	msg_add_u8(&w, LOG_SVC_MMP);
	msg_add_u8(&w, LOG_INFO);
	msg_add_u64(&w, past);
	msg_add_str(&w, "relay 5: an old line");
	if (msg_compose(&f->ib, IMSG_LOG, 0, -1, &w) == -1 ||
	    imsgbuf_flush(&f->ib) == -1)
		die("send");
	(void)run_loop(0.1);
	tap_ok(log_count("relay 5: an old line") == 1 && logged_ms == past,
	    "a child's line keeps the child's time (%llu)",
	    (unsigned long long)logged_ms);
}

/* A socket as the fd of a message: lib/chan.c refuses it. */
static void
test_fd_in_message(struct fake *ldapd)
{
	struct fake		*f = relay_start(ldapd, 1);
	struct msg_writer	 w;
	int			 peer, s;

	s = lingering_socket(LINGER_SEC, &peer);
	watched_peer = peer;
	msg_writer_init(&w);
	msg_add_u8(&w, LOG_SVC_MMP);
	msg_add_u8(&w, LOG_INFO);
	msg_add_u64(&w, log_now_ms());
	msg_add_str(&w, "relay 1: here, have a socket");
	if (msg_compose(&f->ib, IMSG_LOG, 0, s, &w) == -1 ||
	    imsgbuf_flush(&f->ib) == -1)
		die("send");
	check_gave_up(f, peer, run_loop(0.3), "fd with a message", 1);
	tap_is_int(log_count("relay 1 (pid"), 1, "the kill is logged");
}

/* A socket the parent holds in its fd queue when garbage follows. */
static void
test_fd_queued(struct fake *ldapd)
{
	struct fake	*f = relay_start(ldapd, 2);
	struct imsg_hdr	 hdr = { IMSG_LOG, 0, 0, 0 };	/* len 0: garbage */
	int		 peer, s;

	s = lingering_socket(LINGER_SEC, &peer);
	watched_peer = peer;
	send_raw(f->fd, &hdr, 1, &s, 1);
	close(s);
	(void)run_loop(0.1);
	send_raw(f->fd, (char *)&hdr + 1, sizeof(hdr) - 1, NULL, 0);
	check_gave_up(f, peer, run_loop(0.3), "fd queued, then garbage", 1);
}

/*
 * A socket still in the channel's kernel queue when the parent gives up:
 * a close of the channel would release it, lingering, in the parent.
 */
static void
test_fd_unread(struct fake *ldapd)
{
	struct fake	*f = relay_start(ldapd, 3);
	struct imsg_hdr	 hdr = { IMSG_LOG, 0, 0, 0 };
	char		*junk;
	int		 peer, s;

	if ((junk = calloc(1, GARBAGE_BYTES)) == NULL)
		die("calloc");
	memcpy(junk, &hdr, sizeof(hdr));
	s = lingering_socket(LINGER_SEC, &peer);
	watched_peer = peer;
	send_raw(f->fd, junk, GARBAGE_BYTES, NULL, 0);
	send_raw(f->fd, "x", 1, &s, 1);
	close(s);
	free(junk);
	check_gave_up(f, peer, run_loop(0.3), "fd unread behind garbage", 1);
}

/*
 * More fds in one message than the parent queues (and than its control
 * buffer once held: the kernel then dropped the rest inside recvmsg).
 */
static void
test_fd_many(struct fake *ldapd)
{
	struct fake	*f = relay_start(ldapd, 4);
	int		 fds[EXTRA_FDS + 1], i, peer;

	for (i = 0; i < EXTRA_FDS; i++)
		if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			die("/dev/null");
	fds[EXTRA_FDS] = lingering_socket(LINGER_SEC, &peer);
	send_raw(f->fd, "x", 1, fds, EXTRA_FDS + 1);
	for (i = 0; i <= EXTRA_FDS; i++)
		close(fds[i]);
	check_gave_up(f, peer, run_loop(0.3), "20 fds at once", 0);
}

/*
 * What one kind of child sends is unexpected from the other: each has its
 * own dispatch. mmp-ldapd sending STATS (a relay's message) is killed.
 */
static void
test_wrong_peer(struct fake *ldapd)
{
	const struct kill_rec	*k;
	uint32_t		 n = 0;

	if (imsg_compose(&ldapd->ib, IMSG_STATS, 0, -1, &n, sizeof(n)) == -1 ||
	    imsgbuf_flush(&ldapd->ib) == -1)
		die("send");
	(void)run_loop(0.2);
	k = kill_of(ldapd);
	tap_ok(k != NULL && k->sig == SIGKILL && ldapd->c->chan == NULL,
	    "mmp-ldapd sending a relay's STATS is killed");
	tap_is_int(log_count("mmp-ldapd (pid"), 1, "the kill is logged");
	tap_is_int(log_count("sent unexpected STATS; killing it"), 1,
	    "with what it sent");
}


static char	tlsdir[64];

/* The parent's children are gone (proc_free_all): so are their fakes. */
static void
fakes_reset(void)
{
	size_t		i;
	unsigned int	j;

	for (i = 0; i < nfakes; i++) {
		imsgbuf_clear(&fakes[i].ib);
		close(fakes[i].fd);
		for (j = 0; j < fakes[i].ntlsfiles; j++)
			close(fakes[i].tlsfd[j]);
	}
	memset(fakes, 0, sizeof(fakes));
	nfakes = 0;
	nkills = 0;
}

static void
write_tmp(const char *name, const char *text, char *path, size_t len)
{
	int	fd;

	(void)snprintf(path, len, "%s/%s", tlsdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

#define KEY_PEM	"-----BEGIN PRIVATE KEY-----\nS3cr3tK3yByt3s\n" \
		"-----END PRIVATE KEY-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nQ2VydA==\n" \
		"-----END CERTIFICATE-----\n"

/* IMAP with a certificate and TLS to its stores: three files. */
static struct mmp_conf *
tls_conf(void)
{
	struct mmp_conf	*conf;
	char		 cert[128], key[128], ca[128], err[256];

	(void)strlcpy(tlsdir, "/tmp/mmpd-proc-test.XXXXXX", sizeof(tlsdir));
	if (mkdtemp(tlsdir) == NULL)
		die("mkdtemp");
	write_tmp("cert.pem", CERT_PEM, cert, sizeof(cert));
	write_tmp("key.pem", KEY_PEM, key, sizeof(key));
	write_tmp("ca.pem", CERT_PEM, ca, sizeof(ca));
	if ((conf = conf_new()) == NULL ||
	    conf_set(conf, CONF_GLOBAL, CK_SERVICELIST, "imapproxy@143", "A",
	    1, err, sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_LDAPURL, "ldap://h/", "I", 1, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_SSLENABLE, "yes", "I", 2, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_SSLCERTFILE, cert, "I", 3, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_SSLKEYFILE, key, "I", 4, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_SSLBACKSIDEPORT, "993", "I", 5, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_SSLSTORECAFILE, ca, "I", 6, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_BINDPASS, "bind-pw", "I", 7, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_STOREADMIN, "admin", "I", 8, err,
	    sizeof(err)) == -1 ||
	    conf_set(conf, SVC_IMAP, CK_STOREADMINPASS, "admin-pw", "I", 9,
	    err, sizeof(err)) == -1 ||
	    conf_finish(conf, err, sizeof(err)) == -1) {
		tap_diag("tls_conf: %s", err);
		die("tls_conf");
	}
	return conf;
}

static void
tls_conf_cleanup(void)
{
	char	path[128];

	(void)snprintf(path, sizeof(path), "%s/cert.pem", tlsdir);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/key.pem", tlsdir);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/ca.pem", tlsdir);
	(void)unlink(path);
	(void)rmdir(tlsdir);
}

/* What one mmp-tlsd got as its configuration: files, then ticket keys. */
static void
check_tlsd_conf(struct fake *t)
{
	char		buf[256];
	ssize_t		n;
	unsigned int	i;
	int		seals, key = -1;

	tap_ok(t->got[IMSG_CONF_START] == 1 && t->got[IMSG_CONF_END] == 1 &&
	    t->got[IMSG_CONF_TLSFILE] == 3 && t->got[IMSG_TLS_TICKET_KEYS] == 1,
	    "%s: START, 3 TLSFILEs, END, TICKET_KEYS", t->c->name);
	tap_ok(fake_seq_at(t, IMSG_CONF_START) < fake_seq_at(t,
	    IMSG_CONF_TLSFILE) && fake_seq_at(t, IMSG_CONF_TLSFILE) <
	    fake_seq_at(t, IMSG_CONF_END) && fake_seq_at(t, IMSG_CONF_END) <
	    fake_seq_at(t, IMSG_TLS_TICKET_KEYS), "%s: files inside the "
	    "configuration, ticket keys after its END", t->c->name);
	tap_ok(t->ntlsfiles == 3 && t->tlsfile[0].kind == TLS_FILE_CERT &&
	    t->tlsfile[1].kind == TLS_FILE_KEY &&
	    t->tlsfile[2].kind == TLS_FILE_STORE_CA &&
	    t->tlsfile[0].sect == SVC_IMAP, "%s: certificate, key, store CA "
	    "of IMAP", t->c->name);
	for (i = 0; i < t->ntlsfiles; i++)
		if (t->tlsfile[i].kind == TLS_FILE_KEY)
			key = t->tlsfd[i];
	if (key == -1) {
		tap_ok(0, "%s: a key file", t->c->name);
		return;
	}
	seals = fcntl(key, F_GET_SEALS);
	tap_ok(seals != -1 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL), "%s: the key's memfd is sealed",
	    t->c->name);
	n = pread(key, buf, sizeof(buf), 0);
	tap_ok(n == (ssize_t)strlen(KEY_PEM) && memcmp(buf, KEY_PEM, n) == 0,
	    "%s: the memfd holds the key file's bytes", t->c->name);
	tap_ok(write(key, "x", 1) == -1, "%s: and cannot be written",
	    t->c->name);
}

/*
 * Each child got the secrets it needs and no other: BindPass mmp-ldapd,
 * StoreAdminPass the relays, mmp-tlsd none; StoreAdmin is no secret.
 */
static void
check_secrets(struct fake *relay, struct fake *ldapd, struct fake *tlsd)
{
	tap_ok(relay->kv[CK_STOREADMINPASS] == 1 &&
	    relay->kv[CK_BINDPASS] == 0 && relay->kv[CK_STOREADMIN] == 1,
	    "relay: StoreAdmin and StoreAdminPass, no BindPass");
	tap_ok(ldapd->kv[CK_BINDPASS] == 1 &&
	    ldapd->kv[CK_STOREADMINPASS] == 0 && ldapd->kv[CK_STOREADMIN] == 1,
	    "mmp-ldapd: BindPass, no StoreAdminPass");
	tap_ok(tlsd->kv[CK_BINDPASS] == 0 && tlsd->kv[CK_STOREADMINPASS] == 0
	    && tlsd->kv[CK_STOREADMIN] == 1 && tlsd->kv[CK_LDAPURL] == 1,
	    "mmp-tlsd: the configuration without a secret");
}

/* mmp-tlsd processes: configuration, channels with relays, LOST. */
static void
test_tlsd(void)
{
	struct fake	*ldapd, *t0, *t1, *t2, *r;
	double		 t;

	penv->conf = tls_conf();
	ticket_configure(penv->conf);
	tap_ok(penv->tickets.n == 1 && penv->tickets.lifetime_sec == 7200,
	    "a ticket key for SSLSessionLifetime 7200");
	ldapd = fake_start(CHILD_LDAPD, 0);
	t0 = fake_start(CHILD_TLSD, 0);
	t1 = fake_start(CHILD_TLSD, 1);
	tap_is_str(t1->c->name, "mmp-tlsd 1", "name of mmp-tlsd 1");
	(void)run_loop(0.1);
	fake_read(t0);
	fake_read(t1);
	check_tlsd_conf(t0);
	check_tlsd_conf(t1);
	tap_ok(t0->got[IMSG_RELAY_CHANNEL] == 0, "no relay yet: no channel");

	r = fake_start(CHILD_RELAY, 7);
	(void)run_loop(0.1);
	fake_read(r);
	fake_read(t0);
	fake_read(t1);
	fake_read(ldapd);
	tap_ok(r->got[IMSG_LDAPD_CHANNEL] == 1 && r->got[IMSG_TLSD_CHANNEL] == 2
	    && r->fds == 2 + 1, "a relay gets a channel to mmp-ldapd and to "
	    "each mmp-tlsd (%u)", r->got[IMSG_TLSD_CHANNEL]);
	tap_ok(r->got[IMSG_SHM] == 1 && r->nseq > 0 && r->seq[0] == IMSG_SHM &&
	    r->u32[IMSG_SHM] < SHM_SECTIONS, "a relay gets the shared memory "
	    "first, with its section (%u)", r->u32[IMSG_SHM]);
	tap_ok(t0->got[IMSG_RELAY_CHANNEL] == 1 && t1->got[IMSG_RELAY_CHANNEL]
	    == 1 && t1->u32[IMSG_RELAY_CHANNEL] == 7 &&
	    ldapd->got[IMSG_RELAY_CHANNEL] == 1, "each mmp-tlsd gets the "
	    "other end, with the relay's index");
	tap_is_int(r->u32[IMSG_TLSD_CHANNEL], 1, "TLSD_CHANNEL carries the "
	    "mmp-tlsd index");
	check_secrets(r, ldapd, t0);

	t2 = fake_start(CHILD_TLSD, 2);
	(void)run_loop(0.1);
	fake_read(r);
	fake_read(t2);
	tap_ok(r->got[IMSG_TLSD_CHANNEL] == 3 && r->u32[IMSG_TLSD_CHANNEL] ==
	    2 && t2->got[IMSG_RELAY_CHANNEL] == 1, "a new mmp-tlsd is "
	    "connected to the running relay");

	/* Per (relay, mmp-tlsd): LOSTs for 1 are held, 2's are not. */
	(void)run_loop(CHANNEL_LOST_MIN_SEC + 0.1);
	fake_send_tlsd_lost(r, 1, 1);
	(void)run_loop(0.1);
	fake_read(r);
	tap_ok(r->got[IMSG_TLSD_CHANNEL] == 4 && r->u32[IMSG_TLSD_CHANNEL] ==
	    1, "TLSD_LOST after the window: a channel to that mmp-tlsd");
	t = now_sec();
	fake_send_tlsd_lost(r, 1, 3);
	fake_send_lost(r, 1);
	(void)run_loop(0.2);
	fake_read(r);
	tap_ok(r->got[IMSG_TLSD_CHANNEL] == 4 &&
	    r->got[IMSG_LDAPD_CHANNEL] == 2, "TLSD_LOSTs within the window "
	    "held; the mmp-ldapd channel is counted apart and answered");
	while (now_sec() - t < CHANNEL_LOST_MIN_SEC + 0.3)
		(void)run_loop(0.1);
	fake_read(r);
	fake_read(t1);
	tap_ok(r->got[IMSG_TLSD_CHANNEL] == 5 && t1->got[IMSG_RELAY_CHANNEL]
	    == 3, "when the window ends: one more pair with mmp-tlsd 1");
	tap_is_int(log_count("relay 7: ignored 2 requests for an mmp-tlsd 1 "
	    "channel"), 1, "the ignored ones logged with the mmp-tlsd");
	fake_send_tlsd_lost(r, 40, 1);
	(void)run_loop(0.1);
	tap_ok(kill_of(r) == NULL && r->c->chan != NULL, "TLSD_LOST for an "
	    "mmp-tlsd that is not there: ignored");

	/* Rotation: every mmp-tlsd gets the keys again, newest first. */
	proc_send_tickets_all();
	ticket_configure(penv->conf);
	tap_is_int(penv->tickets.n, 1, "a reload with the same lifetime "
	    "keeps the keys");
	(void)run_loop(0.1);
	fake_read(t2);
	tap_is_int(t2->got[IMSG_TLS_TICKET_KEYS], 2, "ticket keys sent to "
	    "every mmp-tlsd");

	proc_set_tlsds(1);
	(void)run_loop(0.1);
	fake_read(t1);
	fake_read(t2);
	fake_read(t0);
	tap_ok(t1->c->retiring && t2->c->retiring && !t0->c->retiring &&
	    t1->got[IMSG_DRAIN] == 1 && t0->got[IMSG_DRAIN] == 0,
	    "fewer TLSWorkers: the surplus mmp-tlsd drain");
	tap_ok(!proc_all_ready(penv->gen), "not ready before mmp-tlsd is");

	fake_send_tlsd_lost(r, TLSDS_MAX, 1);
	(void)run_loop(0.1);
	tap_ok(kill_of(r) != NULL && r->c->chan == NULL,
	    "TLSD_LOST with an index out of range: the relay is killed");
	ticket_clear();
	tls_conf_cleanup();
}

int
main(void)
{
	struct fake	*relay, *ldapd;

	setup();
	test_premise();
	test_lost_ldapd_down(&relay, &ldapd);
	test_lost_flood(relay, ldapd);
	test_lost_after_window(relay);
	test_lost_kill(relay);
	test_log_time(ldapd);
	test_fd_in_message(ldapd);
	test_fd_queued(ldapd);
	test_fd_unread(ldapd);
	test_fd_many(ldapd);
	test_wrong_peer(ldapd);
	proc_free_all();
	fakes_reset();
	conf_free(penv->conf);
	test_tlsd();
	proc_free_all();
	fakes_reset();
	conf_free(penv->conf);
	event_base_free(penv->base);
	return tap_done();
}
