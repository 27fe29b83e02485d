/*
 * PreAuth: once a lookup has found the user's entry, bind as its DN with
 * the password the relay sent, on a small pool of connections of their
 * own (never the search connection, whose identity a bind would change),
 * one bind in flight per connection, several connections at once. The
 * outcome decides the answer (LOOKUP_OK or LOOKUP_BADPASS) and leaves one
 * audit line, which the parent dates and routes (IMSG_AUDIT, AuditLog).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldap.h>
#include <openldap.h>

#include "addr.h"
#include "escape.h"
#include "ldapd.h"
#include "log.h"

#define PREAUTH_CONNS_MAX	8	/* binds in flight, process-wide */
#define PREAUTH_LINE_BYTES	(MMP_USER_BYTES * 4 + 160)

enum pconn_state {
	PC_CONNECTING,
	PC_IDLE,
	PC_BINDING,
};

struct preauth_conn {
	TAILQ_ENTRY(preauth_conn)	 entry;
	struct ldapd			*env;
	enum pconn_state		 state;
	char				 target[LDAPD_URL_BYTES];
	int				 svc;	/* whose TLS settings */
	int				 ldaps;	/* TLS from the first byte */
	int				 starttls;	/* LdapStartTLS */
	int				 fd;
	LDAP				*ld;
	struct event			*ev;	/* connect done, then reads */
	int				 msgid;
	struct lookup			*lk;	/* its bind, or NULL */
};

struct preauth_pool {
	TAILQ_HEAD(, preauth_conn)	 conns;
	size_t				 nconns;
	TAILQ_HEAD(, lookup)		 waiting;
	struct event			*runev;	/* preauth_run, later */
};

static void	preauth_run(struct ldapd *);

static void
preauth_run_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	preauth_run(arg);
}

static struct preauth_pool *
preauth_pool(struct ldapd *env)
{
	struct preauth_pool	*pool;

	if (env->preauth != NULL)
		return env->preauth;
	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	if ((pool->runev = event_new(env->evb, -1, 0, preauth_run_cb,
	    env)) == NULL) {
		free(pool);
		return NULL;
	}
	TAILQ_INIT(&pool->conns);
	TAILQ_INIT(&pool->waiting);
	env->preauth = pool;
	return pool;
}

/* "192.0.2.7:50114" or "[2001:db8::1]:143" -> the address alone. */
static void
client_ip(const char *client, char *out, size_t outsz)
{
	const char	*end;
	size_t		 n;

	if (client[0] == '[' && (end = strchr(client, ']')) != NULL)
		client++;
	else if ((end = strrchr(client, ':')) == NULL ||
	    strchr(client, ':') != end)
		end = client + strlen(client);	/* no port, or bare IPv6 */
	n = (size_t)(end - client);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, client, n);
	out[n] = '\0';
}

/* The client's address of an audited lookup (PreAuth, CRAMs). */
void
preauth_client_ip(struct lookup *lk, const char *client)
{
	client_ip(client, lk->clientip, sizeof(lk->clientip));
}

/* Keep the password and client address of a PreAuth lookup. -1: no memory. */
int
preauth_set(struct lookup *lk, const char *pass, size_t passlen,
    const char *client)
{
	if ((lk->pass = malloc(passlen + 1)) == NULL)
		return -1;
	memcpy(lk->pass, pass, passlen);
	lk->pass[passlen] = '\0';
	lk->passlen = passlen;
	preauth_client_ip(lk, client);
	return 0;
}

void
preauth_wipe(struct lookup *lk)
{
	if (lk->pass != NULL)
		freezero(lk->pass, lk->passlen + 1);
	lk->pass = NULL;
	lk->passlen = 0;
}

/*
 * One audit line to the parent: "(sid 0xID) user NAME pre-authenticated
 * - IP" or "... pre-authentication failed: REASON - IP". The parent adds
 * the date and time. Also a CRAM's (cram.c): it pre-authenticates too.
 */
void
preauth_audit(struct lookup *lk, const char *reason)
{
	struct msg_writer	w;
	char			name[MMP_USER_BYTES * 4 + 1];
	char			line[PREAUTH_LINE_BYTES];
	/* The guide: the name includes the virtual domain, if any. */
	const char		*user = lk->name.from == LDOM_VIRTUAL ?
				    lk->name.canon : lk->user;

	(void)escape_log(user, strlen(user), name, sizeof(name));
	if (reason == NULL)
		(void)snprintf(line, sizeof(line), "(sid 0x%llx) user %s "
		    "pre-authenticated - %s", (unsigned long long)lk->sid,
		    name, lk->clientip);
	else
		(void)snprintf(line, sizeof(line), "(sid 0x%llx) user %s "
		    "pre-authentication failed: %s - %s",
		    (unsigned long long)lk->sid, name, reason, lk->clientip);
	msg_writer_init(&w);
	msg_add_u8(&w, (uint8_t)lk->svc);
	msg_add_str(&w, line);
	if (chan_compose_msg(lk->env->parent, IMSG_AUDIT, 0, -1, &w) == -1)
		log_warn(LOG_SID_FMT ": audit line not queued",
		    (unsigned long long)lk->sid);
}


/* The bind's (or the AuthCache's) outcome: audit, wipe, answer. */
static void
preauth_done(struct lookup *lk, int status, const char *reason,
    const char *detail)
{
	char	dn[MMP_STR_BYTES * 4 + 1];

	lk->pconn = NULL;
	if (!lk->authhit && lk->pass != NULL)
		authcache_bound(lk, status == LOOKUP_OK);
	lk->verified = status == LOOKUP_OK;
	preauth_audit(lk, status == LOOKUP_OK ? NULL : reason);
	preauth_wipe(lk);
	(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
	if (status == LOOKUP_OK)
		lookup_finish(lk, LOOKUP_OK, &lk->paddrs, "pre-authenticated "
		    "as %s", dn);
	else
		lookup_finish(lk, status, NULL, "pre-authentication as %s "
		    "failed: %s", dn, detail);
}

static void
pconn_free(struct preauth_conn *pc)
{
	struct preauth_pool	*pool = pc->env->preauth;

	TAILQ_REMOVE(&pool->conns, pc, entry);
	pool->nconns--;
	if (pc->ev != NULL)
		event_free(pc->ev);
	if (pc->ld != NULL)
		(void)ldap_unbind_ext(pc->ld, NULL, NULL);	/* closes fd */
	else if (pc->fd != -1)
		close(pc->fd);
	free(pc);
}

/*
 * The connection failed under its bind: the lookup fails like LDAP
 * trouble. The next waiting lookup is given a connection later, from the
 * event loop, not from here: pconn_new and pconn_bind fail into here from
 * inside preauth_run, and a call back into it would recurse once per
 * waiting lookup (thousands in a login storm while the server refuses
 * connections: the stack's end).
 */
static void
pconn_fail(struct preauth_conn *pc, const char *why)
{
	struct lookup	*lk = pc->lk;
	struct ldapd	*env = pc->env;
	char		 detail[LDAPD_DETAIL_BYTES];

	(void)snprintf(detail, sizeof(detail), "bind connection to %s: %s",
	    pc->target, why);
	pc->lk = NULL;
	pconn_free(pc);
	if (lk != NULL)
		preauth_done(lk, LOOKUP_TEMPFAIL, "directory unavailable",
		    detail);
	if (env->preauth != NULL)
		event_active(env->preauth->runev, EV_TIMEOUT, 0);
}

static void
pconn_result(struct preauth_conn *pc, LDAPMessage *msg)
{
	struct lookup	*lk = pc->lk;
	char		*diag = NULL, d[LDAPD_DETAIL_BYTES / 2];
	char		 detail[LDAPD_DETAIL_BYTES + LDAPD_URL_BYTES + 64];
	int		 code = LDAP_OTHER, rc;

	rc = ldap_parse_result(pc->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
	    strlen(diag) : 0, d, sizeof(d));
	ldap_memfree(diag);
	if (rc != LDAP_SUCCESS)
		code = rc;
	(void)snprintf(detail, sizeof(detail), "%s at %s%s%s",
	    ldap_err2string(code), pc->target, d[0] != '\0' ? ": " : "", d);
	/* Bound as the user or refused: ready for the next bind either way. */
	pc->lk = NULL;
	pc->state = PC_IDLE;
	if (lk == NULL)
		return;
	if (code == LDAP_SUCCESS)
		preauth_done(lk, LOOKUP_OK, NULL, detail);
	else if (code == LDAP_INVALID_CREDENTIALS ||
	    code == LDAP_INAPPROPRIATE_AUTH)
		preauth_done(lk, LOOKUP_BADPASS, "invalid credentials",
		    detail);
	else
		preauth_done(lk, LOOKUP_TEMPFAIL, "directory error", detail);
}

static void
pconn_read_cb(int fd, short events, void *arg)
{
	struct preauth_conn	*pc = arg;
	struct ldapd		*env = pc->env;
	struct timeval		 zero;
	LDAPMessage		*msg = NULL;
	int			 rc, err = LDAP_SERVER_DOWN;

	(void)fd;
	(void)events;
	zero.tv_sec = zero.tv_usec = 0;
	rc = ldap_result(pc->ld, LDAP_RES_ANY, LDAP_MSG_ALL, &zero, &msg);
	if (rc == 0)
		return;
	if (rc == -1) {
		(void)ldap_get_option(pc->ld, LDAP_OPT_RESULT_CODE, &err);
		pconn_fail(pc, ldap_err2string(err));
		return;
	}
	if (rc == LDAP_RES_BIND && pc->state == PC_BINDING &&
	    ldap_msgid(msg) == pc->msgid)
		pconn_result(pc, msg);
	else if (ldap_msgid(msg) == 0) {
		/* A notice of disconnection (RFC 4511 4.4.1). */
		ldap_msgfree(msg);
		pconn_fail(pc, "the server announced a disconnection");
		return;
	}
	ldap_msgfree(msg);
	preauth_run(env);
}

/* Send the bind of pc->lk. -1: failed (the caller fails the connection). */
static int
pconn_bind(struct preauth_conn *pc)
{
	struct berval	cred;
	int		rc;

	cred.bv_val = pc->lk->pass;
	cred.bv_len = pc->lk->passlen;
	rc = ldap_sasl_bind(pc->ld, pc->lk->dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, &pc->msgid);
	if (rc != LDAP_SUCCESS)
		return -1;
	pc->state = PC_BINDING;
	return 0;
}

/*
 * TLS as the search connection has it: ldaps:// at once, or StartTLS
 * (synchronous within LdapTimeout, like the ldaps handshake; see
 * ldaptls.c), before the bind carries a password. -1: why says.
 */
static int
pconn_secure(struct preauth_conn *pc, char *why, size_t whylen)
{
	struct berval	*data = NULL;
	char		*oid = NULL;
	int		 rc;

	if (!pc->ldaps && !pc->starttls)
		return 0;
	if (ldaptls_prepare(pc->env, pc->svc, pc->ld, why, whylen) == -1)
		return -1;
	if (pc->starttls) {
		rc = ldap_extended_operation_s(pc->ld, LDAP_EXOP_START_TLS,
		    NULL, NULL, NULL, &oid, &data);
		ldap_memfree(oid);
		ber_bvfree(data);
		if (rc != LDAP_SUCCESS) {
			(void)snprintf(why, whylen, "refused StartTLS: %s",
			    ldap_err2string(rc));
			return -1;
		}
	}
	return ldaptls_handshake(pc->env, pc->svc, pc->ld, pc->fd, why,
	    whylen);
}

static void
pconn_connect_cb(int fd, short events, void *arg)
{
	struct preauth_conn	*pc = arg;
	struct timeval		 tv;
	socklen_t		 len = sizeof(int);
	char			 why[LDAPD_DETAIL_BYTES];
	int			 err = 0, v3 = LDAP_VERSION3;

	event_free(pc->ev);
	pc->ev = NULL;
	if (events & EV_TIMEOUT) {
		pconn_fail(pc, "connect timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		pconn_fail(pc, strerror(err != 0 ? err : errno));
		return;
	}
	if (ldap_init_fd(pc->fd, LDAP_PROTO_TCP, pc->target, &pc->ld) !=
	    LDAP_SUCCESS) {
		pconn_fail(pc, "cannot set up libldap");
		return;
	}
	tv.tv_sec = pc->lk != NULL ? pc->lk->timeout_sec : 10;
	tv.tv_usec = 0;
	(void)ldap_set_option(pc->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	(void)ldap_set_option(pc->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	(void)ldap_set_option(pc->ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	(void)ldap_set_option(pc->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	(void)ldap_set_option(pc->ld, LDAP_OPT_TIMEOUT, &tv);
	conn_limit_incoming(pc->ld);
	if (pconn_secure(pc, why, sizeof(why)) == -1) {
		pconn_fail(pc, why);
		return;
	}
	if ((pc->ev = event_new(pc->env->evb, pc->fd, EV_READ | EV_PERSIST,
	    pconn_read_cb, pc)) == NULL || event_add(pc->ev, NULL) == -1) {
		pconn_fail(pc, "out of memory");
		return;
	}
	pc->state = PC_IDLE;
	if (pc->lk != NULL && pconn_bind(pc) == -1)
		pconn_fail(pc, "bind not sent");
}

/*
 * Where lk's bind goes: the server its search connection uses now, with
 * the same TLS (ldaps://, LdapStartTLS): a password never travels in
 * the clear where the searches do not.
 */
static int
preauth_target(struct lookup *lk, struct preauth_conn *want, char *addr,
    size_t addrsz, int *port)
{
	/* The servers of the lookup's virtual domain, if it has its own. */
	struct ldap_conn	*c = conn_for(lk->env, lk->svc, lookup_vd(lk));
	const struct ldap_url	*u;

	if (c == NULL || c->addrs.n == 0 || c->curaddr >= c->addrs.n)
		return -1;
	u = &c->urls[c->cur];
	want->svc = lk->svc;
	want->ldaps = u->tls;
	want->starttls = c->starttls && !u->tls;
	(void)strlcpy(addr, c->addrs.a[c->curaddr], addrsz);
	*port = u->port;
	return ldap_url_session(u, c->addrs.a[c->curaddr], u->tls ||
	    c->starttls, want->target, sizeof(want->target));
}

/* An idle connection made as want would be made. */
static int
pconn_same(const struct preauth_conn *pc, const struct preauth_conn *want)
{
	return pc->svc == want->svc && pc->ldaps == want->ldaps &&
	    pc->starttls == want->starttls &&
	    strcmp(pc->target, want->target) == 0;
}

/* A new bind connection for lk; its bind goes out once TCP is up. */
static int
pconn_new(struct ldapd *env, struct lookup *lk,
    const struct preauth_conn *want, const char *addr, int port)
{
	struct preauth_conn	*pc;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	socklen_t		 len;

	if (addr_sockaddr(addr, port, &ss, &len) == -1 ||
	    (pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	pc->env = env;
	pc->fd = -1;
	(void)strlcpy(pc->target, want->target, sizeof(pc->target));
	pc->svc = want->svc;
	pc->ldaps = want->ldaps;
	pc->starttls = want->starttls;
	TAILQ_INSERT_TAIL(&env->preauth->conns, pc, entry);
	env->preauth->nconns++;
	pc->lk = lk;
	lk->pconn = pc;
	pc->state = PC_CONNECTING;
	if ((pc->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || (connect(pc->fd,
	    (struct sockaddr *)&ss, len) == -1 && errno != EINPROGRESS)) {
		pconn_fail(pc, strerror(errno));
		return 0;
	}
	if ((pc->ev = event_new(env->evb, pc->fd, EV_WRITE, pconn_connect_cb,
	    pc)) == NULL) {
		pconn_fail(pc, "out of memory");
		return 0;
	}
	tv.tv_sec = lk->timeout_sec;
	tv.tv_usec = 0;
	event_add(pc->ev, &tv);
	return 0;
}

/* Give the first waiting lookup a connection, as long as there is one. */
static void
preauth_run(struct ldapd *env)
{
	struct preauth_pool	*pool = env->preauth;
	struct preauth_conn	*pc, *idle, want;
	struct lookup		*lk;
	char			 addr[INET6_ADDRSTRLEN];
	int			 port;

	while (pool != NULL && (lk = TAILQ_FIRST(&pool->waiting)) != NULL) {
		memset(&want, 0, sizeof(want));
		if (preauth_target(lk, &want, addr, sizeof(addr), &port) ==
		    -1) {
			TAILQ_REMOVE(&pool->waiting, lk, qentry);
			preauth_done(lk, LOOKUP_TEMPFAIL, "directory "
			    "unavailable", "no LDAP server to bind at");
			continue;
		}
		idle = NULL;
		TAILQ_FOREACH(pc, &pool->conns, entry)
			if (pc->state == PC_IDLE && pc->lk == NULL &&
			    (idle == NULL || pconn_same(pc, &want)))
				idle = pc;
		if (idle != NULL && pconn_same(idle, &want)) {
			TAILQ_REMOVE(&pool->waiting, lk, qentry);
			idle->lk = lk;
			lk->pconn = idle;
			if (pconn_bind(idle) == -1)
				pconn_fail(idle, "bind not sent");
			continue;
		}
		/* Full: an idle connection to a former server makes room. */
		if (pool->nconns >= PREAUTH_CONNS_MAX) {
			if (idle == NULL)
				return;
			pconn_free(idle);
		}
		TAILQ_REMOVE(&pool->waiting, lk, qentry);
		if (pconn_new(env, lk, &want, addr, port) == -1)
			preauth_done(lk, LOOKUP_TEMPFAIL, "internal error",
			    "cannot set up a bind connection");
	}
}

/* The audit line's reason of a lookup that failed before any check. */
const char *
preauth_reason(int status)
{
	return status == LOOKUP_NOUSER ? "no such user" :
	    status == LOOKUP_TEMPFAIL ? "directory unavailable" :
	    status == LOOKUP_DISABLED ? "account not active" :
	    "no usable entry";
}

/*
 * From lookup_finish, for a lookup with a password. 1: the bind has
 * taken the lookup over (it calls lookup_finish again without the
 * password); 0: finish it now (a failed lookup, audited here).
 */
int
preauth_intercept(struct lookup *lk, int status, const struct addrlist *al)
{
	struct preauth_pool	*pool;
	char			 dn[MMP_STR_BYTES * 4 + 1];

	if (status != LOOKUP_OK) {
		preauth_audit(lk, preauth_reason(status));
		preauth_wipe(lk);
		return 0;
	}
	/* An empty password binds unauthenticated, and that "succeeds". */
	if (lk->passlen == 0 || memchr(lk->pass, '\0', lk->passlen) != NULL ||
	    memchr(lk->pass, '\r', lk->passlen) != NULL ||
	    memchr(lk->pass, '\n', lk->passlen) != NULL) {
		preauth_audit(lk, "empty password or one with CR, LF or NUL");
		preauth_wipe(lk);
		(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
		lookup_finish(lk, LOOKUP_BADPASS, NULL, "pre-authentication "
		    "as %s refused before any bind: empty password or one "
		    "with CR, LF or NUL", dn);
		return 1;
	}
	/* The same password as at a bind within the TTL: no bind again. */
	if (authcache_match(lk)) {
		lk->paddrs = *al;
		lk->authhit = 1;
		preauth_done(lk, LOOKUP_OK, NULL, "from the AuthCache");
		return 1;
	}
	if ((pool = preauth_pool(lk->env)) == NULL) {
		preauth_audit(lk, "internal error");
		preauth_wipe(lk);
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return 1;
	}
	lk->paddrs = *al;
	lk->state = LK_BINDING;
	TAILQ_INSERT_TAIL(&pool->waiting, lk, qentry);
	preauth_run(lk->env);
	return 1;
}

/*
 * The lookup leaves (timeout, relay gone) during its bind: a bind in
 * flight cannot be taken back, so its connection goes.
 */
void
preauth_detach(struct lookup *lk)
{
	struct ldapd	*env = lk->env;

	if (lk->pconn != NULL) {
		lk->pconn->lk = NULL;
		pconn_free(lk->pconn);
		lk->pconn = NULL;
	} else if (env->preauth != NULL)
		TAILQ_REMOVE(&env->preauth->waiting, lk, qentry);
	/* Not now: the caller may be walking its relay's lookups. */
	if (env->preauth != NULL)
		event_active(env->preauth->runev, EV_TIMEOUT, 0);
}

/* At exit. */
void
preauth_free(struct ldapd *env)
{
	if (env->preauth == NULL)
		return;
	while (!TAILQ_EMPTY(&env->preauth->conns))
		pconn_free(TAILQ_FIRST(&env->preauth->conns));
	event_free(env->preauth->runev);
	free(env->preauth);
	env->preauth = NULL;
}
