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

/* The answer to the statistics process: this relay's counters now. */
static void
relay_stats_write(struct msg_writer *w, uint64_t reqid, void *arg)
{
	static struct stats_relay	sr;	/* 4 kB: not on the stack */

	(void)arg;
	relay_stats_count(&sr);
	stats_relay_write(w, reqid, &sr);
}

/* IMSG_STATS_CHANNEL from the parent. */
int
relay_stats_channel(struct imsg *imsg)
{
	env->statsch.write = relay_stats_write;
	return statschan_take(&env->statsch, env->base, imsg);
}
