/*
 * ConnLimits: "IP|MASK:NUM" realms, comma-separated; a client may hold at
 * most NUM connections to the service, NUM taken from the most specific
 * realm (longest mask) its address is in.
 */
#ifndef MMP_CONNLIMITS_H
#define MMP_CONNLIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "netmask.h"

#define CONNLIMITS_MAX		64	/* realms in one value */
#define CONNLIMIT_NUM_MAX	1000000
#define CONNLIMIT_TEXT_BYTES	128	/* a realm as written, for the log */

struct connlimit {
	struct netmask	net;
	int		bits;		/* mask length: the most wins */
	uint32_t	max;
	char		text[CONNLIMIT_TEXT_BYTES];
};

/*
 * The realms of a value into v (at most max): their count, or -1 with
 * the reason (a realm that is not IP|MASK:NUM or IP/PREFIX:NUM, NUM out
 * of 0..CONNLIMIT_NUM_MAX, one network given twice, none at all).
 */
int	connlimits_parse(const char *, struct connlimit *v, size_t max,
	    char *why, size_t whylen);
/*
 * The realm that rules a client: addr is 16 bytes, IPv4 as v4-mapped
 * IPv6. The longest matching mask; a mask of length 0 (0.0.0.0|0.0.0.0,
 * ::/0) matches every client of either family. -1 when none matches.
 */
int	connlimits_match(const struct connlimit *v, size_t n,
	    const uint8_t addr[16]);

#endif /* MMP_CONNLIMITS_H */
