/*
 * mmp-tlsd's relay workers: the channel the parent hands over for each
 * (IMSG_RELAY_CHANNEL), the sessions each starts on it (conn.c) and the
 * results sent back. Named relays.c, not relay.c: in mmpd/ relay.c is the
 * relay worker itself, and here a relay is a peer. A relay that leaves
 * too many results unread loses its channel.
 */
#include <sys/types.h>

#include <stdlib.h>

#include "log.h"
#include "tlsd.h"

static int	relays_dispatch(struct chan *, struct imsg *);
static void	relays_lost(struct chan *, const char *);
static int	relays_fdlost(struct chan *, struct imsg *);
static void	relays_close(struct tlsd_relay *);

/* Each relay's channel: sessions to start. */
static const struct chan_peer relays_peer = {
	"relay", relays_dispatch, relays_lost, NULL
};

static void
relays_close_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	relays_close(arg);
}

/*
 * The relay's channel closes from the event loop, not here: the session
 * whose result crossed the bound is still in use by the caller (conn_fail
 * frees it next, conn_succeed pumps it), maybe inside the dispatch of
 * that very channel (conn_plain), and relays_close frees the relay and
 * every session in it.
 */
static void
relays_close_later(struct tlsd_relay *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	event_active(r->closeev, EV_TIMEOUT, 0);
}

/* Nothing more goes to a relay whose channel is closing. */
int
relays_send_result(struct tlsd_relay *r, const struct tls_result *res)
{
	struct msg_writer	w;

	if (r->closing)
		return -1;
	msg_writer_init(&w);
	tls_result_write(&w, res);
	if (chan_compose_msg(r->chan, IMSG_TLS_RESULT, 0, -1, &w) == -1)
		return -1;
	if (chan_queued(r->chan) > TLSD_RELAY_QUEUE_MAX) {
		log_warnx("relay %u leaves more than %d TLS results unread: "
		    "channel closed", r->idx, TLSD_RELAY_QUEUE_MAX);
		relays_close_later(r);
	}
	return 0;
}

/* Its sessions end with it: their results have nowhere to go. */
static void
relays_close(struct tlsd_relay *r)
{
	struct conn	*c;

	if (r->pending != NULL)
		conn_free(r->pending);
	while ((c = RB_MIN(conn_tree, &r->conns)) != NULL)
		conn_free(c);
	chan_close(r->chan);
	event_free(r->closeev);
	TAILQ_REMOVE(&env->relays, r, entry);
	env->nrelays--;
	free(r);
}

/* A relay: sessions to start. One whose channel is closing: none. */
static int
relays_dispatch(struct chan *ch, struct imsg *imsg)
{
	struct tlsd_relay	*r = chan_arg(ch);

	if (r->closing)
		return CHAN_OK;
	switch (imsg->hdr.type) {
	case IMSG_TLS_START:
		return conn_start(r, imsg);
	case IMSG_TLS_PLAIN:
		return conn_plain(r, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/*
 * A START or PLAIN whose socket never reached us: we are out of
 * descriptors. That handoff fails (conn_begin answers TLS_FAILED once
 * its pair is complete); the relay's other sessions go on.
 */
static int
relays_fdlost(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_TLS_START:
	case IMSG_TLS_PLAIN:
		return relays_dispatch(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* A relay that left or broke the protocol loses its channel, only it. */
static void
relays_lost(struct chan *ch, const char *why)
{
	struct tlsd_relay	*r = chan_arg(ch);

	if (why == NULL)
		log_debug("relay %u closed its channel", r->idx);
	else
		log_warnx("relay %u %s: channel closed", r->idx, why);
	relays_close(r);
}

/*
 * IMSG_RELAY_CHANNEL: fd = socket to relay idx; u32 idx. Several channels
 * may carry one index for a while, as in mmp-ldapd: a relay retired by a
 * reload drains its sessions over its channel while the relay that a
 * later reload starts with its index gets a new one. A channel, and the
 * sessions in it, end when its relay closes it (it exited, or gave the
 * channel up). One too many is refused, not a broken protocol.
 */
int
relays_add(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct tlsd_relay	*r;
	uint32_t		 idx;

	msg_reader_init(&rd, imsg);
	if (msg_get_u32(&rd, &idx) == -1 || msg_end(&rd) == -1)
		return CHAN_BAD;
	if (env->nrelays >= TLSD_RELAYS_MAX) {
		log_warnx("relay %u: more than %d relay channels; refused",
		    idx, TLSD_RELAYS_MAX);
		return CHAN_OK;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->idx = idx;
	RB_INIT(&r->conns);
	if ((r->closeev = event_new(env->evb, -1, 0, relays_close_cb,
	    r)) == NULL || (r->chan = chan_open(env->evb, imsg->fd,
	    &relays_peer, r)) == NULL) {
		log_warn("relay %u: channel", idx);
		if (r->closeev != NULL)
			event_free(r->closeev);
		free(r);
		return CHAN_OK;
	}
	imsg->fd = -1;
	chan_on_fdlost(r->chan, relays_fdlost);
	TAILQ_INSERT_TAIL(&env->relays, r, entry);
	env->nrelays++;
	log_debug("relay %u: channel open", idx);
	return CHAN_OK;
}

/* DRAIN: each relay is told to hand us no more sessions. */
void
relays_drain(void)
{
	struct tlsd_relay	*r, *next;

	TAILQ_FOREACH_SAFE(r, &env->relays, entry, next)
		if (!r->closing && chan_compose(r->chan,
		    IMSG_TLSD_DRAINING, 0, -1, NULL, 0) == -1) {
			log_warnx("relay %u: cannot queue TLSD_DRAINING; "
			    "channel closed", r->idx);
			relays_close(r);
		}
}

/* A START waits for its PLAIN somewhere. */
int
relays_busy(void)
{
	struct tlsd_relay	*r;

	TAILQ_FOREACH(r, &env->relays, entry)
		if (r->pending != NULL)
			return 1;
	return 0;
}

/*
 * Before the last exit: what we owe the relays (results) goes out, but
 * not to one whose channel is closing: it does not read, and the flush
 * blocks until everything is written.
 */
void
relays_flush_all(void)
{
	struct tlsd_relay	*r;

	TAILQ_FOREACH(r, &env->relays, entry)
		if (!r->closing)
			(void)chan_flush(r->chan);
}

/* At exit: every relay's channel, and the sessions in it. */
void
relays_close_all(void)
{
	struct tlsd_relay	*r;

	while ((r = TAILQ_FIRST(&env->relays)) != NULL)
		relays_close(r);
}
