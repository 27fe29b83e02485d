/*
 * POP3 before the login (RFC 1939, 2449, 2595, 5034, 3206, 4422, 2195):
 * greeting, CAPA, STLS, USER, PASS, AUTH PLAIN, EXTERNAL and (CRAMs)
 * CRAM-MD5, APOP (CRAMs), NOOP and QUIT. pop3cmd.c splits the lines;
 * this file decides what to answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "relay.h"
#include "pop3cmd.h"

/*
 * The greeting: Banner (printable, without < or >, checked by the
 * configuration) or mmpd's own text; with CRAMs, then the APOP timestamp
 * (RFC 1939 7), the only <...> of the line.
 */
static void
pop3_greet(struct session *s)
{
	const char	*banner;

	if ((banner = conf_str(env->conf, SVC_POP, CK_BANNER)) == NULL)
		banner = "POP3 proxy ready";
	if (!session_crams_ok(s)) {
		session_send(s, "+OK %s\r\n", banner);
		return;
	}
	cram_challenge(s->apop, sizeof(s->apop), env->hostname);
	session_send(s, "+OK %s %s\r\n", banner, s->apop);
}

static void
pop3_err(struct session *s, const char *why)
{
	session_send(s, "-ERR %s\r\n", why);
	session_bad_command(s);
}

/*
 * RestrictPlainPasswords without TLS: refused at once, no
 * AuthFailureDelay (nothing about the user is at stake); a bad command.
 */
static int
pop3_plain_refused(struct session *s)
{
	if (session_plain_ok(s))
		return 0;
	pop3_err(s, "[AUTH] Plaintext authentication disallowed without TLS");
	return 1;
}

/* The SASL mechanisms offered on this connection: "PLAIN EXTERNAL". */
static void
pop3_mechs(struct session *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (session_plain_ok(s))
		(void)strlcat(buf, "PLAIN", len);
	if (session_external_ok(s))
		(void)strlcat(buf, buf[0] != '\0' ? " EXTERNAL" : "EXTERNAL",
		    len);
	if (session_crams_ok(s))
		(void)strlcat(buf, buf[0] != '\0' ? " CRAM-MD5" : "CRAM-MD5",
		    len);
}

/* As IMAP's (imap.c): refused at once, nothing about a user at stake. */
static int
pop3_external_refused(struct session *s)
{
	if (session_external_ok(s))
		return 0;
	session_log(s, LOG_INFO, "AUTH EXTERNAL refused: no verified client "
	    "certificate, or certificate logins not configured");
	pop3_err(s, "[AUTH] EXTERNAL is not available on this connection");
	return 1;
}

static void
pop3_auth_response(struct session *s, const char *b64, size_t len)
{
	if (s->saslmech == MECH_EXTERNAL)
		session_login_external(s, b64, len);
	else if (s->saslmech == MECH_CRAM_MD5)
		session_login_cram(s, b64, len);
	else
		session_login_sasl(s, b64, len);
}

/* AUTH CRAM-MD5 (RFC 5034): server first, so no initial response. */
static void
pop3_cram_begin(struct session *s, struct pop3_cmd *c)
{
	if (c->argc == 2) {
		pop3_err(s, "CRAM-MD5 takes no initial response");
		return;
	}
	s->saslmech = MECH_CRAM_MD5;
	session_cram_challenge(s);
}

/*
 * APOP name digest (RFC 1939 7) against the greeting's timestamp.
 * Whatever the client wrote after APOP is a login attempt, a malformed
 * one failing like a wrong digest.
 */
static void
pop3_cmd_apop(struct session *s, struct pop3_cmd *c)
{
	if (c->argc != 2)
		session_login_apop(s, "", 0, "", 0);
	else
		session_login_apop(s, c->argv[0], c->arglen[0], c->argv[1],
		    c->arglen[1]);
}

static void
pop3_cmd_auth(struct session *s, struct pop3_cmd *c)
{
	if (c->argc == 0) {
		session_send(s, "+OK\r\n%s%s%s.\r\n",
		    session_plain_ok(s) ? "PLAIN\r\n" : "",
		    session_external_ok(s) ? "EXTERNAL\r\n" : "",
		    session_crams_ok(s) ? "CRAM-MD5\r\n" : "");
		return;
	}
	if (strcasecmp(c->argv[0], "CRAM-MD5") == 0 && session_crams_ok(s)) {
		pop3_cram_begin(s, c);
		return;
	}
	if (strcasecmp(c->argv[0], "PLAIN") == 0) {
		if (pop3_plain_refused(s))
			return;
		s->saslmech = MECH_PLAIN;
	} else if (strcasecmp(c->argv[0], "EXTERNAL") == 0) {
		if (pop3_external_refused(s))
			return;
		s->saslmech = MECH_EXTERNAL;
	} else {
		pop3_err(s, "Unsupported authentication mechanism");
		return;
	}
	if (c->argc == 2) {
		pop3_auth_response(s, c->argv[1], c->arglen[1]);
		return;
	}
	s->state = S_AUTH_CONT;
	session_send(s, "+ \r\n");
}

static void
pop3_cmd_user(struct session *s, struct pop3_cmd *c)
{
	if (pop3_plain_refused(s))
		return;
	if (c->argc != 1 || c->arglen[0] == 0 ||
	    c->arglen[0] > MMP_USER_BYTES) {
		pop3_err(s, "USER needs one name");
		return;
	}
	/* The length, not strlen: a NUL in it is refused at PASS, not cut. */
	memcpy(s->user, c->argv[0], c->arglen[0]);
	s->user[c->arglen[0]] = '\0';
	s->userlen = c->arglen[0];
	session_send(s, "+OK\r\n");
}

static void
pop3_cmd_pass(struct session *s, struct pop3_cmd *c)
{
	if (pop3_plain_refused(s))
		return;
	if (s->user[0] == '\0' || c->argc != 1)
		pop3_err(s, "USER first, then PASS with a password");
	else
		session_login(s, s->user, s->userlen, c->argv[0],
		    c->arglen[0]);
}

/* CAPA (RFC 2449): STLS only before TLS, USER/SASL only when allowed. */
static void
pop3_cmd_capa(struct session *s)
{
	char	mechs[64];

	pop3_mechs(s, mechs, sizeof(mechs));
	session_send(s, "+OK Capability list follows\r\n%s%s%s%s%s"
	    "RESP-CODES\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION mmpd\r\n.\r\n",
	    session_plain_ok(s) ? "USER\r\n" : "",
	    mechs[0] != '\0' ? "SASL " : "", mechs,
	    mechs[0] != '\0' ? "\r\n" : "",
	    session_starttls_offered(s) ? "STLS\r\n" : "");
}

/* STLS (RFC 2595 4): as IMAP STARTTLS, see imap.c. */
static void
pop3_cmd_stls(struct session *s, struct pop3_cmd *c)
{
	if (c->argc != 0)
		pop3_err(s, "STLS takes no arguments");
	else if (s->tls)
		pop3_err(s, "Already in TLS");
	else if (!tls_available()) {
		session_log(s, LOG_WARNING, "STLS: no mmp-tlsd available");
		session_send(s, "-ERR [SYS/TEMP] TLS not available\r\n");
	} else {
		s->state = S_STARTTLS;
		session_send(s, "+OK Begin TLS negotiation\r\n");
	}
}

static void
pop3_command(struct session *s, struct pop3_cmd *c)
{
	if (strcmp(c->name, "CAPA") == 0 && c->argc == 0)
		pop3_cmd_capa(s);
	else if (strcmp(c->name, "STLS") == 0 &&
	    (s->tls || session_starttls_offered(s)))
		pop3_cmd_stls(s, c);
	else if (strcmp(c->name, "NOOP") == 0 && c->argc == 0)
		session_send(s, "+OK\r\n");
	else if (strcmp(c->name, "QUIT") == 0 && c->argc == 0) {
		session_send(s, "+OK Bye\r\n");
		session_finish_by(s, CLOSER_CLIENT, "QUIT");
	} else if (strcmp(c->name, "USER") == 0)
		pop3_cmd_user(s, c);
	else if (strcmp(c->name, "PASS") == 0)
		pop3_cmd_pass(s, c);
	else if (strcmp(c->name, "AUTH") == 0)
		pop3_cmd_auth(s, c);
	else if (strcmp(c->name, "APOP") == 0 && session_crams_ok(s) &&
	    s->apop[0] != '\0')
		pop3_cmd_apop(s, c);
	else
		pop3_err(s, "Command unknown or not allowed before login");
}

static void
pop3_line(struct session *s, char *line, size_t n)
{
	struct pop3_cmd	c;
	char		why[128];

	if (s->state == S_AUTH_CONT) {
		s->state = S_PREAUTH;
		if (n == 1 && line[0] == '*') {
			explicit_bzero(s->challenge, sizeof(s->challenge));
			pop3_err(s, "Authentication cancelled");
		} else
			pop3_auth_response(s, line, n);
		return;
	}
	/* An MTA's POP-before-SMTP question; to others no command. */
	if (authsvc_xquery(s, line, n))
		return;
	if (pop3_parse(line, n, &c, why, sizeof(why)) == -1) {
		pop3_err(s, why);
		return;
	}
	/* A new command other than PASS forgets a USER given before. */
	if (strcmp(c.name, "PASS") != 0 && strcmp(c.name, "USER") != 0)
		s->user[0] = '\0';
	pop3_command(s, &c);
	if (strcmp(c.name, "PASS") == 0 && s->state == S_PREAUTH)
		s->user[0] = '\0';
}

static void
pop3_input(struct session *s)
{
	size_t	 len, n;
	char	*line;

	while (s->state == S_PREAUTH || s->state == S_AUTH_CONT) {
		if (session_out_full(s))
			return;
		if ((len = buf_line(&s->in)) == 0) {
			if (buf_len(&s->in) > POP3_LINE_MAX_BYTES) {
				session_send(s, "-ERR Line too long\r\n");
				session_finish(s, "line too long");
			}
			return;
		}
		line = (char *)buf_data(&s->in);
		n = len - 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > POP3_LINE_MAX_BYTES) {
			session_send(s, "-ERR Line too long\r\n");
			session_finish(s, "line too long");
			return;
		}
		pop3_line(s, line, n);
		explicit_bzero(buf_data(&s->in), len);
		buf_drain(&s->in, len);
		if (s->state == S_STARTTLS) {
			session_starttls(s);
			return;
		}
	}
}

static void
pop3_login_failed(struct session *s, enum login_fail why)
{
	if (why == LOGIN_FAIL_STORE)
		session_send(s, "-ERR [SYS/TEMP] %s\r\n",
		    conf_str(env->conf, SVC_POP, CK_SERVERDOWNALERT));
	else
		session_send(s, "-ERR [AUTH] Authentication failed.\r\n");
	s->user[0] = '\0';
}

static void
pop3_timeout(struct session *s)
{
	session_send(s, "-ERR Idle for too long\r\n");
	session_finish(s, "login timeout");
}

const struct proto pop3_proto = {
	"POP3",
	pop3_greet,
	pop3_input,
	pop3_login_failed,
	pop3_timeout,
};
