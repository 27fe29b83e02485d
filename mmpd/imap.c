/*
 * IMAP before the login (RFC 9051, 3501, 2971, 4959, 7888, 5530, 4422,
 * 2195): greeting, CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN and
 * AUTHENTICATE PLAIN, EXTERNAL and (CRAMs) CRAM-MD5. The command
 * reader (imapcmd.c) does the syntax; this file decides what to answer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "relay.h"

#define CAPS_BYTES		512
#define ID_PAIRS_MAX		30	/* RFC 2971 */

/*
 * The pre-login capability list: the Capability key without what only
 * mmpd can decide (how to log in, STARTTLS), then what mmpd offers on
 * this connection: STARTTLS before TLS when enabled; without TLS and
 * with RestrictPlainPasswords, LOGINDISABLED and no AUTH=PLAIN;
 * AUTH=EXTERNAL with a verified client certificate that may log in;
 * AUTH=CRAM-MD5 with CRAMs, TLS or not: no password crosses the wire.
 */
void
imap_capabilities(const struct session *s, char *caps, size_t len)
{
	char		 word[128];
	const char	*p, *q;
	size_t		 n;

	caps[0] = '\0';
	p = conf_str(env->conf, SVC_IMAP, CK_CAPABILITY);
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if ((q = strchr(p, ' ')) == NULL)
			q = p + strlen(p);
		n = q - p;
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			if (strncasecmp(word, "AUTH=", 5) != 0 &&
			    strcasecmp(word, "STARTTLS") != 0 &&
			    strcasecmp(word, "LOGINDISABLED") != 0 &&
			    strcasecmp(word, "SASL-IR") != 0 &&
			    strcasecmp(word, "ID") != 0) {
				if (caps[0] != '\0')
					(void)strlcat(caps, " ", len);
				(void)strlcat(caps, word, len);
			}
		}
		p = q;
	}
	if (caps[0] != '\0')
		(void)strlcat(caps, " ", len);
	(void)strlcat(caps, "ID SASL-IR", len);
	if (session_starttls_offered(s))
		(void)strlcat(caps, " STARTTLS", len);
	if (session_plain_ok(s))
		(void)strlcat(caps, " AUTH=PLAIN", len);
	else
		(void)strlcat(caps, " LOGINDISABLED", len);
	if (session_external_ok(s))
		(void)strlcat(caps, " AUTH=EXTERNAL", len);
	if (session_crams_ok(s))
		(void)strlcat(caps, " AUTH=CRAM-MD5", len);
}

static void
imap_greet(struct session *s)
{
	char		 caps[CAPS_BYTES];
	const char	*banner;

	/* Banner: printable, bounded, checked by the configuration. */
	if ((banner = conf_str(env->conf, SVC_IMAP, CK_BANNER)) == NULL)
		banner = "IMAP proxy ready";
	imap_capabilities(s, caps, sizeof(caps));
	session_send(s, "* OK [CAPABILITY %s] %s\r\n", caps, banner);
}

static void
imap_bad(struct session *s, const char *tag, const char *why)
{
	session_send(s, "%s BAD %s\r\n", tag[0] != '\0' ? tag : "*", why);
	session_bad_command(s);
}

static int
imap_is_string(const struct imap_token *t)
{
	return t->type == IMAP_TOK_ATOM || t->type == IMAP_TOK_QUOTED ||
	    t->type == IMAP_TOK_LITERAL;
}

/*
 * RFC 5530 PRIVACYREQUIRED: nothing about the user is at stake, so the
 * answer comes at once, without AuthFailureDelay; a bad command still.
 */
static int
imap_plain_refused(struct session *s, const char *tag)
{
	if (session_plain_ok(s))
		return 0;
	session_send(s, "%s NO [PRIVACYREQUIRED] Plaintext authentication "
	    "is disallowed without TLS\r\n", tag);
	session_bad_command(s);
	return 1;
}

/* The SASL response, initial or on its own line, to its mechanism. */
static void
imap_auth_response(struct session *s, const char *b64, size_t len)
{
	if (s->saslmech == MECH_EXTERNAL)
		session_login_external(s, b64, len);
	else if (s->saslmech == MECH_CRAM_MD5)
		session_login_cram(s, b64, len);
	else
		session_login_sasl(s, b64, len);
}

static void
imap_cmd_login(struct session *s, struct imap_cmd *c)
{
	if (imap_plain_refused(s, c->tag))
		return;
	if (c->ntok != 2 || !imap_is_string(&c->tok[0]) ||
	    !imap_is_string(&c->tok[1])) {
		imap_bad(s, c->tag, "LOGIN needs a user name and a password");
		return;
	}
	(void)strlcpy(s->tag, c->tag, sizeof(s->tag));
	session_login(s, c->tok[0].s, c->tok[0].len, c->tok[1].s,
	    c->tok[1].len);
}

/*
 * EXTERNAL where it is not offered: refused at once, without
 * AuthFailureDelay. The client knows whether it sent a certificate, and
 * the answer depends on no user; a bad command still.
 */
static int
imap_external_refused(struct session *s, const char *tag)
{
	if (session_external_ok(s))
		return 0;
	session_log(s, LOG_INFO, "AUTHENTICATE EXTERNAL refused: no "
	    "verified client certificate, or certificate logins not "
	    "configured");
	session_send(s, "%s NO [AUTHENTICATIONFAILED] EXTERNAL is not "
	    "available on this connection\r\n", tag);
	session_bad_command(s);
	return 1;
}

/*
 * AUTHENTICATE CRAM-MD5: the server speaks first (RFC 2195), so an
 * initial response is a protocol error, not a login.
 */
static void
imap_cram_begin(struct session *s, struct imap_cmd *c)
{
	if (c->ntok == 2) {
		imap_bad(s, c->tag, "CRAM-MD5 takes no initial response");
		return;
	}
	(void)strlcpy(s->tag, c->tag, sizeof(s->tag));
	s->saslmech = MECH_CRAM_MD5;
	session_cram_challenge(s);
}

static void
imap_cmd_authenticate(struct session *s, struct imap_cmd *c)
{
	if (c->ntok < 1 || c->ntok > 2 || c->tok[0].type != IMAP_TOK_ATOM ||
	    (c->ntok == 2 && c->tok[1].type != IMAP_TOK_ATOM)) {
		imap_bad(s, c->tag, "AUTHENTICATE needs a mechanism");
		return;
	}
	if (strcasecmp(c->tok[0].s, "PLAIN") == 0) {
		if (imap_plain_refused(s, c->tag))
			return;
		s->saslmech = MECH_PLAIN;
	} else if (strcasecmp(c->tok[0].s, "EXTERNAL") == 0) {
		if (imap_external_refused(s, c->tag))
			return;
		s->saslmech = MECH_EXTERNAL;
	} else if (strcasecmp(c->tok[0].s, "CRAM-MD5") == 0 &&
	    session_crams_ok(s)) {
		imap_cram_begin(s, c);
		return;
	} else {
		session_send(s, "%s NO Unsupported authentication "
		    "mechanism\r\n", c->tag);
		session_bad_command(s);
		return;
	}
	(void)strlcpy(s->tag, c->tag, sizeof(s->tag));
	if (c->ntok == 2) {
		imap_auth_response(s, c->tok[1].s, c->tok[1].len);
		return;
	}
	s->state = S_AUTH_CONT;
	session_send(s, "+ \r\n");
}

/* ID: NIL or a list of up to 30 string pairs; our answer is fixed. */
static void
imap_cmd_id(struct session *s, struct imap_cmd *c)
{
	int	i, ok;

	ok = c->ntok == 1 && c->tok[0].type == IMAP_TOK_NIL;
	if (!ok && c->ntok >= 2 && c->tok[0].type == IMAP_TOK_LPAREN &&
	    c->tok[c->ntok - 1].type == IMAP_TOK_RPAREN &&
	    (c->ntok - 2) % 2 == 0 && (c->ntok - 2) / 2 <= ID_PAIRS_MAX) {
		ok = 1;
		for (i = 1; i < c->ntok - 1; i++)
			if (!imap_is_string(&c->tok[i]) &&
			    c->tok[i].type != IMAP_TOK_NIL)
				ok = 0;
	}
	if (!ok) {
		imap_bad(s, c->tag, "ID needs NIL or a list of pairs");
		return;
	}
	session_send(s, "* ID (\"name\" \"mmpd\")\r\n%s OK ID completed\r\n",
	    c->tag);
}

/*
 * STARTTLS (RFC 9051 6.2.1): the OK goes out in the clear, then the
 * socket goes to mmp-tlsd (session.c). Without an mmp-tlsd the client
 * hears so and may go on in the clear or try later.
 */
static void
imap_cmd_starttls(struct session *s, struct imap_cmd *c)
{
	if (s->tls) {
		imap_bad(s, c->tag, "Already in TLS");
		return;
	}
	if (!tls_available()) {
		session_log(s, LOG_WARNING, "STARTTLS: no mmp-tlsd available");
		session_send(s, "%s NO [UNAVAILABLE] TLS not available\r\n",
		    c->tag);
		return;
	}
	s->state = S_STARTTLS;
	session_send(s, "%s OK Begin TLS negotiation now\r\n", c->tag);
}

static void
imap_command(struct session *s, struct imap_cmd *c)
{
	char	caps[CAPS_BYTES];
	int	tlscmd;

	/* Known while TLS is on or offered: a second one is BAD below. */
	tlscmd = strcmp(c->name, "STARTTLS") == 0 &&
	    (s->tls || session_starttls_offered(s));
	if (tlscmd && c->ntok == 0)
		imap_cmd_starttls(s, c);
	else if (strcmp(c->name, "CAPABILITY") == 0 && c->ntok == 0) {
		imap_capabilities(s, caps, sizeof(caps));
		session_send(s, "* CAPABILITY %s\r\n%s OK CAPABILITY "
		    "completed\r\n", caps, c->tag);
	} else if (strcmp(c->name, "NOOP") == 0 && c->ntok == 0)
		session_send(s, "%s OK NOOP completed\r\n", c->tag);
	else if (strcmp(c->name, "LOGOUT") == 0 && c->ntok == 0) {
		session_send(s, "* BYE Logging out\r\n%s OK LOGOUT "
		    "completed\r\n", c->tag);
		session_finish_by(s, CLOSER_CLIENT, "LOGOUT");
	} else if (strcmp(c->name, "ID") == 0)
		imap_cmd_id(s, c);
	else if (strcmp(c->name, "LOGIN") == 0)
		imap_cmd_login(s, c);
	else if (strcmp(c->name, "AUTHENTICATE") == 0)
		imap_cmd_authenticate(s, c);
	else if (strcmp(c->name, "CAPABILITY") == 0 || tlscmd ||
	    strcmp(c->name, "NOOP") == 0 || strcmp(c->name, "LOGOUT") == 0)
		imap_bad(s, c->tag, "No arguments allowed");
	else
		imap_bad(s, c->tag, "Command unknown or not allowed before "
		    "login");
}

/* The client's answer to our "+ " after AUTHENTICATE. */
static int
imap_auth_line(struct session *s)
{
	size_t	 len, n;
	char	*line;

	if ((len = buf_line(&s->in)) == 0) {
		if (buf_len(&s->in) > IMAP_LINE_MAX_BYTES) {
			session_send(s, "* BYE Line too long\r\n");
			session_finish(s, "SASL response too long");
		}
		return 0;
	}
	line = (char *)buf_data(&s->in);
	n = len - 1;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	s->state = S_PREAUTH;
	if (n == 1 && line[0] == '*') {
		explicit_bzero(s->challenge, sizeof(s->challenge));
		session_send(s, "%s BAD AUTHENTICATE cancelled\r\n", s->tag);
		session_bad_command(s);
	} else
		imap_auth_response(s, line, n);
	explicit_bzero(line, len);
	buf_drain(&s->in, len);
	return 1;
}

static void
imap_input(struct session *s)
{
	struct imap_cmd	 cmd;
	enum imap_read	 r;
	size_t		 used;

	while (buf_len(&s->in) > 0) {
		if (session_out_full(s))
			return;
		if (s->state == S_AUTH_CONT) {
			if (!imap_auth_line(s))
				return;
			continue;
		}
		if (s->state != S_PREAUTH)
			return;
		r = imap_reader_feed(&s->rd, (char *)buf_data(&s->in),
		    buf_len(&s->in), &used, &cmd);
		explicit_bzero(buf_data(&s->in), used);
		buf_drain(&s->in, used);
		switch (r) {
		case IMAP_READ_MORE:
			return;
		case IMAP_READ_CONT:
			session_send(s, "+ Ready for literal data\r\n");
			break;
		case IMAP_READ_CMD:
			imap_command(s, &cmd);
			imap_reader_reset(&s->rd);
			if (s->state == S_STARTTLS) {
				session_starttls(s);
				return;
			}
			break;
		case IMAP_READ_BAD:
			imap_bad(s, s->rd.errtag, s->rd.err);
			break;
		case IMAP_READ_FATAL:
			session_send(s, "%s BAD %s\r\n* BYE Closing\r\n",
			    s->rd.errtag[0] != '\0' ? s->rd.errtag : "*",
			    s->rd.err);
			session_finish(s, s->rd.err);
			return;
		}
	}
}

static void
imap_login_failed(struct session *s, enum login_fail why)
{
	if (why == LOGIN_FAIL_STORE)
		session_send(s, "%s NO [UNAVAILABLE] %s\r\n", s->tag,
		    conf_str(env->conf, SVC_IMAP, CK_SERVERDOWNALERT));
	else
		session_send(s, "%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed.\r\n", s->tag);
}

static void
imap_timeout(struct session *s)
{
	session_send(s, "* BYE Autologout; idle for too long\r\n");
	session_finish(s, "login timeout");
}

const struct proto imap_proto = {
	"IMAP",
	imap_greet,
	imap_input,
	imap_login_failed,
	imap_timeout,
};
