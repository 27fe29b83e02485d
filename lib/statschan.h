/*
 * The answering end of a statistics channel, the same in every child the
 * statistics process asks (relay, mmp-ldapd, mmp-tlsd): a QUERY is
 * answered at once with the counters the child's write function puts
 * after the request id.
 */
#ifndef MMP_STATSCHAN_H
#define MMP_STATSCHAN_H

#include <event2/event.h>
#include <stdint.h>

#include "chan.h"
#include "imsg.h"

/*
 * Answers the statistics process may leave unread before its channel is
 * closed. It asks a peer once per scrape and not again before the answer
 * came (mmpd/stats.c, asked): one is the protocol. More are queued only
 * by one that asks on without reading, the process that parses HTTP from
 * the network and so the likeliest to be taken over; unbounded, each
 * child would queue answers until out of memory.
 */
#define STATSCHAN_QUEUE_MAX	8

/* Writes the sender's answer: reqid, then its counters (statsmsg.h). */
typedef void	(*statschan_write_fn)(struct msg_writer *, uint64_t reqid,
		    void *arg);

struct statschan {
	struct chan		*ch;	/* NULL: no statistics process now */
	statschan_write_fn	 write;
	void			*arg;	/* write's */
};

/*
 * IMSG_STATS_CHANNEL: fd, no payload. The new channel replaces sc's old
 * one; garbage on it or its end leaves sc without one until the parent
 * hands another, as does a peer that leaves more than STATSCHAN_QUEUE_MAX
 * answers unread. CHAN_OK, or CHAN_BAD for a payload.
 */
int	statschan_take(struct statschan *, struct event_base *,
	    struct imsg *);

#endif /* MMP_STATSCHAN_H */
