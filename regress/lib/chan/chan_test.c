/*
 * Unit test for lib/chan.c, the imsg channel on an event loop: messages
 * both ways with the write armed by compose alone, descriptors passed,
 * and the one rule for a peer that breaks the protocol (garbage, a
 * refused payload, an unexpected type, a descriptor where none is due,
 * EOF), a dispatch that closes its channel mid-batch, the first
 * configuration. Both ends live in this process, on one event base.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "msg.h"
#include "regress/sendfds.h"
#include "regress/tap.h"

#define BATCH		3	/* messages sent in one write */
#define WAIT_MSEC	2000	/* longest wait for the loop to act */

/* One end as a process would hold it: the channel and what it saw. */
struct end {
	struct chan	*ch;
	unsigned int	 got[IMSG_MAX];
	unsigned int	 dispatched;
	uint32_t	 last;		/* u32 of the last STATS */
	int		 keptfd;	/* from an LDAPD_CHANNEL */
	unsigned int	 nlost;
	int		 eof;		/* lost with why NULL */
	char		 why[CHAN_WHY_BYTES];
	unsigned int	 drained;
	unsigned int	 close_at;	/* close the channel at this message */
	int		 close_ret;	/* and return this */
	int		 free_self;	/* and free this struct */
};

static struct event_base	*base;
static unsigned int		 configured_after;	/* STATS needed */
static struct end		*configuring;

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/* STATS: u32. LDAPD_CHANNEL: fd, no payload. Anything else: unexpected. */
static int
end_dispatch(struct chan *ch, struct imsg *imsg)
{
	struct end		*e = chan_arg(ch);
	struct msg_reader	 r;
	uint32_t		 v;

	e->dispatched++;
	if (e->close_at == e->dispatched) {
		chan_close(ch);
		e->ch = NULL;
		if (e->free_self) {
			free(e);
			return CHAN_BAD;
		}
		return e->close_ret;
	}
	switch (imsg->hdr.type) {
	case IMSG_STATS:
		msg_reader_init(&r, imsg);
		if (msg_get_u32(&r, &v) == -1 || msg_end(&r) == -1)
			return CHAN_BAD;
		e->got[IMSG_STATS]++;
		e->last = v;
		return CHAN_OK;
	case IMSG_LDAPD_CHANNEL:
		if (imsg->datalen != 0)
			return CHAN_BAD;
		e->got[IMSG_LDAPD_CHANNEL]++;
		e->keptfd = imsg->fd;
		imsg->fd = -1;
		return CHAN_OK;
	default:
		return CHAN_UNEXPECTED;
	}
}

static void
end_lost(struct chan *ch, const char *why)
{
	struct end	*e = chan_arg(ch);

	e->nlost++;
	e->eof = why == NULL;
	(void)strlcpy(e->why, why != NULL ? why : "", sizeof(e->why));
	chan_close(ch);
	e->ch = NULL;
}

static void
end_drained(struct chan *ch)
{
	struct end	*e = chan_arg(ch);

	e->drained++;
}

static const struct chan_peer	test_peer = {
	"peer", end_dispatch, end_lost, end_drained
};

static void
end_open(struct end *e, int fd)
{
	memset(e, 0, sizeof(*e));
	e->keptfd = -1;
	if ((e->ch = chan_open(base, fd, &test_peer, e)) == NULL)
		die("chan_open");
}

static void
end_close(struct end *e)
{
	if (e->ch != NULL)
		chan_close(e->ch);
	e->ch = NULL;
	if (e->keptfd != -1)
		close(e->keptfd);
	e->keptfd = -1;
}

static void
pair(int sp[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die("socketpair");
}

/* Run the loop until done(e) or WAIT_MSEC. */
static int
run_until(int (*done)(const struct end *), const struct end *e)
{
	int	i;

	for (i = 0; i < WAIT_MSEC / 10 && !done(e); i++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (!done(e))
			(void)poll(NULL, 0, 10);
	}
	return done(e);
}

static int
was_lost(const struct end *e)
{
	return e->nlost > 0;
}

/* A message as raw bytes, appended to buf; as a hostile peer writes. */
static size_t
raw_add(uint8_t *buf, size_t off, uint32_t type, uint32_t flags,
    const void *data, size_t len)
{
	struct imsg_hdr	hdr;

	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_BYTES + len);
	hdr.flags = flags;
	hdr.peerid = 0;
	memcpy(buf + off, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(buf + off + sizeof(hdr), data, len);
	return off + sizeof(hdr) + len;
}

/* STATS with v; flags IMSG_HASFD when an fd is sent with it. */
static size_t
raw_stats(uint8_t *buf, size_t off, uint32_t v, uint32_t flags)
{
	uint8_t	le[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
		    v >> 24 };

	return raw_add(buf, off, IMSG_STATS, flags, le, sizeof(le));
}

/* One sendmsg of len bytes, with fd (or -1) riding along. */
static void
raw_send(int s, const void *buf, size_t len, int fd)
{
	if (sendfds(s, buf, len, &fd, fd != -1) != (ssize_t)len)
		die("sendmsg");
}

static int
got_all(const struct end *e)
{
	return e->got[IMSG_STATS] == BATCH && e->drained > 0;
}

static int
a_done(const struct end *e)
{
	return e->got[IMSG_STATS] == BATCH - 1 && e->drained > 0;
}

/* Two chans: compose alone gets messages written, both ways, in order. */
static void
test_both_ways(void)
{
	struct end		a, b;
	struct msg_writer	w;
	int			sp[2], ok;
	uint32_t		i;

	pair(sp);
	end_open(&a, sp[0]);
	end_open(&b, sp[1]);
	for (i = 1; i <= BATCH; i++) {
		msg_writer_init(&w);
		msg_add_u32(&w, i);
		if (chan_compose_msg(a.ch, IMSG_STATS, 0, -1, &w) == -1)
			die("chan_compose_msg");
	}
	for (i = 1; i < BATCH; i++)
		if (chan_compose(b.ch, IMSG_STATS, 0, -1, &i, sizeof(i)) == -1)
			die("chan_compose");
	tap_ok(chan_queued(a.ch) == BATCH && chan_queued(b.ch) == BATCH - 1,
	    "compose queues (%zu, %zu)", chan_queued(a.ch),
	    chan_queued(b.ch));
	ok = run_until(got_all, &b) && b.last == BATCH;
	tap_ok(ok, "the loop writes what compose armed: %u messages a -> b, "
	    "last %u", b.got[IMSG_STATS], b.last);
	ok = run_until(a_done, &a) && a.last == BATCH - 1;
	tap_ok(ok, "and b -> a: %u, last %u", a.got[IMSG_STATS], a.last);
	tap_ok(chan_queued(a.ch) == 0 && a.drained == 1, "drained is called "
	    "once the queue is empty (%u)", a.drained);
	tap_ok(a.nlost == 0 && b.nlost == 0, "nothing lost");
	end_close(&a);
	end_close(&b);
}

static int
got_fd(const struct end *e)
{
	return e->got[IMSG_LDAPD_CHANNEL] > 0;
}

/* A descriptor rides with the type that carries one, and is kept. */
static void
test_fd_passed(void)
{
	struct end	a, b;
	char		c = 0;
	int		sp[2], q[2];

	pair(sp);
	pair(q);
	end_open(&a, sp[0]);
	end_open(&b, sp[1]);
	if (chan_compose(a.ch, IMSG_LDAPD_CHANNEL, 0, q[0], NULL, 0) == -1)
		die("chan_compose");
	tap_ok(run_until(got_fd, &b) && b.keptfd != -1, "a descriptor is "
	    "passed with LDAPD_CHANNEL");
	tap_ok(b.keptfd != -1 && write(b.keptfd, "x", 1) == 1 &&
	    read(q[1], &c, 1) == 1 && c == 'x', "and it is the socket that "
	    "was sent");
	close(q[1]);
	end_close(&a);
	end_close(&b);
}

/* A chan on sp[0] and its peer as raw bytes on sp[1]. */
static void
raw_pair(struct end *e, int sp[2])
{
	pair(sp);
	end_open(e, sp[0]);
}

static void
test_eof(void)
{
	struct end	e;
	int		sp[2];

	raw_pair(&e, sp);
	close(sp[1]);
	tap_ok(run_until(was_lost, &e) && e.nlost == 1 && e.eof,
	    "EOF: lost is called once, why NULL");
}

/* What one write of bad bytes makes of a chan: lost, with why. */
static void
check_lost(const uint8_t *buf, size_t len, int fd, const char *want,
    unsigned int stats, const char *what)
{
	struct end	e;
	int		sp[2], ok;

	raw_pair(&e, sp);
	raw_send(sp[1], buf, len, fd);
	ok = run_until(was_lost, &e) && e.nlost == 1 && !e.eof;
	tap_ok(ok && strcmp(e.why, want) == 0, "%s: lost, \"%s\"", what,
	    e.why);
	tap_is_int(e.got[IMSG_STATS], stats, "%s: nothing dispatched after "
	    "it", what);
	close(sp[1]);
}

static void
test_broken(void)
{
	uint8_t		buf[256];
	uint8_t		zeros[IMSG_HEADER_BYTES] = { 0 };
	size_t		n;

	check_lost(zeros, sizeof(zeros), -1, "sent a malformed message", 0,
	    "garbage (length 0)");
	n = raw_stats(buf, 0, 1, 0);
	n = raw_add(buf, n, IMSG_STATS, 0, "ab", 2);
	n = raw_stats(buf, n, 3, 0);
	check_lost(buf, n, -1, "sent a malformed STATS", 1,
	    "a payload the reader refuses");
	n = raw_stats(buf, 0, 1, 0);
	n = raw_add(buf, n, IMSG_LOOKUP, 0, NULL, 0);
	n = raw_stats(buf, n, 3, 0);
	check_lost(buf, n, -1, "sent unexpected LOOKUP", 1,
	    "a type the dispatch does not expect");
	n = raw_add(buf, 0, 999, 0, NULL, 0);
	check_lost(buf, n, -1, "sent unknown message type 999", 0,
	    "a type no message has");
	n = raw_add(buf, 0, IMSG_LDAPD_CHANNEL, 0, NULL, 0);
	check_lost(buf, n, -1, "sent LDAPD_CHANNEL without its descriptor",
	    0, "a descriptor missing");
}

/* A descriptor with a type that carries none: lost, and it is closed. */
static void
test_fd_not_due(void)
{
	uint8_t		buf[64];
	char		c;
	size_t		n;
	int		q[2];

	pair(q);
	n = raw_stats(buf, 0, 1, IMSG_HASFD);
	check_lost(buf, n, q[0], "sent a descriptor with STATS", 0,
	    "a descriptor where none is due");
	close(q[0]);
	tap_ok(read(q[1], &c, 1) == 0, "the descriptor was closed");
	close(q[1]);
}

/* Has the chan on the other end of s closed it? (It sends nothing.) */
static int
peer_closed(int s)
{
	struct pollfd	pfd = { s, POLLIN, 0 };
	char		c;
	int		i;

	for (i = 0; i < WAIT_MSEC / 10; i++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) == 1)
			return recv(s, &c, 1, MSG_DONTWAIT) == 0;
	}
	return 0;
}

static int
got_two(const struct end *e)
{
	return e->dispatched >= 2;
}

/*
 * The dispatch closes its channel at the second of three messages (and
 * maybe frees what held it): the third is not dispatched, lost is not
 * called, and nothing touches freed memory (valgrind, memcheck.t).
 */
static void
test_close_in_dispatch(int ret, int free_self, const char *what)
{
	struct end	*e;
	uint8_t		 buf[128];
	size_t		 n = 0;
	int		 sp[2];
	uint32_t	 i;

	if ((e = malloc(sizeof(*e))) == NULL)
		die("malloc");
	raw_pair(e, sp);
	e->close_at = 2;
	e->close_ret = ret;
	e->free_self = free_self;
	for (i = 1; i <= BATCH; i++)
		n = raw_stats(buf, n, i, 0);
	raw_send(sp[1], buf, n, -1);
	if (free_self) {
		/* e is gone once closed: watch the socket, not e. */
		tap_ok(peer_closed(sp[1]), "%s: the channel is closed", what);
		close(sp[1]);
		return;
	}
	tap_ok(run_until(got_two, e) && e->ch == NULL, "%s: closed",
	    what);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	tap_ok(e->dispatched == 2 && e->nlost == 0, "%s: the third message "
	    "is not dispatched, lost is not called (%u, %u)", what,
	    e->dispatched, e->nlost);
	close(sp[1]);
	free(e);
}

static int
is_configured(void)
{
	return configuring->got[IMSG_STATS] >= configured_after;
}

static int
got_batch(const struct end *e)
{
	return e->got[IMSG_STATS] == BATCH;
}

/*
 * chan_first_conf stops at the message that completes the configuration;
 * the rest of the same read is dispatched by the loop, with no new byte
 * to wake it. The first message comes later, by another process.
 */
static void
test_first_conf(void)
{
	struct end	e;
	uint8_t		buf[128];
	size_t		n = 0;
	pid_t		pid;
	int		sp[2], status;
	uint32_t	i;

	raw_pair(&e, sp);
	for (i = 1; i <= BATCH; i++)
		n = raw_stats(buf, n, i, 0);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		(void)poll(NULL, 0, 100);
		raw_send(sp[1], buf, n, -1);
		_exit(0);
	}
	configuring = &e;
	configured_after = BATCH - 1;
	chan_first_conf(e.ch, is_configured);
	tap_ok(e.got[IMSG_STATS] == BATCH - 1, "first configuration: waits "
	    "for it, stops at the message that completes it");
	tap_ok(run_until(got_batch, &e) && e.last == BATCH, "the message that "
	    "came with it is dispatched once the loop runs");
	(void)waitpid(pid, &status, 0);
	close(sp[1]);
	end_close(&e);
}

/* In a process of its own: what the first configuration does on bad. */
static int
first_conf_status(const void *bytes, size_t len)
{
	struct end	e;
	pid_t		pid;
	int		sp[2], status, null;

	raw_pair(&e, sp);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if ((null = open("/dev/null", O_WRONLY)) != -1)
			(void)dup2(null, STDERR_FILENO);
		close(sp[1]);
		configuring = &e;
		configured_after = 1;
		chan_first_conf(e.ch, is_configured);
		_exit(0);
	}
	if (len > 0)
		raw_send(sp[1], bytes, len, -1);
	close(sp[1]);
	/* Not before: our close would read and drop what the child reads. */
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	end_close(&e);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
test_first_conf_fatal(void)
{
	uint8_t		zeros[IMSG_HEADER_BYTES] = { 0 };
	uint8_t		buf[64];
	size_t		n;

	tap_is_int(first_conf_status(NULL, 0), 1, "first configuration: "
	    "EOF is fatal");
	tap_is_int(first_conf_status(zeros, sizeof(zeros)), 1, "garbage is "
	    "fatal");
	n = raw_add(buf, 0, IMSG_LOOKUP, 0, NULL, 0);
	tap_is_int(first_conf_status(buf, n), 1, "an unexpected type is "
	    "fatal");
}

/* chan_flush writes everything now, without the loop. */
static void
test_flush(void)
{
	struct end	e;
	struct imsgbuf	ib;
	struct imsg	imsg;
	uint32_t	i;
	int		sp[2], n = 0;

	raw_pair(&e, sp);
	for (i = 0; i < BATCH; i++)
		if (chan_compose(e.ch, IMSG_STATS, 0, -1, &i, sizeof(i)) == -1)
			die("chan_compose");
	tap_ok(chan_flush(e.ch) == 0 && chan_queued(e.ch) == 0, "chan_flush "
	    "writes everything");
	imsgbuf_init(&ib, sp[1]);
	if (imsgbuf_read(&ib) > 0)
		while (imsg_get(&ib, &imsg) == 1) {
			n++;
			imsg_free(&imsg);
		}
	tap_is_int(n, BATCH, "the peer has them without the loop running");
	imsgbuf_clear(&ib);
	close(sp[1]);
	end_close(&e);
}

/*
 * Every type of msg.h has a name in lib/msg.c: one added without would
 * be "unknown" to every receiver, and cost its sender its channel.
 */
static void
test_names(void)
{
	uint32_t	type;
	int		unnamed = 0;

	for (type = IMSG_NONE + 1; type < IMSG_MAX; type++)
		if (msg_type_name(type) == NULL) {
			tap_diag("message type %u has no name in lib/msg.c",
			    type);
			unnamed++;
		}
	tap_is_int(unnamed, 0, "every message type has a name");
	tap_ok(msg_type_name(IMSG_NONE) == NULL &&
	    msg_type_name(IMSG_MAX) == NULL, "IMSG_NONE and IMSG_MAX have none");
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	log_init("chan_test", 1, LOG_INFO);
	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	test_names();
	test_both_ways();
	test_fd_passed();
	test_eof();
	test_broken();
	test_fd_not_due();
	test_close_in_dispatch(CHAN_OK, 0, "closed, CHAN_OK returned");
	test_close_in_dispatch(CHAN_BAD, 0, "closed, CHAN_BAD returned");
	test_close_in_dispatch(CHAN_BAD, 1, "closed and its owner freed");
	test_first_conf();
	test_first_conf_fatal();
	test_flush();
	event_base_free(base);
	return tap_done();
}
