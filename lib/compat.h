/*
 * What OpenBSD has and glibc and libbsd lack, one file each in
 * lib/compat/, so the rest of mmpd reads as if written for one system.
 */
#ifndef MMP_COMPAT_H
#define MMP_COMPAT_H

#include <stddef.h>

int	timingsafe_bcmp(const void *, const void *, size_t);

#endif /* MMP_COMPAT_H */
