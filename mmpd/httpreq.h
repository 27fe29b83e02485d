/*
 * The HTTP requests the statistics process answers (RFC 9110, 9112): one
 * request per connection, no body, read whole before it is judged. Pure
 * code. Strict: CRLF line ends only, a request line of three parts, header
 * names that are tokens, no control characters, bounded sizes.
 */
#ifndef MMP_HTTPREQ_H
#define MMP_HTTPREQ_H

#include <stddef.h>

#define HTTP_REQUEST_MAX_BYTES	4096	/* request line and headers */
#define HTTP_HEADERS_MAX	32
#define HTTP_TARGET_MAX_BYTES	256
#define HTTP_METRICS_PATH	"/metrics"

/* What a request amounts to; the status the answer carries. */
enum http_verdict {
	HTTP_INCOMPLETE = 0,	/* no end of headers yet: read more */
	HTTP_OK = 200,		/* GET /metrics */
	HTTP_BAD_REQUEST = 400,
	HTTP_NOT_FOUND = 404,
	HTTP_METHOD_NOT_ALLOWED = 405,
	HTTP_URI_TOO_LONG = 414,
	HTTP_HEADERS_TOO_LARGE = 431,
	HTTP_INTERNAL_ERROR = 500,	/* never the parser's: the page's */
	HTTP_VERSION_NOT_SUPPORTED = 505,
};

struct http_request {
	int	head;		/* HEAD: the answer without its body */
	int	minor;		/* HTTP/1.minor */
};

/*
 * Judge the len bytes a client sent so far (buf need not end in NUL).
 * HTTP_INCOMPLETE while the headers have not ended and fewer than
 * HTTP_REQUEST_MAX_BYTES came; else the verdict, with req filled for
 * HTTP_OK. Bytes after the empty line are a body or a second request:
 * neither is taken (400).
 */
enum http_verdict http_request_parse(const char *buf, size_t len,
	    struct http_request *req);
/* "Bad Request" for 400 ...; "Error" for a status not above. */
const char	*http_reason(enum http_verdict);

#endif /* MMP_HTTPREQ_H */
