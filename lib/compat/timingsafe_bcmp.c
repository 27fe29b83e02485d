/*
 * timingsafe_bcmp(3) as OpenBSD has it: libbsd 0.11 does not. Every byte
 * is read whatever the earlier ones were, so the time tells nothing.
 */
#include <stddef.h>

#include "compat.h"

int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const volatile unsigned char	*p1 = b1, *p2 = b2;
	unsigned char			 diff = 0;

	while (n-- > 0)
		diff |= *p1++ ^ *p2++;
	return diff != 0;
}
