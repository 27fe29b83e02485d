/*
 * One client session in a relay worker: client I/O before the login, the
 * login flow shared by IMAP and POP3 (lookup, store, failure delay), and
 * the relay phase, which moves bytes with splice(2) through a pipe per
 * direction so that a slow reader stops its sender instead of growing a
 * buffer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "escape.h"
#include "log.h"
#include "mmpd.h"

static void	session_client_read(int, short, void *);
static void	session_client_write(int, short, void *);
static void	session_timer(int, short, void *);
static void	session_relay_event(int, short, void *);

static int
session_cmp(struct session *a, struct session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(session_tree, session, entry, session_cmp)

struct session *
session_find(uint64_t id)
{
	struct session	key;

	key.id = id;
	return RB_FIND(session_tree, &env->sessions, &key);
}

/* The user name as it may go into a log line. */
static void
session_user_text(struct session *s, char *buf, size_t len)
{
	escape_log(s->user, strlen(s->user), buf, len);
}

void
session_log(struct session *s, int prio, const char *fmt, ...)
{
	char	msg[LOG_LINE_BYTES];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_svc(s->svc, prio, "session 0x%llx %s: %s",
	    (unsigned long long)s->id, s->client, msg);
}

static void
session_timer_set(struct session *s, long long sec)
{
	struct timeval	tv = { sec, 0 };

	evtimer_add(s->timer, &tv);
}

/*
 * Re-arm the login timeout with the time left: failed logins do not buy
 * a client more time before it must be logged in.
 */
static void
session_login_timer(struct session *s)
{
	struct timespec	now;
	struct timeval	tv = { 0, 0 };

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->login_deadline > now.tv_sec)
		tv.tv_sec = s->login_deadline - now.tv_sec;
	evtimer_add(s->timer, &tv);
}

void
session_accept(int fd, int svc, const char *label)
{
	struct sockaddr_storage	 ss;
	struct timespec		 now;
	struct session		*s;
	socklen_t		 len;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		close(fd);
		return;
	}
	s->id = env->nextid++;
	s->svc = svc;
	s->proto = svc == SVC_IMAP ? &imap_proto : &pop3_proto;
	s->fd = fd;
	s->be.fd = -1;
	s->up.pipe[0] = s->up.pipe[1] = -1;
	s->down.pipe[0] = s->down.pipe[1] = -1;
	(void)strlcpy(s->listener, label, sizeof(s->listener));
	gettimeofday(&s->start, NULL);
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, s->client, sizeof(s->client));
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, s->local, sizeof(s->local));
	s->rev = event_new(env->base, fd, EV_READ | EV_PERSIST,
	    session_client_read, s);
	s->wev = event_new(env->base, fd, EV_WRITE, session_client_write, s);
	s->timer = evtimer_new(env->base, session_timer, s);
	if (s->rev == NULL || s->wev == NULL || s->timer == NULL ||
	    buf_init(&s->in, 0, CLIENT_IN_MAX_BYTES) == -1 ||
	    buf_init(&s->out, 0, CLIENT_OUT_MAX_BYTES) == -1 ||
	    (svc == SVC_IMAP && imap_reader_init(&s->rd) == -1)) {
		log_warnx("session: out of memory");
		RB_INSERT(session_tree, &env->sessions, s);
		env->nsessions++;
		session_close(s, NULL);
		return;
	}
	RB_INSERT(session_tree, &env->sessions, s);
	env->nsessions++;
	session_log(s, LOG_INFO, "connected on %s", label);
	event_add(s->rev, NULL);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	s->login_deadline = now.tv_sec + conf_num(env->conf, svc,
	    CK_LOGINTIMEOUT);
	session_login_timer(s);
	s->proto->greet(s);
}

static void
session_dir_free(struct relay_dir *d)
{
	if (d->rev != NULL)
		event_free(d->rev);
	if (d->wev != NULL)
		event_free(d->wev);
	if (d->pipe[0] != -1)
		close(d->pipe[0]);
	if (d->pipe[1] != -1)
		close(d->pipe[1]);
	buf_free(&d->pend);
}

/* Free everything now; why (if any) goes to the log. */
void
session_close(struct session *s, const char *why)
{
	struct timeval	now;
	long		secs;

	gettimeofday(&now, NULL);
	secs = now.tv_sec - s->start.tv_sec;
	if (why != NULL)
		session_log(s, LOG_INFO, "closed: %s; %lld bytes up, %lld "
		    "down, %ld s", why, (long long)s->up.bytes,
		    (long long)s->down.bytes, secs);
	RB_REMOVE(session_tree, &env->sessions, s);
	env->nsessions--;
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->timer != NULL)
		event_free(s->timer);
	session_dir_free(&s->up);
	session_dir_free(&s->down);
	backend_free(&s->be);
	close(s->fd);
	buf_free(&s->in);
	buf_free(&s->out);
	if (s->svc == SVC_IMAP)
		imap_reader_free(&s->rd);
	freezero(s, sizeof(*s));
	relay_session_closed();
}

/*
 * Send what is queued, then close (BYE, -ERR, LOGOUT). Never frees the
 * session itself: callers may still be inside its input loop.
 */
void
session_finish(struct session *s, const char *why)
{
	struct timeval	tv = { 5, 0 };

	if (s->state == S_CLOSING)
		return;
	s->state = S_CLOSING;
	event_del(s->rev);
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	session_log(s, LOG_INFO, "closing: %s", why);
	/* A client that does not read its last words gets 5 s. */
	evtimer_add(s->timer, &tv);
	event_add(s->wev, NULL);
}

void
session_send_raw(struct session *s, const void *data, size_t len)
{
	if (s->mute)
		return;
	if (buf_add(&s->out, data, len) == -1) {
		/* It sends commands but does not read the answers. */
		buf_reset(&s->out);
		s->mute = 1;
		session_finish(s, "client does not read its replies");
		return;
	}
	event_add(s->wev, NULL);
}

void
session_send(struct session *s, const char *fmt, ...)
{
	char	line[MMP_STR_BYTES + 256];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Cut, a reply still ends its line. */
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 2] = '\r';
		line[n - 1] = '\n';
	}
	session_send_raw(s, line, n);
}

static void
session_client_write(int fd, short ev, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	(void)ev;
	n = buf_write_fd(&s->out, fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		session_close(s, "client write failed");
		return;
	}
	if (buf_len(&s->out) > 0) {
		event_add(s->wev, NULL);
		return;
	}
	if (s->state == S_CLOSING)
		session_close(s, "done");
}

/* Stop or resume taking client bytes (while a login is in flight). */
void
session_read_pause(struct session *s, int pause)
{
	if (pause)
		event_del(s->rev);
	else if (s->state != S_CLOSING)
		event_add(s->rev, NULL);
}

static void
session_client_read(int fd, short ev, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	(void)ev;
	n = buf_read_fd(&s->in, fd);
	if (n == 0) {
		session_close(s, "client closed the connection");
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == ENOBUFS) {
			/* The parsers bound every command well below this. */
			session_send(s, s->svc == SVC_IMAP ?
			    "* BYE Input too long\r\n" :
			    "-ERR Input too long\r\n");
			session_finish(s, "input too long");
			return;
		}
		session_close(s, "client read failed");
		return;
	}
	s->proto->input(s);
}

/* A client error; too many of them and the client is gone. */
void
session_bad_command(struct session *s)
{
	if (++s->nbad < conf_num(env->conf, s->svc, CK_MAXBADCOMMANDS))
		return;
	session_send(s, s->svc == SVC_IMAP ?
	    "* BYE Too many invalid commands\r\n" :
	    "-ERR Too many invalid commands\r\n");
	session_finish(s, "too many invalid commands");
}

/*
 * Names and passwords that may go on to a store: not empty, bounded, no
 * CR, LF or NUL (a store may cut at a NUL and log in the prefix).
 */
static int
session_credentials_ok(const char *user, size_t ulen, const char *pass,
    size_t plen)
{
	if (ulen == 0 || ulen > MMP_USER_BYTES || plen == 0 ||
	    plen > PASS_MAX_BYTES)
		return 0;
	if (memchr(user, '\0', ulen) || memchr(user, '\r', ulen) ||
	    memchr(user, '\n', ulen) || memchr(pass, '\0', plen) ||
	    memchr(pass, '\r', plen) || memchr(pass, '\n', plen))
		return 0;
	return 1;
}

/* Take the credentials of a login, or refuse them (logged): 0 or -1. */
int
session_credentials(struct session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	if (!session_credentials_ok(user, ulen, pass, plen)) {
		session_log(s, LOG_NOTICE, "login refused: empty, too long "
		    "or with CR, LF or NUL");
		return -1;
	}
	/* POP3 gives the name of USER, already in s->user. */
	memmove(s->user, user, ulen);
	s->user[ulen] = '\0';
	memcpy(s->pass, pass, plen);
	s->pass[plen] = '\0';
	return 0;
}

/* The same for a SASL PLAIN response (RFC 4616) in base64. */
int
session_sasl_plain(struct session *s, const char *b64, size_t len)
{
	char	user[SASL_FIELD_MAX_BYTES + 1];
	char	pass[SASL_FIELD_MAX_BYTES + 1], why[128];
	int	rv = -1;

	/* "=" is an empty initial response (RFC 4959). */
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (sasl_plain_decode(b64, len, user, pass, why, sizeof(why)) == -1)
		session_log(s, LOG_NOTICE, "SASL PLAIN refused: %s", why);
	else
		rv = session_credentials(s, user, strlen(user), pass,
		    strlen(pass));
	explicit_bzero(pass, sizeof(pass));
	return rv;
}

/* s->user and s->pass are set: find the store. */
void
session_login(struct session *s)
{
	char	safe[MMP_USER_BYTES * 4 + 1];

	s->state = S_LOOKUP;
	session_read_pause(s, 1);
	session_user_text(s, safe, sizeof(safe));
	session_log(s, LOG_DEBUG, "login \"%s\": looking up", safe);
	if (relay_lookup(s) == -1)
		session_login_failed(s, LOGIN_FAIL_AUTH,
		    "mmp-ldapd is not available");
}

void
session_lookup_result(struct session *s, int status, const char *detail,
    const char *dn, char addrs[][ADDR_TEXT_BYTES], int naddr)
{
	char	safe[MMP_USER_BYTES * 4 + 1];
	int	i;

	/*
	 * mmp-ldapd escaped the names in detail already; log.c turns any
	 * control character it might still hold into '?'.
	 */
	if (status != LOOKUP_OK) {
		session_login_failed(s, LOGIN_FAIL_AUTH, detail);
		return;
	}
	session_user_text(s, safe, sizeof(safe));
	session_log(s, LOG_DEBUG, "\"%s\" is %s on %s", safe, dn,
	    s->mailhost);
	for (i = 0; i < naddr; i++)
		(void)strlcpy(s->be.addrs[i], addrs[i],
		    sizeof(s->be.addrs[i]));
	s->be.naddr = naddr;
	s->state = S_STORE;
	backend_start(s);
}

void
session_fail_all_lookups(void)
{
	struct session	*s, *next;

	RB_FOREACH_SAFE(s, session_tree, &env->sessions, next)
		if (s->state == S_LOOKUP)
			session_login_failed(s, LOGIN_FAIL_AUTH,
			    "mmp-ldapd went away");
}

/*
 * Every failure of a login waits the same AuthFailureDelay, whatever the
 * reason, so that a client cannot tell an unknown user from a wrong
 * password. A store that is down is answered at once: that is no secret.
 */
void
session_login_failed(struct session *s, enum login_fail why,
    const char *detail)
{
	char	safe[MMP_USER_BYTES * 4 + 1];

	session_user_text(s, safe, sizeof(safe));
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	if (why == LOGIN_FAIL_STORE) {
		session_log(s, LOG_WARNING, "login \"%s\": store %s "
		    "unavailable: %s", safe, s->mailhost, detail);
		s->state = S_PREAUTH;
		s->proto->login_failed(s, why);
		session_login_timer(s);
		session_read_pause(s, 0);
		if (s->state == S_PREAUTH)
			s->proto->input(s);
		return;
	}
	session_log(s, LOG_NOTICE, "login \"%s\" failed: %s", safe, detail);
	s->state = S_FAILDELAY;
	evtimer_del(s->timer);
	session_timer_set(s, conf_num(env->conf, s->svc,
	    CK_AUTHFAILUREDELAY));
}

static void
session_delay_over(struct session *s)
{
	s->state = S_PREAUTH;
	s->proto->login_failed(s, LOGIN_FAIL_AUTH);
	if (s->state != S_PREAUTH)
		return;
	session_bad_command(s);
	if (s->state != S_PREAUTH)
		return;
	session_login_timer(s);
	session_read_pause(s, 0);
	s->proto->input(s);
}

static void
session_timer(int fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	switch (s->state) {
	case S_FAILDELAY:
		session_delay_over(s);
		break;
	case S_CLOSING:
		session_close(s, "client did not read its last reply");
		break;
	case S_RELAY:
		session_close(s, "idle timeout");
		break;
	default:
		s->proto->timeout(s);
		break;
	}
}

static int
session_dir_init(struct session *s, struct relay_dir *d, int from, int to)
{
	d->s = s;
	d->from = from;
	d->to = to;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	d->rev = event_new(env->base, from, EV_READ, session_relay_event, d);
	d->wev = event_new(env->base, to, EV_WRITE, session_relay_event, d);
	if (d->rev == NULL || d->wev == NULL)
		return -1;
	return 0;
}

/*
 * Move what can move in one direction. Returns -1 on an error, 1 when the
 * sender closed and everything it sent was passed on (the receiver then
 * sees our half-close), 0 when it waits for more.
 */
static int
session_dir_pump(struct relay_dir *d)
{
	ssize_t	n;

	while (buf_len(&d->pend) > 0) {
		n = buf_write_fd(&d->pend, d->to);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		d->bytes += n;
	}
	for (;;) {
		if (d->inpipe > 0) {
			n = splice(d->pipe[0], NULL, d->to, NULL, d->inpipe,
			    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ?
				    0 : -1;
			d->inpipe -= n;
			d->bytes += n;
			continue;
		}
		if (d->eof) {
			(void)shutdown(d->to, SHUT_WR);
			return 1;
		}
		n = splice(d->from, NULL, d->pipe[1], NULL, RELAY_PIPE_BYTES,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0)
			d->eof = 1;
		else if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		else
			d->inpipe += n;
	}
}

/* Wait for whatever this direction needs next. */
static void
session_dir_arm(struct relay_dir *d)
{
	if (buf_len(&d->pend) > 0 || d->inpipe > 0)
		event_add(d->wev, NULL);
	else
		event_add(d->rev, NULL);
}

static void
session_relay_event(int fd, short ev, void *arg)
{
	struct relay_dir	*d = arg;
	struct session		*s;

	(void)fd;
	(void)ev;
	s = d->s;
	switch (session_dir_pump(d)) {
	case -1:
		session_close(s, d == &s->up ? "client connection failed" :
		    "store connection failed");
		return;
	case 1:
		/*
		 * The store has said all it will say: done. A client that
		 * closed still gets the store's last answer (LOGOUT).
		 */
		if (d == &s->down) {
			session_close(s, "closed by store");
			return;
		}
		break;
	default:
		session_dir_arm(d);
		break;
	}
	session_timer_set(s, conf_num(env->conf, s->svc, CK_TIMEOUT));
}

/*
 * The store accepted the login. The client gets, in order, what was
 * still queued for it, the store's answer and whatever the store sent
 * after it; the store gets what the client pipelined after its login.
 */
void
session_login_ok(struct session *s)
{
	char	safe[MMP_USER_BYTES * 4 + 1];

	session_user_text(s, safe, sizeof(safe));
	session_log(s, LOG_NOTICE, "user \"%s\" logged in to %s (%s)", safe,
	    s->mailhost, s->be.addr);
	explicit_bzero(s->pass, sizeof(s->pass));
	s->state = S_RELAY;
	event_del(s->rev);
	if (s->svc == SVC_IMAP)
		imap_reader_free(&s->rd);
	if (session_dir_init(s, &s->up, s->fd, s->be.fd) == -1 ||
	    session_dir_init(s, &s->down, s->be.fd, s->fd) == -1 ||
	    buf_init(&s->up.pend, 0, CLIENT_IN_MAX_BYTES) == -1 ||
	    buf_init(&s->down.pend, 0, CLIENT_OUT_MAX_BYTES +
	    2 * STORE_IN_MAX_BYTES) == -1 ||
	    buf_add(&s->up.pend, buf_data(&s->in), buf_len(&s->in)) == -1 ||
	    buf_add(&s->down.pend, buf_data(&s->out), buf_len(&s->out)) ==
	    -1 || buf_add(&s->down.pend, buf_data(&s->be.answer),
	    buf_len(&s->be.answer)) == -1 || buf_add(&s->down.pend,
	    buf_data(&s->be.in), buf_len(&s->be.in)) == -1) {
		session_close(s, "out of memory starting the relay");
		return;
	}
	buf_reset(&s->in);
	buf_reset(&s->out);
	buf_reset(&s->be.in);
	event_del(s->wev);
	event_del(s->be.ev);
	session_dir_arm(&s->up);
	session_dir_arm(&s->down);
	session_timer_set(s, conf_num(env->conf, s->svc, CK_TIMEOUT));
}
