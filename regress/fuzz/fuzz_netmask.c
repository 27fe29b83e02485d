/*
 * libFuzzer target for lib/netmask.c: the input, split at its first NUL
 * into a network list and an address, is parsed and matched; an accepted
 * network must have no bits outside its mask, and a list must match the
 * address of every network it holds.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmask.h"

#define INPUT_MAX	4096

static void
check_nets(const struct netmask *v, int n)
{
	char	text[INET6_ADDRSTRLEN];
	int	i, j;

	for (i = 0; i < n; i++) {
		if (v[i].family != AF_INET && v[i].family != AF_INET6)
			abort();
		for (j = 0; j < 16; j++)
			if (v[i].addr[j] & ~v[i].mask[j])
				abort();
		if (inet_ntop(v[i].family, v[i].addr, text, sizeof(text)) ==
		    NULL || !netlist_match(&v[i], 1, text))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netmask	 v[NETLIST_MAX];
	char		*list, *addr, why[256];
	size_t		 n;
	int		 r;

	if (size > INPUT_MAX)
		return 0;
	if ((list = calloc(1, size + 2)) == NULL)
		return 0;
	memcpy(list, data, size);
	n = strlen(list);
	addr = list + n + (n < size ? 1 : 0);
	r = netlist_parse(list, v, NETLIST_MAX, why, sizeof(why));
	if (r > NETLIST_MAX || (r == -1 && why[0] == '\0'))
		abort();
	if (r > 0) {
		check_nets(v, r);
		(void)netlist_match(v, (size_t)r, addr);
	}
	free(list);
	return 0;
}
