/*
 * Unit tests that play a peer: one sendmsg(2) of some bytes with some
 * descriptors (SCM_RIGHTS), the way a hostile process could send them.
 */
#ifndef MMP_REGRESS_SENDFDS_H
#define MMP_REGRESS_SENDFDS_H

#include <sys/types.h>

#include <stddef.h>

#define SENDFDS_MAX	32	/* descriptors in one call */

/* What sendmsg returned; -1 with EINVAL for more than SENDFDS_MAX fds. */
ssize_t	sendfds(int s, const void *data, size_t n, const int *fds,
	    size_t nfd);

#endif /* MMP_REGRESS_SENDFDS_H */
