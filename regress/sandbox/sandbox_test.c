/*
 * Sandbox tests: children pledge, then do allowed and forbidden things;
 * the parent checks how each one ended and what /proc says about it.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "sandbox.h"
#include "regress/tap.h"
#include "regress/sandbox/sbxtest.h"

#define STATUS_BYTES	4096

typedef int	(*child_fn)(void *);

struct pipes {
	int	up[2];		/* child -> parent */
	int	down[2];	/* parent -> child */
};

static int
run_child(child_fn fn, void *arg)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		tap_diag("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return status;
}

static int
killed_by(int status, int sig)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

static int
exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int
exited_failed(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0;
}

static void
describe(int status)
{
	if (status == -1)
		tap_diag("child: no status");
	else if (WIFSIGNALED(status))
		tap_diag("child killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		tap_diag("child exited %d", WEXITSTATUS(status));
}

static int
proc_status(pid_t pid, char *buf, size_t size)
{
	char	path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return read_file(path, buf, size);
}

/* In a child that is expected to fatalx: keep the TAP output clean. */
static void
quiet_stderr(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_WRONLY)) != -1) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

/* Forbidden calls, each after pledge("stdio"). */

static int
child_socket(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio");
	return socket(AF_INET, SOCK_STREAM, 0) == -1 ? 2 : 3;
}

static int
child_open(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio");
	return open("/etc/passwd", O_RDONLY) == -1 ? 2 : 3;
}

static int
child_execve(void *arg)
{
	char	*argv[] = { "/bin/true", NULL }, *envp[] = { NULL };

	(void)arg;
	sandbox_pledge("stdio");
	execve(argv[0], argv, envp);
	return 2;
}

static int
child_stat_path(void *arg)
{
	struct stat	sb;

	(void)arg;
	sandbox_pledge("stdio");
	return stat("/", &sb) == -1 ? 2 : 3;
}

static int
child_fcntl_dup(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio");
	return fcntl(0, F_DUPFD, 10) == -1 ? 2 : 3;
}

static int
child_kill_parent(void *arg)
{
	pid_t	ppid = *(pid_t *)arg;

	sandbox_pledge("stdio");
	/* Signal 0: if the filter let it through, nothing would happen. */
	return syscall(SYS_tgkill, ppid, ppid, 0) == -1 ? 2 : 3;
}

static int
child_abort(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio");
	abort();
}

static int
child_mmap_exec(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio");
	return mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? 2 : 3;
}

static int
child_mprotect_exec(void *arg)
{
	void	*p;

	(void)arg;
	if ((p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return 4;
	sandbox_pledge("stdio");
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) == -1 ? 2 : 3;
}

/*
 * Forbidden forms of calls a promise allows in another form. The setup
 * (allowed) makes the descriptor the call needs; the child reports that
 * it got through the setup, so a kill is known to come from the call.
 */
struct forbidden {
	const char	*promises;
	int		(*setup)(void);
	long		(*call)(int);
	const char	*what;
};

struct forbidden_run {
	const struct forbidden	*f;
	int			 ready;	/* write end: 'r' before the call */
};

static int
setup_pipe(void)
{
	int	p[2];

	return pipe2(p, 0) == -1 ? -1 : p[0];
}

static int
setup_tcp(void)
{
	return socket(AF_INET, SOCK_STREAM, 0);
}

static int
setup_udp(void)
{
	return socket(AF_INET, SOCK_DGRAM, 0);
}

static long
call_ioctl_fionbio(int fd)
{
	int	on = 1;

	return ioctl(fd, FIONBIO, &on);
}

static long
call_ioctl_tiocgwinsz(int fd)
{
	struct winsize	ws;

	return ioctl(fd, TIOCGWINSZ, &ws);
}

static long
call_fstatat_cwd(int fd)
{
	struct stat	sb;

	(void)fd;
	return syscall(SYS_newfstatat, (long)AT_FDCWD, "/", &sb,
	    (long)AT_EMPTY_PATH);
}

/* AT_FDCWD not sign-extended: the kernel sees -100 all the same. */
static long
call_fstatat_cwd_high(int fd)
{
	struct stat	sb;

	(void)fd;
	return syscall(SYS_newfstatat, 0x00000000ffffff9cULL, "/", &sb,
	    (long)AT_EMPTY_PATH);
}

static long
call_fstatat_path(int fd)
{
	struct stat	sb;

	return syscall(SYS_newfstatat, (long)fd, "x", &sb, 0L);
}

static long
call_fstatat_nofollow(int fd)
{
	struct stat	sb;

	return syscall(SYS_newfstatat, (long)fd, "", &sb,
	    (long)(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

static long
call_socket_sctp(int fd)
{
	(void)fd;
	return socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
}

/* accept: a socket of its own, or a connect, is not accepting. */
static long
call_socket_tcp(int fd)
{
	(void)fd;
	return socket(AF_INET, SOCK_STREAM, 0);
}

static long
call_connect(int fd)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return connect(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static long
call_socket_mptcp(int fd)
{
	(void)fd;
	return socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
}

/* The protocol's low half is what the kernel reads: IPPROTO_RAW. */
static long
call_socket_high(int fd)
{
	(void)fd;
	return syscall(SYS_socket, (long)AF_INET, (long)SOCK_STREAM,
	    (1LL << 32) | IPPROTO_RAW);
}

static long
call_socket_icmp(int fd)
{
	(void)fd;
	return socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
}

static long
call_socket_udplite(int fd)
{
	(void)fd;
	return socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE);
}

static long
call_set_int(int fd, int level, int opt)
{
	int	one = 1;

	return setsockopt(fd, level, opt, &one, sizeof(one));
}

static long
call_so_debug(int fd)
{
	return call_set_int(fd, SOL_SOCKET, SO_DEBUG);
}

static long
call_so_keepalive(int fd)
{
	return call_set_int(fd, SOL_SOCKET, SO_KEEPALIVE);
}

static long
call_so_linger(int fd)
{
	struct linger	l = { 1, 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static long
call_so_attach_filter(int fd)
{
	return call_set_int(fd, SOL_SOCKET, SO_ATTACH_FILTER);
}

static long
call_tcp_nodelay(int fd)
{
	return call_set_int(fd, IPPROTO_TCP, TCP_NODELAY);
}

static long
call_tcp_ulp(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3);
}

static long
call_get_tcp_keepidle(int fd)
{
	socklen_t	len;
	int		v;

	len = sizeof(v);
	return getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len);
}

static long
call_get_so_peercred(int fd)
{
	struct ucred	uc;
	socklen_t	len;

	len = sizeof(uc);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len);
}

static long
call_bind(int fd)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static const struct forbidden forbidden_forms[] = {
	/* ioctl: FIONREAD only */
	{ "stdio", setup_pipe, call_ioctl_fionbio, "stdio: ioctl FIONBIO" },
	{ "stdio", setup_pipe, call_ioctl_tiocgwinsz,
	    "stdio: ioctl TIOCGWINSZ" },
	/* newfstatat: a descriptor and AT_EMPTY_PATH only */
	{ "stdio", NULL, call_fstatat_cwd,
	    "stdio: newfstatat(AT_FDCWD, \"/\", AT_EMPTY_PATH)" },
	{ "stdio", NULL, call_fstatat_cwd_high,
	    "stdio: newfstatat(0xffffff9c, \"/\"), AT_FDCWD unextended" },
	{ "stdio", setup_pipe, call_fstatat_path,
	    "stdio: newfstatat(fd, \"x\", 0) without AT_EMPTY_PATH" },
	{ "stdio", setup_pipe, call_fstatat_nofollow,
	    "stdio: newfstatat with AT_SYMLINK_NOFOLLOW added" },
	/* socket: TCP for inet, UDP for dns */
	{ "stdio inet", NULL, call_socket_sctp,
	    "stdio inet: socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)" },
	{ "stdio inet", NULL, call_socket_mptcp,
	    "stdio inet: socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)" },
	{ "stdio inet dns", NULL, call_socket_high,
	    "stdio inet dns: socket protocol 1<<32 | IPPROTO_RAW" },
	{ "stdio dns", NULL, call_socket_icmp,
	    "stdio dns: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)" },
	{ "stdio dns", NULL, call_socket_udplite,
	    "stdio dns: socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE)" },
	/* socket options: the (level, option) pairs in use only */
	{ "stdio inet", setup_tcp, call_so_debug,
	    "stdio inet: setsockopt SOL_SOCKET SO_DEBUG (TCP_NODELAY's "
	    "number)" },
	{ "stdio inet", setup_tcp, call_so_keepalive,
	    "stdio inet: setsockopt SOL_SOCKET SO_KEEPALIVE" },
	{ "stdio inet", setup_tcp, call_so_attach_filter,
	    "stdio inet: setsockopt SOL_SOCKET SO_ATTACH_FILTER" },
	{ "stdio inet", setup_tcp, call_tcp_ulp,
	    "stdio inet: setsockopt IPPROTO_TCP TCP_ULP" },
	{ "stdio inet", setup_tcp, call_get_tcp_keepidle,
	    "stdio inet: getsockopt IPPROTO_TCP TCP_KEEPIDLE (SO_ERROR's "
	    "number)" },
	{ "stdio inet", setup_tcp, call_get_so_peercred,
	    "stdio inet: getsockopt SOL_SOCKET SO_PEERCRED" },
	{ "stdio dns", setup_udp, call_tcp_nodelay,
	    "stdio dns: setsockopt without inet" },
	{ "stdio inet", setup_tcp, call_so_linger,
	    "stdio inet: setsockopt SO_LINGER without recvfd" },
	/* bind: no process binds */
	{ "stdio inet", setup_tcp, call_bind, "stdio inet: bind" },
	{ "stdio dns", setup_udp, call_bind, "stdio dns: bind" },
	{ "stdio inet dns", setup_udp, call_bind, "stdio inet dns: bind" },
	/* accept (the statistics process): accept4 and nothing else of inet */
	{ "stdio accept recvfd sendfd", NULL, call_socket_tcp,
	    "stdio accept recvfd sendfd: socket(AF_INET, SOCK_STREAM)" },
	{ "stdio accept recvfd sendfd", setup_pipe, call_connect,
	    "stdio accept recvfd sendfd: connect" },
	{ "stdio accept recvfd sendfd", setup_pipe, call_bind,
	    "stdio accept recvfd sendfd: bind" },
};

static int
child_forbidden_form(void *arg)
{
	const struct forbidden_run	*fr = arg;
	int				 fd = -1;

	sandbox_pledge(fr->f->promises);
	if (fr->f->setup != NULL && (fd = fr->f->setup()) == -1)
		return 4;
	if (write(fr->ready, "r", 1) != 1)
		return 5;
	return fr->f->call(fd) == -1 ? 2 : 3;
}

/* What stdio allows, including a whole libevent loop. */

struct loop_state {
	struct event_base	*base;
	struct event		*sig;
	int			 timer_fired;
	int			 signal_fired;
};

static void
loop_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct loop_state	*ls = arg;

	(void)fd;
	(void)ev;
	ls->timer_fired = 1;
	raise(SIGUSR1);
}

static void
loop_signal(evutil_socket_t fd, short ev, void *arg)
{
	struct loop_state	*ls = arg;

	(void)fd;
	(void)ev;
	ls->signal_fired = 1;
	event_base_loopexit(ls->base, NULL);
}

static int
child_stdio(void *arg)
{
	struct loop_state	 ls;
	struct event		*timer;
	struct timeval		 tv = { 0, 20000 };
	struct timespec		 ts, nap = { 0, 1000000 };
	struct stat		 sb;
	FILE			*fp;
	unsigned char		 rnd[16];
	char			*big;
	int			 fd = *(int *)arg, p[2], n;

	sandbox_pledge("stdio");
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 10;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 11;
	if (nanosleep(&nap, NULL) == -1)
		return 12;
	if ((big = malloc(8 << 20)) == NULL)	/* mmap, not brk */
		return 13;
	memset(big, 'x', 8 << 20);
	if ((big = realloc(big, 16 << 20)) == NULL)
		return 14;
	free(big);
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		return 15;
	/* ioctl FIONREAD: the one request libevent makes. */
	if (write(p[1], "n", 1) != 1 || ioctl(p[0], FIONREAD, &n) == -1 ||
	    n != 1)
		return 16;
	close(p[0]);
	close(p[1]);
	/* glibc's fstat: newfstatat(fd, "", AT_EMPTY_PATH). */
	if (fstat(fd, &sb) == -1 || !S_ISFIFO(sb.st_mode))
		return 17;

	memset(&ls, 0, sizeof(ls));
	if ((ls.base = event_base_new()) == NULL)
		return 20;
	if ((ls.sig = evsignal_new(ls.base, SIGUSR1, loop_signal, &ls)) ==
	    NULL || evsignal_add(ls.sig, NULL) == -1)
		return 21;
	if ((timer = evtimer_new(ls.base, loop_timer, &ls)) == NULL ||
	    evtimer_add(timer, &tv) == -1)
		return 22;
	if (event_base_dispatch(ls.base) == -1)
		return 23;
	if (!ls.timer_fired || !ls.signal_fired)
		return 24;
	event_free(timer);
	event_free(ls.sig);
	event_base_free(ls.base);

	/* A stdio stream sizes its buffer with fstat on the first write. */
	if ((fp = fdopen(fd, "w")) == NULL)
		return 30;
	fprintf(fp, "alive");
	if (fclose(fp) != 0)
		return 31;
	return 0;
}

/* inet, dns, unix, recvfd/sendfd, splice. */

static int
child_inet_connect(void *arg)
{
	struct sockaddr_in	*sin = arg;
	socklen_t		 len;
	int			 s, one = 1, err = -1;

	sandbox_pledge("stdio inet");
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 10;
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		return 11;
	if (connect(s, (struct sockaddr *)sin, sizeof(*sin)) == -1)
		return 12;
	len = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
		return 13;
	if (write(s, "hi", 2) != 2)
		return 14;
	close(s);
	/* Non-blocking TCP over IPv6 is inet too (EAFNOSUPPORT is fine). */
	if ((s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0)) != -1)
		close(s);
	/* TCP named by its number. */
	if ((s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)) == -1)
		return 15;
	close(s);
	/* Upper bits the kernel ignores: protocol 0 all the same. */
	if ((s = syscall(SYS_socket, (long)AF_INET, (long)SOCK_STREAM,
	    1LL << 32)) == -1)
		return 16;
	close(s);
	return 0;
}

static int
child_inet_unix(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio inet");
	return socket(AF_UNIX, SOCK_STREAM, 0) == -1 ? 2 : 3;
}

static int
child_inet_udp(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio inet");
	return socket(AF_INET, SOCK_DGRAM, 0) == -1 ? 2 : 3;
}

static int
child_inet_raw(void *arg)
{
	(void)arg;
	sandbox_pledge("stdio inet dns");
	return socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 ? 2 : 3;
}

static int
child_dns(void *arg)
{
	struct sockaddr_in	*sin = arg, local;
	socklen_t		 len = sizeof(local);
	int			 s;

	sandbox_pledge("stdio dns");
	/* A c-ares query: protocol 0, connect, send. */
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
		return 10;
	if (connect(s, (struct sockaddr *)sin, sizeof(*sin)) == -1)
		return 11;
	if (getsockname(s, (struct sockaddr *)&local, &len) == -1)
		return 12;
	if (sendto(s, "q", 1, MSG_NOSIGNAL, NULL, 0) != 1)
		return 13;
	close(s);
	/* c-ares' address sorting names UDP by its number. */
	if ((s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)) == -1)
		return 14;
	close(s);
	return 0;
}

static int
child_fdpass(void *arg)
{
	int	sv[2], p[2], fd;
	char	c;

	(void)arg;
	if (pipe(p) == -1)
		return 9;
	sandbox_pledge("stdio unix sendfd recvfd");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 10;
	if (send_fd(sv[0], p[1]) == -1)
		return 11;
	if ((fd = recv_fd(sv[1])) == -1)
		return 12;
	if (write(fd, "z", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'z')
		return 13;
	return 0;
}

/* recvfd: closing an unclaimed descriptor abortively (lib/imsg.c). */
static int
child_recvfd_abort_close(void *arg)
{
	struct linger	l = { 1, 0 };
	int		sv[2];

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 9;
	sandbox_pledge("stdio recvfd");
	if (setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1)
		return 10;
	if (shutdown(sv[1], SHUT_RDWR) == -1)
		return 11;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static int
child_recvmsg_unpledged(void *arg)
{
	struct msghdr	msg;
	int		sv[2];

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return 9;
	sandbox_pledge("stdio sendfd");
	memset(&msg, 0, sizeof(msg));
	return recvmsg(sv[1], &msg, 0) == -1 ? 2 : 3;
}

static int
child_socketpair_inet(void *arg)
{
	int	sv[2];

	(void)arg;
	sandbox_pledge("stdio unix");
	return socketpair(AF_INET, SOCK_STREAM, 0, sv) == -1 ? 2 : 3;
}

/* The relay's promises (mmpd/relay.c), as its TLS handoff uses them. */
#define RELAY_PROMISES	"stdio inet recvfd sendfd unix splice"

/*
 * A TLS handoff: a socketpair per session, its one end passed with
 * SCM_RIGHTS, bytes spliced from the kept end through a pipe.
 */
static int
child_relay_tls(void *arg)
{
	int	ch[2], sv[2], p[2];
	char	c;

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ch) == -1)
		return 9;
	sandbox_pledge(RELAY_PROMISES);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1 || pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		return 10;
	if (send_fd(ch[0], sv[1]) == -1)
		return 11;
	close(sv[1]);
	if (write(sv[0], "x", 1) != 1)
		return 12;
	/* What "mmp-tlsd" got back: spliced from the socket to a pipe. */
	if ((sv[1] = recv_fd(ch[1])) == -1)
		return 13;
	if (splice(sv[1], NULL, p[1], NULL, 1, SPLICE_F_NONBLOCK) != 1 ||
	    splice(p[0], NULL, sv[1], NULL, 1, SPLICE_F_NONBLOCK) != 1 ||
	    read(sv[0], &c, 1) != 1 || c != 'x')
		return 14;
	return 0;
}

/* unix is socketpair only: no socket to connect to a path. */
static int
child_relay_unix_socket(void *arg)
{
	(void)arg;
	sandbox_pledge(RELAY_PROMISES);
	return socket(AF_UNIX, SOCK_STREAM, 0) == -1 ? 2 : 3;
}

static int
child_splice(void *arg)
{
	int	a[2], b[2];
	char	c;

	(void)arg;
	sandbox_pledge("stdio splice");
	if (pipe2(a, 0) == -1 || pipe2(b, 0) == -1)
		return 10;
	if (write(a[1], "s", 1) != 1)
		return 11;
	if (splice(a[0], NULL, b[1], NULL, 1, 0) != 1)
		return 12;
	if (read(b[0], &c, 1) != 1 || c != 's')
		return 13;
	return 0;
}

static int
child_splice_unpledged(void *arg)
{
	int	a[2], b[2];

	(void)arg;
	if (pipe(a) == -1 || pipe(b) == -1)
		return 9;
	sandbox_pledge("stdio");
	return splice(a[0], NULL, b[1], NULL, 1, SPLICE_F_NONBLOCK) == -1 ?
	    2 : 3;
}

/* Debug mode: the call fails with ENOSYS, stderr names it. */
static int
child_debug(void *arg)
{
	int	fd = *(int *)arg, s;
	void	*p;

	if (dup2(fd, STDERR_FILENO) == -1)
		return 9;
	if (setenv("MMPD_SANDBOX_DEBUG", "1", 1) == -1)
		return 9;
	sandbox_pledge("stdio");
	errno = 0;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s != -1 || errno != ENOSYS)
		return 10;
	errno = 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED || errno != ENOSYS)
		return 11;
	return 0;
}

/* Promise words. */

/* A promise string for a TAP line: control bytes as \xNN. */
static const char *
printable(const char *s, char *buf, size_t size)
{
	size_t	len = 0;

	for (; *s != '\0' && len + 5 < size; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			len += snprintf(buf + len, size - len, "\\x%02x",
			    (unsigned char)*s);
		else
			buf[len++] = *s;
	}
	buf[len] = '\0';
	return buf;
}

static int
child_promises(void *arg)
{
	quiet_stderr();
	sandbox_pledge(arg);
	return 0;
}

/* Seccomp and no_new_privs as /proc shows them while the child waits. */
static int
child_wait(void *arg)
{
	struct pipes	*pp = arg;
	char		 c = 'r';

	close(pp->up[0]);
	close(pp->down[1]);
	sandbox_pledge("stdio");
	if (write(pp->up[1], &c, 1) != 1)
		return 10;
	if (read(pp->down[0], &c, 1) != 1)
		return 11;
	return 0;
}

struct drop_args {
	struct pipes	 pp;
	const char	*dir;
	const char	*user;
	int		 want;		/* sandbox_drop's expected result */
	int		 unprivileged;	/* become nobody first */
	int		 quiet;		/* stderr to /dev/null */
	uid_t		 uid;
	gid_t		 gid;
};

static int
child_drop(void *arg)
{
	struct drop_args	*da = arg;
	char			 c = 'd', cwd[PATH_MAX];
	pid_t			 pid;

	close(da->pp.up[0]);
	close(da->pp.down[1]);
	if (da->quiet)
		quiet_stderr();
	if (da->unprivileged && (setgroups(1, &da->gid) == -1 ||
	    setresgid(da->gid, da->gid, da->gid) == -1 ||
	    setresuid(da->uid, da->uid, da->uid) == -1))
		return 9;
	/*
	 * The uid change made the kernel clear dumpable; a process started
	 * as that user would have it set. sandbox_drop must clear it.
	 */
	if (da->unprivileged && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		return 9;
	if (sandbox_drop(da->dir, da->user) != da->want)
		return 10;
	if (da->want && (getcwd(cwd, sizeof(cwd)) == NULL ||
	    strcmp(cwd, "/") != 0))
		return 11;
	if (write(da->pp.up[1], &c, 1) != 1)
		return 12;
	if (read(da->pp.down[0], &c, 1) != 1)
		return 13;
	/* RLIMIT_NPROC 0: no more processes for this user. */
	if ((pid = fork()) == 0)
		_exit(0);
	if (pid != -1) {
		waitpid(pid, NULL, 0);
		return 14;
	}
	return 0;
}

/*
 * mmp-tlsd's promises (mmp-tlsd/tlsd.c): it reads its files' memfds
 * with pread (ctxs.c), and makes no socket and opens no file after start.
 */
#define TLSD_PROMISES	"stdio recvfd sendfd"

static int
child_tlsd_pread(void *arg)
{
	char	buf[4];
	int	fd;

	(void)arg;
	if ((fd = memfd_create("pem", MFD_CLOEXEC)) == -1 ||
	    write(fd, "PEM!", 4) != 4)
		return 4;
	sandbox_pledge(TLSD_PROMISES);
	return pread(fd, buf, sizeof(buf), 0) == 4 &&
	    memcmp(buf, "PEM!", 4) == 0 ? 0 : 2;
}

static int
child_tlsd_socket(void *arg)
{
	(void)arg;
	sandbox_pledge(TLSD_PROMISES);
	return socket(AF_INET, SOCK_STREAM, 0) == -1 ? 2 : 3;
}

static int
child_tlsd_openat(void *arg)
{
	(void)arg;
	sandbox_pledge(TLSD_PROMISES);
	return syscall(SYS_openat, AT_FDCWD, "/usr/lib/ssl/openssl.cnf",
	    O_RDONLY) == -1 ? 2 : 3;
}

static void
test_tlsd(void)
{
	int	st;

	st = run_child(child_tlsd_pread, NULL);
	if (!tap_ok(exited_ok(st), TLSD_PROMISES ": pread of a memfd"))
		describe(st);
	st = run_child(child_tlsd_socket, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), TLSD_PROMISES ": socket is killed"))
		describe(st);
	st = run_child(child_tlsd_openat, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), TLSD_PROMISES ": openat is killed"))
		describe(st);
}

static void
test_forbidden(void)
{
	pid_t	ppid = getpid();
	int	st;

	st = run_child(child_socket, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio: socket is killed by SIGSYS"))
		describe(st);
	st = run_child(child_open, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio: open is killed"))
		describe(st);
	st = run_child(child_execve, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio: execve is killed"))
		describe(st);
	st = run_child(child_stat_path, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio: stat of a path is killed"))
		describe(st);
	st = run_child(child_fcntl_dup, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio: fcntl F_DUPFD is killed"))
		describe(st);
	st = run_child(child_kill_parent, &ppid);
	if (!tap_ok(killed_by(st, SIGSYS),
	    "stdio: tgkill of another process is killed"))
		describe(st);
	st = run_child(child_abort, NULL);
	if (!tap_ok(killed_by(st, SIGABRT),
	    "stdio: abort() still dies by SIGABRT"))
		describe(st);
}

static void
test_forbidden_forms(void)
{
	struct forbidden_run	 fr;
	size_t			 i;
	char			 c;
	int			 p[2], st, ready;

	for (i = 0; i < sizeof(forbidden_forms) /
	    sizeof(forbidden_forms[0]); i++) {
		if (pipe(p) == -1) {
			tap_ok(0, "pipe: %s", strerror(errno));
			return;
		}
		fr.f = &forbidden_forms[i];
		fr.ready = p[1];
		st = run_child(child_forbidden_form, &fr);
		close(p[1]);
		ready = read(p[0], &c, 1) == 1;
		close(p[0]);
		if (!tap_ok(ready && killed_by(st, SIGSYS), "%s is killed",
		    fr.f->what)) {
			if (!ready)
				tap_diag("child did not get to the call");
			describe(st);
		}
	}
}

static void
test_stdio(void)
{
	char	buf[64];
	int	p[2], st;

	if (pipe(p) == -1) {
		tap_ok(0, "pipe: %s", strerror(errno));
		return;
	}
	st = run_child(child_stdio, &p[1]);
	close(p[1]);
	read_all(p[0], buf, sizeof(buf));
	close(p[0]);
	if (!tap_ok(exited_ok(st), "stdio: memory, time, random, libevent "
	    "timer and signal, stdio stream"))
		describe(st);
	tap_is_str(buf, "alive", "stdio: child wrote through the pipe");
}

static void
test_inet(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			buf[8];
	int			l, c, st, u;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1) {
		tap_ok(0, "listener: %s", strerror(errno));
		return;
	}
	st = run_child(child_inet_connect, &sin);
	if (!tap_ok(exited_ok(st), "stdio inet: TCP socket and connect"))
		describe(st);
	memset(buf, 0, sizeof(buf));
	if ((c = accept(l, NULL, NULL)) != -1) {
		read_all(c, buf, sizeof(buf));
		close(c);
	}
	close(l);
	tap_is_str(buf, "hi", "stdio inet: the bytes arrived");

	st = run_child(child_inet_unix, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio inet: AF_UNIX socket "
	    "is killed"))
		describe(st);
	st = run_child(child_inet_udp, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio inet: UDP socket is killed"))
		describe(st);
	st = run_child(child_inet_raw, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "stdio inet dns: raw socket "
	    "is killed"))
		describe(st);

	len = sizeof(sin);
	sin.sin_port = 0;
	if ((u = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(u, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(u, (struct sockaddr *)&sin, &len) == -1) {
		tap_ok(0, "udp socket: %s", strerror(errno));
		return;
	}
	st = run_child(child_dns, &sin);
	if (!tap_ok(exited_ok(st), "stdio dns: UDP socket, connect, "
	    "getsockname, sendto"))
		describe(st);
	memset(buf, 0, sizeof(buf));
	if (recv(u, buf, sizeof(buf) - 1, MSG_DONTWAIT) == -1)
		buf[0] = '\0';
	close(u);
	tap_is_str(buf, "q", "stdio dns: the datagram arrived");
}

static void
test_ipc(void)
{
	int	st;

	st = run_child(child_fdpass, NULL);
	if (!tap_ok(exited_ok(st), "stdio unix sendfd recvfd: socketpair "
	    "and descriptor passing"))
		describe(st);
	st = run_child(child_recvfd_abort_close, NULL);
	if (!tap_ok(exited_ok(st), "stdio recvfd: setsockopt SO_LINGER and "
	    "shutdown, to close what a peer sent abortively"))
		describe(st);
	st = run_child(child_recvmsg_unpledged, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "recvmsg without recvfd is "
	    "killed"))
		describe(st);
	st = run_child(child_socketpair_inet, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "unix: socketpair(AF_INET) is "
	    "killed"))
		describe(st);
	st = run_child(child_splice, NULL);
	if (!tap_ok(exited_ok(st), "stdio splice: splice through pipes"))
		describe(st);
	st = run_child(child_relay_tls, NULL);
	if (!tap_ok(exited_ok(st), RELAY_PROMISES ": socketpair, SCM_RIGHTS "
	    "and splice of a TLS handoff"))
		describe(st);
	st = run_child(child_relay_unix_socket, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), RELAY_PROMISES ": socket(AF_UNIX) "
	    "is killed"))
		describe(st);
	st = run_child(child_splice_unpledged, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "splice without the promise "
	    "is killed"))
		describe(st);
}

static void
test_exec_memory(void)
{
	int	st;

	st = run_child(child_mmap_exec, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "mmap with PROT_EXEC is killed"))
		describe(st);
	st = run_child(child_mprotect_exec, NULL);
	if (!tap_ok(killed_by(st, SIGSYS), "mprotect with PROT_EXEC is "
	    "killed"))
		describe(st);
}

static void
test_debug(void)
{
	char	buf[STATUS_BYTES], want[80];
	int	p[2], st;

	if (pipe(p) == -1) {
		tap_ok(0, "pipe: %s", strerror(errno));
		return;
	}
	st = run_child(child_debug, &p[1]);
	close(p[1]);
	read_all(p[0], buf, sizeof(buf));
	close(p[0]);
	if (!tap_ok(exited_ok(st), "debug mode: forbidden calls fail with "
	    "ENOSYS and the process lives"))
		describe(st);
	snprintf(want, sizeof(want), "mmpd sandbox: forbidden system call "
	    "%d\n", (int)SYS_socket);
	if (!tap_ok(strstr(buf, want) != NULL, "debug mode: stderr names "
	    "socket (%d)", (int)SYS_socket))
		tap_diag("stderr: %s", buf);
	snprintf(want, sizeof(want), "mmpd sandbox: forbidden system call "
	    "%d\n", (int)SYS_mmap);
	tap_ok(strstr(buf, want) != NULL, "debug mode: stderr names mmap "
	    "(%d)", (int)SYS_mmap);
}

static void
test_promises(void)
{
	static const char	*bad[] = {
		"stdio inetx", "std", "stdio,inet", "STDIO", "stdio\ninet",
		"stdio sendfdrecvfd", "stdio \x01", "stdio "
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char	*good[] = {
		"  stdio\t inet  ", "stdio inet dns unix recvfd sendfd splice",
		"stdio stdio",
	};
	char			 desc[128];
	size_t			 i;
	int			 st;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = run_child(child_promises, (void *)bad[i]);
		if (!tap_ok(exited_failed(st), "unknown promise in \"%s\" is "
		    "fatal", printable(bad[i], desc, sizeof(desc))))
			describe(st);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		st = run_child(child_promises, (void *)good[i]);
		if (!tap_ok(exited_ok(st), "promises \"%s\" accepted",
		    printable(good[i], desc, sizeof(desc))))
			describe(st);
	}
}

static int
spawn_waiting(child_fn fn, struct pipes *pp, pid_t *pid)
{
	char	c;

	if (pipe(pp->up) == -1 || pipe(pp->down) == -1)
		return -1;
	fflush(stdout);
	*pid = -1;
	if ((*pid = fork()) == -1)
		return -1;
	if (*pid == 0)
		_exit(fn(pp));
	close(pp->up[1]);
	close(pp->down[0]);
	if (read(pp->up[0], &c, 1) != 1)
		return -1;
	return 0;
}

static int
release_waiting(struct pipes *pp, pid_t pid)
{
	int	status;

	if (pid == -1)
		return -1;
	if (write(pp->down[1], "g", 1) != 1)
		tap_diag("release: %s", strerror(errno));
	close(pp->down[1]);
	close(pp->up[0]);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return status;
}

static void
test_proc_status(void)
{
	struct pipes	pp;
	char		buf[STATUS_BYTES], val[64];
	pid_t		pid;
	int		st;

	if (spawn_waiting(child_wait, &pp, &pid) == -1) {
		tap_ok(0, "waiting child: %s", strerror(errno));
		return;
	}
	if (proc_status(pid, buf, sizeof(buf)) == -1)
		buf[0] = '\0';
	tap_is_str(status_field(buf, "Seccomp", val, sizeof(val)), "2",
	    "pledged child: Seccomp 2 (filter)");
	tap_is_str(status_field(buf, "NoNewPrivs", val, sizeof(val)), "1",
	    "pledged child: NoNewPrivs 1");
	st = release_waiting(&pp, pid);
	if (!tap_ok(exited_ok(st), "pledged child exits cleanly"))
		describe(st);
}

/* "soft hard" of "Max core file size" in /proc/PID/limits, or NULL. */
static const char *
core_limit(pid_t pid, char *val, size_t size)
{
	char		 buf[STATUS_BYTES], path[64], soft[32], hard[32];
	const char	*p;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	read_all(fd, buf, sizeof(buf));
	close(fd);
	if ((p = strstr(buf, "Max core file size")) == NULL ||
	    sscanf(p + strlen("Max core file size"), "%31s %31s", soft,
	    hard) != 2)
		return NULL;
	snprintf(val, size, "%s %s", soft, hard);
	return val;
}

/*
 * Owner of /proc/PID/status: root when the process is not dumpable.
 * Not /proc/PID itself: the kernel keeps the directory owned by the
 * effective uid, for ps.
 */
static long long
proc_owner(pid_t pid)
{
	struct stat	sb;
	char		path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return stat(path, &sb) == -1 ? -1 : (long long)sb.st_uid;
}

static void
test_drop_as(struct drop_args *da, const char *what)
{
	char	buf[STATUS_BYTES], val[64], want[64], root[PATH_MAX];
	char	path[64];
	pid_t	pid;
	ssize_t	n;
	int	st;

	if (spawn_waiting(child_drop, &da->pp, &pid) == -1) {
		tap_ok(0, "%s: child did not get through sandbox_drop", what);
		st = release_waiting(&da->pp, pid);
		describe(st);
		return;
	}
	if (proc_status(pid, buf, sizeof(buf)) == -1)
		buf[0] = '\0';
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned int)da->uid,
	    (unsigned int)da->uid, (unsigned int)da->uid,
	    (unsigned int)da->uid);
	tap_is_str(status_field(buf, "Uid", val, sizeof(val)), want,
	    "%s: Uid is nobody's", what);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned int)da->gid,
	    (unsigned int)da->gid, (unsigned int)da->gid,
	    (unsigned int)da->gid);
	tap_is_str(status_field(buf, "Gid", val, sizeof(val)), want,
	    "%s: Gid is nobody's", what);
	snprintf(want, sizeof(want), "%u", (unsigned int)da->gid);
	if (da->want || da->unprivileged)
		tap_is_str(status_field(buf, "Groups", val, sizeof(val)), want,
		    "%s: only nobody's group", what);
	else
		tap_ok(1, "# skip %s: groups stay as they were", what);
	tap_is_str(status_field(buf, "NoNewPrivs", val, sizeof(val)), "1",
	    "%s: NoNewPrivs 1", what);
	/*
	 * As root the uid change alone clears dumpable (fs.suid_dumpable
	 * 0): the non-root case is the one that sees a missing prctl.
	 */
	tap_is_int(proc_owner(pid), 0, "%s: not dumpable (/proc/PID/status "
	    "belongs to root)", what);
	tap_is_str(core_limit(pid, val, sizeof(val)), "0 0",
	    "%s: core file size limit 0, soft and hard", what);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if ((n = readlink(path, root, sizeof(root) - 1)) == -1)
		n = 0;
	root[n] = '\0';
	tap_is_str(root, da->want ? da->dir : "/", "%s: root directory", what);
	st = release_waiting(&da->pp, pid);
	if (!tap_ok(exited_ok(st), "%s: checks in the child pass, fork fails",
	    what))
		describe(st);
}

static void
test_drop(void)
{
	struct drop_args	 da;
	struct passwd		*pw;
	char			 tmpl[] = "/tmp/sandbox-test.XXXXXX", *dir;
	int			 st;

	if ((pw = getpwnam("nobody")) == NULL) {
		tap_ok(1, "# skip no user nobody");
		return;
	}
	if ((dir = mkdtemp(tmpl)) == NULL) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	memset(&da, 0, sizeof(da));
	da.dir = dir;
	da.user = "nobody";
	da.uid = pw->pw_uid;
	da.gid = pw->pw_gid;

	if (geteuid() != 0)
		tap_ok(1, "# skip sandbox_drop as root needs root");
	else {
		da.want = 1;
		test_drop_as(&da, "drop as root");
	}

	/* Unprivileged: warns, stays, but still no fork and no_new_privs. */
	da.want = 0;
	da.unprivileged = geteuid() == 0;
	if (geteuid() != 0) {
		da.uid = getuid();
		da.gid = getgid();
	}
	da.quiet = 1;
	test_drop_as(&da, "drop as non-root");

	if (geteuid() == 0) {
		da.pp.up[0] = da.pp.up[1] = da.pp.down[0] = da.pp.down[1] = -1;
		da.unprivileged = 0;
		da.want = 1;
		da.user = "mmpd-no-such-user";
		st = run_child(child_drop, &da);
		if (!tap_ok(exited_failed(st), "drop: missing user is fatal"))
			describe(st);
		da.user = "nobody";
		da.dir = "/nonexistent/mmpd-sandbox-test";
		st = run_child(child_drop, &da);
		if (!tap_ok(exited_failed(st), "drop: missing chroot directory "
		    "is fatal"))
			describe(st);
	}
	rmdir(tmpl);
}

int
main(void)
{
	struct rlimit	rl;

	/*
	 * Children killed by SIGSYS must not leave core files behind. The
	 * hard limit stays: sandbox_drop must lower it to 0 itself.
	 */
	if (getrlimit(RLIMIT_CORE, &rl) == -1)
		tap_diag("getrlimit RLIMIT_CORE: %s", strerror(errno));
	else {
		if (rl.rlim_max == 0)
			tap_diag("hard core size limit already 0: the drop "
			    "tests cannot see it lowered");
		rl.rlim_cur = 0;
		if (setrlimit(RLIMIT_CORE, &rl) == -1)
			tap_diag("setrlimit RLIMIT_CORE: %s", strerror(errno));
	}
	/* A child that died early must not kill us through its pipe. */
	signal(SIGPIPE, SIG_IGN);
	test_forbidden();
	test_forbidden_forms();
	test_tlsd();
	test_stdio();
	test_inet();
	test_ipc();
	test_exec_memory();
	test_debug();
	test_promises();
	test_proc_status();
	test_drop();
	return tap_done();
}
