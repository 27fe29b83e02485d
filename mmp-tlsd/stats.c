/*
 * mmp-tlsd's statistics: client handshakes by outcome, counted in conn.c
 * where they end, sent to the statistics process when it asks over the
 * channel the parent handed us.
 */
#include "log.h"
#include "msg.h"
#include "tlsd.h"

/* The answer to the statistics process: this mmp-tlsd's counters now. */
static void
tlsd_stats_write(struct msg_writer *w, uint64_t reqid, void *arg)
{
	(void)arg;
	stats_tlsd_write(w, reqid, &env->stats);
}

/* IMSG_STATS_CHANNEL from the parent. */
int
tlsd_stats_channel(struct imsg *imsg)
{
	env->statsch.write = tlsd_stats_write;
	return statschan_take(&env->statsch, env->evb, imsg);
}
