/*
 * Network lists for the rules on addresses (StoreNetworks today): the
 * parser is strict, because a typo in a list of allowed networks should
 * be an error at start, not an open door.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmask.h"

#define NET_TEXT_BYTES	(INET6_ADDRSTRLEN + 1 + INET6_ADDRSTRLEN)

/* ::ffff:0:0/96, where IPv6 sockets show IPv4 peers. */
static const uint8_t	net_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0xff, 0xff };
static const uint8_t	net_ones[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			    0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int
net_fail(char *why, size_t whylen, const char *fmt, const char *what)
{
	if (why != NULL && whylen > 0)
		(void)snprintf(why, whylen, fmt, what);
	return -1;
}

/* A numeric address into 16 bytes; its family, or -1. */
static int
net_addr(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, out) == 1)
		return AF_INET6;
	return -1;
}

static void
net_prefix_mask(int bits, uint8_t mask[16])
{
	int	i;

	memset(mask, 0, 16);
	for (i = 0; i < bits; i++)
		mask[i / 8] |= 0x80 >> (i % 8);
}

/* A mask from "PREFIX" (decimal only) or "MASK" (an address); 0 or -1. */
static int
net_mask(const char *text, int slash, int family, uint8_t mask[16])
{
	char	*end;
	long	 bits;
	int	 i, maxbits = family == AF_INET ? 32 : 128, seen0 = 0;

	if (slash) {
		if (text[0] < '0' || text[0] > '9' || strlen(text) > 3)
			return -1;
		bits = strtol(text, &end, 10);
		if (*end != '\0' || bits < 0 || bits > maxbits)
			return -1;
		net_prefix_mask((int)bits, mask);
		return 0;
	}
	if (net_addr(text, mask) != family)
		return -1;
	/* Contiguous: ones, then zeros. */
	for (i = 0; i < maxbits; i++) {
		if (mask[i / 8] & (0x80 >> (i % 8))) {
			if (seen0)
				return -1;
		} else
			seen0 = 1;
	}
	return 0;
}

int
netmask_parse(const char *text, struct netmask *nm, char *why,
    size_t whylen)
{
	char	 buf[NET_TEXT_BYTES];
	char	*sep;
	int	 i, slash = 0;

	memset(nm, 0, sizeof(*nm));
	if (strlen(text) >= sizeof(buf))
		return net_fail(why, whylen, "\"%.60s\" is too long", text);
	(void)strlcpy(buf, text, sizeof(buf));
	if ((sep = strpbrk(buf, "/|")) != NULL) {
		slash = *sep == '/';
		*sep++ = '\0';
	}
	if ((nm->family = net_addr(buf, nm->addr)) == -1)
		return net_fail(why, whylen, "\"%s\" is not an IPv4 or IPv6 "
		    "network (ADDR, ADDR/PREFIX or ADDR|MASK)", text);
	if (sep == NULL)
		net_prefix_mask(nm->family == AF_INET ? 32 : 128, nm->mask);
	else if (net_mask(sep, slash, nm->family, nm->mask) == -1)
		return net_fail(why, whylen, slash ? "\"%s\": the prefix "
		    "length is out of range" : "\"%s\": the mask is not an "
		    "address of the same family with contiguous ones", text);
	for (i = 0; i < 16; i++)
		if (nm->addr[i] & ~nm->mask[i])
			return net_fail(why, whylen, "\"%s\" has host bits set "
			    "beyond its mask", text);
	/* Mapped addresses are matched as IPv4: such a network never would. */
	if (nm->family == AF_INET6 && memcmp(nm->addr, net_mapped,
	    sizeof(net_mapped)) == 0 && memcmp(nm->mask, net_ones,
	    sizeof(net_ones)) == 0)
		return net_fail(why, whylen, "\"%s\" is IPv4-mapped: write it "
		    "as IPv4", text);
	return 0;
}

int
netlist_word(const char **pp, char *tok, size_t toksz, size_t n, size_t max,
    const char *what, char *why, size_t whylen)
{
	const char	*p = *pp + strspn(*pp, " \t,");
	size_t		 len;

	*pp = p;
	if (*p == '\0')
		return 0;
	len = strcspn(p, " \t,");
	if (len >= toksz) {
		if (why != NULL && whylen > 0)
			(void)snprintf(why, whylen, "%s \"%.60s...\" is too "
			    "long", what, p);
		return -1;
	}
	if (n == max) {
		if (why != NULL && whylen > 0)
			(void)snprintf(why, whylen, "more than %zu %ss", max,
			    what);
		return -1;
	}
	memcpy(tok, p, len);
	tok[len] = '\0';
	*pp = p + len;
	return 1;
}

int
netlist_parse(const char *text, struct netmask *v, size_t max, char *why,
    size_t whylen)
{
	char		 tok[NET_TEXT_BYTES + 1];
	const char	*p = text;
	size_t		 n = 0;
	int		 r;

	while ((r = netlist_word(&p, tok, sizeof(tok), n, max, "network", why,
	    whylen)) == 1) {
		if (netmask_parse(tok, &v[n], why, whylen) == -1)
			return -1;
		n++;
	}
	if (r == -1)
		return -1;
	if (n == 0)
		return net_fail(why, whylen, "no network given%s", "");
	return (int)n;
}

int
netlist_match(const struct netmask *v, size_t n, const char *text)
{
	uint8_t			 a[16];
	size_t			 i, j;
	int			 family, hit;

	if ((family = net_addr(text, a)) == -1)
		return 0;
	if (family == AF_INET6 && memcmp(a, net_mapped,
	    sizeof(net_mapped)) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		family = AF_INET;
	}
	for (i = 0; i < n; i++) {
		if (v[i].family != family)
			continue;
		hit = 1;
		for (j = 0; j < 16 && hit; j++)
			hit = (a[j] & v[i].mask[j]) == v[i].addr[j];
		if (hit)
			return 1;
	}
	return 0;
}
