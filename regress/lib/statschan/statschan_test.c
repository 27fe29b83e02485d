/*
 * Unit test for lib/statschan.c, a child's end of its statistics
 * channel: a QUERY answered with its request id and the child's
 * counters; a payload on STATS_CHANNEL refused; a short or long QUERY,
 * or another type, costs the channel and nothing else; a new channel
 * replaces the old; a peer that asks on and never reads loses the
 * channel once STATSCHAN_QUEUE_MAX answers wait. The statistics
 * process's end is a chan in this process, on the same event base (a
 * plain socket where it must not read).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "msg.h"
#include "statschan.h"
#include "regress/tap.h"

#define WAIT_MSEC	2000	/* longest wait for the loop to act */
#define COUNTER		0x5eed1234u
/*
 * QUERYs of the flood: 480 KB, more than two socket buffers (the
 * kernel's on both ends take answers before any is queued here).
 */
#define FLOOD_QUERIES	20000

/* The statistics process's end: what came back. */
struct asker {
	struct chan	*ch;
	unsigned int	 answers;
	uint64_t	 reqid;
	uint32_t	 counter;
	unsigned int	 lost;
};

static struct event_base	*base;
static int			 unread_logged;	/* the flood's log line */

static void
capture_sink(int svc, int prio, uint64_t ms, const char *line)
{
	(void)svc;
	(void)prio;
	(void)ms;
	if (strstr(line, "answers unread: channel closed") != NULL)
		unread_logged = 1;
}

static int
asker_dispatch(struct chan *ch, struct imsg *imsg)
{
	struct asker		*a = chan_arg(ch);
	struct msg_reader	 r;

	if (imsg->hdr.type != IMSG_STATS_ANSWER)
		return CHAN_UNEXPECTED;
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &a->reqid) == -1 ||
	    msg_get_u32(&r, &a->counter) == -1 || msg_end(&r) == -1)
		return CHAN_BAD;
	a->answers++;
	return CHAN_OK;
}

static void
asker_lost(struct chan *ch, const char *why)
{
	struct asker	*a = chan_arg(ch);

	(void)why;
	chan_close(ch);
	a->ch = NULL;
	a->lost = 1;
}

static const struct chan_peer asker_peer = {
	"asker", asker_dispatch, asker_lost, NULL
};

/* The child's counters: one u32 after the request id. */
static void
write_counters(struct msg_writer *w, uint64_t reqid, void *arg)
{
	msg_add_u64(w, reqid);
	msg_add_u32(w, *(uint32_t *)arg);
}

/* Run the loop until *flag reaches want, or WAIT_MSEC. */
static int
run_until(const unsigned int *flag, unsigned int want)
{
	int	i;

	for (i = 0; i < WAIT_MSEC / 10 && *flag < want; i++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (*flag < want)
			(void)poll(NULL, 0, 10);
	}
	return *flag >= want;
}

/* A new pair: the child's end taken by sc, the asker's opened. */
static int
pair(struct statschan *sc, struct asker *a)
{
	struct imsg	imsg;
	int		sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
	memset(&imsg, 0, sizeof(imsg));
	memset(a, 0, sizeof(*a));
	imsg.hdr.type = IMSG_STATS_CHANNEL;
	imsg.fd = sv[0];
	if (statschan_take(sc, base, &imsg) != CHAN_OK || imsg.fd != -1 ||
	    sc->ch == NULL)
		return -1;
	if ((a->ch = chan_open(base, sv[1], &asker_peer, a)) == NULL)
		return -1;
	return 0;
}

/* Send raw bytes as a QUERY (or type) and see whether sc loses it. */
static int
loses_channel(struct statschan *sc, uint32_t type, const void *data,
    size_t len)
{
	struct asker	a;
	int		i;

	if (pair(sc, &a) == -1)
		return 0;
	if (chan_compose(a.ch, type, 0, -1, data, len) == -1)
		return 0;
	for (i = 0; i < WAIT_MSEC / 10 && sc->ch != NULL; i++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		(void)poll(NULL, 0, 10);
	}
	(void)run_until(&a.lost, 1);
	if (a.ch != NULL)
		chan_close(a.ch);
	return sc->ch == NULL && a.answers == 0;
}

/* The flood: FLOOD_QUERIES framed QUERYs in one buffer of *len bytes. */
static uint8_t *
flood_queries(size_t *len)
{
	struct imsg_hdr	 hdr;
	uint8_t		*buf, *p;
	uint64_t	 reqid;
	size_t		 q;

	*len = FLOOD_QUERIES * (sizeof(hdr) + sizeof(reqid));
	if ((buf = calloc(1, *len)) == NULL)
		return NULL;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = IMSG_STATS_QUERY;
	hdr.len = sizeof(hdr) + sizeof(reqid);
	for (q = 0, p = buf; q < FLOOD_QUERIES; q++, p += hdr.len) {
		reqid = q + 1;
		memcpy(p, &hdr, sizeof(hdr));
		memcpy(p + sizeof(hdr), &reqid, sizeof(reqid));
	}
	return buf;
}

/*
 * A peer (a plain socket: nothing reads it) sends the flood as fast as
 * the child takes it, until the child gives the channel up (sc->ch NULL)
 * or WAIT_MSEC; then it reads the answers that reached its socket, and
 * what ends them: *eof. -1 on a setup failure.
 */
static int
flood(struct statschan *sc, size_t *answers, int *eof)
{
	struct imsg	 imsg;
	uint8_t		*buf, rd[4096];
	size_t		 len, off = 0, got = 0;
	ssize_t		 n;
	int		 sv[2], i;

	*answers = 0;
	*eof = 0;
	if ((buf = flood_queries(&len)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_STATS_CHANNEL;
	imsg.fd = sv[0];
	if (statschan_take(sc, base, &imsg) != CHAN_OK || sc->ch == NULL)
		return -1;
	for (i = 0; i < WAIT_MSEC / 10 && sc->ch != NULL; i++) {
		while (off < len && (n = send(sv[1], buf + off, len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
			off += n;
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (sc->ch != NULL)
			(void)poll(NULL, 0, 10);
	}
	free(buf);
	while ((n = recv(sv[1], rd, sizeof(rd), MSG_DONTWAIT)) > 0)
		got += n;
	*eof = n == 0;
	if (n == -1)
		tap_diag("flood: the peer reads: %s", strerror(errno));
	/* An answer: header, reqid, the u32 counter. */
	*answers = got / (sizeof(struct imsg_hdr) + sizeof(uint64_t) +
	    sizeof(uint32_t));
	close(sv[1]);
	return 0;
}

int
main(void)
{
	struct statschan	sc;
	struct asker		a, b;
	struct imsg		imsg;
	struct msg_writer	w;
	uint32_t		counter = COUNTER;
	uint8_t			longq[9] = { 7 }, shortq[4] = { 7 };
	size_t			answers;
	int			sv[2], eof;

	log_init("statschan_test", 1, LOG_CRIT);
	if ((base = event_base_new()) == NULL)
		return 2;
	memset(&sc, 0, sizeof(sc));
	sc.write = write_counters;
	sc.arg = &counter;

	/* A payload where there must be none. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 2;
	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = sv[0];
	imsg.data = longq;
	imsg.datalen = 1;
	tap_ok(statschan_take(&sc, base, &imsg) == CHAN_BAD && sc.ch == NULL,
	    "STATS_CHANNEL with a payload: refused, no channel");
	close(sv[0]);
	close(sv[1]);

	tap_ok(pair(&sc, &a) == 0, "STATS_CHANNEL taken, descriptor kept");
	msg_writer_init(&w);
	msg_add_u64(&w, 0x1122334455667788ULL);
	tap_ok(chan_compose_msg(a.ch, IMSG_STATS_QUERY, 0, -1, &w) == 0 &&
	    run_until(&a.answers, 1) && a.reqid == 0x1122334455667788ULL &&
	    a.counter == COUNTER, "QUERY answered with its reqid and the "
	    "counters");
	msg_writer_init(&w);
	msg_add_u64(&w, 2);
	counter = 41;
	tap_ok(chan_compose_msg(a.ch, IMSG_STATS_QUERY, 0, -1, &w) == 0 &&
	    run_until(&a.answers, 2) && a.reqid == 2 && a.counter == 41,
	    "a second QUERY: the counters as they are now");

	/* A new channel replaces the old, which its peer sees end. */
	tap_ok(pair(&sc, &b) == 0 && run_until(&a.lost,
	    1) && a.ch == NULL, "a new STATS_CHANNEL closes the old one");
	chan_close(b.ch);

	tap_ok(loses_channel(&sc, IMSG_STATS_QUERY, shortq, sizeof(shortq)),
	    "a QUERY of 4 bytes loses the channel, unanswered");
	tap_ok(loses_channel(&sc, IMSG_STATS_QUERY, longq, sizeof(longq)),
	    "a QUERY with a byte after its reqid loses the channel");
	tap_ok(loses_channel(&sc, IMSG_STATS_ANSWER, longq, 8),
	    "another type loses the channel");

	/* A statistics process that asks on and never reads. */
	log_set_level(LOG_WARNING);
	log_set_sink(capture_sink);
	if (flood(&sc, &answers, &eof) == -1)
		return 2;
	log_set_sink(NULL);
	log_set_level(LOG_CRIT);
	tap_ok(sc.ch == NULL && answers < FLOOD_QUERIES, "answers never "
	    "read: the channel is closed before all are queued (%zu of %d "
	    "reached the peer)", answers, FLOOD_QUERIES);
	tap_ok(eof, "and the peer reads EOF after the answers that reached it");
	tap_ok(unread_logged, "and the log says why");
	return tap_done();
}
