/*
 * The children's end of the statistics channels (statschan.h): one
 * request, IMSG_STATS_QUERY, answered at once with IMSG_STATS_ANSWER.
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
	chan_close(ch);
	sc->ch = NULL;
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
