/*
 * The store side of a login: connect to the user's mailHost (each address
 * in turn), with TLS through mmp-tlsd when configured (SSLBacksidePort, or
 * StoreStartTLS after the greeting), read the greeting, replay the login
 * the way the store prefers
 * (IMAP AUTHENTICATE PLAIN with SASL-IR, else LOGIN with quoting or
 * literals; POP3 USER/PASS) and hand the store's answer to the client.
 * A certificate login is replayed as the StoreAdmin with the user as
 * authorization identity, only ever with SASL PLAIN.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "escape.h"
#include "log.h"
#include "relay.h"

#define STORE_CAPA_TAG	"mmpd0"
#define STORE_ID_TAG	"mmpd1"
#define STORE_TLS_TAG	"S"
#define STORE_ANSWER_LOG_BYTES	200	/* of a store's refusal, escaped */
#define POP3_CMD_MAX_BYTES	255	/* RFC 5034 4: AUTH with its response */

/* How a store connection gets TLS (struct backend's tlsmode). */
#define BE_TLS_NONE	0
#define BE_TLS_PORT	1	/* SSLBacksidePort: TLS from the first byte */
#define BE_TLS_STARTTLS	2	/* StoreStartTLS: after the greeting */

/*
 * One address of the mailHost at a time; any failure before the login
 * was sent moves on to the next address:
 *
 *   BE_CONNECT --> BE_GREETING --(StoreStartTLS)--> BE_STARTTLS
 *       |               |                                |
 *       | (SSLBacksidePort: BE_TLS, then BE_GREETING)    v
 *       |               |                   BE_TLS (mmp-tlsd), then
 *       |               v                   CAPABILITY again (IMAP)
 *   IMAP:  [BE_CAPA] --> [BE_ID] --> BE_LOGIN  (BE_CONT at literals)
 *   POP3:  [[BE_POPCAPA --> BE_POPCAPA_LIST] --> BE_XCLIENT]
 *            --> BE_USER --> BE_PASS
 *                              or, as StoreAdmin, BE_LOGIN (AUTH PLAIN)
 *
 * [BE_CAPA]: when the greeting listed no capabilities, and after TLS.
 * [BE_ID], [BE_XCLIENT]: ForwardClientAddress yes, once per store
 * connection, and only when the store offers them (CAPABILITY ID; a
 * greeting "+OK [XCLIENT]", else CAPA); their answer does not matter.
 */
enum backend_state {
	BE_IDLE,
	BE_CONNECT,
	BE_GREETING,
	BE_STARTTLS,		/* sent STARTTLS / STLS, waiting for OK */
	BE_TLS,			/* handed to mmp-tlsd, waiting for TLS_RESULT */
	BE_CAPA,		/* IMAP: asked CAPABILITY */
	BE_CONT,		/* waiting for "+" to send the rest */
	BE_LOGIN,		/* IMAP: the tagged answer; POP3: AUTH's */
	BE_USER,		/* POP3: sent USER */
	BE_PASS,		/* POP3: sent PASS */
	BE_ID,			/* IMAP: sent ID with the client's address */
	BE_POPCAPA,		/* POP3: asked CAPA, waiting for its +OK */
	BE_POPCAPA_LIST,	/* POP3: CAPA's list, looking for XCLIENT */
	BE_XCLIENT,		/* POP3: sent XCLIENT with the client's address */
};

static void	backend_event(int, short, void *);
static void	backend_next_address(struct session *, const char *);
static void	backend_failed(struct session *, const char *);
static int	backend_imap_capa(struct session *);
static int	backend_imap_ready(struct session *);
static int	backend_pop3_ready(struct session *);
static int	backend_pop3_user(struct session *);
static void	backend_attempt_done(struct backend *);

void
backend_free(struct backend *be)
{
	backend_attempt_done(be);
	if (be->ev != NULL)
		event_free(be->ev);
	be->ev = NULL;
	if (be->fd != -1)
		close(be->fd);
	be->fd = -1;
	buf_free(&be->in);
	buf_free(&be->out);
	buf_free(&be->answer);
	be->state = BE_IDLE;
	be->saslir = be->authplain = be->literalplus = be->logindisabled = 0;
	be->idcap = be->xclient = be->forwarded = 0;
	be->nsplit = be->cursplit = 0;
	be->sentlogin = 0;
	be->tls = be->tlsmode = 0;
}

/*
 * Wait for what the state needs, ConnectTimeout at most. Reading stays
 * in epoll from the greeting to the answer (EV_PERSIST): waiting for the
 * next line only moves the timer, no system call. Whoever closes or
 * hands over be->fd takes it out first (backend_unwatch): a descriptor
 * number used again must never inherit a registration.
 */
static void
backend_wait(struct session *s, short what)
{
	struct event	*ev = s->be.ev;
	struct timeval	 tv;
	short		 events = what == EV_READ ? EV_READ | EV_PERSIST : what;

	tv.tv_sec = conf_num(env->conf, s->svc, CK_CONNECTTIMEOUT);
	tv.tv_usec = 0;
	if (events != 0 && event_get_fd(ev) == s->be.fd &&
	    event_get_events(ev) == events && event_pending(ev, what, NULL)) {
		event_add(ev, &tv);
		return;
	}
	event_del(ev);
	event_assign(ev, env->base, s->be.fd, events, backend_event, s);
	event_add(ev, &tv);
}

static void
backend_unwatch(struct backend *be)
{
	if (be->ev != NULL)
		event_del(be->ev);
}

/*
 * StoreNetworks: the relay's own rule of where stores may be. mmp-ldapd
 * parses LDAP and DNS from the network; if it falls, it still cannot make
 * a relay send a user's password to an address of its choosing.
 */
static int
backend_allowed(struct session *s, const char *addr, char *why,
    size_t whylen)
{
	const struct store_nets	*sn = &env->storenets[s->svc];
	const struct conf_value	*cv = &env->conf->v[s->svc][CK_STORENETWORKS];

	if (!sn->set || netlist_match(sn->v, sn->n, addr))
		return 1;
	(void)snprintf(why, whylen, "%s is outside StoreNetworks (%s:%d): not "
	    "connecting", s->be.addr, cv->file, cv->line);
	return 0;
}

/*
 * MaxConcurrentConnectionAttempts of the service: count this connection
 * for its store, then sum over all relays; over the cap (a dead or slow
 * store has that many waiting) undo and fail at once, like a store that
 * is down. 0, or -1 with why.
 */
static int
backend_attempt(struct session *s, const struct sockaddr_storage *ss,
    int port, char *why, size_t whylen)
{
	struct backend	*be = &s->be;
	long long	 cap = conf_num(env->conf, s->svc, CK_MAXCONNATTEMPTS);
	int64_t		 sum;

	if (cap == 0)
		return 0;
	shm_key_sockaddr(&be->attkey, ss, (uint32_t)port);
	if (shm_add(&env->shm, &shm_stores, &be->attkey, 1) == -1) {
		(void)snprintf(why, whylen, "%s: not connecting: this relay "
		    "has connections in flight to %u stores already",
		    be->addr, SHM_STORE_SLOTS);
		return -1;
	}
	be->attempting = 1;
	if ((sum = shm_sum(&env->shm, &shm_stores, &be->attkey)) <= cap)
		return 0;
	backend_attempt_done(be);
	(void)snprintf(why, whylen, "%s: not connecting: "
	    "MaxConcurrentConnectionAttempts %lld reached (connections to "
	    "it in flight)", be->addr, cap);
	return -1;
}

/* The store greeted, or the attempt ended: uncount it. */
static void
backend_attempt_done(struct backend *be)
{
	if (!be->attempting)
		return;
	if (shm_add(&env->shm, &shm_stores, &be->attkey, -1) == -1)
		log_warnx("connection attempt count of a store was not there");
	be->attempting = 0;
}

/* Start a connection to the address be->next; -1 if it failed at once. */
static int
backend_connect(struct session *s, char *why, size_t whylen)
{
	struct backend		*be = &s->be;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*addr = be->addrs[be->next++];
	int			 port, one = 1;

	be->tls = 0;
	be->tlsmode = BE_TLS_NONE;
	if ((port = conf_num(env->conf, s->svc, CK_SSLBACKSIDEPORT)) != 0)
		be->tlsmode = BE_TLS_PORT;
	else {
		port = conf_num(env->conf, s->svc, CK_BACKSIDEPORT);
		if (conf_num(env->conf, s->svc, CK_STORESTARTTLS))
			be->tlsmode = BE_TLS_STARTTLS;
	}
	(void)snprintf(be->addr, sizeof(be->addr), strchr(addr, ':') ?
	    "[%s]:%d" : "%s:%d", addr, port);
	if (addr_sockaddr(addr, port, &ss, &len) == -1) {
		(void)snprintf(why, whylen, "%s: not a numeric address",
		    be->addr);
		return -1;
	}
	if (!backend_allowed(s, addr, why, whylen) ||
	    backend_attempt(s, &ss, port, why, whylen) == -1)
		return -1;
	be->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (be->fd == -1) {
		(void)snprintf(why, whylen, "%s: socket: %s", be->addr,
		    strerror(errno));
		backend_attempt_done(be);
		return -1;
	}
	(void)setsockopt(be->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(be->fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		(void)snprintf(why, whylen, "%s: %s", be->addr,
		    strerror(errno));
		close(be->fd);
		be->fd = -1;
		backend_attempt_done(be);
		return -1;
	}
	be->state = BE_CONNECT;
	session_log(s, LOG_DEBUG, "store %s: connecting%s", be->addr,
	    be->tlsmode == BE_TLS_PORT ? " (TLS)" : be->tlsmode ==
	    BE_TLS_STARTTLS ? " (STARTTLS)" : "");
	/*
	 * A store speaks first: readable means connected with its greeting
	 * there, or failed (and the read says why). Only TLS from the first
	 * byte must know when the connection is up, to hand it over.
	 */
	backend_wait(s, be->tlsmode == BE_TLS_PORT ? EV_WRITE : EV_READ);
	return 0;
}

/*
 * Before the login was sent, a store that fails is one that could not be
 * reached: the next address of the mailHost may do better. Once it was
 * sent, that store has seen the password and whatever it did next is the
 * outcome of this login: the password is never replayed elsewhere.
 */
static void
backend_failed(struct session *s, const char *why)
{
	char	err[256];

	if (!s->be.sentlogin) {
		backend_next_address(s, why);
		return;
	}
	(void)snprintf(err, sizeof(err), "store %s: %s after the login was "
	    "sent", s->be.addr, why);
	s->reason = LREASON_STOREFAILED;
	relay_stat_store_latency(s);
	session_login_failed(s, LOGIN_FAIL_AUTH, err);
}

static void
backend_next_address(struct session *s, const char *why)
{
	struct backend	*be = &s->be;
	char		 err[256] = "";

	if (why != NULL) {
		(void)snprintf(err, sizeof(err), "%s: %s", be->addr, why);
		session_log(s, LOG_WARNING, "store %s", err);
	}
	backend_attempt_done(be);
	/* A handshake given up: its result, if it comes, is ignored. */
	if (be->state == BE_TLS)
		tls_pending_clear(s);
	if (be->fd != -1) {
		backend_unwatch(be);
		close(be->fd);
		be->fd = -1;
	}
	/* Nothing the last store said or offered holds for the next one. */
	buf_reset(&be->in);
	buf_reset(&be->out);
	buf_reset(&be->answer);
	be->saslir = be->authplain = be->literalplus = be->logindisabled = 0;
	be->idcap = be->xclient = be->forwarded = 0;
	while (be->next < be->naddr) {
		if (backend_connect(s, err, sizeof(err)) == 0)
			return;
		session_log(s, LOG_WARNING, "store %s", err);
	}
	session_login_failed(s, LOGIN_FAIL_STORE, err[0] != '\0' ? err :
	    "no address to connect to");
}

void
backend_start(struct session *s)
{
	struct backend	*be = &s->be;

	be->next = 0;
	be->fd = -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &be->started);
	be->ev = event_new(env->base, -1, 0, backend_event, s);
	if (be->ev == NULL ||
	    buf_init(&be->in, 0, STORE_IN_MAX_BYTES) == -1 ||
	    buf_init(&be->out, 0, STORE_OUT_MAX_BYTES) == -1 ||
	    buf_init(&be->answer, 0, STORE_IN_MAX_BYTES) == -1) {
		session_login_failed(s, LOGIN_FAIL_STORE, "out of memory");
		return;
	}
	backend_next_address(s, NULL);
}

/* Note what the store can do from a CAPABILITY list; a CR ends it. */
static void
backend_capabilities(struct backend *be, const char *p)
{
	char	word[64];
	size_t	n;

	while (*p != '\0' && *p != ']' && *p != '\r') {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ]\r");
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			if (strcasecmp(word, "AUTH=PLAIN") == 0)
				be->authplain = 1;
			else if (strcasecmp(word, "SASL-IR") == 0)
				be->saslir = 1;
			else if (strcasecmp(word, "LITERAL+") == 0)
				be->literalplus = 1;
			else if (strcasecmp(word, "LOGINDISABLED") == 0)
				be->logindisabled = 1;
			else if (strcasecmp(word, "ID") == 0)
				be->idcap = 1;
		}
		p += n;
	}
}

static int
backend_send(struct session *s, size_t upto)
{
	struct backend	*be = &s->be;
	ssize_t		 n;

	/* A few hundred bytes to a fresh socket: this does not block. */
	while (buf_len(&be->out) > 0 && upto > 0) {
		n = write(be->fd, buf_data(&be->out), upto < buf_len(&be->out)
		    ? upto : buf_len(&be->out));
		if (n == -1)
			return -1;
		buf_drain(&be->out, n);
		upto -= n;
	}
	return 0;
}

/* Send the login command up to its next synchronising literal. */
static int
backend_send_part(struct session *s)
{
	struct backend	*be = &s->be;
	size_t		 upto = buf_len(&be->out);

	if (be->cursplit < be->nsplit)
		upto = be->splits[be->cursplit] - be->sent;
	be->sent += upto;
	if (backend_send(s, upto) == -1)
		return -1;
	be->state = be->cursplit < be->nsplit ? BE_CONT : BE_LOGIN;
	be->cursplit++;
	return 0;
}

/* A DNS name mmp-tlsd can check a certificate against. */
static int
backend_hostname_ok(const char *name)
{
	size_t	len = strlen(name);

	return len > 0 && len < TLS_NAME_BYTES &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") == len;
}

/* StoreStartTLS: ask for TLS before anything else; 0 or -1. */
static int
backend_starttls_send(struct session *s, const char *cmd)
{
	struct backend	*be = &s->be;

	be->state = BE_STARTTLS;
	if (buf_add(&be->out, cmd, strlen(cmd)) == -1)
		return -1;
	return backend_send(s, buf_len(&be->out));
}

/*
 * Hand the store's socket to mmp-tlsd; the ConnectTimeout runs until its
 * result. Returns 1: the session waits, or moved on to the next address.
 */
static int
backend_tls_begin(struct session *s)
{
	struct backend		*be = &s->be;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 local[ADDR_TEXT_BYTES] = "";
	const char		*name;

	if (getsockname(be->fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, local, sizeof(local));
	/*
	 * The name the certificate must carry: mailHost as looked up, if it
	 * is a host name at all (it comes from LDAP; mmp-tlsd refuses a
	 * START with anything else), else the address connected to.
	 */
	name = backend_hostname_ok(s->mailhost) ? s->mailhost :
	    be->addrs[be->next - 1];
	/* Nothing the store said in the clear counts after TLS. */
	buf_reset(&be->in);
	buf_reset(&be->out);
	backend_unwatch(be);
	if (tls_handoff(s, &be->fd, TLS_ROLE_CLIENT, be->addr, local, name) ==
	    -1) {
		backend_next_address(s, errno == ENOENT ?
		    "TLS failed: no mmp-tlsd available" :
		    "TLS failed: cannot hand the connection to mmp-tlsd");
		return 1;
	}
	be->state = BE_TLS;
	backend_wait(s, 0);
	return 1;
}

/*
 * The store's answer to STARTTLS / STLS: anything but OK is a store that
 * cannot be used (the login was not sent), said in the log escaped.
 */
static int
backend_starttls_answer(struct session *s, const char *line, size_t len,
    int ok)
{
	char	safe[STORE_ANSWER_LOG_BYTES * 4 + 1], why[sizeof(safe) + 64];

	if (ok)
		return backend_tls_begin(s);
	while (len > 0 && line[len - 1] == '\r')
		len--;
	escape_log(line, len > STORE_ANSWER_LOG_BYTES ?
	    STORE_ANSWER_LOG_BYTES : len, safe, sizeof(safe));
	(void)snprintf(why, sizeof(why), "STARTTLS refused: %s", safe);
	backend_next_address(s, why);
	return 1;
}

/* mmp-tlsd's word on the store's handshake. */
void
backend_tls_result(struct session *s, const struct tls_result *r)
{
	struct backend	*be = &s->be;
	char		 why[MMP_STR_BYTES + 32];
	int		 rv;

	if (be->state != BE_TLS)
		return;
	if (r->status != TLS_OK) {
		(void)snprintf(why, sizeof(why), "TLS failed: %s", r->detail);
		backend_next_address(s, why);
		return;
	}
	session_log(s, LOG_DEBUG, "store %s: TLS %s %s%s", be->addr,
	    r->version, r->cipher, r->resumed ? " resumed" : "");
	be->tls = 1;
	if (be->tlsmode == BE_TLS_PORT) {
		be->state = BE_GREETING;
		backend_wait(s, EV_READ);
		return;
	}
	/* After STARTTLS: what the store offered in the clear is void. */
	be->saslir = be->authplain = be->literalplus = be->logindisabled = 0;
	be->idcap = 0;
	rv = s->svc == SVC_IMAP ? backend_imap_capa(s) : backend_pop3_ready(s);
	if (rv == -1) {
		backend_failed(s, "cannot send the login");
		return;
	}
	backend_wait(s, EV_READ);
}

/* The mmp-tlsd that had this store's handshake is gone. */
void
backend_tls_lost(struct session *s)
{
	if (s->be.state == BE_TLS)
		backend_next_address(s, "TLS failed: mmp-tlsd went away");
}

/*
 * The PLAIN message of this login, base64, to be->out: the user's own, or
 * for a certificate or CRAM login the StoreAdmin's with the user as
 * authzid (session_admin_replay). -1:
 * out of room, or a field PLAIN cannot carry (sasl_plain_encode).
 */
static int
backend_plain(struct session *s)
{
	const char	*admin, *pass;

	if (!session_admin_replay(s))
		return sasl_plain_encode(&s->be.out, NULL, s->user, s->pass);
	/* The session's virtual domain's StoreAdmin, else the service's. */
	admin = conf_vstr(env->conf, s->svc, session_vd(s), CK_STOREADMIN);
	pass = conf_vstr(env->conf, s->svc, session_vd(s), CK_STOREADMINPASS);
	if (admin == NULL || pass == NULL)
		return -1;
	return sasl_plain_encode(&s->be.out, s->user, admin, pass);
}

/*
 * A certificate login needs the StoreAdmin's PLAIN (never LOGIN: that
 * would be the administrator logging in as itself). 1: this store cannot
 * take it, the session moved on to the next address, said why.
 */
static int
backend_imap_no_admin(struct session *s)
{
	if (!session_admin_replay(s) || s->be.authplain)
		return 0;
	backend_next_address(s, "offers no AUTH=PLAIN: certificate logins "
	    "need SASL PLAIN at the store");
	return 1;
}

static int
backend_imap_login(struct session *s)
{
	struct backend	*be = &s->be;
	int		 off;

	if (backend_imap_no_admin(s))
		return 1;
	buf_reset(&be->out);
	be->sent = be->nsplit = be->cursplit = 0;
	be->sentlogin = 1;
	if (be->authplain) {
		if (buf_addf(&be->out, "%s AUTHENTICATE PLAIN%s", s->tag,
		    be->saslir ? " " : "\r\n") == -1)
			return -1;
		if (!be->saslir)
			be->splits[be->nsplit++] = buf_len(&be->out);
		if (backend_plain(s) == -1 ||
		    buf_add(&be->out, "\r\n", 2) == -1)
			return -1;
		return backend_send_part(s);
	}
	if (buf_addf(&be->out, "%s LOGIN ", s->tag) == -1 ||
	    (off = imap_append_string(&be->out, s->user,
	    be->literalplus)) == -1)
		return -1;
	if (off > 0)
		be->splits[be->nsplit++] = off;
	if (buf_add(&be->out, " ", 1) == -1 ||
	    (off = imap_append_string(&be->out, s->pass,
	    be->literalplus)) == -1 || buf_add(&be->out, "\r\n", 2) == -1)
		return -1;
	if (off > 0)
		be->splits[be->nsplit++] = off;
	return backend_send_part(s);
}

/*
 * The store took the login: its answer (untagged lines and the tagged
 * one) goes to the client ahead of everything the relay will pass on.
 * Returns 1: the session is past the login now.
 */
static int
backend_succeeded(struct session *s, const char *line, size_t len)
{
	struct backend	*be = &s->be;

	if (buf_add(&be->answer, line, len) == -1 ||
	    buf_add(&be->answer, "\n", 1) == -1) {
		backend_failed(s, "answer to the login too long");
		return 1;
	}
	/* What follows the answer in be.in is the store talking already. */
	buf_drain(&be->in, len + 1);
	/*
	 * A store may answer before it asked for a synchronising literal:
	 * the rest of the login, password included, must not wait in
	 * be.out for the whole session.
	 */
	buf_free(&be->out);
	be->nsplit = be->cursplit = 0;
	relay_stat_store_latency(s);
	session_login_ok(s);
	return 1;
}

/*
 * A POP3 store's temporary refusal (RFC 2449 8.1.2 IN-USE, RFC 3206
 * SYS/TEMP): the account is fine, the mailbox is not served now. With
 * SpoofTempFail and a verified password, a spoofed mailbox. 1: taken.
 */
static int
backend_tempfail(struct session *s, const char *line, const char *detail)
{
	enum spoof_kind	kind;

	if (s->svc != SVC_POP || (strncasecmp(line, "-ERR [IN-USE]", 13) != 0 &&
	    strncasecmp(line, "-ERR [SYS/TEMP]", 15) != 0))
		return 0;
	if ((kind = spoof_wanted(s, 1)) == SPOOF_NONE)
		return 0;
	session_log(s, LOG_WARNING, "%s", detail);
	spoof_start(s, kind, "the store answered a temporary failure");
	return 1;
}

/* Returns 1: the session is back before the login, or spoofed. */
static int
backend_refused(struct session *s, const char *line, size_t len)
{
	char	detail[256];

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	(void)snprintf(detail, sizeof(detail), "store %s refused: %.*s",
	    s->be.addr, (int)(len > 200 ? 200 : len), line);
	if (backend_tempfail(s, line, detail))
		return 1;
	/*
	 * Not the user's fault: the store wants TLS, or a trusted address,
	 * for plaintext logins. Say what to change at the store.
	 */
	if (s->be.logindisabled || strcasestr(line, "PRIVACYREQUIRED") ||
	    strcasestr(line, "plaintext"))
		session_log(s, LOG_WARNING, "store %s does not take plaintext "
		    "logins from mmpd; allow them from mmpd's address there "
		    "(Dovecot: login_trusted_networks)", s->be.addr);
	s->reason = LREASON_STOREREFUSED;
	relay_stat_store_latency(s);
	session_login_failed(s, LOGIN_FAIL_AUTH, detail);
	return 1;
}

/*
 * Host and port of a session address as addr_text wrote it ("a.b.c.d:n"
 * or "[v6]:n"): 0, or -1 when it is not one (an unbound local address).
 * Only hex digits, '.' and ':' pass: the result goes into a command.
 */
static int
backend_split_addr(const char *text, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*h = text, *c;
	size_t		 n;

	if (text[0] == '[') {
		h = text + 1;
		if ((c = strstr(h, "]:")) == NULL)
			return -1;
		n = c - h;
		c += 2;
	} else {
		if ((c = strrchr(text, ':')) == NULL)
			return -1;
		n = c - h;
		c++;
	}
	if (n == 0 || n >= hostlen || strspn(h, "0123456789abcdefABCDEF.:") <
	    n || c[0] == '\0' || strspn(c, "0123456789") != strlen(c) ||
	    strlcpy(port, c, portlen) >= portlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	return 0;
}

/* ForwardClientAddress: the store hears who the client is (not twice). */
static int
backend_forward_wanted(const struct session *s)
{
	return !s->be.forwarded && conf_vnum(env->conf, s->svc,
	    session_vd(s), CK_FORWARDCLIENTADDRESS);
}

/*
 * The store's capabilities are known: with ForwardClientAddress, ID with
 * the client's address first (Dovecot takes x-originating-ip from its
 * login_trusted_networks), then the login.
 */
static int
backend_imap_ready(struct session *s)
{
	struct backend	*be = &s->be;
	char		 ip[ADDR_TEXT_BYTES], port[8];
	char		 lip[ADDR_TEXT_BYTES], lport[8];

	if (!backend_forward_wanted(s))
		return backend_imap_login(s);
	be->forwarded = 1;
	if (!be->idcap ||
	    backend_split_addr(s->client, ip, sizeof(ip), port,
	    sizeof(port)) == -1) {
		session_log(s, LOG_DEBUG, "store %s: %s; client address not "
		    "forwarded", be->addr, be->idcap ? "no client address" :
		    "offers no ID");
		return backend_imap_login(s);
	}
	be->state = BE_ID;
	if (buf_addf(&be->out, STORE_ID_TAG " ID (\"x-originating-ip\" "
	    "\"%s\" \"x-originating-port\" \"%s\"", ip, port) == -1)
		return -1;
	if (backend_split_addr(s->local, lip, sizeof(lip), lport,
	    sizeof(lport)) == 0 && buf_addf(&be->out, " \"x-connected-ip\" "
	    "\"%s\" \"x-connected-port\" \"%s\"", lip, lport) == -1)
		return -1;
	if (buf_addf(&be->out, ")\r\n") == -1)
		return -1;
	session_log(s, LOG_DEBUG, "store %s: ID x-originating-ip %s", be->addr,
	    ip);
	return backend_send(s, buf_len(&be->out));
}

/* IMAP: what can the store do? Asked again after STARTTLS. */
static int
backend_imap_capa(struct session *s)
{
	struct backend	*be = &s->be;

	be->state = BE_CAPA;
	return buf_addf(&be->out, STORE_CAPA_TAG " CAPABILITY\r\n") == -1 ?
	    -1 : backend_send(s, buf_len(&be->out));
}

/*
 * One line (without its LF) from an IMAP store: 0 go on, 1 the session
 * moved on, -1 the store cannot be written to.
 */
static int
backend_imap_line(struct session *s, const char *line, size_t len)
{
	struct backend	*be = &s->be;
	size_t		 tlen = strlen(s->tag);
	const char	*p;

	switch (be->state) {
	case BE_GREETING:
		backend_attempt_done(be);
		if (strncasecmp(line, "* OK", 4) != 0) {
			backend_next_address(s, "greeting is not * OK");
			return 1;
		}
		if (be->tlsmode == BE_TLS_STARTTLS && !be->tls)
			return backend_starttls_send(s,
			    STORE_TLS_TAG " STARTTLS\r\n");
		if ((p = strcasestr(line, "[CAPABILITY ")) != NULL) {
			backend_capabilities(be, p + 12);
			return backend_imap_ready(s);
		}
		return backend_imap_capa(s);
	case BE_STARTTLS:
		if (line[0] == '*')
			return 0;
		return backend_starttls_answer(s, line, len,
		    strncasecmp(line, STORE_TLS_TAG " OK", 4) == 0);
	case BE_CAPA:
		if (strncasecmp(line, "* CAPABILITY ", 13) == 0)
			backend_capabilities(be, line + 13);
		else if (strncmp(line, STORE_CAPA_TAG " ", 6) == 0)
			return backend_imap_ready(s);
		return 0;
	case BE_ID:
		/* Its "* ID" and whether it took the address: no matter. */
		if (strncmp(line, STORE_ID_TAG " ", 6) == 0)
			return backend_imap_login(s);
		return 0;
	case BE_CONT:
		if (line[0] == '+')
			return backend_send_part(s);
		if (line[0] == '*')
			return 0;	/* untagged: allowed at any time */
		break;
	case BE_LOGIN:
		if (line[0] != '*')
			break;
		if (buf_add(&be->answer, line, len) == -1 ||
		    buf_add(&be->answer, "\n", 1) == -1) {
			backend_failed(s, "too much said before the answer to "
			    "the login");
			return 1;
		}
		return 0;
	}
	if (len > tlen + 3 && strncmp(line, s->tag, tlen) == 0 &&
	    line[tlen] == ' ' && strncasecmp(line + tlen + 1, "OK", 2) == 0)
		return backend_succeeded(s, line, len);
	return backend_refused(s, line, len);
}

/*
 * POP3 certificate or CRAM login: AUTH PLAIN (RFC 5034) as the
 * StoreAdmin, the response on the command line when the line stays
 * within 255 bytes, else after the store's "+ ".
 */
static int
backend_pop3_auth(struct session *s)
{
	struct backend	*be = &s->be;
	const char	*admin, *pass;
	size_t		 plain, line;

	/* The session's virtual domain's StoreAdmin, else the service's. */
	admin = conf_vstr(env->conf, s->svc, session_vd(s), CK_STOREADMIN);
	pass = conf_vstr(env->conf, s->svc, session_vd(s), CK_STOREADMINPASS);
	if (admin == NULL || pass == NULL)
		return -1;
	plain = strlen(s->user) + 1 + strlen(admin) + 1 + strlen(pass);
	line = strlen("AUTH PLAIN ") + (plain + 2) / 3 * 4 + 2;
	buf_reset(&be->out);
	be->sent = be->nsplit = be->cursplit = 0;
	be->sentlogin = 1;
	if (buf_addf(&be->out, "AUTH PLAIN%s", line <= POP3_CMD_MAX_BYTES ?
	    " " : "\r\n") == -1)
		return -1;
	if (line > POP3_CMD_MAX_BYTES)
		be->splits[be->nsplit++] = buf_len(&be->out);
	if (backend_plain(s) == -1 || buf_add(&be->out, "\r\n", 2) == -1)
		return -1;
	return backend_send_part(s);
}

/* POP3: the login begins, the name first. */
static int
backend_pop3_user(struct session *s)
{
	struct backend	*be = &s->be;

	if (session_admin_replay(s))
		return backend_pop3_auth(s);
	be->state = BE_USER;
	be->sentlogin = 1;
	if (buf_addf(&be->out, "USER %s\r\n", s->user) == -1)
		return -1;
	return backend_send(s, buf_len(&be->out));
}

/*
 * XCLIENT with the client's address (no RFC; Dovecot's pop3-login takes
 * ADDR= PORT= from its login_trusted_networks), then the login.
 */
static int
backend_pop3_xclient(struct session *s)
{
	struct backend	*be = &s->be;
	char		 ip[ADDR_TEXT_BYTES], port[8];

	if (backend_split_addr(s->client, ip, sizeof(ip), port,
	    sizeof(port)) == -1)
		return backend_pop3_user(s);
	be->state = BE_XCLIENT;
	session_log(s, LOG_DEBUG, "store %s: XCLIENT ADDR=%s", be->addr, ip);
	if (buf_addf(&be->out, "XCLIENT ADDR=%s PORT=%s\r\n", ip, port) == -1)
		return -1;
	return backend_send(s, buf_len(&be->out));
}

/*
 * The greeting (and TLS) is done. With ForwardClientAddress: XCLIENT if
 * the greeting offered it ("+OK [XCLIENT]", Dovecot's way), else if CAPA
 * lists it; then the login.
 */
static int
backend_pop3_ready(struct session *s)
{
	struct backend	*be = &s->be;

	if (!backend_forward_wanted(s))
		return backend_pop3_user(s);
	be->forwarded = 1;
	if (be->xclient)
		return backend_pop3_xclient(s);
	be->state = BE_POPCAPA;
	if (buf_addf(&be->out, "CAPA\r\n") == -1)
		return -1;
	return backend_send(s, buf_len(&be->out));
}

/* A line of CAPA's list, up to its ".". */
static int
backend_pop3_capa_line(struct session *s, const char *line)
{
	struct backend	*be = &s->be;

	if (strcmp(line, ".") != 0 && strcmp(line, ".\r") != 0) {
		if (strncasecmp(line, "XCLIENT", 7) == 0 &&
		    (line[7] == '\0' || line[7] == ' ' || line[7] == '\r'))
			be->xclient = 1;
		return 0;
	}
	if (be->xclient)
		return backend_pop3_xclient(s);
	session_log(s, LOG_DEBUG, "store %s: no XCLIENT; client address not "
	    "forwarded", be->addr);
	return backend_pop3_user(s);
}

/* As backend_imap_line, for a POP3 store. */
static int
backend_pop3_line(struct session *s, const char *line, size_t len)
{
	struct backend	*be = &s->be;
	int		 ok = strncmp(line, "+OK", 3) == 0;

	switch (be->state) {
	case BE_GREETING:
		backend_attempt_done(be);
		if (!ok) {
			backend_next_address(s, "greeting is not +OK");
			return 1;
		}
		/*
		 * Kept after STLS, unlike what else the store said in the
		 * clear: Dovecot says it nowhere else (not in CAPA), and a
		 * forged one only makes mmpd send the client's address,
		 * inside TLS then, to a store that may not want it.
		 */
		be->xclient = strncmp(line, "+OK [XCLIENT]", 13) == 0;
		if (be->tlsmode == BE_TLS_STARTTLS && !be->tls)
			return backend_starttls_send(s, "STLS\r\n");
		return backend_pop3_ready(s);
	case BE_STARTTLS:
		return backend_starttls_answer(s, line, len, ok);
	case BE_POPCAPA:
		/* -ERR: no CAPA, and no list follows. */
		if (!ok)
			return backend_pop3_user(s);
		be->state = BE_POPCAPA_LIST;
		return 0;
	case BE_POPCAPA_LIST:
		return backend_pop3_capa_line(s, line);
	case BE_XCLIENT:
		/* +OK or -ERR (not a trusted proxy there): log in anyway. */
		return backend_pop3_user(s);
	case BE_USER:
		if (!ok)
			break;
		be->state = BE_PASS;
		if (buf_addf(&be->out, "PASS %s\r\n", s->pass) == -1)
			return -1;
		return backend_send(s, buf_len(&be->out));
	case BE_PASS:
	case BE_LOGIN:
		if (!ok)
			break;
		return backend_succeeded(s, line, len);
	case BE_CONT:
		/* "+ " (RFC 5034), not "+OK": the store wants the response. */
		if (line[0] == '+' && (line[1] == ' ' || line[1] == '\r' ||
		    line[1] == '\0'))
			return backend_send_part(s);
		break;
	}
	return backend_refused(s, line, len);
}

static void
backend_read(struct session *s)
{
	struct backend	*be = &s->be;
	ssize_t		 n;
	size_t		 len;
	char		*line;
	int		 rv;

	n = buf_read_fd(&be->in, be->fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		backend_wait(s, EV_READ);
		return;
	}
	if (n <= 0) {
		backend_failed(s, n == 0 ? "closed the connection" :
		    strerror(errno));
		return;
	}
	while ((len = buf_line(&be->in)) > 0) {
		line = (char *)buf_data(&be->in);
		line[len - 1] = '\0';	/* strcasestr stops at the LF */
		rv = s->svc == SVC_IMAP ? backend_imap_line(s, line, len - 1) :
		    backend_pop3_line(s, line, len - 1);
		if (rv == 1)
			return;
		if (rv == -1) {
			backend_failed(s, "cannot send the login");
			return;
		}
		buf_drain(&be->in, len);
	}
	if (buf_room(&be->in) == 0) {
		backend_failed(s, "line too long");
		return;
	}
	backend_wait(s, EV_READ);
}

/* A connection that is up (a timeout then waited for the greeting). */
static int
backend_connected(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void
backend_event(int fd, short ev, void *arg)
{
	struct session	*s = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (ev & EV_TIMEOUT) {
		backend_failed(s, s->be.state == BE_CONNECT &&
		    !backend_connected(fd) ? "connect timed out" :
		    s->be.state == BE_TLS ? "TLS failed: no handshake in time" :
		    "no answer in time");
		return;
	}
	if (s->be.state == BE_CONNECT && s->be.tlsmode != BE_TLS_PORT) {
		s->be.state = BE_GREETING;
		backend_read(s);
		return;
	}
	if (s->be.state == BE_CONNECT) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			backend_next_address(s, strerror(err));
			return;
		}
		if (s->be.tlsmode == BE_TLS_PORT) {
			(void)backend_tls_begin(s);
			return;
		}
		s->be.state = BE_GREETING;
		backend_wait(s, EV_READ);
		return;
	}
	backend_read(s);
}
