/*
 * The PROXY protocol header a load balancer puts before a client's first
 * byte (HAProxy's proxy-protocol.txt, versions 1 and 2): parsing it, and
 * only it, from the start of what a connection has received so far.
 */
#ifndef MMP_PROXYPROTO_H
#define MMP_PROXYPROTO_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_V1_MAX_BYTES	107	/* the spec's worst case, CRLF included */
#define PROXY_V2_FIXED_BYTES	16	/* signature, version, family, length */
/*
 * Addresses and TLVs of a v2 header: 216 bytes of AF_UNIX addresses and
 * room for the TLVs load balancers send (SSL, unique id, AWS/Azure ids).
 * A header that says it is longer is refused, not read.
 */
#define PROXY_V2_BODY_MAX_BYTES	1024
#define PROXY_MAX_BYTES		(PROXY_V2_FIXED_BYTES + PROXY_V2_BODY_MAX_BYTES)

struct proxy_hdr {
	int			version;	/* 1 or 2 */
	/*
	 * 1: the connection's own addresses stand (v2 LOCAL, a health
	 * check; v2 AF_UNSPEC or AF_UNIX; v1 UNKNOWN); src and dst unset.
	 */
	int			local;
	struct sockaddr_storage	src;		/* the client */
	struct sockaddr_storage	dst;		/* the address it connected to */
};

/*
 * The header at the start of buf (len bytes received so far). Returns its
 * length (> 0; bytes after it are not looked at) and fills h; 0 while it
 * is incomplete (then every byte of buf is part of it: a caller may
 * consume them all and wait for more); -1 when it is not a valid header,
 * with the reason in why. An invalid start is refused at once, without
 * waiting for the rest.
 */
int	proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *h,
	    char *why, size_t whylen);

#endif /* MMP_PROXYPROTO_H */
