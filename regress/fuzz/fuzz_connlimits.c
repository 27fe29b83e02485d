/*
 * libFuzzer target for lib/connlimits.c: the input is a ConnLimits value
 * followed, after its first NUL, by 16 bytes of a client address. An
 * accepted realm has no bits outside its mask and a number in range; the
 * realm a match picks holds the address and no matching realm has a
 * longer mask.
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connlimits.h"

#define INPUT_MAX	8192

static int
in_realm(const struct connlimit *c, const uint8_t addr[16])
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	uint8_t			a[16];
	int			j, v4 = memcmp(addr, mapped, 12) == 0;

	memcpy(a, addr, 16);
	if (v4) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
	}
	if (c->bits != 0 && (c->net.family == AF_INET) != v4)
		return 0;
	for (j = 0; j < 16; j++)
		if ((a[j] & c->net.mask[j]) != c->net.addr[j])
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct connlimit	 v[CONNLIMITS_MAX];
	uint8_t			 addr[16];
	char			*text, why[256];
	size_t			 n;
	int			 r, i, j, best;

	if (size > INPUT_MAX)
		return 0;
	if ((text = calloc(1, size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	n = strlen(text);
	memset(addr, 0, sizeof(addr));
	if (n + 1 < size)
		memcpy(addr, data + n + 1, size - n - 1 < 16 ? size - n - 1 :
		    16);
	why[0] = '\0';
	r = connlimits_parse(text, v, CONNLIMITS_MAX, why, sizeof(why));
	if (r > CONNLIMITS_MAX || r == 0 || (r == -1 && why[0] == '\0'))
		abort();
	for (i = 0; i < r; i++) {
		if (v[i].max > CONNLIMIT_NUM_MAX || v[i].bits < 0 ||
		    v[i].bits > 128)
			abort();
		for (j = 0; j < 16; j++)
			if (v[i].net.addr[j] & ~v[i].net.mask[j])
				abort();
	}
	if (r > 0) {
		best = connlimits_match(v, (size_t)r, addr);
		if (best >= r || (best >= 0 && !in_realm(&v[best], addr)))
			abort();
		for (i = 0; i < r; i++)
			if (in_realm(&v[i], addr) && (best == -1 ||
			    v[i].bits > v[best].bits))
				abort();
	}
	free(text);
	return 0;
}
