/*
 * The relay phase of one direction: first what was read before the relay
 * began (pend), then splice(2) from the sender into a pipe and from the
 * pipe to the receiver. Bounded per wakeup, so one busy session shares its
 * worker with the others.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pump.h"

void
pump_clear(struct relay_dir *d)
{
	memset(d, 0, sizeof(*d));
	d->pipe[0] = d->pipe[1] = -1;
}

int
pump_init(struct relay_dir *d, struct event_base *base,
    struct pump_pool *pool, int from, int to, size_t pendmax,
    event_callback_fn cb, struct event *rev, struct event *wev)
{
	d->from = from;
	d->to = to;
	d->pool = pool;
	if (buf_init(&d->pend, 0, pendmax) == -1)
		return -1;
	if (event_assign(rev, base, from, EV_READ | EV_PERSIST, cb, d) == -1 ||
	    event_assign(wev, base, to, EV_WRITE, cb, d) == -1)
		return -1;
	d->rev = rev;
	d->wev = wev;
	return 0;
}

/* A pipe for the bytes about to move: the pool's, or a new one. */
static int
pump_pipe_take(struct relay_dir *d)
{
	struct pump_pool	*pool = d->pool;

	if (pool != NULL && pool->n > 0) {
		pool->n--;
		d->pipe[0] = pool->fds[pool->n][0];
		d->pipe[1] = pool->fds[pool->n][1];
		return 0;
	}
	return pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC);
}

/* Nothing in flight: the pipe goes back to the pool (or is closed). */
static void
pump_pipe_give(struct relay_dir *d)
{
	struct pump_pool	*pool = d->pool;

	if (d->pipe[0] == -1)
		return;
	if (pool != NULL && d->inpipe == 0 && pool->n < PUMP_POOL_MAX) {
		pool->fds[pool->n][0] = d->pipe[0];
		pool->fds[pool->n][1] = d->pipe[1];
		pool->n++;
	} else {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->inpipe = 0;
}

void
pump_free(struct relay_dir *d)
{
	if (d->rev != NULL)
		event_del(d->rev);
	if (d->wev != NULL)
		event_del(d->wev);
	pump_pipe_give(d);
	buf_free(&d->pend);
	pump_clear(d);
}

void
pump_pool_free(struct pump_pool *pool)
{
	while (pool->n > 0) {
		pool->n--;
		close(pool->fds[pool->n][0]);
		close(pool->fds[pool->n][1]);
	}
}

static enum pump_result
pump_again(void)
{
	return errno == EAGAIN || errno == EINTR ? PUMP_WAIT : PUMP_ERROR;
}

/* The sender closed and everything it sent was passed on. */
static enum pump_result
pump_done(struct relay_dir *d)
{
	/* A closed sender stays readable: stop watching. */
	event_del(d->rev);
	(void)shutdown(d->to, SHUT_WR);
	return PUMP_DONE;
}

/*
 * No pipe to be had: the worker is out of descriptors (a flood of
 * connections, RLIMIT_NOFILE). A relayed session must not end for that,
 * so this wakeup's bytes are copied through pend instead: one read, then
 * written like the bytes read before the relay (what the receiver does
 * not take waits in pend, as those do). The next wakeup tries for a pipe
 * again.
 */
static enum pump_result
pump_copy(struct relay_dir *d)
{
	ssize_t	n;

	if ((n = buf_read_fd(&d->pend, d->from)) == 0) {
		d->eof = 1;
		return pump_done(d);
	}
	if (n == -1)
		return pump_again();
	while (buf_len(&d->pend) > 0) {
		if ((n = buf_write_fd(&d->pend, d->to)) == -1)
			return pump_again();
		d->bytes += n;
	}
	buf_free(&d->pend);
	return PUMP_YIELD;
}

/*
 * Returns PUMP_DONE when the sender closed and everything it sent was
 * passed on (the receiver then sees our half-close).
 */
enum pump_result
pump_run(struct relay_dir *d)
{
	size_t	moved = 0;
	ssize_t	n;
	int	drained = 0;	/* the last read took less than it could */

	while (buf_len(&d->pend) > 0) {
		if ((n = buf_write_fd(&d->pend, d->to)) == -1)
			return pump_again();
		d->bytes += n;
	}
	/* Filled once, at the start: an idle session keeps no buffer. */
	buf_free(&d->pend);
	for (;;) {
		if (d->inpipe > 0) {
			n = splice(d->pipe[0], NULL, d->to, NULL, d->inpipe,
			    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n == -1)
				return pump_again();
			d->inpipe -= n;
			d->bytes += n;
			continue;
		}
		if (d->eof)
			return pump_done(d);
		/* The pipe is empty here: a yield leaves nothing half-done. */
		if (moved >= PUMP_WAKEUP_BYTES)
			return PUMP_YIELD;
		/*
		 * A short read emptied the socket: another read would only
		 * say EAGAIN. The read event (level-triggered) brings us back
		 * when more comes, or at the sender's EOF.
		 */
		if (drained) {
			pump_pipe_give(d);
			return PUMP_WAIT;
		}
		if (d->pipe[0] == -1 && pump_pipe_take(d) == -1)
			return errno == EMFILE || errno == ENFILE ?
			    pump_copy(d) : PUMP_ERROR;
		n = splice(d->from, NULL, d->pipe[1], NULL, RELAY_PIPE_BYTES,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0)
			d->eof = 1;
		else if (n == -1) {
			/* Nothing to read: an idle direction holds no pipe. */
			if (errno == EAGAIN)
				pump_pipe_give(d);
			return pump_again();
		} else {
			d->inpipe += n;
			moved += n;
			drained = (size_t)n < RELAY_PIPE_BYTES;
		}
	}
}

/*
 * The read event is persistent: while the receiver takes what comes, the
 * sender stays in epoll and an idle session costs no system call to wait
 * again. A full receiver stops the reading until it is writable. After
 * PUMP_YIELD the pipe is empty and the sender still readable: the read
 * event, level-triggered, fires again on the loop's next round.
 */
void
pump_arm(struct relay_dir *d)
{
	if (buf_len(&d->pend) > 0 || d->inpipe > 0) {
		event_del(d->rev);
		event_add(d->wev, NULL);
	} else
		event_add(d->rev, NULL);
}

/*
 * The relay begins: read the sender, and pass on what was read before at
 * the end of this round of the loop (a fresh socket takes it at once).
 */
void
pump_start(struct relay_dir *d)
{
	event_add(d->rev, NULL);
	if (buf_len(&d->pend) > 0)
		event_active(d->wev, EV_WRITE, 0);
}
