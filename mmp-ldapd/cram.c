/*
 * CRAMs: APOP and CRAM-MD5 logins, verified here and only here, since
 * only mmp-ldapd reads the directory. The user's entry must hold the
 * secret in clear text (userPassword "{CLEARTEXT}x", "{CLEAR}x" or a
 * value without a scheme); the digest the client sent is compared in
 * constant time with the one that secret gives, and the secret is wiped.
 * A success is a pre-authentication and leaves PreAuth's audit line.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "compat.h"
#include "crammd5.h"
#include "escape.h"
#include "ldapd.h"
#include "log.h"

#define CRAM_SCHEME_MAX_BYTES	32	/* "{CLEARTEXT}", "{PBKDF2-SHA512}" */

/* CRAMs for svc's virtual domain vd: read here and nowhere else. */
int
cram_enabled(const struct ldapd *env, int svc, int vd)
{
	return conf_vnum(env->conf, svc, vd, CK_CRAMS) != 0;
}

/*
 * Take the request's mechanism, challenge, digest and client address.
 * -1: CRAMs are off for the service (a relay must not ask then).
 */
int
cram_set(struct lookup *lk, const struct lookup_req *rq)
{
	if (!cram_enabled(lk->env, lk->svc, lk->vd) || rq->cram <= CRAM_NONE ||
	    rq->cram >= CRAM_MECH_MAX || !cram_challenge_ok(rq->challenge))
		return -1;
	lk->cram = rq->cram;
	(void)strlcpy(lk->challenge, rq->challenge, sizeof(lk->challenge));
	memcpy(lk->digest, rq->digest, sizeof(lk->digest));
	preauth_client_ip(lk, rq->client);
	return 0;
}

const char *
cram_name(int mech)
{
	return mech == CRAM_APOP ? "APOP" : "CRAM-MD5";
}

static int
cram_scheme_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/*
 * The secret in a userPassword value, or NULL: a hashed value ({SSHA},
 * {CRYPT}, ...) holds none. A scheme is "{" letters, digits, '-', '.'
 * or '_' "}"; anything else at the front is part of a clear value.
 */
static const char *
cram_secret(const struct berval *v, size_t *lenp)
{
	const char	*p = v->bv_val;
	size_t		 i;

	*lenp = v->bv_len;
	if (v->bv_len == 0 || p[0] != '{')
		return p;
	for (i = 1; i < v->bv_len && i < CRAM_SCHEME_MAX_BYTES &&
	    cram_scheme_char(p[i]); i++)
		;
	if (i == 1 || i >= v->bv_len || i >= CRAM_SCHEME_MAX_BYTES ||
	    p[i] != '}')
		return p;
	if ((i == 10 && strncasecmp(p, "{CLEARTEXT}", 11) == 0) ||
	    (i == 6 && strncasecmp(p, "{CLEAR}", 7) == 0)) {
		*lenp = v->bv_len - (i + 1);
		return p + i + 1;
	}
	return NULL;
}

/* Whether secret gives the client's digest; compared in constant time. */
static int
cram_match(const struct lookup *lk, const char *secret, size_t len)
{
	uint8_t	want[CRAM_DIGEST_BYTES];
	int	ok;

	if (cram_digest(lk->cram, lk->challenge, secret, len, want) == -1)
		return 0;
	ok = timingsafe_bcmp(want, lk->digest, sizeof(want)) == 0;
	explicit_bzero(want, sizeof(want));
	return ok;
}

/*
 * The entry's userPassword values against the digest: any clear-text
 * one that matches lets the user in. Every value is wiped in libldap's
 * copy before it is freed.
 */
void
cram_entry(struct ldap_conn *c, struct lookup *lk, LDAPMessage *e)
{
	struct berval	**vals;
	const char	 *secret;
	size_t		  i, len;
	int		  clear = 0;

	lk->cramverdict = CRAM_V_NOSECRET;
	if ((vals = ldap_get_values_len(c->ld, e, LDAPD_PASSWORD_ATTR)) ==
	    NULL)
		return;
	for (i = 0; vals[i] != NULL; i++) {
		if ((secret = cram_secret(vals[i], &len)) == NULL || len == 0)
			continue;
		clear = 1;
		if (cram_match(lk, secret, len))
			lk->cramverdict = CRAM_V_OK;
	}
	if (clear && lk->cramverdict != CRAM_V_OK)
		lk->cramverdict = CRAM_V_BADDIGEST;
	for (i = 0; vals[i] != NULL; i++)
		explicit_bzero(vals[i]->bv_val, vals[i]->bv_len);
	ldap_value_free_len(vals);
}

/*
 * The entry was found and is active: its verdict. 0 go on (mailHost),
 * -1 the lookup was finished as a wrong password.
 */
int
cram_found(struct lookup *lk)
{
	char	dn[MMP_STR_BYTES * 4 + 1];

	if (lk->cram == CRAM_NONE)
		return 0;
	if (lk->cramverdict == CRAM_V_OK) {
		lk->verified = 1;
		return 0;
	}
	(void)escape_log(lk->dn, strlen(lk->dn), dn, sizeof(dn));
	if (lk->cramverdict == CRAM_V_NOSECRET)
		lookup_finish(lk, LOOKUP_BADPASS, NULL, "%s: the directory "
		    "holds no clear-text secret for %s (userPassword missing, "
		    "hashed or not readable by BindDN)", cram_name(lk->cram),
		    dn);
	else
		lookup_finish(lk, LOOKUP_BADPASS, NULL, "%s: wrong digest for "
		    "%s", cram_name(lk->cram), dn);
	return -1;
}

/*
 * From lookup_finish: a CRAM lookup's one audit line, in PreAuth's
 * format (preauth_audit): pre-authenticated, or failed with the reason.
 */
void
cram_audit(struct lookup *lk, int status)
{
	const char	*reason = NULL;

	if (lk->cram == CRAM_NONE)
		return;
	if (status == LOOKUP_BADPASS)
		reason = lk->cramverdict == CRAM_V_NOSECRET ?
		    "no clear-text secret" : "invalid credentials";
	else if (status != LOOKUP_OK)
		reason = preauth_reason(status);
	preauth_audit(lk, reason);
	explicit_bzero(lk->challenge, sizeof(lk->challenge));
	explicit_bzero(lk->digest, sizeof(lk->digest));
	lk->cram = CRAM_NONE;
}
