/*
 * The imsg channel of every mmpd process on its event loop: read, hand
 * each message to the peer's dispatch, write while something is queued,
 * and one rule for a peer that breaks the protocol (chan.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "msg.h"

/*
 * Two events on one socket: reading never stops, writing is watched only
 * while output waits. One event switching between the two would have to
 * be deleted and assigned again from inside its own callback.
 *
 * Output is written first and watched for only if the socket is full:
 * a composed message makes wev active (event_active, no system call), so
 * everything composed during this round of the loop goes out in one
 * sendmsg at its end, and the socket is added to epoll only when that
 * write could not take it all.
 */
struct chan {
	struct imsgbuf		 ib;
	struct event		*rev;		/* persistent */
	struct event		*wev;		/* active or added: output waits */
	const struct chan_peer	*peer;
	void			*arg;
	int			 inside;	/* callbacks of ours running */
	int			 closed;	/* chan_close ran */
	chan_dispatch_fn	 fdlost;	/* chan_on_fdlost, or NULL */
};

static void	chan_read_cb(int, short, void *);
static void	chan_write_cb(int, short, void *);

#ifdef MMP_FUZZ
int	(*chan_fuzz_lost)(struct chan *, const char *);

const struct chan_peer *
chan_fuzz_peer(const struct chan *ch)
{
	return ch->peer;
}
#endif

struct chan *
chan_open(struct event_base *base, int fd, const struct chan_peer *peer,
    void *arg)
{
	struct chan	*ch;
	int		 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 || ((flags & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1))
		return NULL;
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	imsgbuf_init(&ch->ib, fd);
	ch->peer = peer;
	ch->arg = arg;
	ch->rev = event_new(base, fd, EV_READ | EV_PERSIST, chan_read_cb, ch);
	ch->wev = event_new(base, fd, EV_WRITE, chan_write_cb, ch);
	if (ch->rev == NULL || ch->wev == NULL ||
	    event_add(ch->rev, NULL) == -1) {
		if (ch->rev != NULL)
			event_free(ch->rev);
		if (ch->wev != NULL)
			event_free(ch->wev);
		free(ch);
		return NULL;
	}
	return ch;
}

void
chan_on_fdlost(struct chan *ch, chan_dispatch_fn fn)
{
	ch->fdlost = fn;
}

void
chan_close(struct chan *ch)
{
	if (ch->closed)
		return;
	ch->closed = 1;
	event_free(ch->rev);
	event_free(ch->wev);
	ch->rev = ch->wev = NULL;
	imsgbuf_shutdown(&ch->ib);
	close(ch->ib.fd);
	ch->ib.fd = -1;
	if (ch->inside == 0)
		free(ch);
}

/* A callback of ours ends: a channel closed inside it is freed now. */
static void
chan_leave(struct chan *ch)
{
	if (--ch->inside == 0 && ch->closed)
		free(ch);
}

/*
 * The one rule: whatever broke, the peer's lost function decides what it
 * means, and the channel must be gone after it (or the process).
 */
static void
chan_lose(struct chan *ch, const char *why)
{
#ifdef MMP_FUZZ
	if (chan_fuzz_lost != NULL && chan_fuzz_lost(ch, why)) {
		if (!ch->closed)
			fatalx("fuzz: channel to %s still open", ch->peer->name);
		return;
	}
#endif
	ch->peer->lost(ch, why);
	if (!ch->closed)
		fatalx("channel to %s still open after it was lost",
		    ch->peer->name);
}

/* The descriptor rule, then the dispatch: 0, or -1 with why filled. */
static int
chan_handle(struct chan *ch, struct imsg *imsg, char *why, size_t len)
{
	const char	*name = msg_type_name(imsg->hdr.type);
	int		 r;

	if (name == NULL) {
		(void)snprintf(why, len, "sent unknown message type %u",
		    imsg->hdr.type);
		return -1;
	}
	if (imsg->fdlost && msg_type_has_fd(imsg->hdr.type)) {
		if (ch->fdlost == NULL) {
			(void)snprintf(why, len, "sent %s, whose descriptor "
			    "was lost here (out of descriptors)", name);
			return -1;
		}
		log_warnx("%s sent %s; its descriptor was lost here: out of "
		    "descriptors", ch->peer->name, name);
		if ((r = ch->fdlost(ch, imsg)) == CHAN_OK || ch->closed)
			return 0;
		(void)snprintf(why, len, "sent %s, whose descriptor was lost "
		    "here (out of descriptors)", name);
		return -1;
	}
	if (imsg->fd != -1 && !msg_type_has_fd(imsg->hdr.type)) {
		(void)snprintf(why, len, "sent a descriptor with %s", name);
		return -1;
	}
	if (imsg->fd == -1 && msg_type_has_fd(imsg->hdr.type)) {
		(void)snprintf(why, len, "sent %s without its descriptor",
		    name);
		return -1;
	}
	/* Closed by the dispatch: nothing left to lose. */
	if ((r = ch->peer->dispatch(ch, imsg)) == CHAN_OK || ch->closed)
		return 0;
	(void)snprintf(why, len, "sent %s %s", r == CHAN_UNEXPECTED ?
	    "unexpected" : "a malformed", name);
	return -1;
}

/*
 * Every complete message read so far, until the channel is lost or
 * closed. lost runs before the message is freed: a child is killed
 * before the parent closes the descriptor it sent (chan.h, lost).
 */
static void
chan_dispatch_all(struct chan *ch)
{
	struct imsg	imsg;
	char		why[CHAN_WHY_BYTES];
	int		r;

	while (!ch->closed) {
		if ((r = imsg_get(&ch->ib, &imsg)) == 0)
			return;
		if (r == -1) {
			chan_lose(ch, "sent a malformed message");
			return;
		}
		if (chan_handle(ch, &imsg, why, sizeof(why)) == -1)
			chan_lose(ch, why);
		imsg_free(&imsg);
	}
}

void
chan_read_rest(struct chan *ch)
{
	ssize_t	n;

	if (ch == NULL || ch->closed)
		return;
	ch->inside++;
	chan_dispatch_all(ch);
	while (!ch->closed && (n = imsgbuf_read(&ch->ib)) > 0)
		chan_dispatch_all(ch);
	chan_leave(ch);
}

/* Why a read failed, worded to follow the peer's name. */
static void
chan_read_failed(int err, char *why, size_t len)
{
	/* More fds than messages (lib/imsg.c, imsg_take_fds): a lie. */
	if (err == EMFILE || err == ENOBUFS)
		(void)strlcpy(why, "sent too many descriptors", len);
	else
		(void)snprintf(why, len, "cannot be read from: %s",
		    strerror(err));
}

/* Also run once at the start of the loop by chan_first_conf. */
static void
chan_read_cb(int fd, short events, void *arg)
{
	struct chan	*ch = arg;
	char		 why[CHAN_WHY_BYTES];
	ssize_t		 n;

	(void)fd;
	(void)events;
	ch->inside++;
	n = imsgbuf_read(&ch->ib);
	if (n == 0 || (n == -1 && errno == ECONNRESET))
		chan_lose(ch, NULL);
	else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		chan_read_failed(errno, why, sizeof(why));
		chan_lose(ch, why);
	} else
		chan_dispatch_all(ch);
	chan_leave(ch);
}

static void
chan_write_cb(int fd, short events, void *arg)
{
	struct chan	*ch = arg;
	char		 why[CHAN_WHY_BYTES];

	(void)fd;
	(void)events;
	ch->inside++;
	if (imsgbuf_write(&ch->ib) == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			chan_lose(ch, NULL);
		else {
			(void)snprintf(why, sizeof(why), "cannot be written "
			    "to: %s", strerror(errno));
			chan_lose(ch, why);
		}
	} else if (imsgbuf_queued(&ch->ib) > 0) {
		if (event_add(ch->wev, NULL) == -1)
			chan_lose(ch, "cannot be watched for writing");
	} else if (ch->peer->drained != NULL)
		ch->peer->drained(ch);
	chan_leave(ch);
}

/*
 * Output waits: written at the end of this round of the loop, or when the
 * socket takes it if it is full (event_pending sees both).
 */
static int
chan_arm(struct chan *ch)
{
	if (event_pending(ch->wev, EV_WRITE, NULL))
		return 0;
	event_active(ch->wev, EV_WRITE, 0);
	return 0;
}

int
chan_compose(struct chan *ch, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (ch->closed) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose(&ch->ib, type, peerid, fd, data, len) == -1)
		return -1;
	return chan_arm(ch);
}

int
chan_compose_msg(struct chan *ch, uint32_t type, uint32_t peerid, int fd,
    struct msg_writer *w)
{
	if (ch->closed) {
		if (fd != -1)
			close(fd);
		explicit_bzero(w, sizeof(*w));
		errno = EPIPE;
		return -1;
	}
	if (msg_compose(&ch->ib, type, peerid, fd, w) == -1)
		return -1;
	return chan_arm(ch);
}

int
chan_queue_msg(struct chan *ch, uint32_t type, uint32_t peerid,
    struct msg_writer *w)
{
	if (ch->closed) {
		explicit_bzero(w, sizeof(*w));
		errno = EPIPE;
		return -1;
	}
	return msg_compose(&ch->ib, type, peerid, -1, w);
}

void
chan_kick(struct chan *ch)
{
	if (!ch->closed && imsgbuf_queued(&ch->ib) > 0)
		(void)chan_arm(ch);
}

struct event_base *
chan_base(const struct chan *ch)
{
	return event_get_base(ch->rev);
}

int
chan_flush(struct chan *ch)
{
	if (ch->closed) {
		errno = EPIPE;
		return -1;
	}
	return imsgbuf_flush(&ch->ib);
}

size_t
chan_queued(const struct chan *ch)
{
	return imsgbuf_queued(&ch->ib);
}

void *
chan_arg(const struct chan *ch)
{
	return ch->arg;
}

void
chan_rebind(struct chan *ch, const struct chan_peer *peer, void *arg)
{
	ch->peer = peer;
	ch->arg = arg;
}

/* Block until the socket has something; fatal when it never will. */
static void
chan_first_read(struct chan *ch)
{
	struct pollfd	pfd = { ch->ib.fd, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
		fatal("poll");
	if ((n = imsgbuf_read(&ch->ib)) == 0 ||
	    (n == -1 && errno == ECONNRESET))
		fatalx("%s closed the channel before the first "
		    "configuration", ch->peer->name);
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		fatal("read from %s", ch->peer->name);
}

void
chan_first_conf(struct chan *ch, int (*configured)(void))
{
	struct imsg	imsg;
	char		why[CHAN_WHY_BYTES];
	int		r;

	ch->inside++;
	while (!configured()) {
		if ((r = imsg_get(&ch->ib, &imsg)) == 0) {
			chan_first_read(ch);
			continue;
		}
		if (r == -1)
			fatalx("%s sent a malformed message", ch->peer->name);
		if (chan_handle(ch, &imsg, why, sizeof(why)) == -1)
			fatalx("%s %s", ch->peer->name, why);
		imsg_free(&imsg);
		if (ch->closed)
			fatalx("channel to %s closed before the first "
			    "configuration", ch->peer->name);
	}
	ch->inside--;
	/* The rest of what was read: no new byte may come to wake us. */
	event_active(ch->rev, EV_READ, 0);
}
