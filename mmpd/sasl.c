/*
 * SASL PLAIN (RFC 4616) and EXTERNAL (RFC 4422) over strict base64
 * (RFC 4648): decoding what a client sends in AUTHENTICATE / AUTH and
 * encoding the replay to a store.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "crammd5.h"
#include "sasl.h"

/* authzid NUL authcid NUL passwd, each field at most the maximum. */
#define PLAIN_MAX_BYTES		(3 * SASL_FIELD_MAX_BYTES + 2)
#define B64_CHUNK_BYTES		256	/* encoded bytes per buf_add */

static const char	b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode one quantum of 4 characters into 1-3 bytes; padding is allowed
 * only in the last one, and the bits it hides must be zero, so every byte
 * string has exactly one accepted encoding.
 */
static int
b64_quantum(const uint8_t *q, int last, uint8_t o[3])
{
	int	v[4], i, npad = 0;

	if (last && q[3] == '=')
		npad = q[2] == '=' ? 2 : 1;
	for (i = 0; i < 4 - npad; i++)
		if ((v[i] = b64_value(q[i])) == -1)
			return -1;
	for (; i < 4; i++)
		v[i] = 0;
	if ((npad == 2 && (v[1] & 0xf) != 0) ||
	    (npad == 1 && (v[2] & 0x3) != 0))
		return -1;
	o[0] = (uint8_t)(v[0] << 2 | v[1] >> 4);
	o[1] = (uint8_t)((v[1] & 0xf) << 4 | v[2] >> 2);
	o[2] = (uint8_t)((v[2] & 0x3) << 6 | v[3]);
	return 3 - npad;
}

int
base64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outsz)
{
	const uint8_t	*p = (const uint8_t *)in;
	uint8_t		 o[3];
	size_t		 i, len = 0;
	int		 n;

	if (inlen % 4 != 0 || inlen / 4 * 3 > INT_MAX ||
	    (inlen > 0 && (in == NULL || out == NULL)))
		return -1;
	for (i = 0; i < inlen; i += 4) {
		n = b64_quantum(p + i, i + 4 == inlen, o);
		if (n == -1 || (size_t)n > outsz - len) {
			explicit_bzero(o, sizeof(o));
			explicit_bzero(out, len);
			return -1;
		}
		memcpy(out + len, o, (size_t)n);
		len += (size_t)n;
	}
	explicit_bzero(o, sizeof(o));
	return (int)len;
}

/* All or nothing: b is not touched when the encoding does not fit. */
int
base64_encode_buf(struct buf *b, const void *in, size_t inlen)
{
	const uint8_t	*p = in;
	char		 chunk[B64_CHUNK_BYTES];
	size_t		 i, n = 0, need, oldlen = buf_len(b);
	uint32_t	 v;

	if (inlen > (SIZE_MAX - 2) / 4 || (in == NULL && inlen > 0))
		return -1;
	need = (inlen + 2) / 3 * 4;
	if (need > buf_room(b))
		return -1;
	for (i = 0; i < inlen; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < inlen)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < inlen)
			v |= p[i + 2];
		chunk[n++] = b64chars[v >> 18 & 0x3f];
		chunk[n++] = b64chars[v >> 12 & 0x3f];
		chunk[n++] = i + 1 < inlen ? b64chars[v >> 6 & 0x3f] : '=';
		chunk[n++] = i + 2 < inlen ? b64chars[v & 0x3f] : '=';
		if (n == sizeof(chunk) || i + 3 >= inlen) {
			if (buf_add(b, chunk, n) == -1)
				goto fail;
			n = 0;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	return 0;

 fail:
	/* Only ENOMEM gets here; drop the part that was added. */
	explicit_bzero(chunk, sizeof(chunk));
	if (buf_len(b) > oldlen) {
		explicit_bzero(buf_data(b) + oldlen, buf_len(b) - oldlen);
		b->len = oldlen;
	}
	return -1;
}

static int
plain_fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		strlcpy(err, why, errlen);
	return -1;
}

/*
 * Check the decoded message and split it. RFC 4616 wants authcid and
 * passwd non-empty (1*SAFE): an empty password must never reach an LDAP
 * bind, where it would be an unauthenticated bind that "succeeds".
 */
static const char *
plain_split(const uint8_t *m, size_t len, char *authcid, char *passwd)
{
	const uint8_t	*nul1, *nul2;
	size_t		 zlen, clen, plen;

	if (memchr(m, '\r', len) != NULL || memchr(m, '\n', len) != NULL)
		return "CR or LF in credentials";
	if ((nul1 = memchr(m, '\0', len)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', len - (nul1 + 1 - m))) == NULL)
		return "PLAIN needs two NUL separators";
	if (memchr(nul2 + 1, '\0', len - (nul2 + 1 - m)) != NULL)
		return "PLAIN has more than two NUL separators";
	zlen = nul1 - m;
	clen = nul2 - (nul1 + 1);
	plen = len - (nul2 + 1 - m);
	if (zlen > SASL_FIELD_MAX_BYTES || clen > SASL_FIELD_MAX_BYTES ||
	    plen > SASL_FIELD_MAX_BYTES)
		return "PLAIN field too long";
	if (clen == 0)
		return "empty authentication identity";
	if (plen == 0)
		return "empty password";
	if (zlen != 0 && (zlen != clen || memcmp(m, nul1 + 1, clen) != 0))
		return "authorization identity differs from user";
	memcpy(authcid, nul1 + 1, clen);
	authcid[clen] = '\0';
	memcpy(passwd, nul2 + 1, plen);
	passwd[plen] = '\0';
	return NULL;
}

/*
 * m has room for two bytes more than a valid message, so an over-long
 * message decodes and is refused by its field lengths, not as bad base64.
 */
int
sasl_plain_decode(const char *b64, size_t len, char *authcid, char *passwd,
    char *err, size_t errlen)
{
	uint8_t		 m[PLAIN_MAX_BYTES + 2];
	const char	*why;
	int		 n;

	authcid[0] = '\0';
	passwd[0] = '\0';
	if (len > sizeof(m) / 3 * 4)
		return plain_fail(err, errlen, "PLAIN response too long");
	if ((n = base64_decode(b64, len, m, sizeof(m))) == -1)
		return plain_fail(err, errlen, "invalid base64");
	why = plain_split(m, (size_t)n, authcid, passwd);
	explicit_bzero(m, sizeof(m));
	if (why != NULL) {
		explicit_bzero(authcid, SASL_FIELD_MAX_BYTES + 1);
		explicit_bzero(passwd, SASL_FIELD_MAX_BYTES + 1);
		return plain_fail(err, errlen, why);
	}
	return 0;
}

/*
 * The identity goes to a store as the authzid of the StoreAdmin's PLAIN
 * replay, and is compared with the mapped user: nothing a store could
 * cut or split (NUL, CR, LF) may be in it.
 */
int
sasl_external_decode(const char *b64, size_t len, char *authzid,
    size_t size, char *err, size_t errlen)
{
	uint8_t	m[SASL_FIELD_MAX_BYTES + 3];	/* whole quanta of 3 */
	int	n;

	if (size == 0)
		return plain_fail(err, errlen, "no room for the identity");
	authzid[0] = '\0';
	if (len > sizeof(m) / 3 * 4)
		return plain_fail(err, errlen, "EXTERNAL response too long");
	if ((n = base64_decode(b64, len, m, sizeof(m))) == -1)
		return plain_fail(err, errlen, "invalid base64");
	if (memchr(m, '\0', n) != NULL || memchr(m, '\r', n) != NULL ||
	    memchr(m, '\n', n) != NULL) {
		explicit_bzero(m, sizeof(m));
		return plain_fail(err, errlen, "NUL, CR or LF in the "
		    "authorization identity");
	}
	if ((size_t)n >= size) {
		explicit_bzero(m, sizeof(m));
		return plain_fail(err, errlen, "authorization identity too "
		    "long");
	}
	memcpy(authzid, m, n);
	authzid[n] = '\0';
	explicit_bzero(m, sizeof(m));
	return n;
}

/*
 * m has room for a name one byte too long, so such a response decodes
 * and is refused for its name, not as bad base64.
 */
int
sasl_cram_decode(const char *b64, size_t len, char *user, size_t usersz,
    uint8_t *digest, char *err, size_t errlen)
{
	uint8_t	m[SASL_FIELD_MAX_BYTES + 1 + CRAM_HEX_BYTES + 3];
	int	n, r;

	memset(digest, 0, CRAM_DIGEST_BYTES);
	if (usersz > 0)
		user[0] = '\0';
	if (len > sizeof(m) / 3 * 4)
		return plain_fail(err, errlen, "CRAM-MD5 response too long");
	if ((n = base64_decode(b64, len, m, sizeof(m))) == -1)
		return plain_fail(err, errlen, "invalid base64");
	r = cram_response_parse(m, (size_t)n, user, usersz, digest, err,
	    errlen);
	explicit_bzero(m, sizeof(m));
	return r;
}

static int
plain_field_ok(const char *s, size_t *lenp)
{
	size_t	n;

	if (s == NULL)
		s = "";
	n = strnlen(s, SASL_FIELD_MAX_BYTES + 1);
	if (n > SASL_FIELD_MAX_BYTES || strpbrk(s, "\r\n") != NULL)
		return 0;
	*lenp = n;
	return 1;
}

/*
 * The same rules as for a client's message: CR, LF or an over-long field
 * are never sent to a store, and authcid and passwd must be non-empty.
 */
int
sasl_plain_encode(struct buf *b, const char *authzid, const char *authcid,
    const char *passwd)
{
	uint8_t	m[PLAIN_MAX_BYTES];
	size_t	zlen, clen, plen, len = 0;
	int	r;

	if (authcid == NULL || passwd == NULL ||
	    !plain_field_ok(authzid, &zlen) ||
	    !plain_field_ok(authcid, &clen) ||
	    !plain_field_ok(passwd, &plen) || clen == 0 || plen == 0)
		return -1;
	if (zlen > 0)
		memcpy(m, authzid, zlen);
	len = zlen;
	m[len++] = '\0';
	memcpy(m + len, authcid, clen);
	len += clen;
	m[len++] = '\0';
	memcpy(m + len, passwd, plen);
	len += plen;
	r = base64_encode_buf(b, m, len);
	explicit_bzero(m, sizeof(m));
	return r;
}
