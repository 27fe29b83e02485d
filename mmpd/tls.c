/*
 * A relay's side of mmp-tlsd: the channels the parent hands us (one per
 * mmp-tlsd), handing a network socket to one of them with the other end
 * of a fresh socketpair, and routing each TLS_RESULT to its session.
 * Each handoff has an id of its own, never reused: a session may give a
 * handshake up (a store's, at its timeout) and hand the next address
 * over, and the late result of the first must not pass for the second's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

int
handoff_cmp(struct session *a, struct session *b)
{
	return a->tlsid < b->tlsid ? -1 : a->tlsid > b->tlsid;
}

RB_GENERATE(handoff_tree, session, handoff, handoff_cmp)

static struct tlsd_slot *
tls_slot_of(struct chan *ch)
{
	return chan_arg(ch);
}

/*
 * Every session waiting for a result from this slot: the result will not
 * come. A client waiting for its handshake is closed; a store's is an
 * address that failed before the login.
 */
static void
tls_fail_pending(int slot)
{
	struct session	*s, *next;

	RB_FOREACH_SAFE(s, handoff_tree, &env->handoffs, next) {
		if (s->tlsd != slot)
			continue;
		tls_pending_clear(s);
		if (s->tlsrole == TLS_ROLE_SERVER)
			session_tls_lost(s);
		else
			backend_tls_lost(s);
	}
	env->tlsd[slot].inflight = 0;
}

static void
tls_slot_close(int slot)
{
	struct tlsd_slot	*t = &env->tlsd[slot];

	if (t->ch == NULL)
		return;
	chan_close(t->ch);
	t->ch = NULL;
	tls_fail_pending(slot);
}

static int	tls_parked_dispatch(struct chan *, struct imsg *);
static void	tls_parked_lost(struct chan *, const char *);

/* A parked channel: nothing but its end is awaited. */
static const struct chan_peer tls_parked_peer = {
	"mmp-tlsd", tls_parked_dispatch, tls_parked_lost, NULL
};

/* A parked channel's end: its mmp-tlsd drained, or we leave. */
static void
tls_parked_close(struct tlsd_parked *p)
{
	chan_close(p->ch);
	TAILQ_REMOVE(&env->tlsd_parked, p, entry);
	free(p);
}

/*
 * What a parked channel may still carry: TLSD_DRAINING, and results for
 * handoffs failed when it was parked (tls_slot_park). Both are dropped.
 */
static int
tls_parked_dispatch(struct chan *ch, struct imsg *imsg)
{
	struct tlsd_parked	*p = chan_arg(ch);
	struct tls_result	 r;	/* 8 KiB: cannot fail */

	switch (imsg->hdr.type) {
	case IMSG_TLS_RESULT:
		if (tls_result_read(imsg, &r) == -1)
			return CHAN_BAD;
		log_debug("TLS result for handoff 0x%llx from the replaced "
		    "mmp-tlsd %u: given up, ignored",
		    (unsigned long long)r.id, p->index);
		explicit_bzero(&r, sizeof(r));
		return CHAN_OK;
	case IMSG_TLSD_DRAINING:
		return imsg->datalen == 0 ? CHAN_OK : CHAN_BAD;
	default:
		return CHAN_UNEXPECTED;
	}
}

static void
tls_parked_lost(struct chan *ch, const char *why)
{
	struct tlsd_parked	*p = chan_arg(ch);

	if (why == NULL)
		log_debug("the replaced mmp-tlsd %u closed its channel",
		    p->index);
	else
		log_warnx("the replaced mmp-tlsd %u %s: channel closed",
		    p->index, why);
	tls_parked_close(p);
}

/* At the relay's end: every mmp-tlsd channel closed. */
void
tls_close_all(void)
{
	struct tlsd_parked	*p;
	int			 slot;

	for (slot = 0; slot < TLSD_MAX; slot++)
		tls_slot_close(slot);
	while ((p = TAILQ_FIRST(&env->tlsd_parked)) != NULL)
		tls_parked_close(p);
}

/*
 * A new channel for a slot that has one: its mmp-tlsd was retired and
 * drains (TLSWorkers lowered, then raised before it was done), or died
 * and its end was not read yet. Either way the old channel moves off the
 * array, parked, and lives until that mmp-tlsd closes it: closing it here
 * would end a draining one's sessions (mmp-tlsd frees a relay's sessions
 * with its channel). Parked whether its TLSD_DRAINING was read or not:
 * it comes from that mmp-tlsd, the new channel from the parent, and
 * either may be read first. Handshakes still under way on it fail now:
 * the slot's counters go on with the new one.
 */
static void
tls_slot_park(int slot)
{
	struct tlsd_slot	*t = &env->tlsd[slot];
	struct tlsd_parked	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("mmp-tlsd %d: cannot keep the old channel; its "
		    "sessions end", slot);
		tls_slot_close(slot);
		return;
	}
	tls_fail_pending(slot);
	p->ch = t->ch;
	p->index = t->index;
	chan_rebind(p->ch, &tls_parked_peer, p);
	TAILQ_INSERT_TAIL(&env->tlsd_parked, p, entry);
	t->ch = NULL;
	t->draining = 0;
	log_info("mmp-tlsd %d: a new one; the old one keeps its sessions "
	    "until it closes its channel", slot);
}

/*
 * IMSG_TLSD_CHANNEL: a new channel for that mmp-tlsd; the old one, if
 * any, is parked (tls_slot_park). -1 if the index is out of range.
 */
int
tls_channel(uint32_t index, int fd, const struct chan_peer *peer)
{
	struct tlsd_slot	*t;

	if (index >= TLSD_MAX)
		return -1;
	t = &env->tlsd[index];
	if (t->ch != NULL)
		tls_slot_park(index);
	t->index = index;
	t->draining = 0;
	if ((t->ch = chan_open(env->base, fd, peer, t)) == NULL)
		fatalx("channel to mmp-tlsd %u: cannot watch it", index);
	log_debug("channel to mmp-tlsd %u ready", index);
	return 0;
}

/*
 * A new channel for index never reached us (relay_parent_fdlost): the old
 * one is parked all the same, as the new one's arrival would have done.
 */
void
tls_channel_drop(uint32_t index)
{
	if (index < TLSD_MAX && env->tlsd[index].ch != NULL)
		tls_slot_park(index);
}

/* We close a channel that still works: the parent must send a new one. */
static void
tls_slot_give_up(int slot)
{
	struct msg_writer	w;

	tls_slot_close(slot);
	msg_writer_init(&w);
	msg_add_u32(&w, (uint32_t)slot);
	(void)chan_compose_msg(env->parent, IMSG_TLSD_LOST, 0, -1, &w);
}

/*
 * Lost by EOF: that mmp-tlsd ended; the parent restarts it and sends a
 * new channel. Lost to garbage: we close it and tell the parent.
 */
void
tls_channel_lost(struct chan *ch, const char *why)
{
	struct tlsd_slot	*t = tls_slot_of(ch);
	int			 slot = t - env->tlsd;

	if (why == NULL && t->draining) {
		log_debug("mmp-tlsd %d drained and closed its channel", slot);
		tls_slot_close(slot);
		return;
	}
	if (why == NULL) {
		log_warnx("mmp-tlsd %d closed its channel; failing its "
		    "handshakes", slot);
		tls_slot_close(slot);
		return;
	}
	log_warnx("mmp-tlsd %d %s: channel closed, failing its handshakes",
	    slot, why);
	tls_slot_give_up(slot);
}

/* A channel that takes handshakes: live, its mmp-tlsd not draining. */
static int
tls_slot_usable(int slot)
{
	return env->tlsd[slot].ch != NULL && !env->tlsd[slot].draining;
}

/* The usable channel with the fewest handshakes in flight; -1: none. */
static int
tls_pick(void)
{
	unsigned int	i, slot;
	int		best = -1;

	for (i = 0; i < TLSD_MAX; i++) {
		slot = (env->tlsd_next + i) % TLSD_MAX;
		if (!tls_slot_usable(slot))
			continue;
		if (best == -1 ||
		    env->tlsd[slot].inflight < env->tlsd[best].inflight)
			best = slot;
	}
	if (best != -1)
		env->tlsd_next = (best + 1) % TLSD_MAX;
	return best;
}

int
tls_available(void)
{
	unsigned int	i;

	for (i = 0; i < TLSD_MAX; i++)
		if (tls_slot_usable(i))
			return 1;
	return 0;
}

/*
 * Hand the network socket *fdp to an mmp-tlsd: START with it, PLAIN with
 * mmp-tlsd's end of a new socketpair. On success *fdp is our plaintext
 * end, not to be read before the session's TLS_RESULT; returns 0. On
 * failure -1 and *fdp is closed and -1 (the chan owns what it was given).
 * servername: for TLS_ROLE_CLIENT, the name the store's certificate must
 * carry.
 */
int
tls_handoff(struct session *s, int *fdp, enum tls_role role,
    const char *peer, const char *local, const char *servername)
{
	struct tls_start	 ts;
	struct msg_writer	 w;
	struct chan		*ch;
	int			 slot, sv[2];

	if ((slot = tls_pick()) == -1) {
		close(*fdp);
		*fdp = -1;
		errno = ENOENT;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		close(*fdp);
		*fdp = -1;
		return -1;
	}
	memset(&ts, 0, sizeof(ts));
	ts.id = env->nexthandoff++;
	ts.sid = s->id;
	ts.role = role;
	ts.sect = s->svc;
	(void)strlcpy(ts.peer, peer, sizeof(ts.peer));
	(void)strlcpy(ts.local, local, sizeof(ts.local));
	if (role == TLS_ROLE_CLIENT)
		(void)strlcpy(ts.servername, servername,
		    sizeof(ts.servername));
	ch = env->tlsd[slot].ch;
	msg_writer_init(&w);
	if (tls_start_write(&w, &ts) == -1 ||
	    chan_compose_msg(ch, IMSG_TLS_START, 0, *fdp, &w) == -1) {
		/* The chan closed *fdp; nothing half-sent is queued. */
		*fdp = -1;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	*fdp = -1;
	msg_writer_init(&w);
	tls_plain_write(&w, ts.id);
	if (chan_compose_msg(ch, IMSG_TLS_PLAIN, 0, sv[1], &w) == -1) {
		/* A START without its PLAIN: that channel is unusable. */
		close(sv[0]);
		log_warnx("mmp-tlsd %d: cannot queue a handshake; channel "
		    "closed", slot);
		tls_slot_give_up(slot);
		return -1;
	}
	env->tlsd[slot].inflight++;
	s->tlsd = slot;
	s->tlsrole = role;
	s->tlsid = ts.id;
	RB_INSERT(handoff_tree, &env->handoffs, s);
	log_debug(LOG_SID_FMT ": TLS handoff 0x%llx to mmp-tlsd %d",
	    (unsigned long long)s->id, (unsigned long long)ts.id, slot);
	*fdp = sv[0];
	return 0;
}

/* The session no longer waits for a result (given up, or it came). */
void
tls_pending_clear(struct session *s)
{
	if (s->tlsd == -1)
		return;
	if (env->tlsd[s->tlsd].inflight > 0)
		env->tlsd[s->tlsd].inflight--;
	RB_REMOVE(handoff_tree, &env->handoffs, s);
	s->tlsd = -1;
	s->tlsid = 0;
}

/*
 * IMSG_TLS_RESULT, for the handoff r.id. One given up meanwhile (the
 * session ended, or moved on to another handoff) is no error; a result
 * that cannot be one for what the session waits for (client certificate
 * or SNI on a store connection) is.
 */
int
tls_result(struct chan *ch, struct imsg *imsg)
{
	struct tlsd_slot	*t = tls_slot_of(ch);
	struct tls_result	 r;	/* 8 KiB: cannot fail */
	struct session		*s, key;
	int			 slot = t - env->tlsd;

	if (tls_result_read(imsg, &r) == -1)
		return CHAN_BAD;
	key.tlsid = r.id;
	if ((s = RB_FIND(handoff_tree, &env->handoffs, &key)) == NULL ||
	    s->tlsd != slot) {
		log_debug("TLS result for handoff 0x%llx: given up, ignored",
		    (unsigned long long)r.id);
		explicit_bzero(&r, sizeof(r));
		return CHAN_OK;
	}
	if (s->tlsrole == TLS_ROLE_CLIENT && (r.cert != TLS_CERT_NONE ||
	    r.sni[0] != '\0')) {
		explicit_bzero(&r, sizeof(r));
		return CHAN_BAD;
	}
	tls_pending_clear(s);
	if (s->tlsrole == TLS_ROLE_SERVER)
		session_tls_result(s, &r);
	else
		backend_tls_result(s, &r);
	explicit_bzero(&r, sizeof(r));
	return CHAN_OK;
}

/*
 * IMSG_TLSD_DRAINING: no payload. That mmp-tlsd was retired: it gets no
 * more handshakes (one sent before this came is answered TLS_FAILED);
 * its sessions go on, and its channel ends with the last of them.
 */
int
tls_draining(struct chan *ch, struct imsg *imsg)
{
	struct tlsd_slot	*t = tls_slot_of(ch);

	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (!t->draining)
		log_debug("mmp-tlsd %d drains: no more handshakes for it",
		    (int)(t - env->tlsd));
	t->draining = 1;
	return CHAN_OK;
}
