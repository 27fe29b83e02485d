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
	int		 pipe[2];
	size_t		 inpipe;	/* bytes in the pipe */
	struct buf	 pend;		/* bytes read before the relay began */
	int		 eof;
	struct event	*rev;		/* readable: from */
	struct event	*wev;		/* writable: to */
	uint64_t	 bytes;
};

/* Before first use and after pump_free: zeroed, no pipe, no events. */
void	pump_clear(struct relay_dir *);
/* Pipe and events (both call cb with d); pend up to pendmax. 0 or -1. */
int	pump_init(struct relay_dir *, struct event_base *, int from, int to,
	    size_t pendmax, event_callback_fn cb);
/* Move what can move now, PUMP_WAKEUP_BYTES at most. */
enum pump_result pump_run(struct relay_dir *);
/* Wait for what this direction needs next. */
void	pump_arm(struct relay_dir *);
void	pump_free(struct relay_dir *);

#endif /* MMPD_PUMP_H */
