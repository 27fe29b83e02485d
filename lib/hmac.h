/*
 * HMAC (RFC 2104) over libmd: SHA-256, the keyed hash under which
 * mmp-ldapd's AuthCache keeps a password, never the password itself; MD5,
 * for CRAM-MD5 (RFC 2195).
 */
#ifndef MMP_HMAC_H
#define MMP_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_BYTES	32	/* the MAC */
#define HMAC_SHA256_BLOCK	64	/* SHA-256's block: longer keys are hashed */
#define HMAC_MD5_BYTES		16

/* out = HMAC-SHA256(key, msg); every intermediate value is wiped. */
void	hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t msglen, uint8_t out[HMAC_SHA256_BYTES]);
/* out = HMAC-MD5(key, msg), likewise. */
void	hmac_md5(const void *key, size_t keylen, const void *msg,
	    size_t msglen, uint8_t out[HMAC_MD5_BYTES]);

#endif /* MMP_HMAC_H */
