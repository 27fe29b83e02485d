/*
 * AuthService (POP-before-SMTP) in a relay: each POP3 login with
 * AuthService on (per virtual domain) and AuthServiceTTL > 0 is recorded
 * at mmp-ldapd, which keeps one table for all relays; an MTA listed in
 * AuthServiceClients may ask "XQUERYAUTH ADDRESS" before login and hears
 * "+OK USER" (the user of the last login from ADDRESS within its TTL, in
 * the virtual domain of the address the MTA connected to) or "-ERR
 * none". To anyone else the command does not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authsvcmsg.h"
#include "escape.h"
#include "log.h"
#include "relay.h"

#define XQUERYAUTH	"XQUERYAUTH"
#define XQUERYAUTH_LEN	10

/* AuthServiceClients, parsed once per configuration. */
void
authsvc_conf(const struct mmp_conf *conf)
{
	struct store_nets	*sn = &env->authsvcmtas;
	char			 why[128];
	int			 n;

	memset(sn, 0, sizeof(*sn));
	if (!conf_isset(conf, SVC_POP, CK_AUTHSERVICECLIENTS))
		return;
	sn->set = 1;
	if ((n = netlist_parse(conf_str(conf, SVC_POP, CK_AUTHSERVICECLIENTS),
	    sn->v, NETLIST_MAX, why, sizeof(why))) == -1)
		log_warnx("AuthServiceClients unusable, no MTA may ask: %s",
		    why);
	else
		sn->n = (size_t)n;
}

/* The address of "1.2.3.4:110" or "[2001:db8::1]:110", normalised. */
static int
authsvc_client_addr(const char *client, char *out, size_t outsz)
{
	const char	*p, *end;

	if (client[0] == '[') {
		p = client + 1;
		if ((end = strchr(p, ']')) == NULL)
			return -1;
	} else {
		p = client;
		if ((end = strrchr(p, ':')) == NULL)
			return -1;
	}
	return authsvc_addr(p, (size_t)(end - p), out, outsz);
}

/* The session's virtual domain's name, "" for none. */
static const char *
authsvc_domain(const struct session *s)
{
	int	vd = session_vd(s);

	return vd >= 0 ? env->conf->vd[SVC_POP][vd].name : "";
}

/* AuthService on for the session's virtual domain, with a TTL. */
static long long
authsvc_ttl(const struct session *s)
{
	int	vd = session_vd(s);

	if (s->svc != SVC_POP ||
	    !conf_vnum(env->conf, SVC_POP, vd, CK_AUTHSERVICE))
		return 0;
	return conf_vnum(env->conf, SVC_POP, vd, CK_AUTHSERVICETTL);
}

void
authsvc_note(struct session *s)
{
	struct authsvc_record	rec;
	struct msg_writer	w;
	long long		ttl;

	if ((ttl = authsvc_ttl(s)) <= 0 || env->ldapd == NULL)
		return;
	memset(&rec, 0, sizeof(rec));
	rec.ttl = (uint32_t)ttl;
	(void)strlcpy(rec.domain, authsvc_domain(s), sizeof(rec.domain));
	(void)strlcpy(rec.user, s->user, sizeof(rec.user));
	msg_writer_init(&w);
	if (authsvc_client_addr(s->client, rec.addr, sizeof(rec.addr)) == -1 ||
	    authsvc_record_write(&w, &rec) == -1 ||
	    chan_compose_msg(env->ldapd, IMSG_AUTHSVC_RECORD, 0, -1, &w) == -1)
		session_log(s, LOG_WARNING, "AuthService: login not recorded");
}

/* An MTA that may ask: listed, and AuthService on where it came in. */
static int
authsvc_mta(const struct session *s)
{
	char	addr[AUTHSVC_ADDR_BYTES];

	return authsvc_ttl(s) > 0 && env->authsvcmtas.set &&
	    authsvc_client_addr(s->client, addr, sizeof(addr)) == 0 &&
	    netlist_match(env->authsvcmtas.v, env->authsvcmtas.n, addr);
}

int
authsvc_xquery(struct session *s, const char *line, size_t n)
{
	struct authsvc_query	q;
	struct msg_writer	w;
	char			safe[AUTHSVC_ADDR_BYTES * 4 + 1];

	if (n < XQUERYAUTH_LEN || strncasecmp(line, XQUERYAUTH,
	    XQUERYAUTH_LEN) != 0 || (n > XQUERYAUTH_LEN &&
	    line[XQUERYAUTH_LEN] != ' ') || !authsvc_mta(s))
		return 0;
	memset(&q, 0, sizeof(q));
	q.reqid = s->id;
	(void)strlcpy(q.domain, authsvc_domain(s), sizeof(q.domain));
	if (n <= XQUERYAUTH_LEN + 1 || authsvc_addr(line + XQUERYAUTH_LEN + 1,
	    n - XQUERYAUTH_LEN - 1, q.addr, sizeof(q.addr)) == -1) {
		session_send(s, "-ERR XQUERYAUTH needs one IP address\r\n");
		session_bad_command(s);
		return 1;
	}
	msg_writer_init(&w);
	if (env->ldapd == NULL || authsvc_query_write(&w, &q) == -1 ||
	    chan_compose_msg(env->ldapd, IMSG_AUTHSVC_QUERY, 0, -1, &w) ==
	    -1) {
		session_send(s, "-ERR [SYS/TEMP] AuthService not "
		    "available\r\n");
		return 1;
	}
	escape_log(q.addr, strlen(q.addr), safe, sizeof(safe));
	session_log(s, LOG_DEBUG, "XQUERYAUTH %s", safe);
	s->state = S_AUTHQUERY;
	session_read_pause(s, 1);
	return 1;
}

/*
 * The answer, then back to reading commands. S_PREAUTH before the
 * answer: an answer that does not fit closes s (session_send).
 */
static void
authsvc_reply(struct session *s, const char *line)
{
	s->state = S_PREAUTH;
	session_send(s, "%s\r\n", line);
	if (s->state != S_PREAUTH)
		return;
	session_read_pause(s, 0);
	s->proto->input(s);
}

/* IMSG_AUTHSVC_ANSWER, read by lib/authsvcmsg.c; -1: malformed. */
int
authsvc_answer(struct imsg *imsg)
{
	struct authsvc_answer	 a;
	struct session		*s;
	char			 safe[MMP_USER_BYTES * 4 + 1];
	char			 line[sizeof(a.user) + 8];

	if (authsvc_answer_read(imsg, &a) == -1)
		return -1;
	if ((s = session_find(a.reqid)) == NULL || s->state != S_AUTHQUERY)
		return 0;	/* the MTA left meanwhile */
	escape_log(a.user, strlen(a.user), safe, sizeof(safe));
	session_log(s, LOG_INFO, "XQUERYAUTH answered: %s",
	    a.user[0] != '\0' ? safe : "none");
	/* A name with a control character never got into the table. */
	if (a.user[0] != '\0')
		(void)snprintf(line, sizeof(line), "+OK %s", a.user);
	else
		(void)strlcpy(line, "-ERR none", sizeof(line));
	authsvc_reply(s, line);
	return 0;
}

/* mmp-ldapd went away: its queries will not be answered. */
void
authsvc_fail_all(void)
{
	struct session	*s, *next;

	RB_FOREACH_SAFE(s, session_tree, &env->sessions, next)
		if (s->state == S_AUTHQUERY)
			authsvc_reply(s, "-ERR [SYS/TEMP] AuthService not "
			    "available");
}
