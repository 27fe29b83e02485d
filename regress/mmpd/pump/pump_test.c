/*
 * Unit test for mmpd/pump.c: a sender that always has more than the
 * pump may move in one wakeup (a full 1 MiB pipe) must not keep the
 * worker: each pump_run moves at most PUMP_WAKEUP_BYTES (plus the one
 * splice that crossed it) and yields; what was read before the relay goes
 * first; every byte arrives once, in order; the end is passed on.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmpd/pump.h"
#include "regress/tap.h"

#define PIPE_BYTES	(1024 * 1024)	/* pipe-max-size's default */
#define PEND		"pending bytes first\r\n"

/* The events' memory, which a pump's owner provides. */
static struct event	*rev_mem, *wev_mem;

static void
never_called(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
}

/* A non-blocking pipe of PIPE_BYTES (less if the system allows less). */
static int
big_pipe(int p[2], size_t *size)
{
	int	n;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	n = fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
	if (n == -1)
		n = fcntl(p[1], F_GETPIPE_SZ);
	*size = n > 0 ? (size_t)n : 0;
	return 0;
}

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

/* Fill fd with the pattern from *off on until it takes no more. */
static void
fill(int fd, size_t *off, size_t upto)
{
	unsigned char	buf[8192];
	size_t		i, n;
	ssize_t		w;

	while (*off < upto) {
		n = upto - *off < sizeof(buf) ? upto - *off : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(*off + i);
		if ((w = write(fd, buf, n)) <= 0)
			return;
		*off += (size_t)w;
	}
}

/* Read what fd has; check it against the pattern. -1 on a mismatch. */
static int
drain(int fd, size_t *off, size_t *got)
{
	unsigned char	buf[8192];
	ssize_t		n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(*off + (size_t)i))
				return -1;
		*off += (size_t)n;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * After a TLS handoff both ends of a relay may be AF_UNIX socketpairs
 * (mmp-tlsd's plaintext side): splice must move bytes and the end there
 * as well as between TCP sockets.
 */
static void
test_unix(struct event_base *base)
{
	struct relay_dir	d;
	char			buf[64];
	int			in[2], out[2], r;
	ssize_t			n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, in) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, out) == -1) {
		tap_ok(0, "AF_UNIX: socketpair: %s", strerror(errno));
		return;
	}
	pump_clear(&d);
	tap_is_int(pump_init(&d, base, NULL, in[0], out[0], 4096,
	    never_called, rev_mem, wev_mem), 0, "AF_UNIX: pump_init");
	(void)buf_add(&d.pend, "a ", 2);
	pump_start(&d);
	tap_ok(event_pending(d.rev, EV_READ, NULL), "AF_UNIX: the sender is "
	    "watched from the start");
	tap_ok(write(in[1], "b c", 3) == 3, "AF_UNIX: sender writes");
	close(in[1]);
	/*
	 * A short read ends a wakeup (PUMP_WAIT): the sender's end, still
	 * readable, is the read event's next round.
	 */
	r = pump_run(&d);
	tap_is_int(r, PUMP_WAIT, "AF_UNIX: a short read ends the wakeup");
	r = pump_run(&d);
	tap_is_int(r, PUMP_DONE, "AF_UNIX: sender's end passed on");
	/* Level-triggered, a closed sender would wake the worker forever. */
	tap_ok(!event_pending(d.rev, EV_READ, NULL), "AF_UNIX: a closed "
	    "sender is watched no more");
	n = read(out[1], buf, sizeof(buf));
	tap_is_mem(buf, n > 0 ? (size_t)n : 0, "a b c", 5,
	    "AF_UNIX: pend, then the spliced bytes");
	tap_is_int(read(out[1], buf, sizeof(buf)), 0,
	    "AF_UNIX: the receiver sees the half-close");
	pump_free(&d);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}

/*
 * A direction holds a pipe only while bytes are in flight: idle, its pipe
 * is back in the pool, and the next burst takes it again.
 */
static void
test_pool(struct event_base *base)
{
	struct pump_pool	pool;
	struct relay_dir	d;
	char			buf[64];
	int			in[2], out[2], fd0;

	memset(&pool, 0, sizeof(pool));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, in) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, out) == -1) {
		tap_ok(0, "pool: socketpair: %s", strerror(errno));
		return;
	}
	pump_clear(&d);
	tap_is_int(pump_init(&d, base, &pool, in[0], out[0], 4096,
	    never_called, rev_mem, wev_mem), 0, "pool: pump_init");
	tap_ok(d.pipe[0] == -1 && d.pipe[1] == -1, "pool: no pipe before "
	    "bytes come");
	tap_ok(write(in[1], "hello", 5) == 5, "pool: sender writes");
	tap_is_int(pump_run(&d), PUMP_WAIT, "pool: moved, then waits");
	tap_ok(read(out[1], buf, sizeof(buf)) == 5, "pool: receiver has it");
	tap_ok(d.pipe[0] == -1 && pool.n == 1, "pool: idle, the pipe is in "
	    "the pool (%zu)", pool.n);
	fd0 = pool.fds[0][0];
	tap_ok(write(in[1], "again", 5) == 5, "pool: sender writes again");
	tap_is_int(pump_run(&d), PUMP_WAIT, "pool: moved again");
	tap_ok(read(out[1], buf, sizeof(buf)) == 5 && pool.n == 1 &&
	    pool.fds[0][0] == fd0, "pool: the same pipe served, back again");
	tap_ok(write(in[1], "x", 1) == 1, "pool: a byte in flight");
	(void)signal(SIGPIPE, SIG_IGN);		/* as the relay has it */
	close(out[1]);
	tap_is_int(pump_run(&d), PUMP_ERROR, "pool: the receiver is gone");
	tap_ok(d.pipe[0] != -1 && d.inpipe == 1 && pool.n == 0, "pool: a "
	    "pipe with a byte in it is held");
	pump_free(&d);
	tap_ok(pool.n == 0, "pool: a pipe that was not empty is closed, not "
	    "pooled");
	pump_pool_free(&pool);
	close(in[0]);
	close(in[1]);
	close(out[0]);
}

int
main(void)
{
	struct event_base	*base;
	struct relay_dir	 d;
	char			 head[sizeof(PEND) - 1];
	size_t			 insize, outsize, sent = 0, seen = 0, got;
	size_t			 total, calls = 0, most = 0;
	int			 in[2], out[2], bad = 0, r = PUMP_WAIT;

	if ((base = event_base_new()) == NULL ||
	    (rev_mem = calloc(1, event_get_struct_event_size())) == NULL ||
	    (wev_mem = calloc(1, event_get_struct_event_size())) == NULL ||
	    big_pipe(in, &insize) == -1 || big_pipe(out, &outsize) == -1) {
		tap_ok(0, "set up: %s", strerror(errno));
		return tap_done();
	}
	total = 4 * insize;
	pump_clear(&d);
	tap_is_int(pump_init(&d, base, NULL, in[0], out[1], 4096,
	    never_called, rev_mem, wev_mem), 0, "pump_init");
	tap_ok(buf_add(&d.pend, PEND, sizeof(PEND) - 1) == 0, "pend filled");
	tap_ok(insize > PUMP_WAKEUP_BYTES + RELAY_PIPE_BYTES,
	    "the sender holds more than one wakeup (%zu bytes)", insize);

	/* The bytes read before the relay began come first. */
	fill(in[1], &sent, total);
	r = pump_run(&d);
	tap_ok(read(out[0], head, sizeof(head)) == (ssize_t)sizeof(head) &&
	    memcmp(head, PEND, sizeof(head)) == 0, "pend arrives first");
	tap_ok(d.pend.data == NULL && d.pend.cap == 0,
	    "pend's buffer is freed once it went out");
	for (;;) {
		got = 0;
		if (drain(out[0], &seen, &got) == -1) {
			bad = 1;
			break;
		}
		calls++;
		if (got > most)
			most = got;
		if (r == PUMP_WAIT || r == PUMP_ERROR || r == PUMP_DONE)
			break;
		tap_ok(d.inpipe == 0, "yield %zu leaves the pump's pipe empty",
		    calls);
		fill(in[1], &sent, total);
		if (sent == total && in[1] != -1) {
			close(in[1]);
			in[1] = -1;
		}
		r = pump_run(&d);
	}
	tap_ok(!bad, "every byte arrives once, in order");
	tap_ok(most <= PUMP_WAKEUP_BYTES + RELAY_PIPE_BYTES,
	    "at most %d bytes per wakeup (most: %zu)",
	    PUMP_WAKEUP_BYTES + RELAY_PIPE_BYTES, most);
	tap_ok(calls >= total / (PUMP_WAKEUP_BYTES + RELAY_PIPE_BYTES),
	    "%zu bytes took %zu wakeups", total, calls);
	tap_is_int(r, PUMP_DONE, "the sender's end is passed on");
	tap_is_int((long long)seen, (long long)total, "all bytes arrived");
	tap_is_int((long long)d.bytes, (long long)(total + sizeof(PEND) - 1),
	    "the byte count includes pend");
	/* Both waiting, as when a session closes in the middle of a relay. */
	(void)event_add(d.rev, NULL);
	(void)event_add(d.wev, NULL);
	pump_free(&d);
	tap_ok(d.pipe[0] == -1 && d.rev == NULL, "pump_free clears");
	/* The owner frees the memory next: libevent must not know it. */
	tap_ok(!event_pending(rev_mem, EV_READ | EV_WRITE | EV_TIMEOUT,
	    NULL) && !event_pending(wev_mem, EV_READ | EV_WRITE | EV_TIMEOUT,
	    NULL), "pump_free deletes both events");
	/* Had it not, the next tests would reuse added events and spin. */
	(void)event_del(rev_mem);
	(void)event_del(wev_mem);
	close(in[0]);
	close(out[0]);
	close(out[1]);
	test_unix(base);
	test_pool(base);
	event_base_free(base);
	free(rev_mem);
	free(wev_mem);
	return tap_done();
}
