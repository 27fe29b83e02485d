/*
 * mmp-ldapd's statistics: counted where they happen (lookup latency in
 * lookup_finish, cache hits and misses where a cache is consulted), sent
 * to the statistics process when it asks over the channel the parent
 * handed us.
 */
#include <string.h>
#include <time.h>

#include "ldapd.h"
#include "log.h"
#include "msg.h"

static int	ldapd_dispatch_stats(struct chan *, struct imsg *);
static void	ldapd_lost_stats(struct chan *, const char *);

static const struct chan_peer ldapd_stats_peer = {
	"stats", ldapd_dispatch_stats, ldapd_lost_stats, NULL
};

/* A lookup answered: its time since the request came. */
void
ldapd_stat_lookup(struct ldapd *e, const struct timespec *start)
{
	struct timespec	now, d;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	timespecsub(&now, start, &d);
	if (d.tv_sec >= 0)
		stats_hist_add(&e->stats.lookup_latency,
		    (uint64_t)d.tv_sec * 1000000 + (uint64_t)d.tv_nsec / 1000);
}

/* IMSG_STATS_QUERY: u64 reqid; answered at once. */
static int
ldapd_stats_query(struct chan *ch, struct imsg *imsg)
{
	struct ldapd		*e = chan_arg(ch);
	struct msg_reader	 r;
	struct msg_writer	 w;
	uint64_t		 reqid;

	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &reqid) == -1 || msg_end(&r) == -1)
		return CHAN_BAD;
	msg_writer_init(&w);
	stats_ldapd_write(&w, reqid, &e->stats);
	if (chan_compose_msg(ch, IMSG_STATS_ANSWER, 0, -1, &w) == -1) {
		log_warnx("stats: cannot queue the answer");
		return CHAN_BAD;
	}
	return CHAN_OK;
}

static int
ldapd_dispatch_stats(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_STATS_QUERY:
		return ldapd_stats_query(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* Gone or garbage: no statistics until the parent hands a new channel. */
static void
ldapd_lost_stats(struct chan *ch, const char *why)
{
	struct ldapd	*e = chan_arg(ch);

	if (why != NULL)
		log_warnx("stats %s: channel closed", why);
	chan_close(ch);
	e->statsch = NULL;
}

/* IMSG_STATS_CHANNEL: fd, no payload. A new one replaces the old. */
int
ldapd_stats_channel(struct ldapd *e, struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (e->statsch != NULL)
		chan_close(e->statsch);
	if ((e->statsch = chan_open(e->evb, imsg->fd, &ldapd_stats_peer,
	    e)) == NULL) {
		log_warnx("channel to stats: cannot watch it");
		return CHAN_OK;
	}
	imsg->fd = -1;
	return CHAN_OK;
}
