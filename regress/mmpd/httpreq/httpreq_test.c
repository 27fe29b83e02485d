/*
 * Unit test for mmpd/httpreq.c: the requests a scraper sends, and the
 * garbage, smuggling and oversized input the statistics port must turn
 * away; a request cut anywhere is incomplete, never judged early wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmpd/httpreq.h"
#include "regress/tap.h"

#define H11	"Host: 127.0.0.1:9100\r\n"

static const struct {
	const char		*req;
	enum http_verdict	 want;
	int			 head;
} cases[] = {
	{ "GET /metrics HTTP/1.1\r\n" H11 "\r\n", HTTP_OK, 0 },
	{ "GET /metrics HTTP/1.0\r\n\r\n", HTTP_OK, 0 },
	{ "HEAD /metrics HTTP/1.0\r\n\r\n", HTTP_OK, 1 },
	{ "GET /metrics?name[]=x HTTP/1.1\r\n" H11 "Accept: text/plain;"
	    "version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n"
	    "User-Agent: Prometheus/2.45.0\r\n"
	    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n", HTTP_OK, 0 },
	{ "GET /metrics HTTP/1.1\r\nhost:x\r\nContent-Length: 0\r\n\r\n",
	    HTTP_OK, 0 },
	{ "GET /metrics HTTP/1.1\r\nHost:\t x \t\r\n\r\n", HTTP_OK, 0 },
	/* not ours */
	{ "GET / HTTP/1.0\r\n\r\n", HTTP_NOT_FOUND, 0 },
	{ "GET /metrics/ HTTP/1.0\r\n\r\n", HTTP_NOT_FOUND, 0 },
	{ "GET /METRICS HTTP/1.0\r\n\r\n", HTTP_NOT_FOUND, 0 },
	{ "GET /metricsx HTTP/1.0\r\n\r\n", HTTP_NOT_FOUND, 0 },
	{ "GET /metrics#x HTTP/1.0\r\n\r\n", HTTP_NOT_FOUND, 0 },
	{ "POST /metrics HTTP/1.0\r\n\r\n", HTTP_METHOD_NOT_ALLOWED, 0 },
	{ "get /metrics HTTP/1.0\r\n\r\n", HTTP_METHOD_NOT_ALLOWED, 0 },
	{ "OPTIONS /metrics HTTP/1.1\r\n" H11 "\r\n",
	    HTTP_METHOD_NOT_ALLOWED, 0 },
	{ "GET /metrics HTTP/2.0\r\n\r\n", HTTP_VERSION_NOT_SUPPORTED, 0 },
	{ "GET /metrics HTTP/1.2\r\n\r\n", HTTP_VERSION_NOT_SUPPORTED, 0 },
	{ "GET /metrics HTTP/0.9\r\n\r\n", HTTP_VERSION_NOT_SUPPORTED, 0 },
	/* bad requests */
	{ "GET /metrics\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET  /metrics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics  HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0 \r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ " GET /metrics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics http/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.10\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET http://h/metrics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET * HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /met\x7frics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /m\xc3\xa9trics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "G(T /metrics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GETGETGETGETGETGETGET /metrics HTTP/1.0\r\n\r\n",
	    HTTP_BAD_REQUEST, 0 },
	{ "\r\nGET /metrics HTTP/1.0\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\n\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\n\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nA: b\rc\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.1\r\n" H11 H11 "\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nHost : x\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\n: x\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nNoColon\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nA: b\r\n c\r\n\r\n", HTTP_BAD_REQUEST,
	    0 },
	{ "GET /metrics HTTP/1.0\r\nA: \x01\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nA: \xff\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
	    HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\ncontent-length: 00\r\n\r\n",
	    HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n"
	    "\r\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n",
	    HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\n\r\n\r\n", HTTP_BAD_REQUEST, 0 },
	/* the tail of what came is still checked */
	{ "GET /metrics HTTP/1.0\r\nA: b\n", HTTP_BAD_REQUEST, 0 },
	{ "GET /metrics HTTP/1.0\r\nA: b\rX", HTTP_BAD_REQUEST, 0 },
	{ "GET / HTTP/1.0\r\n", HTTP_INCOMPLETE, 0 },
	{ "GET /metrics HTTP/1.0\r\nA: b\r", HTTP_INCOMPLETE, 0 },
	{ "GET /metr", HTTP_INCOMPLETE, 0 },
	{ "", HTTP_INCOMPLETE, 0 },
};

/* Every prefix of a good request is incomplete: nothing judged early. */
static void
test_prefixes(void)
{
	static const char	*req = "GET /metrics HTTP/1.1\r\n" H11 "\r\n";
	struct http_request	 r;
	size_t			 i, len = strlen(req);
	int			 bad = 0;

	for (i = 0; i < len; i++)
		if (http_request_parse(req, i, &r) != HTTP_INCOMPLETE) {
			tap_diag("prefix of %zu bytes judged", i);
			bad++;
		}
	tap_ok(bad == 0, "every prefix of a request is incomplete");
}

/* NUL inside, the limits on size and header count. */
static void
test_limits(void)
{
	struct http_request	 r;
	char			*buf, line[64];
	size_t			 len;
	int			 i;

	tap_is_int(http_request_parse("GET /metrics\0 HTTP/1.0\r\n\r\n", 26,
	    &r), HTTP_BAD_REQUEST, "NUL in the request line");
	if ((buf = calloc(1, HTTP_REQUEST_MAX_BYTES * 2)) == NULL)
		abort();
	memset(buf, 'a', HTTP_REQUEST_MAX_BYTES);
	tap_is_int(http_request_parse(buf, HTTP_REQUEST_MAX_BYTES, &r),
	    HTTP_URI_TOO_LONG, "a request line that fills the buffer");
	tap_is_int(http_request_parse(buf, HTTP_REQUEST_MAX_BYTES - 1, &r),
	    HTTP_INCOMPLETE, "one byte less may still end");
	len = (size_t)snprintf(buf, HTTP_REQUEST_MAX_BYTES * 2,
	    "GET /metrics HTTP/1.0\r\nX: ");
	memset(buf + len, 'v', HTTP_REQUEST_MAX_BYTES);
	tap_is_int(http_request_parse(buf, HTTP_REQUEST_MAX_BYTES, &r),
	    HTTP_HEADERS_TOO_LARGE, "headers that fill the buffer");
	(void)snprintf(buf, HTTP_REQUEST_MAX_BYTES * 2,
	    "GET /%0*d HTTP/1.0\r\n\r\n", HTTP_TARGET_MAX_BYTES, 0);
	tap_is_int(http_request_parse(buf, strlen(buf), &r),
	    HTTP_URI_TOO_LONG, "a target over %d bytes",
	    HTTP_TARGET_MAX_BYTES);
	len = (size_t)snprintf(buf, HTTP_REQUEST_MAX_BYTES * 2,
	    "GET /metrics HTTP/1.0\r\n");
	for (i = 0; i < HTTP_HEADERS_MAX; i++) {
		(void)snprintf(line, sizeof(line), "X-%d: y\r\n", i);
		(void)strlcat(buf, line, HTTP_REQUEST_MAX_BYTES * 2);
	}
	(void)strlcat(buf, "\r\n", HTTP_REQUEST_MAX_BYTES * 2);
	tap_is_int(http_request_parse(buf, strlen(buf), &r), HTTP_OK,
	    "%d headers", HTTP_HEADERS_MAX);
	buf[strlen(buf) - 2] = '\0';
	(void)strlcat(buf, "X-last: y\r\n\r\n", HTTP_REQUEST_MAX_BYTES * 2);
	tap_is_int(http_request_parse(buf, strlen(buf), &r),
	    HTTP_HEADERS_TOO_LARGE, "%d headers", HTTP_HEADERS_MAX + 1);
	(void)len;
	free(buf);
}

int
main(void)
{
	struct http_request	r;
	size_t			i;
	enum http_verdict	v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = http_request_parse(cases[i].req, strlen(cases[i].req), &r);
		tap_is_int(v, cases[i].want, "case %zu: %d", i,
		    (int)cases[i].want);
		if (v == HTTP_OK)
			tap_is_int(r.head, cases[i].head, "case %zu: HEAD", i);
	}
	test_prefixes();
	test_limits();
	tap_is_str(http_reason(HTTP_METHOD_NOT_ALLOWED), "Method Not Allowed",
	    "reason of 405");
	return tap_done();
}
