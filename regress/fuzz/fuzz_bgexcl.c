/*
 * libFuzzer target for lib/bgexcl.c: the input is a BGExcluded file.
 * A refusal must say where (label:line); an accepted file must hold at
 * most BGEXCL_MAX networks without host bits, each matching the first
 * address of its own network.
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bgexcl.h"

#define INPUT_MAX	(64 * 1024)

static void
check_nets(const struct bgexcl *x)
{
	uint8_t	key[16];
	size_t	i;
	int	j;

	if (x->n > BGEXCL_MAX)
		abort();
	for (i = 0; i < x->n; i++) {
		for (j = 0; j < 16; j++)
			if (x->v[i].addr[j] & ~x->v[i].mask[j])
				abort();
		memset(key, 0, sizeof(key));
		if (x->v[i].family == AF_INET) {
			key[10] = key[11] = 0xff;
			memcpy(key + 12, x->v[i].addr, 4);
		} else if (x->v[i].family == AF_INET6)
			memcpy(key, x->v[i].addr, 16);
		else
			abort();
		if (!bgexcl_match(x, key))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bgexcl	x;
	char		err[512];

	if (size > INPUT_MAX)
		return 0;
	memset(&x, 0, sizeof(x));
	err[0] = '\0';
	if (bgexcl_parse((const char *)data, size, "f", &x, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "f:", 2) != 0)
			abort();
	} else
		check_nets(&x);
	bgexcl_free(&x);
	return 0;
}
