/*
 * The statistics process's HTTP request parser: a request line and its
 * headers, judged line by line as they come so that garbage is answered
 * at its first bad line, not after the client filled the buffer.
 */
#include <string.h>
#include <strings.h>

#include "httpreq.h"

#define HTTP_METHOD_MAX_BYTES	16

/* RFC 9110 5.6.2: tchar. */
static int
http_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
http_token(const char *p, size_t len)
{
	size_t	i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] == '\0' || !http_tchar((unsigned char)p[i]))
			return 0;
	return 1;
}

/* "HTTP/1.1" -> 1; a version we do not speak 505, nonsense 400. */
static enum http_verdict
http_version(const char *p, size_t len, int *minor)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' ||
	    p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
		return HTTP_BAD_REQUEST;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return HTTP_VERSION_NOT_SUPPORTED;
	*minor = p[7] - '0';
	return HTTP_OK;
}

/* origin-form, visible ASCII; only /metrics (any query) is there. */
static enum http_verdict
http_target(const char *p, size_t len)
{
	size_t	i, path;

	if (len == 0 || p[0] != '/')
		return HTTP_BAD_REQUEST;
	if (len > HTTP_TARGET_MAX_BYTES)
		return HTTP_URI_TOO_LONG;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return HTTP_BAD_REQUEST;
	for (path = 0; path < len && p[path] != '?'; path++)
		continue;
	if (path != strlen(HTTP_METRICS_PATH) ||
	    memcmp(p, HTTP_METRICS_PATH, path) != 0)
		return HTTP_NOT_FOUND;
	return HTTP_OK;
}

/* METHOD SP target SP HTTP/1.x: the verdict of the request as a whole. */
static enum http_verdict
http_request_line(const char *p, size_t len, struct http_request *req)
{
	const char		*sp1, *sp2;
	size_t			 mlen, tlen;
	enum http_verdict	 v;

	if ((sp1 = memchr(p, ' ', len)) == NULL)
		return HTTP_BAD_REQUEST;
	mlen = sp1 - p;
	if ((sp2 = memchr(sp1 + 1, ' ', len - mlen - 1)) == NULL)
		return HTTP_BAD_REQUEST;
	tlen = sp2 - sp1 - 1;
	if (mlen > HTTP_METHOD_MAX_BYTES || !http_token(p, mlen))
		return HTTP_BAD_REQUEST;
	if ((v = http_version(sp2 + 1, len - mlen - tlen - 2,
	    &req->minor)) != HTTP_OK)
		return v;
	if ((v = http_target(sp1 + 1, tlen)) == HTTP_BAD_REQUEST ||
	    v == HTTP_URI_TOO_LONG)
		return v;
	req->head = 0;
	if (mlen == 4 && memcmp(p, "HEAD", 4) == 0)
		req->head = 1;
	else if (mlen != 3 || memcmp(p, "GET", 3) != 0)
		return HTTP_METHOD_NOT_ALLOWED;
	return v;
}

/*
 * name ":" OWS value OWS. A request with a body has no business here
 * (and a Content-Length or Transfer-Encoding we ignored would let the
 * body pass for a second request): 400. 1 for a Host header, 0 for
 * another, -1 refused.
 */
static int
http_header(const char *p, size_t len)
{
	const char	*colon, *v;
	size_t		 nlen, vlen, i;

	if ((colon = memchr(p, ':', len)) == NULL)
		return -1;
	nlen = colon - p;
	if (!http_token(p, nlen))
		return -1;	/* also obs-fold: a line that starts blank */
	v = colon + 1;
	vlen = len - nlen - 1;
	for (i = 0; i < vlen; i++)
		if (v[i] != '\t' && ((unsigned char)v[i] < 0x20 ||
		    (unsigned char)v[i] >= 0x7f))
			return -1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", nlen) == 0)
		return -1;
	if (nlen == 14 && strncasecmp(p, "Content-Length", nlen) == 0 &&
	    (vlen != 1 || v[0] != '0'))
		return -1;
	return nlen == 4 && strncasecmp(p, "Host", nlen) == 0;
}

/* A line end other than CRLF, or a NUL, anywhere in what came. */
static int
http_bad_bytes(const char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return 1;
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return 1;
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return 1;
	}
	return 0;
}

enum http_verdict
http_request_parse(const char *buf, size_t len, struct http_request *req)
{
	enum http_verdict	 v = HTTP_INCOMPLETE;
	const char		*p = buf, *end = buf + len, *eol;
	int			 nheaders = 0, nhost = 0, h;

	memset(req, 0, sizeof(*req));
	if (http_bad_bytes(buf, len))
		return HTTP_BAD_REQUEST;
	while ((eol = memmem(p, end - p, "\r\n", 2)) != NULL) {
		if (p == buf) {
			v = http_request_line(p, eol - p, req);
			if (v == HTTP_BAD_REQUEST || v == HTTP_URI_TOO_LONG)
				return v;
		} else if (eol == p) {
			/* The end: nothing may follow, and 1.1 names a host. */
			if (eol + 2 != end ||
			    (req->minor == 1 && nhost != 1) || nhost > 1)
				return HTTP_BAD_REQUEST;
			return v;
		} else {
			if (++nheaders > HTTP_HEADERS_MAX)
				return HTTP_HEADERS_TOO_LARGE;
			if ((h = http_header(p, eol - p)) == -1)
				return HTTP_BAD_REQUEST;
			nhost += h;
		}
		p = eol + 2;
	}
	if (len >= HTTP_REQUEST_MAX_BYTES)
		return p == buf ? HTTP_URI_TOO_LONG : HTTP_HEADERS_TOO_LARGE;
	return HTTP_INCOMPLETE;
}

const char *
http_reason(enum http_verdict v)
{
	switch (v) {
	case HTTP_OK:
		return "OK";
	case HTTP_BAD_REQUEST:
		return "Bad Request";
	case HTTP_NOT_FOUND:
		return "Not Found";
	case HTTP_METHOD_NOT_ALLOWED:
		return "Method Not Allowed";
	case HTTP_URI_TOO_LONG:
		return "URI Too Long";
	case HTTP_HEADERS_TOO_LARGE:
		return "Request Header Fields Too Large";
	case HTTP_INTERNAL_ERROR:
		return "Internal Server Error";
	case HTTP_VERSION_NOT_SUPPORTED:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}
