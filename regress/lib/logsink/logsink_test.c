/*
 * Unit test for lib/logsink.c, the children's log queue to the parent:
 * bounded, with what it drops counted and reported once the parent reads
 * again; errors still get out; a line never longer than the parent takes.
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

#include "imsg.h"
#include "log.h"
#include "logsink.h"
#include "msg.h"
#include "regress/tap.h"

#define OVER_BOUND	2000	/* lines logged beyond the bound */
#define LONG_BYTES	3000	/* longer than any line the parent takes */

static struct imsgbuf	child, parent;	/* the two ends */
static unsigned int	wants;		/* want_write calls */

static void
want_write(void)
{
	wants++;
}

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/*
 * Read as the parent does (proc_handle_log's checks) until nothing more
 * comes; counts lines, keeps the last, -1 if one was malformed. push:
 * write the child's queue meanwhile (this process plays both ends).
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
			(void)imsgbuf_write(&child);
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
	tap_is_int(imsgbuf_queued(&child), LOGSINK_QUEUE_MAX, "%d lines "
	    "while the parent does not read: %d queued", LOGSINK_QUEUE_MAX +
	    OVER_BOUND, LOGSINK_QUEUE_MAX);
	tap_is_int(wants, LOGSINK_QUEUE_MAX, "each queued line asked for a "
	    "write");
	logsink_written();
	tap_is_int(imsgbuf_queued(&child), LOGSINK_QUEUE_MAX, "no report "
	    "while lines still wait");
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
	tap_is_int(imsgbuf_queued(&child), 0, "and only once");
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
	tap_is_int(imsgbuf_queued(&child), 0, "an error beyond the bound is "
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
	imsgbuf_init(&child, sp[0]);
	imsgbuf_init(&parent, sp[1]);
	log_init("test", 1, LOG_INFO);
	logsink_init(&child, want_write);
	test_bound();
	test_long_line();
	test_crit();
	log_set_sink(NULL);
	return tap_done();
}
