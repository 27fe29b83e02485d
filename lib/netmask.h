/*
 * Networks of IPv4 and IPv6 addresses, written "ADDR/PREFIX", the
 * product's "ADDR|MASK", or one address: parsing lists of them from the
 * configuration and matching numeric addresses against such a list.
 */
#ifndef MMP_NETMASK_H
#define MMP_NETMASK_H

#include <stddef.h>
#include <stdint.h>

#define NETLIST_MAX	64		/* networks in one list */

struct netmask {
	int	family;			/* AF_INET or AF_INET6 */
	uint8_t	addr[16];		/* network bits only */
	uint8_t	mask[16];
};

/*
 * One network. Refused (-1, reason in why): not an address, a prefix out
 * of range, a mask that is not contiguous, host bits set in the address
 * (10.1.2.3/8 is a typo for 10.0.0.0/8 or for 10.1.2.3/32).
 */
int	netmask_parse(const char *, struct netmask *, char *why,
	    size_t whylen);
/*
 * The next word of a blank- or comma-separated list: 1 with *pp's word
 * copied NUL-terminated into tok and *pp past it, 0 at the list's end, or
 * -1 with why when the word does not fit in toksz bytes or would be the
 * list's (max + 1)th (n words read so far; what names a word: "realm").
 */
int	netlist_word(const char **pp, char *tok, size_t toksz, size_t n,
	    size_t max, const char *what, char *why, size_t whylen);
/* Blank- or comma-separated networks, at most max: count or -1. */
int	netlist_parse(const char *, struct netmask *, size_t max, char *why,
	    size_t whylen);
/*
 * Is the numeric address addr in one of the n networks? An IPv4-mapped
 * IPv6 address matches as the IPv4 address it is. 0 for no or not an
 * address.
 */
int	netlist_match(const struct netmask *, size_t n, const char *addr);

#endif /* MMP_NETMASK_H */
