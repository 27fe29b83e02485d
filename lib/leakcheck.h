/*
 * The leak-check build (make leakcheck, compiled with -DMMP_LEAKCHECK):
 * LeakSanitizer checks every process at its exit, which it cannot do in
 * the sandbox, so lib/sandbox.c leaves the sandbox off. Such a binary is a
 * test program: it refuses to start unless the environment says it runs
 * under the test suite, and etc/install.sh refuses to install it. In any
 * other build leakcheck_start() does nothing.
 */
#ifndef MMP_LEAKCHECK_H
#define MMP_LEAKCHECK_H

/* The environment variable that must be "1" for a leak-check binary. */
#define LEAKCHECK_ENV		"MMPD_LEAKCHECK"
/*
 * Where each process, once LeakSanitizer found no leak at its exit,
 * leaves the file checked.PID (its program name inside): the tests'
 * proof that the check ran, since a process that leaves by _exit() or a
 * signal is never checked and writes no report either.
 */
#define LEAKCHECK_DIR_ENV	"MMPD_LEAKCHECK_DIR"

/*
 * First thing in main() of each daemon (mmpd and, through it, the relays
 * and the statistics process; mmp-ldapd; mmp-tlsd). A leak-check binary
 * without MMPD_LEAKCHECK=1 says why and exits 1; with it, the leak check
 * is run at exit (before the handlers registered earlier) and marked.
 */
void	leakcheck_start(const char *prog);

#endif /* MMP_LEAKCHECK_H */
