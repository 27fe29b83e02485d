/*
 * Unit test for lib/proxyproto.c: PROXY headers of both versions as load
 * balancers send them, the malformed ones a receiver must refuse, and
 * that a header cut anywhere reads as incomplete, never as something else.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "proxyproto.h"
#include "regress/tap.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"
/* v2 INET addresses: 192.0.2.1:56324 -> 198.51.100.2:143 */
#define INET4	"\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x8f"
/* v2 INET6 addresses: [2001:db8::1]:1 -> [2001:db8::2]:993 */
#define INET6	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" \
		"\x00\x01\x03\xe1"
#define S(x)	x, sizeof(x) - 1

static const struct {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 want;		/* header length, 0 or -1 */
	const char	*why;		/* of -1 */
	const char	*src;		/* of a header: NULL is local */
	const char	*dst;
} cases[] = {
	/* version 1 */
	{ "v1 TCP4", S("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n"),
	    45, NULL, "192.0.2.1:56324", "198.51.100.2:143" },
	{ "v1 and a pipelined command",
	    S("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\nA1 NOOP\r\n"),
	    45, NULL, "192.0.2.1:56324", "198.51.100.2:143" },
	{ "v1 TCP6", S("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"),
	    44, NULL, "[2001:db8::1]:1", "[2001:db8::2]:65535" },
	{ "v1 ports 0", S("PROXY TCP4 192.0.2.1 198.51.100.2 0 0\r\n"),
	    39, NULL, "192.0.2.1:0", "198.51.100.2:0" },
	{ "v1 UNKNOWN", S("PROXY UNKNOWN\r\n"), 15, NULL, NULL, NULL },
	{ "v1 UNKNOWN with addresses ignored",
	    S("PROXY UNKNOWN 1.2.3.4 garbage \x01\r\n"), 33, NULL, NULL,
	    NULL },
	{ "v1 of 107 bytes", S("PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	    107, NULL, NULL, NULL },
	{ "v1 of 108 bytes", S("PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535 \r\n"),
	    -1, "107", NULL, NULL },
	{ "v1 without CRLF in 107 bytes", S("PROXY TCP4 "
	    "1111111111111111111111111111111111111111111111111111111111111"
	    "111111111111111111111111111111111111"), -1, "107", NULL, NULL },
	{ "v1 cut short", S("PROXY TCP4 192.0.2.1 198.51.100.2 56324 14"),
	    0, NULL, NULL, NULL },
	{ "v1 cut after CR", S("PROXY TCP4 192.0.2.1 198.51.100.2 5 143\r"),
	    0, NULL, NULL, NULL },
	{ "v1 LF alone", S("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\n"),
	    -1, "LF without CR", NULL, NULL },
	{ "v1 CR alone", S("PROXY TCP4 192.0.2.1 198.51.100.2 5 143\rA1"),
	    -1, "CR without LF", NULL, NULL },
	{ "v1 LF first", S("PROXY \n"), -1, "LF without CR", NULL, NULL },
	{ "v1 two spaces", S("PROXY TCP4 192.0.2.1  198.51.100.2 5 143\r\n"),
	    -1, "empty field", NULL, NULL },
	{ "v1 a space at the end",
	    S("PROXY TCP4 192.0.2.1 198.51.100.2 5 143 \r\n"), -1,
	    "four fields", NULL, NULL },
	{ "v1 five fields",
	    S("PROXY TCP4 192.0.2.1 198.51.100.2 5 143 7\r\n"), -1,
	    "four fields", NULL, NULL },
	{ "v1 three fields", S("PROXY TCP4 192.0.2.1 198.51.100.2 5\r\n"),
	    -1, "four fields", NULL, NULL },
	{ "v1 heading zero in an address",
	    S("PROXY TCP4 192.0.2.01 198.51.100.2 5 143\r\n"), -1,
	    "source address is not an IPv4", NULL, NULL },
	{ "v1 octet above 255",
	    S("PROXY TCP4 192.0.2.1 198.51.100.256 5 143\r\n"), -1,
	    "destination address is not an IPv4", NULL, NULL },
	{ "v1 IPv6 under TCP4",
	    S("PROXY TCP4 2001:db8::1 198.51.100.2 5 143\r\n"), -1,
	    "source address is not an IPv4", NULL, NULL },
	{ "v1 IPv4 under TCP6",
	    S("PROXY TCP6 192.0.2.1 2001:db8::2 5 143\r\n"), -1,
	    "source address is not an IPv6", NULL, NULL },
	{ "v1 scoped IPv6", S("PROXY TCP6 fe80::1%eth0 2001:db8::2 5 143\r\n"),
	    -1, "not an IPv6", NULL, NULL },
	{ "v1 port 65536", S("PROXY TCP4 192.0.2.1 198.51.100.2 65536 1\r\n"),
	    -1, "source port", NULL, NULL },
	{ "v1 heading zero in a port",
	    S("PROXY TCP4 192.0.2.1 198.51.100.2 5 0143\r\n"), -1,
	    "destination port", NULL, NULL },
	{ "v1 signed port", S("PROXY TCP4 192.0.2.1 198.51.100.2 +5 143\r\n"),
	    -1, "source port", NULL, NULL },
	{ "v1 port of six digits",
	    S("PROXY TCP4 192.0.2.1 198.51.100.2 000001 143\r\n"), -1,
	    "source port", NULL, NULL },
	{ "v1 protocol TCP5", S("PROXY TCP5 192.0.2.1 198.51.100.2 5 1\r\n"),
	    -1, "protocol", NULL, NULL },
	{ "v1 protocol in lower case",
	    S("PROXY tcp4 192.0.2.1 198.51.100.2 5 1\r\n"), -1, "protocol",
	    NULL, NULL },
	{ "v1 UNKNOWNX", S("PROXY UNKNOWNX\r\n"), -1, "protocol", NULL,
	    NULL },
	{ "v1 empty", S("PROXY \r\n"), -1, "protocol", NULL, NULL },
	{ "v1 NUL in the line",
	    S("PROXY TCP4 192.0.2.1\0 198.51.100.2 5 143\r\n"), -1,
	    "printable", NULL, NULL },
	{ "v1 tab in the line",
	    S("PROXY TCP4 192.0.2.1\t198.51.100.2 5 143\r\n"), -1,
	    "printable", NULL, NULL },
	{ "v1 prefix", S("PROX"), 0, NULL, NULL, NULL },
	{ "v1 prefix without its space", S("PROXY\r\n"), -1, "not a PROXY",
	    NULL, NULL },
	{ "v1 lower case", S("proxy TCP4 1.2.3.4 1.2.3.4 1 1\r\n"), -1,
	    "not a PROXY", NULL, NULL },
	{ "an IMAP command", S("A1 LOGIN user pass\r\n"), -1, "not a PROXY",
	    NULL, NULL },
	{ "a TLS ClientHello", S("\x16\x03\x01\x02\x00\x01"), -1,
	    "not a PROXY", NULL, NULL },
	{ "nothing yet", "", 0, 0, NULL, NULL, NULL },

	/* version 2 */
	{ "v2 PROXY TCP4", S(SIG "\x21\x11\x00\x0c" INET4), 28, NULL,
	    "192.0.2.1:56324", "198.51.100.2:143" },
	{ "v2 and a ClientHello",
	    S(SIG "\x21\x11\x00\x0c" INET4 "\x16\x03\x01\x02\x00"), 28, NULL,
	    "192.0.2.1:56324", "198.51.100.2:143" },
	{ "v2 PROXY TCP6", S(SIG "\x21\x21\x00\x24" INET6), 52, NULL,
	    "[2001:db8::1]:1", "[2001:db8::2]:993" },
	{ "v2 with TLVs", S(SIG "\x21\x11\x00\x1a" INET4
	    "\x04\x00\x04" "abcd" "\x03\x00\x00" "\xe0\x00\x01" "x"), 42,
	    NULL, "192.0.2.1:56324", "198.51.100.2:143" },
	{ "v2 LOCAL", S(SIG "\x20\x00\x00\x00"), 16, NULL, NULL, NULL },
	{ "v2 LOCAL with addresses and TLVs skipped",
	    S(SIG "\x20\x11\x00\x13" INET4 "\x04\x00\x04" "abcd"), 35, NULL,
	    NULL, NULL },
	{ "v2 LOCAL ignores family and what looks like a TLV",
	    S(SIG "\x20\xff\x00\x05" "\x04\xff\xff\x00\x00"), 21, NULL, NULL,
	    NULL },
	{ "v2 PROXY UNSPEC", S(SIG "\x21\x00\x00\x00"), 16, NULL, NULL,
	    NULL },
	{ "v2 PROXY UNSPEC skips its bytes", S(SIG "\x21\x00\x00\x03" "abc"),
	    19, NULL, NULL, NULL },
	{ "v2 PROXY INET, transport UNSPEC", S(SIG "\x21\x10\x00\x0c" INET4),
	    28, NULL, NULL, NULL },
	{ "v2 cut in the signature", S("\r\n\r\n\0\r"), 0, NULL, NULL,
	    NULL },
	{ "v2 cut in the fixed part", S(SIG "\x21\x11"), 0, NULL, NULL, NULL },
	{ "v2 cut in the addresses", S(SIG "\x21\x11\x00\x0c\xc0\x00\x02"), 0,
	    NULL, NULL, NULL },
	{ "v2 bad signature", S("\r\n\r\n\0\r\nQUIT\r\x21\x11\x00\x00"), -1,
	    "signature", NULL, NULL },
	{ "v2 bad signature early", S("\r\nX"), -1, "signature", NULL, NULL },
	{ "v2 version 1", S(SIG "\x11\x11\x00\x0c" INET4), -1, "version",
	    NULL, NULL },
	{ "v2 version 3, early", S(SIG "\x31"), -1, "version", NULL, NULL },
	{ "v2 command 2", S(SIG "\x22\x11\x00\x0c" INET4), -1, "command",
	    NULL, NULL },
	{ "v2 command 15", S(SIG "\x2f\x11\x00\x0c" INET4), -1, "command",
	    NULL, NULL },
	{ "v2 family 4", S(SIG "\x21\x41\x00\x0c" INET4), -1, "not defined",
	    NULL, NULL },
	{ "v2 transport 3", S(SIG "\x21\x13\x00\x0c" INET4), -1,
	    "not defined", NULL, NULL },
	{ "v2 UDP", S(SIG "\x21\x12\x00\x0c" INET4), -1, "datagram", NULL,
	    NULL },
	{ "v2 UNIX datagram", S(SIG "\x21\x32\x00\x00"), -1, "datagram",
	    NULL, NULL },
	{ "v2 INET too short", S(SIG "\x21\x11\x00\x0b" INET4), -1,
	    "too short", NULL, NULL },
	{ "v2 INET6 too short", S(SIG "\x21\x21\x00\x0c" INET4), -1,
	    "too short", NULL, NULL },
	{ "v2 UNIX too short", S(SIG "\x21\x31\x00\x0c" INET4), -1,
	    "too short", NULL, NULL },
	{ "v2 length 1025, refused before its body",
	    S(SIG "\x21\x11\x04\x01"), -1, "more than 1024", NULL, NULL },
	{ "v2 length 65535", S(SIG "\x20\x00\xff\xff"), -1, "more than",
	    NULL, NULL },
	{ "v2 TLV longer than the header", S(SIG "\x21\x11\x00\x0f" INET4
	    "\x04\x00\x05"), -1, "TLV longer", NULL, NULL },
	{ "v2 TLV one byte past the end", S(SIG "\x21\x11\x00\x11" INET4
	    "\x04\x00\x03" "ab"), -1, "TLV longer", NULL, NULL },
	{ "v2 TLV length 65535", S(SIG "\x21\x11\x00\x13" INET4
	    "\x04\xff\xff" "abcd"), -1, "TLV longer", NULL, NULL },
	{ "v2 TLV cut short", S(SIG "\x21\x11\x00\x0e" INET4 "\x04\x00"), -1,
	    "cut short", NULL, NULL },
	{ "v2 second TLV past the end", S(SIG "\x21\x11\x00\x14" INET4
	    "\x04\x00\x01" "a" "\x04\x00\x02" "b"), -1, "TLV longer", NULL,
	    NULL },
};

static void
test_case(size_t i)
{
	struct proxy_hdr	 h;
	char			 why[256], src[64],
				 dst[64];
	const uint8_t		*in = (const uint8_t *)cases[i].in;
	size_t			 cut;
	int			 r, bad = 0;

	r = proxy_parse(in, cases[i].len, &h, why, sizeof(why));
	if (!tap_is_int(r, cases[i].want, "%s", cases[i].name))
		tap_diag("why: %s", why);
	if (cases[i].want == -1 && !tap_ok(strstr(why, cases[i].why) != NULL,
	    "%s: says \"%s\"", cases[i].name, cases[i].why))
		tap_diag("why: %s", why);
	if (cases[i].want > 0) {
		tap_is_int(h.local, cases[i].src == NULL, "%s: %s",
		    cases[i].name, cases[i].src == NULL ? "local" :
		    "addresses");
		if (cases[i].src != NULL) {
			addr_text(&h.src, src, sizeof(src));
			addr_text(&h.dst, dst, sizeof(dst));
			tap_is_str(src, cases[i].src, "%s: source",
			    cases[i].name);
			tap_is_str(dst, cases[i].dst, "%s: destination",
			    cases[i].name);
		}
	}
	/* Every cut of a header is incomplete; of garbage never accepted. */
	for (cut = 0; cases[i].want > 0 && cut < (size_t)cases[i].want;
	    cut++)
		if (proxy_parse(in, cut, &h, why, sizeof(why)) != 0)
			bad++;
	for (cut = 0; cases[i].want <= 0 && cut < cases[i].len; cut++)
		if (proxy_parse(in, cut, &h, why, sizeof(why)) > 0)
			bad++;
	tap_is_int(bad, 0, "%s: no shorter input reads otherwise",
	    cases[i].name);
}

/* The largest body: 1024 bytes, the addresses and one TLV. */
static void
test_largest(void)
{
	struct proxy_hdr	h;
	uint8_t			buf[PROXY_MAX_BYTES + 1];
	char			why[256];
	size_t			tlv = PROXY_V2_BODY_MAX_BYTES - 12 - 3;

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, SIG "\x21\x11\x04\x00" INET4, 28);
	buf[28] = 0xe0;
	buf[29] = tlv >> 8;
	buf[30] = tlv & 0xff;
	tap_is_int(proxy_parse(buf, sizeof(buf), &h, why, sizeof(why)),
	    PROXY_MAX_BYTES, "v2 of %d bytes", PROXY_MAX_BYTES);
	tap_is_int(proxy_parse(buf, PROXY_MAX_BYTES - 1, &h, why,
	    sizeof(why)), 0, "v2 of %d bytes, one missing", PROXY_MAX_BYTES);
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_case(i);
	test_largest();
	return tap_done();
}
