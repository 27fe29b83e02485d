/*
 * Unit test for lib/logsink.c, the children's log queue to the parent:
 * bounded, with what it drops counted and reported once the parent reads
 * again; errors still get out; a line never longer than the parent takes.
 * The child's end is a lib/chan.c channel on an event base of its own,
 * the parent's a bare imsgbuf read by hand.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "imsg.h"
#include "log.h"
#include "logsink.h"
#include "msg.h"
#include "regress/tap.h"

#define OVER_BOUND	2000	/* lines logged beyond the bound */
#define LONG_BYTES	3000	/* longer than any line the parent takes */

static struct event_base	*base;
static struct chan		*child;		/* the two ends */
static struct imsgbuf		 parent;
static uint64_t			 last_ms;	/* of the last line read */

/* The parent sends the child nothing here. */
static int
child_dispatch(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	(void)imsg;
	return CHAN_UNEXPECTED;
}

static void
child_lost(struct chan *ch, const char *why)
{
	(void)ch;
	fprintf(stderr, "child channel lost: %s\n", why ? why : "EOF");
	exit(2);
}

static const struct chan_peer	child_peer = {
	"parent", child_dispatch, child_lost, NULL
};

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/*
 * Read as the parent does (proc_handle_log's checks) until nothing more
 * comes; counts lines, keeps the last, -1 if one was malformed. push:
 * run the child's event loop meanwhile (this process plays both ends),
 * which writes what compose armed.
 */
static int
parent_read(int push, unsigned int *n, char *last, size_t lastlen)
{
	struct pollfd		pfd = { 0, POLLIN, 0 };
	struct msg_reader	r;
	struct imsg		imsg;
	char			line[LOG_LINE_BYTES];
	uint8_t			svc, prio;
	int			rv, bad = 0;

	pfd.fd = parent.fd;
	for (;;) {
		while ((rv = imsg_get(&parent, &imsg)) == 1) {
			msg_reader_init(&r, &imsg);
			if (imsg.hdr.type != IMSG_LOG ||
			    msg_get_u8(&r, &svc) == -1 ||
			    msg_get_u8(&r, &prio) == -1 ||
			    msg_get_u64(&r, &last_ms) == -1 ||
			    msg_get_str(&r, line, sizeof(line)) == -1 ||
			    msg_end(&r) == -1)
				bad = 1;
			else
				(void)strlcpy(last, line, lastlen);
			(*n)++;
			imsg_free(&imsg);
		}
		if (rv == -1)
			return -1;
		if (push)
			(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 100) <= 0)
			return bad ? -1 : 0;
		if (imsgbuf_read(&parent) <= 0)
			return bad ? -1 : 0;
	}
}

static void
test_bound(void)
{
	char		last[LOG_LINE_BYTES], want[128];
	unsigned int	i, n = 0;

	for (i = 0; i < LOGSINK_QUEUE_MAX + OVER_BOUND; i++)
		log_info("line %u", i);
	tap_is_int(chan_queued(child), LOGSINK_QUEUE_MAX, "%d lines while "
	    "the parent does not read: %d queued", LOGSINK_QUEUE_MAX +
	    OVER_BOUND, LOGSINK_QUEUE_MAX);
	logsink_written();
	tap_is_int(chan_queued(child), LOGSINK_QUEUE_MAX, "no report while "
	    "lines still wait");
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	tap_ok(chan_queued(child) < LOGSINK_QUEUE_MAX, "the event loop writes "
	    "them, with nothing but the queueing to ask it (%zu left)",
	    chan_queued(child));
	if (parent_read(1, &n, last, sizeof(last)) == -1)
		die("parent_read");
	tap_is_int(n, LOGSINK_QUEUE_MAX, "the parent reads the queued lines");
	logsink_written();
	n = 0;
	if (parent_read(1, &n, last, sizeof(last)) == -1)
		die("parent_read");
	(void)snprintf(want, sizeof(want), "test: %d log lines dropped: the "
	    "parent did not read them", OVER_BOUND);
	tap_ok(n == 1 && strcmp(last, want) == 0, "then one report: \"%s\"",
	    last);
	logsink_written();
	tap_is_int(chan_queued(child), 0, "and only once");
}

static void
test_long_line(void)
{
	char		long_line[LONG_BYTES + 1], last[LOG_LINE_BYTES];
	unsigned int	n = 0;
	size_t		len;

	memset(long_line, 'y', LONG_BYTES);
	long_line[LONG_BYTES] = '\0';
	log_info("%s", long_line);
	if (parent_read(1, &n, last, sizeof(last)) == -1) {
		tap_ok(0, "a long line is accepted by the parent's reader");
		return;
	}
	len = strlen(last);
	tap_ok(n == 1 && len == LOG_LINE_BYTES - 1 &&
	    strcmp(last + len - 3, "...") == 0, "a %d-byte line is cut to "
	    "%zu bytes ending in \"...\", as the parent takes it", LONG_BYTES,
	    len);
}

/*
 * A line carries the time it was formatted at, not the time the parent
 * reads it: a batch may leave LOGSINK_BATCH_MSEC later.
 */
static void
test_time(void)
{
	char		last[LOG_LINE_BYTES], stamp[LOG_STAMP_BYTES];
	unsigned int	n = 0;
	uint64_t	before, after;

	before = log_now_ms();
	log_info("timed");
	after = log_now_ms();
	usleep(300000);
	if (parent_read(1, &n, last, sizeof(last)) == -1)
		die("parent_read");
	tap_ok(n == 1 && last_ms >= before && last_ms <= after, "a line "
	    "carries the child's time (%llu in [%llu, %llu]), not the "
	    "reader's 300 ms later", (unsigned long long)last_ms,
	    (unsigned long long)before, (unsigned long long)after);
	log_stamp_iso(1796589667123ULL, stamp, sizeof(stamp));
	tap_ok(strcmp(stamp, "2026-12-06T20:41:07.123Z") == 0,
	    "a stamp reads %s", stamp);
	log_stamp_iso(1796589667005ULL, stamp, sizeof(stamp));
	tap_ok(strcmp(stamp, "2026-12-06T20:41:07.005Z") == 0,
	    "milliseconds keep their zeros: %s", stamp);
}

/* fatal()'s line beyond the bound: queued anyway and flushed. */
static void
test_crit(void)
{
	char		last[LOG_LINE_BYTES];
	unsigned int	i, n = 0;
	pid_t		pid;
	int		status;

	for (i = 0; i < LOGSINK_QUEUE_MAX; i++)
		log_info("line %u", i);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		/* The parent, late: the flush below must wait for it. */
		usleep(200000);
		if (parent_read(0, &n, last, sizeof(last)) == -1)
			_exit(2);
		_exit(n == LOGSINK_QUEUE_MAX + 1 &&
		    strcmp(last, "test: the end") == 0 ? 0 : 1);
	}
	log_svc(LOG_SVC_MMP, LOG_CRIT, "the end");
	tap_is_int(chan_queued(child), 0, "an error beyond the bound is "
	    "queued and flushed at once");
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the parent "
	    "got every line, the error last");
}

int
main(void)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == -1)
		die("socketpair");
	if ((base = event_base_new()) == NULL ||
	    (child = chan_open(base, sp[0], &child_peer, NULL)) == NULL)
		die("chan_open");
	imsgbuf_init(&parent, sp[1]);
	log_init("test", 1, LOG_INFO);
	logsink_init(child);
	test_bound();
	test_long_line();
	test_time();
	test_crit();
	logsink_init(NULL);
	chan_close(child);
	imsgbuf_clear(&parent);
	close(sp[1]);
	event_base_free(base);
	return tap_done();
}
