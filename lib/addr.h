/*
 * Numeric socket addresses: from text to a sockaddr for connect(2), and
 * from a sockaddr to the text that goes into logs and lookups.
 */
#ifndef MMP_ADDR_H
#define MMP_ADDR_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

/* A numeric IPv4 or IPv6 address and a port; -1 if addr is neither. */
int	addr_sockaddr(const char *addr, int port, struct sockaddr_storage *,
	    socklen_t *);
/*
 * "1.2.3.4:143" or "[2001:db8::1]:143"; a v4-mapped v6 address is shown
 * as v4 (a v4 client on a dual-stack listener). "?" for anything else.
 */
void	addr_text(const struct sockaddr_storage *, char *, size_t);

#endif /* MMP_ADDR_H */
