/*
 * mmp-ldapd: started by the parent with the parent channel on fd 3. It
 * reads its first configuration, confines itself, then answers the relay
 * workers' lookups; reloads and relay channels arrive on fd 3 later.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <fcntl.h>
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
static int	ldapd_dispatch_parent(struct chan *, struct imsg *);
static void	ldapd_lost_parent(struct chan *, const char *);
static void	ldapd_parent_drained(struct chan *);
static int	ldapd_dispatch_relay(struct chan *, struct imsg *);
static void	ldapd_lost_relay(struct chan *, const char *);
static void	ldapd_relay_drained(struct chan *);
static void	ldapd_relay_close(struct relay *);

enum ldapd_peer {
	LDAPD_PARENT,
	LDAPD_RELAY,
};

/* mmp-ldapd's peers: the parent, and each relay on a channel it hands us. */
static const struct chan_peer ldapd_peers[] = {
	[LDAPD_PARENT] = { "parent", ldapd_dispatch_parent, ldapd_lost_parent,
	    ldapd_parent_drained },
	[LDAPD_RELAY] = { "relay", ldapd_dispatch_relay, ldapd_lost_relay,
	    ldapd_relay_drained },
};

static void
usage(void)
{
	fprintf(stderr, "usage: mmp-ldapd [-v]\n");
	exit(1);
}

/* ---- configuration ---------------------------------------------- */

static void
ldapd_send_ready(void)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->gen);
	if (chan_compose_msg(env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatal("IMSG_READY");
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

/*
 * The connections of svc's virtual domains that set their own directory
 * settings: an old one with the same settings stays (whatever its index
 * was), the others retire, their waiting lookups going to the domain's
 * new connection or the service's.
 */
static void
ldapd_conf_vdconns(const struct mmp_conf *conf, int svc)
{
	struct ldap_conn	**nv = NULL, **ov = env->vdconn[svc], *nc;
	size_t			  n = conf->nvd[svc], on = env->nvdconn[svc];
	size_t			  i, j;

	if (n > 0 && (nv = calloc(n, sizeof(*nv))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		if ((nc = conn_new(env, conf, svc, (int)i)) == NULL)
			continue;
		for (j = 0; j < on; j++)
			if (ov[j] != NULL && conn_same(ov[j], nc))
				break;
		if (j < on) {
			conn_free(nc);
			nv[i] = ov[j];
			nv[i]->vd = (int)i;
			ov[j] = NULL;
			continue;
		}
		nv[i] = nc;
		log_svc(svc, LOG_INFO, "%s virtual domain %s: LDAP connection "
		    "of its own", svc_name(svc), conf->vd[svc][i].name);
		if (env->started)
			conn_start(nc);
	}
	for (j = 0; j < on; j++)
		if (ov[j] != NULL)
			conn_retire(ov[j], j < n && nv[j] != NULL ? nv[j] :
			    env->conn[svc]);
	free(ov);
	env->vdconn[svc] = nv;
	env->nvdconn[svc] = n;
}

/*
 * The virtual domains' own caches of svc go (with the service's). */
static void
ldapd_vdcaches_free(int svc)
{
	size_t	i;

	for (i = 0; i < env->nvdcaches[svc]; i++)
		dircache_free(env->vdcaches[svc][i]);
	free(env->vdcaches[svc]);
	env->vdcaches[svc] = NULL;
	env->nvdcaches[svc] = 0;
}

/* Caches of their own for the virtual domains that ask for them. */
static void
ldapd_vdcaches_new(const struct mmp_conf *conf, int svc)
{
	size_t	i, n = conf->nvd[svc];

	if (n == 0)
		return;
	if ((env->vdcaches[svc] = calloc(n, sizeof(*env->vdcaches[svc]))) ==
	    NULL)
		fatal("%s", __func__);
	env->nvdcaches[svc] = n;
	for (i = 0; i < n; i++)
		if (dircache_vd_own(conf, svc, (int)i))
			env->vdcaches[svc][i] = dircache_conf(conf, svc,
			    (int)i, ++env->cachegen);
}

/*
 * A service's caches (and its virtual domains' own) stay over a reload
 * that changes none of its directory settings (its LDAP connection,
 * SearchFormat, the cache sizes and TTLs, PreAuth, its virtual domains);
 * otherwise they go, and new ones start empty.
 */
static void
ldapd_conf_caches(const struct mmp_conf *old, const struct mmp_conf *conf,
    int svc, int connchanged)
{
	struct dir_caches	*dc = env->caches[svc];

	if (dc != NULL && !connchanged && old != NULL &&
	    dircache_same_conf(old, conf, svc))
		return;
	if (dc != NULL)
		log_svc(svc, LOG_NOTICE, "%s directory settings changed: "
		    "its LdapCache and AuthCache start empty", svc_name(svc));
	dircache_free(dc);
	ldapd_vdcaches_free(svc);
	env->caches[svc] = NULL;
	if (env->conn[svc] != NULL) {
		env->caches[svc] = dircache_conf(conf, svc, -1,
		    ++env->cachegen);
		ldapd_vdcaches_new(conf, svc);
	}
}

static void
ldapd_conf_conns(const struct mmp_conf *old, const struct mmp_conf *conf)
{
	struct ldap_conn	*nc, *oc;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		ldaptls_load(env, conf, svc);
		nc = conn_new(env, conf, svc, -1);
		oc = env->conn[svc];
		if (oc != NULL && nc != NULL && conn_same(oc, nc)) {
			conn_free(nc);
			ldapd_conf_caches(old, conf, svc, 0);
			continue;
		}
		env->conn[svc] = nc;
		ldapd_conf_caches(old, conf, svc, 1);
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
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		ldapd_conf_vdconns(conf, svc);
}

/* Each cache's counters, at each reload and at the end. */
static void
ldapd_log_caches(void)
{
	const struct mmp_conf	*conf = env->conf;
	char			 who[CONF_VDNAME_BYTES + 8];
	size_t			 i;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		dircache_log(env->caches[svc], svc, svc_name(svc));
		for (i = 0; i < env->nvdcaches[svc]; i++) {
			if (env->vdcaches[svc][i] == NULL)
				continue;
			(void)snprintf(who, sizeof(who), "%s %s", svc_name(svc),
			    conf != NULL && i < conf->nvd[svc] ?
			    conf->vd[svc][i].name : "?");
			dircache_log(env->vdcaches[svc][i], svc, who);
		}
	}
}

/* The timeouts counted since the start, at each reload and at the end. */
static void
ldapd_log_timeouts(void)
{
	int	svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (env->conn[svc] != NULL)
			log_svc(svc, LOG_NOTICE, "%s LDAP operations without "
			    "an answer within LdapTimeout since start: %llu "
			    "searches, %llu binds or StartTLS",
			    svc == SVC_POP ? "POP" : "IMAP",
			    env->search_timeouts[svc],
			    env->bind_timeouts[svc]);
}

static void
ldapd_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct mmp_conf	*old = env->conf;

	if (old != NULL) {
		ldapd_check_restart_keys(old, conf);
		ldapd_log_timeouts();
		ldapd_log_caches();
	}
	hosts_finish(&env->newhosts);
	hosts_free(&env->hosts);
	env->hosts = env->newhosts;
	memset(&env->newhosts, 0, sizeof(env->newhosts));
	env->conf = conf;
	env->gen = gen;
	ldapd_log_level(conf);
	ldapd_conf_conns(old, conf);
	conf_free(old);
	log_info("configuration %u applied (%zu hosts table entries)", gen,
	    env->hosts.n);
	if (env->started)
		ldapd_send_ready();
}

/*
 * The parent checked the configuration with the same code: one refused
 * here means a stream not to be trusted (the parent restarts us).
 */
static int
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
		log_warnx("configuration from parent refused: %s", err);
		return CHAN_BAD;
	}
	if (r == 1)
		ldapd_conf_apply(conf, gen);
	return CHAN_OK;
}

/*
 * IMSG_CONF_HOST: str name, str address, inside a configuration. One
 * HostsFile line; several lines may name the same host. A name the
 * parent took and we do not is skipped, not a broken protocol.
 */
static int
ldapd_conf_host(struct imsg *imsg)
{
	struct msg_reader	r;
	char			name[MMP_STR_BYTES], addr[MMP_STR_BYTES];

	msg_reader_init(&r, imsg);
	if (msg_get_str(&r, name, sizeof(name)) == -1 ||
	    msg_get_str(&r, addr, sizeof(addr)) == -1 || msg_end(&r) == -1 ||
	    env->rx.conf == NULL)
		return CHAN_BAD;
	if (hosts_add(&env->newhosts, name, addr) == -1)
		log_warnx("hosts table: \"%s\" -> \"%s\" skipped (not a host "
		    "name and a numeric address)", name, addr);
	return CHAN_OK;
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
		if (chan_queued(r->chan) > 0)
			return;		/* answers still on their way */
	log_info("drained: exiting");
	ldapd_exit(0);
}

/* What it still had queued, read or unread, is dropped (chan_close). */
static void
ldapd_relay_close(struct relay *r)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&r->lookups)) != NULL)
		lookup_cancel(lk);
	chan_close(r->chan);
	event_free(r->closeev);
	TAILQ_REMOVE(&env->relays, r, entry);
	env->nrelays--;
	free(r);
	ldapd_drain_check();
}

static void
ldapd_relay_close_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	ldapd_relay_close(arg);
}

/*
 * IMSG_LOOKUP, read by lib/lookupmsg.c: a name with NUL, CR or LF, or too
 * long, is answered (TEMPFAIL), not taken for garbage. -1: malformed.
 */
static int
ldapd_relay_lookup(struct relay *r, struct imsg *imsg)
{
	struct lookup_req	rq;

	if (lookup_req_read(imsg, &rq) == -1) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	/*
	 * A bind when the relay asks for one (its PreAuth) and this
	 * process's PreAuth (of the session's virtual domain) says so too;
	 * an empty password is refused unbound. Either one without the
	 * other (a reload applied here and there a moment apart) is a
	 * lookup: the store checks the password. A CRAM carries a digest
	 * instead (cram.c), never a password.
	 */
	lookup_start(env, r, rq.reqid, rq.sid, rq.svc, rq.user, rq.userlen,
	    rq.client, rq.local, rq.preauth && (rq.svc == SVC_IMAP ||
	    rq.svc == SVC_POP) && conf_vnum(env->conf, rq.svc,
	    conf_vdomain_find(env->conf, rq.svc, rq.local), CK_PREAUTH) ?
	    rq.pass : NULL, rq.passlen,
	    rq.cram != CRAM_NONE ? &rq : NULL);
	explicit_bzero(&rq, sizeof(rq));
	return 0;
}

/* A relay: lookups, certificates. A channel being closed is read no further. */
static int
ldapd_dispatch_relay(struct chan *ch, struct imsg *imsg)
{
	struct relay	*r = chan_arg(ch);

	if (r->closing)
		return CHAN_OK;
	switch (imsg->hdr.type) {
	case IMSG_LOOKUP:
		return ldapd_relay_lookup(r, imsg);
	case IMSG_CERTMAP:
		return certmap_request(env, r, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* A relay that left or broke the protocol loses its channel, only it. */
static void
ldapd_lost_relay(struct chan *ch, const char *why)
{
	struct relay	*r = chan_arg(ch);

	if (why == NULL)
		log_debug("relay %u closed its channel", r->idx);
	else
		log_warnx("relay %u %s: channel closed", r->idx, why);
	ldapd_relay_close(r);
}

/* Its answers are out: a draining mmp-ldapd may be done. */
static void
ldapd_relay_drained(struct chan *ch)
{
	(void)ch;
	ldapd_drain_check();
}

/* NULL on failure; fd stays the caller's then. */
static struct relay *
ldapd_relay_new(uint32_t idx, int fd)
{
	struct relay	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->idx = idx;
	TAILQ_INIT(&r->lookups);
	r->closeev = event_new(env->evb, -1, 0, ldapd_relay_close_cb, r);
	if (r->closeev == NULL || (r->chan = chan_open(env->evb, fd,
	    &ldapd_peers[LDAPD_RELAY], r)) == NULL) {
		if (r->closeev != NULL)
			event_free(r->closeev);
		free(r);
		return NULL;
	}
	return r;
}

/*
 * IMSG_RELAY_CHANNEL: fd = socket to relay idx; u32 idx. Several
 * channels may carry one index for a while: a draining relay keeps its
 * channel while its successor gets a new one. A channel goes away when
 * its relay closes it. One too many is refused, not a broken protocol.
 */
static int
ldapd_relay_add(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct relay		*r;
	uint32_t		 idx;

	msg_reader_init(&rd, imsg);
	if (msg_get_u32(&rd, &idx) == -1 || msg_end(&rd) == -1)
		return CHAN_BAD;
	if (env->nrelays >= LDAPD_RELAYS_MAX) {
		log_warnx("relay %u: more than %d relay channels; refused",
		    idx, LDAPD_RELAYS_MAX);
		return CHAN_OK;
	}
	if ((r = ldapd_relay_new(idx, imsg->fd)) == NULL) {
		log_warn("relay %u: channel", idx);
		return CHAN_OK;
	}
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&env->relays, r, entry);
	env->nrelays++;
	log_debug("relay %u: channel open", idx);
	return CHAN_OK;
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

/* IMSG_DRAIN: no payload. Exit once the lookups are answered. */
static int
ldapd_drain(struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	log_info("drain requested: exiting when the pending lookups are "
	    "answered");
	env->draining = 1;
	event_active(env->drainev, EV_TIMEOUT, 0);
	return CHAN_OK;
}

/* The parent: configurations, relay channels, DRAIN. */
static int
ldapd_dispatch_parent(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_VDOMAIN:
	case IMSG_CONF_VDKV:
	case IMSG_CONF_END:
		return ldapd_conf_imsg(imsg);
	case IMSG_CONF_HOST:
		return ldapd_conf_host(imsg);
	case IMSG_CONF_CERTMAP:
	case IMSG_CONF_VDCERTMAP:
		return certmap_conf(env, imsg);
	case IMSG_RELAY_CHANNEL:
		return ldapd_relay_add(imsg);
	case IMSG_DRAIN:
		return ldapd_drain(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * EOF: the parent is gone and nobody supervises us any more. A parent
 * that breaks the protocol is no parent to serve either.
 */
static void
ldapd_lost_parent(struct chan *ch, const char *why)
{
	(void)ch;
	if (why == NULL)
		ldapd_exit(0);
	fatalx("parent %s", why);
}

/*
 * Log lines go to the parent through lib/logsink.c (bounded); those
 * dropped while it did not read are reported once it did.
 */
static void
ldapd_parent_drained(struct chan *ch)
{
	(void)ch;
	logsink_written();
}

/* chan_first_conf: the first configuration was applied. */
static int
ldapd_configured(void)
{
	return env->conf != NULL;
}

/* ---- start and stop ---------------------------------------------- */

static void
ldapd_exit(int code)
{
	struct relay		*r;
	struct ldap_conn	*c;
	size_t			 i;
	int			 svc;

	env->draining = 0;
	ldapd_log_timeouts();
	ldapd_log_caches();
	while ((r = TAILQ_FIRST(&env->relays)) != NULL)
		ldapd_relay_close(r);
	for (svc = 0; svc < CONF_NSECT; svc++) {
		conn_free(env->conn[svc]);
		env->conn[svc] = NULL;
		for (i = 0; i < env->nvdconn[svc]; i++)
			conn_free(env->vdconn[svc][i]);
		free(env->vdconn[svc]);
		env->vdconn[svc] = NULL;
		env->nvdconn[svc] = 0;
	}
	while ((c = TAILQ_FIRST(&env->retiring)) != NULL) {
		TAILQ_REMOVE(&env->retiring, c, entry);
		conn_free(c);
	}
	for (svc = 0; svc < CONF_NSECT; svc++) {
		dircache_free(env->caches[svc]);
		env->caches[svc] = NULL;
		ldapd_vdcaches_free(svc);
	}
	explicit_bzero(env->authkey, sizeof(env->authkey));
	preauth_free(env);
	resolver_free(env);
	hosts_free(&env->hosts);
	hosts_free(&env->newhosts);
	conf_rx_clear(&env->rx);
	conf_free(env->conf);
	(void)chan_flush(env->parent);
	logsink_init(NULL);
	chan_close(env->parent);
	event_free(env->drainev);
	event_free(env->sigterm);
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

/*
 * The parent's SIGTERM at shutdown: leave through ldapd_exit, so that the
 * counters are logged and the caches and their key wiped.
 */
static void
ldapd_sigterm_cb(int sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_info("SIGTERM: exiting");
	ldapd_exit(0);
}

static void
ldapd_setup(int verbose)
{
	if ((env = calloc(1, sizeof(*env))) == NULL)
		fatal("calloc");
	env->verbose = verbose;
	/* The AuthCache's HMAC key: this process's alone, gone at exit. */
	arc4random_buf(env->authkey, sizeof(env->authkey));
	TAILQ_INIT(&env->relays);
	TAILQ_INIT(&env->retiring);
	if ((env->evb = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((env->parent = chan_open(env->evb, MMP_CHILD_FD,
	    &ldapd_peers[LDAPD_PARENT], NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	logsink_init(env->parent);
	/* Lines go to the parent: no syslog socket in the sandbox. */
	closelog();
	env->drainev = event_new(env->evb, -1, 0, ldapd_drain_cb, NULL);
	env->sigterm = evsignal_new(env->evb, SIGTERM, ldapd_sigterm_cb, NULL);
	if (env->drainev == NULL || env->sigterm == NULL ||
	    evsignal_add(env->sigterm, NULL) == -1)
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
	size_t	i;
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
	if (fcntl(MMP_CHILD_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd %d", MMP_CHILD_FD);
	ldapd_setup(verbose);
	ldapd_ldap_init();
	chan_first_conf(env->parent, ldapd_configured);
	resolver_init(env);
	ldapd_confine();
	env->started = 1;
	ldapd_send_ready();
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		conn_start(env->conn[svc]);
		for (i = 0; i < env->nvdconn[svc]; i++)
			conn_start(env->vdconn[svc][i]);
	}
	event_base_dispatch(env->evb);
	ldapd_exit(0);
}
