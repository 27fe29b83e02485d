/*
 * BGExcluded lists: the parser for the exclusion file and inline values
 * (strict, with file:line, like the other network lists), and the match
 * of a client address as BadGuy keys it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgexcl.h"

#define BGEXCL_TOKEN_BYTES	128	/* longer than any network text */

/* ::ffff:0:0/96, the prefix of an IPv4 address in a BadGuy key. */
static const uint8_t	bgexcl_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0xff, 0xff };

int
bgexcl_add(struct bgexcl *x, const struct netmask *nm)
{
	struct netmask	*nv;

	if (x->n >= BGEXCL_MAX)
		return -1;
	/* Grown by doubling: a 4096-network file is 13 reallocs. */
	if ((x->n & (x->n - 1)) == 0) {
		if ((nv = reallocarray(x->v, x->n == 0 ? 1 : x->n * 2,
		    sizeof(*nv))) == NULL)
			return -1;
		x->v = nv;
	}
	x->v[x->n++] = *nm;
	return 0;
}

void
bgexcl_free(struct bgexcl *x)
{
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

/* One blank- or comma-separated pair of a line. 0 or -1 with why. */
static int
bgexcl_token(const char *p, size_t len, struct bgexcl *out, char *why,
    size_t whylen)
{
	struct netmask	nm;
	char		tok[BGEXCL_TOKEN_BYTES];

	if (len >= sizeof(tok)) {
		(void)snprintf(why, whylen, "\"%.40s...\" is too long", p);
		return -1;
	}
	memcpy(tok, p, len);
	tok[len] = '\0';
	if (netmask_parse(tok, &nm, why, whylen) == -1)
		return -1;
	if (bgexcl_add(out, &nm) == -1) {
		(void)snprintf(why, whylen, "more than %d networks or out of "
		    "memory", BGEXCL_MAX);
		return -1;
	}
	return 0;
}

/* The pairs of one line (without its newline). 0 or -1 with why. */
static int
bgexcl_line(const char *line, size_t len, struct bgexcl *out, char *why,
    size_t whylen)
{
	const char	*hash;
	size_t		 i = 0, tl;

	if ((hash = memchr(line, '#', len)) != NULL)
		len = (size_t)(hash - line);
	for (;;) {
		while (i < len && strchr(" \t\r,", line[i]) != NULL)
			i++;
		if (i == len)
			return 0;
		for (tl = 0; i + tl < len &&
		    strchr(" \t\r,", line[i + tl]) == NULL; tl++)
			;
		if (bgexcl_token(line + i, tl, out, why, whylen) == -1)
			return -1;
		i += tl;
	}
}

int
bgexcl_parse(const char *text, size_t len, const char *label,
    struct bgexcl *out, char *err, size_t errlen)
{
	const char	*p = text, *nl;
	char		 why[256];
	size_t		 left = len, ll;
	int		 lineno = 0;

	while (left > 0) {
		lineno++;
		nl = memchr(p, '\n', left);
		ll = nl != NULL ? (size_t)(nl - p) : left;
		if (memchr(p, '\0', ll) != NULL) {
			(void)snprintf(err, errlen, "%s:%d: NUL byte", label,
			    lineno);
			return -1;
		}
		if (bgexcl_line(p, ll, out, why, sizeof(why)) == -1) {
			(void)snprintf(err, errlen, "%s:%d: %s", label, lineno,
			    why);
			return -1;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
		left -= ll + 1;
	}
	return 0;
}

int
bgexcl_match(const struct bgexcl *x, const uint8_t key[16])
{
	uint8_t	a[16];
	size_t	i, j;
	int	family = AF_INET6, hit;

	memcpy(a, key, 16);
	if (memcmp(a, bgexcl_mapped, sizeof(bgexcl_mapped)) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		family = AF_INET;
	}
	for (i = 0; i < x->n; i++) {
		if (x->v[i].family != family)
			continue;
		hit = 1;
		for (j = 0; j < 16 && hit; j++)
			hit = (a[j] & x->v[i].mask[j]) == x->v[i].addr[j];
		if (hit)
			return 1;
	}
	return 0;
}

void
bgexcl_text(const struct netmask *nm, char *out, size_t outlen)
{
	char	addr[INET6_ADDRSTRLEN];
	int	i, bits = 0;

	for (i = 0; i < 16; i++)
		bits += __builtin_popcount(nm->mask[i]);
	if (inet_ntop(nm->family, nm->addr, addr, sizeof(addr)) == NULL)
		(void)strlcpy(addr, "?", sizeof(addr));
	(void)snprintf(out, outlen, "%s/%d", addr, bits);
}
