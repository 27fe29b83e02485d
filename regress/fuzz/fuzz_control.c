/*
 * libFuzzer target for the control request parser (lib/instance.c): the
 * input arrives in chunks cut at every NUL byte (NULs as separators, not
 * data); the word of a complete request must be lower case letters only,
 * within its bounds, and a refused request must stay refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request	 cr;
	const char		*p = (const char *)data, *end, *nul;
	size_t			 i, n;
	int			 r = 0;

	memset(&cr, 0, sizeof(cr));
	end = p + size;
	while (p < end && r == 0) {
		nul = memchr(p, '\0', end - p);
		n = (nul != NULL ? nul : end) - p;
		r = control_request_add(&cr, p, n);
		p += n + (nul != NULL);
	}
	if (cr.len >= sizeof(cr.word))
		abort();
	if (r == 1) {
		if (cr.len == 0 || strlen(cr.word) != cr.len)
			abort();
		for (i = 0; i < cr.len; i++)
			if (cr.word[i] < 'a' || cr.word[i] > 'z')
				abort();
	}
	return 0;
}
