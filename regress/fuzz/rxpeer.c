/*
 * The peers' side of the imsg receiver harnesses (rxpeer.h): socketpairs,
 * the harness's own event base, the fixed configuration, the input split
 * into messages, and the hook that keeps a child's broken parent channel
 * from ending the fuzzer.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "confmsg.h"
#include "imsg.h"
#include "log.h"
#include "logsink.h"
#include "msg.h"
#include "rxpeer.h"

#define RX_PUMP_ROUNDS	4	/* request, answer, and what follows */

static struct event_base	*rx_hbase;
static char			 rx_dir[] = "/tmp/mmpd-fuzz-rx." "XX" "XX" "XX";

static struct {
	struct chan		**parentp;
	struct rx_child		 *child;
	const struct chan_peer	 *peer;
	void			 *arg;
	struct event_base	 *base;
	int			  lost;
} rx_parent;

static const char *const rx_files[][2] = {
	{ "AService.cfg",
	    "default:ServiceList \"ImapProxyAService@127.0.0.1:1143 "
	    "PopProxyAService@127.0.0.1:1110\"\n"
	    "default:Workers 1\n"
	    "default:LogLevel 3\n"
	    "default:HostsFile /etc/hosts\n" },
	{ "ImapProxyAService.cfg",
	    "default:LdapUrl ldap://127.0.0.1:1/o=fuzz\n"
	    "default:BindDN cn=admin,o=fuzz\n"
	    "default:BindPass secret\n"
	    "default:SearchFormat (uid=%s)\n"
	    "default:HostedDomains no\n"
	    "default:PreAuth yes\n"
	    "default:ClientLookup yes\n"
	    "default:StoreNetworks 127.0.0.0/8\n"
	    "default:BacksidePort 143\n"
	    "default:AuthFailureDelay 0\n"
	    "default:ConnLimits 0.0.0.0|0.0.0.0:20\n" },
	{ "PopProxyAService.cfg",
	    "default:LdapUrl ldap://127.0.0.1:1/o=fuzz\n"
	    "default:BindDN cn=admin,o=fuzz\n"
	    "default:BindPass secret\n"
	    "default:SearchFormat (uid=%s)\n"
	    "default:HostedDomains no\n"
	    "default:StoreNetworks 127.0.0.0/8\n"
	    "default:BacksidePort 110\n"
	    "default:AuthService yes\n"
	    "default:AuthFailureDelay 0\n" },
};
#define RX_NFILES	(sizeof(rx_files) / sizeof(rx_files[0]))

static void	rx_child_peers(struct rx_child *);

static void
rx_die(const char *what)
{
	fprintf(stderr, "rxpeer: %s: %s\n", what, strerror(errno));
	abort();
}

/* Log lines of the harness process: formatted, then dropped. */
static void
rx_log_drop(int svc, int prio, uint64_t ms, const char *line)
{
	(void)svc;
	(void)prio;
	(void)ms;
	(void)line;
}

static void
rx_cleanup(void)
{
	char	path[256];
	size_t	i;

	for (i = 0; i < RX_NFILES; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", rx_dir,
		    rx_files[i][0]);
		(void)unlink(path);
	}
	(void)rmdir(rx_dir);
}

static void
rx_write_conf(void)
{
	char	 path[256];
	FILE	*f;
	size_t	 i;

	if (mkdtemp(rx_dir) == NULL)
		rx_die("mkdtemp");
	atexit(rx_cleanup);
	for (i = 0; i < RX_NFILES; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", rx_dir,
		    rx_files[i][0]);
		if ((f = fopen(path, "w")) == NULL ||
		    fputs(rx_files[i][1], f) == EOF || fclose(f) == EOF)
			rx_die(path);
	}
}

void
rx_init(void)
{
	int	fd;

	/* Kept for the child's parent channel (rx_end_open_child). */
	if (fcntl(MMP_CHILD_FD, F_GETFD) == -1 &&
	    ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    (fd != MMP_CHILD_FD && dup2(fd, MMP_CHILD_FD) == -1)))
		rx_die("fd 3");
	(void)signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", 0, LOG_CRIT);
	log_set_sink(rx_log_drop);
	if ((rx_hbase = event_base_new()) == NULL)
		rx_die("event_base_new");
	rx_write_conf();
}

struct mmp_conf *
rx_conf(void)
{
	struct mmp_conf	*conf;
	char		 err[512];

	if ((conf = conf_load(rx_dir, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rxpeer: test configuration: %s\n", err);
		abort();
	}
	return conf;
}

const struct mmp_conf *
rx_conf_shared(void)
{
	static struct mmp_conf	*conf;

	if (conf == NULL)
		conf = rx_conf();
	return conf;
}

/* What the process sends: counted and dropped (imsg_free closes fds). */
static int
rx_dispatch(struct chan *ch, struct imsg *imsg)
{
	struct rx_end	*e = chan_arg(ch);

	e->nrecv++;
	memset(e->last, 0, sizeof(e->last));
	if (imsg->datalen > 0)
		memcpy(e->last, imsg->data, imsg->datalen < sizeof(e->last) ?
		    imsg->datalen : sizeof(e->last));
	return CHAN_OK;
}

/* The process closed its end, or sent what lib/chan.c refuses. */
static void
rx_lost(struct chan *ch, const char *why)
{
	struct rx_end	*e = chan_arg(ch);

	(void)why;
	chan_close(ch);
	e->ch = NULL;
}

static const struct chan_peer rx_peer = { "process", rx_dispatch, rx_lost,
    NULL };

int
rx_end_open(struct rx_end *e, const char *name)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		rx_die("socketpair");
	e->name = name;
	e->nrecv = 0;
	if ((e->ch = chan_open(rx_hbase, sp[0], &rx_peer, e)) == NULL)
		rx_die("chan_open");
	return sp[1];
}

void
rx_end_open_child(struct rx_end *e)
{
	int	fd;

	fd = rx_end_open(e, "parent");
	if (fd != MMP_CHILD_FD) {
		if (dup2(fd, MMP_CHILD_FD) == -1)
			rx_die("dup2");
		close(fd);
	}
}

void
rx_end_close(struct rx_end *e)
{
	if (e->ch != NULL)
		chan_close(e->ch);
	e->ch = NULL;
}

/* A socket for a message that carries one: its twin is closed. */
static int
rx_spare_fd(void)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		rx_die("socketpair");
	close(sp[1]);
	return sp[0];
}

void
rx_send_fd(struct rx_end *e, uint32_t type, const void *data, size_t len,
    int fd)
{
	if (e->ch == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (len > IMSG_MAX_BYTES - IMSG_HEADER_BYTES)
		len = IMSG_MAX_BYTES - IMSG_HEADER_BYTES;
	if (chan_compose(e->ch, type, 0, fd, len > 0 ? data : NULL, len) ==
	    -1)
		rx_die("chan_compose");
}

void
rx_send(struct rx_end *e, uint32_t type, const void *data, size_t len,
    int flipfd)
{
	rx_send_fd(e, type, data, len, msg_type_has_fd(type) != flipfd ?
	    rx_spare_fd() : -1);
}

void
rx_flush(struct rx_end *e)
{
	if (e->ch != NULL && chan_flush(e->ch) == -1)
		rx_die("chan_flush");
}

void
rx_send_msg(struct rx_end *e, const struct rx_msg *m)
{
	static uint8_t	buf[IMSG_MAX_BYTES];

	if (!m->echo || m->len < sizeof(e->last)) {
		rx_send(e, m->type, m->data, m->len, m->flipfd);
		return;
	}
	memcpy(buf, m->data, m->len);
	memcpy(buf, e->last, sizeof(e->last));
	rx_send(e, m->type, buf, m->len, m->flipfd);
}

int
rx_next(const uint8_t **p, size_t *left, struct rx_msg *m)
{
	size_t	len;

	if (*left < 4)
		return 0;
	m->end = (*p)[0] & 0x0f;
	m->flipfd = ((*p)[0] & 0x80) != 0;
	m->echo = ((*p)[0] & 0x40) != 0;
	m->type = (*p)[1];
	len = (size_t)(*p)[2] | (size_t)(*p)[3] << 8;
	*p += 4;
	*left -= 4;
	if (len > *left)
		len = *left;
	m->data = *p;
	m->len = len;
	*p += len;
	*left -= len;
	/* The bytes are used up either way; the message has what fits. */
	if (m->len > IMSG_MAX_BYTES - IMSG_HEADER_BYTES)
		m->len = IMSG_MAX_BYTES - IMSG_HEADER_BYTES;
	return 1;
}

/* The child's new parent channel, where a real one would be restarted. */
static void
rx_parent_reopen(void)
{
	int	fd;

	rx_parent.lost = 0;
	rx_end_close(&rx_parent.child->ends[0]);
	fd = rx_end_open(&rx_parent.child->ends[0], "parent");
	if ((*rx_parent.parentp = chan_open(rx_parent.base, fd,
	    rx_parent.peer, rx_parent.arg)) == NULL)
		rx_die("chan_open");
	logsink_init(*rx_parent.parentp);
	rx_child_conf(rx_parent.child);
	rx_child_peers(rx_parent.child);
}

void
rx_pump(struct event_base *base)
{
	int	i;

	for (i = 0; i < RX_PUMP_ROUNDS; i++) {
		(void)event_base_loop(rx_hbase, EVLOOP_NONBLOCK);
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		if (rx_parent.lost)
			rx_parent_reopen();
	}
	(void)event_base_loop(rx_hbase, EVLOOP_NONBLOCK);
}

/*
 * lib/chan.c's fuzz hook: the parent channel's lost function would end
 * the process (exit, fatalx). Everything else is the real lost function's.
 */
static int
rx_chan_lost(struct chan *ch, const char *why)
{
	(void)why;
	if (rx_parent.parentp == NULL || ch != *rx_parent.parentp)
		return 0;
	rx_parent.peer = chan_fuzz_peer(ch);
	rx_parent.arg = chan_arg(ch);
	rx_parent.base = chan_base(ch);
	logsink_init(NULL);
	log_set_sink(rx_log_drop);
	chan_close(ch);
	*rx_parent.parentp = NULL;
	rx_parent.lost = 1;
	/* Nothing else of the process runs without its parent channel. */
	(void)event_base_loopbreak(rx_parent.base);
	return 1;
}

static const uint32_t	rx_relay_index[] = { 0, 1 };
const struct rx_peer	rx_svc_peers[RX_SVC_ENDS] = {
	[RX_SVC_RELAY0] = { "relay", IMSG_RELAY_CHANNEL,
	    &rx_relay_index[0], sizeof(rx_relay_index[0]) },
	[RX_SVC_RELAY1] = { "relay", IMSG_RELAY_CHANNEL,
	    &rx_relay_index[1], sizeof(rx_relay_index[1]) },
	[RX_SVC_STATS] = { "stats", IMSG_STATS_CHANNEL, NULL, 0 },
};

void
rx_child_conf(struct rx_child *c)
{
	struct chan	*ch = c->ends[0].ch;

	c->gen++;
	if (conf_send_begin(ch, rx_conf_shared(), c->gen, c->dest) == -1 ||
	    conf_send_end(ch, c->gen) == -1)
		abort();
}

/* The parent's channel to each peer, again where one was closed. */
static void
rx_child_peers(struct rx_child *c)
{
	const struct rx_peer	*p;
	unsigned int		 i;
	int			 fd;

	for (i = 1; i < c->nends; i++) {
		if (c->ends[i].ch != NULL)
			continue;
		p = &c->peers[i];
		fd = rx_end_open(&c->ends[i], p->name);
		rx_send_fd(&c->ends[0], p->type, p->data, p->len, fd);
	}
}

void
rx_child_started(struct rx_child *c, struct chan **parentp,
    struct event_base *base)
{
	rx_parent.parentp = parentp;
	rx_parent.child = c;
	chan_fuzz_lost = rx_chan_lost;
	rx_child_peers(c);
	rx_pump(base);
}

void
rx_child_ready(struct rx_child *c, struct event_base *base)
{
	if (c->conf_touched)
		rx_child_conf(c);
	c->conf_touched = 0;
	rx_child_peers(c);
	rx_pump(base);
}

void
rx_child_feed(struct rx_child *c, struct event_base *base,
    const uint8_t *data, size_t size)
{
	struct rx_msg	 m;
	const uint32_t	*t;

	while (rx_next(&data, &size, &m)) {
		m.end %= c->nends;
		if (c->skip != NULL && c->skip(&m))
			continue;
		for (t = c->conf_types; m.end == 0 && *t != IMSG_NONE; t++)
			if (m.type == *t)
				c->conf_touched = 1;
		rx_send_msg(&c->ends[m.end], &m);
		rx_pump(base);
	}
}


/*
 * A network namespace of its own with loopback up: what the process
 * connects to (a fuzzed LdapUrl, a PreAuth bind) is on this host or
 * nowhere. As root, or in a user namespace of our own.
 */
void
rx_isolate(void)
{
	struct ifreq	ifr;
	int		s;

	if (unshare(CLONE_NEWNET) == -1 &&
	    unshare(CLONE_NEWUSER | CLONE_NEWNET) == -1)
		rx_die("unshare: no network namespace, no fuzzing of a "
		    "process that connects out");
	memset(&ifr, 0, sizeof(ifr));
	(void)strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		rx_die("lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
		rx_die("lo up");
	close(s);
}
