/*
 * chan: an imsg channel to another process, driven by libevent. Each
 * process describes its peers in a table of struct chan_peer (one
 * dispatch and one lost function per peer); the reading, writing,
 * arming and the rule for a peer that breaks the protocol live here once.
 */
#ifndef MMP_CHAN_H
#define MMP_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "imsg.h"

/*
 * What a dispatch function returns for one message. Anything but
 * CHAN_OK loses the channel, as garbage on it would: the peer is not
 * trusted to say what it meant.
 */
#define CHAN_OK		 0	/* handled: go on with the next */
#define CHAN_BAD	-1	/* payload refused (msg_get_*, checks) */
#define CHAN_UNEXPECTED	-2	/* a type this peer does not send */

#define CHAN_WHY_BYTES	128	/* longest reason given to lost */

struct chan;

/*
 * One message. The descriptor rule is checked before: a dispatch sees an
 * fd exactly when msg_type_has_fd(type) says one is due. To keep it, the
 * dispatch sets imsg->fd to -1; otherwise it is closed (abortively).
 *
 * A dispatch may close its own channel (chan_close) and free whatever
 * holds it: the chan stays valid until the dispatch returns, notices,
 * and reads no further message from it, whatever the dispatch returned.
 */
typedef int	(*chan_dispatch_fn)(struct chan *, struct imsg *);

/*
 * The channel is lost: why is NULL when the peer closed it (EOF, reset),
 * else what the peer did, worded to follow its name ("sent a malformed
 * LOOKUP", "sent a descriptor with LOG"). Called once, from the event
 * loop, as the last thing the chan does; it must chan_close the channel
 * or end the process. What follows is the peer's business, so lost logs
 * the one line that says both: what was sent, and what is done about it.
 */
typedef void	(*chan_lost_fn)(struct chan *, const char *why);

/* One peer of a process, in that process's static table. */
struct chan_peer {
	const char		*name;		/* "parent", for the log */
	chan_dispatch_fn	 dispatch;
	chan_lost_fn		 lost;
	/* Optional: everything queued has been written. */
	void			(*drained)(struct chan *);
};

/*
 * A channel on fd (made non-blocking), reading at once. NULL if the
 * events cannot be had; fd stays the caller's then. arg is for the
 * peer's functions (chan_arg).
 */
struct chan	*chan_open(struct event_base *, int fd,
		    const struct chan_peer *, void *arg);
/*
 * For a message whose descriptor was lost on its way here because this
 * process is out of descriptors (imsg->fd is -1, imsg->fdlost set): fn
 * fails that one request and returns CHAN_OK to keep the channel. Without
 * one such a message loses the channel.
 */
void	 chan_on_fdlost(struct chan *, chan_dispatch_fn fn);
/*
 * The end of a channel: the peer's queued messages are read and dropped
 * (their descriptors closed abortively, lib/imsg.c), ours are dropped
 * too (chan_flush first if they matter), the socket is closed. Inside a
 * callback of this channel the memory is freed when the callback ends.
 */
void		 chan_close(struct chan *);

/*
 * Queue a message and arm the write event. fd (or -1) belongs to the
 * chan from this call on, as with imsg_compose. 0, or -1 when it cannot
 * be queued or watched: the caller gives up on the peer.
 */
int		 chan_compose(struct chan *, uint32_t type, uint32_t peerid,
		    int fd, const void *, size_t);
/* Same from a msg_writer, which is wiped (it may have held a secret). */
int		 chan_compose_msg(struct chan *, uint32_t type,
		    uint32_t peerid, int fd, struct msg_writer *);
/*
 * Queue a message without arming the write: it leaves with the next
 * message that is armed, at chan_kick, or at chan_flush. For traffic
 * that may wait a little (log lines, lib/logsink.c). 0 or -1.
 */
int		 chan_queue_msg(struct chan *, uint32_t type,
		    uint32_t peerid, struct msg_writer *);
/* What is queued is written at the end of this round of the loop. */
void		 chan_kick(struct chan *);
struct event_base *chan_base(const struct chan *);
/*
 * Read what the peer sent and was not read yet, and hand it to the
 * dispatch, up to EOF or nothing more to read: a child that exited said
 * its last words (mmp-ldapd's counters at exit) before its end, and its
 * SIGCHLD may be handled before they were read.
 */
void		 chan_read_rest(struct chan *);
/* Write everything now, blocking: for fatal paths and exit. 0 or -1. */
int		 chan_flush(struct chan *);
size_t		 chan_queued(const struct chan *);
void		*chan_arg(const struct chan *);
/*
 * From now on the channel's messages and end go to peer's functions,
 * with arg: its owner handed it to another part of the process.
 */
void		 chan_rebind(struct chan *, const struct chan_peer *,
		    void *arg);

/*
 * A child's first configuration, before its event loop and sandbox:
 * block on the parent channel, handing each message to the dispatch,
 * until configured() is true. A child without it has nothing to serve,
 * so here garbage, a refused message or EOF are fatal. Messages that came
 * along with the last one are dispatched once the event loop runs.
 */
void		 chan_first_conf(struct chan *, int (*configured)(void));

#ifdef MMP_FUZZ
/*
 * Fuzz builds only (regress/fuzz/rxpeer.c), never an installed binary:
 * called first when a channel is lost; nonzero means the harness did in
 * place of the peer's lost function what the process would have come to
 * (it closed the channel): a child's parent channel, whose lost function
 * ends the process, a fuzzer cannot let end.
 */
extern int	(*chan_fuzz_lost)(struct chan *, const char *why);
/* The peer table entry a channel was opened with, to open another. */
const struct chan_peer *chan_fuzz_peer(const struct chan *);
#endif

#endif /* MMP_CHAN_H */
