/* Minimal TAP output for the C unit tests: ok lines, then the plan. */
#ifndef MMP_TAP_H
#define MMP_TAP_H

#include <stddef.h>

int	tap_ok(int, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
int	tap_is_int(long long, long long, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
int	tap_is_str(const char *, const char *, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
int	tap_is_mem(const void *, size_t, const void *, size_t, const char *,
	    ...) __attribute__((__format__(printf, 5, 6)));
void	tap_diag(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Prints "1..N" and returns the exit status: 0 if all passed. */
int	tap_done(void);

#endif
