/*
 * libFuzzer target for mmpd/backend.c: what a store says during the
 * replayed login (greeting, CAPABILITY, STARTTLS/STLS, ID and XCLIENT
 * answers, CAPA's list, "+" continuations, the tagged or +OK/-ERR answer
 * to the login). The real code connects to a store this harness plays on
 * 127.0.0.1, reads it through its own event loop and buffers, and tells
 * the stand-ins for the session below; the store's bytes are the input.
 *
 * Input: byte 0 picks the session and configuration (OPT_*), byte 1 how
 * many bytes the store writes at a time (0: all at once), then what the
 * store says. Afterwards the store resets the connection, so every input
 * ends in exactly one outcome for the session.
 *
 * Checked beyond the sanitizers: exactly one outcome per session, nothing
 * after it; a login taken leaves no password in be.out (freed) and the
 * store's answer lines, each with its LF, in be.answer.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "mmpd/relay.h"

#define OPT_POP3	0x01	/* a POP3 session, else IMAP */
#define OPT_STARTTLS	0x02	/* StoreStartTLS yes */
#define OPT_TLSPORT	0x04	/* SSLBacksidePort: TLS from the first byte */
#define OPT_FORWARD	0x08	/* ForwardClientAddress yes: ID / XCLIENT */
#define OPT_CONFS	0x10	/* configurations: the bits above */
#define OPT_CERT	0x10	/* a certificate login: StoreAdmin replay */
#define OPT_VERIFIED	0x20	/* mmp-ldapd verified it: spoof a temp fail */
#define OPT_TLSFAIL	0x40	/* mmp-tlsd reports a failed handshake */
#define OPT_LITERAL	0x80	/* name and password need IMAP literals */

#define PUMP_ROUNDS	64	/* event loop passes per chunk, at most */
#define END_ROUNDS	16	/* after the reset, to the outcome */

static struct relay_env	 relay;
struct relay_env	*env = &relay;

static struct mmp_conf	*confs[OPT_CONFS];
static int		 lfd = -1;	/* the store's listening socket */
static int		 afd = -1;	/* the store's end of this session */
static int		 outcomes;	/* of the running session */
static int		 tls_due;	/* a handoff waits for its result */
static uint8_t		 opts;

/* As session.c's. */
int
session_admin_replay(const struct session *s)
{
	return s->certlogin || s->cram != CRAM_NONE;
}

int
session_vd(const struct session *s)
{
	return conf_vdomain_find(env->conf, s->svc, s->local);
}

void
session_log(struct session *s, int prio, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	(void)s;
	(void)prio;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
}

static void
outcome(void)
{
	if (++outcomes > 1)
		abort();	/* the session would be used after free */
}

void
session_login_ok(struct session *s)
{
	const struct buf	*a = &s->be.answer;

	outcome();
	/* backend_succeeded: no password left in be.out's memory. */
	if (s->be.out.data != NULL)
		abort();
	if (buf_len(a) == 0 || buf_data(a)[buf_len(a) - 1] != '\n')
		abort();
	/* As session_relay_start: the backend's reading ends here. */
	event_del(s->be.ev);
}

void
session_login_failed(struct session *s, enum login_fail why,
    const char *detail)
{
	(void)why;
	(void)detail;
	outcome();
	/* As the real one: the backend is done with. */
	backend_free(&s->be);
}

enum spoof_kind
spoof_wanted(const struct session *s, int temp)
{
	return s->verified && temp ? SPOOF_EMPTY : SPOOF_NONE;
}

void
spoof_start(struct session *s, enum spoof_kind kind, const char *why)
{
	(void)kind;
	(void)why;
	outcome();
	backend_free(&s->be);
}

void
relay_stat_store_latency(const struct session *s)
{
	(void)s;
}

/* mmp-tlsd: the socket stays the session's; the result comes later. */
int
tls_handoff(struct session *s, int *fdp, enum tls_role role,
    const char *peer, const char *local, const char *servername)
{
	(void)fdp;
	(void)peer;
	(void)local;
	if (role != TLS_ROLE_CLIENT || servername[0] == '\0')
		abort();
	s->tlsd = 0;
	s->tlsrole = role;
	tls_due = 1;
	return 0;
}

void
tls_pending_clear(struct session *s)
{
	s->tlsd = -1;
	tls_due = 0;
}

static void
tls_answer(struct session *s)
{
	struct tls_result	r;

	if (!tls_due)
		return;
	tls_due = 0;
	memset(&r, 0, sizeof(r));
	r.status = (opts & OPT_TLSFAIL) ? TLS_FAILED : TLS_OK;
	(void)strlcpy(r.detail, "handshake failed", sizeof(r.detail));
	(void)strlcpy(r.version, "TLSv1.3", sizeof(r.version));
	(void)strlcpy(r.cipher, "TLS_AES_128_GCM_SHA256", sizeof(r.cipher));
	s->tlsd = -1;
	backend_tls_result(s, &r);
}

static void
conf_set1(struct mmp_conf *c, int key, const char *val)
{
	char	err[256];

	if (conf_set(c, SVC_IMAP, key, val, "fuzz", 1, err, sizeof(err)) ==
	    -1 || conf_set(c, SVC_POP, key, val, "fuzz", 1, err,
	    sizeof(err)) == -1)
		abort();
}

static struct mmp_conf *
conf_make(int bits, int port)
{
	struct mmp_conf	*c;
	char		 num[16];

	if ((c = conf_new()) == NULL)
		abort();
	(void)snprintf(num, sizeof(num), "%d", port);
	conf_set1(c, CK_BACKSIDEPORT, num);
	if (bits & OPT_TLSPORT)
		conf_set1(c, CK_SSLBACKSIDEPORT, num);
	if (bits & OPT_STARTTLS)
		conf_set1(c, CK_STORESTARTTLS, "yes");
	if (bits & OPT_FORWARD)
		conf_set1(c, CK_FORWARDCLIENTADDRESS, "yes");
	conf_set1(c, CK_CONNECTTIMEOUT, "2");
	conf_set1(c, CK_STOREADMIN, "mmpadmin");
	conf_set1(c, CK_STOREADMINPASS, "admin-pw");
	return c;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			i;

	(void)argc;
	(void)argv;
	log_init("fuzz", 1, LOG_CRIT);
	/* As the daemons: a write to a peer gone is EPIPE, not death. */
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	for (i = 0; i < OPT_CONFS; i++)
		confs[i] = conf_make(i, ntohs(sin.sin_port));
	if ((env->base = event_base_new()) == NULL ||
	    shm_map(&env->shm, shm_create(), 0) == -1)
		abort();
	return 0;
}

/* The session as session_lookup_result leaves it for backend_start. */
static void
session_setup(struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->svc = (opts & OPT_POP3) ? SVC_POP : SVC_IMAP;
	s->state = S_STORE;
	s->fd = -1;
	s->be.fd = -1;
	s->tlsd = -1;
	s->vd = -1;
	s->id = 1;
	s->verified = (opts & OPT_VERIFIED) != 0;
	(void)strlcpy(s->tag, "x1", sizeof(s->tag));
	(void)strlcpy(s->client, "192.0.2.7:40001", sizeof(s->client));
	(void)strlcpy(s->local, "127.0.0.1:143", sizeof(s->local));
	(void)strlcpy(s->mailhost, "store.example", sizeof(s->mailhost));
	(void)strlcpy(s->user, (opts & OPT_LITERAL) ? "b\"o\\b \xc3\xa4" :
	    "bob", sizeof(s->user));
	s->userlen = strlen(s->user);
	if (opts & OPT_CERT)
		s->certlogin = 1;
	else
		(void)strlcpy(s->pass, (opts & OPT_LITERAL) ? "p{3}\r\nass" :
		    "secret", sizeof(s->pass));
	(void)strlcpy(s->be.addrs[0], "127.0.0.1", sizeof(s->be.addrs[0]));
	s->be.naddr = 1;
}

/* What the relay wrote to the store: read and forgotten. */
static void
store_drain(void)
{
	char	buf[4096];

	while (read(afd, buf, sizeof(buf)) > 0)
		;
}

static int
pending(int fd)
{
	int	n = 0;

	return fd != -1 && ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Run the relay's loop until it has read all the store said. */
static void
pump(struct session *s)
{
	int	i;

	for (i = 0; i < PUMP_ROUNDS && outcomes == 0; i++) {
		tls_answer(s);
		store_drain();
		if (event_base_loop(env->base, EVLOOP_NONBLOCK) == -1)
			abort();
		if (!tls_due && pending(s->be.fd) == 0)
			break;
	}
	store_drain();
}

static void
store_write(struct session *s, const uint8_t *p, size_t len)
{
	ssize_t	n;

	while (len > 0 && outcomes == 0) {
		if ((n = write(afd, p, len)) == -1) {
			if (errno != EAGAIN)
				return;		/* reset by the relay */
			pump(s);
			continue;
		}
		p += n;
		len -= n;
		pump(s);
	}
}

/* The store resets: no TIME_WAIT left behind, and an outcome due. */
static void
store_reset(struct session *s)
{
	struct linger	lg = { 1, 0 };
	int		i;

	(void)setsockopt(afd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(afd);
	afd = -1;
	for (i = 0; i < END_ROUNDS && outcomes == 0; i++) {
		tls_answer(s);
		if (event_base_loop(env->base, EVLOOP_ONCE) == -1)
			abort();
	}
	if (outcomes == 0)
		abort();	/* a session left hanging after a reset */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session	 s;
	struct linger		 lg = { 1, 0 };
	size_t			 chunk, n;

	if (size < 2)
		return 0;
	opts = data[0];
	chunk = data[1] == 0 ? size : data[1];
	data += 2;
	size -= 2;
	env->conf = confs[opts & (OPT_CONFS - 1)];
	outcomes = tls_due = 0;
	session_setup(&s);
	backend_start(&s);
	if (outcomes == 0) {
		if ((afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1)
			abort();
		pump(&s);
		for (; size > 0 && outcomes == 0; data += n, size -= n) {
			n = size < chunk ? size : chunk;
			store_write(&s, data, n);
		}
		store_reset(&s);
	}
	if (s.be.fd != -1)
		(void)setsockopt(s.be.fd, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg));
	backend_free(&s.be);
	explicit_bzero(&s, sizeof(s));
	return 0;
}
