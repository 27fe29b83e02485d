/*
 * AuthService (POP-before-SMTP): who logged in to POP3 from which address
 * lately, per virtual domain. Every relay records its logins here (one
 * table for all of them) and asks it for an MTA's XQUERYAUTH. A bounded
 * cache (cache.c): the least recently used entry goes when it is full,
 * each entry at its own AuthServiceTTL.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authsvcmsg.h"
#include "escape.h"
#include "ldapd.h"
#include "log.h"

/* One login: its user and when it stops counting (CLOCK_MONOTONIC). */
struct authsvc_entry {
	time_t	expires;
	char	user[MMP_USER_BYTES + 1];
};

static time_t
authsvc_now(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* "s\n" domain "\n" address: the domain and address were checked. */
static void
authsvc_key(const char *domain, const char *addr, char *key, size_t len)
{
	(void)snprintf(key, len, "s\n%s\n%s", domain, addr);
}

static struct cache *
authsvc_cache(struct ldapd *env)
{
	if (env->authsvc == NULL)
		env->authsvc = cache_new(AUTHSVC_ENTRIES_MAX, AUTHSVC_TTL_MAX);
	return env->authsvc;
}

/* IMSG_AUTHSVC_RECORD. -1: malformed. */
int
authsvc_record(struct relay *r, struct imsg *imsg)
{
	struct authsvc_record	 rec;
	struct authsvc_entry	*e;
	struct cache		*c;
	char			 key[AUTHSVC_DOMAIN_BYTES +
				    AUTHSVC_ADDR_BYTES + 4];

	if (authsvc_record_read(imsg, &rec) == -1)
		return -1;
	if ((c = authsvc_cache(r->env)) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("AuthService: out of memory, a login not recorded");
		return 0;
	}
	e->expires = authsvc_now() + rec.ttl;
	(void)strlcpy(e->user, rec.user, sizeof(e->user));
	authsvc_key(rec.domain, rec.addr, key, sizeof(key));
	if (cache_put(c, key, e, free) == -1)
		log_warnx("AuthService: out of memory, a login not recorded");
	return 0;
}

/* IMSG_AUTHSVC_QUERY, answered at once. -1: malformed. */
int
authsvc_query(struct relay *r, struct imsg *imsg)
{
	struct authsvc_query	 q;
	struct authsvc_answer	 a;
	struct authsvc_entry	*e = NULL;
	struct msg_writer	 w;
	char			 key[AUTHSVC_DOMAIN_BYTES +
				    AUTHSVC_ADDR_BYTES + 4];

	if (authsvc_query_read(imsg, &q) == -1)
		return -1;
	memset(&a, 0, sizeof(a));
	a.reqid = q.reqid;
	authsvc_key(q.domain, q.addr, key, sizeof(key));
	if (r->env->authsvc != NULL &&
	    (e = cache_get(r->env->authsvc, key)) != NULL) {
		if (e->expires > authsvc_now())
			(void)strlcpy(a.user, e->user, sizeof(a.user));
		else
			cache_remove(r->env->authsvc, key);
	}
	log_debug("AuthService: %s%s%s asked about: %s", q.domain,
	    q.domain[0] != '\0' ? " " : "", q.addr,
	    a.user[0] != '\0' ? "found" : "none");
	msg_writer_init(&w);
	/* A refused answer marks w failed: ldapd_relay_answer logs it. */
	(void)authsvc_answer_write(&w, &a);
	ldapd_relay_answer(r, IMSG_AUTHSVC_ANSWER, &w, "an AuthService answer");
	return 0;
}
