/*
 * Every kind of child in its real sandbox: the test calls the very function
 * the child calls (lib/sandboxes.c), as root, with ChrootDir an empty
 * directory made as the install makes /var/empty and the child's own user,
 * then tries what the child must not do, each try in a process of its own,
 * and sees it killed by seccomp at that call. What the child needs still
 * works; the configuration and keys stay out of reach; no privilege comes
 * back.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/sched.h>

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

#include "config.h"
#include "sandbox.h"
#include "sandboxes.h"
#include "regress/tap.h"
#include "regress/sandbox/sbxtest.h"

#define STATUS_BYTES	4096
/* The install's script; make runs the tests at the top of the tree. */
#define USERS_SH	"etc/users.sh"
#define CFG_TEXT	"default:BindPass children-test-secret\n"
#define KEY_TEXT	"-----BEGIN PRIVATE KEY-----\nchildren-test\n" \
			"-----END PRIVATE KEY-----\n"
#define KEY_IN_ROOT	"/server.key"	/* the planted key, seen from inside */
#define NO_CAPS		"0000000000000000"

/*
 * What a kind of child may do beyond "stdio recvfd sendfd", which all do.
 * The policy is written here, not read from lib/sandboxes.c: a promise
 * added there is a call that no longer kills, and fails a test below.
 */
#define MAY_INET	0x01	/* TCP: socket, connect, accept */
#define MAY_DNS		0x02	/* UDP: socket, connect, sendto */
#define MAY_UNIX	0x04	/* socketpair(AF_UNIX) */
#define MAY_SPLICE	0x08	/* splice(2) */
#define MAY_ACCEPT	0x10	/* accept4 on a socket it was given */

struct kind {
	const char	*name;
	void		(*enter)(const struct mmp_conf *);
	enum conf_key	 user;
	unsigned int	 may;
};

static const struct kind kinds[] = {
	{ "relay", sandbox_relay, CK_RELAYUSER,
	    MAY_INET | MAY_ACCEPT | MAY_UNIX | MAY_SPLICE },
	{ "mmp-ldapd", sandbox_ldapd, CK_LDAPUSER, MAY_INET | MAY_DNS },
	{ "mmp-tlsd", sandbox_tlsd, CK_TLSUSER, 0 },
	{ "stats", sandbox_stats, CK_STATSUSER, MAY_ACCEPT },
};
#define NKINDS		(sizeof(kinds) / sizeof(kinds[0]))

/* Made once by main. */
static struct {
	struct mmp_conf	*conf;		/* defaults, ChrootDir = root */
	char		 base[32];	/* mkdtemp, 0700 */
	char		 etc[PATH_MAX];	/* base/etc, 0700: the instance */
	char		 cfg[PATH_MAX];	/* base/etc/AService.cfg, 0600 */
	char		 key[PATH_MAX];	/* base/etc/server.key, 0600 */
	char		 root[PATH_MAX]; /* base/empty, 0755: ChrootDir */
	char		 inkey[PATH_MAX]; /* root/server.key, 0600 */
	char		 capbnd[32];	/* CapBnd a child must show */
	pid_t		 self;		/* the test: another process */
} t;

/* Descriptors a child holds before its sandbox, as the real ones do. */
struct fixture {
	struct sockaddr_in	 tcpaddr;	/* the listener's */
	struct sockaddr_in	 udpaddr;	/* the "DNS server" */
	int			 listener;	/* one connection waiting */
	int			 client;	/* that connection's end */
	int			 tcp;		/* a TCP socket, unconnected */
	int			 udp;		/* bound to udpaddr */
	int			 sv[2];		/* an imsg channel */
	int			 pipe[2];
	int			 memfd;		/* a PEM file, as the parent */
};						/* hands them to mmp-tlsd */

typedef int	(*child_fn)(const void *, struct fixture *);

/* How a child in a sandbox ended. */
struct outcome {
	int	status;		/* waitpid's; -1 if none */
	int	ready;		/* it got through its sandbox */
	long	nr;		/* the call it was in when it ended; -1 */
};

/*
 * The call a process was in when it died, from its registers at its exit
 * stop: a seccomp kill leaves the call's number there. Where this cannot
 * be read, the verdict rests on SIGSYS after the sandbox alone.
 */
#if defined(__x86_64__)
#define HAVE_EXIT_NR	1
static long
exit_nr(pid_t pid)
{
	struct user_regs_struct	regs;

	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == -1)
		return -1;
	return (long)regs.orig_rax;
}
#else
#define HAVE_EXIT_NR	0
static long
exit_nr(pid_t pid)
{
	(void)pid;
	return -1;
}
#endif

static int
fixture_open(struct fixture *fx)
{
	socklen_t	len;

	memset(fx, 0, sizeof(*fx));
	fx->tcpaddr.sin_family = AF_INET;
	fx->tcpaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx->udpaddr = fx->tcpaddr;
	len = sizeof(fx->tcpaddr);
	if ((fx->listener = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fx->listener, (struct sockaddr *)&fx->tcpaddr,
	    sizeof(fx->tcpaddr)) == -1 || listen(fx->listener, 8) == -1 ||
	    getsockname(fx->listener, (struct sockaddr *)&fx->tcpaddr,
	    &len) == -1)
		return -1;
	if ((fx->client = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fx->client, (struct sockaddr *)&fx->tcpaddr,
	    sizeof(fx->tcpaddr)) == -1)
		return -1;
	if ((fx->tcp = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	len = sizeof(fx->udpaddr);
	if ((fx->udp = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fx->udp, (struct sockaddr *)&fx->udpaddr,
	    sizeof(fx->udpaddr)) == -1 ||
	    getsockname(fx->udp, (struct sockaddr *)&fx->udpaddr,
	    &len) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fx->sv) == -1 ||
	    pipe(fx->pipe) == -1)
		return -1;
	if ((fx->memfd = memfd_create("pem", MFD_CLOEXEC)) == -1 ||
	    write(fx->memfd, "PEM!", 4) != 4)
		return -1;
	return 0;
}

/* The first layer alone: ChrootDir and the kind's user, as the child's. */
static void
drop_only(const struct kind *k)
{
	sandbox_drop(conf_str(t.conf, CONF_GLOBAL, CK_CHROOTDIR),
	    conf_str(t.conf, CONF_GLOBAL, k->user));
}

/*
 * Follows the child until it is gone: lets its signals through, and reads
 * at its exit stop the call it was in.
 */
static int
trace(pid_t pid, long *nr)
{
	int	status, sig, first = 1;

	for (;;) {
		if (waitpid(pid, &status, 0) == -1)
			return -1;
		if (!WIFSTOPPED(status))
			return status;
		sig = WSTOPSIG(status);
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			*nr = exit_nr(pid);
			sig = 0;
		} else if (first && sig == SIGSTOP) {
			/* Its own raise(SIGSTOP) after PTRACE_TRACEME. */
			if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
			    (void *)(long)(PTRACE_O_TRACEEXIT |
			    PTRACE_O_EXITKILL)) == -1)
				tap_diag("PTRACE_SETOPTIONS: %s",
				    strerror(errno));
			sig = 0;
		}
		first = 0;
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) == -1) {
			tap_diag("PTRACE_CONT: %s", strerror(errno));
			kill(pid, SIGKILL);
		}
	}
}

/*
 * fn in a child of its own: its descriptors made, then the kind's whole
 * sandbox (or its drop alone), then "ready", then fn.
 */
static void
run_in(const struct kind *k, int only_drop, child_fn fn, const void *arg,
    struct outcome *o)
{
	struct fixture	 fx;
	pid_t		 pid;
	char		 c;
	int		 rp[2];

	o->status = -1;
	o->ready = 0;
	o->nr = -1;
	if (pipe(rp) == -1) {
		tap_diag("pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		tap_diag("fork: %s", strerror(errno));
		close(rp[0]);
		close(rp[1]);
		return;
	}
	if (pid == 0) {
		close(rp[0]);
		if (fixture_open(&fx) == -1)
			_exit(90);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 ||
		    raise(SIGSTOP) != 0)
			_exit(91);
		if (only_drop)
			drop_only(k);
		else
			k->enter(t.conf);
		if (write(rp[1], "r", 1) != 1)
			_exit(92);
		_exit(fn(arg, &fx));
	}
	close(rp[1]);
	o->status = trace(pid, &o->nr);
	o->ready = read(rp[0], &c, 1) == 1;
	close(rp[0]);
}

static void
describe(const struct outcome *o)
{
	if (!o->ready)
		tap_diag("the child did not get through its sandbox");
	if (o->status == -1)
		tap_diag("no status");
	else if (WIFSIGNALED(o->status))
		tap_diag("killed by signal %d in system call %ld",
		    WTERMSIG(o->status), o->nr);
	else if (WIFEXITED(o->status))
		tap_diag("exited %d (2: the call failed, 3: it succeeded, "
		    "10+: that step of the check failed)",
		    WEXITSTATUS(o->status));
}

/*
 * Calls no child may make, or that a kind may not. Raw system calls, so
 * that the number the kernel kills at is the one named.
 */
struct attempt {
	const char	*what;
	long		 nr;
	unsigned int	 spare;		/* kinds that may any of these */
	long		(*call)(struct fixture *);
};

#ifdef SYS_open
static long
try_open_cfg(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_open, t.cfg, O_RDONLY);
}
#endif

static long
try_openat_cfg(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_openat, AT_FDCWD, t.cfg, O_RDONLY);
}

static long
try_openat_key(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_openat, AT_FDCWD, KEY_IN_ROOT, O_RDONLY);
}

#ifdef SYS_openat2
static long
try_openat2_key(struct fixture *fx)
{
	struct open_how	how;

	(void)fx;
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY;
	return syscall(SYS_openat2, AT_FDCWD, KEY_IN_ROOT, &how, sizeof(how));
}
#endif

static long
try_socket(int family, int type, int protocol)
{
	return syscall(SYS_socket, family, type, protocol);
}

static long
try_netlink(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
}

static long
try_packet(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
}

static long
try_unix_stream(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_UNIX, SOCK_STREAM, 0);
}

static long
try_unix_dgram(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_UNIX, SOCK_DGRAM, 0);
}

static long
try_raw(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
}

static long
try_tcp(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_INET, SOCK_STREAM, 0);
}

static long
try_tcp6(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
}

static long
try_udp(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_INET, SOCK_DGRAM, 0);
}

static long
try_udp6(struct fixture *fx)
{
	(void)fx;
	return try_socket(AF_INET6, SOCK_DGRAM, 0);
}

static long
try_connect(struct fixture *fx)
{
	return syscall(SYS_connect, fx->tcp, &fx->tcpaddr,
	    sizeof(fx->tcpaddr));
}

static long
try_accept(struct fixture *fx)
{
	return syscall(SYS_accept4, fx->listener, NULL, NULL, SOCK_NONBLOCK);
}

static long
try_bind(struct fixture *fx)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return syscall(SYS_bind, fx->tcp, &sin, sizeof(sin));
}

static long
try_listen(struct fixture *fx)
{
	return syscall(SYS_listen, fx->tcp, 1);
}

static long
try_sendto(struct fixture *fx)
{
	return syscall(SYS_sendto, fx->udp, "q", 1, MSG_DONTWAIT,
	    &fx->udpaddr, sizeof(fx->udpaddr));
}

static long
try_socketpair(struct fixture *fx)
{
	int	sv[2];

	(void)fx;
	return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv);
}

static long
try_splice(struct fixture *fx)
{
	return syscall(SYS_splice, fx->pipe[0], NULL, fx->sv[0], NULL, 1,
	    SPLICE_F_NONBLOCK);
}

static long
try_execve(struct fixture *fx)
{
	char	*argv[] = { "sh", "-c", "exit 0", NULL }, *envp[] = { NULL };

	(void)fx;
	return syscall(SYS_execve, "/bin/sh", argv, envp);
}

static long
try_execveat(struct fixture *fx)
{
	char	*argv[] = { "sh", "-c", "exit 0", NULL }, *envp[] = { NULL };

	(void)fx;
	return syscall(SYS_execveat, AT_FDCWD, "/bin/sh", argv, envp, 0);
}

/* Were either let through, the copy would leave at once. */
static long
try_clone(struct fixture *fx)
{
	long	r;

	(void)fx;
	if ((r = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L)) == 0)
		_exit(0);
	return r;
}

#ifdef SYS_clone3
static long
try_clone3(struct fixture *fx)
{
	struct clone_args	ca;
	long			r;

	(void)fx;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	if ((r = syscall(SYS_clone3, &ca, sizeof(ca))) == 0)
		_exit(0);
	return r;
}
#endif

static long
try_ptrace(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_ptrace, PTRACE_ATTACH, (long)t.self, 0L, 0L);
}

/* Read the parent's copy of t: the same address in both. */
static long
try_vm_readv(struct fixture *fx)
{
	struct iovec	local, remote;
	char		buf[16];

	(void)fx;
	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = &t;
	remote.iov_len = sizeof(buf);
	return syscall(SYS_process_vm_readv, (long)t.self, &local, 1L,
	    &remote, 1L, 0L);
}

/* Signal 0: were the call let through, nothing would happen to us. */
static long
try_kill(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_kill, (long)t.self, 0L);
}

static long
try_tgkill(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_tgkill, (long)t.self, (long)t.self, 0L);
}

static long
try_tkill(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_tkill, (long)t.self, 0L);
}

#ifdef SYS_pidfd_open
static long
try_pidfd_open(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_pidfd_open, (long)t.self, 0L);
}
#endif

static long
try_setuid(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_setuid, 0L);
}

static long
try_setresuid(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_setresuid, 0L, 0L, 0L);
}

static long
try_setgid(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_setgid, 0L);
}

static long
try_setgroups(struct fixture *fx)
{
	gid_t	g = 0;

	(void)fx;
	return syscall(SYS_setgroups, 1L, &g);
}

/* Ask for CAP_NET_BIND_SERVICE back, permitted and effective. */
static long
raise_cap(void)
{
	struct __user_cap_header_struct	hdr;
	struct __user_cap_data_struct	data[_LINUX_CAPABILITY_U32S_3];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	data[0].permitted = data[0].effective =
	    1U << CAP_NET_BIND_SERVICE;
	return syscall(SYS_capset, &hdr, data);
}

static long
try_capset(struct fixture *fx)
{
	(void)fx;
	return raise_cap();
}

static long
try_dumpable(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_prctl, (long)PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
}

/* A user namespace would give it every capability in there. */
static long
try_unshare(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_unshare, (long)CLONE_NEWUSER);
}

static long
try_chroot(struct fixture *fx)
{
	(void)fx;
	return syscall(SYS_chroot, "..");
}

static long
try_mmap_exec(struct fixture *fx)
{
	void	*p;

	(void)fx;
	p = (void *)syscall(SYS_mmap, NULL, 4096L, (long)(PROT_READ |
	    PROT_EXEC), (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
	return p == MAP_FAILED ? -1 : 0;
}

#define A(what, call, spare)	{ what, SYS_##call, spare, try_##call }

static const struct attempt attempts[] = {
	/* the configuration and keys: by any path, no file at all */
#ifdef SYS_open
	{ "open(2) of the configuration file (outside ChrootDir)", SYS_open,
	    0, try_open_cfg },
#endif
	{ "openat(2) of the configuration file (outside ChrootDir)",
	    SYS_openat, 0, try_openat_cfg },
	{ "openat(2) of a root 0600 key inside ChrootDir", SYS_openat, 0,
	    try_openat_key },
#ifdef SYS_openat2
	{ "openat2(2) of a root 0600 key inside ChrootDir", SYS_openat2, 0,
	    try_openat2_key },
#endif
	/* sockets of a family or kind no child uses */
	{ "socket(AF_NETLINK)", SYS_socket, 0, try_netlink },
	{ "socket(AF_PACKET)", SYS_socket, 0, try_packet },
	{ "socket(AF_UNIX, SOCK_STREAM) (no child connects to a path)",
	    SYS_socket, 0, try_unix_stream },
	{ "socket(AF_UNIX, SOCK_DGRAM) (no syslog socket)", SYS_socket, 0,
	    try_unix_dgram },
	{ "socket(AF_INET, SOCK_RAW)", SYS_socket, 0, try_raw },
	{ "socket(AF_INET, SOCK_STREAM)", SYS_socket, MAY_INET, try_tcp },
	{ "socket(AF_INET6, SOCK_STREAM)", SYS_socket, MAY_INET, try_tcp6 },
	{ "socket(AF_INET, SOCK_DGRAM)", SYS_socket, MAY_DNS, try_udp },
	{ "socket(AF_INET6, SOCK_DGRAM)", SYS_socket, MAY_DNS, try_udp6 },
	{ "connect(2) of a TCP socket it holds", SYS_connect,
	    MAY_INET | MAY_DNS, try_connect },
	{ "accept4(2) on a listening socket it holds", SYS_accept4,
	    MAY_INET | MAY_ACCEPT, try_accept },
	A("bind(2) (no child binds)", bind, 0),
	A("listen(2)", listen, 0),
	A("sendto(2) of a datagram", sendto, MAY_DNS),
	A("socketpair(2)", socketpair, MAY_UNIX),
	A("splice(2)", splice, MAY_SPLICE),
	/* other programs, other processes */
	A("execve(2) of /bin/sh", execve, 0),
	A("execveat(2) of /bin/sh", execveat, 0),
	A("clone(2) (fork)", clone, 0),
#ifdef SYS_clone3
	A("clone3(2)", clone3, 0),
#endif
	{ "ptrace(PTRACE_ATTACH) of the parent", SYS_ptrace, 0, try_ptrace },
	{ "process_vm_readv(2) of the parent's memory", SYS_process_vm_readv,
	    0, try_vm_readv },
	{ "kill(2) of the parent", SYS_kill, 0, try_kill },
	{ "tgkill(2) of the parent", SYS_tgkill, 0, try_tgkill },
	{ "tkill(2) of the parent", SYS_tkill, 0, try_tkill },
#ifdef SYS_pidfd_open
	{ "pidfd_open(2) of the parent", SYS_pidfd_open, 0, try_pidfd_open },
#endif
	/* privileges back */
	A("setuid(0)", setuid, 0),
	A("setresuid(0, 0, 0)", setresuid, 0),
	A("setgid(0)", setgid, 0),
	A("setgroups(2) to root's group", setgroups, 0),
	A("capset(2) raising CAP_NET_BIND_SERVICE", capset, 0),
	{ "prctl(PR_SET_DUMPABLE, 1)", SYS_prctl, 0, try_dumpable },
	{ "unshare(CLONE_NEWUSER) (capabilities in a namespace)", SYS_unshare,
	    0, try_unshare },
	{ "chroot(\"..\")", SYS_chroot, 0, try_chroot },
	{ "mmap(2) of executable memory", SYS_mmap, 0, try_mmap_exec },
};

static int
child_attempt(const void *arg, struct fixture *fx)
{
	const struct attempt	*a = arg;

	return a->call(fx) == -1 ? 2 : 3;
}

static void
test_attempts(const struct kind *k)
{
	const struct attempt	*a;
	struct outcome		 o;
	size_t			 i;
	int			 ok;

	for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		a = &attempts[i];
		if (k->may & a->spare)
			continue;
		run_in(k, 0, child_attempt, a, &o);
		ok = o.ready && o.status != -1 && WIFSIGNALED(o.status) &&
		    WTERMSIG(o.status) == SIGSYS;
		if (HAVE_EXIT_NR)
			ok = ok && o.nr == a->nr;
		if (!tap_ok(ok, "%s: %s is killed by seccomp (SIGSYS%s)",
		    k->name, a->what, HAVE_EXIT_NR ? " at that call" : "")) {
			describe(&o);
			if (HAVE_EXIT_NR)
				tap_diag("want system call %ld", a->nr);
		}
	}
}

/* What the kinds need, one or two calls per promise. */

static void
timer_fired(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	*(int *)arg = 1;
}

static int
may_stdio(const void *arg, struct fixture *fx)
{
	struct event_base	*base;
	struct event		*ev;
	struct timeval		 tv = { 0, 1000 };
	struct timespec		 ts;
	unsigned char		 rnd[16];
	char			*big, *bigger;
	int			 n, fired = 0;

	(void)arg;
	if ((big = malloc(8 << 20)) == NULL)
		return 10;
	memset(big, 'x', 8 << 20);
	if ((bigger = realloc(big, 16 << 20)) == NULL) {
		free(big);
		return 11;
	}
	free(bigger);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 12;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 13;
	if (write(fx->pipe[1], "x", 1) != 1 ||
	    ioctl(fx->pipe[0], FIONREAD, &n) == -1 || n != 1)
		return 14;
	if ((base = event_base_new()) == NULL)
		return 15;
	if ((ev = evtimer_new(base, timer_fired, &fired)) == NULL ||
	    evtimer_add(ev, &tv) == -1 || event_base_dispatch(base) == -1 ||
	    !fired)
		return 16;
	event_free(ev);
	event_base_free(base);
	return 0;
}

/* mmp-tlsd's certificates and keys: memfds from the parent. */
static int
may_memfd(const void *arg, struct fixture *fx)
{
	struct stat	sb;
	char		buf[4];

	(void)arg;
	if (fstat(fx->memfd, &sb) == -1 || sb.st_size != 4)
		return 10;
	if (pread(fx->memfd, buf, sizeof(buf), 0) != 4 ||
	    memcmp(buf, "PEM!", 4) != 0)
		return 11;
	return 0;
}

/* imsg: a descriptor over the channel; a given-up channel shut down. */
static int
may_fdpass(const void *arg, struct fixture *fx)
{
	struct linger	l = { 1, 0 };
	char		c;
	int		fd;

	(void)arg;
	if (send_fd(fx->sv[0], fx->pipe[1]) == -1)
		return 10;
	if ((fd = recv_fd(fx->sv[1])) == -1)
		return 11;
	if (write(fd, "z", 1) != 1 || read(fx->pipe[0], &c, 1) != 1 ||
	    c != 'z')
		return 12;
	if (setsockopt(fx->sv[0], SOL_SOCKET, SO_LINGER, &l,
	    sizeof(l)) == -1 || shutdown(fx->sv[1], SHUT_RDWR) == -1)
		return 13;
	return 0;
}

static int
may_inet(const void *arg, struct fixture *fx)
{
	struct pollfd	pfd;
	socklen_t	len;
	int		s, a, one = 1, err = -1;

	(void)arg;
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return 10;
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		return 11;
	if (connect(s, (struct sockaddr *)&fx->tcpaddr,
	    sizeof(fx->tcpaddr)) == -1 && errno != EINPROGRESS)
		return 12;
	pfd.fd = s;
	pfd.events = POLLOUT;
	len = sizeof(err);
	if (poll(&pfd, 1, 5000) != 1 ||
	    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
		return 13;
	if ((a = accept4(fx->listener, NULL, NULL, SOCK_NONBLOCK)) == -1)
		return 14;
	close(a);
	close(s);
	return 0;
}

static int
may_accept(const void *arg, struct fixture *fx)
{
	char	c;
	int	a;

	(void)arg;
	if ((a = accept4(fx->listener, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return 10;
	if (write(a, "a", 1) != 1 || read(fx->client, &c, 1) != 1 || c != 'a')
		return 11;
	close(a);
	return 0;
}

/* A c-ares query: protocol 0, connect, send; the answer read. */
static int
may_dns(const void *arg, struct fixture *fx)
{
	struct pollfd	pfd;
	char		c;
	int		s;

	(void)arg;
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
		return 10;
	if (connect(s, (struct sockaddr *)&fx->udpaddr,
	    sizeof(fx->udpaddr)) == -1)
		return 11;
	if (sendto(s, "q", 1, MSG_NOSIGNAL, NULL, 0) != 1)
		return 12;
	pfd.fd = fx->udp;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 ||
	    recvfrom(fx->udp, &c, 1, 0, NULL, NULL) != 1 || c != 'q')
		return 13;
	close(s);
	return 0;
}

static int
may_unix(const void *arg, struct fixture *fx)
{
	char	c;
	int	sv[2];

	(void)arg;
	(void)fx;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		return 10;
	if (write(sv[0], "u", 1) != 1 || read(sv[1], &c, 1) != 1 || c != 'u')
		return 11;
	return 0;
}

static int
may_splice(const void *arg, struct fixture *fx)
{
	char	c;
	int	p[2];

	(void)arg;
	if (pipe2(p, O_CLOEXEC) == -1)
		return 10;
	if (write(fx->pipe[1], "s", 1) != 1 ||
	    splice(fx->pipe[0], NULL, p[1], NULL, 1, 0) != 1 ||
	    read(p[0], &c, 1) != 1 || c != 's')
		return 11;
	return 0;
}

struct allowed {
	const char	*what;
	unsigned int	 need;		/* 0: every kind */
	child_fn	 fn;
};

static const struct allowed alloweds[] = {
	{ "stdio: malloc, getrandom, clock, FIONREAD, a libevent timer", 0,
	    may_stdio },
	{ "stdio: fstat and pread of a memfd (certificates, keys)", 0,
	    may_memfd },
	{ "recvfd sendfd: a descriptor over an imsg socketpair, SO_LINGER, "
	    "shutdown", 0, may_fdpass },
	{ "inet: TCP socket, TCP_NODELAY, connect, SO_ERROR, accept4",
	    MAY_INET, may_inet },
	{ "accept: accept4 of a waiting client", MAY_ACCEPT, may_accept },
	{ "dns: UDP socket, connect, sendto, recvfrom", MAY_DNS, may_dns },
	{ "unix: socketpair", MAY_UNIX, may_unix },
	{ "splice: splice through a pipe", MAY_SPLICE, may_splice },
};

static void
test_allowed(const struct kind *k)
{
	const struct allowed	*al;
	struct outcome		 o;
	size_t			 i;

	for (i = 0; i < sizeof(alloweds) / sizeof(alloweds[0]); i++) {
		al = &alloweds[i];
		if ((k->may & al->need) != al->need)
			continue;
		run_in(k, 0, al->fn, NULL, &o);
		if (!tap_ok(o.ready && o.status != -1 && WIFEXITED(o.status) &&
		    WEXITSTATUS(o.status) == 0, "%s: %s still work", k->name,
		    al->what))
			describe(&o);
	}
}

/*
 * The first wall alone (ChrootDir, the user): the files outside are not
 * there, the one inside is there but not readable.
 */
static int
drop_files(const void *arg, struct fixture *fx)
{
	struct stat	sb;
	char		path[PATH_MAX];
	int		n;

	(void)arg;
	(void)fx;
	if (open(t.cfg, O_RDONLY) != -1 || errno != ENOENT)
		return 10;
	if (open(t.key, O_RDONLY) != -1 || errno != ENOENT)
		return 11;
	n = snprintf(path, sizeof(path), "../../..%s", t.cfg);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    open(path, O_RDONLY) != -1 || errno != ENOENT)
		return 12;
	if (stat(KEY_IN_ROOT, &sb) == -1)
		return 13;
	if (open(KEY_IN_ROOT, O_RDONLY) != -1 || errno != EACCES)
		return 14;
	return 0;
}

static int
drop_privileges(const void *arg, struct fixture *fx)
{
	gid_t	g = 0;

	(void)arg;
	(void)fx;
	if (setuid(0) != -1 || errno != EPERM)
		return 10;
	if (setresuid(0, 0, 0) != -1 || errno != EPERM)
		return 11;
	if (setgid(0) != -1 || errno != EPERM)
		return 12;
	if (setgroups(1, &g) != -1 || errno != EPERM)
		return 13;
	if (raise_cap() != -1 || errno != EPERM)
		return 14;
	/* no_new_privs is for good */
	if (prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) != -1)
		return 15;
	return 0;
}

static void
test_drop(const struct kind *k)
{
	struct outcome	o;

	run_in(k, 1, drop_files, NULL, &o);
	if (!tap_ok(o.ready && o.status != -1 && WIFEXITED(o.status) &&
	    WEXITSTATUS(o.status) == 0, "%s, ChrootDir and user alone: the "
	    "configuration and key outside are not there (ENOENT), the root "
	    "0600 key inside is not readable (EACCES)", k->name))
		describe(&o);
	run_in(k, 1, drop_privileges, NULL, &o);
	if (!tap_ok(o.ready && o.status != -1 && WIFEXITED(o.status) &&
	    WEXITSTATUS(o.status) == 0, "%s, ChrootDir and user alone: "
	    "setuid(0), setresuid, setgid(0), setgroups, capset fail with "
	    "EPERM; no_new_privs stays", k->name))
		describe(&o);
}

/*
 * A child in the kind's whole sandbox, waiting on a pipe: its pid, 0 if
 * there is none, minus its pid if it did not get through the sandbox.
 */
static pid_t
spawn_waiting(const struct kind *k, int *release)
{
	pid_t	pid;
	char	c;
	int	up[2], down[2];

	if (pipe(up) == -1 || pipe(down) == -1)
		return 0;
	fflush(stdout);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		k->enter(t.conf);
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(10);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	*release = down[1];
	if (read(up[0], &c, 1) != 1) {
		close(up[0]);
		return -pid;
	}
	close(up[0]);
	return pid;
}

static void
test_status(const struct kind *k)
{
	static const char	*nocaps[] = {
		"CapInh", "CapPrm", "CapEff", "CapAmb",
	};
	struct passwd		*pw;
	char			 buf[STATUS_BYTES], val[64], want[64];
	char			 path[64], root[PATH_MAX];
	ssize_t			 n;
	size_t			 i;
	pid_t			 pid;
	int			 release = -1, status = -1;

	if ((pw = getpwnam(conf_str(t.conf, CONF_GLOBAL, k->user))) == NULL) {
		tap_ok(0, "%s: user %s", k->name,
		    conf_str(t.conf, CONF_GLOBAL, k->user));
		return;
	}
	if ((pid = spawn_waiting(k, &release)) <= 0) {
		tap_ok(0, "%s: a child in its sandbox waits", k->name);
		if (pid < 0) {
			waitpid(-pid, &status, 0);
			tap_diag("child status %d", status);
		}
		if (release != -1)
			close(release);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_file(path, buf, sizeof(buf));

	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned int)pw->pw_uid,
	    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_uid,
	    (unsigned int)pw->pw_uid);
	tap_is_str(status_field(buf, "Uid", val, sizeof(val)), want,
	    "%s: Uid is %s's, real, effective, saved and fs", k->name,
	    pw->pw_name);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned int)pw->pw_gid,
	    (unsigned int)pw->pw_gid, (unsigned int)pw->pw_gid,
	    (unsigned int)pw->pw_gid);
	tap_is_str(status_field(buf, "Gid", val, sizeof(val)), want,
	    "%s: Gid is %s's", k->name, pw->pw_name);
	snprintf(want, sizeof(want), "%u", (unsigned int)pw->pw_gid);
	tap_is_str(status_field(buf, "Groups", val, sizeof(val)), want,
	    "%s: no supplementary group but its own", k->name);
	for (i = 0; i < sizeof(nocaps) / sizeof(nocaps[0]); i++)
		tap_is_str(status_field(buf, nocaps[i], val, sizeof(val)),
		    NO_CAPS, "%s: %s empty", k->name, nocaps[i]);
	tap_is_str(status_field(buf, "CapBnd", val, sizeof(val)), t.capbnd,
	    "%s: CapBnd %s", k->name, strcmp(t.capbnd, NO_CAPS) == 0 ?
	    "empty" : "as the parent's (no CAP_SETPCAP to empty it)");
	tap_is_str(status_field(buf, "NoNewPrivs", val, sizeof(val)), "1",
	    "%s: NoNewPrivs 1", k->name);
	tap_is_str(status_field(buf, "Seccomp", val, sizeof(val)), "2",
	    "%s: Seccomp 2 (filter)", k->name);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if ((n = readlink(path, root, sizeof(root) - 1)) == -1)
		n = 0;
	root[n] = '\0';
	tap_is_str(root, t.root, "%s: root directory is ChrootDir", k->name);

	if (write(release, "g", 1) != 1)
		tap_diag("release: %s", strerror(errno));
	close(release);
	if (!tap_ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "%s: the waiting child exits cleanly",
	    k->name))
		tap_diag("status %d", status);
}

/* The install's users, made by the install's script if one is missing. */
static int
users_ready(void)
{
	pid_t	pid;
	size_t	i;
	int	missing = 0, status = -1;

	for (i = 0; i < NKINDS; i++)
		if (getpwnam(conf_str(t.conf, CONF_GLOBAL,
		    kinds[i].user)) == NULL)
			missing = 1;
	if (!missing)
		return 0;
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/* Its lines are not TAP. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl("/bin/sh", "sh", USERS_SH, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		tap_diag("sh %s failed (run from the top of the tree)",
		    USERS_SH);
		return -1;
	}
	for (i = 0; i < NKINDS; i++)
		if (getpwnam(conf_str(t.conf, CONF_GLOBAL,
		    kinds[i].user)) == NULL)
			return -1;
	return 0;
}

static int
put_file(const char *path, const char *text)
{
	size_t	len = strlen(text);
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (fchown(fd, 0, 0) == -1 || fchmod(fd, 0600) == -1 ||
	    write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

#define PATH_OK(n, s)	((n) >= 0 && (size_t)(n) < sizeof(s))

/*
 * base/etc holds the instance's configuration and a key, root 0600;
 * base/empty is ChrootDir, root 0755 like /var/empty, with a root 0600
 * key planted in it.
 */
static int
files_make(void)
{
	char	err[256];

	(void)strlcpy(t.base, "/tmp/mmpd-children.XXXXXX", sizeof(t.base));
	if (mkdtemp(t.base) == NULL)
		return -1;
	if (!PATH_OK(snprintf(t.etc, sizeof(t.etc), "%s/etc", t.base), t.etc) ||
	    !PATH_OK(snprintf(t.cfg, sizeof(t.cfg), "%s/AService.cfg", t.etc),
	    t.cfg) ||
	    !PATH_OK(snprintf(t.key, sizeof(t.key), "%s/server.key", t.etc),
	    t.key) ||
	    !PATH_OK(snprintf(t.root, sizeof(t.root), "%s/empty", t.base),
	    t.root) ||
	    !PATH_OK(snprintf(t.inkey, sizeof(t.inkey), "%s%s", t.root,
	    KEY_IN_ROOT), t.inkey))
		return -1;
	if (mkdir(t.etc, 0700) == -1 || mkdir(t.root, 0755) == -1 ||
	    chmod(t.root, 0755) == -1)
		return -1;
	if (put_file(t.cfg, CFG_TEXT) == -1 ||
	    put_file(t.key, KEY_TEXT) == -1 ||
	    put_file(t.inkey, KEY_TEXT) == -1)
		return -1;
	if ((t.conf = conf_new()) == NULL ||
	    conf_set(t.conf, CONF_GLOBAL, CK_CHROOTDIR, t.root, "children_test",
	    0, err, sizeof(err)) == -1) {
		tap_diag("ChrootDir %s: %s", t.root, err);
		return -1;
	}
	return 0;
}

static void
files_remove(void)
{
	(void)unlink(t.inkey);
	(void)unlink(t.cfg);
	(void)unlink(t.key);
	(void)rmdir(t.root);
	(void)rmdir(t.etc);
	(void)rmdir(t.base);
}

/* Root reads what the children must not: the files are there. */
static void
test_files_there(void)
{
	char	buf[128];

	read_file(t.cfg, buf, sizeof(buf));
	tap_is_str(buf, CFG_TEXT, "the configuration file (root 0600) is "
	    "there and root reads it");
	read_file(t.key, buf, sizeof(buf));
	tap_is_str(buf, KEY_TEXT, "the key beside it (root 0600) too");
	read_file(t.inkey, buf, sizeof(buf));
	tap_is_str(buf, KEY_TEXT, "the key inside ChrootDir (root 0600) too");
}

/*
 * With CAP_SETPCAP the drop empties the bounding set; without it (a
 * service manager's bounding set) the child keeps the parent's.
 */
static int
capbnd_expected(void)
{
	char			 buf[STATUS_BYTES], val[32];
	unsigned long long	 eff;

	if (read_file("/proc/self/status", buf, sizeof(buf)) == -1 ||
	    status_field(buf, "CapEff", val, sizeof(val)) == NULL)
		return -1;
	eff = strtoull(val, NULL, 16);
	if (eff & (1ULL << CAP_SETPCAP))
		(void)strlcpy(t.capbnd, NO_CAPS, sizeof(t.capbnd));
	else if (status_field(buf, "CapBnd", t.capbnd,
	    sizeof(t.capbnd)) == NULL)
		return -1;
	return 0;
}

int
main(void)
{
	struct rlimit	rl;
	size_t		i;

	if (geteuid() != 0) {
		printf("1..0 # SKIP the children's sandboxes change root and "
		    "user: run as root\n");
		return 0;
	}
	/*
	 * The sandboxes as they are in production: killing, even with the
	 * debug switch set, which only a make SANDBOX_DEBUG=1 build reads.
	 */
	if (setenv("MMPD_SANDBOX_DEBUG", "1", 1) == -1)
		tap_diag("setenv: %s", strerror(errno));
	/* No core files of the children seccomp kills. */
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		tap_diag("setrlimit RLIMIT_CORE: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	t.self = getpid();
	umask(022);

	if (!tap_ok(files_make() == 0, "a ChrootDir like /var/empty, a "
	    "configuration and keys in %s", t.base) ||
	    !tap_ok(users_ready() == 0, "the children's users exist "
	    "(%s creates the missing)", USERS_SH) ||
	    !tap_ok(capbnd_expected() == 0, "this process's capabilities "
	    "read")) {
		files_remove();
		conf_free(t.conf);
		return tap_done();
	}
	test_files_there();
	if (!HAVE_EXIT_NR)
		tap_diag("the call a child was killed at cannot be read on "
		    "this architecture: SIGSYS after its sandbox is the "
		    "verdict");
	for (i = 0; i < NKINDS; i++) {
		test_attempts(&kinds[i]);
		test_allowed(&kinds[i]);
		test_drop(&kinds[i]);
		test_status(&kinds[i]);
	}
	files_remove();
	conf_free(t.conf);
	return tap_done();
}
