/*
 * Confinement of the children: sandbox_drop() changes root and user, then
 * sandbox_pledge() denies all file system access with Landlock and loads a
 * pledge-like seccomp filter that allows only the calls its promises name.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#define PROMISE_STDIO		0x01
#define PROMISE_INET		0x02
#define PROMISE_DNS		0x04
#define PROMISE_UNIX		0x08
#define PROMISE_RECVFD		0x10
#define PROMISE_SENDFD		0x20
#define PROMISE_SPLICE		0x40
#define PROMISE_ACCEPT		0x80

#define PROMISE_WORD_MAX	32	/* longest word quoted in an error */

/* File system rights newer than the kernel headers of Debian 12. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif
#define LANDLOCK_ACCESS_FS_V1		((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)

static const struct {
	const char	*word;
	unsigned int	 bit;
} sandbox_promises[] = {
	{ "stdio",	PROMISE_STDIO },
	{ "inet",	PROMISE_INET },
	{ "dns",	PROMISE_DNS },
	{ "unix",	PROMISE_UNIX },
	{ "recvfd",	PROMISE_RECVFD },
	{ "sendfd",	PROMISE_SENDFD },
	{ "splice",	PROMISE_SPLICE },
	{ "accept",	PROMISE_ACCEPT },
};

/*
 * One allowed call: any promise in promises allows it when every argument
 * condition holds. self: argument 0 must be our own pid, filled in when
 * the filter is built (no fork after sandbox_drop, so it stays true).
 */
struct sandbox_rule {
	unsigned int		 promises;
	int			 nr;
	unsigned int		 ncmp;
	int			 self;
	struct scmp_arg_cmp	 cmp[3];
};

/*
 * Of an int argument the kernel uses the low 32 bits of the register; the
 * caller controls the upper 32. libseccomp compares all 64 (SCMP_CMP_EQ
 * wants the upper half 0), so compare the low half under a mask: the
 * filter judges exactly the value the kernel will act on, and no
 * upper-bits trick (AT_FDCWD not sign-extended) changes the verdict.
 */
#define ARG32_MASK		0xffffffffULL
#define ARG32_EQ(n, v)		{ (n), SCMP_CMP_MASKED_EQ, ARG32_MASK, \
				    (uint32_t)(v) }
/* An int that is not negative: a descriptor, never AT_FDCWD (-100). */
#define ARG32_NOT_NEG(n)	{ (n), SCMP_CMP_MASKED_EQ, 0x80000000ULL, 0 }
/* Socket type without the flags that do not change what it can do. */
#define ARG32_SOCKTYPE(t)	{ 1, SCMP_CMP_MASKED_EQ, ARG32_MASK & \
				    ~(scmp_datum_t)(SOCK_NONBLOCK | \
				    SOCK_CLOEXEC), (t) }
/* A long argument (mmap's prot): the kernel reads all 64 bits. */
#define ARG_BIT_CLEAR(n, b)	{ (n), SCMP_CMP_MASKED_EQ, (b), 0 }

#define RULE(p, call)		{ .promises = (p), .nr = SCMP_SYS(call) }
#define RULE1(p, call, c)	{ .promises = (p), .nr = SCMP_SYS(call), \
				    .ncmp = 1, .cmp = { c } }
#define RULE2(p, call, c, d)	{ .promises = (p), .nr = SCMP_SYS(call), \
				    .ncmp = 2, .cmp = { c, d } }
#define RULE3(p, call, c, d, e)	{ .promises = (p), .nr = SCMP_SYS(call), \
				    .ncmp = 3, .cmp = { c, d, e } }
#define RULE_SELF(p, call)	{ .promises = (p), .nr = SCMP_SYS(call), \
				    .ncmp = 1, .self = 1, \
				    .cmp = { ARG32_EQ(0, 0) } }
/* socket(family, type, protocol) with the flags of type ignored. */
#define RULE_SOCKET(p, family, type, proto) \
	RULE3(p, socket, ARG32_EQ(0, family), ARG32_SOCKTYPE(type), \
	    ARG32_EQ(2, proto))

#define STDIO	PROMISE_STDIO
#define INET	PROMISE_INET
#define DNS	PROMISE_DNS

/*
 * The filter, after libseccomp's architecture check: every call a promise
 * allows, with why it is needed. Everything else is the default action.
 */
static const struct sandbox_rule sandbox_rules[] = {
	/* stdio: its own memory, never executable */
	RULE(STDIO, brk),			/* malloc */
	RULE1(STDIO, mmap, ARG_BIT_CLEAR(2, PROT_EXEC)), /* large mallocs */
	RULE1(STDIO, mprotect, ARG_BIT_CLEAR(2, PROT_EXEC)), /* malloc arenas */
	RULE(STDIO, munmap),			/* free */
	RULE(STDIO, mremap),			/* realloc of large blocks */
	RULE(STDIO, madvise),			/* free trims, MADV_DONTDUMP */

	/* stdio: descriptors it already has */
	RULE(STDIO, read),
	RULE(STDIO, readv),			/* libevent evbuffer_read */
	RULE(STDIO, write),
	RULE(STDIO, writev),			/* libevent, c-ares over TCP */
	RULE(STDIO, close),
	RULE(STDIO, lseek),			/* stdio streams */
	RULE(STDIO, pread64),			/* mmp-tlsd: a memfd's PEM */
	RULE(STDIO, fstat),			/* fstat() of other libcs */
	/*
	 * glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH); stdio
	 * streams size their buffers with it. seccomp cannot read the path,
	 * so only that form passes: a descriptor, never AT_FDCWD, and that
	 * one flag. A relative path would need a directory descriptor and
	 * no child holds one (open is forbidden, the parent closes all but
	 * fds 0-3 before exec, only sockets are passed). An absolute path
	 * ignores the descriptor, but it yields metadata only, and of the
	 * empty chroot directory.
	 */
	RULE2(STDIO, newfstatat, ARG32_NOT_NEG(0), ARG32_EQ(3, AT_EMPTY_PATH)),
	/* non-blocking and close-on-exec: libevent, libldap, c-ares */
	RULE1(STDIO, fcntl, ARG32_EQ(1, F_GETFL)),
	RULE1(STDIO, fcntl, ARG32_EQ(1, F_SETFL)),
	RULE1(STDIO, fcntl, ARG32_EQ(1, F_GETFD)),
	RULE1(STDIO, fcntl, ARG32_EQ(1, F_SETFD)),
	/* libevent sizes reads; any other request reaches driver code */
	RULE1(STDIO, ioctl, ARG32_EQ(1, FIONREAD)),
	/* libevent's signal pipe; splice(2) goes through a pipe */
	RULE(STDIO | PROMISE_SPLICE, pipe2),

	/* stdio: event loop */
	RULE(STDIO, epoll_create1),		/* event_base_new */
	RULE(STDIO, epoll_ctl),
	RULE(STDIO, epoll_wait),		/* libevent on x86_64 */
	RULE(STDIO, epoll_pwait),		/* epoll_wait elsewhere */
	RULE(STDIO, poll),			/* libldap waits with it */
	RULE(STDIO, ppoll),			/* poll where there is no poll */

	/* stdio: time; vDSO mostly, the calls when the clock has none */
	RULE(STDIO, clock_gettime),
	RULE(STDIO, gettimeofday),
	RULE(STDIO, nanosleep),
	RULE(STDIO, clock_nanosleep),		/* sleep() */

	/* stdio: signals of its own */
	RULE(STDIO, rt_sigaction),		/* libevent signal events */
	RULE(STDIO, rt_sigprocmask),		/* abort(), libevent */
	RULE(STDIO, rt_sigreturn),		/* return from a handler */
	RULE(STDIO, sigaltstack),		/* ASan runtime at thread exit */
	RULE(STDIO, restart_syscall),		/* a call a signal interrupted */
	RULE_SELF(STDIO, tgkill),		/* abort() raises SIGABRT */

	/* stdio: who it is, randomness, locks, exit */
	RULE(STDIO, getpid),			/* raise() */
	RULE(STDIO, gettid),			/* raise() */
	RULE(STDIO, getuid),			/* libevent's issetugid */
	RULE(STDIO, geteuid),
	RULE(STDIO, getgid),
	RULE(STDIO, getegid),
	RULE(STDIO, getrandom),			/* arc4random */
	RULE(STDIO, futex),			/* libc locks */
	RULE(STDIO, exit),
	RULE(STDIO, exit_group),

	/*
	 * inet: TCP to LDAP servers and stores, accepting clients. Every
	 * caller passes protocol 0; IPPROTO_TCP names the same protocol.
	 * Any other (SCTP, MPTCP) is kernel code no child needs.
	 */
	RULE_SOCKET(INET, AF_INET, SOCK_STREAM, 0),
	RULE_SOCKET(INET, AF_INET, SOCK_STREAM, IPPROTO_TCP),
	RULE_SOCKET(INET, AF_INET6, SOCK_STREAM, 0),
	RULE_SOCKET(INET, AF_INET6, SOCK_STREAM, IPPROTO_TCP),
	/* c-ares connects its UDP sockets, also to sort answers */
	RULE(INET | DNS, connect),
	RULE(INET, accept4),			/* evconnlistener */
	RULE(INET | DNS, getsockname),		/* c-ares address sorting */
	RULE(INET, getpeername),		/* libldap: connected yet? */
	/*
	 * Socket options by (level, option), only the pairs in use: every
	 * other one is kernel code (filters, devices) no child needs.
	 * libevent sets none here; libldap, handed connected sockets, sets
	 * none (its SO_KEEPALIVE is on its own connect path, never taken).
	 * The result of a non-blocking connect: relay to stores
	 * (backend.c), mmp-ldapd to LDAP servers (lookup.c).
	 */
	RULE2(INET, getsockopt, ARG32_EQ(1, SOL_SOCKET),
	    ARG32_EQ(2, SO_ERROR)),
	/* Nagle off: relay to stores (backend.c), c-ares' TCP fallback */
	RULE2(INET, setsockopt, ARG32_EQ(1, IPPROTO_TCP),
	    ARG32_EQ(2, TCP_NODELAY)),
	RULE(INET, shutdown),

	/*
	 * dns: c-ares over UDP; its TCP fallback needs inet too. Its
	 * queries pass protocol 0; IPPROTO_UDP names the same protocol
	 * (c-ares' address sorting, which mmp-ldapd turns off). No ICMP, no
	 * UDP-Lite. No bind: c-ares binds only to a configured source
	 * address, and mmp-ldapd configures none.
	 */
	RULE_SOCKET(DNS, AF_INET, SOCK_DGRAM, 0),
	RULE_SOCKET(DNS, AF_INET, SOCK_DGRAM, IPPROTO_UDP),
	RULE_SOCKET(DNS, AF_INET6, SOCK_DGRAM, 0),
	RULE_SOCKET(DNS, AF_INET6, SOCK_DGRAM, IPPROTO_UDP),
	RULE(DNS, sendto),
	RULE(DNS, recvfrom),

	/* unix: socketpairs to other processes (mmp-tlsd) */
	RULE1(PROMISE_UNIX, socketpair, ARG32_EQ(0, AF_UNIX)),

	/*
	 * imsg reads and writes with these, descriptors or not; the relay
	 * also peeks at a client's PROXY header with recvmsg (MSG_PEEK,
	 * mmpd/proxy.c) rather than allowing recvfrom for it
	 */
	RULE(PROMISE_RECVFD, recvmsg),
	RULE(PROMISE_SENDFD, sendmsg),
	/*
	 * recvfd: a descriptor a peer sent that nobody takes is closed
	 * abortively, so that a lingering socket cannot hold up its close
	 * (lib/imsg.c); a channel given up on is shut down and read empty.
	 */
	RULE2(PROMISE_RECVFD, setsockopt, ARG32_EQ(1, SOL_SOCKET),
	    ARG32_EQ(2, SO_LINGER)),
	RULE(PROMISE_RECVFD, shutdown),

	/* splice: relay through a pipe without copying */
	RULE(PROMISE_SPLICE, splice),

	/*
	 * accept: clients on a socket the parent bound, and nothing else
	 * of inet (no socket, no connect): the statistics process.
	 */
	RULE(PROMISE_ACCEPT, accept4),
};

static void		sandbox_bound_caps(void);
static unsigned int	sandbox_parse(const char *);
static void		sandbox_landlock(void);
#ifdef MMP_SANDBOX_DEBUG
static void		sandbox_sigsys(int, siginfo_t *, void *);
/* etc/install.sh refuses a binary that carries this string. */
static const char	sandbox_debug_build[] =
    "MMP_SANDBOX_DEBUG_BUILD: forbidden calls do not kill, never install";
#endif
static void		sandbox_seccomp(unsigned int, int);
static void		sandbox_verify(uid_t, gid_t);

#ifdef MMP_LEAKCHECK
/*
 * The leak-check build (make leakcheck, lib/leakcheck.h): LeakSanitizer
 * stops the process's threads with ptrace from a helper task it clones
 * and reads /proc/self at exit. Each of these would stop it, so each is
 * left out here, and only here: chroot (no /proc), PR_SET_DUMPABLE 0
 * (no ptrace, /proc/self owned by root), RLIMIT_NPROC 0 (no clone);
 * sandbox_pledge skips Landlock (no /proc) and seccomp (no clone, no
 * ptrace). The user switch stays: it does not stop LeakSanitizer once
 * the process is made dumpable again (a change of uid clears that flag).
 */
static int
sandbox_drop_leakcheck(const char *dir, const char *user)
{
	struct passwd	*pw;
	struct rlimit	 rl;
	int		 changed = 0;

	log_warnx("leak-check build: sandbox off (no chroot to %s, no "
	    "seccomp, no Landlock, may fork, dumpable) so that "
	    "LeakSanitizer can check this process at exit", dir);
	if (geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0)
			fatalx("user \"%s\" missing or root", user);
		sandbox_bound_caps();
		if (setgroups(1, &pw->pw_gid) == -1 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
			fatal("dropping to user %s", user);
		sandbox_verify(pw->pw_uid, pw->pw_gid);
		changed = 1;
	}
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit RLIMIT_CORE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	return changed;
}
#endif /* MMP_LEAKCHECK */

int
sandbox_drop(const char *dir, const char *user)
{
	struct passwd	*pw;
	struct rlimit	 rl;
	uid_t		 uid;
	gid_t		 gid;
	int		 changed = 0;

#ifdef MMP_LEAKCHECK
	return sandbox_drop_leakcheck(dir, user);
#endif
	if (geteuid() == 0) {
		/* Before chroot: the passwd file is not there afterwards. */
		if ((pw = getpwnam(user)) == NULL)
			fatalx("user \"%s\" does not exist; create it (make "
			    "install does) or set RelayUser/LdapUser/TlsUser "
			    "in AService.cfg", user);
		if (pw->pw_uid == 0)
			fatalx("user \"%s\" has uid 0; the children must run "
			    "as an unprivileged user", user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;

		if (chroot(dir) == -1) {
			if (errno == ENOENT || errno == ENOTDIR)
				fatalx("chroot directory \"%s\" does not exist; "
				    "create it (make install does) or set "
				    "ChrootDir in AService.cfg", dir);
			fatal("chroot %s", dir);
		}
		if (chdir("/") == -1)
			fatal("chdir / in %s", dir);
		sandbox_bound_caps();

		if (setgroups(1, &gid) == -1)
			fatal("setgroups %u", (unsigned int)gid);
		if (setresgid(gid, gid, gid) == -1)
			fatal("setresgid %u", (unsigned int)gid);
		if (setresuid(uid, uid, uid) == -1)
			fatal("setresuid %u", (unsigned int)uid);
		sandbox_verify(uid, gid);
		changed = 1;
	} else
		log_warnx("not running as root: staying uid %u without "
		    "chroot to %s instead of user %s",
		    (unsigned int)geteuid(), dir, user);

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit RLIMIT_CORE");
	/* No fork: a child that is taken over cannot spread. */
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("setrlimit RLIMIT_NPROC");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	return changed;
}

/*
 * Empty the capability bounding set while still root, so that nothing the
 * process runs could be given a capability back, even were no_new_privs
 * and the filter's ban on execve gone (a set-user-ID root program, a file
 * with capabilities). Dropping needs CAP_SETPCAP: where the service
 * manager bounds the parent without it (mmpd.service), the set the parent
 * was given stays, and the first drop says so.
 */
static void
sandbox_bound_caps(void)
{
	int	cap;

	/* PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability. */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EPERM && cap == 0) {
			log_debug("sandbox: no CAP_SETPCAP, the capability "
			    "bounding set stays as the parent got it");
			return;
		}
		fatal("prctl PR_CAPBSET_DROP %d", cap);
	}
}

/* A drop that half worked must not go unnoticed. */
static void
sandbox_verify(uid_t uid, gid_t gid)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid, groups[2];

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("getresuid");
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid)
		fatalx("privilege drop to uid %u gid %u did not take",
		    (unsigned int)uid, (unsigned int)gid);
	if (getgroups(2, groups) != 1 || groups[0] != gid)
		fatalx("supplementary groups not dropped");
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("uid 0 can be regained after the drop");
}

int
sandbox_pledge(const char *promises)
{
#ifdef MMP_SANDBOX_DEBUG
	struct sigaction	 sa;
	const char		*env;
#endif
	unsigned int		 set;
	int			 debug;

	set = sandbox_parse(promises);
#ifdef MMP_LEAKCHECK
	/* No Landlock, no seccomp: see sandbox_drop_leakcheck. */
	return 0;
#endif
#ifdef MMP_SANDBOX_DEBUG
	env = getenv("MMPD_SANDBOX_DEBUG");
	debug = env != NULL && strcmp(env, "1") == 0;
#else
	/* An installed binary has no switch that softens its filter. */
	debug = 0;
#endif

	/* Landlock needs it; seccomp_load would set it anyway. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	sandbox_landlock();

#ifdef MMP_SANDBOX_DEBUG
	if (debug) {
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_sigaction = sandbox_sigsys;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSYS, &sa, NULL) == -1)
			fatal("sigaction SIGSYS");
		log_warnx("sandbox debug mode (%s): forbidden calls fail "
		    "with ENOSYS instead of killing the process",
		    sandbox_debug_build);
	}
#endif
	sandbox_seccomp(set, debug);
	return 0;
}

/* Blank-separated words to a promise set; an unknown word is fatal. */
static unsigned int
sandbox_parse(const char *promises)
{
	const char	*p = promises;
	size_t		 len, i, n;
	unsigned int	 set = 0;

	if (p == NULL)
		fatalx("sandbox: no promises");
	n = sizeof(sandbox_promises) / sizeof(sandbox_promises[0]);
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t");
		for (i = 0; i < n; i++)
			if (strlen(sandbox_promises[i].word) == len &&
			    strncmp(sandbox_promises[i].word, p, len) == 0)
				break;
		if (i == n)
			fatalx("sandbox: unknown promise \"%.*s\"",
			    (int)(len > PROMISE_WORD_MAX ? PROMISE_WORD_MAX :
			    len), p);
		set |= sandbox_promises[i].bit;
		p += len;
	}
	return set;
}

/*
 * Handle every file system right and grant none: after start a child
 * opens nothing. Kernels without Landlock still get the seccomp filter.
 */
static void
sandbox_landlock(void)
{
#ifdef SYS_landlock_create_ruleset
	struct landlock_ruleset_attr	 attr;
	long				 abi;
	int				 fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_debug("sandbox: no Landlock: %s", strerror(errno));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_V1;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;

	fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd == -1)
		fatal("landlock_create_ruleset");
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("landlock_restrict_self");
	close(fd);
	log_debug("sandbox: Landlock ABI %ld, no file system access", abi);
#else
	log_debug("sandbox: built without Landlock");
#endif
}

#ifdef MMP_SANDBOX_DEBUG
/*
 * Debug mode: name the forbidden call and make it fail with ENOSYS.
 * Async-signal-safe: the number is formatted by hand, write(2) only.
 */
static void
sandbox_sigsys(int sig, siginfo_t *info, void *ctx)
{
	static const char	 prefix[] =
	    "mmpd sandbox: forbidden system call ";
	char			 msg[sizeof(prefix) + 16], digits[12];
	size_t			 len, n = 0;
	unsigned int		 nr;
	ssize_t			 r;
	int			 saved_errno = errno;

	(void)sig;
	nr = (unsigned int)info->si_syscall;
	do {
		digits[n++] = '0' + nr % 10;
		nr /= 10;
	} while (nr != 0 && n < sizeof(digits));
	len = sizeof(prefix) - 1;
	memcpy(msg, prefix, len);
	while (n > 0)
		msg[len++] = digits[--n];
	msg[len++] = '\n';
	r = write(STDERR_FILENO, msg, len);
	(void)r;

#if defined(__x86_64__)
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	((ucontext_t *)ctx)->uc_mcontext.regs[0] = -ENOSYS;
#else
	(void)ctx;	/* the call returns what the kernel left there */
#endif
	errno = saved_errno;
}
#endif /* MMP_SANDBOX_DEBUG */

static void
sandbox_seccomp(unsigned int set, int debug)
{
	const struct sandbox_rule	*r;
	struct scmp_arg_cmp		 cmp[3];
	scmp_filter_ctx			 ctx;
	size_t				 i, n;
	int				 rc;

	/* seccomp_init puts the native architecture check first. */
	if ((ctx = seccomp_init(debug ? SCMP_ACT_TRAP :
	    SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init failed");
	/* A foreign architecture's calls are an escape, even when debugging. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("seccomp bad architecture action: %s", strerror(-rc));

	n = sizeof(sandbox_rules) / sizeof(sandbox_rules[0]);
	for (i = 0; i < n; i++) {
		r = &sandbox_rules[i];
		if ((r->promises & set) == 0)
			continue;
		memcpy(cmp, r->cmp, sizeof(cmp));
		if (r->self)
			cmp[0].datum_b = (uint32_t)getpid();
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr,
		    r->ncmp, cmp);
		if (rc < 0)
			fatalx("seccomp rule for system call %d: %s", r->nr,
			    strerror(-rc));
	}
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}
