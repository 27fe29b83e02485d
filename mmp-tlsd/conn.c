/*
 * One TLS session: the relay's START and PLAIN, the non-blocking
 * handshake, its RESULT, then the byte pump between the TLS socket and
 * the plaintext socketpair with one bounded buffer per direction. A side
 * that cannot take more stops the reading of the other.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tlsd.h"

/* What a TLS read or write came to, besides bytes. */
#define IO_WANT		-1	/* blocked: *want says on what */
#define IO_ERROR	-2

static void	conn_run(struct conn *);

RB_GENERATE(conn_tree, conn, node, conn_cmp)

int
conn_cmp(struct conn *a, struct conn *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * The relay's descriptors come non-blocking (accept4, socketpair and
 * socket with SOCK_NONBLOCK; the flag lives on the open file description
 * we share). A relay is not trusted for that: one F_GETFL checks, and only
 * a descriptor without the flag costs the F_SETFL.
 */
static int
conn_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The plaintext it held was a user's mail: wiped with the buffer. */
static void
conn_buf_free(struct conn_buf *b)
{
	freezero(b->data, b->data != NULL ? TLS_BUF_BYTES : 0);
	memset(b, 0, sizeof(*b));
}

/* Room at the end, allocating and compacting as needed; 0 if full. */
static size_t
conn_buf_room(struct conn_buf *b)
{
	if (b->data == NULL && (b->data = malloc(TLS_BUF_BYTES)) == NULL)
		return 0;
	if (b->off + b->len == TLS_BUF_BYTES && b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	return TLS_BUF_BYTES - b->off - b->len;
}

/* n bytes went out; an empty buffer is freed (idle sessions stay small). */
static void
conn_buf_used(struct conn_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		conn_buf_free(b);
}

void
conn_free(struct conn *c)
{
	struct tlsd_relay	*r = c->relay;

	if (r->pending == c)
		r->pending = NULL;
	else {
		RB_REMOVE(conn_tree, &r->conns, c);
		env->nconns--;
	}
	if (c->netrev != NULL)
		event_free(c->netrev);
	if (c->netwev != NULL)
		event_free(c->netwev);
	if (c->plainrev != NULL)
		event_free(c->plainrev);
	if (c->plainwev != NULL)
		event_free(c->plainwev);
	if (c->timer != NULL)
		event_free(c->timer);
	SSL_free(c->ssl);
	tls_free(c->tls);
	server_set_unref(c->srv);
	client_set_unref(c->cli);
	if (c->netfd != -1)
		close(c->netfd);
	if (c->plainfd != -1)
		close(c->plainfd);
	conn_buf_free(&c->toplain);
	conn_buf_free(&c->tonet);
	free(c);
	heaptrim_soon(&env->trim, env->evb);
	tlsd_drain_check();
}

/* The reason of a failed libssl call, for the log and the RESULT. */
static void
conn_ssl_error(struct conn *c, int ret, char *buf, size_t len)
{
	int	e = SSL_get_error(c->ssl, ret), saved = errno;

	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		(void)snprintf(buf, len, "%s", ret == 0 || saved == 0 ?
		    "connection closed by the peer" : strerror(saved));
		return;
	}
	server_errstr(buf, len, "TLS protocol error");
}

/* Text that reaches logs and the relay: control characters as '?'. */
static void
conn_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
conn_fail(struct conn *c, const char *why)
{
	struct tls_result	res;

	memset(&res, 0, sizeof(res));
	res.id = c->id;
	res.status = TLS_FAILED;
	if (c->role == TLS_ROLE_SERVER)
		env->stats.handshakes[STATS_TLS_FAILED]++;
	(void)strlcpy(res.detail, why, sizeof(res.detail));
	conn_clean(res.detail);
	log_svc(c->sect, LOG_INFO, LOG_SID_FMT ": TLS handshake with %s "
	    "failed: %s", (unsigned long long)c->sid, c->peer, res.detail);
	(void)relays_send_result(c->relay, &res);
	conn_free(c);
}

static void
conn_succeed(struct conn *c)
{
	struct tls_result	res;

	memset(&res, 0, sizeof(res));
	res.id = c->id;
	res.status = TLS_OK;
	if (c->role == TLS_ROLE_SERVER) {
		server_result(c, &res);
		env->stats.handshakes[res.resumed ? STATS_TLS_RESUMED :
		    STATS_TLS_FULL]++;
	} else
		client_result(c, &res);
	conn_clean(res.version);
	conn_clean(res.cipher);
	conn_clean(res.detail);
	/* The relay logs the outcome at LOG_INFO; this is mmp-tlsd's view. */
	log_svc(c->sect, LOG_DEBUG, LOG_SID_FMT ": TLS handoff 0x%" PRIx64
	    " with %s: %s %s%s%s%s", (unsigned long long)c->sid, c->id,
	    c->peer, res.version, res.cipher, res.resumed ? " resumed" : "",
	    res.sni[0] != '\0' ? " sni " : "", res.sni);
	(void)relays_send_result(c->relay, &res);
	evtimer_del(c->timer);
	c->state = CONN_PUMP;
}

/* 1 done, 0 blocked (c->netwant says on what), -1 failed with why. */
static int
conn_handshake(struct conn *c, char *why, size_t len)
{
	int	r;

	if (c->role == TLS_ROLE_SERVER) {
		ERR_clear_error();
		if ((r = SSL_do_handshake(c->ssl)) == 1)
			return 1;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			c->netwant = EV_READ;
			return 0;
		case SSL_ERROR_WANT_WRITE:
			c->netwant = EV_WRITE;
			return 0;
		}
		conn_ssl_error(c, r, why, len);
		return -1;
	}
	if ((r = tls_handshake(c->tls)) == 0)
		return 1;
	if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
		c->netwant = r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
		return 0;
	}
	(void)strlcpy(why, tls_error(c->tls) != NULL ? tls_error(c->tls) :
	    "handshake failed", len);
	return -1;
}

/* Decrypted bytes: > 0, 0 at the peer's end, IO_WANT or IO_ERROR. */
static ssize_t
conn_tls_read(struct conn *c, void *buf, size_t len, short *want)
{
	ssize_t	n;
	int	r;

	if (c->role == TLS_ROLE_CLIENT) {
		n = tls_read(c->tls, buf, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			*want = n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
			return IO_WANT;
		}
		return n < 0 ? IO_ERROR : n;
	}
	ERR_clear_error();
	if ((r = SSL_read(c->ssl, buf, (int)len)) > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = EV_READ;
		return IO_WANT;
	case SSL_ERROR_WANT_WRITE:
		*want = EV_WRITE;
		return IO_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		/* TCP EOF without close_notify: the end all the same */
		if (ERR_peek_error() == 0 && r == 0)
			return 0;
		/* FALLTHROUGH */
	default:
		ERR_clear_error();
		return IO_ERROR;
	}
}

static ssize_t
conn_tls_write(struct conn *c, const void *buf, size_t len, short *want)
{
	ssize_t	n;
	int	r;

	if (c->role == TLS_ROLE_CLIENT) {
		n = tls_write(c->tls, buf, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			*want = n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
			return IO_WANT;
		}
		return n <= 0 ? IO_ERROR : n;
	}
	ERR_clear_error();
	if ((r = SSL_write(c->ssl, buf, (int)len)) > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = EV_READ;
		return IO_WANT;
	case SSL_ERROR_WANT_WRITE:
		*want = EV_WRITE;
		return IO_WANT;
	default:
		ERR_clear_error();
		return IO_ERROR;
	}
}

/*
 * After a read of n bytes (or IO_WANT, IO_ERROR, 0 at the end) into b:
 * account for them, or mark the side ended; an empty buffer is given
 * back either way. 1 if anything changed.
 */
static int
conn_buf_filled(struct conn_buf *b, ssize_t n, int *eof)
{
	if (n > 0) {
		b->len += n;
		return 1;
	}
	if (b->len == 0)
		conn_buf_free(b);
	if (n == IO_WANT)
		return 0;
	*eof = 1;
	return 1;
}

/*
 * After a TLS read that gave bytes: is the socket known to be empty? The
 * server's SSL reads ahead (a flight in one read(2)), so records it read
 * but has not handed out yet stay in its buffer, where epoll cannot see
 * them: while SSL_has_pending says so, read on. With nothing pending,
 * whatever else the socket holds is epoll's to report: the read event
 * (level-triggered) brings us back, and the read(2) that would say EAGAIN
 * is saved. libtls (the client role) shows no such state: it reads on
 * until it blocks.
 */
static int
conn_net_drained(struct conn *c)
{
	if (c->role != TLS_ROLE_SERVER || SSL_has_pending(c->ssl))
		return 0;
	c->net_rd_wants = EV_READ;
	return 1;
}

/* TLS -> toplain. 1 if anything changed. */
static int
conn_from_net(struct conn *c)
{
	struct conn_buf	*b = &c->toplain;
	size_t		 room;
	ssize_t		 n;

	if (c->net_eof || c->net_drained || (room = conn_buf_room(b)) == 0)
		return 0;
	n = conn_tls_read(c, b->data + b->off + b->len, room,
	    &c->net_rd_wants);
	if (n > 0)
		c->net_drained = conn_net_drained(c);
	else if (n == IO_WANT)
		c->net_drained = 1;
	return conn_buf_filled(b, n, &c->net_eof);
}

/* toplain -> plaintext socket. */
static int
conn_to_plain(struct conn *c)
{
	struct conn_buf	*b = &c->toplain;
	ssize_t		 n;

	if (b->len == 0)
		return 0;
	n = write(c->plainfd, b->data + b->off, b->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		c->dead = 1;	/* the relay is gone: nobody to flush to */
		return 1;
	}
	conn_buf_used(b, n);
	return 1;
}

/* plaintext socket -> tonet. */
static int
conn_from_plain(struct conn *c)
{
	struct conn_buf	*b = &c->tonet;
	size_t		 room;
	ssize_t		 n;

	if (c->plain_eof || c->plain_drained ||
	    (room = conn_buf_room(b)) == 0)
		return 0;
	n = read(c->plainfd, b->data + b->off + b->len, room);
	if (n == -1)
		n = errno == EAGAIN || errno == EINTR ? IO_WANT : IO_ERROR;
	/*
	 * A short read of a stream socket emptied its queue: another read
	 * would only say EAGAIN. The read event (level-triggered) brings us
	 * back when the relay writes more, or at its EOF.
	 */
	if (n == IO_WANT || (n > 0 && (size_t)n < room))
		c->plain_drained = 1;
	return conn_buf_filled(b, n, &c->plain_eof);
}

/* tonet -> TLS. */
static int
conn_to_net(struct conn *c)
{
	struct conn_buf	*b = &c->tonet;
	ssize_t		 n;

	if (b->len == 0)
		return 0;
	n = conn_tls_write(c, b->data + b->off, b->len, &c->net_wr_wants);
	if (n == IO_WANT)
		return 0;
	if (n <= 0) {
		c->dead = 1;	/* the client is gone: nobody to flush to */
		return 1;
	}
	conn_buf_used(b, n);
	return 1;
}

static void
conn_watch(struct event *ev, int on)
{
	if (on && !event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_add(ev, NULL);
	else if (!on && event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_del(ev);
}

/* Watch what the blocked operations wait for, only that. */
static void
conn_arm(struct conn *c)
{
	short	net = 0;
	int	tls_rd = !c->net_eof && c->toplain.len < TLS_BUF_BYTES;

	if (c->state == CONN_HANDSHAKE)
		net = c->netwant;
	else {
		if (tls_rd)
			net |= c->net_rd_wants;
		if (c->tonet.len > 0)
			net |= c->net_wr_wants;
	}
	conn_watch(c->netrev, (net & EV_READ) != 0);
	conn_watch(c->netwev, (net & EV_WRITE) != 0);
	/*
	 * During the handshake the plaintext side is watched for its end
	 * only: the relay writes nothing before our RESULT, so it is
	 * readable once the relay gave the session up (its login timeout
	 * on a client that drips its ClientHello), and the client's socket
	 * must not outlive that by TLS_HANDSHAKE_TIMEOUT_SEC.
	 */
	conn_watch(c->plainrev, c->state == CONN_HANDSHAKE ||
	    (!c->plain_eof && c->tonet.len < TLS_BUF_BYTES));
	conn_watch(c->plainwev, c->toplain.len > 0);
}

/* close_notify, best effort: the socket is non-blocking and closes next. */
static void
conn_finish(struct conn *c)
{
	if (!c->dead) {
		if (c->role == TLS_ROLE_SERVER) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
			ERR_clear_error();
		} else
			(void)tls_close(c->tls);
	}
	(void)shutdown(c->plainfd, SHUT_WR);
	log_svc(c->sect, LOG_DEBUG, LOG_SID_FMT ": TLS handoff 0x%" PRIx64
	    " with %s closed", (unsigned long long)c->sid, c->id, c->peer);
	conn_free(c);
}

static void
conn_pump(struct conn *c)
{
	struct timeval	tv = { TLS_CLOSE_TIMEOUT_SEC, 0 };
	int		progress;

	do {
		progress = conn_from_net(c);
		progress |= conn_to_plain(c);
		progress |= conn_from_plain(c);
		progress |= conn_to_net(c);
	} while (progress && !c->dead);
	if (c->dead || (c->net_eof && c->toplain.len == 0) ||
	    (c->plain_eof && c->tonet.len == 0)) {
		conn_finish(c);
		return;
	}
	/* One side ended: the other has a while to take what is left. */
	if ((c->net_eof || c->plain_eof) && c->state != CONN_CLOSING) {
		c->state = CONN_CLOSING;
		evtimer_add(c->timer, &tv);
	}
	conn_arm(c);
}

static void
conn_run(struct conn *c)
{
	char	why[MMP_STR_BYTES];
	int	r;

	if (c->state == CONN_HANDSHAKE) {
		if ((r = conn_handshake(c, why, sizeof(why))) == -1) {
			conn_fail(c, why);
			return;
		}
		if (r == 0) {
			conn_arm(c);
			return;
		}
		conn_succeed(c);
		/*
		 * The handshake's last read was short unless SSL holds more;
		 * the relay writes only once it has our RESULT.
		 */
		c->net_drained = conn_net_drained(c);
		c->plain_drained = 1;
	}
	conn_pump(c);
}

/*
 * A side known empty (net_drained, plain_drained) is not read again until
 * its descriptor's event fires: on the network socket any event, since a
 * TLS read may wait for writability.
 */
static void
conn_event_cb(int fd, short events, void *arg)
{
	struct conn	*c = arg;

	if (fd == c->netfd)
		c->net_drained = 0;
	else if (events & EV_READ) {
		if (c->state == CONN_HANDSHAKE) {
			conn_fail(c, "the relay gave the session up");
			return;
		}
		c->plain_drained = 0;
	}
	conn_run(c);
}

static void
conn_timeout_cb(int fd, short events, void *arg)
{
	struct conn	*c = arg;
	char		 why[64];

	(void)fd;
	(void)events;
	if (c->state == CONN_HANDSHAKE) {
		(void)snprintf(why, sizeof(why), "no handshake within %d s",
		    TLS_HANDSHAKE_TIMEOUT_SEC);
		conn_fail(c, why);
		return;
	}
	log_svc(c->sect, LOG_DEBUG, LOG_SID_FMT ": TLS handoff 0x%" PRIx64
	    " with %s: %s does not take the rest within %d s",
	    (unsigned long long)c->sid, c->id, c->peer,
	    c->net_eof ? "the relay" : "the peer", TLS_CLOSE_TIMEOUT_SEC);
	c->dead = 1;
	conn_finish(c);
}

static int
conn_events(struct conn *c)
{
	struct event_base	*b = env->evb;

	c->netrev = event_new(b, c->netfd, EV_READ | EV_PERSIST,
	    conn_event_cb, c);
	c->netwev = event_new(b, c->netfd, EV_WRITE | EV_PERSIST,
	    conn_event_cb, c);
	c->plainrev = event_new(b, c->plainfd, EV_READ | EV_PERSIST,
	    conn_event_cb, c);
	c->plainwev = event_new(b, c->plainfd, EV_WRITE | EV_PERSIST,
	    conn_event_cb, c);
	c->timer = evtimer_new(b, conn_timeout_cb, c);
	return c->netrev == NULL || c->netwev == NULL || c->plainrev == NULL ||
	    c->plainwev == NULL || c->timer == NULL ? -1 : 0;
}

/* The session begins: a handshake, or its failure answered at once. */
static void
conn_begin(struct conn *c)
{
	struct timeval	tv = { TLS_HANDSHAKE_TIMEOUT_SEC, 0 };
	char		why[MMP_STR_BYTES];

	/* A relay that sent this before it read our TLSD_DRAINING. */
	if (env->draining) {
		conn_fail(c, "mmp-tlsd is retiring");
		return;
	}
	/* A socket lost on its way here (relays_fdlost). */
	if (c->netfd == -1 || c->plainfd == -1) {
		conn_fail(c, "mmp-tlsd is out of descriptors");
		return;
	}
	if (conn_nonblock(c->netfd) == -1 || conn_nonblock(c->plainfd) == -1 ||
	    conn_events(c) == -1) {
		conn_fail(c, "out of resources");
		return;
	}
	if (env->nconns > TLSD_SESSIONS_MAX) {
		conn_fail(c, "too many TLS sessions in this mmp-tlsd");
		return;
	}
	if (c->role == TLS_ROLE_SERVER) {
		if ((c->srv = env->ctxs.srv[c->sect]) == NULL) {
			conn_fail(c, "no SSLCertFile for this service");
			return;
		}
		c->srv->refs++;
		if ((c->ssl = server_ssl_new(c->srv, c, c->netfd)) == NULL) {
			conn_fail(c, "out of memory");
			return;
		}
	} else {
		if ((c->cli = env->ctxs.cli[c->sect]) != NULL)
			c->cli->refs++;
		if ((c->tls = client_tls_new(c->cli, c->netfd, c->servername,
		    why, sizeof(why))) == NULL) {
			conn_fail(c, why);
			return;
		}
	}
	c->state = CONN_HANDSHAKE;
	evtimer_add(c->timer, &tv);
	conn_run(c);
}

/*
 * IMSG_TLS_START: fd = network socket; struct tls_start. Its PLAIN must
 * come next: a second START, or an id this relay already has, is a relay
 * not to be trusted (its channel is lost).
 */
int
conn_start(struct tlsd_relay *r, struct imsg *imsg)
{
	struct tls_start	 s;
	struct conn		*c, key;

	if (tls_start_read(imsg, &s) == -1)
		return CHAN_BAD;
	if (r->pending != NULL) {
		log_warnx("relay %u: TLS_START %" PRIx64 " while %" PRIx64
		    " waits for its TLS_PLAIN", r->idx, s.id, r->pending->id);
		return CHAN_BAD;
	}
	key.id = s.id;
	if (RB_FIND(conn_tree, &r->conns, &key) != NULL) {
		log_warnx("relay %u: TLS_START for handoff 0x%" PRIx64 ", "
		    "which is running", r->idx, s.id);
		return CHAN_BAD;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->relay = r;
	c->id = s.id;
	c->sid = s.sid;
	c->role = s.role;
	c->sect = s.sect;
	(void)strlcpy(c->peer, s.peer, sizeof(c->peer));
	(void)strlcpy(c->servername, s.servername, sizeof(c->servername));
	c->state = CONN_WAIT_PLAIN;
	c->netfd = imsg->fd;
	c->plainfd = -1;
	imsg->fd = -1;
	r->pending = c;
	return CHAN_OK;
}

/* IMSG_TLS_PLAIN: fd = plaintext end; u64 id, the pending START's. */
int
conn_plain(struct tlsd_relay *r, struct imsg *imsg)
{
	struct conn	*c = r->pending;
	uint64_t	 id;

	if (tls_plain_read(imsg, &id) == -1)
		return CHAN_BAD;
	if (c == NULL || c->id != id) {
		log_warnx("relay %u: TLS_PLAIN %" PRIx64 " without its "
		    "TLS_START", r->idx, id);
		return CHAN_BAD;
	}
	r->pending = NULL;
	c->plainfd = imsg->fd;
	imsg->fd = -1;
	RB_INSERT(conn_tree, &r->conns, c);
	env->nconns++;
	conn_begin(c);
	return CHAN_OK;
}
