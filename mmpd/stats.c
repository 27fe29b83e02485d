/*
 * The statistics process (mmpd -P stats): gets its configuration, the
 * listening socket of StatsListen and a channel to each relay, mmp-ldapd
 * and mmp-tlsd from the parent. A scrape starts a round: one query per
 * peer, answers gathered for at most STATS_ANSWER_MSEC, then the page.
 * Sandboxed before it reads a byte from the network.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "childsig.h"
#include "log.h"
#include "logsink.h"
#include "msg.h"
#include "sandboxes.h"
#include "stats_main.h"
#include "statsd.h"

struct stats_env	*senv;

static int	stats_dispatch_parent(struct chan *, struct imsg *);
static void	stats_lost_parent(struct chan *, const char *);
static void	stats_parent_drained(struct chan *);
static int	stats_dispatch_peer(struct chan *, struct imsg *);
static void	stats_lost_peer(struct chan *, const char *);
static int	stats_round_complete(void);
static void	stats_round_end(void);

enum stats_chan {
	STATS_CHAN_PARENT,
	STATS_CHAN_PEER,
};

static const struct chan_peer stats_chans[] = {
	[STATS_CHAN_PARENT] = { "parent", stats_dispatch_parent,
	    stats_lost_parent, stats_parent_drained },
	[STATS_CHAN_PEER] = { "peer", stats_dispatch_peer, stats_lost_peer,
	    NULL },
};

static const char *const stats_kind_names[STATS_KIND_MAX] = {
	[STATS_KIND_RELAY] = "relay",
	[STATS_KIND_LDAPD] = "mmp-ldapd",
	[STATS_KIND_TLSD] = "mmp-tlsd",
	[STATS_KIND_STATS] = "stats",
};

const char *
stats_kind_name(enum stats_kind kind)
{
	return kind < STATS_KIND_MAX ? stats_kind_names[kind] : "?";
}

static void
stats_peer_free(struct stats_peer *p)
{
	TAILQ_REMOVE(&senv->peers, p, entry);
	senv->npeers--;
	chan_close(p->ch);
	free(p);
}

/* Garbage or EOF from a peer: that channel goes, nothing else. */
static void
stats_lost_peer(struct chan *ch, const char *why)
{
	struct stats_peer	*p = chan_arg(ch);

	if (why != NULL)
		log_warnx("%s %u %s: channel closed", stats_kind_name(p->kind),
		    p->index, why);
	else
		log_debug("%s %u closed its channel", stats_kind_name(p->kind),
		    p->index);
	stats_peer_free(p);
	/* It may have been the last one a round waited for. */
	if (senv->round != 0 && stats_round_complete())
		stats_round_end();
}

/* Every peer asked in this round has answered: no need to wait. */
static int
stats_round_complete(void)
{
	struct stats_peer	*p;

	TAILQ_FOREACH(p, &senv->peers, entry)
		if (p->asked != 0 && p->round != senv->round)
			return 0;
	return 1;
}

static void
stats_round_end(void)
{
	struct buf	page;

	if (senv->round == 0)
		return;
	(void)evtimer_del(senv->round_timer);
	if (buf_init(&page, 0, STATS_PAGE_MAX_BYTES) == -1 ||
	    stats_page(&page, senv->round) == -1) {
		log_warnx("scrape %llu: page too large or out of memory",
		    (unsigned long long)senv->round);
		buf_reset(&page);
	}
	senv->round = 0;
	stats_http_round_done(&page);
	buf_free(&page);
}

/* STATS_ANSWER_MSEC passed: the silent ones are left out. */
static void
stats_round_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	stats_round_end();
}

/*
 * A new round: every peer with no question pending gets one. A peer
 * still silent on the last round's is not asked again (nor waited for).
 */
void
stats_round_join(void)
{
	struct timeval		 tv = { 0, STATS_ANSWER_MSEC * 1000 };
	struct stats_peer	*p, *next;
	struct msg_writer	 w;

	if (senv->round != 0)
		return;
	senv->round = ++senv->nextreq;
	TAILQ_FOREACH_SAFE(p, &senv->peers, entry, next) {
		if (p->asked != 0)
			continue;
		msg_writer_init(&w);
		msg_add_u64(&w, senv->round);
		if (chan_compose_msg(p->ch, IMSG_STATS_QUERY, 0, -1, &w) ==
		    -1) {
			log_warnx("%s %u: cannot queue a query",
			    stats_kind_name(p->kind), p->index);
			stats_peer_free(p);
			continue;
		}
		p->asked = senv->round;
	}
	if (stats_round_complete()) {
		stats_round_end();
		return;
	}
	if (evtimer_add(senv->round_timer, &tv) == -1)
		stats_round_end();
}

/*
 * IMSG_STATS_ANSWER: the reader of the peer's kind checks it; the
 * answer must be to the question we asked that peer.
 */
static int
stats_answer(struct stats_peer *p, struct imsg *imsg)
{
	uint64_t	reqid;
	int		rv;

	switch (p->kind) {
	case STATS_KIND_RELAY:
		rv = stats_relay_read(imsg, &reqid, &p->got.relay);
		break;
	case STATS_KIND_LDAPD:
		rv = stats_ldapd_read(imsg, &reqid, &p->got.ldapd);
		break;
	case STATS_KIND_TLSD:
		rv = stats_tlsd_read(imsg, &reqid, &p->got.tlsd);
		break;
	default:
		return CHAN_BAD;
	}
	if (rv == -1 || p->asked == 0 || reqid != p->asked)
		return CHAN_BAD;
	p->asked = 0;
	/* Late, for a round that ended: the next one asks again. */
	if (reqid != senv->round)
		return CHAN_OK;
	p->round = reqid;
	if (stats_round_complete())
		stats_round_end();
	return CHAN_OK;
}

static int
stats_dispatch_peer(struct chan *ch, struct imsg *imsg)
{
	struct stats_peer	*p = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_STATS_ANSWER:
		return stats_answer(p, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* IMSG_STATS_PEER: fd; u8 kind, u32 index. It replaces that peer's. */
static int
stats_peer_new(struct imsg *imsg)
{
	struct stats_peer	*p, *old;
	struct msg_reader	 r;
	uint8_t			 kind;
	uint32_t		 index;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &kind) == -1 || msg_get_u32(&r, &index) == -1 ||
	    msg_end(&r) == -1 || kind >= STATS_KIND_STATS ||
	    index >= STATS_PEERS_MAX)
		return CHAN_BAD;
	TAILQ_FOREACH(old, &senv->peers, entry)
		if (old->kind == kind && old->index == index) {
			stats_peer_free(old);
			break;
		}
	if (senv->npeers >= STATS_PEERS_MAX)
		return CHAN_BAD;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s %u: no memory for its channel",
		    stats_kind_name(kind), index);
		return CHAN_OK;
	}
	p->kind = kind;
	p->index = index;
	if ((p->ch = chan_open(senv->base, imsg->fd,
	    &stats_chans[STATS_CHAN_PEER], p)) == NULL) {
		free(p);
		return CHAN_OK;
	}
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&senv->peers, p, entry);
	senv->npeers++;
	log_debug("channel to %s %u ready", stats_kind_name(kind), index);
	return CHAN_OK;
}

/* IMSG_STATS_LISTENER: fd, str label. Once. */
static int
stats_listener(struct imsg *imsg)
{
	struct msg_reader	r;

	msg_reader_init(&r, imsg);
	if (senv->listen_fd != -1 || msg_get_str(&r, senv->label,
	    sizeof(senv->label)) == -1 || msg_end(&r) == -1 ||
	    !msg_name_ok(senv->label))
		return CHAN_BAD;
	senv->listen_fd = imsg->fd;
	imsg->fd = -1;
	if (fcntl(senv->listen_fd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("%s: nonblocking", senv->label);
	return CHAN_OK;
}

/* IMSG_STATS_RESTARTS: what the parent counted. */
static int
stats_restarts(struct imsg *imsg)
{
	return stats_restarts_read(imsg, senv->restarts) == -1 ? CHAN_BAD :
	    CHAN_OK;
}

static int
stats_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf;
	struct msg_writer w;
	char		 err[256];
	uint32_t	 gen;
	int		 rv;

	rv = conf_rx_imsg(&senv->rx, imsg, &conf, &gen, err, sizeof(err));
	if (rv == -1) {
		log_warnx("configuration from parent refused: %s", err);
		return CHAN_BAD;
	}
	if (rv == 1) {
		conf_free(senv->conf);
		senv->conf = conf;
		conf_log_levels(conf, senv->verbose);
		msg_writer_init(&w);
		msg_add_u32(&w, gen);
		if (chan_compose_msg(senv->parent, IMSG_READY, 0, -1, &w) ==
		    -1)
			fatalx("cannot queue READY");
	}
	return CHAN_OK;
}

static int
stats_dispatch_parent(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_VDOMAIN:
	case IMSG_CONF_VDKV:
	case IMSG_CONF_END:
		return stats_conf_imsg(imsg);
	case IMSG_STATS_LISTENER:
		return stats_listener(imsg);
	case IMSG_STATS_PEER:
		return stats_peer_new(imsg);
	case IMSG_STATS_RESTARTS:
		return stats_restarts(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

static void
stats_lost_parent(struct chan *ch, const char *why)
{
	(void)ch;
	if (why == NULL)
		exit(0);
	fatalx("parent %s", why);
}

static void
stats_parent_drained(struct chan *ch)
{
	(void)ch;
	logsink_written();
}

/*
 * The parent's SIGTERM at shutdown: the loop ends and stats_main frees
 * what it holds and returns, so the process leaves through exit().
 */
static void
stats_sigterm(int sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_info("SIGTERM: exiting");
	(void)event_base_loopexit(senv->base, NULL);
}

/* Everything the process holds, at its end. */
static void
stats_free_all(void)
{
	struct stats_peer	*p;

	stats_http_free_all();
	while ((p = TAILQ_FIRST(&senv->peers)) != NULL)
		stats_peer_free(p);
	if (senv->listen_ev != NULL)
		event_free(senv->listen_ev);
	if (senv->listen_fd != -1)
		(void)close(senv->listen_fd);
	event_free(senv->round_timer);
	event_free(senv->sigterm);
	conf_rx_clear(&senv->rx);
	conf_free(senv->conf);
	(void)chan_flush(senv->parent);
	logsink_init(NULL);
	chan_close(senv->parent);
	event_base_free(senv->base);
}

/* Configured, and the socket is here: it came right after CONF_END. */
static int
stats_configured(void)
{
	return senv->conf != NULL && senv->listen_fd != -1;
}

static void
stats_setup(int argc, char *argv[])
{
	int	ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "dP:v")) != -1) {
		switch (ch) {
		case 'd':
		case 'P':
			break;
		case 'v':
			senv->verbose = 1;
			break;
		default:
			fatalx("usage: mmpd -P stats [-v]");
		}
	}
	log_init("stats", 1, senv->verbose ? LOG_DEBUG : LOG_INFO);
	if ((senv->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((senv->parent = chan_open(senv->base, MMP_CHILD_FD,
	    &stats_chans[STATS_CHAN_PARENT], NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	logsink_init(senv->parent);
	senv->listen_fd = -1;
	TAILQ_INIT(&senv->peers);
	TAILQ_INIT(&senv->clients);
	if ((senv->round_timer = evtimer_new(senv->base, stats_round_timeout,
	    NULL)) == NULL)
		fatalx("evtimer_new");
	senv->sigterm = child_sigterm(senv->base, stats_sigterm, NULL);
}

void
stats_start(int argc, char *argv[])
{
	static struct stats_env	stats_env;

	senv = &stats_env;
	stats_setup(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	chan_first_conf(senv->parent, stats_configured);
}

int
stats_main(int argc, char *argv[])
{
	stats_start(argc, argv);
	/* What the statistics process may do: lib/sandboxes.c. */
	sandbox_stats(senv->conf);
	if ((senv->listen_ev = event_new(senv->base, senv->listen_fd,
	    EV_READ | EV_PERSIST, stats_http_accept, NULL)) == NULL ||
	    event_add(senv->listen_ev, NULL) == -1)
		fatalx("cannot watch %s", senv->label);
	log_debug("serving on %s", senv->label);
	event_base_dispatch(senv->base);
	stats_free_all();
	return 0;
}
