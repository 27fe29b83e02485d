/*
 * One direction of a relayed session: bytes from one socket to another
 * through a pipe with splice(2), so that they are never copied into the
 * relay and a slow receiver stops its sender instead of growing a buffer.
 */
#ifndef MMPD_PUMP_H
#define MMPD_PUMP_H

#include <sys/types.h>

#include <event2/event.h>
#include <stdint.h>

#include "buf.h"

#define RELAY_PIPE_BYTES	65536	/* Linux default pipe size */
/*
 * Bytes one direction moves per wakeup. Then it yields, so that a session
 * whose two ends are both fast cannot keep its worker from every other
 * session; level-triggered events bring it back on the next round.
 */
#define PUMP_WAKEUP_BYTES	(4 * RELAY_PIPE_BYTES)
/*
 * Empty pipes a relay worker keeps for the next burst: a direction holds
 * a pipe only while bytes are in flight, so an idle session costs its two
 * sockets and nothing more, and a busy worker does not pay pipe2 and
 * close for every message.
 */
#define PUMP_POOL_MAX		64

struct pump_pool {
	int		 fds[PUMP_POOL_MAX][2];
	size_t		 n;
};

enum pump_result {
	PUMP_ERROR = -1,	/* a socket failed */
	PUMP_WAIT,		/* nothing more now: wait for an event */
	PUMP_DONE,		/* sender closed, all passed on, half-closed */
	PUMP_YIELD,		/* PUMP_WAKEUP_BYTES moved: let others run */
};

struct relay_dir {
	void		*arg;		/* of the callback: the session */
	int		 from;
	int		 to;
	struct pump_pool *pool;		/* where an empty pipe goes */
	int		 pipe[2];	/* -1: none while nothing is in flight */
	size_t		 inpipe;	/* bytes in the pipe */
	struct buf	 pend;		/* read before the relay; freed sent */
	int		 eof;
	struct event	*rev;		/* readable: from (the owner's memory) */
	struct event	*wev;		/* writable: to (the owner's memory) */
	uint64_t	 bytes;
};

/* Before first use and after pump_free: zeroed, no pipe, no events. */
void	pump_clear(struct relay_dir *);
/*
 * Events (both call cb with d), in rev and wev (event_get_struct_event_size
 * bytes each, the caller's), and pend up to pendmax; the pipe is taken
 * from pool (or made) when bytes come. 0 or -1.
 */
int	pump_init(struct relay_dir *, struct event_base *,
	    struct pump_pool *pool, int from, int to, size_t pendmax,
	    event_callback_fn cb, struct event *rev, struct event *wev);
/* Move what can move now, PUMP_WAKEUP_BYTES at most. */
enum pump_result pump_run(struct relay_dir *);
/* Wait for what this direction needs next. */
void	pump_arm(struct relay_dir *);
/* The first arming: pend goes out at the end of this round of the loop. */
void	pump_start(struct relay_dir *);
/* Events deleted (their memory stays the owner's), pipe and pend freed. */
void	pump_free(struct relay_dir *);
/* The pool's pipes closed (at exit). */
void	pump_pool_free(struct pump_pool *);

#endif /* MMPD_PUMP_H */
