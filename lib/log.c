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

/*
 * A log file that cannot be written (a full disk, a quota, an I/O error):
 * the first failure is said once, on standard error and syslog; the lines
 * after it are counted; the first line that gets through again is
 * preceded by one that says how many are missing and since when.
 */
struct log_fail {
	int		 err;		/* errno of the first failure; 0: fine */
	int		 partial;	/* a write left half a line behind */
	unsigned long	 lost;		/* lines not written since */
	uint64_t	 since_ms;	/* when the first was lost */
};

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
	struct log_fail	 fail[LOG_SVC_MAX];	/* of fd[] */
	struct log_fail	 auditfail[LOG_SVC_MAX];	/* of auditfd[] */
} log_env = { "mmpd", 1, 0, { LOG_NOTICE, LOG_NOTICE, LOG_NOTICE }, NULL,
    { -1, -1, -1 }, 0, 0, LOG_MAIL, "", { -1, -1, -1 }, { -1, -1, -1 },
    { { 0 } }, { { 0 } } };

/* For the line that says a file cannot be written. */
static const char *const log_file_names[LOG_SVC_MAX] = {
	"AService.log", "ImapProxy.log", "PopProxy.log"
};
static const char *const log_audit_names[LOG_SVC_MAX] = {
	"AuditLog", "IMAP AuditLog", "POP AuditLog"
};

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
	/* A file reopened keeps the count: its first line says what is lost. */
	if (fd == -1)
		memset(&log_env.fail[svc], 0, sizeof(log_env.fail[svc]));
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
 * disk must not stop the mail service: the write may fail. Returns the
 * bytes written, -1 with errno.
 */
static ssize_t
log_write_line(int fd, const char *out, size_t n)
{
	ssize_t	w;

	do {
		w = write(fd, out, n);
	} while (w == -1 && errno == EINTR);
	return w;
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

/*
 * A line about a log file, to standard error (foreground) and syslog
 * only: never into a file that may be the one that fails.
 */
static void
log_file_report(int prio, const char *fmt, ...)
{
	char	line[LOG_LINE_BYTES], out[LOG_LINE_BYTES + 128];
	size_t	n, text;
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = log_format(out, sizeof(out), log_now_ms(), prio, line, &text);
	if (log_env.foreground && log_env.plain)
		(void)log_write_line(STDERR_FILENO, out + text, n - text);
	else if (log_env.foreground)
		(void)log_write_line(STDERR_FILENO, out, n);
	if (log_env.syslog || (!log_env.foreground && logsyslog_on()))
		logsyslog_send(log_env.facility | prio, log_env.procname,
		    line);
}

/* The first line that got through after lines were lost: say so there. */
static void
log_file_resumed(struct log_fail *f, int fd, const char *name)
{
	char	stamp[LOG_STAMP_BYTES], line[LOG_LINE_BYTES];
	char	out[LOG_LINE_BYTES + 128];
	size_t	n, text;
	int	len;

	log_stamp_iso(f->since_ms, stamp, sizeof(stamp));
	len = snprintf(line, sizeof(line), "%s: %lu lines are missing from "
	    "%s: not written from %s on (%s)", log_env.procname, f->lost, name,
	    stamp, strerror(f->err));
	if (len > 0) {
		/* After half a line, the missing line's own. */
		if (f->partial)
			(void)log_write_line(fd, "\n", 1);
		n = log_format(out, sizeof(out), log_now_ms(), LOG_WARNING,
		    line, &text);
		(void)log_write_line(fd, out, n);
		log_file_report(LOG_NOTICE, "%s: %s can be written again; "
		    "%lu lines are missing from it", log_env.procname, name,
		    f->lost);
	}
	memset(f, 0, sizeof(*f));
}

/*
 * One line to a log file; f keeps how the file fares. Every line is
 * tried (a failing write costs no more than one that works), so the
 * file is written again with the first line after space came back.
 */
static void
log_file_write(struct log_fail *f, int fd, const char *name,
    const char *out, size_t n)
{
	ssize_t	w;

	if ((w = log_write_line(fd, out, n)) == (ssize_t)n) {
		if (f->err != 0)
			log_file_resumed(f, fd, name);
		return;
	}
	if (w >= 0) {
		/* Half a line, or none: the disk filled up during it. */
		if (w > 0)
			f->partial = 1;
		errno = ENOSPC;
	}
	f->lost++;
	if (f->err != 0)
		return;
	f->err = errno != 0 ? errno : EIO;
	f->since_ms = log_now_ms();
	log_file_report(LOG_ERR, "%s: cannot write %s: %s; its lines are "
	    "lost until it can be written again", log_env.procname, name,
	    strerror(f->err));
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
		(void)log_write_line(STDERR_FILENO, out + text, n - text);
	else if (log_env.foreground)
		(void)log_write_line(STDERR_FILENO, out, n);
	if (log_env.syslog)
		logsyslog_send(log_env.facility | prio, log_env.procname, line);
	if (log_env.fd[svc] != -1)
		log_file_write(&log_env.fail[svc], log_env.fd[svc],
		    log_file_names[svc], out, n);
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
	if (fd == -1)
		memset(&log_env.auditfail[svc], 0,
		    sizeof(log_env.auditfail[svc]));
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
		log_file_write(&log_env.auditfail[svc], log_env.auditfd[svc],
		    log_audit_names[svc], out, n);
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
