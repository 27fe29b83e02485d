/*
 * libFuzzer target for lib/imsg.c as a receiver sees it: the typed msg_get
 * accessors over a hand-built imsg with a hostile payload (the first bytes
 * choose the calls), and imsg_get over hostile bytes arriving through a
 * socketpair. Reads must never pass the payload, and a failed get must
 * make msg_end fail.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define OPS_MAX		16
#define STREAM_MAX	(2 * IMSG_MAX_BYTES)

static int
reader_op(struct msg_reader *r, uint8_t op)
{
	uint8_t		 u8, data[64];
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	char		 small[8], big[512], *dup;
	int		 rv;

	switch (op % 9) {
	case 0:
		return msg_get_u8(r, &u8);
	case 1:
		return msg_get_u16(r, &u16);
	case 2:
		return msg_get_u32(r, &u32);
	case 3:
		return msg_get_u64(r, &u64);
	case 4:
		if ((rv = msg_get_str(r, small, sizeof(small))) == 0 &&
		    strlen(small) >= sizeof(small))
			abort();
		return rv;
	case 5:
		if ((rv = msg_get_str(r, big, sizeof(big))) == 0 &&
		    strlen(big) >= sizeof(big))
			abort();
		return rv;
	case 6:
		rv = msg_get_strdup(r, &dup);
		if ((rv == 0) != (dup != NULL))
			abort();
		free(dup);
		return rv;
	case 7:
		return msg_get_data(r, data, op % sizeof(data));
	default:
		return msg_get_data(r, NULL, 0);
	}
}

/* Run the chosen accessors; the payload may only shrink from the front. */
static void
read_payload(const struct imsg *imsg, const uint8_t *ops, size_t nops)
{
	struct msg_reader	r;
	size_t			i, left;
	int			failed = 0;

	msg_reader_init(&r, imsg);
	for (i = 0; i < nops; i++) {
		left = r.left;
		if (reader_op(&r, ops[i]) == -1)
			failed = 1;
		else if (failed)
			abort();
		if (r.left > left || r.left > imsg->datalen ||
		    (imsg->datalen > 0 &&
		    r.p != imsg->data + (imsg->datalen - r.left)))
			abort();
	}
	if (failed && msg_end(&r) != -1)
		abort();
	if (!failed && msg_end(&r) != (r.left == 0 ? 0 : -1))
		abort();
}

static void
fuzz_reader(const uint8_t *ops, size_t nops, const uint8_t *p, size_t len)
{
	struct imsg	imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.hdr.len = (uint32_t)(IMSG_HEADER_BYTES + len);
	if (len > 0 && (imsg.data = malloc(len)) == NULL)
		return;
	if (len > 0)
		memcpy(imsg.data, p, len);
	imsg.datalen = len;
	read_payload(&imsg, ops, nops);
	imsg_free(&imsg);
}

/* The same bytes as a stream from a peer process. */
static void
fuzz_stream(const uint8_t *ops, size_t nops, const uint8_t *p, size_t len)
{
	struct imsgbuf	ib;
	struct imsg	imsg;
	int		sv[2], r;
	ssize_t		n;

	if (len > STREAM_MAX)
		len = STREAM_MAX;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	if (len > 0 && write(sv[0], p, len) != (ssize_t)len) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	close(sv[0]);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	imsgbuf_init(&ib, sv[1]);
	for (r = 0; r != -1;) {
		n = imsgbuf_read(&ib);
		while ((r = imsg_get(&ib, &imsg)) == 1) {
			if (imsg.hdr.len < IMSG_HEADER_BYTES ||
			    imsg.hdr.len > IMSG_MAX_BYTES || imsg.datalen !=
			    imsg.hdr.len - IMSG_HEADER_BYTES || imsg.fd != -1)
				abort();
			read_payload(&imsg, ops, nops);
			imsg_free(&imsg);
		}
		if (n <= 0)
			break;
	}
	imsgbuf_clear(&ib);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	nops;

	if (size < 1)
		return 0;
	nops = data[0] % OPS_MAX;
	if (nops > size - 1)
		nops = size - 1;
	fuzz_reader(data + 1, nops, data + 1 + nops, size - 1 - nops);
	fuzz_stream(data + 1, nops, data + 1 + nops, size - 1 - nops);
	return 0;
}
