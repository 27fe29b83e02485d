/*
 * The LDAP connection of a service section: connect with failover over
 * the LdapUrl servers and backoff, StartTLS and the bind, the searches
 * in flight matched by msgid, and retirement after a reload.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldap.h>
#include <openldap.h>

#include "escape.h"
#include "ldapd.h"
#include "addr.h"
#include "log.h"

#define SEARCH_SIZELIMIT	2	/* two entries prove ambiguity */
#define LOG_TEXT_BYTES		1024

enum send_result { SEND_OK, SEND_BUSY, SEND_DOWN, SEND_DROPPED };

/* Not _STATIC: libbsd's tree.h leaves __unused undefined. */
RB_GENERATE(lookup_tree, lookup, node, lookup_cmp)

static void	conn_connect(struct ldap_conn *);
static void	conn_connect_addr(struct ldap_conn *);
static void	conn_send_queued(struct ldap_conn *);
static void	conn_starttls_done(struct ldap_conn *, LDAPMessage *);

int
lookup_cmp(struct lookup *a, struct lookup *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

static void
conn_fail_queue(struct ldap_conn *c, const char *why)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&c->queue)) != NULL) {
		lookup_detach(lk, 0);
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%s", why);
	}
}

/* Close the socket; searches in flight fail with why. */
static void
conn_close(struct ldap_conn *c, const char *why)
{
	struct lookup	*lk;

	resolve_cancel(c->res);
	c->res = NULL;
	if (c->cev != NULL)
		event_free(c->cev);
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	c->cev = c->rev = c->wev = NULL;
	evtimer_del(c->timer);
	while ((lk = RB_MIN(lookup_tree, &c->inflight)) != NULL) {
		lookup_detach(lk, 0);
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%s", why);
	}
	if (c->ld != NULL)
		(void)ldap_unbind_ext(c->ld, NULL, NULL);	/* closes fd */
	else if (c->fd != -1)
		close(c->fd);
	c->ld = NULL;
	c->fd = -1;
	c->state = CS_DOWN;
}

/*
 * The attempt on the current URL failed: try the next URL of the list at
 * once, or, when every URL failed in this round, wait (1 s doubling to
 * 16 s) and fail what is waiting.
 */
static void
conn_attempt_failed(struct ldap_conn *c, const char *fmt, ...)
{
	char		why[LDAPD_DETAIL_BYTES];
	const char	*label = c->urls[c->cur].label;
	va_list		ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_close(c, why);
	c->cur = (c->cur + 1) % c->nurls;
	if (++c->failed < c->nurls) {
		log_svc(c->svc, LOG_WARNING, "%s %s; trying %s", label, why,
		    c->urls[c->cur].label);
		conn_connect(c);
		return;
	}
	c->failed = 0;
	(void)snprintf(c->lasterr, sizeof(c->lasterr), "%s %s", label, why);
	mono_now(&c->next_try);
	c->next_try.tv_sec += c->backoff_sec;
	log_svc(c->svc, LOG_WARNING, "%s; next attempt in %d s", c->lasterr,
	    c->backoff_sec);
	c->backoff_sec *= 2;
	if (c->backoff_sec > LDAPD_BACKOFF_MAX_SEC)
		c->backoff_sec = LDAPD_BACKOFF_MAX_SEC;
	conn_fail_queue(c, c->lasterr);
}

/*
 * The searches in flight on a session that broke go back to the head of
 * the queue, once each: a search changes nothing, so the next server (or
 * the same one, back) may answer it, and a login in flight when a replica
 * dies is not refused. A search sent twice already, or one that has
 * entries already (they would count twice), fails with the rest.
 */
static void
conn_requeue_inflight(struct ldap_conn *c)
{
	struct lookup	*lk, *next;

	for (lk = RB_MAX(lookup_tree, &c->inflight); lk != NULL; lk = next) {
		next = RB_PREV(lookup_tree, &c->inflight, lk);
		if (lk->resent || lk->nentries > 0)
			continue;
		lookup_detach(lk, 0);
		lk->resent = 1;
		lk->conn = c;
		lk->state = LK_QUEUED;
		TAILQ_INSERT_HEAD(&c->queue, lk, qentry);
		c->nqueued++;
	}
}

/*
 * An established session broke: searches in flight are sent again once
 * (conn_requeue_inflight), no penalty.
 */
static void
conn_lost(struct ldap_conn *c, const char *why)
{
	char	text[LDAPD_DETAIL_BYTES];

	(void)snprintf(text, sizeof(text), "connection to %s lost: %s",
	    c->urls[c->cur].label, why);
	log_svc(c->svc, LOG_WARNING, "%s", text);
	conn_requeue_inflight(c);
	conn_close(c, text);
	mono_now(&c->next_try);
	if (c->nqueued > 0)
		conn_connect(c);
}

/*
 * A search timed out, and the server has sent nothing for as long: it
 * hangs (stopped, deadlocked) with its socket open, and would fail every
 * login until it woke. With another URL to go to, that counts as a
 * failed attempt: the next server is tried, and the searches still in
 * flight go to it once (conn_requeue_inflight), as when a replica dies.
 * A lone server stays: a new session would find it no better.
 */
void
conn_silent(struct ldap_conn *c)
{
	long long	ms;
	size_t		i, usable = 0;

	/* Another URL mmp-ldapd can use: not an ldapi:// one, say. */
	for (i = 0; i < c->nurls; i++)
		usable += c->urls[i].why[0] == '\0';
	if (c->state != CS_UP || usable < 2 ||
	    (ms = mono_ms_since(&c->last_rx)) < c->timeout_sec * 1000LL)
		return;
	conn_requeue_inflight(c);
	conn_attempt_failed(c, "unreachable: no answer for %lld s",
	    ms / 1000);
}

static void
conn_broken(struct ldap_conn *c, const char *why)
{
	if (c->state == CS_UP)
		conn_lost(c, why);
	else
		conn_attempt_failed(c, "unreachable: %s", why);
}

static void
conn_bind_done(struct ldap_conn *c, LDAPMessage *msg)
{
	char	*diag = NULL, d[LOG_TEXT_BYTES], who[LOG_TEXT_BYTES + 16];
	int	 code = LDAP_OTHER, rc;

	rc = ldap_parse_result(c->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
	    strlen(diag) : 0, d, sizeof(d));
	ldap_memfree(diag);
	if (c->binddn[0] == '\0')
		(void)strlcpy(who, "anonymously", sizeof(who));
	else {
		(void)strlcpy(who, "as ", sizeof(who));
		(void)escape_log(c->binddn, strlen(c->binddn), who + 3,
		    sizeof(who) - 3);
	}
	if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS) {
		conn_attempt_failed(c, "refused the bind %s: %s%s%s", who,
		    ldap_err2string(rc != LDAP_SUCCESS ? rc : code),
		    d[0] != '\0' ? ": " : "", d);
		return;
	}
	evtimer_del(c->timer);
	c->state = CS_UP;
	mono_now(&c->last_rx);
	c->failed = 0;
	c->backoff_sec = LDAPD_BACKOFF_MIN_SEC;
	c->lasterr[0] = '\0';
	log_svc(c->svc, LOG_INFO, "%s: connected to %s, bound %s",
	    c->urls[c->cur].label, c->addrs.a[c->curaddr], who);
	conn_send_queued(c);
}

static void
conn_message(struct ldap_conn *c, LDAPMessage *msg)
{
	struct lookup		 key, *lk;
	enum lookup_state	 state;
	int			 type = ldap_msgtype(msg);

	key.msgid = ldap_msgid(msg);
	if (c->state == CS_STARTTLS) {
		if (key.msgid == c->bind_msgid && type == LDAP_RES_EXTENDED)
			conn_starttls_done(c, msg);
		return;
	}
	if (c->state == CS_BINDING) {
		if (key.msgid == c->bind_msgid && type == LDAP_RES_BIND)
			conn_bind_done(c, msg);
		return;
	}
	if (key.msgid == 0) {
		/* Unsolicited: a notice of disconnection (RFC 4511 4.4.1). */
		if (type == LDAP_RES_EXTENDED)
			conn_lost(c, "the server announced a disconnection");
		return;
	}
	if ((lk = RB_FIND(lookup_tree, &c->inflight, &key)) == NULL)
		return;		/* abandoned after a timeout */
	state = lk->state;
	if (type == LDAP_RES_SEARCH_ENTRY && state == LK_DOMAIN)
		domain_entry(c, lk, msg);
	else if (type == LDAP_RES_SEARCH_ENTRY)
		lookup_entry(c, lk, msg);
	else if (type == LDAP_RES_SEARCH_RESULT) {
		lookup_detach(lk, 0);
		if (state == LK_DOMAIN)
			domain_result(c, lk, msg);
		else
			lookup_result(c, lk, msg);
	}
}

/* Everything libldap has for us now, a bounded number per pass. */
static void
conn_process(struct ldap_conn *c)
{
	struct timeval	 zero;
	LDAPMessage	*msg;
	int		 i, rc, err;

	for (i = 0; i < LDAPD_RESULTS_PER_PASS; i++) {
		if (c->ld == NULL)
			return;
		zero.tv_sec = zero.tv_usec = 0;
		msg = NULL;
		rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero,
		    &msg);
		if (rc == 0 && msg == NULL)
			return;
		/*
		 * A message whose type is the tag 0 (no LDAP operation's)
		 * comes back as 0 too, with msg set: not ours to act on,
		 * but ours to free (regress/fuzz: ldapresult found it).
		 */
		if (rc == 0) {
			ldap_msgfree(msg);
			continue;
		}
		if (rc == -1) {
			err = LDAP_SERVER_DOWN;
			(void)ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE,
			    &err);
			conn_broken(c, ldap_err2string(err));
			return;
		}
		mono_now(&c->last_rx);
		conn_message(c, msg);
		ldap_msgfree(msg);
	}
	if (c->rev != NULL)
		event_active(c->rev, EV_READ, 0);
}

static void
conn_read_cb(int fd, short events, void *arg)
{
	struct ldap_conn	*c = arg;

	(void)fd;
	(void)events;
	conn_process(c);
	conn_send_queued(c);
	conn_maybe_retire(c);
}

static void
conn_timer_cb(int fd, short events, void *arg)
{
	struct ldap_conn	*c = arg;

	(void)fd;
	(void)events;
	if (c->state == CS_BINDING || c->state == CS_STARTTLS)
		c->env->bind_timeouts[c->svc]++;
	if (c->state == CS_BINDING)
		conn_attempt_failed(c, "unreachable: no answer to the bind "
		    "within %d s", c->timeout_sec);
	else if (c->state == CS_STARTTLS)
		conn_attempt_failed(c, "unreachable: no answer to StartTLS "
		    "within %d s", c->timeout_sec);
	conn_maybe_retire(c);
}

/*
 * No LDAP message over LDAPD_PDU_MAX_BYTES: libldap would allocate what
 * a message's BER length says before a byte of it arrives (2 GB for
 * five bytes from a hostile directory; regress/fuzz ldapresult found it).
 * Over the bound, the read fails and the session is lost.
 */
void
conn_limit_incoming(LDAP *ld)
{
	Sockbuf		*sb = NULL;
	ber_len_t	 max = LDAPD_PDU_MAX_BYTES;

	if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS ||
	    sb == NULL ||
	    ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max) != 1)
		log_warnx("LDAP: cannot bound the size of messages");
}

static void
conn_set_options(struct ldap_conn *c)
{
	struct timeval	tv;
	int		v3 = LDAP_VERSION3;

	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	(void)ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	(void)ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	(void)ldap_set_option(c->ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	(void)ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	(void)ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &tv);
	conn_limit_incoming(c->ld);
}

/* Send the bind; its answer arrives in conn_message. */
static void
conn_send_bind(struct ldap_conn *c)
{
	struct berval	cred;
	struct timeval	tv;
	int		rc;

	cred.bv_val = c->bindpass;
	cred.bv_len = strlen(c->bindpass);
	rc = ldap_sasl_bind(c->ld, c->binddn, LDAP_SASL_SIMPLE, &cred, NULL,
	    NULL, &c->bind_msgid);
	if (rc != LDAP_SUCCESS) {
		conn_attempt_failed(c, "unreachable: bind not sent: %s",
		    ldap_err2string(rc));
		return;
	}
	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	evtimer_add(c->timer, &tv);
	c->state = CS_BINDING;
}

/* Send the StartTLS request (LdapStartTLS yes on an ldap:// URL). */
static void
conn_send_starttls(struct ldap_conn *c)
{
	struct timeval	tv;
	int		rc;

	if ((rc = ldap_start_tls(c->ld, NULL, NULL, &c->bind_msgid)) !=
	    LDAP_SUCCESS) {
		conn_attempt_failed(c, "unreachable: StartTLS not sent: %s",
		    ldap_err2string(rc));
		return;
	}
	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	evtimer_add(c->timer, &tv);
	c->state = CS_STARTTLS;
}

static void
conn_starttls_done(struct ldap_conn *c, LDAPMessage *msg)
{
	char	*diag = NULL, d[LOG_TEXT_BYTES];
	char	 why[LDAPD_DETAIL_BYTES];
	int	 code = LDAP_OTHER, rc;

	evtimer_del(c->timer);
	rc = ldap_parse_result(c->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
	    strlen(diag) : 0, d, sizeof(d));
	ldap_memfree(diag);
	if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS) {
		conn_attempt_failed(c, "refused StartTLS: %s%s%s",
		    ldap_err2string(rc != LDAP_SUCCESS ? rc : code),
		    d[0] != '\0' ? ": " : "", d);
		return;
	}
	if (ldaptls_handshake(c->env, c->svc, c->ld, c->fd, why,
	    sizeof(why)) == -1) {
		conn_attempt_failed(c, "unusable: StartTLS: %s", why);
		return;
	}
	conn_send_bind(c);
}

/*
 * TCP is up: hand the socket to libldap, TLS first for ldaps://, then
 * StartTLS (LdapStartTLS) or the bind, asynchronously.
 */
static void
conn_session(struct ldap_conn *c)
{
	const struct ldap_url	*u = &c->urls[c->cur];
	char			 url[LDAPD_URL_BYTES];
	char			 why[LDAPD_DETAIL_BYTES];
	int			 tls = u->tls || c->starttls;

	if (ldap_url_session(u, c->addrs.a[c->curaddr], tls, url,
	    sizeof(url)) == -1 ||
	    ldap_init_fd(c->fd, LDAP_PROTO_TCP, url, &c->ld) !=
	    LDAP_SUCCESS) {
		conn_attempt_failed(c, "unusable: cannot set up libldap");
		return;
	}
	conn_set_options(c);
	if (tls && ldaptls_prepare(c->env, c->svc, c->ld, why,
	    sizeof(why)) == -1) {
		conn_attempt_failed(c, "unusable: %s", why);
		return;
	}
	if (u->tls && ldaptls_handshake(c->env, c->svc, c->ld, c->fd, why,
	    sizeof(why)) == -1) {
		conn_attempt_failed(c, "unusable: %s", why);
		return;
	}
	c->rev = event_new(c->env->evb, c->fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	c->wev = event_new(c->env->evb, c->fd, EV_WRITE, conn_read_cb, c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL)) {
		conn_attempt_failed(c, "unusable: out of memory");
		return;
	}
	if (c->starttls && !u->tls)
		conn_send_starttls(c);
	else
		conn_send_bind(c);
}

static void
conn_connect_cb(int fd, short events, void *arg)
{
	struct ldap_conn	*c = arg;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	event_free(c->cev);
	c->cev = NULL;
	if (events & EV_TIMEOUT)
		(void)snprintf(c->lasterr, sizeof(c->lasterr), "connect to "
		    "%s timed out after %d s", c->addrs.a[c->curaddr],
		    c->timeout_sec);
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0)
		(void)snprintf(c->lasterr, sizeof(c->lasterr), "%s",
		    strerror(err != 0 ? err : errno));
	else {
		conn_session(c);
		conn_maybe_retire(c);
		return;
	}
	close(c->fd);
	c->fd = -1;
	c->curaddr++;
	conn_connect_addr(c);
	conn_maybe_retire(c);
}

/* Non-blocking connect to the next address of the URL's host. */
static int
conn_connect_one(struct ldap_conn *c, const char *addr)
{
	struct sockaddr_storage	ss;
	struct timeval		tv;
	socklen_t		len;

	if (addr_sockaddr(addr, c->urls[c->cur].port, &ss, &len) == -1) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if ((c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&ss, len) == 0) {
		conn_session(c);
		return 0;
	}
	if (errno != EINPROGRESS)
		return -1;
	if ((c->cev = event_new(c->env->evb, c->fd, EV_WRITE,
	    conn_connect_cb, c)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	event_add(c->cev, &tv);
	c->state = CS_CONNECTING;
	return 0;
}

static void
conn_connect_addr(struct ldap_conn *c)
{
	for (; c->curaddr < c->addrs.n; c->curaddr++) {
		if (conn_connect_one(c, c->addrs.a[c->curaddr]) == 0)
			return;
		(void)snprintf(c->lasterr, sizeof(c->lasterr), "%s",
		    strerror(errno));
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
	}
	conn_attempt_failed(c, "unreachable: %s", c->lasterr);
}

static void
conn_resolved(void *arg, const struct addrlist *al, const char *err)
{
	struct ldap_conn	*c = arg;
	char			 host[LOG_TEXT_BYTES];

	c->res = NULL;
	if (al == NULL) {
		(void)escape_log(c->urls[c->cur].host,
		    strlen(c->urls[c->cur].host), host, sizeof(host));
		conn_attempt_failed(c, "unreachable: %s does not resolve: %s",
		    host, err);
	} else {
		c->addrs = *al;
		c->curaddr = 0;
		conn_connect_addr(c);
	}
	conn_maybe_retire(c);
}

static void
conn_connect(struct ldap_conn *c)
{
	struct ldap_url	*u = &c->urls[c->cur];
	char		 err[LDAPD_DETAIL_BYTES];
	int		 r;

	if (u->why[0] != '\0') {
		conn_attempt_failed(c, "%s", u->why);
		return;
	}
	c->state = CS_RESOLVING;
	r = resolve_start(c->env, u->host, &c->addrs, err, sizeof(err),
	    conn_resolved, c, &c->res);
	if (r == 1) {
		c->curaddr = 0;
		conn_connect_addr(c);
	} else if (r == -1)
		conn_attempt_failed(c, "unreachable: %s does not resolve: %s",
		    u->host, err);
}

void
conn_start(struct ldap_conn *c)
{
	if (c != NULL && c->state == CS_DOWN)
		conn_connect(c);
}

/* Searches: sent on the session, or queued until it is up. */

/*
 * What lk's search asks for: a domain entry's (domain.c), a certificate's,
 * a CRAM's (userPassword) or a user's attributes, a user's with the
 * %A[attr] names of its replay format added (into buf).
 */
static char **
conn_attrs(struct ldap_conn *c, struct lookup *lk, char **buf)
{
	char	**base;
	size_t	  n, i;

	if (domain_pending(lk))
		return domain_attrs();
	if (lk->subject != NULL)
		return c->certattrs;
	base = lk->cram != CRAM_NONE ? c->cramattrs : c->userattrs;
	if (lk->rattrs[0] == NULL)
		return base;
	for (n = 0; base[n] != NULL; n++)
		buf[n] = base[n];
	for (i = 0; lk->rattrs[i] != NULL; i++)
		buf[n++] = lk->rattrs[i];
	buf[n] = NULL;
	return buf;
}

static enum send_result
lookup_send(struct ldap_conn *c, struct lookup *lk)
{
	const struct ldap_url	*u = &c->urls[c->cur];
	struct timeval		 tv;
	char			 f[LOG_TEXT_BYTES];
	char			*attrs[LDAPD_ATTRS_MAX + LDAPD_NSTATUS_ATTRS +
				    LDAPD_REPLAY_ATTRS_MAX + 2];
	int			 rc, msgid, scope = u->scope;

	/*
	 * The domain tree and a hosted domain's users are searched whole:
	 * LdapUrl's scope is for LdapUrl's base.
	 */
	if (lk->dom != NULL)
		scope = LDAP_SCOPE_SUBTREE;
	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	rc = ldap_search_ext(c->ld, lookup_base(lk, u), scope, lk->filter,
	    conn_attrs(c, lk, attrs), 0, NULL, NULL, &tv, SEARCH_SIZELIMIT,
	    &msgid);
	if (rc == LDAP_BUSY)
		return SEND_BUSY;
	if (rc == LDAP_SERVER_DOWN)
		return SEND_DOWN;
	lookup_detach(lk, 0);
	if (rc != LDAP_SUCCESS) {
		(void)escape_log(lk->filter, strlen(lk->filter), f, sizeof(f));
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "search for %s at %s "
		    "not sent: %s", f, u->label, ldap_err2string(rc));
		return SEND_DROPPED;
	}
	lk->conn = c;
	lk->state = domain_pending(lk) ? LK_DOMAIN : LK_SEARCHING;
	lk->msgid = msgid;
	if (RB_INSERT(lookup_tree, &c->inflight, lk) != NULL) {
		lk->conn = NULL;
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "libldap reused "
		    "message id %d", msgid);
		return SEND_DROPPED;
	}
	c->ninflight++;
	return SEND_OK;
}

/* Send what waits, up to the in-flight window. */
static void
conn_send_queued(struct ldap_conn *c)
{
	struct lookup	*lk;

	while (c->state == CS_UP && c->ninflight < LDAPD_INFLIGHT_MAX &&
	    (lk = TAILQ_FIRST(&c->queue)) != NULL) {
		switch (lookup_send(c, lk)) {
		case SEND_BUSY:
			/* libldap holds a partial write: wait for room. */
			event_add(c->wev, NULL);
			return;
		case SEND_DOWN:
			conn_lost(c, ldap_err2string(LDAP_SERVER_DOWN));
			return;
		default:
			break;
		}
	}
}

void
conn_submit(struct ldap_conn *c, struct lookup *lk)
{
	long long	wait_ms;

	if (c->nqueued >= LDAPD_QUEUE_MAX) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "more than %d lookups "
		    "wait for %s", LDAPD_QUEUE_MAX, c->urls[c->cur].label);
		return;
	}
	if (c->state == CS_DOWN &&
	    (wait_ms = -mono_ms_since(&c->next_try)) > 0) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "LDAP unavailable: "
		    "%s; next attempt in %lld s", c->lasterr,
		    (wait_ms + 999) / 1000);
		return;
	}
	lk->conn = c;
	lk->state = LK_QUEUED;
	TAILQ_INSERT_TAIL(&c->queue, lk, qentry);
	c->nqueued++;
	if (c->state == CS_DOWN)
		conn_connect(c);
	else
		conn_send_queued(c);
}

/* A connection made, compared, replaced and freed (reloads). */

/* Blank-separated words of text (changed in place), at most max. */
static size_t
conn_split(char *text, char **v, size_t max, int *more)
{
	char	*p = text, *tok;
	size_t	 n = 0;

	*more = 0;
	while ((tok = strsep(&p, " \t")) != NULL) {
		if (*tok == '\0')
			continue;
		if (n == max) {
			*more = 1;
			break;
		}
		v[n++] = tok;
	}
	v[n] = NULL;
	return n;
}

static int
conn_urls(struct ldap_conn *c)
{
	char	*copy, *v[LDAPD_URLS_MAX + 1];
	size_t	 n, i;
	int	 more;

	if ((copy = strdup(c->urltext)) == NULL)
		return -1;
	n = conn_split(copy, v, LDAPD_URLS_MAX, &more);
	if (more)
		log_svc(c->svc, LOG_WARNING, "%s LdapUrl: only the first %d "
		    "URLs are used", svc_name(c->svc), LDAPD_URLS_MAX);
	if (n == 0 || (c->urls = calloc(n, sizeof(*c->urls))) == NULL) {
		free(copy);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ldap_url_split(v[i], &c->urls[i]) == -1)
			log_svc(c->svc, LOG_WARNING, "%s LdapUrl %s %s",
			    svc_name(c->svc), c->urls[i].label,
			    c->urls[i].why);
	c->nurls = n;
	free(copy);
	return 0;
}

static int
conn_settings(struct ldap_conn *c, const struct mmp_conf *conf, int svc,
    int vd)
{
	static char	 uid_attr[] = LDAPD_UID_ATTR;
	static char	 password_attr[] = LDAPD_PASSWORD_ATTR;
	static const char *status_attrs[] = LDAPD_STATUS_ATTRS;
	const char	*attrs = conf_vstr(conf, svc, vd, CK_MAILHOSTATTRS);
	size_t		 n, i;
	int		 more;

	c->urltext = strdup(conf_vstr(conf, svc, vd, CK_LDAPURL));
	c->binddn = strdup(conf_vstr(conf, svc, vd, CK_BINDDN));
	c->bindpass = strdup(conf_vstr(conf, svc, vd, CK_BINDPASS));
	c->attrtext = strdup(attrs != NULL ? attrs : "mailHost");
	c->timeout_sec = (int)conf_num(conf, svc, CK_LDAPTIMEOUT);
	c->starttls = conf_num(conf, svc, CK_LDAPSTARTTLS) != 0;
	if (c->timeout_sec <= 0)
		c->timeout_sec = 10;
	if (c->urltext == NULL || c->binddn == NULL || c->bindpass == NULL ||
	    c->attrtext == NULL)
		return -1;
	/* attrs point into attrbuf, a second copy of the list */
	if ((c->attrbuf = strdup(c->attrtext)) == NULL ||
	    conn_split(c->attrbuf, c->attrs, LDAPD_ATTRS_MAX, &more) == 0)
		return -1;
	if (more)
		log_svc(svc, LOG_WARNING, "%s MailHostAttrs: only the first "
		    "%d attributes are used", svc_name(svc), LDAPD_ATTRS_MAX);
	/*
	 * Every search asks for the status attributes, a certificate's for
	 * the uid as well, a CRAM's for userPassword. libldap takes
	 * char **, never writes through it.
	 */
	for (n = 0; c->attrs[n] != NULL; n++)
		c->userattrs[n] = c->certattrs[n] = c->cramattrs[n] =
		    c->attrs[n];
	for (i = 0; i < LDAPD_NSTATUS_ATTRS; i++, n++)
		c->userattrs[n] = c->certattrs[n] = c->cramattrs[n] =
		    (char *)status_attrs[i];
	c->userattrs[n] = NULL;
	/* userPassword only for CRAMs: no secret travels for the rest. */
	c->cramattrs[n] = password_attr;
	c->certattrs[n++] = uid_attr;
	c->certattrs[n] = c->cramattrs[n] = NULL;
	return conn_urls(c);
}

/* Does virtual domain vd set what makes a connection of its own? */
static int
conn_vd_own(const struct mmp_conf *conf, int svc, int vd)
{
	return conf_voverrides(conf, svc, vd, CK_LDAPURL) ||
	    conf_voverrides(conf, svc, vd, CK_BINDDN) ||
	    conf_voverrides(conf, svc, vd, CK_BINDPASS) ||
	    conf_voverrides(conf, svc, vd, CK_MAILHOSTATTRS);
}

struct ldap_conn *
conn_for(struct ldapd *env, int svc, int vd)
{
	if (vd >= 0 && (size_t)vd < env->nvdconn[svc] &&
	    env->vdconn[svc][vd] != NULL)
		return env->vdconn[svc][vd];
	return env->conn[svc];
}

/*
 * The connection a section's configuration asks for (vd -1), or one of
 * its virtual domains'; NULL if none (a domain then uses the section's).
 */
struct ldap_conn *
conn_new(struct ldapd *env, const struct mmp_conf *conf, int svc, int vd)
{
	struct ldap_conn	*c;

	if (!conf_visset(conf, svc, vd, CK_LDAPURL) ||
	    (vd >= 0 && !conn_vd_own(conf, svc, vd)))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s", __func__);
	c->env = env;
	c->svc = svc;
	c->vd = vd;
	c->fd = -1;
	c->backoff_sec = LDAPD_BACKOFF_MIN_SEC;
	TAILQ_INIT(&c->queue);
	RB_INIT(&c->inflight);
	if ((c->timer = evtimer_new(env->evb, conn_timer_cb, c)) == NULL ||
	    conn_settings(c, conf, svc, vd) == -1)
		fatalx("%s LDAP connection settings: out of memory",
		    svc_name(svc));
	if (c->binddn[0] != '\0' && c->bindpass[0] == '\0')
		log_svc(svc, LOG_WARNING, "%s BindDN is set but BindPass is "
		    "empty: that bind is unauthenticated (RFC 4513 5.1.2)",
		    svc_name(svc));
	return c;
}

/* Same server list and bind: the old connection can stay. */
int
conn_same(const struct ldap_conn *a, const struct ldap_conn *b)
{
	return strcmp(a->urltext, b->urltext) == 0 &&
	    strcmp(a->binddn, b->binddn) == 0 &&
	    strcmp(a->bindpass, b->bindpass) == 0 &&
	    strcmp(a->attrtext, b->attrtext) == 0 &&
	    a->timeout_sec == b->timeout_sec &&
	    a->starttls == b->starttls;
}

void
conn_free(struct ldap_conn *c)
{
	size_t	i;

	if (c == NULL)
		return;
	conn_close(c, "LDAP connection closed");
	conn_fail_queue(c, "LDAP connection closed");
	event_free(c->timer);
	for (i = 0; i < c->nurls; i++)
		ldap_url_clear(&c->urls[i]);
	free(c->urls);
	free(c->urltext);
	free(c->binddn);
	freezero(c->bindpass, strlen(c->bindpass) + 1);
	free(c->attrtext);
	free(c->attrbuf);
	free(c);
}

void
conn_maybe_retire(struct ldap_conn *c)
{
	if (!c->retiring || c->ninflight > 0 || c->nqueued > 0)
		return;
	TAILQ_REMOVE(&c->env->retiring, c, entry);
	conn_free(c);
}

/*
 * A reload replaced old by new (NULL: the section has no LdapUrl now).
 * Waiting lookups move over; searches in flight finish on old, which is
 * freed when the last one is answered.
 */
void
conn_retire(struct ldap_conn *old, struct ldap_conn *new)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&old->queue)) != NULL) {
		lookup_detach(lk, 0);
		if (new != NULL)
			conn_submit(new, lk);
		else
			lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%s lookups "
			    "are no longer configured", svc_name(old->svc));
	}
	if (old->state != CS_UP)
		conn_close(old, "LDAP settings changed");
	old->retiring = 1;
	TAILQ_INSERT_TAIL(&old->env->retiring, old, entry);
	conn_maybe_retire(old);
}
