/*
 * Unit test for mmpd/backend.c, the login replay: fake stores on 127.0.0.x,
 * played by this program in the thread of the event loop, check the exact
 * bytes of every replayed login and what the session is told. A fake
 * mmp-tlsd keeps the store's socket as the "plaintext" end, so the store
 * talks in the clear after the handshake the script reports.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "escape.h"
#include "mmpd/relay.h"
#include "regress/tap.h"

#define STEPS_MAX	12
#define STORES_MAX	2
#define RX_MAX_BYTES	(STORE_IN_MAX_BYTES * 2)
#define TIMEOUT_SEC	3	/* ConnectTimeout unless a case says */
#define WAIT_SEC	3	/* for one step of a fake store */
#define QUIET_SEC	0.3	/* "sends nothing more" means this long */
#define POLL_MSEC	2
#define SHOW_BYTES	1024	/* escaped bytes in a diagnostic */
#define LONG_BYTES	(STORE_IN_MAX_BYTES + 4096)

#define TAG		"x1"
#define PLAIN_BOB	"AGJvYgBzZWNyZXQ="	/* base64 "\0bob\0secret" */
#define ADMIN		"mmpadmin"
#define ADMIN_PASS	"admin-pw"
/* base64 "bob\0mmpadmin\0admin-pw": authzid bob, the StoreAdmin's own */
#define PLAIN_ADMIN	"Ym9iAG1tcGFkbWluAGFkbWluLXB3"
/* Names that put POP3's AUTH PLAIN line at 253 and 257 bytes. */
#define USER_162	"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
#define PLAIN_162	"dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1AG1tcGFkbWluAGFkbWluLXB3"
#define USER_163	USER_162 "u"
#define PLAIN_163	"dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dQBtbXBhZG1pbgBhZG1pbi1wdw=="
#define UTF8_PASS	"p\xc3\xa4" "ss"	/* 5 bytes */
#define UTF8_USER	"j\xc3\xb6" "rg"	/* 5 bytes */

enum step_op {
	ST_END,
	ST_ACCEPT,	/* the store takes the connection */
	ST_EXPECT,	/* the store receives exactly data next */
	ST_QUIET,	/* and then nothing for QUIET_SEC */
	ST_SEND,	/* the store sends data */
	ST_FLOOD,	/* the store sends n bytes: data repeated, or 'x' */
	ST_HANGUP,	/* the store closes the connection */
	ST_NOCONN,	/* nobody connects to the store for QUIET_SEC */
	ST_TLS,		/* a handoff is due: mmp-tlsd reports n (tls_status) */
};

struct step {
	enum step_op	 op;
	int		 st;		/* which store */
	const char	*data;
	size_t		 n;
};

#define ACCEPT(i)	{ ST_ACCEPT, (i), NULL, 0 }
#define EXPECT(i, d)	{ ST_EXPECT, (i), (d), 0 }
#define QUIET(i)	{ ST_QUIET, (i), NULL, 0 }
#define SEND(i, d)	{ ST_SEND, (i), (d), 0 }
#define FLOOD(i, d, n)	{ ST_FLOOD, (i), (d), (n) }
#define HANGUP(i)	{ ST_HANGUP, (i), NULL, 0 }
#define NOCONN(i)	{ ST_NOCONN, (i), NULL, 0 }
#define TLSOK(i)	{ ST_TLS, (i), NULL, TLS_OK }
#define TLSFAIL(i, d)	{ ST_TLS, (i), (d), TLS_FAILED }

enum outcome {
	OUT_NONE,
	OUT_OK,		/* session_login_ok */
	OUT_AUTH,	/* session_login_failed, LOGIN_FAIL_AUTH */
	OUT_STORE,	/* session_login_failed, LOGIN_FAIL_STORE */
	OUT_SPOOF,	/* spoof_start */
};

struct script {
	const char	*name;
	int		 svc;
	const char	*user;			/* NULL: "bob" */
	const char	*pass;			/* NULL: "secret" */
	const char	*addrs[STORES_MAX];	/* NULL: 127.0.0.1 */
	const char	*listen[STORES_MAX];	/* NULL: 127.0.0.1 */
	int		 nolisten;		/* nothing listens at all */
	int		 timeout;		/* 0: TIMEOUT_SEC */
	int		 tlsport;	/* SSLBacksidePort is the store's port */
	int		 starttls;	/* StoreStartTLS yes */
	int		 notlsd;	/* no mmp-tlsd channel */
	const char	*mailhost;	/* NULL: "" (servername: address) */
	int		 cert;		/* a certificate login: no password */
	int		 cram;		/* a CRAM login (enum cram_mech) */
	int		 verified;	/* mmp-ldapd verified the password */
	struct step	 steps[STEPS_MAX];
	enum outcome	 want;
	const char	*client;	/* OK: the client gets this */
	const char	*left;		/* OK: be.in after the answer */
	const char	*addr;		/* OK: store host; NULL 127.0.0.1 */
	const char	*detail;	/* failure: in the detail */
	double		 minsec;
	double		 maxsec;	/* 0: not checked */
};

/* A fake store: a listening socket and the one connection it takes. */
struct store {
	int		 lfd;
	int		 fd;
	int		 eof;		/* the relay closed or reset */
	struct buf	 rx;		/* received, not yet matched */
};

/*
 * What backend.c told the session, kept global because the fakes below
 * are called with the session only.
 */
static struct {
	int		 nok;
	int		 nfail;
	int		 nspoof;
	enum login_fail	 why;
	char		 detail[512];
	char		 beaddr[ADDR_TEXT_BYTES];
	char		 peer[ADDR_TEXT_BYTES];	/* of be.fd at login_ok */
	int		 passleft;	/* be.out still held the password */
	int		 nlatency;	/* relay_stat_store_latency calls */
	struct buf	 client;
	struct buf	 left;
	int		 handoffs;	/* tls_handoff calls that succeeded */
	int		 role;
	char		 servername[TLS_NAME_BYTES];
} rec;

static struct session	*cur;	/* the session of the running script */
static int		 notlsd;
/* Store sockets handed to mmp-tlsd while still watched (backend.c). */
static int		 watched_handoffs;

static int		 verbose;
static struct relay_env	 relay;
struct relay_env	*env = &relay;

static const struct script scripts[] = {
{
	.name = "imap certificate, SASL-IR", .svc = SVC_IMAP, .cert = 1,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, TAG " OK in\r\n") },
	.want = OUT_OK, .client = TAG " OK in\r\n",
}, {
	.name = "imap certificate, continuation", .svc = SVC_IMAP, .cert = 1,
	.steps = { ACCEPT(0), SEND(0, "* OK hi\r\n"),
	    EXPECT(0, "mmpd0 CAPABILITY\r\n"),
	    SEND(0, "* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+\r\n"
	    "mmpd0 OK\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN\r\n"), QUIET(0),
	    SEND(0, "+ \r\n"), EXPECT(0, PLAIN_ADMIN "\r\n"),
	    SEND(0, TAG " OK in\r\n") },
	.want = OUT_OK, .client = TAG " OK in\r\n",
}, {
	/* LOGIN would be the administrator logging in as itself. */
	.name = "imap certificate, store without AUTH=PLAIN", .svc = SVC_IMAP,
	.cert = 1,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] hi\r\n"),
	    QUIET(0) },
	.want = OUT_STORE, .detail = "certificate logins need SASL PLAIN",
}, {
	.name = "imap certificate, next address offers AUTH=PLAIN",
	.svc = SVC_IMAP, .cert = 1,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0), SEND(0, "* OK [CAPABILITY IMAP4rev1] one\r\n"),
	    QUIET(0), ACCEPT(1),
	    SEND(1, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] two\r\n"),
	    EXPECT(1, TAG " AUTHENTICATE PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(1, TAG " OK in\r\n") },
	.want = OUT_OK, .client = TAG " OK in\r\n", .addr = "127.0.0.1",
}, {
	.name = "imap certificate, store refuses", .svc = SVC_IMAP, .cert = 1,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, TAG " NO [AUTHENTICATIONFAILED] no\r\n") },
	.want = OUT_AUTH, .detail = "refused: " TAG " NO",
}, {
	/* CRAMs replay exactly as a certificate login does. */
	.name = "imap CRAM-MD5, as StoreAdmin", .svc = SVC_IMAP,
	.cram = CRAM_MD5,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, TAG " OK in\r\n") },
	.want = OUT_OK, .client = TAG " OK in\r\n",
}, {
	.name = "imap CRAM-MD5, store without AUTH=PLAIN", .svc = SVC_IMAP,
	.cram = CRAM_MD5,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] hi\r\n"),
	    QUIET(0) },
	.want = OUT_STORE, .detail = "need SASL PLAIN",
}, {
	.name = "pop3 APOP, AUTH PLAIN as StoreAdmin", .svc = SVC_POP,
	.cram = CRAM_APOP,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, "+OK Logged in.\r\n") },
	.want = OUT_OK, .client = "+OK Logged in.\r\n",
}, {
	.name = "pop3 certificate, AUTH PLAIN", .svc = SVC_POP, .cert = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, "+OK Logged in.\r\n") },
	.want = OUT_OK, .client = "+OK Logged in.\r\n",
}, {
	.name = "pop3 certificate, 253-byte AUTH line", .svc = SVC_POP,
	.cert = 1, .user = USER_162,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN " PLAIN_162 "\r\n"),
	    SEND(0, "+OK Logged in.\r\n") },
	.want = OUT_OK, .client = "+OK Logged in.\r\n",
}, {
	/* RFC 5034 4: over 255 bytes, the response waits for "+ ". */
	.name = "pop3 certificate, continuation", .svc = SVC_POP, .cert = 1,
	.user = USER_163,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN\r\n"), QUIET(0), SEND(0, "+ \r\n"),
	    EXPECT(0, PLAIN_163 "\r\n"), SEND(0, "+OK Logged in.\r\n") },
	.want = OUT_OK, .client = "+OK Logged in.\r\n",
}, {
	/* "+OK" is no continuation: the response is never sent. */
	.name = "pop3 certificate, +OK instead of +", .svc = SVC_POP,
	.cert = 1, .user = USER_163,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN\r\n"), SEND(0, "+OK what\r\n"),
	    QUIET(0) },
	.want = OUT_AUTH, .detail = "refused: +OK what",
}, {
	.name = "pop3 certificate, -ERR", .svc = SVC_POP, .cert = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "AUTH PLAIN " PLAIN_ADMIN "\r\n"),
	    SEND(0, "-ERR [AUTH] no\r\n") },
	.want = OUT_AUTH, .detail = "refused: -ERR [AUTH] no",
}, {
	.name = "imap StoreStartTLS", .svc = SVC_IMAP, .starttls = 1,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"),
	    EXPECT(0, "S STARTTLS\r\n"),
	    /* Sent with the OK, before TLS: must never count. */
	    SEND(0, "S OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n"),
	    TLSOK(0), EXPECT(0, "mmpd0 CAPABILITY\r\n"),
	    SEND(0, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nmmpd0 OK\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN\r\n"), SEND(0, "+ \r\n"),
	    EXPECT(0, PLAIN_BOB "\r\n"), SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap StoreStartTLS refused", .svc = SVC_IMAP, .starttls = 1,
	.steps = { ACCEPT(0), SEND(0, "* OK hi\r\n"),
	    EXPECT(0, "S STARTTLS\r\n"), SEND(0, "S NO \x01not now\r\n") },
	.want = OUT_STORE, .detail = "STARTTLS refused: S NO \\x01not now",
}, {
	.name = "pop3 StoreStartTLS, mailHost no host name", .svc = SVC_POP,
	.starttls = 1, .mailhost = "st\xc3\xb6re ex",
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"), EXPECT(0, "STLS\r\n"),
	    SEND(0, "+OK begin\r\n"), TLSOK(0),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"), SEND(0, "+OK in\r\n") },
	.want = OUT_OK, .client = "+OK in\r\n",
}, {
	.name = "imap StoreStartTLS handshake fails", .svc = SVC_IMAP,
	.starttls = 1, .mailhost = "store.example",
	.steps = { ACCEPT(0), SEND(0, "* OK hi\r\n"),
	    EXPECT(0, "S STARTTLS\r\n"), SEND(0, "S OK go\r\n"),
	    TLSFAIL(0, "certificate verify failed") },
	.want = OUT_STORE, .detail = "TLS failed: certificate verify failed",
}, {
	.name = "pop3 StoreStartTLS", .svc = SVC_POP, .starttls = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"), EXPECT(0, "STLS\r\n"),
	    SEND(0, "+OK begin\r\n+OK injected\r\n"), TLSOK(0),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"), SEND(0, "+OK in\r\n") },
	.want = OUT_OK, .client = "+OK in\r\n",
}, {
	.name = "pop3 StoreStartTLS -ERR", .svc = SVC_POP, .starttls = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"), EXPECT(0, "STLS\r\n"),
	    SEND(0, "-ERR no TLS here\r\n") },
	.want = OUT_STORE, .detail = "STARTTLS refused: -ERR no TLS here",
}, {
	.name = "imap SSLBacksidePort", .svc = SVC_IMAP, .tlsport = 1,
	.starttls = 1,	/* the TLS port wins: no STARTTLS inside TLS */
	.mailhost = "store.example",
	.steps = { ACCEPT(0), TLSOK(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "pop3 SSLBacksidePort handshake fails, next address",
	.svc = SVC_POP, .tlsport = 1,
	.addrs = { "127.0.0.1", "127.0.0.2" },
	.listen = { "127.0.0.1", "127.0.0.2" },
	.steps = { ACCEPT(0), TLSFAIL(0, "handshake failure"), ACCEPT(1),
	    TLSOK(1), SEND(1, "+OK hi\r\n"), EXPECT(1, "USER bob\r\n"),
	    SEND(1, "+OK\r\n"), EXPECT(1, "PASS secret\r\n"),
	    SEND(1, "+OK in\r\n") },
	.want = OUT_OK, .client = "+OK in\r\n", .addr = "127.0.0.2",
}, {
	.name = "imap SSLBacksidePort no handshake in time", .svc = SVC_IMAP,
	.tlsport = 1, .timeout = 1,
	.steps = { ACCEPT(0) },
	.want = OUT_STORE, .detail = "TLS failed: no handshake in time",
	.minsec = 0.9, .maxsec = 2.5,
}, {
	.name = "imap SSLBacksidePort without mmp-tlsd", .svc = SVC_IMAP,
	.tlsport = 1, .notlsd = 1,
	.steps = { ACCEPT(0) },
	.want = OUT_STORE, .detail = "no mmp-tlsd available",
}, {
	.name = "imap SASL-IR", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "* some untagged\r\n" TAG " OK [CAPABILITY IMAP4rev1 X] "
	    "Logged in\r\n* EXTRA after\r\n") },
	.want = OUT_OK, .client = "* some untagged\r\n" TAG
	    " OK [CAPABILITY IMAP4rev1 X] Logged in\r\n",
	.left = "* EXTRA after\r\n",
}, {
	.name = "imap greeting in two pieces", .svc = SVC_IMAP,
	.steps = { ACCEPT(0), SEND(0, "* OK [CAPABILITY IMAP4rev1 SAS"),
	    QUIET(0), SEND(0, "L-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap AUTH=PLAIN without SASL-IR", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN\r\n"), QUIET(0),
	    SEND(0, "+ \r\n"), EXPECT(0, PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	/* RFC 9051 allows untagged responses at any time. */
	.name = "imap untagged line while waiting for +", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN\r\n"),
	    SEND(0, "* OK still here\r\n"), QUIET(0),
	    SEND(0, "+ \r\n"), EXPECT(0, PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap LOGIN quoted", .svc = SVC_IMAP, .pass = "a\"b\\c d",
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=CRAM-MD5] "
	    "hi\r\n"),
	    EXPECT(0, TAG " LOGIN \"bob\" \"a\\\"b\\\\c d\"\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap LOGIN synchronising literal", .svc = SVC_IMAP,
	.pass = UTF8_PASS,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN-X XAUTH=PLAIN "
	    "LITERAL-] hi\r\n"),
	    EXPECT(0, TAG " LOGIN \"bob\" {5}\r\n"), QUIET(0),
	    SEND(0, "+ go\r\n"), EXPECT(0, UTF8_PASS "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap LOGIN two synchronising literals", .svc = SVC_IMAP,
	.user = UTF8_USER, .pass = UTF8_PASS,
	.steps = { ACCEPT(0), SEND(0, "* OK [CAPABILITY IMAP4rev1] hi\r\n"),
	    EXPECT(0, TAG " LOGIN {5}\r\n"), QUIET(0), SEND(0, "+ go\r\n"),
	    EXPECT(0, UTF8_USER " {5}\r\n"), QUIET(0),
	    SEND(0, "+ more\r\n"), EXPECT(0, UTF8_PASS "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap LOGIN LITERAL+", .svc = SVC_IMAP, .pass = UTF8_PASS,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n"),
	    EXPECT(0, TAG " LOGIN \"bob\" {5+}\r\n" UTF8_PASS "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap CAPABILITY asked, SASL-IR last", .svc = SVC_IMAP,
	.steps = { ACCEPT(0), SEND(0, "* OK hi\r\n"),
	    EXPECT(0, "mmpd0 CAPABILITY\r\n"),
	    SEND(0, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n"
	    "mmpd0 OK\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap CAPABILITY asked, SASL-IR not last", .svc = SVC_IMAP,
	.steps = { ACCEPT(0), SEND(0, "* OK hi\r\n"),
	    EXPECT(0, "mmpd0 CAPABILITY\r\n"),
	    SEND(0, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR ID\r\n"
	    "mmpd0 OK\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	.name = "imap NO", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "* untagged first\r\n" TAG
	    " NO [AUTHENTICATIONFAILED] nope\r\n") },
	.want = OUT_AUTH,
	.detail = "refused: " TAG " NO [AUTHENTICATIONFAILED] nope",
}, {
	.name = "imap BYE greeting", .svc = SVC_IMAP,
	.steps = { ACCEPT(0), SEND(0, "* BYE go away\r\n") },
	.want = OUT_STORE, .detail = "greeting is not * OK",
}, {
	.name = "nothing listens", .svc = SVC_IMAP, .nolisten = 1,
	.want = OUT_STORE, .maxsec = 1,
}, {
	.name = "first address refuses", .svc = SVC_IMAP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n", .maxsec = 1,
}, {
	.name = "silent store", .svc = SVC_IMAP, .timeout = 1,
	.steps = { ACCEPT(0) },
	.want = OUT_STORE, .detail = "no answer in time",
	.minsec = 0.9, .maxsec = 2.5,
}, {
	.name = "greeting longer than STORE_IN_MAX_BYTES", .svc = SVC_IMAP,
	.steps = { ACCEPT(0), FLOOD(0, NULL, LONG_BYTES) },
	.want = OUT_STORE, .detail = "line too long",
}, {
	/* Once the login was sent, no other address gets the password. */
	.name = "untagged lines past STORE_IN_MAX_BYTES", .svc = SVC_IMAP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    FLOOD(0, "* 0123456789abcdef\r\n", LONG_BYTES), NOCONN(1) },
	.want = OUT_AUTH, .detail = "after the login was sent",
}, {
	.name = "answer to the login too long", .svc = SVC_IMAP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    FLOOD(0, "* 0123456789abcdef\r\n",
	    (STORE_IN_MAX_BYTES / 20 - 1) * 20),
	    SEND(0, TAG " OK [CAPABILITY IMAP4rev1 0123456789 0123456789 "
	    "0123456789] Logged in\r\n"), NOCONN(1) },
	.want = OUT_AUTH, .detail = "answer to the login too long",
}, {
	.name = "store hangs up after the login", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    HANGUP(0) },
	.want = OUT_AUTH,
	.detail = "closed the connection after the login was sent",
}, {
	.name = "no second store after a hang-up at the login",
	.svc = SVC_IMAP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN "
	    "LITERAL+] one\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "* from the first store\r\n"), HANGUP(0), NOCONN(1) },
	.want = OUT_AUTH, .detail = "after the login was sent",
}, {
	.name = "no second store after a refused password", .svc = SVC_POP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"), SEND(0, "-ERR [AUTH] no\r\n"),
	    NOCONN(1) },
	.want = OUT_AUTH, .detail = "refused: -ERR [AUTH] no",
}, {
	/* Before the login nothing was said: the next address may do. */
	.name = "second store after a bad greeting", .svc = SVC_IMAP,
	.addrs = { "127.0.0.2", "127.0.0.1" },
	.listen = { "127.0.0.2", "127.0.0.1" },
	.steps = { ACCEPT(0), SEND(0, "* BYE not today\r\n"), ACCEPT(1),
	    SEND(1, "* OK [CAPABILITY IMAP4rev1] two\r\n"),
	    EXPECT(1, TAG " LOGIN \"bob\" \"secret\"\r\n"),
	    SEND(1, TAG " OK done\r\n") },
	.want = OUT_OK, .client = TAG " OK done\r\n",
}, {
	/* The store did not wait for the literal: its bytes must go. */
	.name = "answer before the synchronising literal", .svc = SVC_IMAP,
	.pass = UTF8_PASS,
	.steps = { ACCEPT(0), SEND(0, "* OK [CAPABILITY IMAP4rev1] hi\r\n"),
	    EXPECT(0, TAG " LOGIN \"bob\" {5}\r\n"),
	    SEND(0, TAG " OK early\r\n"), QUIET(0) },
	.want = OUT_OK, .client = TAG " OK early\r\n",
}, {
	.name = "imap answer for another tag of the same length",
	.svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "x2 OK hi\r\n") },
	.want = OUT_AUTH, .detail = "refused: x2 OK hi",
}, {
	.name = "imap answer for a longer tag", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, TAG "0 OK hi\r\n") },
	.want = OUT_AUTH, .detail = "refused: x10 OK hi",
}, {
	.name = "imap answer for a shorter tag", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "x OK hi\r\n") },
	.want = OUT_AUTH, .detail = "refused: x OK hi",
}, {
	.name = "imap answer for another tag", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "zz9 OK hi\r\n") },
	.want = OUT_AUTH, .detail = "refused: zz9 OK hi",
}, {
	.name = "imap garbage answer", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN " PLAIN_BOB "\r\n"),
	    SEND(0, "xyz\r\n") },
	.want = OUT_AUTH, .detail = "refused: xyz",
}, {
	.name = "imap garbage instead of a continuation", .svc = SVC_IMAP,
	.steps = { ACCEPT(0),
	    SEND(0, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
	    EXPECT(0, TAG " AUTHENTICATE PLAIN\r\n"), SEND(0, "xyz\r\n") },
	.want = OUT_AUTH, .detail = "refused: xyz",
}, {
	.name = "pop3 USER PASS", .svc = SVC_POP,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"), SEND(0, "+OK Logged in.\r\n") },
	.want = OUT_OK, .client = "+OK Logged in.\r\n",
}, {
	.name = "pop3 -ERR at PASS", .svc = SVC_POP,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"), SEND(0, "-ERR [AUTH] nope\r\n") },
	.want = OUT_AUTH, .detail = "refused: -ERR [AUTH] nope",
}, {
	.name = "pop3 [IN-USE] at PASS, verified: spoofed", .svc = SVC_POP,
	.verified = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"),
	    SEND(0, "-ERR [IN-USE] Mailbox is locked\r\n") },
	.want = OUT_SPOOF, .detail = "temporary failure",
}, {
	.name = "pop3 [SYS/TEMP] at PASS, verified: spoofed", .svc = SVC_POP,
	.verified = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"),
	    SEND(0, "-ERR [sys/temp] later\r\n") },
	.want = OUT_SPOOF, .detail = "temporary failure",
}, {
	.name = "pop3 [IN-USE] at PASS, not verified", .svc = SVC_POP,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"),
	    SEND(0, "-ERR [IN-USE] Mailbox is locked\r\n") },
	.want = OUT_AUTH, .detail = "refused: -ERR [IN-USE]",
}, {
	.name = "pop3 [AUTH] at PASS, verified: no spoof", .svc = SVC_POP,
	.verified = 1,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "+OK\r\n"),
	    EXPECT(0, "PASS secret\r\n"),
	    SEND(0, "-ERR x [IN-USE]\r\n") },
	.want = OUT_AUTH, .detail = "refused: -ERR x [IN-USE]",
}, {
	.name = "pop3 -ERR at USER", .svc = SVC_POP,
	.steps = { ACCEPT(0), SEND(0, "+OK hi\r\n"),
	    EXPECT(0, "USER bob\r\n"), SEND(0, "-ERR who\r\n") },
	.want = OUT_AUTH, .detail = "refused: -ERR who",
}, {
	.name = "pop3 -ERR greeting", .svc = SVC_POP,
	.steps = { ACCEPT(0), SEND(0, "-ERR busy\r\n") },
	.want = OUT_STORE, .detail = "greeting is not +OK",
},
};

/* As session.c's. */
int
session_admin_replay(const struct session *s)
{
	return s->certlogin || s->cram != CRAM_NONE;
}

void
session_send_raw(struct session *s, const void *data, size_t len)
{
	(void)s;
	if (buf_add(&rec.client, data, len) == -1)
		tap_diag("client buffer full");
}

/* b (all of its memory) holds the StoreAdmin's PLAIN for user. */
static int
admin_left(const struct buf *b, const char *user)
{
	struct buf	m;
	int		left;

	if (buf_init(&m, 0, 4096) == -1 ||
	    sasl_plain_encode(&m, user, ADMIN, ADMIN_PASS) == -1) {
		tap_diag("admin_left: cannot encode");
		buf_free(&m);
		return 1;
	}
	left = memmem(b->data, b->cap, buf_data(&m), buf_len(&m)) != NULL ||
	    memmem(b->data, b->cap, ADMIN_PASS, strlen(ADMIN_PASS)) != NULL;
	buf_free(&m);
	return left;
}

void
session_login_ok(struct session *s)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	rec.nok++;
	/* Whatever be.out ever held is gone: no password in its memory. */
	rec.passleft = s->be.out.data != NULL && (session_admin_replay(s) ?
	    admin_left(&s->be.out, s->user) : memmem(s->be.out.data,
	    s->be.out.cap, s->pass, strlen(s->pass)) != NULL);
	(void)strlcpy(rec.beaddr, s->be.addr, sizeof(rec.beaddr));
	(void)strlcpy(rec.peer, "none", sizeof(rec.peer));
	if (s->be.fd != -1 &&
	    getpeername(s->be.fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, rec.peer, sizeof(rec.peer));
	buf_reset(&rec.left);
	if (buf_add(&rec.left, buf_data(&s->be.in), buf_len(&s->be.in)) == -1)
		tap_diag("be.in too long to record");
	/* As session_relay_start: the backend's reading ends here. */
	event_del(s->be.ev);
	/* The store's answer waits in be.answer for the relay to send. */
	if (buf_add(&rec.client, buf_data(&s->be.answer),
	    buf_len(&s->be.answer)) == -1)
		tap_diag("answer too long to record");
}

/*
 * The fake mmp-tlsd: the store's socket stays the session's, as if the
 * socketpair end were it; the script reports the handshake (ST_TLS).
 */
int
tls_handoff(struct session *s, int *fdp, enum tls_role role,
    const char *peer, const char *local, const char *servername)
{
	(void)peer;
	(void)local;
	/*
	 * The real mmp-tlsd takes the descriptor away: one still in the
	 * relay's epoll would leave a registration behind for a file the
	 * relay no longer has.
	 */
	if (role == TLS_ROLE_CLIENT && s->be.ev != NULL &&
	    event_pending(s->be.ev, EV_READ | EV_WRITE, NULL))
		watched_handoffs++;
	if (notlsd) {
		close(*fdp);
		*fdp = -1;
		errno = ENOENT;
		return -1;
	}
	rec.handoffs++;
	rec.role = role;
	(void)strlcpy(rec.servername, servername, sizeof(rec.servername));
	s->tlsd = 0;
	s->tlsrole = role;
	return 0;
}

void
tls_pending_clear(struct session *s)
{
	s->tlsd = -1;
}

/* The statistics: the store answered (or failed after the login). */
void
relay_stat_store_latency(const struct session *s)
{
	(void)s;
	rec.nlatency++;
}

void
session_login_failed(struct session *s, enum login_fail why,
    const char *detail)
{
	/* As the real one: the backend is done with (backend.c relies on it). */
	backend_free(&s->be);
	rec.nfail++;
	rec.why = why;
	(void)strlcpy(rec.detail, detail, sizeof(rec.detail));
}

/*
 * spoof.c's decision, as far as backend.c is concerned: a temporary
 * failure of a verified password is spoofed (SpoofTempFail yes).
 */
enum spoof_kind
spoof_wanted(const struct session *s, int temp)
{
	return s->verified && temp ? SPOOF_EMPTY : SPOOF_NONE;
}

void
spoof_start(struct session *s, enum spoof_kind kind, const char *why)
{
	(void)kind;
	backend_free(&s->be);
	rec.nspoof++;
	(void)strlcpy(rec.detail, why, sizeof(rec.detail));
}

void
session_log(struct session *s, int prio, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	(void)s;
	if (!verbose)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_diag("log %d: %s", prio, msg);
}

/* session.c's: the virtual domain of the session's local address. */
int
session_vd(const struct session *s)
{
	return conf_vdomain_find(env->conf, s->svc, s->local);
}

static double
now_sec(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Never NULL, also for a buffer that was never filled. */
static const void *
data_of(const struct buf *b)
{
	return buf_data(b) != NULL ? (const void *)buf_data(b) : "";
}

static void
show(const char *what, const void *p, size_t len)
{
	char	esc[SHOW_BYTES];

	escape_log(p, len, esc, sizeof(esc));
	tap_diag("  %s: \"%s\"", what, esc);
}

static void
store_read(struct store *st)
{
	char	tmp[8192];
	ssize_t	n;

	n = read(st->fd, tmp, sizeof(tmp));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		st->eof = 1;
	else if (buf_add(&st->rx, tmp, n) == -1)
		tap_diag("store received too much");
}

/* One round: the relay's events, then whatever reached the stores. */
static void
pump(struct store *st)
{
	struct pollfd	pfd[STORES_MAX];
	int		i;

	(void)event_base_loop(env->base, EVLOOP_NONBLOCK);
	for (i = 0; i < STORES_MAX; i++) {
		pfd[i].fd = st[i].fd != -1 && !st[i].eof ? st[i].fd : -1;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, STORES_MAX, POLL_MSEC) <= 0)
		return;
	for (i = 0; i < STORES_MAX; i++)
		if (pfd[i].revents != 0)
			store_read(&st[i]);
}

static void
pump_for(struct store *st, double sec)
{
	double	end = now_sec() + sec;

	while (now_sec() < end)
		pump(st);
}

/* A listening socket on host:*port; port 0 picks one and returns it. */
static int
listen_on(const char *host, int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(*port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		tap_diag("listen on %s:%d: %s", host, *port, strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Every store of the script on one port; the port or -1. */
static int
stores_open(const struct script *sc, struct store *st)
{
	const char	*host;
	int		 i, port = 0;

	for (i = 0; i < STORES_MAX; i++) {
		st[i].lfd = st[i].fd = -1;
		st[i].eof = 0;
		if (buf_init(&st[i].rx, 0, RX_MAX_BYTES) == -1)
			return -1;
	}
	for (i = 0; i < STORES_MAX; i++) {
		host = i == 0 && sc->listen[0] == NULL ? "127.0.0.1" :
		    sc->listen[i];
		if (host == NULL)
			break;
		if ((st[i].lfd = listen_on(host, &port)) == -1)
			return -1;
	}
	/* The port was ours a moment ago: now nothing answers there. */
	if (sc->nolisten) {
		close(st[0].lfd);
		st[0].lfd = -1;
	}
	return port;
}

static void
stores_close(struct store *st)
{
	int	i;

	for (i = 0; i < STORES_MAX; i++) {
		if (st[i].lfd != -1)
			close(st[i].lfd);
		if (st[i].fd != -1)
			close(st[i].fd);
		buf_free(&st[i].rx);
	}
}

static int
store_accept(struct store *st, struct store *one)
{
	double	end = now_sec() + WAIT_SEC;

	if (one->lfd == -1)
		return -1;
	while (now_sec() < end) {
		one->fd = accept4(one->lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (one->fd != -1)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		pump(st);
	}
	return -1;
}

/* Waits until the bytes are all there or stop matching. */
static void
store_expect(const struct script *sc, struct store *st, int i,
    const char *want)
{
	struct store	*one = &st[i];
	size_t		 wantlen = strlen(want), got;
	double		 end = now_sec() + WAIT_SEC;
	char		 esc[SHOW_BYTES];

	for (;;) {
		got = buf_len(&one->rx);
		if (got >= wantlen || one->eof || now_sec() >= end ||
		    (got > 0 && memcmp(buf_data(&one->rx), want, got) != 0))
			break;
		pump(st);
	}
	/* More than want stays for the next step; a mismatch shows all. */
	got = buf_len(&one->rx);
	if (got > wantlen && memcmp(buf_data(&one->rx), want, wantlen) == 0)
		got = wantlen;
	escape_log(want, wantlen, esc, sizeof(esc));
	if (tap_is_mem(data_of(&one->rx), got, want, wantlen,
	    "%s: store %d gets \"%s\"", sc->name, i, esc)) {
		buf_drain(&one->rx, got);
		return;
	}
	show("got", data_of(&one->rx), buf_len(&one->rx));
	buf_drain(&one->rx, buf_len(&one->rx));
}

static void
store_quiet(const struct script *sc, struct store *st, int i)
{
	pump_for(st, QUIET_SEC);
	if (!tap_is_int(buf_len(&st[i].rx), 0, "%s: store %d gets nothing "
	    "more for now", sc->name, i))
		show("got", data_of(&st[i].rx), buf_len(&st[i].rx));
	buf_drain(&st[i].rx, buf_len(&st[i].rx));
}

/* All of data, or -1 when the relay went away first. */
static int
store_send(struct store *st, struct store *one, const void *data,
    size_t len)
{
	double	end = now_sec() + WAIT_SEC;
	ssize_t	n;

	while (len > 0 && now_sec() < end) {
		n = send(one->fd, data, len, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			data = (const char *)data + n;
			len -= n;
		}
		pump(st);
	}
	return len == 0 ? 0 : -1;
}

/* n bytes of pattern; the relay may hang up before it took them all. */
static void
store_flood(struct store *st, struct store *one, const char *pattern,
    size_t n)
{
	char	*p;
	size_t	 i, plen;

	if ((p = malloc(n)) == NULL) {
		tap_diag("out of memory");
		return;
	}
	plen = pattern != NULL ? strlen(pattern) : 0;
	for (i = 0; i < n; i++)
		p[i] = plen > 0 ? pattern[i % plen] : 'x';
	(void)store_send(st, one, p, n);
	free(p);
}

/* The relay must not connect to this store, now or a little later. */
static void
store_noconn(const struct script *sc, struct store *st, int i)
{
	struct store	*one = &st[i];
	int		 fd;

	pump_for(st, QUIET_SEC);
	fd = one->lfd != -1 ? accept4(one->lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC) : -1;
	if (fd != -1)
		close(fd);
	tap_ok(fd == -1, "%s: store %d is never contacted", sc->name, i);
}

/* Wait for the handoff, check it, report the handshake's outcome. */
static int
step_tls(const struct script *sc, struct store *st, const struct step *sp)
{
	struct tls_result	r;
	double			end = now_sec() + WAIT_SEC;
	const char		*want;

	while (cur->tlsd == -1 && now_sec() < end)
		pump(st);
	if (!tap_ok(cur->tlsd != -1, "%s: store %d handed to mmp-tlsd",
	    sc->name, sp->st))
		return -1;
	tap_is_int(rec.role, TLS_ROLE_CLIENT, "%s: role CLIENT", sc->name);
	want = sc->mailhost != NULL && strchr(sc->mailhost, ' ') == NULL ?
	    sc->mailhost :
	    sc->addrs[sp->st] != NULL ? sc->addrs[sp->st] : "127.0.0.1";
	tap_is_str(rec.servername, want, "%s: servername", sc->name);
	memset(&r, 0, sizeof(r));
	r.id = cur->id;
	r.status = sp->n;
	(void)strlcpy(r.detail, sp->data != NULL ? sp->data : "",
	    sizeof(r.detail));
	(void)strlcpy(r.version, "TLSv1.3", sizeof(r.version));
	(void)strlcpy(r.cipher, "TLS_AES_256_GCM_SHA384", sizeof(r.cipher));
	tls_pending_clear(cur);
	backend_tls_result(cur, &r);
	return 0;
}

/* One step; -1 when the rest of the script makes no sense. */
static int
step_run(const struct script *sc, struct store *st, const struct step *sp)
{
	struct store	*one = &st[sp->st];

	switch (sp->op) {
	case ST_ACCEPT:
		return tap_ok(store_accept(st, one) == 0, "%s: store %d "
		    "accepts", sc->name, sp->st) ? 0 : -1;
	case ST_EXPECT:
		store_expect(sc, st, sp->st, sp->data);
		break;
	case ST_QUIET:
		store_quiet(sc, st, sp->st);
		break;
	case ST_SEND:
		if (store_send(st, one, sp->data, strlen(sp->data)) == -1)
			tap_diag("%s: store %d could not send", sc->name,
			    sp->st);
		break;
	case ST_FLOOD:
		store_flood(st, one, sp->data, sp->n);
		break;
	case ST_HANGUP:
		close(one->fd);
		one->fd = -1;
		break;
	case ST_NOCONN:
		store_noconn(sc, st, sp->st);
		break;
	case ST_TLS:
		return step_tls(sc, st, sp);
	case ST_END:
		break;
	}
	return 0;
}

static int
conf_setup1(int sect, int key, const char *val)
{
	char	err[256];

	if (conf_set(env->conf, sect, key, val, "backend_test", 3, err,
	    sizeof(err)) == -1) {
		tap_diag("%s", err);
		return -1;
	}
	return 0;
}

static int
conf_setup(const struct script *sc, int port, int timeout)
{
	static const int	 sects[] = { SVC_IMAP, SVC_POP };
	char			 num[16], err[256];
	size_t			 i;

	if ((env->conf = conf_new()) == NULL)
		return -1;
	for (i = 0; i < sizeof(sects) / sizeof(sects[0]); i++) {
		(void)snprintf(num, sizeof(num), "%d", port);
		if (conf_set(env->conf, sects[i], CK_BACKSIDEPORT, num,
		    "backend_test", 1, err, sizeof(err)) == -1) {
			tap_diag("%s", err);
			return -1;
		}
		(void)snprintf(num, sizeof(num), "%d", timeout);
		if (conf_set(env->conf, sects[i], CK_CONNECTTIMEOUT, num,
		    "backend_test", 2, err, sizeof(err)) == -1) {
			tap_diag("%s", err);
			return -1;
		}
		(void)snprintf(num, sizeof(num), "%d", port);
		if ((sc->tlsport && conf_setup1(sects[i], CK_SSLBACKSIDEPORT,
		    num) == -1) || (sc->starttls &&
		    conf_setup1(sects[i], CK_STORESTARTTLS, "yes") == -1))
			return -1;
		/* Set for every script: only a certificate login uses them. */
		if (conf_setup1(sects[i], CK_STOREADMIN, ADMIN) == -1 ||
		    conf_setup1(sects[i], CK_STOREADMINPASS, ADMIN_PASS) == -1)
			return -1;
	}
	return 0;
}

/* The session as session_lookup_result leaves it for backend_start. */
static struct session *
session_setup(const struct script *sc)
{
	struct session	*s;
	int		 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->svc = sc->svc;
	s->state = S_STORE;
	s->fd = -1;
	s->be.fd = -1;
	s->tlsd = -1;
	s->id = 0x1234;
	s->verified = sc->verified;
	if (sc->mailhost != NULL)
		(void)strlcpy(s->mailhost, sc->mailhost, sizeof(s->mailhost));
	(void)strlcpy(s->tag, TAG, sizeof(s->tag));
	(void)strlcpy(s->user, sc->user != NULL ? sc->user : "bob",
	    sizeof(s->user));
	if (sc->cert)
		s->certlogin = 1;	/* no password: s->pass stays "" */
	else if (sc->cram)
		s->cram = sc->cram;	/* no password either */
	else
		(void)strlcpy(s->pass, sc->pass != NULL ? sc->pass : "secret",
		    sizeof(s->pass));
	for (i = 0; i < STORES_MAX && sc->addrs[i] != NULL; i++)
		(void)strlcpy(s->be.addrs[i], sc->addrs[i],
		    sizeof(s->be.addrs[i]));
	if (i == 0)
		(void)strlcpy(s->be.addrs[i++], "127.0.0.1",
		    sizeof(s->be.addrs[0]));
	s->be.naddr = i;
	return s;
}

static const char *
outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_NONE:
		return "none";
	case OUT_OK:
		return "login_ok";
	case OUT_AUTH:
		return "login_failed AUTH";
	case OUT_STORE:
		return "login_failed STORE";
	case OUT_SPOOF:
		return "spoof_start";
	}
	return "?";
}

static void
check_ok(const struct script *sc, int port)
{
	const char	*left = sc->left != NULL ? sc->left : "";
	char		 want[ADDR_TEXT_BYTES];

	if (!tap_is_mem(data_of(&rec.client), buf_len(&rec.client),
	    sc->client, strlen(sc->client), "%s: client gets the answer",
	    sc->name)) {
		show("got", data_of(&rec.client), buf_len(&rec.client));
		show("want", sc->client, strlen(sc->client));
	}
	if (!tap_is_mem(data_of(&rec.left), buf_len(&rec.left), left,
	    strlen(left), "%s: be.in holds only what followed the answer",
	    sc->name))
		show("got", data_of(&rec.left), buf_len(&rec.left));
	(void)snprintf(want, sizeof(want), "%s:%d",
	    sc->addr != NULL ? sc->addr : "127.0.0.1", port);
	tap_is_str(rec.beaddr, want, "%s: be.addr", sc->name);
	tap_is_str(rec.peer, want, "%s: be.fd is connected there", sc->name);
	tap_ok(!rec.passleft, "%s: no copy of the password left in be.out",
	    sc->name);
	tap_is_int(rec.nlatency, 1, "%s: the store's answer time is counted "
	    "once", sc->name);
}

static void
check_failed(const struct script *sc)
{
	char	esc[SHOW_BYTES];

	if (sc->detail != NULL) {
		escape_log(sc->detail, strlen(sc->detail), esc, sizeof(esc));
		if (!tap_ok(strstr(rec.detail, sc->detail) != NULL,
		    "%s: detail has \"%s\"", sc->name, esc))
			show("detail", rec.detail, strlen(rec.detail));
	}
	tap_ok(strcspn(rec.detail, "\r\n") == strlen(rec.detail),
	    "%s: detail is one line", sc->name);
	if (!tap_is_int(buf_len(&rec.client), 0, "%s: client gets nothing "
	    "from the store", sc->name))
		show("got", data_of(&rec.client), buf_len(&rec.client));
}

static void
check_outcome(const struct script *sc, int port, double secs)
{
	enum outcome	got = OUT_NONE;

	if (rec.nok > 0)
		got = OUT_OK;
	else if (rec.nspoof > 0)
		got = OUT_SPOOF;
	else if (rec.nfail > 0)
		got = rec.why == LOGIN_FAIL_AUTH ? OUT_AUTH : OUT_STORE;
	tap_is_str(outcome_name(got), outcome_name(sc->want), "%s: outcome",
	    sc->name);
	tap_is_int(rec.nok + rec.nfail + rec.nspoof, 1, "%s: told once",
	    sc->name);
	if (got == OUT_OK && sc->want == OUT_OK)
		check_ok(sc, port);
	else if (sc->want != OUT_OK)
		check_failed(sc);
	if (sc->maxsec > 0)
		tap_ok(secs < sc->maxsec, "%s: in less than %.1f s (%.2f s)",
		    sc->name, sc->maxsec, secs);
	if (sc->minsec > 0)
		tap_ok(secs >= sc->minsec, "%s: not before %.1f s (%.2f s)",
		    sc->name, sc->minsec, secs);
}

/* No stray bytes at any store; a failed store was hung up on. */
static void
check_stores(const struct script *sc, struct store *st)
{
	double	end;
	int	i;

	for (i = 0; i < STORES_MAX; i++) {
		if (st[i].fd == -1)
			continue;
		if (!tap_is_int(buf_len(&st[i].rx), 0, "%s: store %d gets "
		    "nothing else", sc->name, i))
			show("got", data_of(&st[i].rx), buf_len(&st[i].rx));
		if (sc->want != OUT_STORE)
			continue;
		end = now_sec() + WAIT_SEC;
		while (!st[i].eof && now_sec() < end)
			pump(st);
		tap_ok(st[i].eof, "%s: store %d was hung up on", sc->name, i);
	}
}

static void
run(const struct script *sc)
{
	struct store	 st[STORES_MAX];
	struct session	*s;
	double		 t0, end;
	int		 i, port, timeout;

	timeout = sc->timeout > 0 ? sc->timeout : TIMEOUT_SEC;
	memset(&rec, 0, sizeof(rec));
	if (buf_init(&rec.client, 0, CLIENT_OUT_MAX_BYTES) == -1 ||
	    buf_init(&rec.left, 0, STORE_IN_MAX_BYTES) == -1 ||
	    (port = stores_open(sc, st)) == -1 ||
	    conf_setup(sc, port, timeout) == -1 ||
	    (s = session_setup(sc)) == NULL) {
		tap_ok(0, "%s: set up", sc->name);
		exit(tap_done());
	}
	cur = s;
	notlsd = sc->notlsd;
	t0 = now_sec();
	backend_start(s);
	for (i = 0; i < STEPS_MAX && sc->steps[i].op != ST_END; i++)
		if (step_run(sc, st, &sc->steps[i]) == -1)
			break;
	end = now_sec() + timeout + WAIT_SEC;
	while (rec.nok + rec.nfail == 0 && now_sec() < end)
		pump(st);
	t0 = now_sec() - t0;
	/* Long enough for a second, wrong report to arrive. */
	pump_for(st, 0.1);
	check_outcome(sc, port, t0);
	check_stores(sc, st);
	backend_free(&s->be);
	freezero(s, sizeof(*s));
	stores_close(st);
	conf_free(env->conf);
	env->conf = NULL;
	buf_free(&rec.client);
	buf_free(&rec.left);
}

int
main(int argc, char *argv[])
{
	size_t	i;

	if (argc > 1 && strcmp(argv[1], "-v") == 0)
		verbose = 1;
	/* As in the relay: a store that hung up is an error, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	if ((env->base = event_base_new()) == NULL) {
		tap_ok(0, "event_base_new");
		return tap_done();
	}
	/* As a relay has it: the attempts per store are counted there. */
	if (shm_map(&env->shm, shm_create(), 0) == -1) {
		tap_ok(0, "shared memory");
		return tap_done();
	}
	shm_hiwater(&env->shm, 1);
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		run(&scripts[i]);
	event_base_free(env->base);
	tap_is_int(atomic_load(&shm_section(&env->shm, 0)->stores.head.nused),
	    0, "every connection attempt was uncounted, whatever its end");
	shm_unmap(&env->shm);
	tap_is_int(watched_handoffs, 0, "no store socket is handed to "
	    "mmp-tlsd while the relay still watches it");
	return tap_done();
}
