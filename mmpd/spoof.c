/*
 * A spoofed POP3 mailbox (SpoofMessageFile, SpoofEmptyMailbox,
 * SpoofTempFail): when the store cannot serve a mailbox whose password
 * mmp-ldapd verified, mmpd answers the transaction state itself (RFC
 * 1939 5: STAT LIST UIDL RETR TOP DELE NOOP RSET QUIT, and CAPA) with
 * an empty mailbox or one message, the file's. Never before a verified
 * password: a guesser gets the failure every failed login gets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "log.h"
#include "relay.h"
#include "pop3cmd.h"

#define FNV64_OFFSET	0xcbf29ce484222325ULL
#define FNV64_PRIME	0x100000001b3ULL

void
spoof_release(struct spoof_msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

/*
 * The UIDL of the message: the same bytes give the same one in every
 * relay and every run, so a client that keeps mail on the server fetches
 * it once, and again only when the file changes.
 */
static void
spoof_uidl(struct spoof_msg *m)
{
	uint64_t	h = FNV64_OFFSET;
	size_t		i;

	for (i = 0; i < m->len; i++) {
		h ^= (unsigned char)m->data[i];
		h *= FNV64_PRIME;
	}
	(void)snprintf(m->uidl, sizeof(m->uidl), "spoof-%016llx",
	    (unsigned long long)h);
}

/* IMSG_CONF_SPOOF of the configuration being received: 0, or -1 bad. */
int
spoof_conf_msg(struct imsg *imsg)
{
	struct spoof_msg	*m;

	if (env->rx.conf == NULL || env->newspoof != NULL)
		return -1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	if (spoof_msg_read(imsg, m->data, &m->len) == -1) {
		free(m);
		return -1;
	}
	m->refs = 1;
	m->body = spoof_msg_body(m->data, m->len);
	spoof_uidl(m);
	env->newspoof = m;
	return 0;
}

/* The configuration is in place: its message (or none) with it. */
void
spoof_conf_apply(void)
{
	spoof_release(env->spoof);
	env->spoof = env->newspoof;
	env->newspoof = NULL;
}

/* A configuration began again or was refused: its message goes. */
void
spoof_conf_abort(void)
{
	spoof_release(env->newspoof);
	env->newspoof = NULL;
}

/*
 * Only POP3, only a password mmp-ldapd verified (PreAuth bind, AuthCache,
 * CRAM digest; a certificate login has none), then as the product does:
 * SpoofEmptyMailbox wins over SpoofMessageFile; a temporary failure only
 * with SpoofTempFail, and then an empty mailbox if there is no file.
 */
enum spoof_kind
spoof_wanted(const struct session *s, int temp)
{
	if (s->svc != SVC_POP || !s->verified || s->certlogin)
		return SPOOF_NONE;
	if (temp && !conf_num(env->conf, SVC_POP, CK_SPOOFTEMPFAIL))
		return SPOOF_NONE;
	if (conf_num(env->conf, SVC_POP, CK_SPOOFEMPTYMAILBOX))
		return SPOOF_EMPTY;
	if (env->spoof != NULL)
		return SPOOF_MESSAGE;
	return temp ? SPOOF_EMPTY : SPOOF_NONE;
}

/* The idle Timeout, again at every command. */
static void
spoof_idle(struct session *s)
{
	struct timeval	tv;

	tv.tv_sec = conf_num(env->conf, SVC_POP, CK_TIMEOUT);
	tv.tv_usec = 0;
	evtimer_add(s->timer, &tv);
}

/* How many messages the mailbox shows now (a DELE'd one is gone). */
static unsigned long
spoof_count(const struct session *s)
{
	return s->spoof != NULL && !s->spoofdel ? 1 : 0;
}

static void
spoof_err(struct session *s, const char *why)
{
	session_send(s, "-ERR %s\r\n", why);
	session_bad_command(s);
}

/* Argument a of c as a message number that exists; 0 or -1 (answered). */
static int
spoof_msgno(struct session *s, const struct pop3_cmd *c, int a)
{
	unsigned long	n;

	if (pop3_number(c->argv[a], c->arglen[a], &n) == -1) {
		spoof_err(s, "Invalid message number");
		return -1;
	}
	if (n != 1 || s->spoof == NULL) {
		session_send(s, "-ERR There's no message %lu.\r\n", n);
		return -1;
	}
	if (s->spoofdel) {
		session_send(s, "-ERR Message is deleted.\r\n");
		return -1;
	}
	return 0;
}

/*
 * Lines of the message from off to end, dot-stuffed (RFC 1939 3), at
 * most lines body lines when lines >= 0 (TOP).
 */
static void
spoof_send_lines(struct session *s, size_t off, size_t end, long lines)
{
	const char	*d = s->spoof->data;
	const char	*nl;
	size_t		 n;

	while (off < end && lines != 0) {
		nl = memchr(d + off, '\n', end - off);
		n = nl != NULL ? (size_t)(nl - (d + off)) + 1 : end - off;
		if (d[off] == '.')
			session_send_raw(s, ".", 1);
		session_send_raw(s, d + off, n);
		off += n;
		if (lines > 0)
			lines--;
	}
}

static void
spoof_cmd_stat(struct session *s, const struct pop3_cmd *c)
{
	if (c->argc != 0)
		spoof_err(s, "STAT takes no arguments");
	else
		session_send(s, "+OK %lu %zu\r\n", spoof_count(s),
		    spoof_count(s) ? s->spoof->len : 0);
}

/* LIST and UIDL: one line for a message, or all with a dot. */
static void
spoof_cmd_list(struct session *s, const struct pop3_cmd *c, int uidl)
{
	char	what[64] = "";

	if (c->argc > 1) {
		spoof_err(s, "Too many arguments");
		return;
	}
	if (spoof_count(s) > 0 && uidl)
		(void)snprintf(what, sizeof(what), "1 %s", s->spoof->uidl);
	else if (spoof_count(s) > 0)
		(void)snprintf(what, sizeof(what), "1 %zu", s->spoof->len);
	if (c->argc == 1) {
		if (spoof_msgno(s, c, 0) == 0)
			session_send(s, "+OK %s\r\n", what);
		return;
	}
	if (spoof_count(s) > 0)
		session_send(s, "+OK\r\n%s\r\n.\r\n", what);
	else
		session_send(s, "+OK\r\n.\r\n");
}

static void
spoof_cmd_retr(struct session *s, const struct pop3_cmd *c)
{
	if (c->argc != 1) {
		spoof_err(s, "RETR needs a message number");
		return;
	}
	if (spoof_msgno(s, c, 0) == -1)
		return;
	session_send(s, "+OK %zu octets\r\n", s->spoof->len);
	spoof_send_lines(s, 0, s->spoof->len, -1);
	session_send(s, ".\r\n");
}

/* TOP (RFC 1939 7): the header section, its empty line, n body lines. */
static void
spoof_cmd_top(struct session *s, const struct pop3_cmd *c)
{
	unsigned long	n;

	if (c->argc != 2) {
		spoof_err(s, "TOP needs a message number and a line count");
		return;
	}
	if (pop3_number(c->argv[1], c->arglen[1], &n) == -1) {
		spoof_err(s, "Invalid line count");
		return;
	}
	if (spoof_msgno(s, c, 0) == -1)
		return;
	session_send(s, "+OK\r\n");
	spoof_send_lines(s, 0, s->spoof->body, -1);
	spoof_send_lines(s, s->spoof->body, s->spoof->len, (long)n);
	session_send(s, ".\r\n");
}

/* DELE is taken and undone by RSET, but removes nothing: see mmpd.conf(5). */
static void
spoof_cmd_dele(struct session *s, const struct pop3_cmd *c)
{
	if (c->argc != 1) {
		spoof_err(s, "DELE needs a message number");
		return;
	}
	if (spoof_msgno(s, c, 0) == -1)
		return;
	s->spoofdel = 1;
	session_send(s, "+OK Marked to be deleted.\r\n");
}

static void
spoof_cmd_capa(struct session *s)
{
	session_send(s, "+OK\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\nIMPLEMENTATION mmpd\r\n.\r\n");
}

static void
spoof_command(struct session *s, const struct pop3_cmd *c)
{
	const char	*n = c->name;

	if (strcmp(n, "STAT") == 0)
		spoof_cmd_stat(s, c);
	else if (strcmp(n, "LIST") == 0)
		spoof_cmd_list(s, c, 0);
	else if (strcmp(n, "UIDL") == 0)
		spoof_cmd_list(s, c, 1);
	else if (strcmp(n, "RETR") == 0)
		spoof_cmd_retr(s, c);
	else if (strcmp(n, "TOP") == 0)
		spoof_cmd_top(s, c);
	else if (strcmp(n, "DELE") == 0)
		spoof_cmd_dele(s, c);
	else if (strcmp(n, "NOOP") == 0 && c->argc == 0)
		session_send(s, "+OK\r\n");
	else if (strcmp(n, "RSET") == 0 && c->argc == 0) {
		s->spoofdel = 0;
		session_send(s, "+OK\r\n");
	} else if (strcmp(n, "CAPA") == 0 && c->argc == 0)
		spoof_cmd_capa(s);
	else if (strcmp(n, "QUIT") == 0 && c->argc == 0) {
		session_send(s, "+OK Logging out.\r\n");
		session_finish(s, "QUIT (spoofed mailbox)");
	} else
		spoof_err(s, "Unknown command");
}

static void
spoof_input(struct session *s)
{
	struct pop3_cmd	 c;
	size_t		 len, n;
	char		*line, why[128];

	while (s->state == S_SPOOF) {
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
		spoof_idle(s);
		if (n > POP3_LINE_MAX_BYTES) {
			session_send(s, "-ERR Line too long\r\n");
			session_finish(s, "line too long");
			return;
		}
		if (pop3_parse(line, n, &c, why, sizeof(why)) == -1)
			spoof_err(s, why);
		else
			spoof_command(s, &c);
		buf_drain(&s->in, len);
	}
}

static void
spoof_timeout(struct session *s)
{
	session_send(s, "-ERR Disconnected for inactivity.\r\n");
	session_finish(s, "idle (spoofed mailbox)");
}

/*
 * A spoofed session is past its greeting and its login: session.c and
 * login.c call these for S_PREAUTH and the login states only, so they
 * have nothing to say.
 */
static void
spoof_greet(struct session *s)
{
	(void)s;
}

static void
spoof_login_failed(struct session *s, enum login_fail why)
{
	(void)s;
	(void)why;
}

/*
 * The login becomes a spoofed mailbox: everything of the store and of
 * the credentials goes, the client hears the +OK a store would say, and
 * what it pipelined after the login is read as transaction commands.
 */
void
spoof_start(struct session *s, enum spoof_kind kind, const char *why)
{
	char	safe[MMP_USER_BYTES * 4 + 1];

	escape_log(s->user, strlen(s->user), safe, sizeof(safe));
	session_log(s, LOG_NOTICE, "user \"%s\" gets a spoofed %s mailbox: %s",
	    safe, kind == SPOOF_MESSAGE ? "one-message" : "empty", why);
	backend_free(&s->be);
	explicit_bzero(s->pass, sizeof(s->pass));
	explicit_bzero(s->challenge, sizeof(s->challenge));
	explicit_bzero(s->digest, sizeof(s->digest));
	if (s->cert != NULL) {
		freezero(s->cert, sizeof(*s->cert));
		s->cert = NULL;
	}
	s->spoof = NULL;
	if (kind == SPOOF_MESSAGE && env->spoof != NULL) {
		s->spoof = env->spoof;
		s->spoof->refs++;
	}
	s->spoofdel = 0;
	/* A verified POP3 login: POP-before-SMTP counts it. */
	authsvc_note(s);
	/* Logged in: no pre-login count holds it, no cap sheds it. */
	limits_preauth_end(s);
	s->state = S_SPOOF;
	s->proto = &spoof_proto;
	session_send(s, "+OK Logged in.\r\n");
	evtimer_del(s->timer);
	spoof_idle(s);
	session_read_pause(s, 0);
	spoof_input(s);
}

const struct proto spoof_proto = {
	"POP3 (spoofed mailbox)",
	spoof_greet,
	spoof_input,
	spoof_login_failed,
	spoof_timeout,
};
