/*
 * libFuzzer target for mmpd/httpreq.c: any bytes are judged within the
 * buffer's bound; an accepted request ends in its empty line and has no
 * NUL, and a verdict on a prefix is never contradicted by more bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmpd/httpreq.h"

static int
known(enum http_verdict v)
{
	switch (v) {
	case HTTP_INCOMPLETE:
	case HTTP_OK:
	case HTTP_BAD_REQUEST:
	case HTTP_NOT_FOUND:
	case HTTP_METHOD_NOT_ALLOWED:
	case HTTP_URI_TOO_LONG:
	case HTTP_HEADERS_TOO_LARGE:
	case HTTP_VERSION_NOT_SUPPORTED:
		return 1;
	case HTTP_INTERNAL_ERROR:
		break;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request	 r;
	enum http_verdict	 v, vp;
	char			*buf;

	if (size > HTTP_REQUEST_MAX_BYTES)
		return 0;
	/* An exact copy: the parser must not read past len. */
	if ((buf = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(buf, data, size);
	v = http_request_parse(buf, size, &r);
	if (!known(v))
		abort();
	if (v == HTTP_INCOMPLETE && size == HTTP_REQUEST_MAX_BYTES)
		abort();
	if (v == HTTP_OK && (size < 4 || memchr(buf, '\0', size) != NULL ||
	    memcmp(buf + size - 4, "\r\n\r\n", 4) != 0 || r.head > 1))
		abort();
	/* What a prefix already settled stays settled. */
	if (size > 0) {
		vp = http_request_parse(buf, size - 1, &r);
		if (vp != HTTP_INCOMPLETE && v == HTTP_INCOMPLETE)
			abort();
		if (vp == HTTP_BAD_REQUEST && v != HTTP_BAD_REQUEST)
			abort();
	}
	free(buf);
	return 0;
}
