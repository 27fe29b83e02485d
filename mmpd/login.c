/*
 * The login of a session, the same for IMAP and POP3: the credentials the
 * client completed (a password, a verified client certificate with SASL
 * EXTERNAL, or an APOP / CRAM-MD5 digest that mmp-ldapd checks), the
 * lookup or certificate mapping at mmp-ldapd, the store (backend.c), and
 * the one answer every failed login gets, at one deadline.
 *
 * Timing is an answer too. Whatever fails (a name mmpd refuses, no such
 * user, no mailHost, LDAP trouble, the store's "wrong password"), the
 * client hears it AuthFailureDelay after the line that completed its
 * credentials, never earlier. As long as the store answers within that
 * time, the answer time does not depend on why the login failed.
 *
 * BadGuy (badguy.c) moves both deadlines by the badness B the client's
 * address had when its credentials were complete: a failure is answered
 * at AuthFailureDelay + B, whatever failed; a success is held until B.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "log.h"
#include "loginname.h"
#include "relay.h"

#define NSEC_PER_USEC	1000LL
#define USEC_PER_SEC	1000000LL
#define USEC_PER_MSEC	1000LL

/*
 * Names and passwords that may go on to a store: not empty, bounded, no
 * CR, LF or NUL (a store may cut at a NUL and log in the prefix).
 */
static int
login_credentials_ok(const char *user, size_t ulen, const char *pass,
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

/* The words of enum login_reason in the log. */
static const char *const login_reasons[] = {
	[LREASON_NONE] = "refused",
	[LREASON_BADREQUEST] = "bad request",
	[LREASON_NOUSER] = "unknown user",
	[LREASON_BADPASS] = "bad password",
	[LREASON_DISABLED] = "account disabled",
	[LREASON_NOSTORE] = "no store",
	[LREASON_LDAPDOWN] = "ldap down",
	[LREASON_STOREDOWN] = "store down",
	[LREASON_STOREREFUSED] = "store refused",
	[LREASON_STOREFAILED] = "store failed",
	[LREASON_CERT] = "certificate refused",
};

/*
 * The moment the credentials were complete, the deadlines' base, and the
 * address's badness then. A new login: nothing known yet of its domain
 * or of why it may fail.
 */
static void
login_mark(struct session *s)
{
	(void)clock_gettime(CLOCK_MONOTONIC, &s->cred_at);
	s->typed[0] = '\0';
	s->domain[0] = '\0';
	s->mailhost[0] = '\0';
	s->reason = LREASON_NONE;
	s->bg_ms = badguy_badness(s);
}

/*
 * The domain of login name user as mmp-ldapd will take it apart (typed,
 * the virtual domain's, DefaultDomain), for the log lines: "" if none.
 */
static void
login_domain(struct session *s, const char *user)
{
	struct login_rules	 rules;
	struct login_name	 name;
	char			 err[128];
	int			 vd = session_vd(s);

	memset(&rules, 0, sizeof(rules));
	rules.delims = conf_visset(env->conf, s->svc, vd, CK_DOMAINDELIM) ?
	    conf_vstr(env->conf, s->svc, vd, CK_DOMAINDELIM) :
	    conf_str(env->conf, s->svc, CK_VIRTUALDOMAINDELIM);
	rules.vdomain = conf_vdomain_domain(env->conf, s->svc, vd);
	rules.defdomain = conf_str(env->conf, s->svc, CK_DEFAULTDOMAIN);
	rules.canondelim = conf_vstr(env->conf, s->svc, vd,
	    CK_CANONICALDELIM);
	s->domain[0] = '\0';
	if (login_name_split(user, &rules, &name, err, sizeof(err)) == 0)
		(void)strlcpy(s->domain, name.domain, sizeof(s->domain));
	explicit_bzero(&name, sizeof(name));
}

/* What a lookup's status says about the login, in login_reasons. */
static enum login_reason
login_reason_of(uint8_t status)
{
	switch (status) {
	case LOOKUP_NOUSER:
	case LOOKUP_AMBIGUOUS:
		return LREASON_NOUSER;
	case LOOKUP_NOMAILHOST:
	case LOOKUP_NOADDR:
		return LREASON_NOSTORE;
	case LOOKUP_TEMPFAIL:
		return LREASON_LDAPDOWN;
	case LOOKUP_DISABLED:
		return LREASON_DISABLED;
	case LOOKUP_BADPASS:
		return LREASON_BADPASS;
	default:
		return LREASON_NONE;
	}
}

/* The name the client typed for this login, or else the one it has. */
static const char *
login_typed(const struct session *s)
{
	return s->typed[0] != '\0' ? s->typed : s->user;
}

/*
 * The one line of a refused login: the name as typed (escaped), why in
 * one of login_reasons' words, the domain and store if known, and the
 * detail (mmp-ldapd escaped its own; log.c catches anything left).
 */
static void
login_log_refused(struct session *s, int prio, const char *user,
    size_t ulen, const char *detail)
{
	char	safe[MMP_USER_BYTES * 4 + 1];
	char	dom[MMP_USER_BYTES * 4 + 1];
	char	store[MMP_STR_BYTES * 4 + 1];

	escape_log(user, ulen, safe, sizeof(safe));
	escape_log(s->domain, strlen(s->domain), dom, sizeof(dom));
	escape_log(s->mailhost, strlen(s->mailhost), store, sizeof(store));
	session_log(s, prio, "login \"%s\" refused: %s (domain %s, store "
	    "%s): %s", safe, s->reason < sizeof(login_reasons) /
	    sizeof(login_reasons[0]) ? login_reasons[s->reason] : "refused",
	    dom[0] != '\0' ? dom : "-", store[0] != '\0' ? store : "-",
	    detail);
}

/* Microseconds from now until delay seconds and the badness after it. */
static long long
login_usec_until(const struct session *s, long long delay)
{
	struct timespec	now;
	long long	due, left;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	due = (s->cred_at.tv_sec + delay) * USEC_PER_SEC +
	    s->cred_at.tv_nsec / NSEC_PER_USEC +
	    (long long)s->bg_ms * USEC_PER_MSEC;
	left = due - (now.tv_sec * USEC_PER_SEC + now.tv_nsec / NSEC_PER_USEC);
	return left > 0 ? left : 0;
}

/* Microseconds from now until the failure deadline. */
static long long
login_usec_left(const struct session *s)
{
	return login_usec_until(s, conf_num(env->conf, s->svc,
	    CK_AUTHFAILUREDELAY));
}

/*
 * Wake up at the deadline. libevent's clock is coarse (a few ms) and may
 * wake us before it: session_login_delay_over checks and waits again.
 */
static void
login_wait_deadline(struct session *s, long long usec)
{
	struct timeval	tv;

	evtimer_del(s->timer);
	tv.tv_sec = usec / USEC_PER_SEC;
	tv.tv_usec = usec % USEC_PER_SEC;
	evtimer_add(s->timer, &tv);
}

/*
 * Quiet until the deadline; session_login_delay_over answers then. Every
 * failure the client can see passes here, and costs its address.
 */
static void
login_fail_delay(struct session *s)
{
	explicit_bzero(s->pass, sizeof(s->pass));
	explicit_bzero(s->challenge, sizeof(s->challenge));
	explicit_bzero(s->digest, sizeof(s->digest));
	badguy_failed(s);
	if (s->bg_ms > 0)
		badguy_delayed();
	s->state = S_FAILDELAY;
	session_read_pause(s, 1);
	login_wait_deadline(s, login_usec_left(s));
}

/* s->user and s->pass are set: find the store. */
static void
login_lookup(struct session *s)
{
	char	safe[MMP_USER_BYTES * 4 + 1];

	s->state = S_LOOKUP;
	session_read_pause(s, 1);
	(void)strlcpy(s->typed, s->user, sizeof(s->typed));
	login_domain(s, s->user);
	escape_log(s->user, strlen(s->user), safe, sizeof(safe));
	session_log(s, LOG_DEBUG, "login \"%s\": looking up", safe);
	if (relay_lookup(s) == -1) {
		s->reason = LREASON_LDAPDOWN;
		session_login_failed(s, LOGIN_FAIL_AUTH,
		    "mmp-ldapd is not available");
	}
}

/* Credentials refused by mmpd itself, before anyone else saw them. */
static void
login_refused(struct session *s, const char *user, size_t ulen,
    const char *why)
{
	s->reason = LREASON_BADREQUEST;
	login_log_refused(s, LOG_NOTICE, user, ulen, why);
	relay_stat_login(s, STATS_LOGIN_REFUSED);
	s->user[0] = '\0';
	s->userlen = 0;
	login_fail_delay(s);
}

/* Take the credentials, marked complete by the caller, or refuse them. */
static void
login_take(struct session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	if (!login_credentials_ok(user, ulen, pass, plen)) {
		login_refused(s, user, ulen, "empty, too long or with CR, LF "
		    "or NUL");
		return;
	}
	s->certlogin = 0;
	s->cram = CRAM_NONE;
	s->verified = 0;
	/* POP3 gives the name of USER, already in s->user. */
	memmove(s->user, user, ulen);
	s->user[ulen] = '\0';
	s->userlen = ulen;
	memcpy(s->pass, pass, plen);
	s->pass[plen] = '\0';
	login_lookup(s);
}

/* LOGIN or USER/PASS: the line that completed them was just read. */
void
session_login(struct session *s, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	login_mark(s);
	login_take(s, user, ulen, pass, plen);
}

/* A SASL PLAIN response (RFC 4616) in base64, from its last line. */
void
session_login_sasl(struct session *s, const char *b64, size_t len)
{
	char	user[SASL_FIELD_MAX_BYTES + 1];
	char	pass[SASL_FIELD_MAX_BYTES + 1], why[128];

	login_mark(s);
	/* "=" is an empty initial response (RFC 4959). */
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (sasl_plain_decode(b64, len, user, pass, why, sizeof(why)) == -1)
		login_refused(s, "", 0, why);
	else
		login_take(s, user, strlen(user), pass, strlen(pass));
	explicit_bzero(user, sizeof(user));
	explicit_bzero(pass, sizeof(pass));
}

/*
 * A CRAM's name and digest, the line that completed them just read:
 * the name by the rules of any other login; the digest goes to
 * mmp-ldapd with the challenge it answers, no password to the store.
 */
static void
login_take_cram(struct session *s, int mech, const char *user, size_t ulen,
    const uint8_t *digest, const char *challenge)
{
	if (ulen == 0 || ulen > MMP_USER_BYTES || memchr(user, '\0', ulen) ||
	    memchr(user, '\r', ulen) || memchr(user, '\n', ulen)) {
		login_refused(s, user, ulen, "empty, too long or with CR, LF "
		    "or NUL");
		return;
	}
	s->certlogin = 0;
	s->cram = mech;
	s->verified = 0;
	memmove(s->user, user, ulen);
	s->user[ulen] = '\0';
	s->userlen = ulen;
	explicit_bzero(s->pass, sizeof(s->pass));
	if (challenge != s->challenge)
		(void)strlcpy(s->challenge, challenge, sizeof(s->challenge));
	memcpy(s->digest, digest, sizeof(s->digest));
	login_lookup(s);
}

/*
 * Offered when the command came; a reload may have turned CRAMs off
 * since, or the challenge is gone: a failed login, like any other.
 */
static int
login_cram_usable(struct session *s, const char *challenge, const char *what)
{
	char	why[64];

	if (session_crams_ok(s) && challenge[0] != '\0')
		return 1;
	(void)snprintf(why, sizeof(why), "%s: CRAMs not configured", what);
	login_refused(s, "", 0, why);
	return 0;
}

/* A CRAM-MD5 response (RFC 2195) in base64, to s->challenge. */
void
session_login_cram(struct session *s, const char *b64, size_t len)
{
	char	user[MMP_USER_BYTES + 1], why[128];
	uint8_t	digest[CRAM_DIGEST_BYTES];

	login_mark(s);
	if (!login_cram_usable(s, s->challenge, "CRAM-MD5"))
		return;
	if (sasl_cram_decode(b64, len, user, sizeof(user), digest, why,
	    sizeof(why)) == -1) {
		explicit_bzero(s->challenge, sizeof(s->challenge));
		login_refused(s, "", 0, why);
		return;
	}
	login_take_cram(s, CRAM_MD5, user, strlen(user), digest,
	    s->challenge);
	explicit_bzero(digest, sizeof(digest));
}

/* APOP name digest (RFC 1939 7), to the greeting's timestamp. */
void
session_login_apop(struct session *s, const char *user, size_t ulen,
    const char *hex, size_t hexlen)
{
	uint8_t	digest[CRAM_DIGEST_BYTES];

	login_mark(s);
	if (!login_cram_usable(s, s->apop, "APOP"))
		return;
	if (cram_hex_decode(hex, hexlen, digest) == -1) {
		login_refused(s, user, ulen, "APOP needs a name and 32 hex "
		    "digits");
		return;
	}
	login_take_cram(s, CRAM_APOP, user, ulen, digest, s->apop);
	explicit_bzero(digest, sizeof(digest));
}

/*
 * A SASL EXTERNAL response (RFC 4422 A), from its last line: the
 * authorization identity, empty for whoever the certificate maps to.
 * The certificate goes to mmp-ldapd for mapping; the requested identity
 * waits in s->user until the answer (session_lookup_result).
 */
void
session_login_external(struct session *s, const char *b64, size_t len)
{
	char	authzid[MMP_USER_BYTES + 1], why[128];
	char	safe[MMP_STR_BYTES * 4 + 1];
	int	n;

	login_mark(s);
	if (len == 1 && b64[0] == '=')
		len = 0;
	/* Offered when the command came; a reload may have changed that. */
	if (!session_external_ok(s)) {
		login_refused(s, "", 0, "EXTERNAL: no verified client "
		    "certificate, or certificate logins not configured");
		return;
	}
	if ((n = sasl_external_decode(b64, len, authzid, sizeof(authzid),
	    why, sizeof(why))) == -1) {
		login_refused(s, "", 0, why);
		return;
	}
	memcpy(s->user, authzid, (size_t)n + 1);
	s->userlen = n;
	s->certlogin = 1;
	s->verified = 0;
	s->cram = CRAM_NONE;
	s->state = S_LOOKUP;
	session_read_pause(s, 1);
	escape_log(s->cert->subject, strlen(s->cert->subject), safe,
	    sizeof(safe));
	session_log(s, LOG_DEBUG, "certificate \"%s\": mapping", safe);
	if (relay_certmap(s) == -1)
		session_login_failed(s, LOGIN_FAIL_AUTH,
		    "cannot ask mmp-ldapd to map the certificate");
}

/*
 * mmp-ldapd's answer to a certificate: the user it maps to, which must be
 * the one the client asked for if it asked for one. -1: failed (said).
 */
static int
login_cert_result(struct session *s, const struct lookup_answer *a)
{
	char		 subj[MMP_STR_BYTES * 4 + 1];
	char		 want[MMP_USER_BYTES * 4 + 1];
	char		 got[MMP_USER_BYTES * 4 + 1];
	char		 detail[sizeof(subj) + sizeof(want) + sizeof(got) +
			    MMP_STR_BYTES + 64];
	const char	*subject = s->cert != NULL ? s->cert->subject : "";

	escape_log(subject, strlen(subject), subj, sizeof(subj));
	/* mmp-ldapd escaped its detail; log.c catches anything left. */
	if (a->status != LOOKUP_OK) {
		/* No mailHost, LDAP down...: detail says which. */
		s->reason = login_reason_of(a->status);
		(void)snprintf(detail, sizeof(detail), "certificate \"%s\"%s: "
		    "%s", subj, a->status == LOOKUP_NOUSER ?
		    " maps to no user" : a->status == LOOKUP_AMBIGUOUS ?
		    " maps to more than one user" : "", a->detail);
		session_login_failed(s, LOGIN_FAIL_AUTH, detail);
		return -1;
	}
	escape_log(a->replay, strlen(a->replay), got, sizeof(got));
	escape_log(s->user, strlen(s->user), want, sizeof(want));
	if (a->replay[0] == '\0') {
		s->reason = LREASON_NOUSER;
		(void)snprintf(detail, sizeof(detail), "certificate \"%s\" "
		    "maps to an entry without uid (%s)", subj, a->dn);
		session_login_failed(s, LOGIN_FAIL_AUTH, detail);
		return -1;
	}
	if (s->user[0] != '\0' && strcmp(s->user, a->replay) != 0) {
		s->reason = LREASON_CERT;
		(void)snprintf(detail, sizeof(detail), "certificate \"%s\" "
		    "maps to \"%s\", not to the requested \"%s\"", subj, got,
		    want);
		session_login_failed(s, LOGIN_FAIL_AUTH, detail);
		return -1;
	}
	(void)strlcpy(s->user, a->replay, sizeof(s->user));
	s->userlen = strlen(s->user);
	login_domain(s, s->user);
	session_log(s, LOG_INFO, "certificate \"%s\" maps to \"%s\"", subj,
	    got);
	return 0;
}

/*
 * The directory says the account is not active: refused like a wrong
 * password (same answer, same deadline), with its own line naming the
 * attribute ("mailUserStatus disabled", escaped by mmp-ldapd).
 */
static void
login_refused_status(struct session *s, const struct lookup_answer *a)
{
	s->reason = LREASON_DISABLED;
	login_log_refused(s, LOG_NOTICE, login_typed(s),
	    strlen(login_typed(s)), a->detail);
	relay_stat_login(s, STATS_LOGIN_DISABLED);
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	login_fail_delay(s);
}

/* The reason a failed login is counted under in the statistics. */
static enum stats_login
login_stat_of(enum login_reason r)
{
	switch (r) {
	case LREASON_BADREQUEST:
		return STATS_LOGIN_REFUSED;
	case LREASON_NOUSER:
		return STATS_LOGIN_UNKNOWN_USER;
	case LREASON_DISABLED:
		return STATS_LOGIN_DISABLED;
	case LREASON_NOSTORE:
		return STATS_LOGIN_NO_STORE;
	case LREASON_LDAPDOWN:
		return STATS_LOGIN_DIRECTORY_DOWN;
	case LREASON_STOREDOWN:
		return STATS_LOGIN_STORE_DOWN;
	case LREASON_STOREFAILED:
		return STATS_LOGIN_ERROR;
	default:
		return STATS_LOGIN_AUTH_FAILED;
	}
}

/*
 * A held account (status hold or defer) whose password mmp-ldapd
 * verified: with SpoofTempFail a spoofed mailbox, else refused like a
 * disabled one.
 */
static void
login_held(struct session *s, const struct lookup_answer *a)
{
	enum spoof_kind	kind;

	if ((kind = spoof_wanted(s, 1)) == SPOOF_NONE) {
		login_refused_status(s, a);
		return;
	}
	spoof_start(s, kind, a->detail);
}

void
session_lookup_result(struct session *s, const struct lookup_answer *a)
{
	char	safe[MMP_USER_BYTES * 4 + 1];
	int	i;

	s->verified = a->verified;
	if (s->certlogin) {
		if (login_cert_result(s, a) == -1)
			return;
	} else if (a->status == LOOKUP_DISABLED) {
		login_refused_status(s, a);
		return;
	} else if (a->status == LOOKUP_HELD) {
		login_held(s, a);
		return;
	} else if (a->status != LOOKUP_OK) {
		/*
		 * mmp-ldapd escaped the names in detail already; log.c
		 * turns any control character it might still hold into '?'.
		 */
		s->reason = login_reason_of(a->status);
		session_login_failed(s, LOGIN_FAIL_AUTH, a->detail);
		return;
	} else if (a->replay[0] != '\0')
		(void)strlcpy(s->user, a->replay, sizeof(s->user));
	escape_log(s->user, strlen(s->user), safe, sizeof(safe));
	session_log(s, LOG_DEBUG, "\"%s\" is %s on %s", safe, a->dn,
	    s->mailhost);
	for (i = 0; i < a->naddr; i++)
		(void)strlcpy(s->be.addrs[i], a->addrs[i],
		    sizeof(s->be.addrs[i]));
	s->be.naddr = a->naddr;
	s->state = S_STORE;
	backend_start(s);
}

void
session_fail_all_lookups(void)
{
	struct session	*s, *next;

	RB_FOREACH_SAFE(s, session_tree, &env->sessions, next)
		if (s->state == S_LOOKUP) {
			s->reason = LREASON_LDAPDOWN;
			session_login_failed(s, LOGIN_FAIL_AUTH,
			    "mmp-ldapd went away");
		}
	authsvc_fail_all();
}

/*
 * A login failed. Credential and directory failures wait for the one
 * deadline; a store that is down is answered at once: that is no secret,
 * and its answer reads differently anyway.
 */
void
session_login_failed(struct session *s, enum login_fail why,
    const char *detail)
{
	enum spoof_kind	kind;

	/*
	 * Counted here, once per login: by store when one had a hand in
	 * it, under the reason noted where the failure was known.
	 */
	if (why == LOGIN_FAIL_STORE)
		relay_stat_store(s, STATS_LOGIN_STORE_DOWN);
	else if (s->reason == LREASON_STOREREFUSED ||
	    s->reason == LREASON_STOREFAILED)
		relay_stat_store(s, login_stat_of(s->reason));
	else
		relay_stat_login(s, login_stat_of(s->reason));
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	env->logins_failed++;
	if (why == LOGIN_FAIL_STORE) {
		s->reason = LREASON_STOREDOWN;
		login_log_refused(s, LOG_WARNING, login_typed(s),
		    strlen(login_typed(s)), detail);
		if ((kind = spoof_wanted(s, 0)) != SPOOF_NONE) {
			spoof_start(s, kind, "the store is unavailable");
			return;
		}
		s->state = S_PREAUTH;
		s->proto->login_failed(s, why);
		session_login_timer(s);
		session_read_pause(s, 0);
		if (s->state == S_PREAUTH)
			s->proto->input(s);
		return;
	}
	login_log_refused(s, LOG_NOTICE, login_typed(s),
	    strlen(login_typed(s)), detail);
	login_fail_delay(s);
}

/* The deadline of a failed login: answer, count it, read on. */
void
session_login_delay_over(struct session *s)
{
	long long	usec;

	if ((usec = login_usec_left(s)) > 0) {
		login_wait_deadline(s, usec);
		return;
	}
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

/*
 * A success from an address with badness is answered no earlier than
 * that after the credentials (the product delays it once, then the
 * address is clean): a guesser waits for its hit as for its misses. The
 * store's connection waits unwatched (its answer is in be.answer); 1
 * while held.
 */
static int
login_bg_hold(struct session *s)
{
	long long	usec;

	if (s->bg_ms == 0)
		return 0;
	if ((usec = login_usec_until(s, 0)) > 0) {
		if (s->state != S_BGHOLD) {
			explicit_bzero(s->pass, sizeof(s->pass));
			s->state = S_BGHOLD;
			event_del(s->be.ev);
			session_read_pause(s, 1);
		}
		login_wait_deadline(s, usec);
		return 1;
	}
	badguy_delayed();
	badguy_cleared(s);
	s->bg_ms = 0;
	return 0;
}

/*
 * The store accepted the login: no copy of the password may outlive this
 * moment (backend.c wiped its own), and the relay begins: s is freed.
 */
void
session_login_ok(struct session *s)
{
	char		 safe[MMP_USER_BYTES * 4 + 1];
	char		 admin[MMP_USER_BYTES * 4 + 1];
	char		 dom[MMP_USER_BYTES * 4 + 1];
	const char	*a;

	if (login_bg_hold(s))
		return;
	escape_log(s->user, strlen(s->user), safe, sizeof(safe));
	escape_log(s->domain, strlen(s->domain), dom, sizeof(dom));
	if (session_admin_replay(s)) {
		/* NULL only when a reload unset it while the store answered. */
		if ((a = conf_vstr(env->conf, s->svc, session_vd(s),
		    CK_STOREADMIN)) == NULL)
			a = "";
		escape_log(a, strlen(a), admin, sizeof(admin));
		session_log(s, LOG_NOTICE, "user \"%s\" logged in to %s (%s; "
		    "%s, as StoreAdmin %s; domain %s)", safe, s->mailhost,
		    s->be.addr, s->certlogin ? "certificate" : s->cram ==
		    CRAM_APOP ? "APOP" : "CRAM-MD5", admin, dom[0] != '\0' ?
		    dom : "-");
	} else
		session_log(s, LOG_NOTICE, "user \"%s\" logged in to %s (%s; "
		    "password; domain %s)", safe, s->mailhost, s->be.addr,
		    dom[0] != '\0' ? dom : "-");
	env->logins_ok++;
	explicit_bzero(s->pass, sizeof(s->pass));
	relay_stat_store(s, STATS_LOGIN_OK);
	if (s->cert != NULL) {
		freezero(s->cert, sizeof(*s->cert));
		s->cert = NULL;
	}
	authsvc_note(s);
	if (session_relay_start(s) == -1)
		session_close(s, "out of memory starting the relay");
}
