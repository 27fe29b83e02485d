/*
 * Admission limits of a relay worker, checked when a client's address is
 * known and before it is greeted: ConnLimits, counted per client address
 * over every relay in the shared memory (lib/shm.h); the sessions of this
 * worker (MaxSessionsPerWorker) and those before their login in all
 * workers (MaxPreauthSessions), where the oldest session of this worker
 * that has not logged in makes room, never a logged-in one. A refused
 * client gets the protocol's error line and the log says which rule
 * refused it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "relay.h"

/* ConnLimits of each service, parsed once per configuration. */
void
limits_conf(const struct mmp_conf *conf)
{
	struct conn_limits	*cl;
	char			 why[256];
	int			 svc, n;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		cl = &env->connlimits[svc];
		memset(cl, 0, sizeof(*cl));
		/*
		 * It passed conf_set in this process too, so it parses; if
		 * it ever did not, the service runs without ConnLimits
		 * rather than refusing every client, and says so.
		 */
		if ((n = connlimits_parse(conf_str(conf, svc, CK_CONNLIMITS),
		    cl->v, CONNLIMITS_MAX, why, sizeof(why))) == -1) {
			log_warnx("%s ConnLimits unusable, not applied: %s",
			    conf_section_file(svc), why);
			continue;
		}
		cl->n = (size_t)n;
	}
}

/* The client's address alone, IPv4 as IPv4, for the log. */
static void
limits_client_ip(const struct session *s, char *buf, size_t len)
{
	const struct sockaddr_in6	*sin6 =
	    (const struct sockaddr_in6 *)&s->peer;
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)&s->peer;

	if (s->peer.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		if (inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
		    len) == NULL)
			(void)strlcpy(buf, "?", len);
	} else if (s->peer.ss_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len) == NULL)
			(void)strlcpy(buf, "?", len);
	} else if (s->peer.ss_family == AF_INET) {
		if (inet_ntop(AF_INET, &sin->sin_addr, buf, len) == NULL)
			(void)strlcpy(buf, "?", len);
	} else
		(void)strlcpy(buf, "?", len);
}

/* The error line, the log line, and close once it is out. */
static void
limits_refuse(struct session *s, const char *imap_code, const char *pop_code,
    const char *text, const char *why)
{
	if (s->svc == SVC_IMAP)
		session_send(s, "* BYE [%s] %s\r\n", imap_code, text);
	else
		session_send(s, "-ERR [%s] %s\r\n", pop_code, text);
	session_finish(s, why);
}

/*
 * ConnLimits: count this session for its address (every session is
 * counted, so a reload that adds a realm counts the open ones too), then
 * sum over all relays; over the realm's number, undo and refuse. -1 when
 * refused.
 */
static int
limits_connlimits(struct session *s)
{
	const struct conn_limits	*cl = &env->connlimits[s->svc];
	const struct connlimit		*realm = NULL;
	char				 ip[INET6_ADDRSTRLEN], why[256];
	int64_t				 sum;
	int				 i;

	shm_key_sockaddr(&s->connkey, &s->peer, (uint32_t)s->svc);
	if ((i = connlimits_match(cl->v, cl->n, s->connkey.addr)) != -1)
		realm = &cl->v[i];
	if (shm_add(&env->shm, &shm_conns, &s->connkey, 1) == -1) {
		if (realm == NULL)
			return 0;	/* nothing to enforce: let it in */
		session_log(s, LOG_WARNING, "connection table of this relay "
		    "is full (%u addresses): refused", SHM_ADDR_SLOTS);
		relay_stat_refused(REFUSAL_CONNLIMIT);
		limits_refuse(s, "UNAVAILABLE", "SYS/TEMP",
		    "Server busy, try later", "connection table full");
		return -1;
	}
	s->conncounted = 1;
	if (realm == NULL)
		return 0;
	sum = shm_sum(&env->shm, &shm_conns, &s->connkey);
	if (sum <= (int64_t)realm->max)
		return 0;
	limits_session_end(&s->connkey, &s->conncounted);
	limits_client_ip(s, ip, sizeof(ip));
	(void)snprintf(why, sizeof(why), "Connection limit reached for "
	    "client IP %s (ConnLimits realm %s)", ip, realm->text);
	session_log(s, LOG_NOTICE, "%s", why);
	relay_stat_refused(REFUSAL_CONNLIMIT);
	limits_refuse(s, "UNAVAILABLE", "SYS/TEMP",
	    "Too many connections from your address", why);
	return -1;
}

/*
 * The oldest session of this worker that is before its login, not in
 * the middle of one (a lookup or a store's answer is due: it ends soon
 * by itself) and not past it (S_BGHOLD: the store said yes, BadGuy only
 * holds the answer), or NULL.
 */
static struct session *
limits_oldest_preauth(void)
{
	struct session	*o;

	TAILQ_FOREACH(o, &env->preauth, preauth)
		if (o->state != S_LOOKUP && o->state != S_STORE &&
		    o->state != S_BGHOLD)
			return o;
	return NULL;
}

/* Close the oldest pre-login session for rule; 0, or -1 if none. */
static int
limits_shed(const char *rule, enum refusal stat, long long cap)
{
	struct session	*o;
	char		 why[128];

	if ((o = limits_oldest_preauth()) == NULL)
		return -1;
	(void)snprintf(why, sizeof(why), "shed before its login to make room "
	    "(%s %lld reached)", rule, cap);
	session_log(o, LOG_NOTICE, "%s", why);
	relay_stat_refused(stat);
	limits_refuse(o, "UNAVAILABLE", "SYS/TEMP", "Server busy, try later",
	    why);
	return 0;
}

static void
limits_refuse_cap(struct session *s, const char *rule, enum refusal stat,
    long long cap, const char *what)
{
	char	why[160];

	(void)snprintf(why, sizeof(why), "refused: %s %lld reached by %s",
	    rule, cap, what);
	session_log(s, LOG_NOTICE, "%s", why);
	relay_stat_refused(stat);
	limits_refuse(s, "UNAVAILABLE", "SYS/TEMP", "Server busy, try later",
	    why);
}

/*
 * MaxSessionsPerWorker: this worker's sessions that are not closing
 * (s among them). Full: a pre-login session makes room, or s goes.
 */
static int
limits_worker(struct session *s)
{
	long long	cap = conf_num(env->conf, CONF_GLOBAL,
			    CK_MAXSESSIONSPERWORKER);

	if ((long long)(env->nsessions - env->nclosing) <= cap)
		return 0;
	if (limits_shed("MaxSessionsPerWorker", REFUSAL_RELAYCAP, cap) == 0)
		return 0;
	limits_refuse_cap(s, "MaxSessionsPerWorker", REFUSAL_RELAYCAP, cap,
	    "logged-in sessions");
	return -1;
}

/*
 * MaxPreauthSessions over all workers: s counts itself first, then sums
 * (two workers racing see each other). Over: this worker's oldest
 * pre-login session makes room, or s goes.
 */
static int
limits_preauth(struct session *s)
{
	const size_t	off = offsetof(struct shm_scalars, preauth);
	long long	cap = conf_num(env->conf, CONF_GLOBAL,
			    CK_MAXPREAUTHSESSIONS);

	shm_add_scalar(&env->shm, off, 1);
	if (shm_sum_scalar(&env->shm, off) > cap &&
	    limits_shed("MaxPreauthSessions", REFUSAL_PREAUTHCAP, cap) == -1) {
		shm_add_scalar(&env->shm, off, -1);
		limits_refuse_cap(s, "MaxPreauthSessions", REFUSAL_PREAUTHCAP,
		    cap, "sessions of other workers or in their login");
		return -1;
	}
	s->inpreauth = 1;
	TAILQ_INSERT_TAIL(&env->preauth, s, preauth);
	return 0;
}

int
limits_admit(struct session *s)
{
	if (limits_connlimits(s) == -1 || limits_worker(s) == -1 ||
	    limits_preauth(s) == -1)
		return -1;
	return 0;
}

void
limits_preauth_end(struct session *s)
{
	if (!s->inpreauth)
		return;
	TAILQ_REMOVE(&env->preauth, s, preauth);
	s->inpreauth = 0;
	shm_add_scalar(&env->shm, offsetof(struct shm_scalars, preauth), -1);
}

/* A session ended (any way, before or after its login): uncount it. */
void
limits_session_end(const struct shm_key *key, uint8_t *counted)
{
	if (!*counted)
		return;
	if (shm_add(&env->shm, &shm_conns, key, -1) == -1)
		log_warnx("connection count of a session was not there");
	*counted = 0;
}
