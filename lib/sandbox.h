/*
 * Process confinement for the children: chroot to an empty directory, drop
 * to an unprivileged user, no_new_privs, no forking, no core dumps, then a
 * pledge-like seccomp filter built from promise words. A call outside the
 * promises kills the process (SECCOMP_RET_KILL_PROCESS). For diagnosing
 * a new libc, a build with -DMMP_SANDBOX_DEBUG (make SANDBOX_DEBUG=1, which
 * etc/install.sh refuses to install; the sandbox unit test has its own)
 * has a debug mode: with MMPD_SANDBOX_DEBUG=1 in the environment, the
 * call's number is written to stderr and the call fails with ENOSYS. Any
 * other build ignores the variable.
 */
#ifndef MMP_SANDBOX_H
#define MMP_SANDBOX_H

/*
 * As root: chroot(dir) + chdir("/"), the capability bounding set emptied
 * (when the parent holds CAP_SETPCAP), setgroups(1, gid), setresgid,
 * setresuid to user (fatalx with a clear message if the user or dir is
 * missing). Not root: log_warnx that it stays as it is. Always:
 * PR_SET_DUMPABLE 0, RLIMIT_CORE 0, RLIMIT_NPROC 0, PR_SET_NO_NEW_PRIVS 1.
 * Returns 1 if it changed root and user, 0 if not (not root).
 * The leak-check build (-DMMP_LEAKCHECK, lib/leakcheck.h) changes only the
 * user here and sandbox_pledge does nothing: LeakSanitizer needs the rest.
 */
int	sandbox_drop(const char *dir, const char *user);
/*
 * Install the seccomp filter for these promises (blank-separated):
 *   stdio   memory, time, read/write/close on open fds, pread, fstat of
 *           an fd (no path), ioctl FIONREAD, epoll/poll, signals of its own,
 *           getrandom, futex, fcntl, pipe2, exit
 *   inet    socket(AF_INET/AF_INET6, SOCK_STREAM, TCP), connect, accept4,
 *           getsockname/getpeername, setsockopt TCP_NODELAY, getsockopt
 *           SO_ERROR, shutdown
 *   dns     socket(AF_INET/AF_INET6, SOCK_DGRAM, UDP), sendto, recvfrom;
 *           no bind (c-ares binds only to a configured source address)
 *   unix    socketpair(AF_UNIX)
 *   recvfd  recvmsg (SCM_RIGHTS in); setsockopt SO_LINGER and shutdown
 *           to close unclaimed descriptors and given-up channels abortively
 *   sendfd  sendmsg (SCM_RIGHTS out)
 *   splice  splice(2), pipe2
 *   accept  accept4 on a listening socket it was given (no socket(2))
 * Unknown promise word: fatalx. 0 on success, fatal on failure.
 */
int	sandbox_pledge(const char *promises);

#endif /* MMP_SANDBOX_H */
