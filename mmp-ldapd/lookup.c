/*
 * User lookups: a relay's request, its search on the service's LDAP
 * connection (conn.c), the entry's mail host and status, the mailHost
 * resolution, and the answer to the relay.
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
#include "loginname.h"
#include "lookupmsg.h"

#define LOG_NAME_BYTES		(MMP_USER_BYTES * 4 + 8)
#define LOG_TEXT_BYTES		1024

void
mono_now(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		fatal("clock_gettime");
}

long long
mono_ms_since(const struct timespec *t0)
{
	struct timespec	now;

	mono_now(&now);
	return (now.tv_sec - t0->tv_sec) * 1000LL +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

const char *
svc_name(int svc)
{
	return svc == SVC_POP ? "POP" : "IMAP";
}


/* The answer's fields; -1 if one does not fit (never sent cut). */
static int
answer_fill(struct lookup_answer *a, int status, const char *detail,
    const char *dn, const char *mailhost, const char *user,
    const struct addrlist *al)
{
	size_t	i;

	a->status = (uint8_t)status;
	a->verified = 0;
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
    const char *user, const struct addrlist *al, int verified)
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
	} else
		a.verified = verified &&
		    (status == LOOKUP_OK || status == LOOKUP_HELD);
	msg_writer_init(&w);
	lookup_answer_write(&w, &a);
	ldapd_relay_answer(r, IMSG_LOOKUP_RESULT, &w, "a lookup's answer");
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
	answer_compose(r, reqid, status, detail, "", "", "", NULL, 0);
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

/*
 * The base searched: the certmap's, the domain tree's root or a hosted
 * domain's inetDomainBaseDN (domain.c), else the LdapUrl's.
 */
const char *
lookup_base(const struct lookup *lk, const struct ldap_url *u)
{
	return lk->base != NULL ? lk->base : u->base;
}

static void
lookup_free(struct lookup *lk)
{
	struct ldapd	*env = lk->env;
	size_t		 i;

	if (lk->relay != NULL)
		TAILQ_REMOVE(&lk->relay->lookups, lk, rentry);
	if (lk->timer != NULL)
		event_free(lk->timer);
	resolve_cancel(lk->res);
	free(lk->filter);
	free(lk->cachekey);
	free(lk->replayfmt);
	domain_free(lk->dom);
	free(lk->rattrbuf);
	for (i = 0; i < LDAPD_REPLAY_ATTRS_MAX; i++)
		free(lk->rvals[i]);
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
void
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
	case LK_DOMAIN:
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
	    "(%s) %lld ms%s", what, filter, dn, uid, host, addrs, ms,
	    lk->cachehit && lk->authhit ? " (cache hit, AuthCache hit)" :
	    lk->cachehit ? " (cache hit)" :
	    lk->authhit ? " (AuthCache hit)" : "");
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
	ldapd_stat_lookup(lk->env, &lk->start);
	cram_audit(lk, status);
	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* A held account, found and checked: refused, but only for now. */
	if (status == LOOKUP_OK && lk->held) {
		status = LOOKUP_HELD;
		(void)snprintf(detail, sizeof(detail), "%s (%s)", lk->status,
		    lk->verified ? "password verified" : "password not "
		    "verified");
	}
	if (status == LOOKUP_OK)
		lookup_log_ok(lk, al, ms);
	else if (log_wants(lk->svc, LOG_NOTICE)) {
		lookup_what(lk, what, sizeof(what));
		log_svc(lk->svc, LOG_NOTICE, "%s: %s", what, detail);
	}
	/*
	 * A certificate's user is the entry's uid, found or not; a user's
	 * is the replay name built when the entry was found.
	 */
	replay = lk->subject == NULL ? (lk->replay[0] != '\0' ? lk->replay :
	    lk->user) : lk->uid != NULL && status == LOOKUP_OK ? lk->uid : "";
	/* Only a found entry has a DN worth sending (and one that fits). */
	answer_compose(lk->relay, lk->reqid, status, detail,
	    status == LOOKUP_OK && lk->dn != NULL ? lk->dn : "",
	    lk->mailhost != NULL ? lk->mailhost : "", replay,
	    status == LOOKUP_OK ? al : NULL, lk->verified);
	lookup_free(lk);
}

/* The mailHost, resolved (hosts table, DNS) before the answer. */

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

/* A search's entries and result: the user found, or why not. */

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

/* "hold" or "defer" (any case): the account is refused for a while. */
static int
lookup_status_held(const struct berval *v)
{
	return (v->bv_len == 4 && strncasecmp(v->bv_val, "hold", 4) == 0) ||
	    (v->bv_len == 5 && strncasecmp(v->bv_val, "defer", 5) == 0);
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
			lk->held = lookup_status_held(vals[j]);
			break;
		}
		ldap_value_free_len(vals);
	}
}

/*
 * The first value of each %A[attr] of the replay format: one that may
 * be part of a login name (no CR, LF or NUL, not over MMP_USER_BYTES),
 * else none, which makes the replay fail with a log line.
 */
static void
lookup_replay_values(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	struct berval	**vals;
	size_t		  i;

	for (i = 0; lk->rattrs[i] != NULL; i++) {
		if ((vals = ldap_get_values_len(c->ld, e, lk->rattrs[i])) ==
		    NULL)
			continue;
		if (vals[0] != NULL && vals[0]->bv_len > 0 &&
		    vals[0]->bv_len <= MMP_USER_BYTES &&
		    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) == NULL &&
		    memchr(vals[0]->bv_val, '\r', vals[0]->bv_len) == NULL &&
		    memchr(vals[0]->bv_val, '\n', vals[0]->bv_len) == NULL)
			lk->rvals[i] = strndup(vals[0]->bv_val,
			    vals[0]->bv_len);
		ldap_value_free_len(vals);
	}
}

void
lookup_entry(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	if (++lk->nentries > 1)
		return;
	lk->dn = ldap_get_dn(c->ld, e);
	lookup_status(c, lk, e);
	lookup_mailhost(c, lk, e);
	if (lk->subject != NULL)
		lookup_uid(c, lk, e);
	else
		lookup_replay_values(c, lk, e);
	if (lk->cram != CRAM_NONE)
		cram_entry(c, lk, e);
}

/* %A[attr] for login_replay_expand: the entry's value, or NULL. */
static const char *
lookup_replay_attr(void *arg, const char *attr)
{
	struct lookup	*lk = arg;
	size_t		 i;

	for (i = 0; lk->rattrs[i] != NULL; i++)
		if (strcasecmp(lk->rattrs[i], attr) == 0)
			return lk->rvals[i];
	return NULL;
}

int
lookup_vd(const struct lookup *lk)
{
	if (lk->gen == lk->env->gen || lk->vd < 0)
		return lk->vd;
	return conf_vdomain_by_name(lk->env->conf, lk->svc, lk->vdname);
}

/*
 * The format the replay name is built with: the lookup's own (a hosted
 * domain's), else ReplayFormat of its virtual domain or service; NULL:
 * none, the name as typed plus a virtual domain (login_name_replay).
 */
static const char *
lookup_replay_format(const struct lookup *lk)
{
	if (lk->replayfmt != NULL)
		return lk->replayfmt;
	return conf_vstr(lk->env->conf, lk->svc, lookup_vd(lk),
	    CK_REPLAYFORMAT);
}

/* The name the store gets, into lk->replay; -1 finished the lookup. */
static int
lookup_replay(struct lookup *lk)
{
	const char	*fmt = lookup_replay_format(lk);
	char		 err[256], dn[LOG_TEXT_BYTES];

	if (fmt == NULL) {
		if (login_name_replay(&lk->name, conf_vstr(lk->env->conf,
		    lk->svc, lookup_vd(lk), CK_CANONICALDELIM), lk->replay,
		    sizeof(lk->replay)) == 0)
			return 0;
		(void)snprintf(err, sizeof(err), "name with its domain longer "
		    "than %d bytes", MMP_USER_BYTES);
	} else if (login_replay_expand(fmt, &lk->name, lookup_replay_attr, lk,
	    lk->replay, sizeof(lk->replay), err, sizeof(err)) >= 0)
		return 0;
	lk->replay[0] = '\0';
	(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
	lookup_finish(lk, LOOKUP_NOUSER, NULL, "entry %s: no replay name: %s",
	    dn, err);
	return -1;
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
	/*
	 * Refused like a wrong password; the relay names the attribute. A
	 * held account with a password or digest to check goes on to the
	 * check: answered LOOKUP_HELD (lookup_finish), with its verdict.
	 */
	if (lk->status[0] != '\0' && !(lk->held && (lk->pass != NULL ||
	    lk->cram != CRAM_NONE))) {
		lookup_finish(lk, LOOKUP_DISABLED, NULL, "%s", lk->status);
		return;
	}
	if (cram_found(lk) == -1)
		return;
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
	if (lk->subject == NULL && lookup_replay(lk) == -1)
		return;
	lookup_cache_store(lk);
	lookup_resolve(lk);
}

/*
 * Every user search goes through here: from the LdapCache of its service
 * or virtual domain (usercache.c), or to the
 * directory. A hit goes on as a found entry does: the mailHost resolved
 * again (hosts table, DNS), then PreAuth's bind and the answer. A
 * certificate's search is not cached: a StoreAdmin login is rare and its
 * entry must show its uid (lookup_uid). Nor is a CRAM's: its secret comes
 * from the entry each time and is never kept.
 */
void
lookup_search(struct lookup *lk)
{
	struct ldap_conn	*c = conn_for(lk->env, lk->svc, lookup_vd(lk));
	struct dir_caches	*dc = lookup_caches(lk);
	const char		*base;
	size_t			 len;

	if (dc != NULL)
		lk->cachegen = dc->gen;
	/*
	 * No base: the current URL is one mmp-ldapd cannot use (an ldapi://
	 * one, ldap_url_split); the search waits uncached for the next.
	 */
	if (lk->subject == NULL && lk->cram == CRAM_NONE && dc != NULL &&
	    dc->users != NULL &&
	    (base = lookup_base(lk, &c->urls[c->cur])) != NULL) {
		len = 2 + strlen(base) + 1 + strlen(lk->filter) + 1;
		if ((lk->cachekey = malloc(len)) == NULL) {
			lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
			return;
		}
		(void)snprintf(lk->cachekey, len, "u\n%s\n%s", base,
		    lk->filter);
		if (lookup_cache_fill(lk, dc)) {
			if (lookup_replay(lk) == 0)
				lookup_resolve(lk);
			return;
		}
	}
	conn_submit(c, lk);
}

/* A search is complete: decide, the caller has taken it off the tree. */
void
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


static void
lookup_timer_cb(int fd, short events, void *arg)
{
	struct lookup		*lk = arg;
	struct ldap_conn	*c = lk->conn;
	char			 f[LOG_TEXT_BYTES], h[LOG_TEXT_BYTES];
	enum lookup_state	 state = lk->state;

	(void)fd;
	(void)events;
	if (state == LK_SEARCHING || state == LK_DOMAIN)
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
	} else if (state == LK_SEARCHING || state == LK_DOMAIN)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%ssearch for %s "
		    "timed out after %d s at %s", state == LK_DOMAIN ?
		    "domain " : "", f, lk->timeout_sec,
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
	if (c != NULL && (state == LK_SEARCHING || state == LK_DOMAIN))
		conn_silent(c);
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
    int svc, int vd, const char *user)
{
	struct lookup	*lk;
	struct timeval	 tv;

	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		return NULL;
	lk->env = env;
	lk->reqid = reqid;
	lk->sid = sid;
	lk->svc = svc;
	lk->vd = vd;
	lk->gen = env->gen;
	if (vd >= 0)
		(void)strlcpy(lk->vdname, env->conf->vd[svc][vd].name,
		    sizeof(lk->vdname));
	mono_now(&lk->start);
	(void)strlcpy(lk->user, user, sizeof(lk->user));
	lk->timeout_sec = conn_for(env, svc, vd)->timeout_sec;
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

/*
 * The name's user id and domain (lib/loginname.h) by the rules of its
 * virtual domain, else its service's: the delimiters (DomainDelim, else
 * VirtualDomainDelim), the virtual domain's domain, DefaultDomain (of the
 * service only: in a virtual domain it names the domain) and the
 * canonical delimiter.
 */
static int
lookup_split(struct lookup *lk)
{
	const struct mmp_conf	*conf = lk->env->conf;
	struct login_rules	 rules;
	char			 err[128], safe[LOG_NAME_BYTES];

	memset(&rules, 0, sizeof(rules));
	rules.delims = conf_visset(conf, lk->svc, lk->vd, CK_DOMAINDELIM) ?
	    conf_vstr(conf, lk->svc, lk->vd, CK_DOMAINDELIM) :
	    conf_str(conf, lk->svc, CK_VIRTUALDOMAINDELIM);
	rules.vdomain = conf_vdomain_domain(conf, lk->svc, lk->vd);
	rules.defdomain = conf_str(conf, lk->svc, CK_DEFAULTDOMAIN);
	rules.canondelim = conf_vstr(conf, lk->svc, lk->vd, CK_CANONICALDELIM);
	if (login_name_split(lk->user, &rules, &lk->name, err,
	    sizeof(err)) == -1) {
		(void)escape_log(lk->user, strlen(lk->user), safe,
		    sizeof(safe));
		lookup_finish(lk, LOOKUP_NOUSER, NULL, "user \"%s\": %s",
		    safe, err);
		return -1;
	}
	return 0;
}

static int
lookup_filter(struct lookup *lk, const char *fmt, const char *client,
    const char *local)
{
	struct filter_vars	 v;
	char			 buf[LDAPD_FILTER_BYTES], err[256];

	memset(&v, 0, sizeof(v));
	v.name = lk->name.canon;
	v.uid = lk->name.uid;
	v.domain = lk->name.domain;
	v.orig = lk->name.orig;
	v.client = client;
	v.local = local;
	if (lookup_filter_expand(fmt, &v, buf, sizeof(buf), err,
	    sizeof(err)) == -1) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "no filter: %s", err);
		return -1;
	}
	free(lk->filter);
	if ((lk->filter = strdup(buf)) == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The %A[attr] names of the replay format in effect, for the search to
 * ask for; a format was checked by the configuration (or the domain's
 * attribute by its reader), so a name that does not parse is skipped.
 */
int
lookup_replay_attrs(struct lookup *lk)
{
	const char	*fmt = lookup_replay_format(lk), *p, *end;
	char		*w;
	size_t		 n = 0, len;

	free(lk->rattrbuf);
	lk->rattrbuf = NULL;
	memset(lk->rattrs, 0, sizeof(lk->rattrs));
	if (fmt == NULL || strstr(fmt, "%A[") == NULL)
		return 0;
	if ((lk->rattrbuf = calloc(1, strlen(fmt) + 1)) == NULL)
		return -1;
	w = lk->rattrbuf;
	for (p = fmt; (p = strstr(p, "%A[")) != NULL &&
	    n < LDAPD_REPLAY_ATTRS_MAX; p = end) {
		p += 3;
		if ((end = strchr(p, ']')) == NULL)
			break;
		len = (size_t)(end - p);
		memcpy(w, p, len);
		w[len] = '\0';
		lk->rattrs[n++] = w;
		w += len + 1;
	}
	return 0;
}

/*
 * The one place a user's search starts: at the lookup's start, or after
 * its hosted domain's search (domain.c), which a reload may have followed:
 * its virtual domain's connection by name (lookup_vd), not by the index it
 * had, which may be another domain's directory now.
 */
void
lookup_user_search(struct lookup *lk, const char *fmt, const char *client,
    const char *local)
{
	struct ldap_conn	*c = conn_for(lk->env, lk->svc, lookup_vd(lk));

	if (c == NULL) {
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "%s has no LdapUrl",
		    svc_name(lk->svc));
		return;
	}
	if (lookup_filter(lk, fmt, client, local) == 0)
		lookup_search(lk);
}

/*
 * A name with a domain goes through the domain tree first (HostedDomains,
 * domain.c); any other is searched with SearchFormat under LdapUrl's base.
 */
static void
lookup_begin(struct lookup *lk, const char *client, const char *local)
{
	if (domain_wanted(lk))
		domain_start(lk, client, local);
	else
		lookup_user_search(lk, conf_vstr(lk->env->conf, lk->svc,
		    lk->vd, CK_SEARCHFORMAT), client, local);
}

/* IMSG_LOOKUP from a relay, already read; user is len bytes, raw. */
void
lookup_start(struct ldapd *env, struct relay *r, uint64_t reqid, uint64_t sid,
    int svc, const char *user, size_t len, const char *client,
    const char *local, const char *pass, size_t passlen,
    const struct lookup_req *cram)
{
	struct lookup	*lk;
	const char	*bad;
	char		 why[64];
	int		 vd;

	/* The session's virtual domain: by the address it came in on. */
	vd = conf_vdomain_find(env->conf, svc, local);
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
	else if ((lk = lookup_new(env, r, reqid, sid, svc, vd, user)) == NULL)
		lookup_reject(r, reqid, sid, svc, user, len,
		    "out of memory");
	else if (cram != NULL && cram_set(lk, cram) == -1)
		lookup_finish(lk, LOOKUP_BADPASS, NULL, "%s: CRAMs are off for "
		    "%s", cram_name(cram->cram), svc_name(svc));
	else if ((cram == NULL && pass != NULL &&
	    preauth_set(lk, pass, passlen, client) == -1) ||
	    lookup_replay_attrs(lk) == -1)
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
	else if (lookup_split(lk) == 0)
		lookup_begin(lk, client, local);
}

/*
 * A certificate's search (mmp-ldapd/certmap.c built base and filter from
 * the subject, escaped); what names it in the log. base NULL: LdapUrl's.
 * The answer is a lookup's, with the entry's uid as the replay name.
 */
void
lookup_cert_start(struct ldapd *env, struct relay *r, uint64_t reqid,
    uint64_t sid, int svc, int vd, const char *what, const char *subject,
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
	else if ((lk = lookup_new(env, r, reqid, sid, svc, vd, "")) == NULL)
		lookup_refuse(r, reqid, svc, LOOKUP_TEMPFAIL, what,
		    "out of memory");
	else if ((lk->subject = strdup(subject)) == NULL ||
	    (lk->filter = strdup(filter)) == NULL ||
	    (base != NULL && (lk->base = strdup(base)) == NULL))
		lookup_finish(lk, LOOKUP_TEMPFAIL, NULL, "out of memory");
	else
		lookup_search(lk);
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
