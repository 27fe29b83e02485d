/*
 * The parent's syslog client. syslog(3) knows only /dev/log and blocks
 * when the daemon behind it stalls; the parent must not: a line that does
 * not fit in the socket now is dropped and counted, never waited for.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logsyslog.h"

/* Seconds between two attempts to connect to a socket that is not there. */
#define LOGSYSLOG_RETRY_SEC	1

static struct {
	char	path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int	on;
	int	fd;
	pid_t	pid;		/* ours, at connect: daemon(3) changes it */
	time_t	tried;		/* the last failed connect */
	size_t	dropped;	/* since the last line that got through */
} logsyslog_env = { "", 0, -1, 0, 0, 0 };

static void
logsyslog_close(void)
{
	if (logsyslog_env.fd != -1)
		close(logsyslog_env.fd);
	logsyslog_env.fd = -1;
}

void
logsyslog_set(const char *path)
{
	logsyslog_close();
	logsyslog_env.on = 0;
	logsyslog_env.tried = 0;
	if (path == NULL || strlcpy(logsyslog_env.path, path,
	    sizeof(logsyslog_env.path)) >= sizeof(logsyslog_env.path))
		return;
	logsyslog_env.on = 1;
}

int
logsyslog_on(void)
{
	return logsyslog_env.on;
}

/* Connected, or -1 (and no new attempt for LOGSYSLOG_RETRY_SEC). */
static int
logsyslog_connect(void)
{
	struct sockaddr_un	sun;
	time_t			now = time(NULL);

	if (logsyslog_env.fd != -1)
		return 0;
	if (now - logsyslog_env.tried < LOGSYSLOG_RETRY_SEC)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, logsyslog_env.path, sizeof(sun.sun_path));
	logsyslog_env.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (logsyslog_env.fd == -1 || connect(logsyslog_env.fd,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		logsyslog_close();
		logsyslog_env.tried = now;
		return -1;
	}
	logsyslog_env.pid = getpid();
	return 0;
}

/* 0 sent, -1 not (the socket is closed if it is gone). */
static int
logsyslog_write(const char *msg, size_t len)
{
	if (logsyslog_connect() == -1)
		return -1;
	if (send(logsyslog_env.fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len)
		return 0;
	/* The daemon restarted: a new socket at the same path. */
	if (errno != EAGAIN && errno != ENOBUFS)
		logsyslog_close();
	return -1;
}

static void
logsyslog_format(char *msg, size_t len, size_t *n, int pri,
    const char *ident, const char *line)
{
	struct tm	tm;
	time_t		now = time(NULL);
	char		stamp[32];
	int		r;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
		(void)strlcpy(stamp, "Jan  1 00:00:00", sizeof(stamp));
	r = snprintf(msg, len, "<%d>%s %s[%d]: %s", pri, stamp, ident,
	    (int)logsyslog_env.pid, line);
	if (r < 0)
		r = 0;
	*n = (size_t)r >= len ? len - 1 : (size_t)r;
}

void
logsyslog_send(int pri, const char *ident, const char *line)
{
	char	msg[LOG_LINE_BYTES + 128], note[128];
	size_t	n;

	if (!logsyslog_env.on)
		return;
	if (logsyslog_env.fd == -1 && logsyslog_connect() == -1) {
		logsyslog_env.dropped++;
		return;
	}
	logsyslog_format(msg, sizeof(msg), &n, pri, ident, line);
	if (logsyslog_write(msg, n) == -1) {
		logsyslog_env.dropped++;
		return;
	}
	if (logsyslog_env.dropped == 0)
		return;
	(void)snprintf(note, sizeof(note), "%zu log lines not sent to "
	    "syslog: its socket was full or gone", logsyslog_env.dropped);
	logsyslog_format(msg, sizeof(msg), &n, (pri & ~7) | LOG_WARNING,
	    ident, note);
	if (logsyslog_write(msg, n) == 0)
		logsyslog_env.dropped = 0;
}
