/*
 * A relay's statistics: counted where things happen (plain increments in
 * env->stats, no system call), sent to the statistics process when it
 * asks over the channel the parent handed us. Sessions before the login
 * are counted when asked, by walking them: a scrape is rare, a state
 * change is not.
 */
#include <string.h>

#include "log.h"
#include "relay.h"

static int	relay_dispatch_stats(struct chan *, struct imsg *);
static void	relay_lost_stats(struct chan *, const char *);

static const struct chan_peer relay_stats_peer = {
	"stats", relay_dispatch_stats, relay_lost_stats, NULL
};

/* SVC_IMAP, SVC_POP: the index of the counters' protocol arrays. */
static int
relay_stat_svc(int svc)
{
	return svc == SVC_POP ? 1 : 0;
}

/*
 * A client turned away by rule r. The limits call it where they refuse
 * (ConnLimits, TCPAccess, the relay and pre-authentication caps, BadGuy).
 */
void
relay_stat_refused(enum refusal r)
{
	if (r < REFUSAL_MAX)
		env->stats.refused[r]++;
}

void
relay_stat_login(const struct session *s, enum stats_login how)
{
	env->stats.login[relay_stat_svc(s->svc)][how]++;
}

/* A login that reached a store (s->mailhost): by store too. */
void
relay_stat_store(const struct session *s, enum stats_login how)
{
	relay_stat_login(s, how);
	stats_store_count(&env->stats, s->mailhost, how);
}

/* The store answered the login: how long since the first connect. */
void
relay_stat_store_latency(const struct session *s)
{
	struct timespec	now, d;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	timespecsub(&now, &s->be.started, &d);
	if (d.tv_sec < 0)
		return;
	stats_hist_add(&env->stats.store_latency,
	    (uint64_t)d.tv_sec * 1000000 + (uint64_t)d.tv_nsec / 1000);
}

void
relay_stat_relaying(int svc, int delta)
{
	env->stats.sessions[relay_stat_svc(svc)][STATS_SESS_RELAYING] +=
	    delta;
}

uint64_t *
relay_stat_bytes(int svc, int down)
{
	return &env->stats.bytes[relay_stat_svc(svc)][down ? 1 : 0];
}

/* The counters with the sessions before their login counted now. */
static void
relay_stats_count(struct stats_relay *sr)
{
	struct session	*s;
	int		 i, st;

	memcpy(sr, &env->stats, sizeof(*sr));
	for (i = 0; i < STATS_NSVC; i++) {
		sr->sessions[i][STATS_SESS_PREAUTH] = 0;
		sr->sessions[i][STATS_SESS_LOGIN] = 0;
	}
	RB_FOREACH(s, session_tree, &env->sessions) {
		st = s->state == S_LOOKUP || s->state == S_STORE ||
		    s->state == S_FAILDELAY ? STATS_SESS_LOGIN :
		    STATS_SESS_PREAUTH;
		sr->sessions[relay_stat_svc(s->svc)][st]++;
	}
}

/* IMSG_STATS_QUERY: u64 reqid; answered at once. */
static int
relay_stats_query(struct chan *ch, struct imsg *imsg)
{
	static struct stats_relay	sr;	/* 4 kB: not on the stack */
	struct msg_reader		r;
	struct msg_writer		w;
	uint64_t			reqid;

	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &reqid) == -1 || msg_end(&r) == -1)
		return CHAN_BAD;
	relay_stats_count(&sr);
	msg_writer_init(&w);
	stats_relay_write(&w, reqid, &sr);
	if (chan_compose_msg(ch, IMSG_STATS_ANSWER, 0, -1, &w) == -1) {
		log_warnx("stats: cannot queue the answer");
		return CHAN_BAD;
	}
	return CHAN_OK;
}

static int
relay_dispatch_stats(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_STATS_QUERY:
		return relay_stats_query(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * The statistics process went away or sent garbage: no statistics until
 * the parent hands us a new channel (it does when that process restarts).
 */
static void
relay_lost_stats(struct chan *ch, const char *why)
{
	if (why != NULL)
		log_warnx("stats %s: channel closed", why);
	chan_close(ch);
	env->statsch = NULL;
}

/* IMSG_STATS_CHANNEL: fd, no payload. A new one replaces the old. */
int
relay_stats_channel(struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (env->statsch != NULL)
		chan_close(env->statsch);
	if ((env->statsch = chan_open(env->base, imsg->fd, &relay_stats_peer,
	    NULL)) == NULL) {
		log_warnx("channel to stats: cannot watch it");
		return CHAN_OK;
	}
	imsg->fd = -1;
	return CHAN_OK;
}
