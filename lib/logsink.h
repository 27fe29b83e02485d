/*
 * A child's log lines go to the parent as IMSG_LOG on the parent channel.
 * The queue is bounded: a parent that does not read costs lines, counted
 * and reported once it reads again, never the child's memory.
 */
#ifndef MMP_LOGSINK_H
#define MMP_LOGSINK_H

#include <stddef.h>

#include "chan.h"

/*
 * Messages waiting for the parent before log lines are dropped. 10000
 * lines are seconds of a busy relay's log (two or three per session) and
 * a few MB at most (lines are cut at LOG_LINE_BYTES): a parent stalled on
 * a slow disk loses nothing, a stopped one costs a bounded amount.
 */
#define LOGSINK_QUEUE_MAX	10000

/*
 * From now on log lines go to the parent over ch; NULL ends that (before
 * the channel is closed at exit), lines go to stderr again.
 */
void	logsink_init(struct chan *ch);
/*
 * Call when the parent channel has written everything it had queued
 * (its chan_peer's drained): the number of lines dropped since the last
 * report is logged then, a line that itself goes through the sink.
 */
void	logsink_written(void);

#endif /* MMP_LOGSINK_H */
