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
 * Log lines must not cost a process round trip each: a line goes to the
 * parent at once (at the end of the loop's round) only if the last batch
 * left at least this long ago, else with the batch that leaves then (or
 * with any other message to the parent before). A quiet process logs
 * without delay; a busy one wakes the parent 50 times a second at most.
 * Errors (fatal() and worse) never wait.
 */
#define LOGSINK_BATCH_MSEC	20

/*
 * From now on log lines go to the parent over ch (a timer on ch's event
 * base batches them); NULL ends that (after chan_flush, before the
 * channel is closed at exit), lines go to stderr again.
 */
void	logsink_init(struct chan *ch);
/*
 * Call when the parent channel has written everything it had queued
 * (its chan_peer's drained): the number of lines dropped since the last
 * report is logged then, a line that itself goes through the sink.
 */
void	logsink_written(void);

#endif /* MMP_LOGSINK_H */
