/*
 * One client session in a relay worker: accepting it, client I/O before
 * the login, its timers, and closing it. The login flow is in login.c;
 * after the login the session is an rsession (rsession.c).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "relay.h"

static void	session_client_read(int, short, void *);
static void	session_client_write(int, short, void *);
static void	session_timer(int, short, void *);
static void	session_tls_begin(struct session *);
static void	session_out_resume(struct session *);

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

/*
 * A session's line, before or after its login (rsession.c): its id and
 * client first. Formatted only if the service's LogLevel takes it: a
 * login has several debug lines that a busy relay would format for
 * nothing.
 */
void
session_vlog(int svc, uint64_t id, const char *client, int prio,
    const char *fmt, va_list ap)
{
	char	msg[LOG_LINE_BYTES];

	if (!log_wants(svc, prio))
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_svc(svc, prio, LOG_SID_FMT " %s: %s", (unsigned long long)id,
	    client, msg);
}

void
session_log(struct session *s, int prio, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	session_vlog(s->svc, s->id, s->client, prio, fmt, ap);
	va_end(ap);
}

/*
 * Re-arm the login timeout with the time left: failed logins do not buy
 * a client more time before it must be logged in.
 */
void
session_login_timer(struct session *s)
{
	struct timespec	now;
	struct timeval	tv = { 0, 0 };

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->login_deadline > now.tv_sec)
		tv.tv_sec = s->login_deadline - now.tv_sec;
	evtimer_add(s->timer, &tv);
}

/*
 * After a handoff to mmp-tlsd the session talks to its socketpair end:
 * the events follow the descriptor. Neither is pending then.
 */
static void
session_set_fd(struct session *s, int fd)
{
	event_del(s->rev);
	event_del(s->wev);
	s->fd = fd;
	(void)event_assign(s->rev, env->base, fd, EV_READ | EV_PERSIST,
	    session_client_read, s);
	(void)event_assign(s->wev, env->base, fd, EV_WRITE,
	    session_client_write, s);
}

/*
 * A client accepted on listener l from peer (accept4's). The local
 * address is the listener's when it is bound to one, else the socket's.
 * On a listener marked for the PROXY protocol, the header's addresses
 * replace both before the session is admitted (proxy.c).
 */
void
session_accept(int fd, const struct relay_listener *l,
    const struct sockaddr_storage *peer)
{
	struct sockaddr_storage	 ss;
	struct timespec		 now;
	struct session		*s;
	socklen_t		 len;
	int			 svc = l->svc;
	const char		*label = l->label;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		close(fd);
		return;
	}
	s->id = env->nextid++;
	s->svc = svc;
	s->proto = svc == SVC_IMAP ? &imap_proto : &pop3_proto;
	s->fd = fd;
	s->tlsd = -1;
	s->be.fd = -1;
	s->tlsport = l->tls;
	(void)strlcpy(s->label, label, sizeof(s->label));
	gettimeofday(&s->start, NULL);
	s->peer = *peer;
	addr_text(peer, s->client, sizeof(s->client));
	len = sizeof(ss);
	if (l->local[0] != '\0')
		(void)strlcpy(s->local, l->local, sizeof(s->local));
	else if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, s->local, sizeof(s->local));
	/* Once: the address the client connected to picks the domain. */
	s->vd = conf_vdomain_find(env->conf, svc, s->local);
	s->vdgen = env->gen;
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
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	s->login_deadline = now.tv_sec + conf_num(env->conf, svc,
	    CK_LOGINTIMEOUT);
	if (l->proxy) {
		proxy_start(s);
		return;
	}
	session_login_timer(s);
	session_admit(s);
}

/*
 * The client's address (s->peer, s->client) and the local one are final:
 * checks on them go first, here, and no byte went to the client yet.
 * limits_admit counts the client (it counts while its name is looked up
 * too); access_admit logs "connected", and may refuse or wait for the
 * client's name (then access.c greets when it has the answer).
 */
void
session_admit(struct session *s)
{
	if (limits_admit(s) == -1 || access_admit(s) == -1)
		return;
	session_greet(s);
}

/* Admitted: the greeting, or on a TLS listener the handshake. */
void
session_greet(struct session *s)
{
	/* The handshake counts against the login timeout too. */
	if (s->tlsport) {
		session_tls_begin(s);
		return;
	}
	event_add(s->rev, NULL);
	s->proto->greet(s);
}

/*
 * Have the loop write what is queued for the client at the end of this
 * round: a fresh socket takes a reply at once, and only a full one is
 * watched with epoll (session_client_write adds the event then).
 */
static void
session_write_soon(struct session *s)
{
	event_active(s->wev, EV_WRITE, 0);
}

/*
 * n bytes of s->out leave (written or dropped); the counted among them
 * leave env->outqueued. Counted bytes are queued before uncounted ones
 * (a login becomes a spoofed mailbox, never the other way) but for a
 * last line after the mailbox ends (S_CLOSING counts again): the bytes
 * written first are then uncounted ones, and min() takes the counted
 * off early, yet never more than were added and all of them by the end.
 */
static void
session_out_uncount(struct session *s, size_t n)
{
	if (n > s->outcounted)
		n = s->outcounted;
	s->outcounted -= n;
	env->outqueued -= n;
}

/*
 * Out of the tree and freed, its descriptors closed (those an rsession
 * took are -1 by then); everything it held is wiped.
 */
static void
session_free(struct session *s)
{
	RB_REMOVE(session_tree, &env->sessions, s);
	tls_pending_clear(s);
	if (s->cert != NULL)
		freezero(s->cert, sizeof(*s->cert));
	spoof_release(s->spoof);
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->timer != NULL)
		event_free(s->timer);
	backend_free(&s->be);
	if (s->fd != -1)
		close(s->fd);
	session_out_uncount(s, s->outcounted);
	buf_free(&s->in);
	buf_free(&s->out);
	if (s->svc == SVC_IMAP)
		imap_reader_free(&s->rd);
	freezero(s, sizeof(*s));
	heaptrim_soon(&env->trim, env->base);
}

const char *
session_closer_name(enum session_closer who)
{
	switch (who) {
	case CLOSER_CLIENT:
		return "client";
	case CLOSER_STORE:
		return "store";
	default:
		return "mmpd";
	}
}

/*
 * Free everything now; why (if any) goes to the log, with who ended it.
 * Nothing was relayed yet (that is an rsession's business): the bytes
 * are those read from and written to the client.
 */
void
session_close_by(struct session *s, enum session_closer who, const char *why)
{
	struct timeval	now, d;

	gettimeofday(&now, NULL);
	timersub(&now, &s->start, &d);
	if (why != NULL)
		session_log(s, LOG_INFO, "closed: %s (by %s); %llu bytes up, "
		    "%llu down, %lld.%03ld s", why, session_closer_name(who),
		    (unsigned long long)s->bytes_in,
		    (unsigned long long)s->bytes_out, (long long)d.tv_sec,
		    (long)(d.tv_usec / 1000));
	limits_session_end(&s->connkey, &s->conncounted);
	limits_preauth_end(s);
	if (s->inclosing)
		env->nclosing--;
	session_free(s);
	env->nsessions--;
	relay_session_closed();
}

void
session_close(struct session *s, const char *why)
{
	session_close_by(s, CLOSER_MMPD, why);
}

/*
 * Send what is queued, then close (BYE, -ERR, LOGOUT). Never frees the
 * session itself: callers may still be inside its input loop. why is
 * kept for the last line, which says it once the reply is out. Once
 * only, and counted in nclosing by its own flag, not by its state:
 * MaxSessionsPerWorker subtracts nclosing from nsessions, and a count
 * left behind would loosen the cap and then, wrapped, refuse everyone.
 */
void
session_finish_by(struct session *s, enum session_closer who, const char *why)
{
	struct timeval	tv = { 5, 0 };

	if (s->inclosing)
		return;
	s->inclosing = 1;
	env->nclosing++;
	s->state = S_CLOSING;
	s->closer = who;
	(void)strlcpy(s->finish_why, why, sizeof(s->finish_why));
	limits_preauth_end(s);
	event_del(s->rev);
	tls_pending_clear(s);
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	session_log(s, LOG_DEBUG, "closing: %s", why);
	/* A client that does not read its last words gets 5 s. */
	evtimer_add(s->timer, &tv);
	session_write_soon(s);
}

/* Nothing more is queued for s: what it had is dropped, then it goes. */
static void
session_mute(struct session *s, const char *why)
{
	session_out_uncount(s, s->outcounted);
	buf_reset(&s->out);
	s->mute = 1;
	session_finish(s, why);
}

void
session_finish(struct session *s, const char *why)
{
	session_finish_by(s, CLOSER_MMPD, why);
}

void
session_send_raw(struct session *s, const void *data, size_t len)
{
	char		why[96];
	long long	cap;
	int		counted;

	if (s->mute)
		return;
	/*
	 * All pre-login clients of this relay together
	 * (MaxPreauthQueueBytes): the one whose reply would go over is
	 * closed; a reply is far below the cap. A spoofed mailbox is a
	 * logged-in client's: a cap must not cut its RETR short, nor its
	 * replies take room from the pre-login ones.
	 */
	counted = s->state != S_SPOOF;
	cap = conf_num(env->conf, CONF_GLOBAL, CK_MAXPREAUTHQUEUEBYTES);
	if (counted && (long long)(env->outqueued + len) > cap) {
		(void)snprintf(why, sizeof(why), "pre-login replies over %lld "
		    "bytes in this relay (MaxPreauthQueueBytes)", cap);
		session_log(s, LOG_NOTICE, "%s: client closed", why);
		session_mute(s, why);
		return;
	}
	if (buf_add(&s->out, data, len) == -1) {
		/* It sends commands but does not read the answers. */
		session_mute(s, "client does not read its replies");
		return;
	}
	if (counted) {
		s->outcounted += len;
		env->outqueued += len;
	}
	session_write_soon(s);
}

int
session_out_full(struct session *s)
{
	if (buf_len(&s->out) <= CLIENT_OUT_PAUSE_BYTES)
		return 0;
	s->opaused = 1;
	event_del(s->rev);
	return 1;
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
	if (n > 0)
		session_out_uncount(s, (size_t)n);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		session_close_by(s, CLOSER_CLIENT, "client write failed");
		return;
	}
	if (n > 0)
		s->bytes_out += n;
	if (buf_len(&s->out) > 0) {
		event_add(s->wev, NULL);
		if (s->opaused && buf_len(&s->out) <= CLIENT_OUT_PAUSE_BYTES)
			session_out_resume(s);
		return;
	}
	if (s->state == S_CLOSING)
		session_close_by(s, s->closer, s->finish_why);
	else if (s->state == S_STARTTLS)
		session_tls_begin(s);
	else if (s->opaused)
		session_out_resume(s);
}

/*
 * The replies were written down to the bound: read and act on the
 * client's input again, what is buffered first. Last thing a caller
 * does: the input may end the session.
 */
static void
session_out_resume(struct session *s)
{
	s->opaused = 0;
	if (s->state != S_PREAUTH && s->state != S_AUTH_CONT)
		return;
	if (!s->rpaused)
		event_add(s->rev, NULL);
	s->proto->input(s);
}

/*
 * Stop or resume taking client bytes (while a login is in flight). The
 * read event stays in epoll until the client actually sends something
 * while paused (session_client_read takes it out then): most clients
 * wait for their answer, and the pause then costs no system call.
 */
void
session_read_pause(struct session *s, int pause)
{
	s->rpaused = pause;
	if (!pause && s->state != S_CLOSING && !s->opaused)
		event_add(s->rev, NULL);
}

static void
session_client_read(int fd, short ev, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	(void)ev;
	if (s->rpaused || s->opaused) {
		event_del(s->rev);
		return;
	}
	if (s->state == S_PROXY) {
		proxy_read(s);
		return;
	}
	n = buf_read_fd(&s->in, fd);
	if (n == 0) {
		session_close_by(s, CLOSER_CLIENT,
		    "client closed the connection");
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
		session_close_by(s, CLOSER_CLIENT, "client read failed");
		return;
	}
	s->bytes_in += n;
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

static void
session_timer(int fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	switch (s->state) {
	case S_NAMING:
		access_name_timeout(s);
		break;
	case S_FAILDELAY:
		session_login_delay_over(s);
		break;
	case S_BGHOLD:
		session_login_ok(s);
		break;
	case S_CLOSING:
		session_close(s, "client did not read its last reply");
		break;
	case S_STARTTLS:
	case S_TLS:
		/* No words: in plaintext, or into the handshake. */
		session_close(s, "login timeout during TLS negotiation");
		break;
	case S_PROXY:
		proxy_timeout(s);
		break;
	default:
		s->proto->timeout(s);
		break;
	}
}

/*
 * The store accepted the login: the session goes on as an rsession with
 * its two descriptors and what is still to pass on, and this struct, with
 * the login's buffers and everything that held a credential, is freed.
 * The count of sessions does not change.
 */
int
session_relay_start(struct session *s)
{
	/*
	 * The rsession's pumps watch both sockets before the login's events
	 * let go of them: libevent then leaves epoll alone.
	 */
	if (rsession_start(s) == NULL)
		return -1;
	limits_preauth_end(s);
	event_del(s->rev);
	event_del(s->wev);
	event_del(s->be.ev);
	s->fd = -1;
	s->be.fd = -1;
	session_free(s);
	return 0;
}

int
session_vd(const struct session *s)
{
	/* A reload may number the domains anew: find it again then. */
	if (s->vdgen != env->gen)
		return conf_vdomain_find(env->conf, s->svc, s->local);
	return s->vd;
}

/* Passwords in the clear are allowed on this connection. */
int
session_plain_ok(const struct session *s)
{
	return s->tls || !conf_vnum(env->conf, s->svc, session_vd(s),
	    CK_RESTRICTPLAIN);
}

/* key of the session's virtual domain, else of its service, is set. */
static int
session_conf_nonempty(const struct session *s, enum conf_key key)
{
	const char	*v = conf_vstr(env->conf, s->svc, session_vd(s), key);

	return v != NULL && v[0] != '\0';
}

/*
 * SASL EXTERNAL (a certificate login) is offered on this connection: the
 * client's certificate was verified, the service maps certificates
 * (CertMapFile) and can replay as the store's administrator.
 */
int
session_external_ok(const struct session *s)
{
	return s->cert != NULL && s->cert->status == TLS_CERT_VERIFIED &&
	    (session_conf_nonempty(s, CK_CERTMAPFILE) ||
	    conf_voverrides(env->conf, s->svc, session_vd(s), CK_CERTMAP)) &&
	    session_conf_nonempty(s, CK_STOREADMIN) &&
	    session_conf_nonempty(s, CK_STOREADMINPASS);
}

/*
 * APOP and CRAM-MD5 are offered: CRAMs yes of the session's virtual
 * domain or service (read here and nowhere else in the relay) and a
 * StoreAdmin to replay them as (mmpd refuses the configuration without
 * one; a reload may still race a session).
 */
int
session_crams_ok(const struct session *s)
{
	return conf_vnum(env->conf, s->svc, session_vd(s), CK_CRAMS) &&
	    session_conf_nonempty(s, CK_STOREADMIN) &&
	    session_conf_nonempty(s, CK_STOREADMINPASS);
}

/*
 * This login goes to the store as StoreAdmin with the user as
 * authorization identity: a certificate or a CRAM proved who the user
 * is, and the store has no password of theirs to check.
 */
int
session_admin_replay(const struct session *s)
{
	return s->certlogin || s->cram != CRAM_NONE;
}

/*
 * A fresh CRAM-MD5 challenge in s->challenge, sent as "+ base64" (RFC
 * 4422 5, RFC 2195); s then waits for the response, unless it is closing
 * (no memory, or the challenge did not fit: session_send).
 */
void
session_cram_challenge(struct session *s)
{
	struct buf	b;

	cram_challenge(s->challenge, sizeof(s->challenge), env->hostname);
	if (buf_init(&b, 0, CRAM_CHALLENGE_BYTES * 2) == -1 ||
	    base64_encode_buf(&b, s->challenge, strlen(s->challenge)) == -1) {
		buf_free(&b);
		session_finish(s, "out of memory for a challenge");
		return;
	}
	s->state = S_AUTH_CONT;
	session_send(s, "+ %.*s\r\n", (int)buf_len(&b),
	    (const char *)buf_data(&b));
	buf_free(&b);
}

/* STARTTLS / STLS is offered (and accepted) on this connection. */
int
session_starttls_offered(const struct session *s)
{
	return !s->tls && conf_num(env->conf, s->svc, CK_SSLENABLE);
}

/*
 * STARTTLS/STLS was answered with OK, the command's bytes consumed. What
 * the client sent after it was sent in the clear before TLS: dropped,
 * never executed (CVE-2011-0411). Nothing more is read from the plain
 * socket; once the answer is out, the socket goes to mmp-tlsd.
 */
void
session_starttls(struct session *s)
{
	if (buf_len(&s->in) > 0)
		session_log(s, LOG_NOTICE, "dropped %zu bytes sent after "
		    "STARTTLS before TLS", buf_len(&s->in));
	buf_reset(&s->in);
	if (s->svc == SVC_IMAP)
		imap_reader_reset(&s->rd);
	s->state = S_STARTTLS;
	s->starttls = 1;
	event_del(s->rev);
	session_write_soon(s);
}

/* Hand the client's socket to mmp-tlsd; read nothing until the result. */
static void
session_tls_begin(struct session *s)
{
	int	fd = s->fd;

	event_del(s->rev);
	event_del(s->wev);
	s->state = S_TLS;
	if (tls_handoff(s, &fd, TLS_ROLE_SERVER, s->client, s->local, "") ==
	    -1) {
		s->fd = -1;
		session_close(s, errno == ENOENT ? "no mmp-tlsd available" :
		    "cannot hand the connection to mmp-tlsd");
		return;
	}
	session_set_fd(s, fd);
}

static void
session_keep_cert(struct session *s, const struct tls_result *r)
{
	struct session_cert	*c;

	if (r->cert == TLS_CERT_NONE)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		/* Without it a certificate login fails: the safe side. */
		session_log(s, LOG_WARNING, "client certificate: out of "
		    "memory");
		return;
	}
	c->status = r->cert;
	(void)strlcpy(c->subject, r->subject, sizeof(c->subject));
	(void)strlcpy(c->issuer, r->issuer, sizeof(c->issuer));
	c->nfields = r->nfields;
	memcpy(c->field, r->field, sizeof(c->field));
	s->cert = c;
	if (r->cert == TLS_CERT_VERIFIED)
		session_log(s, LOG_INFO, "client certificate %s (issuer %s)",
		    c->subject, c->issuer);
	else
		session_log(s, LOG_INFO, "client certificate refused: %s",
		    r->detail);
}

/* mmp-tlsd's word on the client's handshake. */
void
session_tls_result(struct session *s, const struct tls_result *r)
{
	char	why[MMP_STR_BYTES + 64];

	if (s->state != S_TLS)
		return;
	if (r->status != TLS_OK) {
		(void)snprintf(why, sizeof(why), "TLS negotiation failed: %s",
		    r->detail);
		session_close_by(s, CLOSER_CLIENT, why);
		return;
	}
	session_log(s, LOG_INFO, "TLS %s %s%s%s%s", r->version, r->cipher,
	    r->resumed ? " resumed" : "", r->sni[0] != '\0' ? " sni=" : "",
	    r->sni);
	s->tls = 1;
	session_keep_cert(s, r);
	s->state = S_PREAUTH;
	event_add(s->rev, NULL);
	/* After STARTTLS the client speaks first (CAPABILITY). */
	if (!s->starttls)
		s->proto->greet(s);
}

/* The mmp-tlsd that had the client's handshake is gone. */
void
session_tls_lost(struct session *s)
{
	if (s->state == S_TLS)
		session_close(s, "mmp-tlsd went away during TLS negotiation");
}
