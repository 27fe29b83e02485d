/*
 * HMAC (RFC 2104): H((K ^ opad) || H((K ^ ipad) || msg)), K the key
 * padded with zeros to the block, or its hash when longer than a block;
 * one construction over libmd's SHA-256 (the AuthCache) and MD5
 * (CRAM-MD5, RFC 2195), both with 64-byte blocks.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <md5.h>
#include <sha2.h>

#include "hmac.h"

#define HMAC_BLOCK	64	/* SHA-256's and MD5's */
#define HMAC_IPAD	0x36
#define HMAC_OPAD	0x5c

union hmac_ctx {
	SHA2_CTX	sha256;
	MD5_CTX		md5;
};

/* A hash as HMAC uses it. */
struct hmac_hash {
	size_t	len;		/* of its digest */
	void	(*init)(union hmac_ctx *);
	void	(*update)(union hmac_ctx *, const void *, size_t);
	void	(*final)(uint8_t *, union hmac_ctx *);
};

static void
sha256_init(union hmac_ctx *c)
{
	SHA256Init(&c->sha256);
}

static void
sha256_update(union hmac_ctx *c, const void *p, size_t n)
{
	SHA256Update(&c->sha256, p, n);
}

static void
sha256_final(uint8_t *out, union hmac_ctx *c)
{
	SHA256Final(out, &c->sha256);
}

static void
md5_init(union hmac_ctx *c)
{
	MD5Init(&c->md5);
}

static void
md5_update(union hmac_ctx *c, const void *p, size_t n)
{
	MD5Update(&c->md5, p, n);
}

static void
md5_final(uint8_t *out, union hmac_ctx *c)
{
	MD5Final(out, &c->md5);
}

static const struct hmac_hash hmac_sha256_hash = {
	HMAC_SHA256_BYTES, sha256_init, sha256_update, sha256_final
};
static const struct hmac_hash hmac_md5_hash = {
	HMAC_MD5_BYTES, md5_init, md5_update, md5_final
};

static void
hmac(const struct hmac_hash *h, const void *key, size_t keylen,
    const void *msg, size_t msglen, uint8_t *out)
{
	union hmac_ctx	ctx;
	uint8_t		k[HMAC_BLOCK], pad[HMAC_BLOCK];
	uint8_t		inner[HMAC_SHA256_BYTES];	/* the longest */
	size_t		i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		h->init(&ctx);
		h->update(&ctx, key, keylen);
		h->final(k, &ctx);
	} else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ HMAC_IPAD;
	h->init(&ctx);
	h->update(&ctx, pad, sizeof(pad));
	h->update(&ctx, msg, msglen);
	h->final(inner, &ctx);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ HMAC_OPAD;
	h->init(&ctx);
	h->update(&ctx, pad, sizeof(pad));
	h->update(&ctx, inner, h->len);
	h->final(out, &ctx);

	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
	explicit_bzero(&ctx, sizeof(ctx));
}

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    uint8_t out[HMAC_SHA256_BYTES])
{
	hmac(&hmac_sha256_hash, key, keylen, msg, msglen, out);
}

void
hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
    uint8_t out[HMAC_MD5_BYTES])
{
	hmac(&hmac_md5_hash, key, keylen, msg, msglen, out);
}
