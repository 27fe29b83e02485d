/*
 * timingsafe_bcmp(3) of OpenBSD, which glibc and libbsd 0.11 lack: 0 when
 * the buffers are equal, else not 0, in a time that depends on len only.
 */
#include <stddef.h>

#include "compat.h"

int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const volatile unsigned char	*p1 = b1, *p2 = b2;
	unsigned char			 ret = 0;

	for (; n > 0; n--)
		ret |= *p1++ ^ *p2++;
	return ret != 0;
}
