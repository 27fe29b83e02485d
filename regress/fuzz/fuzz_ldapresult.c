/*
 * libFuzzer target for mmp-ldapd's handling of LDAP results: the input is
 * what the directory server sends, as BER, from its first byte. The real
 * conn.c connects (connect(2) below hands it one end of a socketpair
 * instead of TCP), gives the socket to libldap with ldap_init_fd and
 * binds; lookups wait for the bind, then search; everything the harness
 * writes is read by libldap and handled by conn.c (bind answer, notice of
 * disconnection), lookup.c and cram.c (user and certificate entries,
 * references, results), domain.c (the hosted domain's entry and result),
 * then answered to a relay channel made by relays.c.
 *
 * Byte 0 picks the lookups (LK_*: a plain name, a name in a hosted
 * domain, a certificate's search, a CRAM-MD5 login; OPT_TWO: two of them
 * at once), byte 1 how many bytes the server writes at a time (0: all).
 * Message ids are those libldap gives on a fresh connection: the bind 1,
 * the searches from 2 in the order sent (a hosted domain's search, then
 * its user's).
 *
 * Checked beyond the sanitizers: every lookup started gets exactly one
 * answer on the relay channel, and each answer reads back
 * (lookup_answer_read).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "mmp-ldapd/ldapd.h"
#include "log.h"

#define FAKE_PORT	3389	/* LdapUrl's: connect(2) below takes it */
#define LK_PLAIN	0	/* "bob": SearchFormat under the base */
#define LK_DOMAIN	1	/* "bob@example.com": domain tree first */
#define LK_CERT		2	/* a certificate's (uid=bob) search */
#define LK_CRAM		3	/* CRAM-MD5: userPassword asked for */
#define OPT_KIND	0x03
#define OPT_TWO		0x04	/* two lookups at once */
#define PUMP_ROUNDS	64
#define PUMP_MIN_ROUNDS	4	/* chan writes, retried sends: a few passes */
#define CHALLENGE	"<1896.697170952@mmp.example>"
#define CRAM_SECRET	"tanstaaf"

static struct ldapd	 ldapd;
static struct mmp_conf	*conf;
static char		 conf_dir[] = "/tmp/mmpd-fuzz-ldap." "XX" "XX" "XX";
static int		 srv = -1;	/* the server's end of the session */
static int		 relayfd = -1;	/* the relay's end of its channel */
static int		 parentfd = -1;	/* the parent's end of its channel */
static struct imsgbuf	 relaybuf;
static int		 answers;	/* lookup answers the relay got */
static uint8_t		 digest[CRAM_DIGEST_BYTES];

/*
 * libldap's own leaks, found by this harness at once, each surviving
 * ldap_unbind_ext of the handle: an unsolicited notice of disconnection
 * with a diagnostic text leaks that text (ber_scanf into the handle);
 * a bind answered by a message of another type leaks the bind's request
 * record and its BER. mmp-ldapd never calls ber_scanf nor holds request
 * records: it holds the LDAP handle and the LDAPMessages ldap_result
 * returns, which stay checked. The diagnostics of ldap_parse_result are
 * allocated like the notice's text (freed with ldap_memfree): a leak of
 * one of those would hide here too.
 */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

/* liblber has no frame pointers: the slow unwinder sees past it. */
const char *
__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *
__lsan_default_suppressions(void)
{
	return "leak:ber_get_stringa_null\n"
	    "leak:ldap_send_server_request\n"
	    "leak:ldap_alloc_ber_with_options\n"
	    "leak:ldap_build_bind_req\n";
}

/* ldapd.c's, which owns the process: nothing drains here. */
void
ldapd_drain_check(void)
{
}

void
ldapd_exit(int code)
{
	_exit(code);
}

/*
 * The directory: LdapUrl's port gets a socketpair in place of the TCP
 * socket conn.c made (its descriptor number kept, non-blocking); any
 * other address is refused. A reconnect replaces the server's end.
 */
int
connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	/* glibc's transparent union, as <sys/socket.h> declares it */
	const struct sockaddr		*sa = addr.__sockaddr__;
	const struct sockaddr_in	*sin = addr.__sockaddr_in__;
	int				 sv[2];

	if (sa->sa_family != AF_INET || len < sizeof(*sin) ||
	    sin->sin_port != htons(FAKE_PORT)) {
		errno = ECONNREFUSED;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		return -1;
	if (dup3(sv[0], fd, O_CLOEXEC) == -1)
		abort();
	close(sv[0]);
	if (srv != -1)
		close(srv);
	srv = sv[1];
	return 0;
}

/* The parent: audit lines (PreAuth, CRAMs) go there; nothing comes. */
static int
parent_dispatch(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	(void)imsg;
	abort();
}

static void
parent_lost(struct chan *ch, const char *why)
{
	(void)ch;
	(void)why;
	abort();
}

static const struct chan_peer	parent_peer = {
	"parent", parent_dispatch, parent_lost, NULL
};

static void
parent_setup(void)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1 || (ldapd.parent = chan_open(ldapd.evb, sv[0],
	    &parent_peer, NULL)) == NULL)
		abort();
	parentfd = sv[1];
}

/* What the parent got: read and forgotten. */
static void
parent_drain(void)
{
	char	buf[4096];

	while (read(parentfd, buf, sizeof(buf)) > 0)
		;
}

static void
write_file(const char *name, const char *text)
{
	char	path[256];
	int	fd;

	(void)snprintf(path, sizeof(path), "%s/%s", conf_dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void
remove_files(void)
{
	char	path[256];

	(void)snprintf(path, sizeof(path), "%s/AService.cfg", conf_dir);
	unlink(path);
	(void)snprintf(path, sizeof(path), "%s/ImapProxyAService.cfg",
	    conf_dir);
	unlink(path);
	rmdir(conf_dir);
}

/* The configuration as mmpd reads it; no caches: inputs stay apart. */
static void
conf_setup(void)
{
	char	err[512];

	if (mkdtemp(conf_dir) == NULL)
		abort();
	write_file("AService.cfg",
	    "default:ServiceList \"ImapProxyAService@143\"\n");
	write_file("ImapProxyAService.cfg",
	    "default:LdapUrl ldap://127.0.0.1:3389/o=example\n"
	    "default:BindDN \"cn=mmp,o=example\"\n"
	    "default:BindPass secret\n"
	    "default:MailHostAttrs \"mailHost mailRoutingHost\"\n"
	    "default:CRAMs yes\n"
	    "default:StoreAdmin mmpadmin\n"
	    "default:StoreAdminPass admin-pw\n"
	    "default:LdapCacheSize 0\n"
	    "default:AuthCacheSize 0\n");
	conf = conf_load(conf_dir, err, sizeof(err));
	remove_files();
	if (conf == NULL) {
		fprintf(stderr, "fuzz_ldapresult: %s\n", err);
		abort();
	}
}

/* A relay channel, as the parent's IMSG_RELAY_CHANNEL brings it. */
static struct relay *
relay_setup(void)
{
	struct imsg	imsg;
	uint8_t		idx[4] = { 0, 0, 0, 0 };
	int		sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_RELAY_CHANNEL;
	imsg.fd = sv[0];
	imsg.data = idx;
	imsg.datalen = sizeof(idx);
	if (ldapd_relay_add(&ldapd, &imsg) != CHAN_OK || imsg.fd != -1)
		abort();
	relayfd = sv[1];
	imsgbuf_init(&relaybuf, relayfd);
	return TAILQ_FIRST(&ldapd.relays);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 1, LOG_CRIT);
	/* As the daemons: a write to a peer gone is EPIPE, not death. */
	(void)signal(SIGPIPE, SIG_IGN);
	conf_setup();
	if ((ldapd.evb = event_base_new()) == NULL)
		abort();
	parent_setup();
	TAILQ_INIT(&ldapd.retiring);
	TAILQ_INIT(&ldapd.relays);
	ldapd.conf = conf;
	ldapd.gen = 1;
	ldapd.started = 1;
	if (hosts_add(&ldapd.hosts, "store.example", "192.0.2.1") == -1)
		abort();
	hosts_finish(&ldapd.hosts);
	if (cram_digest(CRAM_MD5, CHALLENGE, CRAM_SECRET,
	    strlen(CRAM_SECRET), digest) == -1)
		abort();
	return 0;
}

static void
lookup_one(struct relay *r, int kind, uint64_t reqid)
{
	struct lookup_req	rq;

	switch (kind) {
	case LK_PLAIN:
		lookup_start(&ldapd, r, reqid, reqid, SVC_IMAP, "bob", 3,
		    "192.0.2.7:40001", "127.0.0.1:143", NULL, 0, NULL);
		break;
	case LK_DOMAIN:
		lookup_start(&ldapd, r, reqid, reqid, SVC_IMAP,
		    "bob@example.com", 15, "192.0.2.7:40001",
		    "127.0.0.1:143", NULL, 0, NULL);
		break;
	case LK_CERT:
		lookup_cert_start(&ldapd, r, reqid, reqid, SVC_IMAP, -1,
		    "certificate", "CN=Bob,O=Example", NULL, "(uid=bob)");
		break;
	case LK_CRAM:
		memset(&rq, 0, sizeof(rq));
		rq.cram = CRAM_MD5;
		(void)strlcpy(rq.challenge, CHALLENGE, sizeof(rq.challenge));
		memcpy(rq.digest, digest, sizeof(rq.digest));
		(void)strlcpy(rq.client, "192.0.2.7:40001", sizeof(rq.client));
		lookup_start(&ldapd, r, reqid, reqid, SVC_IMAP, "bob", 3,
		    rq.client, "127.0.0.1:143", NULL, 0, &rq);
		break;
	}
}

/* What reached the relay: each a lookup answer that reads back. */
static void
relay_read(void)
{
	struct lookup_answer	a;
	struct imsg		imsg;
	ssize_t			n;
	int			r;

	while ((n = imsgbuf_read(&relaybuf)) > 0)
		;
	while ((r = imsg_get(&relaybuf, &imsg)) == 1) {
		if (imsg.hdr.type != IMSG_LOOKUP_RESULT ||
		    lookup_answer_read(&imsg, &a) == -1)
			abort();
		answers++;
		imsg_free(&imsg);
	}
	if (r == -1)
		abort();
}

/* What libldap sent (bind, searches, abandons): read and forgotten. */
static void
server_drain(void)
{
	char	buf[4096];

	while (srv != -1 && read(srv, buf, sizeof(buf)) > 0)
		;
}

/* Bytes the server wrote that mmp-ldapd's socket still holds. */
static int
unread(void)
{
	struct ldap_conn	*c = ldapd.conn[SVC_IMAP];
	int			 n = 0;

	return c != NULL && c->fd != -1 && ioctl(c->fd, FIONREAD, &n) == 0 ?
	    n : 0;
}

/* The loop until all is read, answers and audit lines written. */
static void
pump(void)
{
	int	i;

	for (i = 0; i < PUMP_ROUNDS; i++) {
		server_drain();
		if (event_base_loop(ldapd.evb, EVLOOP_NONBLOCK) == -1)
			abort();
		relay_read();
		parent_drain();
		if (i >= PUMP_MIN_ROUNDS && unread() == 0)
			break;
	}
}

static void
server_write(const uint8_t *p, size_t len)
{
	ssize_t	n;
	int	stuck = 0;

	while (len > 0 && srv != -1 && stuck < PUMP_ROUNDS) {
		if ((n = write(srv, p, len)) == -1) {
			if (errno != EAGAIN)
				return;
			stuck++;
		} else {
			p += n;
			len -= n;
		}
		pump();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ldap_conn	*c;
	struct relay		*r;
	size_t			 chunk, n;
	int			 kind, nlookups;

	if (size < 2)
		return 0;
	kind = data[0] & OPT_KIND;
	nlookups = (data[0] & OPT_TWO) ? 2 : 1;
	chunk = data[1] == 0 ? size : data[1];
	data += 2;
	size -= 2;
	answers = 0;

	r = relay_setup();
	if ((c = conn_new(&ldapd, conf, SVC_IMAP, -1)) == NULL)
		abort();
	ldapd.conn[SVC_IMAP] = c;
	conn_start(c);
	lookup_one(r, kind, 1);
	if (nlookups == 2)
		lookup_one(r, kind == LK_CERT ? LK_PLAIN : kind, 2);
	pump();
	for (; size > 0; data += n, size -= n) {
		n = size < chunk ? size : chunk;
		server_write(data, n);
	}
	/* The server hangs up; what is still open fails with the conn. */
	if (srv != -1)
		close(srv);
	srv = -1;
	pump();
	conn_free(c);
	ldapd.conn[SVC_IMAP] = NULL;
	if (srv != -1)
		close(srv);
	srv = -1;
	pump();
	if (answers != nlookups)
		abort();	/* a lookup lost, or answered twice */
	ldapd_relay_close(r);
	imsgbuf_clear(&relaybuf);
	close(relayfd);
	relayfd = -1;
	return 0;
}
