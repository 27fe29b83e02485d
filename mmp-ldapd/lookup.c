/*
 * User lookups over asynchronous LDAP: one connection per service section
 * with many searches in flight matched by msgid, failover between the
 * LdapUrl servers, reconnection with backoff, and the answer to the relay.
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
#include "lookupmsg.h"

#define SEARCH_SIZELIMIT	2	/* two entries prove ambiguity */
#define LOG_NAME_BYTES		(MMP_USER_BYTES * 4 + 8)
#define LOG_TEXT_BYTES		1024

enum send_result { SEND_OK, SEND_BUSY, SEND_DOWN, SEND_DROPPED };

/* Not _STATIC: libbsd's tree.h leaves __unused undefined. */
RB_GENERATE(lookup_tree, lookup, node, lookup_cmp)

static void	conn_connect(struct ldap_conn *);
static void	conn_connect_addr(struct ldap_conn *);
static void	conn_send_queued(struct ldap_conn *);
static void	conn_maybe_retire(struct ldap_conn *);
static void	conn_starttls_done(struct ldap_conn *, LDAPMessage *);

int
lookup_cmp(struct lookup *a, struct lookup *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

static void
mono_now(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		fatal("clock_gettime");
}

static long long
mono_ms_since(const struct timespec *t0)
{
	struct timespec	now;

	mono_now(&now);
	return (now.tv_sec - t0->tv_sec) * 1000LL +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static const char *
svc_name(int svc)
{
	return svc == SVC_POP ? "POP" : "IMAP";
}

/* ---- SearchFormat and LDAP URLs ---------------------------------- */

/* Append one value, RFC 4515-escaped. */
static int
filter_put(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	int	r;

	if (*len >= outsz ||
	    (r = escape_filter_value(s, n, out + *len, outsz - *len)) < 0)
		return -1;
	*len += (size_t)r;
	return 0;
}

static const char *
filter_value(int code, const struct filter_vars *v, size_t *lenp)
{
	const char	*name = v->name != NULL ? v->name : "";
	const char	*at = strrchr(name, '@'), *s;

	switch (code) {
	case 's':
		s = name;
		break;
	case 'U':
		*lenp = at != NULL ? (size_t)(at - name) : strlen(name);
		return name;
	case 'V':
		s = at != NULL ? at + 1 : "";
		break;
	case 'o':
		s = v->orig;
		break;
	case 'C':
		s = v->client;
		break;
	case 'S':
		s = v->local;
		break;
	case 'D':
		s = v->certdn;
		break;
	default:
		return NULL;
	}
	if (s == NULL)
		s = "";
	*lenp = strlen(s);
	return s;
}

/*
 * Fill SearchFormat: %s whole name, %U before the last '@', %V after it,
 * %o original name, %C client address, %S local address, %D certificate
 * subject, %% '%'. Every value is RFC 4515-escaped; the template itself
 * was checked by the configuration parser. Length or -1 with err.
 */
int
lookup_filter_expand(const char *fmt, const struct filter_vars *v, char *out,
    size_t outsz, char *err, size_t errlen)
{
	const char	*p, *val;
	size_t		 len = 0, n;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (p = fmt; *p != '\0'; p++) {
		if (*p == '%' && p[1] != '%') {
			if ((val = filter_value(*++p, v, &n)) == NULL) {
				(void)snprintf(err, errlen, "SearchFormat has "
				    "an unknown %% code");
				return -1;
			}
			if (filter_put(out, outsz, &len, val, n) == -1)
				goto toolong;
			continue;
		}
		if (*p == '%')
			p++;
		if (len + 1 >= outsz)
			goto toolong;
		out[len++] = *p;
		out[len] = '\0';
	}
	return (int)len;
 toolong:
	(void)snprintf(err, errlen, "filter longer than %zu bytes", outsz - 1);
	out[0] = '\0';
	return -1;
}

/*
 * ldap_url_parse turns a missing scope into base (RFC 4516); LdapUrl
 * means subtree then. Is there a scope field: dn?attrs?SCOPE?...
 */
static int
ldap_url_scope_given(const char *url)
{
	const char	*p;

	if ((p = strstr(url, "://")) == NULL ||
	    (p = strchr(p + 3, '?')) == NULL ||
	    (p = strchr(p + 1, '?')) == NULL)
		return 0;
	return p[1] != '\0' && p[1] != '?';
}

static int
ldap_url_scope(const char *url, int scope)
{
	if (!ldap_url_scope_given(url))
		return LDAP_SCOPE_SUBTREE;
	switch (scope) {
	case LDAP_SCOPE_BASE:
	case LDAP_SCOPE_ONELEVEL:
	case LDAP_SCOPE_SUBTREE:
	case LDAP_SCOPE_SUBORDINATE:
		return scope;
	default:
		return LDAP_SCOPE_SUBTREE;
	}
}

static void
ldap_url_label(struct ldap_url *u)
{
	const char	*fmt;

	fmt = strchr(u->host, ':') != NULL ? "%s://[%s]:%d" : "%s://%s:%d";
	(void)snprintf(u->label, sizeof(u->label), fmt,
	    u->tls ? "ldaps" : "ldap", u->host, u->port);
}

static int
ldap_url_check(struct ldap_url *u, LDAPURLDesc *lud)
{
	struct addrlist	al;

	if (lud->lud_scheme != NULL && strcasecmp(lud->lud_scheme, "ldaps")
	    == 0)
		u->tls = 1;
	else if (lud->lud_scheme == NULL ||
	    strcasecmp(lud->lud_scheme, "ldap") != 0) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: only "
		    "ldap:// and ldaps:// URLs are supported");
		return -1;
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0' ||
	    strlcpy(u->host, lud->lud_host, sizeof(u->host)) >=
	    sizeof(u->host)) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: no "
		    "host or a host name too long");
		return -1;
	}
	if (!resolve_numeric(u->host, &al) && !resolve_valid_name(u->host)) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: the "
		    "host is not a host name or address");
		return -1;
	}
	if (lud->lud_crit_exts != 0) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: "
		    "critical extensions are not supported");
		return -1;
	}
	return 0;
}

/*
 * One LdapUrl: host, port (389), base DN and scope (subtree). A URL mmpd
 * cannot use keeps a label and why says so; -1 then.
 */
int
ldap_url_split(const char *url, struct ldap_url *u)
{
	LDAPURLDesc	*lud = NULL;
	char		 esc[LDAPD_URL_BYTES];
	int		 rv = -1;

	memset(u, 0, sizeof(*u));
	u->port = LDAP_PORT;
	u->scope = LDAP_SCOPE_SUBTREE;
	(void)escape_log(url, strlen(url), esc, sizeof(esc));
	(void)strlcpy(u->label, esc, sizeof(u->label));
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS || lud == NULL) {
		(void)snprintf(u->why, sizeof(u->why), "is not a valid LDAP "
		    "URL");
		return -1;
	}
	if (ldap_url_check(u, lud) == 0) {
		if (u->tls)
			u->port = LDAPS_PORT;
		if (lud->lud_port > 0 && lud->lud_port <= 65535)
			u->port = lud->lud_port;
		u->scope = ldap_url_scope(url, lud->lud_scope);
		ldap_url_label(u);
		if ((u->base = strdup(lud->lud_dn != NULL ? lud->lud_dn : ""))
		    == NULL)
			(void)snprintf(u->why, sizeof(u->why), "out of memory");
		else
			rv = 0;
	}
	ldap_free_urldesc(lud);
	return rv;
}

void
ldap_url_clear(struct ldap_url *u)
{
	free(u->base);
	u->base = NULL;
}

/* The URL handed to libldap: the address we connected to, never a name. */
int
ldap_url_numeric(const struct ldap_url *u, const char *addr, char *out,
    size_t outsz)
{
	const char	*fmt;
	int		 n;

	fmt = strchr(addr, ':') != NULL ? "ldap://[%s]:%d" : "ldap://%s:%d";
	n = snprintf(out, outsz, fmt, addr, u->port);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/*
 * With TLS libldap checks the certificate against the URL's host, so it
 * gets the name as configured; the socket is connected already, libldap
 * never resolves it.
 */
int
ldap_url_session(const struct ldap_url *u, const char *addr, int tls,
    char *out, size_t outsz)
{
	struct ldap_url	named = *u;

	if (!tls)
		return ldap_url_numeric(u, addr, out, outsz);
	named.base = NULL;
	return ldap_url_numeric(&named, u->host, out, outsz);
}

/* ---- answers ------------------------------------------------------ */

static void
relay_close_later(struct relay *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	event_active(r->closeev, EV_TIMEOUT, 0);
}

/* The answer's fields; -1 if one does not fit (never sent cut). */
static int
answer_fill(struct lookup_answer *a, int status, const char *detail,
    const char *dn, const char *mailhost, const char *user,
    const struct addrlist *al)
{
	size_t	i;

	a->status = (uint8_t)status;
	(void)strlcpy(a->detail, detail, sizeof(a->detail));
	if (strlcpy(a->dn, dn, sizeof(a->dn)) >= sizeof(a->dn) ||
	    strlcpy(a->mailhost, mailhost, sizeof(a->mailhost)) >=
	    sizeof(a->mailhost) ||
	    strlcpy(a->replay, user, sizeof(a->replay)) >= sizeof(a->replay))
		return -1;
	a->naddr = al != NULL && al->n <= MMP_ADDRS_MAX ? (uint8_t)al->n : 0;
	for (i = 0; i < a->naddr; i++)
		if (strlcpy(a->addrs[i], al->a[i], sizeof(a->addrs[i])) >=
		    sizeof(a->addrs[i]))
			return -1;
	return 0;
}

static void
answer_compose(struct relay *r, uint64_t reqid, int status,
    const char *detail, const char *dn, const char *mailhost,
    const char *user, const struct addrlist *al)
{
	struct lookup_answer	a;
	struct msg_writer	w;

	if (r == NULL || r->closing)
		return;
	memset(&a, 0, sizeof(a));
	a.reqid = reqid;
	if (answer_fill(&a, status, detail, dn, mailhost, user, al) == -1) {
		memset(&a, 0, sizeof(a));
		a.reqid = reqid;
		(void)answer_fill(&a, LOOKUP_TEMPFAIL, "the answer does not "
		    "fit in a message", "", "", "", NULL);
	}
	msg_writer_init(&w);
	lookup_answer_write(&w, &a);
	if (chan_compose_msg(r->chan, IMSG_LOOKUP_RESULT, 0, -1, &w) == -1) {
		log_warn("relay %u: cannot queue an answer", r->idx);
		relay_close_later(r);
	} else if (chan_queued(r->chan) > LDAPD_RELAY_QUEUE_MAX) {
		log_warnx("relay %u leaves more than %d answers unread: "
		    "channel closed", r->idx, LDAPD_RELAY_QUEUE_MAX);
		relay_close_later(r);
	}
}

/*
 * Answer a request that never got a struct lookup. what names it for the
 * log, escaped: lookup "name" or certmap "subject".
 */
void
lookup_refuse(struct relay *r, uint64_t reqid, int svc, int status,
    const char *what, const char *detail)
{
	int	logsvc = svc == SVC_IMAP || svc == SVC_POP ? svc : LOG_SVC_MMP;

	log_svc(logsvc, LOG_NOTICE, "%s from relay %u: %s", what, r->idx,
	    detail);
	answer_compose(r, reqid, status, detail, "", "", "", NULL);
}

static void
lookup_reject(struct relay *r, uint64_t reqid, uint64_t sid, int svc,
    const char *user, size_t userlen, const char *detail)
{
	char	name[LOG_NAME_BYTES], what[LOG_SID_BYTES + LOG_NAME_BYTES + 16];

	(void)escape_log(user, userlen, name, sizeof(name));
	(void)snprintf(what, sizeof(what), LOG_SID_FMT ": lookup \"%s\"",
	    (unsigned long long)sid, name);
	lookup_refuse(r, reqid, svc, LOOKUP_TEMPFAIL, what, detail);
}

/*
 * How the log names a lookup: its session, then lookup "name" or certmap
 * "subject".
 */
static void
lookup_what(const struct lookup *lk, char *out, size_t outsz)
{
	char	name[LOG_TEXT_BYTES];

	if (lk->subject != NULL) {
		(void)escape_log(lk->subject, strlen(lk->subject), name,
		    sizeof(name));
		(void)snprintf(out, outsz, LOG_SID_FMT ": certmap \"%s\"",
		    (unsigned long long)lk->sid, name);
	} else {
		(void)escape_log(lk->user, strlen(lk->user), name,
		    sizeof(name));
		(void)snprintf(out, outsz, LOG_SID_FMT ": lookup \"%s\"",
		    (unsigned long long)lk->sid, name);
	}
}

/* The base searched: the certmap's, or the LdapUrl's. */
static const char *
lookup_base(const struct lookup *lk, const struct ldap_url *u)
{
	return lk->base != NULL ? lk->base : u->base;
}

static void
lookup_free(struct lookup *lk)
{
	struct ldapd	*env = lk->env;

	if (lk->relay != NULL)
		TAILQ_REMOVE(&lk->relay->lookups, lk, rentry);
	if (lk->timer != NULL)
		event_free(lk->timer);
	resolve_cancel(lk->res);
	free(lk->filter);
	ldap_memfree(lk->dn);
	free(lk->mailhost);
	free(lk->subject);
	free(lk->base);
	free(lk->uid);
	preauth_wipe(lk);
	free(lk);
	env->nlookups--;
	if (env->draining)
		event_active(env->drainev, EV_TIMEOUT, 0);
}

/* Take the lookup out of its connection (or resolver) in any state. */
static void
lookup_detach(struct lookup *lk, int abandon)
{
	struct ldap_conn	*c = lk->conn;

	switch (lk->state) {
	case LK_QUEUED:
		if (c != NULL) {
			TAILQ_REMOVE(&c->queue, lk, qentry);
			c->nqueued--;
		}
		break;
	case LK_SEARCHING:
		if (c != NULL) {
			RB_REMOVE(lookup_tree, &c->inflight, lk);
			c->ninflight--;
			if (abandon && c->ld != NULL)
				(void)ldap_abandon_ext(c->ld, lk->msgid, NULL,
				    NULL);
		}
		break;
	case LK_RESOLVING:
		resolve_cancel(lk->res);
		lk->res = NULL;
		break;
	case LK_BINDING:
		preauth_detach(lk);
		break;
	}
	lk->conn = NULL;
}

static void
addrs_text(const struct addrlist *al, char *out, size_t outsz)
{
	size_t	i;

	out[0] = '\0';
	for (i = 0; al != NULL && i < al->n; i++) {
		if (i > 0)
			(void)strlcat(out, ", ", outsz);
		(void)strlcat(out, al->a[i], outsz);
	}
}

static void
lookup_log_ok(struct lookup *lk, const struct addrlist *al, long long ms)
{
	char	what[LOG_SID_BYTES + LOG_TEXT_BYTES + 16];
	char	filter[LOG_TEXT_BYTES];
	char	dn[LOG_TEXT_BYTES], host[LOG_TEXT_BYTES], uid[LOG_NAME_BYTES];
	char	addrs[MMP_ADDRS_MAX * (INET6_ADDRSTRLEN + 2)];

	if (!log_wants(lk->svc, LOG_INFO))
		return;
	lookup_what(lk, what, sizeof(what));
	(void)escape_log(lk->filter, strlen(lk->filter), filter,
	    sizeof(filter));
	(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
	(void)escape_log(lk->mailhost, strlen(lk->mailhost), host,
	    sizeof(host));
	addrs_text(al, addrs, sizeof(addrs));
	uid[0] = '\0';
	if (lk->uid != NULL) {
		(void)strlcpy(uid, " uid ", sizeof(uid));
		(void)escape_log(lk->uid, strlen(lk->uid), uid + 5,
		    sizeof(uid) - 5);
	}
	log_svc(lk->svc, LOG_INFO, "%s (filter %s) -> dn %s%s mailHost %s "
	    "(%s) %lld ms", what, filter, dn, uid, host, addrs, ms);
}

/*
 * Answer the relay, log the outcome and free the lookup. The caller has
 * detached it. detail is for logs only: the relay never shows it.
 */
void
lookup_finish(struct lookup *lk, int status, const struct addrlist *al,
    const char *fmt, ...)
{
	char		detail[LDAPD_DETAIL_BYTES];
	char		what[LOG_SID_BYTES + LOG_TEXT_BYTES + 16];
	const char	*replay;
	va_list		ap;
	long long	ms = mono_ms_since(&lk->start);

	/* PreAuth: the bind decides (preauth.c), then finishes it again. */
	if (lk->pass != NULL && preauth_intercept(lk, status, al))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (status == LOOKUP_OK)
		lookup_log_ok(lk, al, ms);
	else if (log_wants(lk->svc, LOG_NOTICE)) {
		lookup_what(lk, what, sizeof(what));
		log_svc(lk->svc, LOG_NOTICE, "%s: %s", what, detail);
	}
	/* A certificate's user is the entry's uid, found or not. */
	replay = lk->subject == NULL ? lk->user :
	    lk->uid != NULL && status == LOOKUP_OK ? lk->uid : "";
	/* Only a found entry has a DN worth sending (and one that fits). */
	answer_compose(lk->relay, lk->reqid, status, detail,
	    status == LOOKUP_OK && lk->dn != NULL ? lk->dn : "",
	    lk->mailhost != NULL ? lk->mailhost : "", replay,
	    status == LOOKUP_OK ? al : NULL);
	lookup_free(lk);
}

/* ---- mailHost resolution ------------------------------------------ */

static void
lookup_resolved(void *arg, const struct addrlist *al, const char *err)
{
	struct lookup	*lk = arg;
	char		 host[LOG_TEXT_BYTES];

	lk->res = NULL;
	if (al != NULL) {
		lookup_finish(lk, LOOKUP_OK, al, "mailHost found in %lld ms",
		    mono_ms_since(&lk->start));
		return;
	}
	(void)escape_log(lk->mailhost, strlen(lk->mailhost), host,
	    sizeof(host));
	lookup_finish(lk, LOOKUP_NOADDR, NULL, "mailHost \"%s\" does not "
	    "resolve: %s", host, err);
}

static void
lookup_resolve(struct lookup *lk)
{
	struct addrlist	 al;
	char		 err[LDAPD_DETAIL_BYTES], host[LOG_TEXT_BYTES];
	char		 dn[LOG_TEXT_BYTES];
	int		 r;

	(void)escape_log(lk->mailhost, strlen(lk->mailhost), host,
	    sizeof(host));
	if (lk->badvalue) {
		(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
		lookup_finish(lk, LOOKUP_NOADDR, NULL, "mailHost \"%s\" of %s "
		    "is not a host name or address", host, dn);
		return;
	}
	r = resolve_start(lk->env, lk->mailhost, &al, err, sizeof(err),
	    lookup_resolved, lk, &lk->res);
	if (r == 1)
		lookup_finish(lk, LOOKUP_OK, &al, "mailHost found in %lld ms",
		    mono_ms_since(&lk->start));
	else if (r == 0)
		lk->state = LK_RESOLVING;
	else
		lookup_finish(lk, LOOKUP_NOADDR, NULL, "mailHost \"%s\" does "
		    "not resolve: %s", host, err);
}

/* ---- search results ----------------------------------------------- */

/* The first value of the first MailHostAttrs attribute present. */
static void
lookup_mailhost(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	struct berval	**vals;
	size_t		  i;

	for (i = 0; c->attrs[i] != NULL && lk->mailhost == NULL; i++) {
		if ((vals = ldap_get_values_len(c->ld, e, c->attrs[i])) ==
		    NULL)
			continue;
		if (vals[0] != NULL && vals[0]->bv_len > 0) {
			if (vals[0]->bv_len >= LDAPD_HOST_BYTES ||
			    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len)) {
				lk->badvalue = 1;
				lk->mailhost = strdup("");
			} else
				lk->mailhost = strndup(vals[0]->bv_val,
				    vals[0]->bv_len);
			if (lk->mailhost == NULL)
				log_warn(LOG_SID_FMT ": lookup: mailHost "
				    "value", (unsigned long long)lk->sid);
		}
		ldap_value_free_len(vals);
	}
}

/*
 * A certificate's entry: its one uid, the name the store admin acts for.
 * Several values would leave the choice to the order LDAP sends them in.
 */
static void
lookup_uid(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	struct berval	**vals;

	if ((vals = ldap_get_values_len(c->ld, e, LDAPD_UID_ATTR)) == NULL) {
		lk->uidbad = "no uid";
		return;
	}
	if (vals[0] == NULL || vals[1] != NULL)
		lk->uidbad = "not exactly one uid";
	else if (vals[0]->bv_len == 0 || vals[0]->bv_len > MMP_USER_BYTES ||
	    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) != NULL ||
	    memchr(vals[0]->bv_val, '\r', vals[0]->bv_len) != NULL ||
	    memchr(vals[0]->bv_val, '\n', vals[0]->bv_len) != NULL)
		lk->uidbad = "a uid that is empty, too long or has CR, LF "
		    "or NUL";
	else if ((lk->uid = strndup(vals[0]->bv_val, vals[0]->bv_len)) ==
	    NULL)
		lk->uidbad = "out of memory";
	ldap_value_free_len(vals);
}

/* Whether one status value lets the user in (case-insensitive). */
static int
lookup_status_ok(const struct berval *v)
{
	static const char	*ok[] = { "active", "overquota" };
	size_t			 i;

	if (v->bv_len == 0)
		return 1;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (v->bv_len == strlen(ok[i]) &&
		    strncasecmp(v->bv_val, ok[i], v->bv_len) == 0)
			return 1;
	return 0;
}

/*
 * The entry's account status: the first attribute with a value that does
 * not let the user in, as "mailUserStatus disabled", in lk->status.
 */
static void
lookup_status(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	static const char	*names[] = LDAPD_STATUS_ATTRS;
	struct berval		**vals;
	char			  v[LDAPD_STATUS_BYTES / 2];
	size_t			  i, j;

	for (i = 0; i < LDAPD_NSTATUS_ATTRS && lk->status[0] == '\0'; i++) {
		if ((vals = ldap_get_values_len(c->ld, e, names[i])) == NULL)
			continue;
		for (j = 0; vals[j] != NULL; j++) {
			if (lookup_status_ok(vals[j]))
				continue;
			(void)escape_log(vals[j]->bv_val, vals[j]->bv_len, v,
			    sizeof(v));
			(void)snprintf(lk->status, sizeof(lk->status),
			    "%s %s", names[i], v);
			break;
		}
		ldap_value_free_len(vals);
	}
}

static void
lookup_entry(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	if (++lk->nentries > 1)
		return;
	lk->dn = ldap_get_dn(c->ld, e);
	lookup_status(c, lk, e);
	lookup_mailhost(c, lk, e);
	if (lk->subject != NULL)
		lookup_uid(c, lk, e);
}

static void
lookup_found(struct ldap_conn *c, struct lookup *lk)
{
	char	dn[LOG_TEXT_BYTES];

	if (lk->dn == NULL || strlen(lk->dn) >= MMP_STR_BYTES) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "entry found at %s "
		    "has no usable DN", c->urls[c->cur].label);
		return;
	}
	/* Refused like a wrong password; the relay names the attribute. */
	if (lk->status[0] != '\0') {
		lookup_finish(lk, LOOKUP_DISABLED, NULL, "%s", lk->status);
		return;
	}
	if (lk->subject != NULL && lk->uid == NULL) {
		(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "entry %s has %s",
		    dn, lk->uidbad != NULL ? lk->uidbad : "no uid");
		return;
	}
	if (lk->mailhost == NULL) {
		(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
		lookup_finish(lk, LOOKUP_NOMAILHOST, NULL, "entry %s has none "
		    "of the MailHostAttrs (%s)", dn, c->attrtext);
		return;
	}
	lookup_resolve(lk);
}

/* A search is complete: decide, the caller has taken it off the tree. */
static void
lookup_result(struct ldap_conn *c, struct lookup *lk, LDAPMessage *msg)
{
	const struct ldap_url	*u = &c->urls[c->cur];
	char			*diag = NULL, f[LOG_TEXT_BYTES];
	char			 b[LOG_TEXT_BYTES], d[LOG_TEXT_BYTES];
	int			 code = LDAP_OTHER, rc;

	rc = ldap_parse_result(c->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	(void)escape_log(lk->filter, strlen(lk->filter), f, sizeof(f));
	(void)escape_log(lookup_base(lk, u), strlen(lookup_base(lk, u)), b,
	    sizeof(b));
	(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
	    strlen(diag) : 0, d, sizeof(d));
	ldap_memfree(diag);
	if (rc != LDAP_SUCCESS)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "unreadable search "
		    "result from %s: %s", u->label, ldap_err2string(rc));
	else if (lk->nentries > 1 ||
	    (lk->nentries == 1 && code == LDAP_SIZELIMIT_EXCEEDED))
		lookup_finish(lk, LOOKUP_AMBIGUOUS, NULL, "more than one "
		    "entry for %s under %s at %s", f, b, u->label);
	else if (lk->nentries == 0 && code == LDAP_SUCCESS)
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "no entry for %s under "
		    "%s at %s", f, b, u->label);
	else if (lk->nentries == 0 && code == LDAP_NO_SUCH_OBJECT)
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "no entry for %s: "
		    "search base %s does not exist at %s", f, b, u->label);
	else if (code != LDAP_SUCCESS)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "search for %s at %s "
		    "failed: %s%s%s", f, u->label, ldap_err2string(code),
		    d[0] != '\0' ? ": " : "", d);
	else
		lookup_found(c, lk);
}

/* ---- connections -------------------------------------------------- */

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

/* An established session broke: searches in flight fail, no penalty. */
static void
conn_lost(struct ldap_conn *c, const char *why)
{
	char	text[LDAPD_DETAIL_BYTES];

	(void)snprintf(text, sizeof(text), "connection to %s lost: %s",
	    c->urls[c->cur].label, why);
	log_svc(c->svc, LOG_WARNING, "%s", text);
	conn_close(c, text);
	mono_now(&c->next_try);
	if (c->nqueued > 0)
		conn_connect(c);
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
	struct lookup	 key, *lk;
	int		 type = ldap_msgtype(msg);

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
	if (type == LDAP_RES_SEARCH_ENTRY)
		lookup_entry(c, lk, msg);
	else if (type == LDAP_RES_SEARCH_RESULT) {
		lookup_detach(lk, 0);
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
		if (rc == 0)
			return;
		if (rc == -1) {
			err = LDAP_SERVER_DOWN;
			(void)ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE,
			    &err);
			conn_broken(c, ldap_err2string(err));
			return;
		}
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

/* ---- searches ------------------------------------------------------ */

static enum send_result
lookup_send(struct ldap_conn *c, struct lookup *lk)
{
	const struct ldap_url	*u = &c->urls[c->cur];
	struct timeval		 tv;
	char			 f[LOG_TEXT_BYTES];
	int			 rc, msgid;

	tv.tv_sec = c->timeout_sec;
	tv.tv_usec = 0;
	rc = ldap_search_ext(c->ld, lookup_base(lk, u), u->scope, lk->filter,
	    lk->subject != NULL ? c->certattrs : c->userattrs, 0, NULL, NULL,
	    &tv,
	    SEARCH_SIZELIMIT, &msgid);
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
	lk->state = LK_SEARCHING;
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

static void
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

/* ---- connection objects ------------------------------------------ */

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
conn_settings(struct ldap_conn *c, const struct mmp_conf *conf, int svc)
{
	static char	 uid_attr[] = LDAPD_UID_ATTR;
	static const char *status_attrs[] = LDAPD_STATUS_ATTRS;
	const char	*attrs = conf_str(conf, svc, CK_MAILHOSTATTRS);
	size_t		 n, i;
	int		 more;

	c->urltext = strdup(conf_str(conf, svc, CK_LDAPURL));
	c->binddn = strdup(conf_str(conf, svc, CK_BINDDN));
	c->bindpass = strdup(conf_str(conf, svc, CK_BINDPASS));
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
	 * the uid as well. libldap takes char **, never writes through it.
	 */
	for (n = 0; c->attrs[n] != NULL; n++)
		c->userattrs[n] = c->certattrs[n] = c->attrs[n];
	for (i = 0; i < LDAPD_NSTATUS_ATTRS; i++, n++)
		c->userattrs[n] = c->certattrs[n] = (char *)status_attrs[i];
	c->userattrs[n] = NULL;
	c->certattrs[n++] = uid_attr;
	c->certattrs[n] = NULL;
	return conn_urls(c);
}

/* The connection a section's configuration asks for; NULL if none. */
struct ldap_conn *
conn_new(struct ldapd *env, const struct mmp_conf *conf, int svc)
{
	struct ldap_conn	*c;

	if (!conf_isset(conf, svc, CK_LDAPURL))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s", __func__);
	c->env = env;
	c->svc = svc;
	c->fd = -1;
	c->backoff_sec = LDAPD_BACKOFF_MIN_SEC;
	TAILQ_INIT(&c->queue);
	RB_INIT(&c->inflight);
	if ((c->timer = evtimer_new(env->evb, conn_timer_cb, c)) == NULL ||
	    conn_settings(c, conf, svc) == -1)
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

static void
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

/* ---- lookups ------------------------------------------------------- */

static void
lookup_timer_cb(int fd, short events, void *arg)
{
	struct lookup		*lk = arg;
	struct ldap_conn	*c = lk->conn;
	char			 f[LOG_TEXT_BYTES], h[LOG_TEXT_BYTES];
	enum lookup_state	 state = lk->state;

	(void)fd;
	(void)events;
	if (state == LK_SEARCHING)
		lk->env->search_timeouts[lk->svc]++;
	lookup_detach(lk, 1);
	(void)escape_log(lk->filter, strlen(lk->filter), f, sizeof(f));
	if (state == LK_BINDING)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "pre-authentication "
		    "bind: no answer within %d s", lk->timeout_sec);
	else if (state == LK_RESOLVING) {
		(void)escape_log(lk->mailhost, strlen(lk->mailhost), h,
		    sizeof(h));
		lookup_finish(lk, LOOKUP_NOADDR, NULL, "mailHost \"%s\": no "
		    "answer from DNS within %d s", h, lk->timeout_sec);
	} else if (state == LK_SEARCHING)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "search for %s timed "
		    "out after %d s at %s", f, lk->timeout_sec,
		    c->urls[c->cur].label);
	else if (c->state != CS_UP)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "no LDAP connection "
		    "to %s within %d s%s%s", c->urls[c->cur].label,
		    lk->timeout_sec, c->lasterr[0] != '\0' ? ": " : "",
		    c->lasterr);
	else
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "search for %s not "
		    "sent to %s within %d s (%zu waiting)", f,
		    c->urls[c->cur].label, lk->timeout_sec, c->nqueued);
	if (c != NULL)
		conn_maybe_retire(c);
}

/* Relay names: no CR, LF or NUL, 1..MMP_USER_BYTES bytes. */
static const char *
lookup_bad_name(const char *user, size_t len)
{
	if (len == 0)
		return "empty user name";
	if (len > MMP_USER_BYTES)
		return "user name too long";
	if (memchr(user, '\0', len) != NULL || memchr(user, '\r', len) !=
	    NULL || memchr(user, '\n', len) != NULL)
		return "user name contains CR, LF or NUL";
	return NULL;
}

static struct lookup *
lookup_new(struct ldapd *env, struct relay *r, uint64_t reqid, uint64_t sid,
    int svc, const char *user)
{
	struct lookup	*lk;
	struct timeval	 tv;

	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		return NULL;
	lk->env = env;
	lk->reqid = reqid;
	lk->sid = sid;
	lk->svc = svc;
	mono_now(&lk->start);
	(void)strlcpy(lk->user, user, sizeof(lk->user));
	lk->timeout_sec = env->conn[svc]->timeout_sec;
	if ((lk->timer = evtimer_new(env->evb, lookup_timer_cb, lk)) ==
	    NULL) {
		free(lk);
		return NULL;
	}
	tv.tv_sec = lk->timeout_sec;
	tv.tv_usec = 0;
	evtimer_add(lk->timer, &tv);
	lk->relay = r;
	TAILQ_INSERT_TAIL(&r->lookups, lk, rentry);
	env->nlookups++;
	return lk;
}

static int
lookup_filter(struct lookup *lk, const char *client, const char *local)
{
	struct filter_vars	 v;
	char			 buf[LDAPD_FILTER_BYTES], err[256];

	memset(&v, 0, sizeof(v));
	v.name = v.orig = lk->user;
	v.client = client;
	v.local = local;
	if (lookup_filter_expand(conf_str(lk->env->conf, lk->svc,
	    CK_SEARCHFORMAT), &v, buf, sizeof(buf), err, sizeof(err)) == -1) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "no filter: %s", err);
		return -1;
	}
	if ((lk->filter = strdup(buf)) == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return -1;
	}
	return 0;
}

/* IMSG_LOOKUP from a relay, already read; user is len bytes, raw. */
void
lookup_start(struct ldapd *env, struct relay *r, uint64_t reqid, uint64_t sid,
    int svc, const char *user, size_t len, const char *client,
    const char *local, const char *pass, size_t passlen)
{
	struct lookup	*lk;
	const char	*bad;
	char		 why[64];

	if (svc != SVC_IMAP && svc != SVC_POP) {
		(void)snprintf(why, sizeof(why), "invalid service %d", svc);
		lookup_reject(r, reqid, sid, svc, user, len, why);
	} else if ((bad = lookup_bad_name(user, len)) != NULL)
		lookup_reject(r, reqid, sid, svc, user, len, bad);
	else if (env->conn[svc] == NULL) {
		(void)snprintf(why, sizeof(why), "%s has no LdapUrl",
		    svc_name(svc));
		lookup_reject(r, reqid, sid, svc, user, len, why);
	} else if (env->nlookups >= LDAPD_LOOKUPS_MAX)
		lookup_reject(r, reqid, sid, svc, user, len,
		    "too many lookups open");
	else if ((lk = lookup_new(env, r, reqid, sid, svc, user)) == NULL)
		lookup_reject(r, reqid, sid, svc, user, len,
		    "out of memory");
	else if (pass != NULL && preauth_set(lk, pass, passlen, client) == -1)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
	else if (lookup_filter(lk, client, local) == 0)
		conn_submit(env->conn[svc], lk);
}

/*
 * A certificate's search (mmp-ldapd/certmap.c built base and filter from
 * the subject, escaped); what names it in the log. base NULL: LdapUrl's.
 * The answer is a lookup's, with the entry's uid as the replay name.
 */
void
lookup_cert_start(struct ldapd *env, struct relay *r, uint64_t reqid,
    uint64_t sid, int svc, const char *what, const char *subject,
    const char *base, const char *filter)
{
	struct lookup	*lk;
	char		 why[64];

	if (env->conn[svc] == NULL) {
		(void)snprintf(why, sizeof(why), "%s has no LdapUrl",
		    svc_name(svc));
		lookup_refuse(r, reqid, svc, LOOKUP_TEMPFAIL, what, why);
	} else if (env->nlookups >= LDAPD_LOOKUPS_MAX)
		lookup_refuse(r, reqid, svc, LOOKUP_TEMPFAIL, what,
		    "too many lookups open");
	else if ((lk = lookup_new(env, r, reqid, sid, svc, "")) == NULL)
		lookup_refuse(r, reqid, svc, LOOKUP_TEMPFAIL, what,
		    "out of memory");
	else if ((lk->subject = strdup(subject)) == NULL ||
	    (lk->filter = strdup(filter)) == NULL ||
	    (base != NULL && (lk->base = strdup(base)) == NULL))
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
	else
		conn_submit(env->conn[svc], lk);
}

/* The relay went away: forget the lookup without an answer. */
void
lookup_cancel(struct lookup *lk)
{
	struct ldap_conn	*c = lk->conn;

	lookup_detach(lk, 1);
	lookup_free(lk);
	if (c != NULL)
		conn_maybe_retire(c);
}
