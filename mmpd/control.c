/*
 * The parent's pid file and control socket: one instance per pid file (a
 * lock held while it runs), and a root-only UNIX socket over which
 * mmpctl(8) asks for stop, reload, status and stats, one request each.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

#define CONTROL_CONNS_MAX	8	/* open at once; more are closed */
#define CONTROL_BACKLOG		8
#define CONTROL_WRITE_SEC	5	/* to take the answer */

struct control_conn {
	int		 fd;
	struct event	*ev;
	struct control_request req;
	char		*out;		/* CONTROL_ANSWER_BYTES */
	size_t		 outlen;
	size_t		 outoff;	/* written so far */
	int		 after;		/* what to do once answered */
};

enum control_after {
	CONTROL_NOTHING,
	CONTROL_STOP,
};

static void	control_accept(int, short, void *);
static void	control_read(int, short, void *);
static void	control_write(int, short, void *);
static void	control_close(struct control_conn *);

/* The directory of path, made 0700 if missing (only its last part). */
static int
control_mkdir(const char *path, char *err, size_t errlen)
{
	char		 buf[PATH_MAX], *dir;
	struct stat	 st;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	dir = dirname(buf);
	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT || mkdir(dir, 0700) == -1) {
		(void)snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	log_info("created %s", dir);
	return 0;
}

/* The pid in a pid file someone else holds, or -1. */
static long
control_pidfile_pid(int fd)
{
	char		 buf[32];
	const char	*errstr;
	ssize_t		 n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	n = strtonum(buf, 1, INT_MAX, &errstr);
	return errstr == NULL ? (long)n : -1;
}

/*
 * Take the pid file: a second mmpd of the same instance stops here, with
 * the pid of the one that runs. The lock (flock: it survives daemon(3)'s
 * fork) lasts as long as the parent; the pid is written later. 0, -1,
 * or -2 when another process holds it.
 */
static int
control_pidfile_lock(const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if (control_mkdir(path, err, errlen) == -1)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK, 0644);
	if (fd == -1) {
		(void)snprintf(err, errlen, "PidFile %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "PidFile %s: not a regular file",
		    path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			(void)snprintf(err, errlen, "another mmpd (pid %ld) "
			    "holds the pid file %s: this instance runs "
			    "already (mmpctl -f %s status)",
			    control_pidfile_pid(fd), path, penv->dir);
		else
			(void)snprintf(err, errlen, "PidFile %s: lock: %s",
			    path, strerror(errno));
		close(fd);
		return errno == EWOULDBLOCK ? -2 : -1;
	}
	penv->pidfd = fd;
	(void)strlcpy(penv->pidfile, path, sizeof(penv->pidfile));
	return 0;
}

/*
 * A socket left at path: a live one belongs to another mmpd (refused), a
 * dead one to a parent that crashed (removed).
 */
static int
control_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, rv;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		(void)snprintf(err, errlen, "ControlSocket %s exists and is "
		    "not a socket", sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		(void)snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rv = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rv == 0) {
		(void)snprintf(err, errlen, "ControlSocket %s is in use by "
		    "another mmpd: give each instance its own", sun->sun_path);
		return -1;
	}
	if (unlink(sun->sun_path) == -1) {
		(void)snprintf(err, errlen, "ControlSocket %s: cannot remove "
		    "the stale socket: %s", sun->sun_path, strerror(errno));
		return -1;
	}
	log_info("removed the stale control socket %s", sun->sun_path);
	return 0;
}

/* Bind the control socket, mode 0600, owned by root (by us). */
static int
control_bind(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		(void)snprintf(err, errlen, "ControlSocket %s: longer than "
		    "%zu bytes", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (control_mkdir(path, err, errlen) == -1 ||
	    control_stale(&sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		(void)snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Never a moment in which another user may connect. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)umask(old);
		(void)snprintf(err, errlen, "ControlSocket %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	(void)umask(old);
	if (chmod(path, 0600) == -1 || listen(fd, CONTROL_BACKLOG) == -1) {
		(void)snprintf(err, errlen, "ControlSocket %s: %s", path,
		    strerror(errno));
		(void)unlink(path);
		close(fd);
		return -1;
	}
	penv->ctlfd = fd;
	(void)strlcpy(penv->ctlpath, path, sizeof(penv->ctlpath));
	return 0;
}

/*
 * Before the listeners: the pid file lock, then the socket. As root a
 * failure stops the start; a developer's mmpd (not root) runs without
 * control when /run/mmpd is not its to write.
 */
void
control_init(const struct mmp_conf *conf)
{
	char	pidfile[PATH_MAX], sock[CONTROL_PATH_BYTES];
	char	err[2 * PATH_MAX + 256];
	int	rv;

	penv->pidfd = penv->ctlfd = -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &penv->started);
	if (instance_paths(conf, penv->dir, pidfile, sizeof(pidfile), sock,
	    sizeof(sock), err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((rv = control_pidfile_lock(pidfile, err, sizeof(err))) != 0) {
		if (penv->root || rv == -2)
			fatalx("%s", err);
		log_warnx("%s; running without pid file", err);
	}
	if (control_bind(sock, err, sizeof(err)) == -1) {
		if (penv->root) {
			control_cleanup();
			fatalx("%s", err);
		}
		log_warnx("%s; running without control socket", err);
	}
}

/*
 * After daemon(3): our pid in the pid file, and the socket on the event
 * loop.
 */
void
control_start(void)
{
	char	buf[32];
	int	len;

	if (penv->pidfd != -1) {
		len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (ftruncate(penv->pidfd, 0) == -1 ||
		    pwrite(penv->pidfd, buf, len, 0) != len)
			log_warn("PidFile %s", penv->pidfile);
	}
	if (penv->ctlfd == -1)
		return;
	penv->ctlev = event_new(penv->base, penv->ctlfd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	if (penv->ctlev == NULL || event_add(penv->ctlev, NULL) == -1)
		fatalx("control socket: cannot watch it");
}

/* A reload named other paths: they are the instance's, kept till exit. */
void
control_reloaded(const struct mmp_conf *conf)
{
	char	pidfile[PATH_MAX], sock[CONTROL_PATH_BYTES];
	char	err[2 * PATH_MAX + 256];

	if (instance_paths(conf, penv->dir, pidfile, sizeof(pidfile), sock,
	    sizeof(sock), err, sizeof(err)) == -1)
		log_warnx("%s", err);
	else if ((penv->pidfile[0] != '\0' &&
	    strcmp(pidfile, penv->pidfile) != 0) ||
	    (penv->ctlpath[0] != '\0' && strcmp(sock, penv->ctlpath) != 0))
		log_warnx("PidFile and ControlSocket stay %s and %s until "
		    "mmpd restarts", penv->pidfile, penv->ctlpath);
}

/* At exit: the socket and the pid file go (we hold the lock: ours). */
void
control_cleanup(void)
{
	if (penv->ctlev != NULL) {
		event_free(penv->ctlev);
		penv->ctlev = NULL;
	}
	if (penv->ctlfd != -1) {
		(void)unlink(penv->ctlpath);
		close(penv->ctlfd);
		penv->ctlfd = -1;
	}
	if (penv->pidfd != -1) {
		(void)unlink(penv->pidfile);
		close(penv->pidfd);
		penv->pidfd = -1;
	}
}

static void
control_accept(int fd, short events, void *arg)
{
	struct control_conn	*cc;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	struct timeval		 tv = { CONTROL_REQUEST_SEC, 0 };
	int			 s;

	(void)events;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control socket: accept");
		return;
	}
	/* The socket's mode is the first wall, this the second. */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred) || cred.uid != 0) {
		log_warnx("control socket: refused a client of uid %ld "
		    "(pid %ld): root only", len == sizeof(cred) ?
		    (long)cred.uid : -1L, len == sizeof(cred) ?
		    (long)cred.pid : -1L);
		if (write(s, "error root only\n", 16) != 16)
			log_debug("control socket: refused client gone");
		close(s);
		return;
	}
	if (penv->nctlconns >= CONTROL_CONNS_MAX ||
	    (cc = calloc(1, sizeof(*cc))) == NULL) {
		close(s);
		return;
	}
	cc->fd = s;
	if ((cc->ev = event_new(penv->base, s, EV_READ | EV_PERSIST,
	    control_read, cc)) == NULL || event_add(cc->ev, &tv) == -1) {
		if (cc->ev != NULL)
			event_free(cc->ev);
		close(s);
		free(cc);
		return;
	}
	penv->nctlconns++;
}

static void
control_close(struct control_conn *cc)
{
	if (cc->ev != NULL)
		event_free(cc->ev);
	close(cc->fd);
	free(cc->out);
	free(cc);
	penv->nctlconns--;
}

/* Append to the answer; what does not fit is cut, with a mark. */
static void __attribute__((__format__(__printf__, 2, 3)))
control_say(struct control_conn *cc, const char *fmt, ...)
{
	static const char	 cut[] = "...\n";
	va_list			 ap;
	size_t			 room;
	int			 n;

	room = CONTROL_ANSWER_BYTES - sizeof(cut) - cc->outlen;
	if (cc->outlen + sizeof(cut) >= CONTROL_ANSWER_BYTES)
		return;
	va_start(ap, fmt);
	n = vsnprintf(cc->out + cc->outlen, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		cc->outlen = CONTROL_ANSWER_BYTES - sizeof(cut);
		memcpy(cc->out + cc->outlen, cut, sizeof(cut) - 1);
		cc->outlen += sizeof(cut) - 1;
		return;
	}
	cc->outlen += n;
}

static long long
control_uptime(void)
{
	struct timespec	now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - penv->started.tv_sec;
}

static const char *
control_child_state(const struct child *c)
{
	if (c->pid == -1)
		return c->retiring ? "gone" : "restarting";
	if (c->chan == NULL)
		return "closing";
	if (c->retiring)
		return "draining";
	if (c->gen_ready == 0)
		return "starting";
	if (c->gen_ready < penv->gen)
		return "applying";
	return "running";
}

static const char *
control_state(void)
{
	if (penv->stopping)
		return "stopping";
	if (penv->draining)
		return "draining";
	return "running";
}

/* status: who we are and every child, one line each. */
static void
control_status(struct control_conn *cc)
{
	const struct child	*c;

	control_say(cc, "ok %s\n", control_state());
	control_say(cc, "pid %ld\n", (long)getpid());
	control_say(cc, "uptime %lld\n", control_uptime());
	control_say(cc, "directory %s\n", penv->dir);
	control_say(cc, "pidfile %s\n", penv->pidfile);
	control_say(cc, "socket %s\n", penv->ctlpath);
	control_say(cc, "configuration %u%s\n", penv->gen,
	    penv->announced >= penv->gen ? "" : " (being applied)");
	control_say(cc, "sessions %lu\n", proc_sessions());
	TAILQ_FOREACH(c, &penv->children, entry) {
		control_say(cc, "child \"%s\" kind %s pid %ld state %s "
		    "restarts %u", c->name, c->kind == CHILD_RELAY ? "relay" :
		    c->kind == CHILD_LDAPD ? "mmp-ldapd" : "mmp-tlsd",
		    (long)c->pid, control_child_state(c), c->restarts);
		if (c->kind == CHILD_RELAY)
			control_say(cc, " sessions %u", c->sessions);
		control_say(cc, "\n");
	}
}

/* stats: the parent's own counters, no child asked. */
static void
control_stats(struct control_conn *cc)
{
	uint64_t	restarts = 0;
	int		k;

	control_say(cc, "ok\n");
	control_say(cc, "uptime %lld\n", control_uptime());
	control_say(cc, "sessions %lu\n", proc_sessions());
	control_say(cc, "logins_accepted %llu\n",
	    (unsigned long long)penv->logins_ok);
	control_say(cc, "logins_refused %llu\n",
	    (unsigned long long)penv->logins_failed);
	control_say(cc, "children %u\n", proc_count(-1));
	for (k = 0; k < STATS_KIND_MAX; k++)
		restarts += penv->restarts[k];
	control_say(cc, "restarts %llu\n", (unsigned long long)restarts);
	control_say(cc, "configuration %u\n", penv->gen);
	control_say(cc, "reloads %lu\n", penv->reloads);
	control_say(cc, "reloads_refused %lu\n", penv->reloads_refused);
}

static void
control_reload(struct control_conn *cc)
{
	char	err[1024];

	if (penv->draining) {
		control_say(cc, "error shutting down: not reloaded\n");
		return;
	}
	if (parent_reload(err, sizeof(err)) == -1)
		control_say(cc, "error reload refused: %s; the running "
		    "configuration %u stays\n", err, penv->gen);
	else
		control_say(cc, "ok configuration %u loaded from %s\n",
		    penv->gen, penv->dir);
}

static void
control_stop(struct control_conn *cc)
{
	if (penv->draining) {
		control_say(cc, "ok %s already\n", control_state());
		return;
	}
	control_say(cc, "ok stopping: %lu sessions drain for up to %lld s\n",
	    proc_sessions(), conf_num(penv->conf, CONF_GLOBAL,
	    CK_DRAINTIMEOUT));
	cc->after = CONTROL_STOP;
}

/* One request, answered into cc->out. */
static void
control_answer(struct control_conn *cc)
{
	if (strcmp(cc->req.word, "status") == 0)
		control_status(cc);
	else if (strcmp(cc->req.word, "stats") == 0)
		control_stats(cc);
	else if (strcmp(cc->req.word, "reload") == 0)
		control_reload(cc);
	else if (strcmp(cc->req.word, "stop") == 0)
		control_stop(cc);
	else
		control_say(cc, "error unknown request \"%s\"\n", cc->req.word);
	log_info("control: %s: %.*s", cc->req.word, (int)strcspn(cc->out, "\n"),
	    cc->out);
}

static void
control_respond(struct control_conn *cc)
{
	struct timeval	tv = { CONTROL_WRITE_SEC, 0 };

	event_free(cc->ev);
	if ((cc->ev = event_new(penv->base, cc->fd, EV_WRITE | EV_PERSIST,
	    control_write, cc)) == NULL || event_add(cc->ev, &tv) == -1) {
		log_warnx("control socket: cannot answer");
		control_close(cc);
		return;
	}
	/* Most answers fit the socket's buffer: out before anything else. */
	control_write(cc->fd, EV_WRITE, cc);
}

static void
control_read(int fd, short events, void *arg)
{
	struct control_conn	*cc = arg;
	char			 buf[CONTROL_REQUEST_BYTES];
	ssize_t			 n;
	int			 r;

	if (events & EV_TIMEOUT) {
		control_close(cc);
		return;
	}
	if ((n = read(fd, buf, sizeof(buf))) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_close(cc);
		return;
	}
	if ((r = control_request_add(&cc->req, buf, n)) == 0)
		return;
	if ((cc->out = malloc(CONTROL_ANSWER_BYTES)) == NULL) {
		control_close(cc);
		return;
	}
	if (r == -1) {
		cc->req.word[0] = '\0';
		control_say(cc, "error bad request: one word of lower case "
		    "letters and a newline\n");
	} else
		control_answer(cc);
	control_respond(cc);
}

static void
control_write(int fd, short events, void *arg)
{
	struct control_conn	*cc = arg;
	ssize_t			 n;
	int			 after;

	if (events & EV_TIMEOUT) {
		control_close(cc);
		return;
	}
	while (cc->outoff < cc->outlen) {
		n = write(fd, cc->out + cc->outoff, cc->outlen - cc->outoff);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		cc->outoff += n;
	}
	after = cc->after;
	control_close(cc);
	/* Answered first: the stop may end the loop at once. */
	if (after == CONTROL_STOP && !penv->draining)
		parent_drain(SIGTERM);
}
