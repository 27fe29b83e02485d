/*
 * A relay worker (mmpd -P relay): receives its configuration and the
 * listening sockets from the parent, accepts clients and hands them to
 * session.c; asks mmp-ldapd where users live over a channel the parent
 * set up. Sandboxed before the first client byte is read.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "certmapmsg.h"
#include "childsig.h"
#include "evmem.h"
#include "log.h"
#include "lookupmsg.h"
#include "logsink.h"
#include "relay.h"
#include "sandboxes.h"

struct relay_env	*env;

static int	relay_dispatch_parent(struct chan *, struct imsg *);
static int	relay_parent_fdlost(struct chan *, struct imsg *);
static void	relay_send_stats(void);
static void	relay_stats_tick(int, short, void *);
static void	relay_lost_parent(struct chan *, const char *);
static void	relay_parent_drained(struct chan *);
static int	relay_dispatch_ldapd(struct chan *, struct imsg *);
static void	relay_lost_ldapd(struct chan *, const char *);
static int	relay_dispatch_tlsd(struct chan *, struct imsg *);

enum relay_peer {
	RELAY_PARENT,
	RELAY_LDAPD,
	RELAY_TLSD,
};

/*
 * A relay's peers: the parent, and mmp-ldapd and each mmp-tlsd on
 * channels it hands us.
 */
static const struct chan_peer relay_peers[] = {
	[RELAY_PARENT] = { "parent", relay_dispatch_parent, relay_lost_parent,
	    relay_parent_drained },
	[RELAY_LDAPD] = { "mmp-ldapd", relay_dispatch_ldapd, relay_lost_ldapd,
	    NULL },
	[RELAY_TLSD] = { "mmp-tlsd", relay_dispatch_tlsd, tls_channel_lost,
	    NULL },
};

static void
relay_listener_free(struct relay_listener *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	close(l->fd);
	free(l);
}

static void
relay_listeners_clear(struct listener_list *list)
{
	struct relay_listener	*l;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		relay_listener_free(l);
	}
}

static time_t
relay_now_sec(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * accept(2) found no descriptor or memory: every listener rests
 * ACCEPT_PAUSE_SEC (the connection waits in the kernel's queue), where
 * retrying at once would spin on a socket that stays readable. Said
 * once when it starts, and once when accepting works again.
 */
static void
relay_accept_short(const struct relay_listener *l)
{
	struct relay_listener	*o;
	struct timeval		 tv = { ACCEPT_PAUSE_SEC, 0 };

	if (env->accept_short_since == 0) {
		log_warn("%s: accept (pausing accepts, retrying every %d s)",
		    l->label, ACCEPT_PAUSE_SEC);
		env->accept_short_since = relay_now_sec();
		env->accept_short_tries = 0;
	}
	env->accept_short_tries++;
	TAILQ_FOREACH(o, &env->listeners, entry)
		event_del(o->ev);
	evtimer_add(env->accept_pause, &tv);
}

static void
relay_accept(int fd, short ev, void *arg)
{
	struct relay_listener	*l = arg;
	struct sockaddr_storage	 peer;
	socklen_t		 len = sizeof(peer);
	int			 s;

	(void)ev;
	memset(&peer, 0, sizeof(peer));
	if ((s = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			relay_accept_short(l);
		return;
	}
	if (env->accept_short_since != 0) {
		log_warnx("%s: accepting again after %lld s (%lu tries "
		    "refused)", l->label, (long long)(relay_now_sec() -
		    env->accept_short_since), env->accept_short_tries);
		env->accept_short_since = 0;
	}
	session_accept(s, l, &peer);
}

/* l->local: the listener's own address, unless it is a wildcard. */
static void
relay_listener_local(struct relay_listener *l)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len = sizeof(ss);

	l->local[0] = '\0';
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if ((ss.ss_family == AF_INET && sin->sin_addr.s_addr != INADDR_ANY) ||
	    (ss.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)))
		addr_text(&ss, l->local, sizeof(l->local));
}

static void
relay_accept_resume(int fd, short ev, void *arg)
{
	struct relay_listener	*l;

	(void)fd;
	(void)ev;
	(void)arg;
	if (env->draining)
		return;
	TAILQ_FOREACH(l, &env->listeners, entry)
		event_add(l->ev, NULL);
}

static void
relay_listeners_start(void)
{
	struct relay_listener	*l;

	TAILQ_FOREACH(l, &env->listeners, entry) {
		relay_listener_local(l);
		l->ev = event_new(env->base, l->fd, EV_READ | EV_PERSIST,
		    relay_accept, l);
		if (l->ev == NULL)
			fatalx("event_new");
		if (!env->draining)
			event_add(l->ev, NULL);
	}
}

/* IMSG_CONF_LISTENER: fd, u8 svc, u8 tls, u8 proxy, str label. */
static int
relay_conf_listener(struct imsg *imsg)
{
	struct relay_listener	*l;
	struct msg_reader	 r;
	uint8_t			 svc, tls, proxy;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &svc) == -1 ||
	    msg_get_u8(&r, &tls) == -1 ||
	    msg_get_u8(&r, &proxy) == -1 ||
	    msg_get_str(&r, l->label, sizeof(l->label)) == -1 ||
	    msg_end(&r) == -1 || (svc != SVC_IMAP && svc != SVC_POP) ||
	    tls > 1 || proxy > 1) {
		free(l);
		return -1;
	}
	l->svc = svc;
	l->tls = tls;
	l->proxy = proxy;
	l->fd = imsg->fd;
	imsg->fd = -1;
	if (fcntl(l->fd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("%s: nonblocking", l->label);
	TAILQ_INSERT_TAIL(&env->newlisteners, l, entry);
	return 0;
}

/*
 * StoreNetworks, parsed here and not at every connect. The value passed
 * conf_set in this process too, so it parses; if it did not, no address
 * would be allowed rather than every one.
 */
static void
relay_conf_storenets(const struct mmp_conf *conf)
{
	struct store_nets	*sn;
	char			 why[128];
	int			 svc, n;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		sn = &env->storenets[svc];
		memset(sn, 0, sizeof(*sn));
		if (!conf_isset(conf, svc, CK_STORENETWORKS))
			continue;
		sn->set = 1;
		if ((n = netlist_parse(conf_str(conf, svc, CK_STORENETWORKS),
		    sn->v, NETLIST_MAX, why, sizeof(why))) == -1)
			log_warnx("%s StoreNetworks unusable, no store is "
			    "allowed: %s", conf_section_file(svc), why);
		else
			sn->n = (size_t)n;
	}
}

static void
relay_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct relay_listener	*l;
	struct msg_writer	 w;

	conf_free(env->conf);
	env->conf = conf;
	env->gen = gen;
	conf_log_levels(conf, env->verbose);
	relay_conf_storenets(conf);
	proxy_conf(conf);
	access_conf(conf);
	badguy_conf();
	authsvc_conf(conf);
	spoof_conf_apply();
	limits_conf(conf);
	relay_listeners_clear(&env->listeners);
	while ((l = TAILQ_FIRST(&env->newlisteners)) != NULL) {
		TAILQ_REMOVE(&env->newlisteners, l, entry);
		TAILQ_INSERT_TAIL(&env->listeners, l, entry);
	}
	/* The first time before the sandbox: accepts wait for the loop. */
	relay_listeners_start();
	msg_writer_init(&w);
	msg_add_u32(&w, gen);
	if (chan_compose_msg(env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatalx("cannot queue READY");
}

/* 1 when a whole configuration was applied, 0 consumed, -1 bad. */
static int
relay_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf;
	char		 err[256];
	uint32_t	 gen;
	int		 rv;

	if (imsg->hdr.type == IMSG_CONF_LISTENER) {
		if (env->rx.conf == NULL || relay_conf_listener(imsg) == -1) {
			log_warnx("parent sent a bad listener");
			return -1;
		}
		return 0;
	}
	if (imsg->hdr.type == IMSG_CONF_SPOOF) {
		if (spoof_conf_msg(imsg) == -1) {
			log_warnx("parent sent a bad SpoofMessageFile message");
			return -1;
		}
		return 0;
	}
	if (imsg->hdr.type == IMSG_CONF_START) {
		relay_listeners_clear(&env->newlisteners);
		spoof_conf_abort();
	}
	rv = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (rv == -1) {
		log_warnx("configuration from parent refused: %s", err);
		relay_listeners_clear(&env->newlisteners);
		spoof_conf_abort();
		return -1;
	}
	if (rv == 1)
		relay_conf_apply(conf, gen);
	return rv;
}

/*
 * chan_first_conf: the first configuration was applied and the shared
 * memory mapped (the parent sends it first): no client before both.
 */
static int
relay_configured(void)
{
	return env->conf != NULL && env->shm.base != NULL;
}

/* IMSG_SHM: fd, u32 section. Once: mapped before the sandbox. */
static int
relay_shm(struct imsg *imsg)
{
	struct msg_reader	r;
	uint32_t		section;

	msg_reader_init(&r, imsg);
	if (env->shm.base != NULL || msg_get_u32(&r, &section) == -1 ||
	    msg_end(&r) == -1 || section >= SHM_SECTIONS)
		return CHAN_BAD;
	if (shm_map(&env->shm, imsg->fd, (int)section) == -1)
		fatal("shared memory from parent");
	imsg->fd = -1;
	log_debug("shared memory section %u", section);
	return CHAN_OK;
}

/* IMSG_DRAIN: no payload. Stop accepting, leave when idle. */
static int
relay_drain(struct imsg *imsg)
{
	struct relay_listener	*l;

	if (imsg->datalen != 0)
		return CHAN_BAD;
	env->draining = 1;
	TAILQ_FOREACH(l, &env->listeners, entry)
		event_del(l->ev);
	relay_listeners_clear(&env->listeners);
	log_info("draining: %u sessions open", env->nsessions);
	relay_send_stats();
	relay_session_closed();
	return CHAN_OK;
}

/* IMSG_STATS: what the parent shows to mmpctl(8). */
static void
relay_send_stats(void)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->nsessions);
	msg_add_u64(&w, env->logins_ok);
	msg_add_u64(&w, env->logins_failed);
	(void)chan_compose_msg(env->parent, IMSG_STATS, 0, -1, &w);
	env->stats_sessions = env->nsessions;
	env->stats_logins = env->logins_ok + env->logins_failed;
}

/*
 * Once a second, and only when something changed: no message per session
 * on a busy worker, nothing at all on an idle one.
 */
static void
relay_stats_tick(int fd, short events, void *arg)
{
	struct timeval	tv = { RELAY_STATS_SEC, 0 };

	(void)fd;
	(void)events;
	(void)arg;
	if (env->nsessions != env->stats_sessions ||
	    env->logins_ok + env->logins_failed != env->stats_logins)
		relay_send_stats();
	evtimer_add(env->stats_timer, &tv);
}

/* Called after every session end; a draining worker leaves when idle. */
void
relay_session_closed(void)
{
	if (env->draining && env->nsessions == 0) {
		(void)chan_flush(env->parent);
		event_base_loopexit(env->base, NULL);
	}
}

/* The channel to mmp-ldapd goes: what waits on it fails now. */
static void
relay_ldapd_drop(void)
{
	if (env->ldapd == NULL)
		return;
	chan_close(env->ldapd);
	env->ldapd = NULL;
	session_fail_all_lookups();
	access_fail_all_names();
}

/* IMSG_LDAPD_CHANNEL: fd, no payload. A new one replaces the old. */
static int
relay_ldapd_channel(struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	relay_ldapd_drop();
	if ((env->ldapd = chan_open(env->base, imsg->fd,
	    &relay_peers[RELAY_LDAPD], NULL)) == NULL)
		fatalx("channel to mmp-ldapd: cannot watch it");
	imsg->fd = -1;
	log_debug("channel to mmp-ldapd ready");
	return CHAN_OK;
}

/* IMSG_TLSD_CHANNEL: fd, u32 index. The old one is parked (tls.c). */
static int
relay_tlsd_channel(struct imsg *imsg)
{
	struct msg_reader	r;
	uint32_t		index;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &index) == -1 || msg_end(&r) == -1 ||
	    tls_channel(index, imsg->fd, &relay_peers[RELAY_TLSD]) == -1)
		return CHAN_BAD;
	imsg->fd = -1;
	return CHAN_OK;
}

/* The parent: configurations, channels to ldapd and tlsd, DRAIN. */
static int
relay_dispatch_parent(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_VDOMAIN:
	case IMSG_CONF_VDKV:
	case IMSG_CONF_BGEXCL:
	case IMSG_CONF_LISTENER:
	case IMSG_CONF_SPOOF:
	case IMSG_CONF_END:
		return relay_conf_imsg(imsg) == -1 ? CHAN_BAD : CHAN_OK;
	case IMSG_LDAPD_CHANNEL:
		return relay_ldapd_channel(imsg);
	case IMSG_TLSD_CHANNEL:
		return relay_tlsd_channel(imsg);
	case IMSG_STATS_CHANNEL:
		return relay_stats_channel(imsg);
	case IMSG_DRAIN:
		return relay_drain(imsg);
	case IMSG_SHM:
		return relay_shm(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * A channel to mmp-ldapd or an mmp-tlsd that never reached us: we are out
 * of descriptors (a flood of clients). The old one, if any, goes (an
 * mmp-tlsd's is parked) as a new one's arrival would have it, and the
 * parent is asked for another (it
 * answers at most once a second): this worker, and the sessions it
 * relays, go on. Any other descriptor is part of a configuration, which
 * cannot be applied without it.
 */
static int
relay_parent_fdlost(struct chan *ch, struct imsg *imsg)
{
	struct msg_writer	w;
	struct msg_reader	r;
	uint32_t		index;

	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_LDAPD_CHANNEL:
		if (imsg->datalen != 0)
			return CHAN_BAD;
		relay_ldapd_drop();
		(void)chan_compose(env->parent, IMSG_LDAPD_LOST, 0, -1, NULL,
		    0);
		return CHAN_OK;
	case IMSG_TLSD_CHANNEL:
		msg_reader_init(&r, imsg);
		if (msg_get_u32(&r, &index) == -1 || msg_end(&r) == -1 ||
		    index >= TLSD_MAX)
			return CHAN_BAD;
		tls_channel_drop(index);
		msg_writer_init(&w);
		msg_add_u32(&w, index);
		(void)chan_compose_msg(env->parent, IMSG_TLSD_LOST, 0, -1, &w);
		return CHAN_OK;
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * EOF: the parent is gone and nobody supervises us any more. A parent
 * that breaks the protocol is no parent to serve either.
 */
static void
relay_lost_parent(struct chan *ch, const char *why)
{
	(void)ch;
	if (why == NULL)
		exit(0);
	fatalx("parent %s", why);
}

/* Log lines dropped while the parent did not read are reported now. */
static void
relay_parent_drained(struct chan *ch)
{
	(void)ch;
	logsink_written();
}

/* IMSG_LOOKUP_RESULT: read and checked by lib/lookupmsg.c. */
static int
relay_lookup_result(struct imsg *imsg)
{
	struct lookup_answer	 a;
	struct session		*s;

	if (lookup_answer_read(imsg, &a) == -1)
		return -1;
	if ((s = session_find(a.reqid)) == NULL || s->state != S_LOOKUP)
		return 0;	/* the client left meanwhile */
	(void)strlcpy(s->mailhost, a.mailhost, sizeof(s->mailhost));
	session_lookup_result(s, &a);
	return 0;
}

/* mmp-ldapd: answers to lookups, certificate mappings, client names. */
static int
relay_dispatch_ldapd(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_LOOKUP_RESULT:
		return relay_lookup_result(imsg);
	case IMSG_CLIENT_NAME_RESULT:
		return access_name_answer(imsg);
	case IMSG_AUTHSVC_ANSWER:
		return authsvc_answer(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* mmp-tlsd: the outcome of each handshake we handed it, DRAINING (tls.c). */
static int
relay_dispatch_tlsd(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_TLS_RESULT:
		return tls_result(ch, imsg);
	case IMSG_TLSD_DRAINING:
		return tls_draining(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * The channel to mmp-ldapd broke: its lookups fail, and the parent is
 * asked for a new one; until then logins fail like LDAP trouble.
 */
static void
relay_lost_ldapd(struct chan *ch, const char *why)
{
	if (why == NULL)
		log_warnx("mmp-ldapd closed its channel; failing its lookups");
	else
		log_warnx("mmp-ldapd %s: channel closed, failing its lookups",
		    why);
	chan_close(ch);
	env->ldapd = NULL;
	session_fail_all_lookups();
	access_fail_all_names();
	(void)chan_compose(env->parent, IMSG_LDAPD_LOST, 0, -1, NULL, 0);
}

/* Queue a request of s for mmp-ldapd; -1 when there is nobody to ask. */
static int
relay_ask_ldapd(uint32_t type, struct msg_writer *w)
{
	if (env->ldapd == NULL) {
		explicit_bzero(w, sizeof(*w));	/* it may hold a password */
		return -1;
	}
	return chan_compose_msg(env->ldapd, type, 0, -1, w);
}

/* Ask mmp-ldapd about s->user; -1 when there is nobody to ask. */
int
relay_lookup(struct session *s)
{
	struct lookup_req	rq;
	struct msg_writer	w;
	int			rv;

	memset(&rq, 0, sizeof(rq));
	rq.reqid = s->id;
	rq.sid = s->id;
	rq.svc = s->svc;
	rq.userlen = strlen(s->user);
	memcpy(rq.user, s->user, rq.userlen);
	(void)strlcpy(rq.client, s->client, sizeof(rq.client));
	(void)strlcpy(rq.local, s->local, sizeof(rq.local));
	/*
	 * Only the password of a PreAuth service (or virtual domain) ever
	 * leaves the relay.
	 */
	if (s->cram != CRAM_NONE) {
		/* A challenge answers one login: used up here. */
		rq.cram = (uint8_t)s->cram;
		(void)strlcpy(rq.challenge, s->challenge,
		    sizeof(rq.challenge));
		memcpy(rq.digest, s->digest, sizeof(rq.digest));
		explicit_bzero(s->challenge, sizeof(s->challenge));
		explicit_bzero(s->digest, sizeof(s->digest));
	} else if (conf_vnum(env->conf, s->svc, session_vd(s), CK_PREAUTH)) {
		rq.preauth = 1;
		rq.passlen = strlen(s->pass);
		memcpy(rq.pass, s->pass, rq.passlen);
	}
	msg_writer_init(&w);
	rv = lookup_req_write(&w, &rq);
	explicit_bzero(&rq, sizeof(rq));
	if (rv == -1) {
		explicit_bzero(&w, sizeof(w));
		return -1;
	}
	/* chan_compose_msg wipes w, password and all. */
	return relay_ask_ldapd(IMSG_LOOKUP, &w);
}

/*
 * Ask mmp-ldapd whose s->cert is; the answer is a lookup's, the user's
 * uid in its replay field. -1 when there is nobody to ask or nothing to
 * map.
 */
int
relay_certmap(struct session *s)
{
	static struct certmap_req	rq;	/* 9 kB: not on the stack */
	struct msg_writer		w;

	if (s->cert == NULL || s->cert->status != TLS_CERT_VERIFIED)
		return -1;
	memset(&rq, 0, sizeof(rq));
	rq.reqid = s->id;
	rq.sid = s->id;
	rq.svc = s->svc;
	(void)strlcpy(rq.issuer, s->cert->issuer, sizeof(rq.issuer));
	(void)strlcpy(rq.subject, s->cert->subject, sizeof(rq.subject));
	rq.nfields = s->cert->nfields;
	memcpy(rq.field, s->cert->field, sizeof(rq.field));
	(void)strlcpy(rq.client, s->client, sizeof(rq.client));
	(void)strlcpy(rq.local, s->local, sizeof(rq.local));
	msg_writer_init(&w);
	if (certmap_req_write(&w, &rq) == -1)
		return -1;
	return relay_ask_ldapd(IMSG_CERTMAP, &w);
}

/*
 * The parent's SIGTERM: its drain time is over (or a second stop came)
 * and the sessions still open are closed now, every one with its last
 * line and its memory; the loop ends and relay_main returns, so the
 * process leaves through exit().
 */
static void
relay_sigterm(int sig, short events, void *arg)
{
	struct relay_listener	*l;
	struct session		*s, *next;

	(void)sig;
	(void)events;
	(void)arg;
	log_info("SIGTERM: closing %u sessions, exiting", env->nsessions);
	env->draining = 1;
	TAILQ_FOREACH(l, &env->listeners, entry)
		if (l->ev != NULL)
			event_del(l->ev);
	RB_FOREACH_SAFE(s, session_tree, &env->sessions, next)
		session_close(s, "mmpd is shutting down");
	rsession_close_all("mmpd is shutting down");
	(void)chan_flush(env->parent);
	(void)event_base_loopexit(env->base, NULL);
}

/* At the end: everything the worker holds, freed or closed. */
static void
relay_free_all(void)
{
	relay_listeners_clear(&env->listeners);
	relay_listeners_clear(&env->newlisteners);
	tls_close_all();
	if (env->ldapd != NULL)
		chan_close(env->ldapd);
	env->ldapd = NULL;
	if (env->statsch.ch != NULL)
		chan_close(env->statsch.ch);
	env->statsch.ch = NULL;
	pump_pool_free(&env->pipes);
	slab_cache_free(&env->rsessions);
	access_free();
	spoof_release(env->spoof);
	spoof_release(env->newspoof);
	env->spoof = env->newspoof = NULL;
	heaptrim_free(&env->trim);
	event_free(env->accept_pause);
	event_free(env->stats_timer);
	event_free(env->sigterm);
	conf_rx_clear(&env->rx);
	conf_free(env->conf);
	env->conf = NULL;
	shm_unmap(&env->shm);
	(void)chan_flush(env->parent);
	logsink_init(NULL);
	chan_close(env->parent);
	event_base_free(env->base);
}

static void
relay_usage(void)
{
	fatalx("usage: mmpd -P relay -i index [-v]");
}

static void
relay_setup(int argc, char *argv[])
{
	char		 name[32];
	const char	*errstr;
	int		 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "di:P:v")) != -1) {
		switch (ch) {
		case 'd':
		case 'P':
			break;
		case 'i':
			env->index = strtonum(optarg, 0, 1024, &errstr);
			if (errstr != NULL)
				relay_usage();
			break;
		case 'v':
			env->verbose = 1;
			break;
		default:
			relay_usage();
		}
	}
	(void)snprintf(name, sizeof(name), "relay %d", env->index);
	log_init(name, 1, env->verbose ? LOG_DEBUG : LOG_INFO);
	evmem_init();
	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((env->parent = chan_open(env->base, MMP_CHILD_FD,
	    &relay_peers[RELAY_PARENT], NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	chan_on_fdlost(env->parent, relay_parent_fdlost);
	logsink_init(env->parent);
	env->accept_pause = evtimer_new(env->base, relay_accept_resume, NULL);
	env->stats_timer = evtimer_new(env->base, relay_stats_tick, NULL);
	if (env->accept_pause == NULL || env->stats_timer == NULL)
		fatalx("evtimer_new");
	env->sigterm = child_sigterm(env->base, relay_sigterm, NULL);
	relay_stats_tick(-1, 0, NULL);
	TAILQ_INIT(&env->listeners);
	TAILQ_INIT(&env->newlisteners);
	RB_INIT(&env->sessions);
	TAILQ_INIT(&env->preauth);
	env->nextid = ((uint64_t)env->index << 48) | 1;
	env->nexthandoff = env->nextid;
	RB_INIT(&env->handoffs);
	TAILQ_INIT(&env->tlsd_parked);
	rsession_init();
}

void
relay_start(int argc, char *argv[])
{
	static struct relay_env	 relay_env;

	env = &relay_env;
	relay_setup(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	/* Log rotation's, for the parent: a broad pkill must not kill us. */
	signal(SIGUSR1, SIG_IGN);
	chan_first_conf(env->parent, relay_configured);

	/* The host of CRAM challenges; uname(2) is not in the sandbox. */
	if (gethostname(env->hostname, sizeof(env->hostname)) == -1)
		(void)strlcpy(env->hostname, "localhost",
		    sizeof(env->hostname));
	env->hostname[sizeof(env->hostname) - 1] = '\0';
}

int
relay_main(int argc, char *argv[])
{
	relay_start(argc, argv);
	/* What a relay may do from here on: lib/sandboxes.c. */
	sandbox_relay(env->conf);

	log_debug("ready");
	event_base_dispatch(env->base);
	log_info("drained, exiting");
	relay_free_all();
	return 0;
}
