/*
 * Unit tests for mmpd/sasl.c: strict base64 (RFC 4648 vectors, padding
 * and alphabet abuse, exact-fit output) and SASL PLAIN decode/encode with
 * the messages other proxies let through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "mmpd/sasl.h"
#include "regress/tap.h"

struct b64_case {
	const char	*b64;
	const char	*raw;		/* NULL: must be refused */
	size_t		 rawlen;
};

static const struct b64_case b64_cases[] = {
	{ "", "", 0 },
	{ "Zg==", "f", 1 },
	{ "Zm8=", "fo", 2 },
	{ "Zm9v", "foo", 3 },
	{ "Zm9vYg==", "foob", 4 },
	{ "Zm9vYmE=", "fooba", 5 },
	{ "Zm9vYmFy", "foobar", 6 },
	{ "AAECAw==", "\0\1\2\3", 4 },
	{ "+/+/", "\xfb\xff\xbf", 3 },
	{ "Zg", NULL, 0 },		/* padding missing */
	{ "Zg=", NULL, 0 },
	{ "Zm8", NULL, 0 },
	{ "Zg===", NULL, 0 },
	{ "Z===", NULL, 0 },		/* 6 bits are not a byte */
	{ "====", NULL, 0 },
	{ "=Zg=", NULL, 0 },
	{ "Z=g=", NULL, 0 },
	{ "Zg=a", NULL, 0 },
	{ "Zg==Zg==", NULL, 0 },	/* padding inside */
	{ "Zh==", NULL, 0 },		/* non-zero bits under padding */
	{ "Zm9=", NULL, 0 },
	{ "Zm9v\n", NULL, 0 },
	{ "Zm9v\r\n", NULL, 0 },
	{ "Zm 9v", NULL, 0 },
	{ " Zm9v", NULL, 0 },
	{ "Zm-_", NULL, 0 },		/* URL-safe alphabet */
	{ "Zm9v!A==", NULL, 0 },
	{ "Zm9\x80", NULL, 0 },
	{ "=", NULL, 0 },
};

static void
test_base64_table(void)
{
	unsigned char	out[64];
	char		shown[64];
	size_t		i;
	int		r;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case	*c = &b64_cases[i];

		escape_log(c->b64, strlen(c->b64), shown, sizeof(shown));
		r = base64_decode(c->b64, strlen(c->b64), out, sizeof(out));
		if (c->raw == NULL) {
			tap_is_int(r, -1, "base64 \"%s\" refused", shown);
			continue;
		}
		tap_is_mem(out, r >= 0 ? (size_t)r : 0, c->raw, c->rawlen,
		    "base64 \"%s\" decodes", shown);
	}
}

static void
test_base64_sizes(void)
{
	unsigned char	out[8];
	struct buf	b;
	int		r;

	memset(out, 'Z', sizeof(out));
	r = base64_decode("Zm9vYmFy", 8, out, 6);
	tap_ok(r == 6 && memcmp(out, "foobar", 6) == 0 && out[6] == 'Z',
	    "base64: exact-fit output");
	tap_is_int(base64_decode("Zm9vYmFy", 8, out, 5), -1,
	    "base64: one byte short output refused");
	tap_is_int(base64_decode("Zm9vYg==", 8, out, 4), 4,
	    "base64: padded exact fit");
	tap_is_int(base64_decode("Zm9vYg==", 8, out, 3), -1,
	    "base64: padded one short");
	tap_is_int(base64_decode("Zm9v", 4, NULL, 0), -1,
	    "base64: NULL output");
	tap_is_int(base64_decode("Zm9vYmFy", 4, out, sizeof(out)), 3,
	    "base64: inlen is honoured");

	buf_init(&b, 0, 1024);
	tap_is_int(base64_encode_buf(&b, "", 0), 0, "encode empty");
	tap_is_int((long long)buf_len(&b), 0, "encode empty adds nothing");
	base64_encode_buf(&b, "f", 1);
	base64_encode_buf(&b, "fo", 2);
	base64_encode_buf(&b, "foobar", 6);
	tap_is_mem(buf_data(&b), buf_len(&b), "Zg==Zm8=Zm9vYmFy", 16,
	    "encode RFC 4648 vectors");
	buf_free(&b);

	buf_init(&b, 0, 8);
	tap_is_int(base64_encode_buf(&b, "fooba", 5), 0, "encode fits 8");
	tap_is_int(base64_encode_buf(&b, "x", 1), -1, "encode into full buf");
	tap_is_mem(buf_data(&b), buf_len(&b), "Zm9vYmE=", 8,
	    "failed encode left buf alone");
	buf_free(&b);
	buf_init(&b, 0, 7);
	tap_is_int(base64_encode_buf(&b, "fooba", 5), -1,
	    "encode needing 8 into 7 refused");
	tap_is_int((long long)buf_len(&b), 0, "nothing partial added");
	buf_free(&b);
}

/* Round trips of every length 0..600 and every byte value. */
static void
test_base64_roundtrip(void)
{
	unsigned char	raw[600], out[600];
	struct buf	b;
	size_t		len, i;
	int		ok = 1, r;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 7 + 3);
	for (len = 0; len <= sizeof(raw) && ok; len++) {
		buf_init(&b, 0, 1024);
		if (base64_encode_buf(&b, raw, len) == -1 ||
		    buf_len(&b) != (len + 2) / 3 * 4)
			ok = 0;
		r = base64_decode((char *)buf_data(&b), buf_len(&b), out,
		    sizeof(out));
		if (r != (int)len || memcmp(out, raw, len) != 0)
			ok = 0;
		buf_free(&b);
	}
	tap_ok(ok, "base64 round trip of lengths 0..600");
}

struct plain_case {
	const char	*msg;
	size_t		 len;
	const char	*authcid;	/* NULL: refused */
	const char	*passwd;
	const char	*why;		/* substring of the reason */
};

#define P(m, c, p, w)	{ m, sizeof(m) - 1, c, p, w }

static const struct plain_case plain_cases[] = {
	P("\0user\0pass", "user", "pass", NULL),
	P("user\0user\0pass", "user", "pass", NULL),
	P("\0user\0pass word", "user", "pass word", NULL),
	P("\0user@example.com\0p\xc3\xa4ss", "user@example.com",
	    "p\xc3\xa4ss", NULL),
	P("\0user*\0x", "user*", "x", NULL),
	P("admin\0user\0pass", NULL, NULL, "authorization"),
	P("User\0user\0pass", NULL, NULL, "authorization"),
	P("user2\0user\0pass", NULL, NULL, "authorization"),
	P("userx\0user\0pass", NULL, NULL, "authorization"),
	/* A prefix of the user is another user: "use" is not "user". */
	P("use\0user\0pass", NULL, NULL, "authorization"),
	P("u\0user\0pass", NULL, NULL, "authorization"),
	P("user\0use\0pass", NULL, NULL, "authorization"),
	P("user\0pass", NULL, NULL, "two NUL"),
	P("userpass", NULL, NULL, "two NUL"),
	P("", NULL, NULL, "two NUL"),
	P("\0user\0pa\0ss", NULL, NULL, "more than two"),
	P("\0user\0pass\0", NULL, NULL, "more than two"),
	P("\0\0\0", NULL, NULL, "more than two"),
	P("\0user\0pa\rss", NULL, NULL, "CR or LF"),
	P("\0user\0pass\r\n", NULL, NULL, "CR or LF"),
	P("\0us\ner\0pass", NULL, NULL, "CR or LF"),
	P("\r\0user\0pass", NULL, NULL, "CR or LF"),
	P("\0\0pass", NULL, NULL, "empty authentication"),
	P("\0user\0", NULL, NULL, "empty password"),
	P("\0\0", NULL, NULL, "empty"),
};

#undef P

static int
plain_try(const char *msg, size_t len, char *authcid, char *passwd,
    char *err, size_t errlen)
{
	struct buf	b;
	int		r;

	buf_init(&b, 0, 4096);
	if (base64_encode_buf(&b, msg, len) == -1) {
		buf_free(&b);
		return -2;
	}
	r = sasl_plain_decode((char *)buf_data(&b), buf_len(&b), authcid,
	    passwd, err, errlen);
	buf_free(&b);
	return r;
}

static void
test_plain_table(void)
{
	char	authcid[SASL_FIELD_MAX_BYTES + 1];
	char	passwd[SASL_FIELD_MAX_BYTES + 1], err[128];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct plain_case	*c = &plain_cases[i];

		err[0] = '\0';
		memset(authcid, 'Z', sizeof(authcid));
		memset(passwd, 'Z', sizeof(passwd));
		r = plain_try(c->msg, c->len, authcid, passwd, err,
		    sizeof(err));
		if (c->authcid != NULL) {
			tap_ok(r == 0 && strcmp(authcid, c->authcid) == 0 &&
			    strcmp(passwd, c->passwd) == 0,
			    "PLAIN case %zu accepted as %s", i, c->authcid);
			continue;
		}
		tap_ok(r == -1 && strstr(err, c->why) != NULL &&
		    authcid[0] == '\0' && passwd[0] == '\0',
		    "PLAIN case %zu refused: %s", i, err);
	}
}

static void
field_msg(char *m, size_t *lenp, size_t zlen, size_t clen, size_t plen)
{
	size_t	len = 0;

	memset(m, 'u', zlen + clen + 1);
	len = zlen;
	m[len++] = '\0';
	len += clen;
	m[len++] = '\0';
	memset(m + len, 'p', plen);
	*lenp = len + plen;
}

static void
test_plain_limits(void)
{
	char	authcid[SASL_FIELD_MAX_BYTES + 1];
	char	passwd[SASL_FIELD_MAX_BYTES + 1], err[128];
	char	m[3 * SASL_FIELD_MAX_BYTES + 16], *big;
	size_t	len, F = SASL_FIELD_MAX_BYTES;

	field_msg(m, &len, 0, F, F);
	tap_ok(plain_try(m, len, authcid, passwd, err, sizeof(err)) == 0 &&
	    strlen(authcid) == F && strlen(passwd) == F,
	    "PLAIN: authcid and passwd of exactly %zu bytes", F);
	field_msg(m, &len, F, F, F);
	tap_is_int(plain_try(m, len, authcid, passwd, err, sizeof(err)), 0,
	    "PLAIN: all three fields at the maximum");
	field_msg(m, &len, 0, F + 1, 4);
	tap_ok(plain_try(m, len, authcid, passwd, err, sizeof(err)) == -1 &&
	    strstr(err, "too long") != NULL, "PLAIN: authcid one too long");
	field_msg(m, &len, 0, 4, F + 1);
	tap_ok(plain_try(m, len, authcid, passwd, err, sizeof(err)) == -1 &&
	    strstr(err, "too long") != NULL, "PLAIN: passwd one too long");
	field_msg(m, &len, F + 1, 4, 4);
	tap_is_int(plain_try(m, len, authcid, passwd, err, sizeof(err)), -1,
	    "PLAIN: authzid one too long");
	field_msg(m, &len, F + 2, F + 2, F + 2);
	tap_ok(plain_try(m, len, authcid, passwd, err, sizeof(err)) == -1 &&
	    strstr(err, "too long") != NULL, "PLAIN: longest message");

	if ((big = malloc(5000)) == NULL)
		exit(2);
	memset(big, 'A', 5000);
	tap_ok(sasl_plain_decode(big, 5000, authcid, passwd, err,
	    sizeof(err)) == -1 && strstr(err, "too long") != NULL,
	    "PLAIN: 5000 base64 characters refused before decoding");
	free(big);
	tap_ok(sasl_plain_decode("AHVzZXIAcGFzcw", 14, authcid, passwd, err,
	    sizeof(err)) == -1 && strstr(err, "base64") != NULL,
	    "PLAIN: unpadded base64 refused");
	tap_ok(sasl_plain_decode("AHVzZXIAcGFzcw==\r\n", 18, authcid, passwd,
	    err, sizeof(err)) == -1, "PLAIN: trailing CRLF refused");
	tap_ok(sasl_plain_decode("AHVzZXIAcGFzcw==", 16, authcid, passwd,
	    err, sizeof(err)) == 0 && strcmp(authcid, "user") == 0 &&
	    strcmp(passwd, "pass") == 0, "PLAIN: literal base64 decodes");
	tap_ok(sasl_plain_decode("=", 1, authcid, passwd, err,
	    sizeof(err)) == -1, "PLAIN: \"=\" (empty response) refused");
	tap_is_int(sasl_plain_decode("Zg==", 4, authcid, passwd, NULL, 0),
	    -1, "PLAIN: NULL err is allowed");
	tap_ok(sasl_plain_decode("Zg==", 4, authcid, passwd, err, 4) == -1 &&
	    strlen(err) == 3, "PLAIN: reason cut to errlen");
}

static void
test_plain_encode(void)
{
	char		 authcid[SASL_FIELD_MAX_BYTES + 1];
	char		 passwd[SASL_FIELD_MAX_BYTES + 1], err[128];
	char		 longf[SASL_FIELD_MAX_BYTES + 2];
	unsigned char	 raw[1024];
	struct buf	 b;
	int		 r;

	buf_init(&b, 0, 4096);
	tap_is_int(sasl_plain_encode(&b, NULL, "user", "pass word"), 0,
	    "encode without authzid");
	tap_ok(sasl_plain_decode((char *)buf_data(&b), buf_len(&b), authcid,
	    passwd, err, sizeof(err)) == 0 && strcmp(authcid, "user") == 0 &&
	    strcmp(passwd, "pass word") == 0, "encode/decode round trip");
	buf_reset(&b);
	tap_is_int(sasl_plain_encode(&b, "user", "admin", "secret"), 0,
	    "encode with authzid (store admin replay)");
	r = base64_decode((char *)buf_data(&b), buf_len(&b), raw,
	    sizeof(raw));
	tap_is_mem(raw, r >= 0 ? (size_t)r : 0, "user\0admin\0secret", 17,
	    "authzid NUL authcid NUL passwd on the wire");
	buf_reset(&b);
	tap_is_int(sasl_plain_encode(&b, "", "u", "p"), 0, "empty authzid");
	tap_is_mem(buf_data(&b), buf_len(&b), "AHUAcA==", 8,
	    "empty authzid encodes as leading NUL");
	buf_reset(&b);
	tap_is_int(sasl_plain_encode(&b, NULL, "user", "pa\rss"), -1,
	    "encode refuses CR in passwd");
	tap_is_int(sasl_plain_encode(&b, NULL, "us\ner", "pass"), -1,
	    "encode refuses LF in authcid");
	tap_is_int(sasl_plain_encode(&b, "a\r\n", "user", "pass"), -1,
	    "encode refuses CRLF in authzid");
	tap_is_int(sasl_plain_encode(&b, NULL, "", "pass"), -1,
	    "encode refuses empty authcid");
	tap_is_int(sasl_plain_encode(&b, NULL, "user", ""), -1,
	    "encode refuses empty passwd");
	tap_is_int(sasl_plain_encode(&b, NULL, NULL, "pass"), -1,
	    "encode refuses NULL authcid");
	memset(longf, 'x', sizeof(longf) - 1);
	longf[sizeof(longf) - 1] = '\0';
	tap_is_int(sasl_plain_encode(&b, NULL, "user", longf), -1,
	    "encode refuses a passwd of %zu bytes", strlen(longf));
	longf[sizeof(longf) - 2] = '\0';
	tap_is_int(sasl_plain_encode(&b, NULL, "user", longf), 0,
	    "encode takes a passwd of %zu bytes", strlen(longf));
	tap_is_int((long long)buf_len(&b), (5 + 1 + 256 + 2) / 3 * 4,
	    "only the accepted encoding was added");
	buf_free(&b);

	buf_init(&b, 0, 15);
	tap_is_int(sasl_plain_encode(&b, NULL, "user", "pass"), -1,
	    "encode into a buf one byte too small");
	tap_is_int((long long)buf_len(&b), 0, "nothing partial added");
	buf_free(&b);
	buf_init(&b, 0, 16);
	tap_is_int(sasl_plain_encode(&b, NULL, "user", "pass"), 0,
	    "encode into an exact-fit buf");
	buf_free(&b);
}

struct external_case {
	const char	*b64;
	const char	*authzid;	/* NULL: must be refused */
	const char	*why;		/* refused: in the reason */
};

static const struct external_case external_cases[] = {
	{ "", "", NULL },			/* empty: the mapped user */
	{ "cGlsYXI=", "pilar", NULL },
	{ "cXVlbnRpbg==", "quentin", NULL },
	{ "asOWcmc=", "j\xc3\x96rg", NULL },	/* UTF-8 */
	{ "=", NULL, "base64" },		/* the caller maps "=" */
	{ "cGlsYXI", NULL, "base64" },
	{ "cGlsYXI=\r\n", NULL, "base64" },
	{ "cGls YXI=", NULL, "base64" },
	{ "AA==", NULL, "NUL" },		/* "\0" */
	{ "cGlsYXIAcXVlbnRpbg==", NULL, "NUL" },	/* "pilar\0quentin" */
	{ "cGlsYXINCg==", NULL, "CR" },	/* "pilar\r\n" */
	{ "cGlsYXIKcXVlbnRpbg==", NULL, "LF" },	/* "pilar\nquentin" */
	{ "DQ==", NULL, "CR" },
};

/* EXTERNAL (RFC 4422 A): the authorization identity, or a refusal. */
static void
test_external(void)
{
	char	authzid[16], big[400], err[128];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(external_cases) / sizeof(external_cases[0]);
	    i++) {
		const struct external_case	*c = &external_cases[i];

		err[0] = '\0';
		memset(authzid, 'Z', sizeof(authzid));
		r = sasl_external_decode(c->b64, strlen(c->b64), authzid,
		    sizeof(authzid), err, sizeof(err));
		if (c->authzid != NULL) {
			tap_ok(r == (int)strlen(c->authzid) &&
			    strcmp(authzid, c->authzid) == 0,
			    "EXTERNAL case %zu: \"%s\"", i, c->authzid);
			continue;
		}
		tap_ok(r == -1 && strstr(err, c->why) != NULL &&
		    authzid[0] == '\0', "EXTERNAL case %zu refused: %s", i,
		    err);
	}
	/* "0123456789abcde" fits 16 bytes with its NUL; one more does not. */
	tap_is_int(sasl_external_decode("MDEyMzQ1Njc4OWFiY2Rl", 20, authzid,
	    sizeof(authzid), err, sizeof(err)), 15, "EXTERNAL: identity of "
	    "size - 1 bytes");
	tap_ok(sasl_external_decode("MDEyMzQ1Njc4OWFiY2RlZg==", 24, authzid,
	    sizeof(authzid), err, sizeof(err)) == -1 && strstr(err,
	    "too long") != NULL && authzid[0] == '\0', "EXTERNAL: identity "
	    "of size bytes refused");
	memset(big, 'A', sizeof(big));
	tap_ok(sasl_external_decode(big, sizeof(big), authzid,
	    sizeof(authzid), err, sizeof(err)) == -1 && strstr(err,
	    "too long") != NULL, "EXTERNAL: %zu base64 characters refused "
	    "before decoding", sizeof(big));
	tap_is_int(sasl_external_decode("", 0, authzid, 0, err, sizeof(err)),
	    -1, "EXTERNAL: no room at all");
}

int
main(void)
{
	test_base64_table();
	test_base64_sizes();
	test_base64_roundtrip();
	test_plain_table();
	test_plain_limits();
	test_plain_encode();
	test_external();
	return tap_done();
}
