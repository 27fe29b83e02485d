/*
 * The leak-check build's gate and its proof that LeakSanitizer ran: see
 * leakcheck.h. Nothing of it exists in a build without -DMMP_LEAKCHECK.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leakcheck.h"

#ifdef MMP_LEAKCHECK
#include <sanitizer/lsan_interface.h>

/*
 * In the binary for etc/install.sh to find: it refuses a program that
 * holds this string (a leak-check build has no sandbox).
 */
__attribute__((__used__)) static const char leakcheck_build[] =
    "MMP_LEAKCHECK_BUILD: sandbox off, never install";

static char	leakcheck_prog[32];

/*
 * At exit(): LeakSanitizer now (it dies with its report, exit status 23,
 * if it finds a leak; its own check at the very end is then skipped),
 * then the mark. Handlers registered after leakcheck_start (libcrypto's
 * cleanup) have run by now: what they free is no leak of ours.
 */
static void
leakcheck_at_exit(void)
{
	const char	*dir;
	char		 path[PATH_MAX];
	int		 fd;
	ssize_t		 n;

	__lsan_do_leak_check();
	if ((dir = getenv(LEAKCHECK_DIR_ENV)) == NULL || *dir == '\0')
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/checked.%ld", dir,
	    (long)getpid()) >= sizeof(path))
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return;
	n = write(fd, leakcheck_prog, strlen(leakcheck_prog));
	(void)n;
	(void)close(fd);
}

void
leakcheck_start(const char *prog)
{
	const char	*v = getenv(LEAKCHECK_ENV);

	(void)leakcheck_build;
	if (v == NULL || strcmp(v, "1") != 0) {
		fprintf(stderr, "%s: this is a leak-check build (make "
		    "leakcheck): its sandbox is off and it runs only under "
		    "the test suite (%s=1); build and install with plain "
		    "make\n", prog, LEAKCHECK_ENV);
		exit(1);
	}
	(void)strlcpy(leakcheck_prog, prog, sizeof(leakcheck_prog));
	if (atexit(leakcheck_at_exit) != 0) {
		fprintf(stderr, "%s: atexit failed\n", prog);
		exit(1);
	}
}
#else
void
leakcheck_start(const char *prog)
{
	(void)prog;
}
#endif /* MMP_LEAKCHECK */
