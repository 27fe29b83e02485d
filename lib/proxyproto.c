/*
 * PROXY protocol headers, versions 1 (a text line) and 2 (binary), parsed
 * strictly from bytes received so far: a load balancer sends a header that
 * matches the specification exactly, so anything else is refused.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_BYTES	6
#define V2_SIG_BYTES	12
#define V2_VERSION	0x2
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
/* The 14th byte: address family (high nibble), transport (low). */
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_TP_UNSPEC	0x0
#define V2_TP_STREAM	0x1
#define V2_TP_DGRAM	0x2
#define V2_INET_BYTES	12	/* 2 * 4 + 2 * 2 */
#define V2_INET6_BYTES	36	/* 2 * 16 + 2 * 2 */
#define V2_UNIX_BYTES	216	/* 2 * 108 */
#define V2_TLV_HDR_BYTES 3	/* type, 16-bit length */

static const uint8_t v2_sig[V2_SIG_BYTES] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int
proxy_fail(char *why, size_t whylen, const char *what)
{
	(void)snprintf(why, whylen, "%s", what);
	return -1;
}

/* A v1 port: decimal 0..65535 without heading zeroes. */
static int
proxy_v1_port(const char *s, in_port_t *port)
{
	unsigned long	n = 0;
	size_t		i, len = strlen(s);

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n > 65535)
		return -1;
	*port = htons((uint16_t)n);
	return 0;
}

/* One v1 address of family af into ss; inet_pton takes no heading zeroes. */
static int
proxy_v1_addr(int af, const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = af;
	if (af == AF_INET)
		return inet_pton(AF_INET, s, &sin->sin_addr) == 1 ? 0 : -1;
	return inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static void
proxy_set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = port;
}

/*
 * "TCP4 SRC DST SPORT DPORT" or "TCP6 ...": exactly one space between the
 * fields, nothing after the last. line is the header without "PROXY " and
 * CRLF, NUL-terminated; the caller made sure it holds no control bytes.
 */
static int
proxy_v1_fields(char *line, struct proxy_hdr *h, char *why, size_t whylen)
{
	static const char	*names[] = { "source address",
	    "destination address", "source port", "destination port" };
	char			*f[4], *p, *sp;
	in_port_t		 port[2];
	int			 af, i;

	if (strncmp(line, "TCP4 ", 5) == 0)
		af = AF_INET;
	else if (strncmp(line, "TCP6 ", 5) == 0)
		af = AF_INET6;
	else
		return proxy_fail(why, whylen, "v1: protocol is not TCP4, "
		    "TCP6 or UNKNOWN");
	p = line + 5;
	for (i = 0; i < 4; i++) {
		f[i] = p;
		sp = strchr(p, ' ');
		if ((i < 3 && sp == NULL) || (i == 3 && sp != NULL))
			return proxy_fail(why, whylen, "v1: not four fields "
			    "after the protocol");
		if (sp != NULL) {
			*sp = '\0';
			p = sp + 1;
		}
		if (f[i][0] == '\0')
			return proxy_fail(why, whylen, "v1: an empty field "
			    "(two spaces)");
	}
	for (i = 0; i < 2; i++) {
		if (proxy_v1_addr(af, f[i], i == 0 ? &h->src : &h->dst) ==
		    -1) {
			(void)snprintf(why, whylen, "v1: %s is not an IPv%d "
			    "address", names[i], af == AF_INET ? 4 : 6);
			return -1;
		}
		if (proxy_v1_port(f[i + 2], &port[i]) == -1) {
			(void)snprintf(why, whylen, "v1: %s is not 0..65535",
			    names[i + 2]);
			return -1;
		}
	}
	proxy_set_port(&h->src, port[0]);
	proxy_set_port(&h->dst, port[1]);
	return 0;
}

/*
 * Version 1: "PROXY ... CRLF" within 107 bytes. A lone CR or LF ends no
 * line; UNKNOWN keeps the connection's addresses and what follows it on
 * the line is ignored, as the specification says.
 */
static int
proxy_v1(const uint8_t *buf, size_t len, struct proxy_hdr *h, char *why,
    size_t whylen)
{
	char	line[PROXY_V1_MAX_BYTES + 1];
	size_t	i, end = 0;

	for (i = 0; i < len && i < PROXY_V1_MAX_BYTES; i++) {
		if (buf[i] == '\n')
			return proxy_fail(why, whylen, "v1: LF without CR");
		if (buf[i] != '\r')
			continue;
		if (i + 2 > PROXY_V1_MAX_BYTES)
			break;		/* its LF would be byte 108 */
		if (i + 1 == len)
			return 0;
		if (buf[i + 1] != '\n')
			return proxy_fail(why, whylen, "v1: CR without LF");
		end = i + 2;
		break;
	}
	if (end == 0) {
		if (i == len && len < PROXY_V1_MAX_BYTES)
			return 0;
		return proxy_fail(why, whylen, "v1: no CRLF in the first 107 "
		    "bytes");
	}
	memcpy(line, buf, end - 2);
	line[end - 2] = '\0';
	h->version = 1;
	if (strncmp(line + V1_PREFIX_BYTES, "UNKNOWN", 7) == 0 &&
	    (line[V1_PREFIX_BYTES + 7] == '\0' ||
	    line[V1_PREFIX_BYTES + 7] == ' ')) {
		h->local = 1;
		return (int)end;
	}
	for (i = 0; i < end - 2; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return proxy_fail(why, whylen, "v1: a byte that is not "
			    "printable text");
	if (proxy_v1_fields(line + V1_PREFIX_BYTES, h, why, whylen) == -1)
		return -1;
	return (int)end;
}

/* TLVs after the addresses fill the rest of the header exactly. */
static int
proxy_v2_tlvs(const uint8_t *p, size_t len, char *why, size_t whylen)
{
	size_t	vlen;

	while (len > 0) {
		if (len < V2_TLV_HDR_BYTES)
			return proxy_fail(why, whylen, "v2: a TLV cut short");
		vlen = (size_t)p[1] << 8 | p[2];
		if (vlen > len - V2_TLV_HDR_BYTES)
			return proxy_fail(why, whylen, "v2: a TLV longer than "
			    "the header");
		p += V2_TLV_HDR_BYTES + vlen;
		len -= V2_TLV_HDR_BYTES + vlen;
	}
	return 0;
}

static void
proxy_v2_inet(const uint8_t *p, struct proxy_hdr *h)
{
	struct sockaddr_in	*src = (struct sockaddr_in *)&h->src;
	struct sockaddr_in	*dst = (struct sockaddr_in *)&h->dst;

	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	src->sin_family = dst->sin_family = AF_INET;
	memcpy(&src->sin_addr, p, 4);
	memcpy(&dst->sin_addr, p + 4, 4);
	memcpy(&src->sin_port, p + 8, 2);
	memcpy(&dst->sin_port, p + 10, 2);
}

static void
proxy_v2_inet6(const uint8_t *p, struct proxy_hdr *h)
{
	struct sockaddr_in6	*src = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6	*dst = (struct sockaddr_in6 *)&h->dst;

	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	src->sin6_family = dst->sin6_family = AF_INET6;
	memcpy(&src->sin6_addr, p, 16);
	memcpy(&dst->sin6_addr, p + 16, 16);
	memcpy(&src->sin6_port, p + 32, 2);
	memcpy(&dst->sin6_port, p + 34, 2);
}

/*
 * The address block's length for a PROXY command's family byte, or -1
 * with why: a family or transport the specification does not define, or
 * a datagram one (a stream listener cannot have relayed it).
 */
static int
proxy_v2_addr_bytes(uint8_t fam, char *why, size_t whylen)
{
	int	af = fam >> 4, tp = fam & 0x0f;

	if (af > V2_AF_UNIX || tp > V2_TP_DGRAM) {
		(void)snprintf(why, whylen, "v2: address family and "
		    "transport 0x%02x are not defined", fam);
		return -1;
	}
	if (tp == V2_TP_DGRAM)
		return proxy_fail(why, whylen, "v2: a datagram transport on "
		    "a stream connection");
	if (af == V2_AF_UNSPEC || tp == V2_TP_UNSPEC)
		return 0;
	if (af == V2_AF_INET)
		return V2_INET_BYTES;
	if (af == V2_AF_INET6)
		return V2_INET6_BYTES;
	return V2_UNIX_BYTES;
}

/*
 * Version 2. What it declares is checked as soon as its 16 fixed bytes
 * are in: a bad version, command or family, or a length past the bound,
 * is refused before its body is read.
 */
static int
proxy_v2(const uint8_t *buf, size_t len, struct proxy_hdr *h, char *why,
    size_t whylen)
{
	size_t	body;
	int	cmd, addrlen = 0;

	if (len > V2_SIG_BYTES && buf[V2_SIG_BYTES] >> 4 != V2_VERSION)
		return proxy_fail(why, whylen, "v2: version is not 2");
	if (len < PROXY_V2_FIXED_BYTES)
		return 0;
	cmd = buf[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return proxy_fail(why, whylen, "v2: command is neither LOCAL "
		    "nor PROXY");
	body = (size_t)buf[14] << 8 | buf[15];
	if (body > PROXY_V2_BODY_MAX_BYTES) {
		(void)snprintf(why, whylen, "v2: %zu bytes of addresses and "
		    "TLVs, more than %d", body, PROXY_V2_BODY_MAX_BYTES);
		return -1;
	}
	/* LOCAL: the family is ignored, addresses and TLVs skipped. */
	if (cmd == V2_CMD_PROXY) {
		if ((addrlen = proxy_v2_addr_bytes(buf[13], why, whylen)) ==
		    -1)
			return -1;
		if ((size_t)addrlen > body)
			return proxy_fail(why, whylen, "v2: length too short "
			    "for its addresses");
	}
	if (len < PROXY_V2_FIXED_BYTES + body)
		return 0;
	h->version = 2;
	h->local = 1;
	if (cmd == V2_CMD_LOCAL || addrlen == 0)
		return (int)(PROXY_V2_FIXED_BYTES + body);
	if (proxy_v2_tlvs(buf + PROXY_V2_FIXED_BYTES + addrlen,
	    body - addrlen, why, whylen) == -1)
		return -1;
	if (addrlen == V2_INET_BYTES)
		proxy_v2_inet(buf + PROXY_V2_FIXED_BYTES, h);
	else if (addrlen == V2_INET6_BYTES)
		proxy_v2_inet6(buf + PROXY_V2_FIXED_BYTES, h);
	else
		return (int)(PROXY_V2_FIXED_BYTES + body);	/* AF_UNIX */
	h->local = 0;
	return (int)(PROXY_V2_FIXED_BYTES + body);
}

int
proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *h, char *why,
    size_t whylen)
{
	size_t	n;

	memset(h, 0, sizeof(*h));
	if (whylen > 0)
		why[0] = '\0';
	if (len == 0)
		return 0;
	if (buf[0] == v2_sig[0]) {
		n = len < V2_SIG_BYTES ? len : V2_SIG_BYTES;
		if (memcmp(buf, v2_sig, n) != 0)
			return proxy_fail(why, whylen, "v2: bad signature");
		if (len < V2_SIG_BYTES)
			return 0;
		return proxy_v2(buf, len, h, why, whylen);
	}
	n = len < V1_PREFIX_BYTES ? len : V1_PREFIX_BYTES;
	if (memcmp(buf, V1_PREFIX, n) != 0)
		return proxy_fail(why, whylen, "not a PROXY protocol header");
	if (len < V1_PREFIX_BYTES)
		return 0;
	return proxy_v1(buf, len, h, why, whylen);
}
