/*
 * HMAC-SHA256 (RFC 2104) over libmd's SHA-256: the keyed hash under which
 * mmp-ldapd's AuthCache keeps a password, never the password itself.
 */
#ifndef MMP_HMAC_H
#define MMP_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_BYTES	32	/* the MAC */
#define HMAC_SHA256_BLOCK	64	/* SHA-256's block: longer keys are hashed */

/* out = HMAC-SHA256(key, msg); every intermediate value is wiped. */
void	hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t msglen, uint8_t out[HMAC_SHA256_BYTES]);

#endif /* MMP_HMAC_H */
