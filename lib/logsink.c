/*
 * The log sink of the child processes (relay workers, mmp-ldapd): every
 * line an IMSG_LOG to the parent, which owns every log output. Shared so
 * that both children drop, count and report alike.
 */
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "logsink.h"
#include "msg.h"

/* One per process, as in log.c: a log_sink_fn has no context argument. */
static struct {
	struct chan	*ch;
	size_t		 dropped;	/* since the last report */
} logsink_env;

/*
 * Lines are cut to what the parent accepts (it refuses a longer IMSG_LOG
 * as malformed and kills the sender). Errors (fatal() and worse) are
 * queued even beyond the bound and flushed at once: the process exits
 * right after its line, which must not be lost. Others wait for the
 * event loop, which chan_compose_msg asks to write them.
 */
static void
logsink_line(int svc, int prio, const char *line)
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
	msg_add_str(&w, buf);
	(void)chan_compose_msg(logsink_env.ch, IMSG_LOG, 0, -1, &w);
	if (prio <= LOG_CRIT)
		(void)chan_flush(logsink_env.ch);
}

void
logsink_init(struct chan *ch)
{
	logsink_env.ch = ch;
	logsink_env.dropped = 0;
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
