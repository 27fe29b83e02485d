/*
 * libFuzzer target for lib/proxyproto.c: a header is never longer than
 * its bound nor than the input, a longer input gives the same answer (the
 * parser does not look past the header), and every shorter cut of an
 * accepted header reads as incomplete, as the relay relies on when it
 * consumes an incomplete header's bytes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	h, h2;
	uint8_t			more[PROXY_MAX_BYTES + 8];
	char			why[256];
	size_t			cut;
	int			r;

	if (size > PROXY_MAX_BYTES + 1)
		return 0;
	r = proxy_parse(data, size, &h, why, sizeof(why));
	if (r > PROXY_MAX_BYTES || (size_t)(r > 0 ? r : 0) > size ||
	    (r == -1 && why[0] == '\0'))
		abort();
	if (r <= 0)
		return 0;
	if (h.version != 1 && h.version != 2)
		abort();
	if (!h.local && (h.src.ss_family != h.dst.ss_family ||
	    (h.src.ss_family != AF_INET && h.src.ss_family != AF_INET6)))
		abort();
	memcpy(more, data, r);
	memset(more + r, 0xa5, sizeof(more) - r);
	if (proxy_parse(more, sizeof(more), &h2, why, sizeof(why)) != r ||
	    memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	for (cut = 0; cut < (size_t)r; cut++)
		if (proxy_parse(data, cut, &h2, why, sizeof(why)) != 0)
			abort();
	return 0;
}
