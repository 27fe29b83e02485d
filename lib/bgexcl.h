/*
 * BGExcluded: the client networks BadGuy never penalises (webmail front
 * ends, the operator's own monitors), given inline or in a file of
 * IP|MASK (or IP/PREFIX) pairs that the parent reads and sends on.
 */
#ifndef MMP_BGEXCL_H
#define MMP_BGEXCL_H

#include <stddef.h>
#include <stdint.h>

#include "netmask.h"

#define BGEXCL_MAX		4096	/* networks of one service */
#define BGEXCL_FILE_MAX_BYTES	(256 * 1024)

struct bgexcl {
	struct netmask	*v;
	size_t		 n;
};

/*
 * Networks from text of len bytes (a file's bytes or an inline value):
 * per line, anything from '#' on is a comment; pairs are separated by
 * blanks or commas; blank lines are fine. The networks are appended to
 * out. 0, or -1 with "label:line: reason" in err (out then holds what
 * came before the error; bgexcl_free it).
 */
int	bgexcl_parse(const char *text, size_t len, const char *label,
	    struct bgexcl *out, char *err, size_t errlen);
/* One network more; 0, or -1 at BGEXCL_MAX or without memory. */
int	bgexcl_add(struct bgexcl *, const struct netmask *);
void	bgexcl_free(struct bgexcl *);
/*
 * Is the address in one of the networks? key is 16 bytes as BadGuy keeps
 * addresses: IPv6, IPv4 as v4-mapped IPv6.
 */
int	bgexcl_match(const struct bgexcl *, const uint8_t key[16]);
/* "ADDR/PREFIX" of a network, for the message to the relays. */
void	bgexcl_text(const struct netmask *, char *, size_t);

#endif /* MMP_BGEXCL_H */
