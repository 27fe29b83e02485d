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

/* The answer to the statistics process: mmp-ldapd's counters now. */
static void
ldapd_stats_write(struct msg_writer *w, uint64_t reqid, void *arg)
{
	struct ldapd	*e = arg;

	stats_ldapd_write(w, reqid, &e->stats);
}

/* IMSG_STATS_CHANNEL from the parent. */
int
ldapd_stats_channel(struct ldapd *e, struct imsg *imsg)
{
	e->statsch.write = ldapd_stats_write;
	e->statsch.arg = e;
	return statschan_take(&e->statsch, e->evb, imsg);
}
