/*
 * The children's end of the statistics channels (statschan.h): one
 * request, IMSG_STATS_QUERY, answered at once with IMSG_STATS_ANSWER,
 * unless the asker leaves too many answers unread.
 */
#include <stdint.h>

#include "log.h"
#include "msg.h"
#include "statschan.h"

static int	statschan_dispatch(struct chan *, struct imsg *);
static void	statschan_lost(struct chan *, const char *);

static const struct chan_peer statschan_peer = {
	"stats", statschan_dispatch, statschan_lost, NULL
};

/*
 * No statistics until the parent hands a new channel (when this child or
 * the statistics process restarts), as after garbage. Also called from
 * inside the channel's dispatch: chan frees it when the dispatch returns
 * and reads nothing more from it.
 */
static void
statschan_close(struct statschan *sc)
{
	chan_close(sc->ch);
	sc->ch = NULL;
}

/* IMSG_STATS_QUERY: u64 reqid, nothing after it. */
static int
statschan_query(struct statschan *sc, struct imsg *imsg)
{
	struct msg_reader	r;
	struct msg_writer	w;
	uint64_t		reqid;

	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &reqid) == -1 || msg_end(&r) == -1)
		return CHAN_BAD;
	msg_writer_init(&w);
	sc->write(&w, reqid, sc->arg);
	if (chan_compose_msg(sc->ch, IMSG_STATS_ANSWER, 0, -1, &w) == -1) {
		log_warnx("stats: cannot queue the answer");
		return CHAN_BAD;
	}
	if (chan_queued(sc->ch) > STATSCHAN_QUEUE_MAX) {
		log_warnx("stats leaves more than %d answers unread: channel "
		    "closed", STATSCHAN_QUEUE_MAX);
		statschan_close(sc);
	}
	return CHAN_OK;
}

static int
statschan_dispatch(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_STATS_QUERY:
		return statschan_query(chan_arg(ch), imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* Gone or garbage: no statistics until the parent hands a new channel. */
static void
statschan_lost(struct chan *ch, const char *why)
{
	struct statschan	*sc = chan_arg(ch);

	if (why != NULL)
		log_warnx("stats %s: channel closed", why);
	statschan_close(sc);
}

int
statschan_take(struct statschan *sc, struct event_base *base,
    struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (sc->ch != NULL)
		chan_close(sc->ch);
	if ((sc->ch = chan_open(base, imsg->fd, &statschan_peer, sc)) ==
	    NULL) {
		log_warnx("channel to stats: cannot watch it");
		return CHAN_OK;
	}
	imsg->fd = -1;
	return CHAN_OK;
}
