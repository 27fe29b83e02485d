/*
 * Challenge/response logins (CRAMs): APOP (RFC 1939 7) and CRAM-MD5
 * (RFC 2195): the challenge a relay sends, the client's answer taken
 * apart, and the digests mmp-ldapd computes from a clear-text secret.
 */
#ifndef MMP_CRAMMD5_H
#define MMP_CRAMMD5_H

#include <stddef.h>
#include <stdint.h>

#define CRAM_DIGEST_BYTES	16	/* MD5 */
#define CRAM_HEX_BYTES		32	/* the digest as the client writes it */
#define CRAM_HOST_MAX_BYTES	64	/* the host part of a challenge */
/* "<" 16 hex "." up to 20 digits "@" host ">" NUL */
#define CRAM_CHALLENGE_BYTES	(1 + 16 + 1 + 20 + 1 + CRAM_HOST_MAX_BYTES + 2)

/* What a lookup verifies (IMSG_LOOKUP); the numbers travel in it. */
enum cram_mech {
	CRAM_NONE,
	CRAM_APOP,		/* MD5(challenge || secret) */
	CRAM_MD5,		/* HMAC-MD5(secret, challenge) */
	CRAM_MECH_MAX
};

/*
 * A fresh challenge "<random.time@host>" (RFC 1939 7 timestamp, also the
 * CRAM-MD5 challenge): 64 random bits from arc4random, the time, and the
 * host cut to CRAM_HOST_MAX_BYTES of its letters, digits, '.' and '-'.
 * out holds CRAM_CHALLENGE_BYTES.
 */
void	cram_challenge(char *out, size_t outsz, const char *host);
/* Whether s could be one: "<", printable ASCII, ">", bounded. */
int	cram_challenge_ok(const char *s);

/*
 * 32 hex digits, either case -> 16 bytes. 0, or -1 for anything else
 * (out is then zero).
 */
int	cram_hex_decode(const char *s, size_t len, uint8_t *out);
/*
 * A CRAM-MD5 response, decoded from base64: "user SP 32-hex". user gets
 * the name (1 .. usersz - 1 bytes, no NUL, CR, LF or blank). 0, or -1
 * with the reason in err.
 */
int	cram_response_parse(const uint8_t *resp, size_t len, char *user,
	    size_t usersz, uint8_t *digest, char *err, size_t errlen);
/* RFC 1939: MD5(challenge || secret). */
void	cram_apop_md5(const char *challenge, const void *secret,
	    size_t secretlen, uint8_t *out);
/* The digest mech wants of secret for challenge. -1: unknown mech. */
int	cram_digest(int mech, const char *challenge, const void *secret,
	    size_t secretlen, uint8_t *out);

#endif /* MMP_CRAMMD5_H */
