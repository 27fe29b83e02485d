/*
 * mmp-ldapd: started by the parent with the parent channel on fd 3. It
 * reads its first configuration, confines itself, then answers the relay
 * workers' lookups; reloads and relay channels arrive on fd 3 later.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldap.h>

#include "ldapd.h"
#include "log.h"
#include "lookupmsg.h"
#include "logsink.h"
#include "sandbox.h"

static struct ldapd	*env;

static void	ldapd_exit(int) __attribute__((__noreturn__));
static void	parent_dispatch_all(void);
static void	relay_close(struct relay *);

static void
usage(void)
{
	fprintf(stderr, "usage: mmp-ldapd [-v]\n");
	exit(1);
}

/* ---- logging through the parent --------------------------------- */

static void
parent_want_write(void)
{
	if (imsgbuf_queued(&env->parent.ib) > 0 && env->parent.wev != NULL)
		event_add(env->parent.wev, NULL);
}

/*
 * Log lines go to the parent through lib/logsink.c (bounded, drops
 * reported); a line written at once costs no event loop round.
 */
static void
ldapd_log_want_write(void)
{
	(void)imsgbuf_write(&env->parent.ib);
	parent_want_write();
}

static void
parent_write_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (imsgbuf_write(&env->parent.ib) == -1)
		ldapd_exit(0);		/* the parent is gone */
	logsink_written();
	parent_want_write();
}

/* ---- configuration ---------------------------------------------- */

static void
ldapd_send_ready(void)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->gen);
	if (msg_compose(&env->parent.ib, IMSG_READY, 0, -1, &w) == -1)
		fatal("IMSG_READY");
	(void)imsgbuf_write(&env->parent.ib);
	parent_want_write();
}

/* Each log at the LogLevel of its own file. */
static void
ldapd_log_level(const struct mmp_conf *conf)
{
	conf_log_levels(conf, env->verbose);
}

static void
ldapd_check_restart_keys(const struct mmp_conf *old,
    const struct mmp_conf *new)
{
	static const enum conf_key	 keys[] = { CK_CHROOTDIR, CK_LDAPUSER };
	const struct conf_keyinfo	*ki;
	size_t				 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(conf_str(old, CONF_GLOBAL, keys[i]),
		    conf_str(new, CONF_GLOBAL, keys[i])) == 0)
			continue;
		ki = conf_keyinfo(keys[i]);
		log_warnx("%s changed: mmp-ldapd keeps the old value until "
		    "mmpd is restarted", ki->name);
	}
}

static void
ldapd_conf_conns(const struct mmp_conf *conf)
{
	struct ldap_conn	*nc, *oc;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		nc = conn_new(env, conf, svc);
		oc = env->conn[svc];
		if (oc != NULL && nc != NULL && conn_same(oc, nc)) {
			conn_free(nc);
			continue;
		}
		env->conn[svc] = nc;
		if (oc != NULL) {
			log_svc(svc, LOG_INFO, "%s LDAP settings changed: "
			    "new connection, the old one closes when its "
			    "searches are answered",
			    svc == SVC_POP ? "POP" : "IMAP");
			conn_retire(oc, nc);
		}
		if (env->started)
			conn_start(nc);
	}
}

static void
ldapd_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct mmp_conf	*old = env->conf;

	if (old != NULL)
		ldapd_check_restart_keys(old, conf);
	hosts_finish(&env->newhosts);
	hosts_free(&env->hosts);
	env->hosts = env->newhosts;
	memset(&env->newhosts, 0, sizeof(env->newhosts));
	env->conf = conf;
	env->gen = gen;
	ldapd_log_level(conf);
	ldapd_conf_conns(conf);
	conf_free(old);
	log_info("configuration %u applied (%zu hosts table entries)", gen,
	    env->hosts.n);
	if (env->started)
		ldapd_send_ready();
}

static void
ldapd_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf = NULL;
	uint32_t	 gen;
	char		 err[512];
	int		 r;

	if (imsg->hdr.type == IMSG_CONF_START)
		hosts_free(&env->newhosts);
	r = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (r == -1) {
		hosts_free(&env->newhosts);
		if (env->conf == NULL)
			fatalx("first configuration refused: %s", err);
		log_warnx("configuration refused, the previous one stays: %s",
		    err);
	} else if (r == 1)
		ldapd_conf_apply(conf, gen);
}

/* One HostsFile line; several lines may name the same host. */
static void
ldapd_conf_host(struct imsg *imsg)
{
	struct msg_reader	r;
	char			name[MMP_STR_BYTES], addr[MMP_STR_BYTES];

	msg_reader_init(&r, imsg);
	if (msg_get_str(&r, name, sizeof(name)) == -1 ||
	    msg_get_str(&r, addr, sizeof(addr)) == -1 || msg_end(&r) == -1) {
		log_warnx("parent sent a malformed CONF_HOST");
		return;
	}
	if (env->rx.conf == NULL) {
		log_warnx("parent sent CONF_HOST outside a configuration");
		return;
	}
	if (hosts_add(&env->newhosts, name, addr) == -1)
		log_warnx("hosts table: \"%s\" -> \"%s\" skipped (not a host "
		    "name and a numeric address)", name, addr);
}

/* ---- relays ------------------------------------------------------ */

static void
ldapd_drain_check(void)
{
	struct relay	*r;

	if (!env->draining)
		return;
	if (env->nrelays > 0 && env->nlookups > 0)
		return;
	TAILQ_FOREACH(r, &env->relays, entry)
		if (imsgbuf_queued(&r->p.ib) > 0)
			return;		/* answers still on their way */
	log_info("drained: exiting");
	ldapd_exit(0);
}

static void
relay_close(struct relay *r)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&r->lookups)) != NULL)
		lookup_cancel(lk);
	event_free(r->p.rev);
	event_free(r->p.wev);
	event_free(r->closeev);
	imsgbuf_shutdown(&r->p.ib);
	close(r->p.ib.fd);
	TAILQ_REMOVE(&env->relays, r, entry);
	env->nrelays--;
	free(r);
	ldapd_drain_check();
}

static void
relay_close_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	relay_close(arg);
}

/*
 * IMSG_LOOKUP, read by lib/lookupmsg.c: a name with NUL, CR or LF, or too
 * long, is answered (TEMPFAIL), not taken for garbage. -1: malformed.
 */
static int
relay_lookup(struct relay *r, struct imsg *imsg)
{
	struct lookup_req	rq;

	if (lookup_req_read(imsg, &rq) == -1)
		return -1;
	lookup_start(env, r, rq.reqid, rq.svc, rq.user, rq.userlen,
	    rq.client, rq.local);
	return 0;
}

static int
relay_dispatch(struct relay *r, struct imsg *imsg)
{
	if (imsg->fd != -1) {
		log_warnx("relay %u sent a descriptor: channel closed",
		    r->idx);
		return -1;
	}
	switch (imsg->hdr.type) {
	case IMSG_LOOKUP:
		if (relay_lookup(r, imsg) == -1) {
			log_warnx("relay %u sent a malformed LOOKUP: channel "
			    "closed", r->idx);
			return -1;
		}
		return 0;
	default:
		log_warnx("relay %u sent message type %u: channel closed",
		    r->idx, imsg->hdr.type);
		return -1;
	}
}

static void
relay_read_cb(int fd, short events, void *arg)
{
	struct relay	*r = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 rv;

	(void)fd;
	(void)events;
	if ((n = imsgbuf_read(&r->p.ib)) == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("relay %u: channel closed on read", r->idx);
		else
			log_debug("relay %u closed its channel", r->idx);
		relay_close(r);
		return;
	}
	while (!r->closing && (rv = imsg_get(&r->p.ib, &imsg)) != 0) {
		if (rv == -1) {
			log_warnx("relay %u sent garbage: channel closed",
			    r->idx);
			relay_close(r);
			return;
		}
		rv = relay_dispatch(r, &imsg);
		imsg_free(&imsg);
		if (rv == -1) {
			relay_close(r);
			return;
		}
	}
}

static void
relay_write_cb(int fd, short events, void *arg)
{
	struct relay	*r = arg;

	(void)fd;
	(void)events;
	if (imsgbuf_write(&r->p.ib) == -1) {
		log_warn("relay %u: channel closed on write", r->idx);
		relay_close(r);
		return;
	}
	if (imsgbuf_queued(&r->p.ib) > 0)
		event_add(r->p.wev, NULL);
	else
		ldapd_drain_check();
}

static struct relay *
relay_new(uint32_t idx, int fd)
{
	struct relay	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->idx = idx;
	r->p.env = env;
	TAILQ_INIT(&r->lookups);
	imsgbuf_init(&r->p.ib, fd);
	r->p.rev = event_new(env->evb, fd, EV_READ | EV_PERSIST,
	    relay_read_cb, r);
	r->p.wev = event_new(env->evb, fd, EV_WRITE, relay_write_cb, r);
	r->closeev = event_new(env->evb, -1, 0, relay_close_cb, r);
	if (r->p.rev == NULL || r->p.wev == NULL || r->closeev == NULL ||
	    event_add(r->p.rev, NULL) == -1) {
		if (r->p.rev != NULL)
			event_free(r->p.rev);
		if (r->p.wev != NULL)
			event_free(r->p.wev);
		if (r->closeev != NULL)
			event_free(r->closeev);
		free(r);
		return NULL;
	}
	return r;
}

/*
 * fd = socket to relay idx. Several channels may carry one index for a
 * while: a draining relay keeps its channel while its successor gets a
 * new one. A channel goes away when its relay closes it.
 */
static void
relay_add(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct relay		*r;
	uint32_t		 idx;

	msg_reader_init(&rd, imsg);
	if (imsg->fd == -1 || msg_get_u32(&rd, &idx) == -1 ||
	    msg_end(&rd) == -1) {
		log_warnx("parent sent a malformed RELAY_CHANNEL");
		return;
	}
	if (env->nrelays >= LDAPD_RELAYS_MAX) {
		log_warnx("relay %u: more than %d relay channels; refused",
		    idx, LDAPD_RELAYS_MAX);
		return;
	}
	if (fcntl(imsg->fd, F_SETFL, O_NONBLOCK) == -1 ||
	    (r = relay_new(idx, imsg->fd)) == NULL) {
		log_warn("relay %u: channel", idx);
		return;
	}
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&env->relays, r, entry);
	env->nrelays++;
	log_debug("relay %u: channel open", idx);
}

/* ---- the parent -------------------------------------------------- */

static void
ldapd_drain_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ldapd_drain_check();
}

static void
parent_dispatch(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_END:
		ldapd_conf_imsg(imsg);
		break;
	case IMSG_CONF_HOST:
		ldapd_conf_host(imsg);
		break;
	case IMSG_RELAY_CHANNEL:
		relay_add(imsg);
		break;
	case IMSG_DRAIN:
		log_info("drain requested: exiting when the pending lookups "
		    "are answered");
		env->draining = 1;
		event_active(env->drainev, EV_TIMEOUT, 0);
		break;
	default:
		log_warnx("parent sent unexpected message type %u",
		    imsg->hdr.type);
		break;
	}
}

/* The parent is trusted, but a desynchronised stream is fatal. */
static void
parent_dispatch_all(void)
{
	struct imsg	imsg;
	int		rv;

	while ((rv = imsg_get(&env->parent.ib, &imsg)) != 0) {
		if (rv == -1)
			fatalx("parent sent garbage");
		parent_dispatch(&imsg);
		imsg_free(&imsg);
	}
}

static void
parent_read_cb(int fd, short events, void *arg)
{
	ssize_t	n;

	(void)fd;
	(void)events;
	(void)arg;
	if ((n = imsgbuf_read(&env->parent.ib)) == -1 && errno == EAGAIN)
		return;
	if (n <= 0)
		ldapd_exit(0);		/* the parent is gone */
	parent_dispatch_all();
}

/* Before the sandbox: block on fd 3 until the first configuration. */
static void
ldapd_first_config(void)
{
	struct pollfd	pfd;
	struct imsg	imsg;
	ssize_t		n;
	int		rv;

	while (env->conf == NULL) {
		if ((rv = imsg_get(&env->parent.ib, &imsg)) == -1)
			fatalx("parent sent garbage");
		if (rv == 1) {
			parent_dispatch(&imsg);
			imsg_free(&imsg);
			continue;
		}
		pfd.fd = MMP_CHILD_FD;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			fatal("poll");
		if ((n = imsgbuf_read(&env->parent.ib)) == 0)
			fatalx("parent closed the channel before the "
			    "configuration");
		if (n == -1 && errno != EAGAIN)
			fatal("read from parent");
	}
}

/* ---- start and stop ---------------------------------------------- */

static void
ldapd_exit(int code)
{
	struct relay		*r;
	struct ldap_conn	*c;
	int			 svc;

	env->draining = 0;
	while ((r = TAILQ_FIRST(&env->relays)) != NULL) {
		(void)imsgbuf_write(&r->p.ib);
		relay_close(r);
	}
	for (svc = 0; svc < CONF_NSECT; svc++) {
		conn_free(env->conn[svc]);
		env->conn[svc] = NULL;
	}
	while ((c = TAILQ_FIRST(&env->retiring)) != NULL) {
		TAILQ_REMOVE(&env->retiring, c, entry);
		conn_free(c);
	}
	resolver_free(env);
	hosts_free(&env->hosts);
	hosts_free(&env->newhosts);
	conf_rx_clear(&env->rx);
	conf_free(env->conf);
	(void)imsgbuf_flush(&env->parent.ib);
	log_set_sink(NULL);
	imsgbuf_clear(&env->parent.ib);
	if (env->parent.rev != NULL)
		event_free(env->parent.rev);
	if (env->parent.wev != NULL)
		event_free(env->parent.wev);
	event_free(env->drainev);
	event_base_free(env->evb);
	free(env);
	env = NULL;
	exit(code);
}

/*
 * libldap's process-wide defaults, set before chroot: the first call
 * initialises the library (LDAPNOINIT keeps it from reading ldap.conf).
 */
static void
ldapd_ldap_init(void)
{
	int	v3 = LDAP_VERSION3;

	if (ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v3) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(NULL, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(NULL, LDAP_OPT_RESTART, LDAP_OPT_ON) !=
	    LDAP_OPT_SUCCESS)
		fatalx("libldap: cannot set the default options");
}

static void
ldapd_setup(int verbose)
{
	if ((env = calloc(1, sizeof(*env))) == NULL)
		fatal("calloc");
	env->verbose = verbose;
	TAILQ_INIT(&env->relays);
	TAILQ_INIT(&env->retiring);
	imsgbuf_init(&env->parent.ib, MMP_CHILD_FD);
	env->parent.env = env;
	logsink_init(&env->parent.ib, ldapd_log_want_write);
	/* Lines go to the parent: no syslog socket in the sandbox. */
	closelog();
	if ((env->evb = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	env->parent.rev = event_new(env->evb, MMP_CHILD_FD,
	    EV_READ | EV_PERSIST, parent_read_cb, NULL);
	env->parent.wev = event_new(env->evb, MMP_CHILD_FD, EV_WRITE,
	    parent_write_cb, NULL);
	env->drainev = event_new(env->evb, -1, 0, ldapd_drain_cb, NULL);
	if (env->parent.rev == NULL || env->parent.wev == NULL ||
	    env->drainev == NULL)
		fatalx("event_new failed");
}

static void
ldapd_confine(void)
{
	sandbox_drop(conf_str(env->conf, CONF_GLOBAL, CK_CHROOTDIR),
	    conf_str(env->conf, CONF_GLOBAL, CK_LDAPUSER));
	/*
	 * stdio:  memory, time, the event loop, reads and writes on the
	 *         sockets it holds
	 * inet:   TCP connections to the LDAP servers
	 * dns:    c-ares queries over UDP for mailHost and LDAP host names
	 * recvfd: imsg reads with recvmsg(2); relay channels arrive as fds
	 * sendfd: imsg writes with sendmsg(2); mmp-ldapd passes no fds, but
	 *         seccomp cannot tell a sendmsg with one from one without
	 */
	sandbox_pledge("stdio inet dns recvfd sendfd");
}

int
main(int argc, char *argv[])
{
	int	ch, verbose = 0, svc;

	while ((ch = getopt(argc, argv, "v")) != -1) {
		switch (ch) {
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (fcntl(MMP_CHILD_FD, F_GETFD) == -1) {
		fprintf(stderr, "mmp-ldapd: no parent channel on fd %d: "
		    "mmp-ldapd is started by mmpd\n", MMP_CHILD_FD);
		exit(1);
	}
	/* Before any libldap call: never read ldap.conf or .ldaprc. */
	if (setenv("LDAPNOINIT", "1", 1) == -1)
		exit(1);
	log_init("ldapd", 0, verbose ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);	/* a dead LDAP server is an error */
	signal(SIGHUP, SIG_IGN);	/* the parent sends reloads */
	signal(SIGINT, SIG_IGN);	/* and decides when to stop */
	if (fcntl(MMP_CHILD_FD, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(MMP_CHILD_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd %d", MMP_CHILD_FD);
	ldapd_setup(verbose);
	ldapd_ldap_init();
	ldapd_first_config();
	resolver_init(env);
	ldapd_confine();
	env->started = 1;
	ldapd_send_ready();
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		conn_start(env->conn[svc]);
	if (event_add(env->parent.rev, NULL) == -1)
		fatalx("event_add");
	parent_dispatch_all();		/* what came with the configuration */
	event_base_dispatch(env->evb);
	ldapd_exit(0);
}
