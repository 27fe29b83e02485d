/*
 * IMSG_CLIENT_NAME and IMSG_CLIENT_NAME_RESULT: the one encoder and
 * decoder of each, so that the relay and mmp-ldapd cannot disagree on a
 * field, and each checks what it must not trust.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <string.h>

#include "namemsg.h"
#include "tcpaccess.h"

int
name_host_ok(const char *s)
{
	size_t	i, len = strlen(s), label = 0;

	if (len == 0 || len >= NAME_HOST_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
name_addr_ok(const char *s)
{
	unsigned char	a[sizeof(struct in6_addr)];
	char		canon[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, canon, sizeof(canon)) != NULL &&
		    strcmp(canon, s) == 0;
	if (inet_pton(AF_INET6, s, a) != 1 ||
	    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
		return 0;
	return inet_ntop(AF_INET6, a, canon, sizeof(canon)) != NULL &&
	    strcmp(canon, s) == 0;
}

int
name_req_write(struct msg_writer *w, const struct name_req *rq)
{
	if (!name_addr_ok(rq->addr))
		return msg_refuse(w);
	msg_add_u64(w, rq->reqid);
	msg_add_u64(w, rq->sid);
	msg_add_str(w, rq->addr);
	return w->err ? -1 : 0;
}

int
name_req_read(const struct imsg *imsg, struct name_req *rq)
{
	struct msg_reader	r;

	memset(rq, 0, sizeof(*rq));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &rq->reqid) == -1 ||
	    msg_get_u64(&r, &rq->sid) == -1 ||
	    msg_get_str(&r, rq->addr, sizeof(rq->addr)) == -1 ||
	    msg_end(&r) == -1 || !name_addr_ok(rq->addr))
		return -1;
	return 0;
}

static int
name_answer_ok(const struct name_answer *a)
{
	if (a->status != TCPA_NAME_KNOWN && a->status != TCPA_NAME_UNKNOWN &&
	    a->status != TCPA_NAME_SPOOFED)
		return 0;
	if (a->status == TCPA_NAME_UNKNOWN ? a->name[0] != '\0' :
	    !name_host_ok(a->name))
		return 0;
	return msg_text_ok(a->detail);
}

int
name_answer_write(struct msg_writer *w, const struct name_answer *a)
{
	if (!name_answer_ok(a))
		return msg_refuse(w);
	msg_add_u64(w, a->reqid);
	msg_add_u8(w, a->status);
	msg_add_str(w, a->name);
	msg_add_str(w, a->detail);
	return w->err ? -1 : 0;
}

int
name_answer_read(const struct imsg *imsg, struct name_answer *a)
{
	struct msg_reader	r;

	memset(a, 0, sizeof(*a));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &a->reqid) == -1 ||
	    msg_get_u8(&r, &a->status) == -1 ||
	    msg_get_str(&r, a->name, sizeof(a->name)) == -1 ||
	    msg_get_str(&r, a->detail, sizeof(a->detail)) == -1 ||
	    msg_end(&r) == -1 || !name_answer_ok(a))
		return -1;
	return 0;
}
