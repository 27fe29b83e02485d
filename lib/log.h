/*
 * Logging for every mmpd process. The parent writes to stderr (foreground),
 * syslog and the LogDir files; children hand every line to the parent over
 * imsg (log_set_sink), because they cannot open files after start.
 */
#ifndef MMP_LOG_H
#define MMP_LOG_H

#include <stdarg.h>
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

typedef void (*log_sink_fn)(int svc, int prio, const char *line);

void	log_init(const char *procname, int foreground, int level);
void	log_set_procname(const char *);
void	log_set_level(int);		/* syslog priority: 3 err .. 7 debug */
/* One service's level: its file's LogLevel. */
void	log_set_svc_level(int svc, int level);
int	log_get_level(void);		/* the most verbose of them */
/* Would a line of this priority for this log be written? */
int	log_wants(int svc, int prio);
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
/* Parent: one audit line of mmp-ldapd's, dated here, at any LogLevel. */
void	log_audit(int svc, const char *line);
/* Parent: write a line a child produced (already formatted) everywhere. */
void	log_emit(int svc, int prio, const char *line);

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
