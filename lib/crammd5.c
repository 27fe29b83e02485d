/*
 * APOP and CRAM-MD5: challenges, strict parsing of the client's answer,
 * and the digests of a clear-text secret (MD5 from libmd). Pure code; no
 * secret is kept or logged here, and every intermediate hash is wiped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <md5.h>

#include "crammd5.h"
#include "escape.h"
#include "hmac.h"


void
cram_challenge(char *out, size_t outsz, const char *host)
{
	char		 h[CRAM_HOST_MAX_BYTES + 1];
	uint8_t		 rnd[8];
	size_t		 i, n = 0;
	static const char hex[] = "0123456789abcdef";
	char		 r[sizeof(rnd) * 2 + 1];

	for (i = 0; host != NULL && host[i] != '\0' &&
	    n < CRAM_HOST_MAX_BYTES; i++)
		if ((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') ||
		    host[i] == '.' || host[i] == '-')
			h[n++] = host[i];
	h[n] = '\0';
	if (n == 0)
		(void)strlcpy(h, "localhost", sizeof(h));
	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		r[2 * i] = hex[rnd[i] >> 4];
		r[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	r[sizeof(r) - 1] = '\0';
	(void)snprintf(out, outsz, "<%s.%lld@%s>", r,
	    (long long)time(NULL), h);
}

int
cram_challenge_ok(const char *s)
{
	size_t	i, n = strnlen(s, CRAM_CHALLENGE_BYTES);

	if (n < 3 || n >= CRAM_CHALLENGE_BYTES || s[0] != '<' ||
	    s[n - 1] != '>')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int
cram_hex_decode(const char *s, size_t len, uint8_t *out)
{
	size_t	i;
	int	hi, lo;

	if (len != CRAM_HEX_BYTES) {
		memset(out, 0, CRAM_DIGEST_BYTES);
		return -1;
	}
	for (i = 0; i < CRAM_DIGEST_BYTES; i++) {
		if ((hi = hex_digit_value(s[2 * i])) == -1 ||
		    (lo = hex_digit_value(s[2 * i + 1])) == -1) {
			memset(out, 0, CRAM_DIGEST_BYTES);
			return -1;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
cram_fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		(void)strlcpy(err, why, errlen);
	return -1;
}

/*
 * The digest is the last 32 bytes, after the one space; the name is all
 * before it and may hold no blank, so "a b <hex>" is refused, not split
 * somewhere a client chose.
 */
int
cram_response_parse(const uint8_t *resp, size_t len, char *user,
    size_t usersz, uint8_t *digest, char *err, size_t errlen)
{
	size_t	ulen, i;

	memset(digest, 0, CRAM_DIGEST_BYTES);
	if (usersz > 0)
		user[0] = '\0';
	if (len < CRAM_HEX_BYTES + 2 || resp[len - CRAM_HEX_BYTES - 1] != ' ')
		return cram_fail(err, errlen, "CRAM-MD5 response is not "
		    "\"user digest\"");
	ulen = len - CRAM_HEX_BYTES - 1;
	if (ulen >= usersz)
		return cram_fail(err, errlen, "user name too long");
	for (i = 0; i < ulen; i++)
		if (resp[i] == '\0' || resp[i] == '\r' || resp[i] == '\n' ||
		    resp[i] == ' ' || resp[i] == '\t')
			return cram_fail(err, errlen, "NUL, CR, LF or blank in "
			    "the user name");
	if (cram_hex_decode((const char *)resp + ulen + 1, CRAM_HEX_BYTES,
	    digest) == -1)
		return cram_fail(err, errlen, "digest is not 32 hex digits");
	memcpy(user, resp, ulen);
	user[ulen] = '\0';
	return 0;
}

void
cram_apop_md5(const char *challenge, const void *secret, size_t secretlen,
    uint8_t *out)
{
	MD5_CTX	ctx;

	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)challenge, strlen(challenge));
	MD5Update(&ctx, secret, secretlen);
	MD5Final(out, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
}

int
cram_digest(int mech, const char *challenge, const void *secret,
    size_t secretlen, uint8_t *out)
{
	switch (mech) {
	case CRAM_APOP:
		cram_apop_md5(challenge, secret, secretlen, out);
		return 0;
	case CRAM_MD5:
		hmac_md5(secret, secretlen, challenge, strlen(challenge),
		    out);
		return 0;
	}
	memset(out, 0, CRAM_DIGEST_BYTES);
	return -1;
}
