/*
 * The ConnLimits value (lib/connlimits.h): parsed strictly when the
 * configuration is read, so a typo is an error at start and not a realm
 * that silently never matches; matched at every accept.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connlimits.h"

static int
cl_fail(char *why, size_t whylen, const char *fmt, const char *what)
{
	if (why != NULL && whylen > 0)
		(void)snprintf(why, whylen, fmt, what);
	return -1;
}

static int
cl_bits(const uint8_t mask[16])
{
	int	i, bits = 0;

	for (i = 0; i < 128; i++)
		if (mask[i / 8] & (0x80 >> (i % 8)))
			bits++;
	return bits;
}

/* "NUM": decimal digits only, 0 .. CONNLIMIT_NUM_MAX. */
static int
cl_num(const char *s, uint32_t *out)
{
	unsigned long	n = 0;

	if (*s == '\0' || strlen(s) > 7)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (n > CONNLIMIT_NUM_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* One realm "IP|MASK:NUM"; the last colon starts NUM (IPv6 has colons). */
static int
cl_realm(const char *tok, struct connlimit *c, char *why, size_t whylen)
{
	char	 buf[CONNLIMIT_TEXT_BYTES], *colon;

	memset(c, 0, sizeof(*c));
	if (strlcpy(buf, tok, sizeof(buf)) >= sizeof(buf))
		return cl_fail(why, whylen, "realm \"%.60s...\" is too long",
		    tok);
	(void)strlcpy(c->text, tok, sizeof(c->text));
	if ((colon = strrchr(buf, ':')) == NULL)
		return cl_fail(why, whylen, "realm \"%s\" is not IP|MASK:NUM",
		    tok);
	*colon++ = '\0';
	if (cl_num(colon, &c->max) == -1)
		return cl_fail(why, whylen, "realm \"%s\": the number of "
		    "connections is not 0 .. 1000000", tok);
	if (strpbrk(buf, "|/") == NULL)
		return cl_fail(why, whylen, "realm \"%s\" has no mask "
		    "(IP|MASK:NUM)", tok);
	if (netmask_parse(buf, &c->net, why, whylen) == -1)
		return -1;
	c->bits = cl_bits(c->net.mask);
	return 0;
}

int
connlimits_parse(const char *text, struct connlimit *v, size_t max,
    char *why, size_t whylen)
{
	char		 tok[CONNLIMIT_TEXT_BYTES + 1];
	const char	*p = text;
	size_t		 n = 0, i;
	int		 r;

	while ((r = netlist_word(&p, tok, sizeof(tok), n, max, "realm", why,
	    whylen)) == 1) {
		if (cl_realm(tok, &v[n], why, whylen) == -1)
			return -1;
		for (i = 0; i < n; i++)
			if (v[i].net.family == v[n].net.family &&
			    memcmp(v[i].net.addr, v[n].net.addr, 16) == 0 &&
			    memcmp(v[i].net.mask, v[n].net.mask, 16) == 0)
				return cl_fail(why, whylen, "realm \"%s\": its "
				    "network is given twice", tok);
		n++;
	}
	if (r == -1)
		return -1;
	if (n == 0)
		return cl_fail(why, whylen, "%sno realm given (IP|MASK:NUM)",
		    "");
	return (int)n;
}

int
connlimits_match(const struct connlimit *v, size_t n, const uint8_t addr[16])
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	uint8_t			 a[16];
	size_t			 i, j;
	int			 family = AF_INET6, best = -1, hit;

	memcpy(a, addr, 16);
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		family = AF_INET;
	}
	for (i = 0; i < n; i++) {
		if (v[i].bits != 0 && v[i].net.family != family)
			continue;
		hit = 1;
		for (j = 0; j < 16 && hit; j++)
			hit = (a[j] & v[i].net.mask[j]) == v[i].net.addr[j];
		/* Of two catch-alls, the client's own family's. */
		if (hit && (best == -1 || v[i].bits > v[best].bits ||
		    (v[i].bits == v[best].bits && v[i].net.family == family &&
		    v[best].net.family != family)))
			best = (int)i;
	}
	return best;
}
