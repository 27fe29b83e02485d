/*
 * What OpenBSD has and glibc with libbsd lacks; one file per function in
 * lib/compat/.
 */
#ifndef MMP_COMPAT_H
#define MMP_COMPAT_H

#include <stddef.h>

/* 0 if the n bytes are equal, in a time that depends on n only. */
int	timingsafe_bcmp(const void *, const void *, size_t);

#endif /* MMP_COMPAT_H */
