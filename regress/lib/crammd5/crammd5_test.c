/*
 * Unit test for lib/crammd5.c: HMAC-MD5 against RFC 2104 and RFC 2202,
 * CRAM-MD5 against RFC 2195, APOP against RFC 1939, the strict parsing of
 * a response and of a digest, and challenges that differ and fit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crammd5.h"
#include "hmac.h"
#include "regress/tap.h"

static int
hex_is(const uint8_t *d, const char *want)
{
	uint8_t	w[CRAM_DIGEST_BYTES];

	return cram_hex_decode(want, strlen(want), w) == 0 &&
	    memcmp(d, w, sizeof(w)) == 0;
}

static void
test_hmac(void)
{
	uint8_t	key[80], data[50], out[CRAM_DIGEST_BYTES];
	const char *big = "Test Using Larger Than Block-Size Key - Hash Key "
	    "First";

	memset(key, 0x0b, 16);
	hmac_md5(key, 16, "Hi There", 8, out);
	tap_ok(hex_is(out, "9294727a3638bb1c13f48ef8158bfc9d"),
	    "RFC 2104 test 1");
	hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, out);
	tap_ok(hex_is(out, "750c783e6ab0b503eaa86e310a5db738"),
	    "RFC 2104 test 2");
	memset(key, 0xaa, 16);
	memset(data, 0xdd, sizeof(data));
	hmac_md5(key, 16, data, sizeof(data), out);
	tap_ok(hex_is(out, "56be34521d144c88dbb8c733f0e8b3f6"),
	    "RFC 2104 test 3");
	memset(key, 0xaa, 80);
	hmac_md5(key, 80, big, strlen(big), out);
	tap_ok(hex_is(out, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
	    "RFC 2202 test 6: a key longer than the block is hashed first");
	hmac_md5(key, 64, big, strlen(big), out);
	tap_ok(!hex_is(out, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
	    "a 64-byte key is used as is, not hashed");
}

static void
test_mechs(void)
{
	uint8_t	out[CRAM_DIGEST_BYTES];

	tap_is_int(cram_digest(CRAM_MD5,
	    "<1896.697170952@postoffice.reston.mci.net>", "tanstaaftanstaaf",
	    16, out), 0, "CRAM-MD5 digest");
	tap_ok(hex_is(out, "b913a602c7eda7a495b4e6e7334d3890"),
	    "RFC 2195 example");
	tap_is_int(cram_digest(CRAM_APOP, "<1896.697170952@dbc.mtview.ca.us>",
	    "tanstaaf", 8, out), 0, "APOP digest");
	tap_ok(hex_is(out, "c4c9334bac560ecc979e58001b3e22fb"),
	    "RFC 1939 example");
	tap_is_int(cram_digest(CRAM_NONE, "<a@b>", "x", 1, out), -1,
	    "no digest for CRAM_NONE");
	tap_is_int(cram_digest(CRAM_MECH_MAX, "<a@b>", "x", 1, out), -1,
	    "no digest for an unknown mechanism");
}

struct resp_case {
	const char	*in;
	size_t		 len;	/* 0: strlen */
	int		 want;
	const char	*user;
	const char	*name;
};

static void
test_response(void)
{
	static const struct resp_case	cases[] = {
		{ "tim b913a602c7eda7a495b4e6e7334d3890", 0, 0, "tim",
		    "RFC 2195 response" },
		{ "tim B913A602C7EDA7A495B4E6E7334D3890", 0, 0, "tim",
		    "upper-case digest" },
		{ "tim b913a602c7eda7a495b4e6e7334d389", 0, -1, NULL,
		    "31 hex digits" },
		{ "tim b913a602c7eda7a495b4e6e7334d38900", 0, -1, NULL,
		    "33 hex digits" },
		{ "tim  b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "two spaces" },
		{ "tim\tb913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "a tab for the space" },
		{ "ti m b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "a space in the name" },
		{ " b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "empty name" },
		{ "b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "no name" },
		{ "tim g913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "a g in the digest" },
		{ "tim b913a602c7eda7a495b4e6e7334d389 ", 0, -1, NULL,
		    "a space in the digest" },
		{ "t\0m b913a602c7eda7a495b4e6e7334d3890", 36, -1, NULL,
		    "NUL in the name" },
		{ "t\rm b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "CR in the name" },
		{ "t\nm b913a602c7eda7a495b4e6e7334d3890", 0, -1, NULL,
		    "LF in the name" },
		{ "tim b913a602c7eda7a495b4e6e7334d3890\r\n", 0, -1, NULL,
		    "CRLF after the digest" },
		{ "", 0, -1, NULL, "empty" },
	};
	char		user[16], err[128];
	uint8_t		d[CRAM_DIGEST_BYTES], zero[CRAM_DIGEST_BYTES];
	uint8_t		big[300];
	size_t		i, len;
	int		r;

	memset(zero, 0, sizeof(zero));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		r = cram_response_parse((const uint8_t *)cases[i].in, len,
		    user, sizeof(user), d, err, sizeof(err));
		tap_is_int(r, cases[i].want, "response: %s", cases[i].name);
		if (cases[i].want == 0) {
			tap_is_str(user, cases[i].user, "  its user");
			tap_ok(hex_is(d, "b913a602c7eda7a495b4e6e7334d3890"),
			    "  its digest");
		} else
			tap_ok(user[0] == '\0' && memcmp(d, zero,
			    sizeof(d)) == 0, "  nothing kept (%s)", err);
	}
	/* A name that just fits, one that does not. */
	memset(big, 'u', sizeof(big));
	memcpy(big + 15, " b913a602c7eda7a495b4e6e7334d3890", 33);
	tap_is_int(cram_response_parse(big, 48, user, sizeof(user), d, err,
	    sizeof(err)), 0, "a 15-byte name in a 16-byte buffer");
	memset(big, 'u', sizeof(big));
	memcpy(big + 16, " b913a602c7eda7a495b4e6e7334d3890", 33);
	tap_is_int(cram_response_parse(big, 49, user, sizeof(user), d, err,
	    sizeof(err)), -1, "a 16-byte name does not fit: refused");
}

static void
test_challenge(void)
{
	char	a[CRAM_CHALLENGE_BYTES], b[CRAM_CHALLENGE_BYTES];
	char	host[200];

	cram_challenge(a, sizeof(a), "mmp.example.org");
	cram_challenge(b, sizeof(b), "mmp.example.org");
	tap_ok(cram_challenge_ok(a), "a challenge is one: %s", a);
	tap_ok(strcmp(a, b) != 0, "two challenges differ: %s %s", a, b);
	tap_ok(strstr(a, "@mmp.example.org>") != NULL, "it names the host");
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	host[5] = '>';
	host[6] = '\n';
	cram_challenge(a, sizeof(a), host);
	tap_ok(cram_challenge_ok(a) && strlen(a) < sizeof(a) &&
	    strchr(a + 1, '>') == a + strlen(a) - 1,
	    "a long, odd host is cut and cleaned: %s", a);
	cram_challenge(a, sizeof(a), "");
	tap_ok(cram_challenge_ok(a) && strstr(a, "@localhost>") != NULL,
	    "no host: localhost");
	tap_ok(!cram_challenge_ok(""), "empty is no challenge");
	tap_ok(!cram_challenge_ok("<a b>"), "a blank is not allowed");
	tap_ok(!cram_challenge_ok("<a\x01>"), "a control character is not");
	tap_ok(!cram_challenge_ok("a@b"), "no angle brackets: not one");
}

static void
test_hex(void)
{
	uint8_t	d[CRAM_DIGEST_BYTES];

	tap_is_int(cram_hex_decode("00112233445566778899aAbBcCdDeEfF", 32, d),
	    0, "mixed case hex");
	tap_ok(d[0] == 0 && d[10] == 0xaa && d[15] == 0xff, "  its bytes");
	tap_is_int(cram_hex_decode("00112233445566778899aabbccddeef", 31, d),
	    -1, "31 digits");
	tap_is_int(cram_hex_decode("0x112233445566778899aabbccddeeff", 32, d),
	    -1, "0x prefix");
}

int
main(void)
{
	test_hmac();
	test_mechs();
	test_response();
	test_challenge();
	test_hex();
	return tap_done();
}
