/*
 * libFuzzer target for strict base64 and SASL PLAIN: a decode that
 * succeeds must re-encode to exactly its input (one encoding per byte
 * string), and PLAIN decisions are checked against a plain restatement
 * of RFC 4616 and the rules in sasl.h; CRAM-MD5 responses likewise
 * against RFC 2195 and the rules in crammd5.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crammd5.h"
#include "mmpd/sasl.h"

#define RAW_MAX_BYTES	8192

static void
fuzz_base64(const uint8_t *data, size_t size)
{
	static unsigned char	out[RAW_MAX_BYTES];
	struct buf		b;
	size_t			outsz;
	int			n, m;

	n = base64_decode((const char *)data, size, out, sizeof(out));
	if (n == -1)
		return;
	if ((size_t)n > sizeof(out) || size % 4 != 0 ||
	    (size_t)n > size / 4 * 3 || (size_t)n + 3 <= size / 4 * 3)
		abort();
	if (buf_init(&b, 0, 2 * RAW_MAX_BYTES) == -1 ||
	    base64_encode_buf(&b, out, (size_t)n) == -1 ||
	    buf_len(&b) != size || (size > 0 &&
	    memcmp(buf_data(&b), data, size) != 0))
		abort();
	buf_free(&b);
	/* One byte less room than needed must fail, exactly enough work. */
	if (n > 0) {
		outsz = (size_t)n - 1;
		if (base64_decode((const char *)data, size, out, outsz) != -1)
			abort();
	}
	m = base64_decode((const char *)data, size, out, (size_t)n);
	if (m != n)
		abort();
}

/* RFC 4616 plus the header's rules, written out the simple way. */
static int
plain_ok(const uint8_t *m, size_t len, size_t *clen, size_t *plen)
{
	size_t	i, nuls = 0, pos[2] = { 0, 0 }, zlen;

	for (i = 0; i < len; i++) {
		if (m[i] == '\r' || m[i] == '\n')
			return 0;
		if (m[i] == '\0') {
			if (nuls < 2)
				pos[nuls] = i;
			nuls++;
		}
	}
	if (nuls != 2)
		return 0;
	zlen = pos[0];
	*clen = pos[1] - pos[0] - 1;
	*plen = len - pos[1] - 1;
	if (zlen > SASL_FIELD_MAX_BYTES || *clen > SASL_FIELD_MAX_BYTES ||
	    *plen > SASL_FIELD_MAX_BYTES || *clen == 0 || *plen == 0)
		return 0;
	if (zlen > 0 && (zlen != *clen || memcmp(m, m + pos[0] + 1, zlen)))
		return 0;
	return 1;
}

/* Whatever a client sends, accepted fields obey the header's rules. */
static void
fuzz_plain_text(const uint8_t *data, size_t size)
{
	char	authcid[SASL_FIELD_MAX_BYTES + 1];
	char	passwd[SASL_FIELD_MAX_BYTES + 1], err[128];

	if (sasl_plain_decode((const char *)data, size, authcid, passwd, err,
	    sizeof(err)) == -1) {
		if (authcid[0] != '\0' || passwd[0] != '\0' || err[0] == '\0')
			abort();
		return;
	}
	if (authcid[0] == '\0' || passwd[0] == '\0' ||
	    strlen(authcid) > SASL_FIELD_MAX_BYTES ||
	    strlen(passwd) > SASL_FIELD_MAX_BYTES ||
	    strpbrk(authcid, "\r\n") != NULL || strpbrk(passwd, "\r\n") != NULL)
		abort();
}

/* The input is the decoded message: encode it as a client would. */
static void
fuzz_plain(const uint8_t *data, size_t size)
{
	char		authcid[SASL_FIELD_MAX_BYTES + 1];
	char		passwd[SASL_FIELD_MAX_BYTES + 1], err[128];
	char		authcid2[SASL_FIELD_MAX_BYTES + 1];
	char		passwd2[SASL_FIELD_MAX_BYTES + 1];
	struct buf	b;
	size_t		clen, plen;
	int		want, got;

	if (buf_init(&b, 0, 4 * RAW_MAX_BYTES) == -1 ||
	    base64_encode_buf(&b, data, size) == -1)
		abort();
	want = plain_ok(data, size, &clen, &plen);
	got = sasl_plain_decode((char *)buf_data(&b), buf_len(&b), authcid,
	    passwd, err, sizeof(err)) == 0;
	if (want != got)
		abort();
	buf_reset(&b);
	if (!got) {
		if (authcid[0] != '\0' || passwd[0] != '\0' || err[0] == '\0')
			abort();
		buf_free(&b);
		return;
	}
	if (strlen(authcid) != clen || strlen(passwd) != plen)
		abort();
	if (sasl_plain_encode(&b, NULL, authcid, passwd) == -1 ||
	    sasl_plain_decode((char *)buf_data(&b), buf_len(&b), authcid2,
	    passwd2, err, sizeof(err)) == -1 || strcmp(authcid, authcid2) ||
	    strcmp(passwd, passwd2))
		abort();
	buf_free(&b);
}

/* "user SP 32-hex": a name without NUL, CR, LF, blank or tab. */
static int
cram_ok(const uint8_t *m, size_t len, size_t usersz)
{
	size_t	i, ulen;

	if (len < CRAM_HEX_BYTES + 2)
		return 0;
	ulen = len - CRAM_HEX_BYTES - 1;
	if (m[ulen] != ' ' || ulen >= usersz)
		return 0;
	for (i = 0; i < ulen; i++)
		if (m[i] == '\0' || m[i] == '\r' || m[i] == '\n' ||
		    m[i] == ' ' || m[i] == '\t')
			return 0;
	for (i = ulen + 1; i < len; i++)
		if (strchr("0123456789abcdefABCDEF", m[i]) == NULL ||
		    m[i] == '\0')
			return 0;
	return 1;
}

/* The input as the decoded response, and as what a client sends. */
static void
fuzz_cram(const uint8_t *data, size_t size)
{
	char		user[SASL_FIELD_MAX_BYTES + 1], err[128];
	uint8_t		d[CRAM_DIGEST_BYTES];
	struct buf	b;
	int		want, got;

	want = cram_ok(data, size, sizeof(user));
	got = cram_response_parse(data, size, user, sizeof(user), d, err,
	    sizeof(err)) == 0;
	if (want != got || (got && strlen(user) + CRAM_HEX_BYTES + 1 !=
	    size) || (!got && user[0] != '\0'))
		abort();
	if (buf_init(&b, 0, 4 * RAW_MAX_BYTES) == -1 ||
	    base64_encode_buf(&b, data, size) == -1)
		abort();
	got = sasl_cram_decode((char *)buf_data(&b), buf_len(&b), user,
	    sizeof(user), d, err, sizeof(err)) == 0;
	if (want != got)
		abort();
	buf_free(&b);
	(void)sasl_cram_decode((const char *)data, size, user, sizeof(user),
	    d, err, sizeof(err));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > RAW_MAX_BYTES)
		return 0;
	fuzz_base64(data, size);
	fuzz_plain(data, size);
	fuzz_plain_text(data, size);
	fuzz_cram(data, size);
	return 0;
}
