/*
 * HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || msg)), K the key
 * padded with zeros to the block, or its hash when longer than a block.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <sha2.h>

#include "hmac.h"

#define HMAC_IPAD	0x36
#define HMAC_OPAD	0x5c

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    uint8_t out[HMAC_SHA256_BYTES])
{
	SHA2_CTX	ctx;
	uint8_t		k[HMAC_SHA256_BLOCK], pad[HMAC_SHA256_BLOCK];
	uint8_t		inner[SHA256_DIGEST_LENGTH];
	size_t		i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		SHA256Init(&ctx);
		SHA256Update(&ctx, key, keylen);
		SHA256Final(k, &ctx);
	} else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ HMAC_IPAD;
	SHA256Init(&ctx);
	SHA256Update(&ctx, pad, sizeof(pad));
	SHA256Update(&ctx, msg, msglen);
	SHA256Final(inner, &ctx);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ HMAC_OPAD;
	SHA256Init(&ctx);
	SHA256Update(&ctx, pad, sizeof(pad));
	SHA256Update(&ctx, inner, sizeof(inner));
	SHA256Final(out, &ctx);

	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
	explicit_bzero(&ctx, sizeof(ctx));
}
