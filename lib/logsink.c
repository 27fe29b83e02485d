/*
 * The log sink of the child processes (relay workers, mmp-ldapd): every
 * line an IMSG_LOG to the parent, which owns every log output. Shared so
 * that both children drop, count and report alike.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "logsink.h"
#include "msg.h"

/* One per process, as in log.c: a log_sink_fn has no context argument. */
static struct {
	struct chan	*ch;
	size_t		 dropped;	/* since the last report */
	struct event	*batch;		/* the next batch leaves */
	uint64_t	 last_ms;	/* the last one left, CLOCK_MONOTONIC */
} logsink_env;

static uint64_t
logsink_now_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
logsink_batch_leaves(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	logsink_env.last_ms = logsink_now_ms();
	chan_kick(logsink_env.ch);
}

/* A line was queued: it leaves now, or with the batch (LOGSINK_BATCH_MSEC). */
static void
logsink_schedule(void)
{
	struct timeval	tv = { 0, 0 };
	uint64_t	now, due;

	if (evtimer_pending(logsink_env.batch, NULL))
		return;
	now = logsink_now_ms();
	due = logsink_env.last_ms + LOGSINK_BATCH_MSEC;
	if (now >= due) {
		logsink_env.last_ms = now;
		chan_kick(logsink_env.ch);
		return;
	}
	tv.tv_usec = (suseconds_t)(due - now) * 1000;
	if (evtimer_add(logsink_env.batch, &tv) == -1)
		chan_kick(logsink_env.ch);
}

/*
 * Lines are cut to what the parent accepts (it refuses a longer IMSG_LOG
 * as malformed and kills the sender). Errors (fatal() and worse) are
 * queued even beyond the bound and flushed at once: the process exits
 * right after its line, which must not be lost. Others wait for the
 * event loop, which chan_compose_msg asks to write them.
 */
static void
logsink_line(int svc, int prio, uint64_t ms, const char *line)
{
	struct msg_writer	w;
	char			buf[LOG_LINE_BYTES];

	if (logsink_env.ch == NULL)
		return;
	if (prio > LOG_CRIT &&
	    chan_queued(logsink_env.ch) >= LOGSINK_QUEUE_MAX) {
		logsink_env.dropped++;
		return;
	}
	if (strlcpy(buf, line, sizeof(buf)) >= sizeof(buf))
		memcpy(buf + sizeof(buf) - 4, "...", 4);
	msg_writer_init(&w);
	msg_add_u8(&w, (uint8_t)svc);
	msg_add_u8(&w, (uint8_t)prio);
	msg_add_u64(&w, ms);
	msg_add_str(&w, buf);
	if (chan_queue_msg(logsink_env.ch, IMSG_LOG, 0, &w) == -1)
		return;
	if (prio <= LOG_CRIT || logsink_env.batch == NULL)
		(void)chan_flush(logsink_env.ch);
	else
		logsink_schedule();
}

void
logsink_init(struct chan *ch)
{
	if (logsink_env.batch != NULL)
		event_free(logsink_env.batch);
	logsink_env.batch = NULL;
	logsink_env.ch = ch;
	logsink_env.dropped = 0;
	logsink_env.last_ms = 0;
	/* Without a timer every line is written at once (flushed). */
	if (ch != NULL)
		logsink_env.batch = evtimer_new(chan_base(ch),
		    logsink_batch_leaves, NULL);
	log_set_sink(ch != NULL ? logsink_line : NULL);
}

void
logsink_written(void)
{
	size_t	dropped;

	if (logsink_env.ch == NULL || logsink_env.dropped == 0 ||
	    chan_queued(logsink_env.ch) > 0)
		return;
	dropped = logsink_env.dropped;
	logsink_env.dropped = 0;
	log_warnx("%zu log lines dropped: the parent did not read them",
	    dropped);
}
