/*
 * mmpctl: start, stop, restart, reload, status and stats of one mmpd
 * instance (the product's AService.rc actions). It finds the instance's
 * pid file and control socket from its configuration directory.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "instance.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc/mmpd"
#endif
#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"
#endif

#define ANSWER_SEC		60	/* a reload reads every file */
#define START_SEC		30	/* until every child is ready */
#define STOP_MARGIN_SEC		10	/* after DrainTimeout, grace */
#define POLL_MSEC		100
#define PID_UNKNOWN		LONG_MAX	/* locked, no pid yet */

/* LSB init script exit codes of status. */
#define LSB_RUNNING		0
#define LSB_DEAD_PIDFILE	1
#define LSB_NOT_RUNNING		3
#define LSB_UNKNOWN		4

struct ctl {
	char		 dir[PATH_MAX];
	char		 pidfile[PATH_MAX];
	char		 sock[CONTROL_PATH_BYTES];
	long long	 stop_sec;	/* -t, or from DrainTimeout */
};

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: mmpctl [-f dir] [-t seconds] "
	    "start|stop|restart|reload|status|stats\n");
	exit(2);
}

/* The instance's paths; a broken AService.cfg leaves the defaults. */
static void
ctl_setup(struct ctl *ctl, const char *dir, long long stop_sec)
{
	struct mmp_conf	*conf;
	char		 why[1024];

	if (realpath(dir, ctl->dir) == NULL &&
	    strlcpy(ctl->dir, dir, sizeof(ctl->dir)) >= sizeof(ctl->dir))
		errx(2, "%s: directory name too long", dir);
	if ((conf = conf_load_global(ctl->dir, why, sizeof(why))) == NULL) {
		/*
		 * Not root, the configuration unreadable: the default paths
		 * would be a guess, and "not running" a wrong answer.
		 */
		if (geteuid() != 0)
			errx(LSB_UNKNOWN, "%s (mmpctl is for root)", why);
		warnx("%s; using the default pid file and socket", why);
		if ((conf = conf_new()) == NULL)
			err(2, "conf_new");
	}
	if (instance_paths(conf, ctl->dir, ctl->pidfile, sizeof(ctl->pidfile),
	    ctl->sock, sizeof(ctl->sock), why, sizeof(why)) == -1)
		errx(2, "%s", why);
	ctl->stop_sec = stop_sec;
	if (stop_sec == 0)
		ctl->stop_sec = conf_num(conf, CONF_GLOBAL, CK_DRAINTIMEOUT) +
		    STOP_MARGIN_SEC;
	conf_free(conf);
}

/*
 * The pid of the running instance, 0 if none runs, -1 if the pid file
 * is left from one that died. mmpd holds an exclusive lock on its pid
 * file while it lives.
 */
static long
ctl_running(const struct ctl *ctl)
{
	char		 buf[32];
	const char	*errstr;
	long		 pid;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(ctl->pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		/* Not knowing is no "not running": LSB's 4, unknown. */
		err(LSB_UNKNOWN, "pid file %s%s", ctl->pidfile,
		    geteuid() != 0 ? " (mmpctl is for root)" : "");
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return PID_UNKNOWN;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pid = strtonum(buf, 1, INT_MAX, &errstr);
	return errstr == NULL ? pid : PID_UNKNOWN;
}

static int
ctl_connect(const struct ctl *ctl)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ctl->sock, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The whole answer, bounded in size and time; -1 with errno. */
static ssize_t
ctl_read_answer(int fd, char *buf, size_t len)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	size_t		got = 0;
	ssize_t		n;
	int		r;

	while (got + 1 < len) {
		if ((r = poll(&pfd, 1, ANSWER_SEC * 1000)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = read(fd, buf + got, len - 1 - got)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	return got;
}

/*
 * One request; the answer in buf. 0 "ok", 1 "error", -1 no answer (the
 * reason printed unless quiet).
 */
static int
ctl_request(const struct ctl *ctl, const char *req, char *buf, size_t len,
    int quiet)
{
	char	line[CONTROL_REQUEST_BYTES];
	int	fd, n;

	n = snprintf(line, sizeof(line), "%s\n", req);
	if (n < 0 || (size_t)n >= sizeof(line))
		errx(2, "%s: request too long", req);
	if ((fd = ctl_connect(ctl)) == -1) {
		if (!quiet)
			warn("control socket %s", ctl->sock);
		return -1;
	}
	if (write(fd, line, n) != n || ctl_read_answer(fd, buf, len) == -1) {
		if (!quiet)
			warn("control socket %s", ctl->sock);
		close(fd);
		return -1;
	}
	close(fd);
	if (strncmp(buf, "ok", 2) == 0 && (buf[2] == '\n' || buf[2] == ' '))
		return 0;
	if (strncmp(buf, "error", 5) == 0)
		return 1;
	if (!quiet)
		warnx("control socket %s: not an answer", ctl->sock);
	return -1;
}

/* Print an answer; "ok"/"error" lines lose that word. */
static void
ctl_print(const char *answer, FILE *fp)
{
	const char	*p = answer;

	if (strncmp(p, "ok", 2) == 0)
		p += 2;
	else if (strncmp(p, "error", 5) == 0)
		p += 5;
	if (*p == ' ')
		p++;
	else if (*p == '\n')
		p++;
	fputs(p, fp);
}

static int
ctl_simple(const struct ctl *ctl, const char *req)
{
	char	*buf;
	int	 r;

	if (ctl_running(ctl) <= 0) {
		fprintf(stderr, "mmpctl: mmpd (%s) is not running\n", ctl->dir);
		return 1;
	}
	if ((buf = malloc(CONTROL_ANSWER_BYTES)) == NULL)
		err(2, NULL);
	r = ctl_request(ctl, req, buf, CONTROL_ANSWER_BYTES, 0);
	if (r == 0)
		ctl_print(buf, stdout);
	else if (r == 1) {
		fputs("mmpctl: ", stderr);
		ctl_print(buf, stderr);
	}
	free(buf);
	return r == 0 ? 0 : 1;
}

static int
ctl_status(const struct ctl *ctl)
{
	char	*buf;
	long	 pid;
	int	 r;

	if ((pid = ctl_running(ctl)) == 0) {
		printf("mmpd (%s) is not running\n", ctl->dir);
		return LSB_NOT_RUNNING;
	}
	if (pid == -1) {
		printf("mmpd (%s) is not running, but its pid file %s is "
		    "left\n", ctl->dir, ctl->pidfile);
		return LSB_DEAD_PIDFILE;
	}
	if ((buf = malloc(CONTROL_ANSWER_BYTES)) == NULL)
		err(2, NULL);
	if ((r = ctl_request(ctl, "status", buf, CONTROL_ANSWER_BYTES, 0))
	    == -1) {
		printf("mmpd (%s) holds its pid file (pid %ld) but does not "
		    "answer on %s\n", ctl->dir, pid, ctl->sock);
		free(buf);
		return LSB_UNKNOWN;
	}
	printf("mmpd is ");
	ctl_print(buf, stdout);
	free(buf);
	return r == 0 ? LSB_RUNNING : LSB_UNKNOWN;
}

/* mmpd beside us (installed), in the build tree, or in SBINDIR. */
static void
ctl_find_mmpd(char *path, size_t len)
{
	char	self[PATH_MAX], *dir;
	ssize_t	n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		if ((size_t)snprintf(path, len, "%s/mmpd", dir) < len &&
		    access(path, X_OK) == 0)
			return;
		if ((size_t)snprintf(path, len, "%s/../mmpd/mmpd", dir) < len &&
		    access(path, X_OK) == 0)
			return;
	}
	(void)strlcpy(path, SBINDIR "/mmpd", len);
}

/* Wait, bounded, until every child applied the configuration. */
static int
ctl_wait_ready(const struct ctl *ctl, long long secs)
{
	char		 buf[4096];
	struct timespec	 ts = { 0, POLL_MSEC * 1000000L };
	long long	 i;

	for (i = 0; i < secs * 1000 / POLL_MSEC; i++) {
		if (ctl_request(ctl, "status", buf, sizeof(buf), 1) == 0 &&
		    strstr(buf, "(being applied)") == NULL)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int
ctl_start(const struct ctl *ctl)
{
	char	mmpd[PATH_MAX];
	long	pid;
	pid_t	child;
	int	status;

	if ((pid = ctl_running(ctl)) > 0) {
		printf("mmpd (%s) is already running, pid %ld\n", ctl->dir,
		    pid);
		return 0;
	}
	ctl_find_mmpd(mmpd, sizeof(mmpd));
	if ((child = fork()) == -1)
		err(1, "fork");
	if (child == 0) {
		execl(mmpd, "mmpd", "-f", ctl->dir, (char *)NULL);
		warn("%s", mmpd);
		_exit(127);
	}
	/* mmpd daemonises once its listeners are bound: errors come first. */
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "mmpctl: mmpd (%s) did not start\n", ctl->dir);
		return 1;
	}
	if (ctl_wait_ready(ctl, START_SEC) == -1) {
		fprintf(stderr, "mmpctl: mmpd (%s) started but is not ready "
		    "after %d s; see its log\n", ctl->dir, START_SEC);
		return 1;
	}
	printf("mmpd (%s) started, pid %ld\n", ctl->dir, ctl_running(ctl));
	return 0;
}

/*
 * Has process pid ended? Its pid file goes a moment before the process
 * does (the parent removes it on its way out): "stopped" waits for the
 * process itself, gone or a zombie its parent (init, systemd) reaps.
 */
static int
ctl_gone(long pid)
{
	char	path[64], stat[256], *p;
	ssize_t	n;
	int	fd;

	if (pid <= 0 || pid == PID_UNKNOWN)
		return 1;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return 1;
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(stat, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'Z';
}

/* Stop, and wait (bounded) until the process has gone. */
static int
ctl_stop(const struct ctl *ctl)
{
	char		 buf[4096];
	struct timespec	 ts = { 0, POLL_MSEC * 1000000L };
	long long	 i;
	long		 pid;
	int		 r;

	if ((pid = ctl_running(ctl)) <= 0) {
		printf("mmpd (%s) is not running\n", ctl->dir);
		return 0;
	}
	if ((r = ctl_request(ctl, "stop", buf, sizeof(buf), 0)) == -1) {
		if (pid == PID_UNKNOWN || kill((pid_t)pid, SIGTERM) == -1)
			return 1;
		printf("sent SIGTERM to mmpd (pid %ld)\n", pid);
	} else if (r == 1) {
		fputs("mmpctl: ", stderr);
		ctl_print(buf, stderr);
		return 1;
	} else
		ctl_print(buf, stdout);
	for (i = 0; i < ctl->stop_sec * 1000 / POLL_MSEC; i++) {
		if (ctl_running(ctl) <= 0 && ctl_gone(pid)) {
			printf("mmpd (%s) stopped\n", ctl->dir);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "mmpctl: mmpd (%s, pid %ld) still running after "
	    "%lld s\n", ctl->dir, pid, ctl->stop_sec);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct ctl	 ctl;
	const char	*dir = SYSCONFDIR, *errstr, *cmd;
	long long	 stop_sec = 0;
	int		 ch;

	log_init("mmpctl", 1, LOG_WARNING);
	while ((ch = getopt(argc, argv, "f:t:")) != -1) {
		switch (ch) {
		case 'f':
			dir = optarg;
			break;
		case 't':
			stop_sec = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(2, "-t %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	cmd = argv[optind];
	memset(&ctl, 0, sizeof(ctl));
	ctl_setup(&ctl, dir, stop_sec);
	if (strcmp(cmd, "start") == 0)
		return ctl_start(&ctl);
	if (strcmp(cmd, "stop") == 0)
		return ctl_stop(&ctl);
	if (strcmp(cmd, "restart") == 0)
		return ctl_stop(&ctl) != 0 ? 1 : ctl_start(&ctl);
	if (strcmp(cmd, "status") == 0)
		return ctl_status(&ctl);
	if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "stats") == 0)
		return ctl_simple(&ctl, cmd);
	usage();
}
