/*
 * The parent's syslog client: lines as datagrams to a local socket
 * (SyslogSocket, /dev/log by default) that never block the parent, where
 * syslog(3) would wait on a stalled daemon and knows only /dev/log.
 */
#ifndef MMP_LOGSYSLOG_H
#define MMP_LOGSYSLOG_H

/*
 * From now on lines go to the datagram socket at path (NULL: none, the
 * socket is closed). The socket is connected at the first line, and
 * again after it went away, at most once a second.
 */
void	logsyslog_set(const char *path);
/* Is a socket configured? */
int	logsyslog_on(void);
/*
 * One line, "<pri>Mmm dd hh:mm:ss ident[pid]: line" as syslog(3) writes
 * it; pri is facility | priority. A full socket costs the line, counted
 * and reported in the next line that gets through.
 */
void	logsyslog_send(int pri, const char *ident, const char *line);

#endif /* MMP_LOGSYSLOG_H */
