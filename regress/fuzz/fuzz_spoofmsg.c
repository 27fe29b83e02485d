/*
 * libFuzzer target for lib/spoofmsg.c: the input as a SpoofMessageFile
 * (what spoof_msg_make takes must be a message spoof_msg_ok accepts,
 * within bounds, and made again the same) and as an IMSG_CONF_SPOOF
 * payload (what spoof_msg_read takes is ok and reads back the same).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spoofmsg.h"

static void
check_file(const uint8_t *data, size_t size)
{
	static char	out[SPOOF_MSG_MAX_BYTES], again[SPOOF_MSG_MAX_BYTES];
	char		why[256];
	size_t		len, len2, body;

	if (spoof_msg_make((const char *)data, size, "mx.example", 0, out,
	    sizeof(out), &len, why, sizeof(why)) == -1)
		return;
	if (len == 0 || len > SPOOF_MSG_MAX_BYTES || !spoof_msg_ok(out, len))
		abort();
	body = spoof_msg_body(out, len);
	if (body == 0 || body > len)
		abort();
	/* A message made once is a message: made again, it stays. */
	if (spoof_msg_make(out, len, "mx.example", 0, again, sizeof(again),
	    &len2, why, sizeof(why)) == -1 || len2 != len ||
	    memcmp(out, again, len) != 0)
		abort();
}

static void
check_imsg(const uint8_t *data, size_t size)
{
	static char		buf[SPOOF_MSG_MAX_BYTES];
	static char		buf2[SPOOF_MSG_MAX_BYTES];
	struct msg_writer	w;
	struct imsg		imsg;
	size_t			len, len2;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = (uint8_t *)data;
	imsg.datalen = size;
	if (spoof_msg_read(&imsg, buf, &len) == -1)
		return;
	if (!spoof_msg_ok(buf, len))
		abort();
	msg_writer_init(&w);
	spoof_msg_write(&w, buf, len);
	imsg.data = w.buf;
	imsg.datalen = w.len;
	if (w.err || spoof_msg_read(&imsg, buf2, &len2) == -1 || len2 != len ||
	    memcmp(buf, buf2, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_file(data, size);
	check_imsg(data, size);
	return 0;
}
