/*
 * Admission of a new client by TCPAccess, before the greeting: rules on
 * addresses are decided at once; with ClientLookup the session first
 * waits (reading nothing) for mmp-ldapd's confirmed name of the client,
 * for at most ACCESS_NAME_SEC, and host-name rules are decided then.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "log.h"
#include "namemsg.h"
#include "relay.h"
#include "tcpaccess.h"

#define ACCESS_NAME_SEC		5	/* a client's name, or UNKNOWN */
#define ACCESS_WHERE_BYTES	(CONF_VDNAME_BYTES + 96)

/* The parsed TCPAccess of each service and virtual domain. */
struct access_rules {
	struct tcpa_set		*svc[CONF_NSECT];	/* NULL: none */
	struct tcpa_set		**vd[CONF_NSECT];	/* NULL: the service's */
	size_t			 nvd[CONF_NSECT];
};

static void
access_rules_free(struct access_rules *ar)
{
	size_t	i;
	int	svc;

	if (ar == NULL)
		return;
	for (svc = 0; svc < CONF_NSECT; svc++) {
		free(ar->svc[svc]);
		for (i = 0; i < ar->nvd[svc]; i++)
			free(ar->vd[svc][i]);
		free(ar->vd[svc]);
	}
	free(ar);
}

/*
 * One value, parsed. It passed conf_set in this process too; if it did
 * not parse now, every client would be refused (a rule set of "-ALL:ALL")
 * rather than every one let in.
 */
static struct tcpa_set *
access_parse(const char *v, const char *what)
{
	struct tcpa_set	*set;
	char		 why[256];

	if (v == NULL || v[0] == '\0')
		return NULL;
	if ((set = malloc(sizeof(*set))) == NULL)
		fatal("TCPAccess");
	if (tcpa_parse(v, set, why, sizeof(why)) == -1) {
		log_warnx("%s TCPAccess unusable, every client is refused: %s",
		    what, why);
		if (tcpa_parse("-ALL:ALL", set, why, sizeof(why)) == -1)
			fatalx("TCPAccess: %s", why);
	}
	return set;
}

/* After each configuration: the rules of every service and domain. */
void
access_conf(const struct mmp_conf *conf)
{
	struct access_rules	*ar;
	size_t			 i;
	int			 svc;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		fatal("TCPAccess");
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		ar->svc[svc] = access_parse(conf_str(conf, svc, CK_TCPACCESS),
		    conf_section_file(svc));
		if (conf->nvd[svc] == 0)
			continue;
		if ((ar->vd[svc] = calloc(conf->nvd[svc],
		    sizeof(*ar->vd[svc]))) == NULL)
			fatal("TCPAccess");
		ar->nvd[svc] = conf->nvd[svc];
		for (i = 0; i < conf->nvd[svc]; i++)
			if (conf_voverrides(conf, svc, (int)i, CK_TCPACCESS))
				ar->vd[svc][i] = access_parse(
				    conf->vd[svc][i].v[CK_TCPACCESS].str,
				    conf->vd[svc][i].name);
	}
	access_rules_free(env->access);
	env->access = ar;
}

void
access_free(void)
{
	access_rules_free(env->access);
	env->access = NULL;
}

/* The session's rules (its domain's own, else its service's), or NULL. */
static const struct tcpa_set *
access_set(const struct session *s, int vd)
{
	const struct access_rules	*ar = env->access;

	if (ar == NULL)
		return NULL;
	if (vd >= 0 && (size_t)vd < ar->nvd[s->svc] &&
	    conf_voverrides(env->conf, s->svc, vd, CK_TCPACCESS))
		return ar->vd[s->svc][vd];
	return ar->svc[s->svc];
}

/* Where the rules came from: "file:line", with the domain's name. */
static const char *
access_where(const struct session *s, int vd, char *buf, size_t len)
{
	const struct conf_value	*cv;

	if (vd >= 0 && conf_voverrides(env->conf, s->svc, vd, CK_TCPACCESS)) {
		cv = &env->conf->vd[s->svc][vd].v[CK_TCPACCESS];
		(void)snprintf(buf, len, "virtual domain %s, %s:%d",
		    env->conf->vd[s->svc][vd].name, cv->file, cv->line);
	} else {
		cv = &env->conf->v[s->svc][CK_TCPACCESS];
		(void)snprintf(buf, len, "%s:%d", cv->file, cv->line);
	}
	return buf;
}

/* The client's address without its port, in inet_ntop's one form. */
static void
access_peer_addr(const struct session *s, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)&s->peer;
	const struct sockaddr_in6	*sin6 = (const void *)&s->peer;

	buf[0] = '\0';
	if (s->peer.ss_family == AF_INET)
		(void)inet_ntop(AF_INET, &sin->sin_addr, buf, len);
	else if (s->peer.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		(void)inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
		    len);
	else if (s->peer.ss_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len);
}

/*
 * The refusal: the protocol's last line (none on an implicit-TLS port,
 * whose client expects a handshake), the rule in the log.
 */
static void
access_refuse(struct session *s, const struct tcpa_set *set, int rule,
    int vd)
{
	char	text[TCPA_TEXT_BYTES], safe[TCPA_TEXT_BYTES * 4 + 1];
	char	where[ACCESS_WHERE_BYTES];

	(void)tcpa_rule_text(set, rule, text, sizeof(text));
	(void)escape_log(text, strlen(text), safe, sizeof(safe));
	session_log(s, LOG_NOTICE, "refused by TCPAccess rule \"%s\" (%s)",
	    safe, access_where(s, vd, where, sizeof(where)));
	relay_stat_refused(REFUSAL_TCPACCESS);
	if (s->tlsport) {
		session_close(s, "refused by TCPAccess");
		return;
	}
	session_send(s, s->svc == SVC_IMAP ?
	    "* BYE [CONTACTADMIN] Access denied\r\n" :
	    "-ERR [SYS/PERM] Access denied\r\n");
	session_finish(s, "refused by TCPAccess");
}

/* Do the rules let s in? *rule: the deciding rule, -1 none. */
static int
access_allowed(const struct session *s, const struct tcpa_set *set,
    int *rule)
{
	struct tcpa_client	c;
	char			addr[INET6_ADDRSTRLEN];

	access_peer_addr(s, addr, sizeof(addr));
	c.svc = s->svc;
	c.tls = s->tlsport;
	c.addr = addr;
	c.namestate = s->namestate;
	c.name = s->name;
	return tcpa_check(set, &c, rule);
}

/* 0 let in, -1 refused (the session is closing). */
static int
access_decide(struct session *s)
{
	const struct tcpa_set	*set;
	int			 rule, vd = session_vd(s);

	if ((set = access_set(s, vd)) == NULL ||
	    access_allowed(s, set, &rule))
		return 0;
	access_refuse(s, set, rule, vd);
	return -1;
}

static void
access_log_connected(struct session *s)
{
	char	 on[sizeof(s->label) + 16];

	(void)snprintf(on, sizeof(on), "%s (%s%s)", s->label,
	    s->svc == SVC_IMAP ? "IMAP" : "POP3", s->tlsport ? ", TLS" : "");
	if (s->namestate == TCPA_NAME_NONE)
		session_log(s, LOG_INFO, "connected on %s", on);
	else if (s->namestate == TCPA_NAME_KNOWN)
		session_log(s, LOG_INFO, "connected on %s, name %s", on,
		    s->name);
	else if (s->namestate == TCPA_NAME_SPOOFED)
		session_log(s, LOG_INFO, "connected on %s, name %s not "
		    "confirmed (DNSSPOOFER)", on, s->name);
	else
		session_log(s, LOG_INFO, "connected on %s, name unknown", on);
}

/* Ask mmp-ldapd for the client's name; -1 when there is nobody to ask. */
static int
access_ask_name(struct session *s)
{
	struct name_req		rq;
	struct msg_writer	w;

	if (env->ldapd == NULL)
		return -1;
	memset(&rq, 0, sizeof(rq));
	rq.reqid = s->id;
	rq.sid = s->id;
	access_peer_addr(s, rq.addr, sizeof(rq.addr));
	msg_writer_init(&w);
	if (name_req_write(&w, &rq) == -1)
		return -1;
	return chan_compose_msg(env->ldapd, IMSG_CLIENT_NAME, 0, -1, &w);
}

/*
 * A new client: 0 to greet it now, -1 when it is refused (closing) or
 * waits for its name (access_name_result greets it later).
 */
int
access_admit(struct session *s)
{
	const struct tcpa_set	*set;
	struct timespec		 now;
	struct timeval		 tv = { ACCESS_NAME_SEC, 0 };
	int			 rule, vd = session_vd(s);

	s->namestate = TCPA_NAME_NONE;
	if (!conf_vnum(env->conf, s->svc, vd, CK_CLIENTLOOKUP)) {
		access_log_connected(s);
		return access_decide(s);
	}
	/* Addresses alone decide without a name: no lookup to refuse. */
	set = access_set(s, vd);
	if (set != NULL && !tcpa_needs_name(set) &&
	    !access_allowed(s, set, &rule)) {
		access_log_connected(s);
		access_refuse(s, set, rule, vd);
		return -1;
	}
	if (access_ask_name(s) == -1) {
		access_name_result(s, TCPA_NAME_UNKNOWN, "", "no mmp-ldapd");
		return -1;
	}
	s->state = S_NAMING;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->login_deadline - now.tv_sec < tv.tv_sec)
		tv.tv_sec = s->login_deadline > now.tv_sec ?
		    s->login_deadline - now.tv_sec : 0;
	evtimer_add(s->timer, &tv);
	return -1;
}

/*
 * The client's name (or why there is none): logged, the rules decided,
 * and the session admitted. A session that is not waiting ignores it.
 */
void
access_name_result(struct session *s, int status, const char *name,
    const char *detail)
{
	char	safe[NAME_DETAIL_BYTES * 4 + 1];

	s->state = S_PREAUTH;
	s->namestate = status;
	(void)strlcpy(s->name, status == TCPA_NAME_UNKNOWN ? "" : name,
	    sizeof(s->name));
	access_log_connected(s);
	if (status != TCPA_NAME_KNOWN) {
		(void)escape_log(detail, strlen(detail), safe, sizeof(safe));
		session_log(s, LOG_INFO, "client name: %s", safe);
	}
	session_login_timer(s);
	if (access_decide(s) == -1)
		return;
	session_greet(s);
}

/* IMSG_CLIENT_NAME_RESULT: read and checked by lib/namemsg.c. */
int
access_name_answer(struct imsg *imsg)
{
	struct name_answer	 a;
	struct session		*s;

	if (name_answer_read(imsg, &a) == -1)
		return -1;
	if ((s = session_find(a.reqid)) == NULL || s->state != S_NAMING)
		return 0;	/* gone, or it timed out meanwhile */
	access_name_result(s, a.status, a.name, a.detail);
	return 0;
}

/* ACCESS_NAME_SEC passed: the client has no name. */
void
access_name_timeout(struct session *s)
{
	access_name_result(s, TCPA_NAME_UNKNOWN, "", "no answer in time");
}

/* The channel to mmp-ldapd went: nobody will name the waiting ones. */
void
access_fail_all_names(void)
{
	struct session	*s, *next;

	RB_FOREACH_SAFE(s, session_tree, &env->sessions, next)
		if (s->state == S_NAMING)
			access_name_result(s, TCPA_NAME_UNKNOWN, "",
			    "mmp-ldapd went away");
}
