/*
 * Unit tests for lib/hmac.c against RFC 4231's HMAC-SHA256 vectors (cases
 * 1-4, 6, 7: short, long and block-exceeding keys), keys of exactly one
 * block and one byte more, the empty key; and lib/compat's
 * timingsafe_bcmp.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "compat.h"
#include "hmac.h"
#include "regress/tap.h"

#define KEY_BYTES_MAX	256

struct hmac_case {
	const char	*name;
	uint8_t		 keybyte;	/* key: keylen times this byte, */
	size_t		 keylen;	/* or 1, 2, .. keylen when 0 */
	const char	*key;		/* or this text when not NULL */
	const char	*msg;		/* NULL: msglen times msgbyte */
	uint8_t		 msgbyte;
	size_t		 msglen;
	const char	*want;		/* hex */
};

static const struct hmac_case cases[] = {
	{ "RFC 4231 case 1", 0x0b, 20, NULL, "Hi There", 0, 0,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "RFC 4231 case 2", 0, 0, "Jefe", "what do ya want for nothing?", 0,
	    0,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "RFC 4231 case 3", 0xaa, 20, NULL, NULL, 0xdd, 50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "RFC 4231 case 4", 0, 25, NULL, NULL, 0xcd, 50,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "RFC 4231 case 6 (key longer than a block)", 0xaa, 131, NULL,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "RFC 4231 case 7 (key and data longer than a block)", 0xaa, 131,
	    NULL, "This is a test using a larger than block-size key and a "
	    "larger than block-size data. The key needs to be hashed before "
	    "being used by the HMAC algorithm.", 0, 0,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	{ "a key of exactly one block is not hashed", 'k', 64, NULL, "x", 0, 0,
	    "f91c4c403625fb06910ef93999265bbd2d62baeaec6ff36455498cc124fe3e66" },
	{ "a key one byte over the block is hashed", 'k', 65, NULL, "x", 0, 0,
	    "75092ca3ee2b307470c227697b42b3e65376aa3bae98fb5a1f7b7536daa9588a" },
	{ "empty key, empty message", 0, 0, "", "", 0, 0,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad" },
};

static void
hex(const uint8_t *b, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void
test_vectors(void)
{
	const struct hmac_case	*c;
	uint8_t			 key[KEY_BYTES_MAX], msg[KEY_BYTES_MAX];
	uint8_t			 mac[HMAC_SHA256_BYTES];
	char			 got[2 * HMAC_SHA256_BYTES + 1];
	const void		*k, *m;
	size_t			 i, j, klen, mlen;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		if (c->key != NULL) {
			k = c->key;
			klen = strlen(c->key);
		} else {
			for (j = 0; j < c->keylen; j++)
				key[j] = c->keybyte != 0 ? c->keybyte :
				    (uint8_t)(j + 1);
			k = key;
			klen = c->keylen;
		}
		if (c->msg != NULL) {
			m = c->msg;
			mlen = strlen(c->msg);
		} else {
			memset(msg, c->msgbyte, c->msglen);
			m = msg;
			mlen = c->msglen;
		}
		hmac_sha256(k, klen, m, mlen, mac);
		hex(mac, sizeof(mac), got);
		tap_is_str(got, c->want, "%s", c->name);
	}
}

static void
test_bcmp(void)
{
	uint8_t	a[HMAC_SHA256_BYTES], b[HMAC_SHA256_BYTES];
	size_t	i;

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	tap_ok(timingsafe_bcmp(a, b, sizeof(a)) == 0, "equal bytes compare "
	    "equal");
	tap_ok(timingsafe_bcmp(a, b, 0) == 0, "zero bytes compare equal");
	for (i = 0; i < sizeof(a); i += sizeof(a) - 1) {
		b[i] ^= 0x01;
		tap_ok(timingsafe_bcmp(a, b, sizeof(a)) != 0, "one bit "
		    "different in byte %zu compares unequal", i);
		b[i] ^= 0x01;
	}
	b[5] ^= 0x80;
	tap_ok(timingsafe_bcmp(a, b, 5) == 0, "a difference past n is not "
	    "seen");
}

int
main(void)
{
	test_vectors();
	test_bcmp();
	return tap_done();
}
