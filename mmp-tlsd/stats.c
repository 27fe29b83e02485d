/*
 * mmp-tlsd's statistics: client handshakes by outcome, counted in conn.c
 * where they end, sent to the statistics process when it asks over the
 * channel the parent handed us.
 */
#include "log.h"
#include "msg.h"
#include "tlsd.h"

static int	tlsd_dispatch_stats(struct chan *, struct imsg *);
static void	tlsd_lost_stats(struct chan *, const char *);

static const struct chan_peer tlsd_stats_peer = {
	"stats", tlsd_dispatch_stats, tlsd_lost_stats, NULL
};

/* IMSG_STATS_QUERY: u64 reqid; answered at once. */
static int
tlsd_stats_query(struct chan *ch, struct imsg *imsg)
{
	struct msg_reader	r;
	struct msg_writer	w;
	uint64_t		reqid;

	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &reqid) == -1 || msg_end(&r) == -1)
		return CHAN_BAD;
	msg_writer_init(&w);
	stats_tlsd_write(&w, reqid, &env->stats);
	if (chan_compose_msg(ch, IMSG_STATS_ANSWER, 0, -1, &w) == -1) {
		log_warnx("stats: cannot queue the answer");
		return CHAN_BAD;
	}
	return CHAN_OK;
}

static int
tlsd_dispatch_stats(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_STATS_QUERY:
		return tlsd_stats_query(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* Gone or garbage: no statistics until the parent hands a new channel. */
static void
tlsd_lost_stats(struct chan *ch, const char *why)
{
	if (why != NULL)
		log_warnx("stats %s: channel closed", why);
	chan_close(ch);
	env->statsch = NULL;
}

/* IMSG_STATS_CHANNEL: fd, no payload. A new one replaces the old. */
int
tlsd_stats_channel(struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (env->statsch != NULL)
		chan_close(env->statsch);
	if ((env->statsch = chan_open(env->evb, imsg->fd, &tlsd_stats_peer,
	    NULL)) == NULL) {
		log_warnx("channel to stats: cannot watch it");
		return CHAN_OK;
	}
	imsg->fd = -1;
	return CHAN_OK;
}
