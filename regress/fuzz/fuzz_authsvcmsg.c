/*
 * libFuzzer target for lib/authsvcmsg.c: the input as the address of an
 * XQUERYAUTH (what authsvc_addr takes is an address inet_pton reads and
 * a fixed point), and as each of the three payloads (what a reader takes
 * keeps its promises and reads back the same once written again).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authsvcmsg.h"

static void
as_imsg(const void *data, size_t size, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = (void *)data;
	imsg->datalen = size;
}

static void
check_addr(const uint8_t *data, size_t size)
{
	char		out[AUTHSVC_ADDR_BYTES], again[AUTHSVC_ADDR_BYTES];
	unsigned char	bin[sizeof(struct in6_addr)];

	if (authsvc_addr((const char *)data, size, out, sizeof(out)) == -1)
		return;
	if (inet_pton(strchr(out, ':') ? AF_INET6 : AF_INET, out, bin) != 1 ||
	    authsvc_addr(out, strlen(out), again, sizeof(again)) == -1 ||
	    strcmp(out, again) != 0)
		abort();
}

static void
check_msgs(const uint8_t *data, size_t size)
{
	struct authsvc_record	rec, rec2;
	struct authsvc_query	q, q2;
	struct authsvc_answer	a, a2;
	struct msg_writer	w;
	struct imsg		imsg;

	as_imsg(data, size, &imsg);
	if (authsvc_record_read(&imsg, &rec) == 0) {
		if (rec.user[0] == '\0' || rec.ttl == 0 ||
		    rec.ttl > AUTHSVC_TTL_MAX || strpbrk(rec.user, "\r\n"))
			abort();
		msg_writer_init(&w);
		if (authsvc_record_write(&w, &rec) == -1)
			abort();
		as_imsg(w.buf, w.len, &imsg);
		if (authsvc_record_read(&imsg, &rec2) == -1 ||
		    memcmp(&rec, &rec2, sizeof(rec)) != 0)
			abort();
	}
	as_imsg(data, size, &imsg);
	if (authsvc_query_read(&imsg, &q) == 0) {
		msg_writer_init(&w);
		if (authsvc_query_write(&w, &q) == -1)
			abort();
		as_imsg(w.buf, w.len, &imsg);
		if (authsvc_query_read(&imsg, &q2) == -1 ||
		    memcmp(&q, &q2, sizeof(q)) != 0)
			abort();
	}
	as_imsg(data, size, &imsg);
	if (authsvc_answer_read(&imsg, &a) == 0) {
		if (strpbrk(a.user, "\r\n") != NULL)
			abort();
		msg_writer_init(&w);
		if (authsvc_answer_write(&w, &a) == -1)
			abort();
		as_imsg(w.buf, w.len, &imsg);
		if (authsvc_answer_read(&imsg, &a2) == -1 ||
		    memcmp(&a, &a2, sizeof(a)) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_addr(data, size);
	check_msgs(data, size);
	return 0;
}
