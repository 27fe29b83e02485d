/*
 * Escaping of untrusted strings before they reach an LDAP filter (RFC 4515),
 * a DN (RFC 4514) or a log line. A user name is client input: these are the
 * only ways mmpd puts one into a filter, a DN or a log.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"

static const char	hexdigits[] = "0123456789abcdef";

size_t
utf8_seqlen(const uint8_t *p, size_t left)
{
	size_t	n, i;
	uint8_t	lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	/* The second byte carries the range limits of the first. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Output cursor that counts what fits; o->err once anything did not. */
struct esc_out {
	char	*out;
	size_t	 sz;
	size_t	 len;
	int	 err;
};

static void
esc_put(struct esc_out *o, const char *s, size_t n)
{
	if (o->err || n >= o->sz - o->len) {
		o->err = 1;
		return;
	}
	memcpy(o->out + o->len, s, n);
	o->len += n;
}

static void
esc_hex(struct esc_out *o, uint8_t c)
{
	char	e[3];

	e[0] = '\\';
	e[1] = hexdigits[c >> 4];
	e[2] = hexdigits[c & 0xf];
	esc_put(o, e, sizeof(e));
}

static int
esc_finish(struct esc_out *o)
{
	if (o->err || o->len > INT_MAX) {
		if (o->out != NULL && o->sz > 0)
			o->out[0] = '\0';
		return -1;
	}
	o->out[o->len] = '\0';
	return (int)o->len;
}

static int
esc_start(struct esc_out *o, char *out, size_t outsz)
{
	o->out = out;
	o->sz = outsz;
	o->len = 0;
	o->err = out == NULL || outsz == 0;
	return o->err ? -1 : 0;
}

/*
 * Hex escapes are lower case, as in the examples of RFC 4515. Valid
 * multibyte UTF-8 is copied whole; a stray byte >= 0x80 is escaped alone
 * so the filter stays valid UTF-8 and still matches nothing unexpected.
 */
int
escape_filter_value(const char *in, size_t inlen, char *out, size_t outsz)
{
	const uint8_t	*p = (const uint8_t *)in;
	struct esc_out	 o;
	size_t		 i, n;

	if (esc_start(&o, out, outsz) == -1 || (in == NULL && inlen > 0)) {
		o.err = 1;
		return esc_finish(&o);
	}
	for (i = 0; i < inlen && !o.err; i += n) {
		n = utf8_seqlen(p + i, inlen - i);
		if (n == 0) {
			esc_hex(&o, p[i]);
			n = 1;
		} else if (n > 1)
			esc_put(&o, in + i, n);
		else if (p[i] == '*' || p[i] == '(' || p[i] == ')' ||
		    p[i] == '\\' || p[i] == '\0')
			esc_hex(&o, p[i]);
		else
			esc_put(&o, in + i, 1);
	}
	return esc_finish(&o);
}

/*
 * Besides the characters RFC 4514 section 2.4 requires, control bytes and
 * bytes that are not valid UTF-8 are written as \XX hex pairs (the RFC
 * allows escaping any character): the DN then never carries raw control
 * characters into LDAP requests or logs.
 */
int
escape_dn_value(const char *in, size_t inlen, char *out, size_t outsz)
{
	const uint8_t	*p = (const uint8_t *)in;
	struct esc_out	 o;
	size_t		 i, n;
	char		 e[2];

	if (esc_start(&o, out, outsz) == -1 || (in == NULL && inlen > 0)) {
		o.err = 1;
		return esc_finish(&o);
	}
	for (i = 0; i < inlen && !o.err; i += n) {
		n = utf8_seqlen(p + i, inlen - i);
		if (n == 0) {
			esc_hex(&o, p[i]);
			n = 1;
		} else if (n > 1)
			esc_put(&o, in + i, n);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			esc_hex(&o, p[i]);
		else if (strchr(",+\"\\<>;=", p[i]) != NULL ||
		    (i == 0 && (p[i] == '#' || p[i] == ' ')) ||
		    (i == inlen - 1 && p[i] == ' ')) {
			e[0] = '\\';
			e[1] = (char)p[i];
			esc_put(&o, e, sizeof(e));
		} else
			esc_put(&o, in + i, 1);
	}
	return esc_finish(&o);
}

/* The escaped form of one byte for a log line; returns its length. */
static size_t
log_escape_byte(uint8_t c, char e[4])
{
	switch (c) {
	case '\\':
		e[0] = '\\';
		e[1] = '\\';
		return 2;
	case '\r':
		e[0] = '\\';
		e[1] = 'r';
		return 2;
	case '\n':
		e[0] = '\\';
		e[1] = 'n';
		return 2;
	case '\t':
		e[0] = '\\';
		e[1] = 't';
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hexdigits[c >> 4];
	e[3] = hexdigits[c & 0xf];
	return 4;
}

/*
 * When everything does not fit, whole escapes are kept up to the room for
 * "..." and the terminator: a cut never leaves half an escape, which a
 * reader could take for a different byte.
 */
char *
escape_log(const char *in, size_t inlen, char *out, size_t outsz)
{
	const uint8_t	*p = (const uint8_t *)in;
	size_t		 i, n, total = 0, len = 0, keep;
	char		 e[4];

	if (out == NULL || outsz == 0)
		return out;
	if (in == NULL)
		inlen = 0;
	for (i = 0; i < inlen && total < outsz; i++)
		total += log_escape_byte(p[i], e);
	if (total < outsz) {
		for (i = 0; i < inlen; i++) {
			n = log_escape_byte(p[i], e);
			memcpy(out + len, e, n);
			len += n;
		}
		out[len] = '\0';
		return out;
	}
	keep = outsz > 4 ? outsz - 4 : 0;
	for (i = 0; i < inlen; i++) {
		n = log_escape_byte(p[i], e);
		if (n > keep - len)
			break;
		memcpy(out + len, e, n);
		len += n;
	}
	for (n = 0; n < 3 && len < outsz - 1; n++)
		out[len++] = '.';
	out[len] = '\0';
	return out;
}

int
hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
