/*
 * Logging for every mmpd process. Lines are formatted once here; the
 * parent writes them to stderr (foreground), syslog and the LogDir file of
 * their service, a child hands them to its sink (an imsg to the parent).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logsyslog.h"

static struct {
	char		 procname[32];
	int		 foreground;
	int		 plain;		/* stderr without time and level */
	int		 level[LOG_SVC_MAX];
	log_sink_fn	 sink;
	int		 fd[LOG_SVC_MAX];
	int		 syslog_set;	/* log_set_syslog was called */
	int		 syslog;	/* every line to syslog too */
	int		 facility;
	char		 syslog_path[108];	/* sun_path */
	int		 auditfd[LOG_SVC_MAX];
	int		 auditfac[LOG_SVC_MAX];	/* LOG_AUTHPRIV...; -1 */
} log_env = { "mmpd", 1, 0, { LOG_NOTICE, LOG_NOTICE, LOG_NOTICE }, NULL,
    { -1, -1, -1 }, 0, 0, LOG_MAIL, "", { -1, -1, -1 }, { -1, -1, -1 } };

static const char *const log_prionames[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

void
log_init(const char *procname, int foreground, int level)
{
	log_set_procname(procname);
	log_env.foreground = foreground;
	log_set_level(level);
	/* A daemon logs to syslog unless the configuration said otherwise. */
	if (!foreground && !log_env.syslog_set) {
		logsyslog_set(_PATH_LOG);
		log_env.syslog = 1;
	} else if (log_env.syslog_set)
		logsyslog_set(log_env.syslog_path);	/* daemon(3): new pid */
	tzset();
}

void
log_set_plain(int plain)
{
	log_env.plain = plain;
}

void
log_set_syslog(int on, int facility, const char *path)
{
	log_env.syslog_set = 1;
	log_env.syslog = on;
	log_env.facility = facility;
	(void)strlcpy(log_env.syslog_path, path != NULL ? path : _PATH_LOG,
	    sizeof(log_env.syslog_path));
	logsyslog_set(log_env.syslog_path);
}

void
log_set_procname(const char *procname)
{
	(void)strlcpy(log_env.procname, procname, sizeof(log_env.procname));
}

void
log_set_svc_level(int svc, int level)
{
	if (svc < 0 || svc >= LOG_SVC_MAX)
		return;
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_env.level[svc] = level;
}

void
log_set_level(int level)
{
	int	svc;

	for (svc = 0; svc < LOG_SVC_MAX; svc++)
		log_set_svc_level(svc, level);
}

int
log_get_level(void)
{
	int	svc, level = LOG_EMERG;

	for (svc = 0; svc < LOG_SVC_MAX; svc++)
		if (log_env.level[svc] > level)
			level = log_env.level[svc];
	return level;
}

int
log_wants(int svc, int prio)
{
	if (svc < 0 || svc >= LOG_SVC_MAX)
		svc = LOG_SVC_MMP;
	return (prio & 7) <= log_env.level[svc];
}

void
log_set_sink(log_sink_fn fn)
{
	log_env.sink = fn;
}

void
log_set_file(int svc, int fd)
{
	if (svc < 0 || svc >= LOG_SVC_MAX) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (log_env.fd[svc] != -1 && log_env.fd[svc] != fd)
		close(log_env.fd[svc]);
	log_env.fd[svc] = fd;
}

/* The product's stamp of the PreAuth audit line, local time. */
static void
log_stamp(char *stamp, size_t len)
{
	struct tm	 tm;
	time_t		 now;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, len, "%Y%m%d %H%M%S", &tm) == 0)
		(void)strlcpy(stamp, "00000000 000000", len);
}

uint64_t
log_now_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* UTC and gmtime_r: no zone file to read, in a chroot or a sandbox. */
void
log_stamp_iso(uint64_t ms, char *stamp, size_t len)
{
	struct tm	tm;
	time_t		secs = (time_t)(ms / 1000);
	char		day[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		(void)strlcpy(day, "0000-00-00T00:00:00", sizeof(day));
	(void)snprintf(stamp, len, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/*
 * "STAMP [level] line" and a newline, in one write(2): dprintf(3) would
 * also fstat and lseek the descriptor for every line, which the parent
 * pays per login. The same text for stderr and the LogDir files. A full
 * disk must not stop the mail service: the write may fail.
 */
static void
log_write_line(int fd, const char *out, size_t n)
{
	if (write(fd, out, n) == -1)
		return;
}

/*
 * out: "STAMP [level] line\n", cut to fit; its length, and in *text where
 * the line begins.
 */
static size_t
log_format(char *out, size_t len, uint64_t ms, int prio, const char *line,
    size_t *text)
{
	char	stamp[LOG_STAMP_BYTES];
	int	n;

	log_stamp_iso(ms, stamp, sizeof(stamp));
	*text = strlen(stamp) + strlen(log_prionames[prio & 7]) + 4;
	n = snprintf(out, len, "%s [%s] %s\n", stamp,
	    log_prionames[prio & 7], line);
	if (n < 0 || (size_t)n <= *text) {
		*text = 0;
		return 0;
	}
	if ((size_t)n >= len) {
		n = len - 1;
		out[n - 1] = '\n';
	}
	return n;
}

/* To stderr (foreground), syslog (if on) and the service's file. */
static void
log_output(int svc, int prio, uint64_t ms, const char *line)
{
	char		out[LOG_LINE_BYTES + 128];	/* stamped, and more */
	size_t		n, text;
	uint64_t	now = log_now_ms();

	/* A line waits for the parent, never the other way round. */
	if (ms > now)
		ms = now;
	n = log_format(out, sizeof(out), ms, prio, line, &text);
	if (log_env.foreground && log_env.plain)
		log_write_line(STDERR_FILENO, out + text, n - text);
	else if (log_env.foreground)
		log_write_line(STDERR_FILENO, out, n);
	if (log_env.syslog)
		logsyslog_send(log_env.facility | prio, log_env.procname, line);
	if (log_env.fd[svc] != -1)
		log_write_line(log_env.fd[svc], out, n);
}

void
log_emit(int svc, int prio, uint64_t ms, const char *line)
{
	if (svc < 0 || svc >= LOG_SVC_MAX)
		svc = LOG_SVC_MMP;
	prio &= 7;
	if (prio > log_env.level[svc])
		return;
	if (log_env.sink != NULL) {
		log_env.sink(svc, prio, ms, line);
		return;
	}
	log_output(svc, prio, ms, line);
}

void
log_set_audit(int svc, int fd, int facility)
{
	if (svc < 0 || svc >= LOG_SVC_MAX) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (log_env.auditfd[svc] != -1 && log_env.auditfd[svc] != fd)
		close(log_env.auditfd[svc]);
	log_env.auditfd[svc] = fd;
	log_env.auditfac[svc] = facility;
}

/*
 * "yyyymmdd hhmmss " and the line, whatever the LogLevel: to the AuditLog
 * file, or its syslog facility, or else the service's own log.
 */
void
log_audit(int svc, const char *line)
{
	char	stamp[32], out[LOG_LINE_BYTES + 64];
	int	n;

	if (svc < 0 || svc >= LOG_SVC_MAX)
		svc = LOG_SVC_MMP;
	log_stamp(stamp, sizeof(stamp));
	n = snprintf(out, sizeof(out) - 1, "%s %s", stamp, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out) - 1)
		n = sizeof(out) - 2;
	if (log_env.auditfd[svc] != -1) {
		out[n++] = '\n';
		log_write_line(log_env.auditfd[svc], out, n);
	} else if (log_env.auditfac[svc] != -1)
		logsyslog_send(log_env.auditfac[svc] | LOG_NOTICE,
		    log_env.procname, out);
	else
		log_output(svc, LOG_NOTICE, log_now_ms(), out);
}

/* Format "procname: text" with control characters made visible. */
void
log_vsvc(int svc, int prio, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_BYTES], line[LOG_LINE_BYTES + 40];
	size_t	 i;
	int	 saved = errno;

	if (svc < 0 || svc >= LOG_SVC_MAX)
		svc = LOG_SVC_MMP;
	if (!log_wants(svc, prio))
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	(void)snprintf(line, sizeof(line), "%s: %s", log_env.procname, msg);
	log_emit(svc, prio, log_now_ms(), line);
	errno = saved;
}

void
log_svc(int svc, int prio, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(svc, prio, fmt, ap);
	va_end(ap);
}

static void
log_verrno(int prio, const char *fmt, va_list ap)
{
	char	msg[LOG_LINE_BYTES];
	int	saved = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_svc(LOG_SVC_MMP, prio, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(LOG_SVC_MMP, LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(LOG_SVC_MMP, LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(LOG_SVC_MMP, LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(LOG_SVC_MMP, LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_verrno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vsvc(LOG_SVC_MMP, LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
