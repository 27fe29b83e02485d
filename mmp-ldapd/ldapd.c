/*
 * mmp-ldapd: started by the parent with the parent channel on fd 3. It
 * reads its first configuration (here), confines itself (main.c), then
 * answers the relay workers' lookups; reloads and relay channels arrive
 * on fd 3 later. Here: set-up, the parent and the end.
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

#include "childsig.h"
#include "ldapd.h"
#include "leakcheck.h"
#include "log.h"
#include "lookupmsg.h"
#include "logsink.h"

static struct ldapd	*env;

static int	ldapd_dispatch_parent(struct chan *, struct imsg *);
static void	ldapd_lost_parent(struct chan *, const char *);
static void	ldapd_parent_drained(struct chan *);

/*
 * mmp-ldapd's peers: the parent (here), and each relay on a channel it
 * hands us (relays.c).
 */
static const struct chan_peer parent_peer = {
	"parent", ldapd_dispatch_parent, ldapd_lost_parent,
	ldapd_parent_drained
};

void
ldapd_drain_check(void)
{
	struct relay	*r;

	if (!env->draining)
		return;
	if (env->nrelays > 0 && env->nlookups + env->nnames > 0)
		return;
	TAILQ_FOREACH(r, &env->relays, entry)
		if (chan_queued(r->chan) > 0)
			return;		/* answers still on their way */
	log_info("drained: exiting");
	ldapd_exit(0);
}

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
		return ldapd_conf_imsg(env, imsg);
	case IMSG_CONF_HOST:
		return ldapd_conf_host(env, imsg);
	case IMSG_CONF_CERTMAP:
	case IMSG_CONF_VDCERTMAP:
		return certmap_conf(env, imsg);
	case IMSG_RELAY_CHANNEL:
		return ldapd_relay_add(env, imsg);
	case IMSG_STATS_CHANNEL:
		return ldapd_stats_channel(env, imsg);
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

/* The end: counters logged, relays closed, secrets and caches wiped. */
void
ldapd_exit(int code)
{
	struct relay		*r;
	struct ldap_conn	*c;
	size_t			 i;
	int			 svc;

	env->draining = 0;
	ldapd_log_timeouts(env);
	ldapd_log_caches(env);
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
		ldapd_vdcaches_free(env, svc);
	}
	explicit_bzero(env->authkey, sizeof(env->authkey));
	cache_free(env->authsvc);
	env->authsvc = NULL;
	preauth_free(env);
	ldaptls_free(env);
	if (env->statsch.ch != NULL)
		chan_close(env->statsch.ch);
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
	    &parent_peer, NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	logsink_init(env->parent);
	/* Lines go to the parent: no syslog socket in the sandbox. */
	closelog();
	env->drainev = event_new(env->evb, -1, 0, ldapd_drain_cb, NULL);
	if (env->drainev == NULL)
		fatalx("event_new failed");
	env->sigterm = child_sigterm(env->evb, ldapd_sigterm_cb, NULL);
}

/*
 * Up to the first configuration, applied (main.c, then the sandbox and
 * the loop; regress/fuzz, then messages): the parent channel on fd 3,
 * libldap's defaults, the resolver.
 */
struct ldapd *
ldapd_start(int verbose)
{
	if (fcntl(MMP_CHILD_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd %d", MMP_CHILD_FD);
	ldapd_setup(verbose);
	ldapd_ldap_init();
	chan_first_conf(env->parent, ldapd_configured);
	resolver_init(env);
	return env;
}
