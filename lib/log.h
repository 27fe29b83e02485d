/*
 * Logging for every mmpd process. The parent writes to stderr (foreground),
 * syslog and the LogDir files; children hand every line to the parent over
 * imsg (log_set_sink), because they cannot open files after start.
 */
#ifndef MMP_LOG_H
#define MMP_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* Which log a line belongs to: AService (instance-wide), IMAP, POP. */
#define LOG_SVC_MMP	0
#define LOG_SVC_IMAP	1
#define LOG_SVC_POP	2
#define LOG_SVC_MAX	3

#define LOG_LINE_BYTES	2048
/*
 * How every process names a relay's session (its u64 id) in a log line,
 * so that one grep follows a login through relay, mmp-tlsd and mmp-ldapd.
 * LOG_SID_BYTES holds it with ": " and the NUL.
 */
#define LOG_SID_FMT	"session 0x%llx"
#define LOG_SID_BYTES	32

/*
 * Every line's time, taken when it is formatted (in the process that
 * formats it): milliseconds since the epoch. Written as LOG_STAMP_BYTES
 * of "2026-12-06T20:41:07.123Z" (UTC: a chrooted child has no zone file).
 */
#define LOG_STAMP_BYTES	25

typedef void (*log_sink_fn)(int svc, int prio, uint64_t ms, const char *line);

void	log_init(const char *procname, int foreground, int level);
void	log_set_procname(const char *);
void	log_set_level(int);		/* syslog priority: 3 err .. 7 debug */
/* One service's level: its file's LogLevel. */
void	log_set_svc_level(int svc, int level);
int	log_get_level(void);		/* the most verbose of them */
/* Would a line of this priority for this log be written? */
int	log_wants(int svc, int prio);
/*
 * Lines on stderr without time and level: a report to whoever ran the
 * command (mmpd -n), not a log.
 */
void	log_set_plain(int);
/* Children: every line goes to fn instead of stderr/syslog. */
void	log_set_sink(log_sink_fn);
/*
 * Parent: the LogDir file of one service (-1: none, syslog only). log.c
 * owns the fd from then on and closes the one it replaces.
 */
void	log_set_file(int svc, int fd);
/*
 * Parent: where a service's PreAuth audit lines go (AuditLog): fd, or
 * else a syslog facility (LOG_AUTHPRIV...), or else (-1, -1) its own log.
 * log.c owns fd from then on.
 */
void	log_set_audit(int svc, int fd, int facility);
/*
 * Parent: every line to syslog too (on), with facility (LOG_MAIL...),
 * through the datagram socket at path (NULL: /dev/log), which AuditLog's
 * syslog:FACILITY uses whatever on says. Without a call, a daemon (not
 * foreground) logs to /dev/log as LOG_MAIL.
 */
void	log_set_syslog(int on, int facility, const char *path);
/* Parent: one audit line of mmp-ldapd's, dated here, at any LogLevel. */
void	log_audit(int svc, const char *line);
/*
 * Parent: write a line a child produced (already formatted) everywhere,
 * with the child's time ms (one from the future is taken as now).
 */
void	log_emit(int svc, int prio, uint64_t ms, const char *line);
/* Now, for log_emit: milliseconds since the epoch. */
uint64_t log_now_ms(void);
/* "2026-12-06T20:41:07.123Z" of ms into stamp (LOG_STAMP_BYTES). */
void	log_stamp_iso(uint64_t ms, char *stamp, size_t len);

void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_notice(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* A line for one service's log. */
void	log_svc(int svc, int prio, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
void	log_vsvc(int svc, int prio, const char *, va_list);
__attribute__((__noreturn__)) void fatal(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
__attribute__((__noreturn__)) void fatalx(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));

#endif /* MMP_LOG_H */
