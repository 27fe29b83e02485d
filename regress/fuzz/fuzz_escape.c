/*
 * libFuzzer target for lib/escape.c: filter and DN escapes must unescape
 * back to the input and leave no special character bare; the exact output
 * size must fit and one byte less must not; log lines hold only printable
 * ASCII and are cut only at escape boundaries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#define IN_MAX_BYTES	4096
#define OUT_MAX_BYTES	(4 * IN_MAX_BYTES + 1)

/* Undo \XX (and \c when dn); abort on a bare special character. */
static size_t
unescape(const char *s, size_t len, uint8_t *out, int dn, int *lastesc)
{
	size_t	i, n = 0;
	int	hi, lo;

	*lastesc = 0;
	for (i = 0; i < len; i++) {
		if (s[i] != '\\') {
			if ((!dn && strchr("*()", s[i]) != NULL) ||
			    (dn && strchr(",+\"<>;=", s[i]) != NULL) ||
			    s[i] == '\0' || (dn && i == 0 &&
			    (s[i] == '#' || s[i] == ' ')))
				abort();
			out[n++] = (uint8_t)s[i];
			*lastesc = 0;
			continue;
		}
		if (i + 1 >= len)
			abort();
		hi = hex_digit_value(s[i + 1]);
		if (hi >= 0) {
			if (i + 2 >= len || (lo = hex_digit_value(s[i + 2])) < 0)
				abort();
			out[n++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (dn && strchr(",+\"\\<>;=# ", s[i + 1]) != NULL) {
			out[n++] = (uint8_t)s[i + 1];
			i++;
		} else
			abort();
		*lastesc = 1;
	}
	return n;
}

typedef int	(*esc_fn)(const char *, size_t, char *, size_t);

static void
check_escape(esc_fn fn, int dn, const uint8_t *in, size_t len)
{
	static char	out[OUT_MAX_BYTES], small[OUT_MAX_BYTES];
	static uint8_t	back[OUT_MAX_BYTES];
	size_t		n;
	int		r, lastesc;

	r = fn((const char *)in, len, out, sizeof(out));
	if (r < 0 || (size_t)r != strlen(out) || (size_t)r < len)
		abort();
	n = unescape(out, (size_t)r, back, dn, &lastesc);
	if (n != len || memcmp(back, in, len) != 0)
		abort();
	if (dn && len > 0 && in[len - 1] == ' ' && !lastesc)
		abort();
	if (fn((const char *)in, len, small, (size_t)r + 1) != r ||
	    memcmp(small, out, (size_t)r + 1) != 0)
		abort();
	if (fn((const char *)in, len, small, (size_t)r) != -1)
		abort();
}

static void
check_log(const uint8_t *in, size_t len, size_t outsz)
{
	static char	full[OUT_MAX_BYTES], cut[OUT_MAX_BYTES];
	char		one[8];
	size_t		flen, clen, i, pos, limit, dots;

	if (escape_log((const char *)in, len, full, sizeof(full)) != full)
		abort();
	flen = strlen(full);
	for (i = 0; i < flen; i++)
		if (full[i] < 0x20 || full[i] > 0x7e)
			abort();
	if (flen > 4 * len)
		abort();
	memset(cut, 'Z', outsz + 1);
	escape_log((const char *)in, len, cut, outsz);
	if (cut[outsz] != 'Z')
		abort();
	clen = strnlen(cut, outsz);
	if (clen >= outsz)
		abort();
	if (flen < outsz) {
		if (strcmp(cut, full) != 0)
			abort();
		return;
	}
	/*
	 * Cut: the escapes of the longest input prefix that leaves room for
	 * "...", whole, then as many dots as fit.
	 */
	limit = outsz > 4 ? outsz - 4 : 0;
	for (i = 0, pos = 0; i < len; i++) {
		escape_log((const char *)in + i, 1, one, sizeof(one));
		if (pos + strlen(one) > limit)
			break;
		pos += strlen(one);
	}
	dots = outsz - 1 - pos < 3 ? outsz - 1 - pos : 3;
	if (clen != pos + dots || strncmp(cut, full, pos) != 0 ||
	    strspn(cut + pos, ".") != dots)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	outsz;

	if (size < 1 || size > IN_MAX_BYTES)
		return 0;
	outsz = (size_t)data[0] * 3 + 1;
	data++;
	size--;
	check_escape(escape_filter_value, 0, data, size);
	check_escape(escape_dn_value, 1, data, size);
	check_log(data, size, outsz);
	return 0;
}
