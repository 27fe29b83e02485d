/*
 * IMSG_AUTHSVC_RECORD, _QUERY and _ANSWER: the one encoder and decoder of
 * each, and the parser of the address XQUERYAUTH asks about.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "authsvcmsg.h"

int
authsvc_addr(const char *s, size_t len, char *out, size_t outsz)
{
	unsigned char	bin[sizeof(struct in6_addr)];
	char		text[AUTHSVC_ADDR_BYTES];
	int		af;

	if (len == 0 || len >= sizeof(text) || memchr(s, '\0', len) != NULL ||
	    outsz < AUTHSVC_ADDR_BYTES)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	af = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, text, bin) != 1 ||
	    inet_ntop(af, bin, out, outsz) == NULL)
		return -1;
	return 0;
}

/* An address a reader takes: what authsvc_addr gives, and nothing else. */
static int
authsvc_addr_ok(const char *a)
{
	char	norm[AUTHSVC_ADDR_BYTES];

	return authsvc_addr(a, strlen(a), norm, sizeof(norm)) == 0 &&
	    strcmp(a, norm) == 0;
}

static int
authsvc_domain_ok(const char *d)
{
	return strlen(d) < AUTHSVC_DOMAIN_BYTES && msg_name_ok(d);
}

static int
authsvc_user_ok(const char *u)
{
	return strlen(u) <= MMP_USER_BYTES && msg_text_ok(u);
}

int
authsvc_record_write(struct msg_writer *w, const struct authsvc_record *rec)
{
	if (!authsvc_domain_ok(rec->domain) || !authsvc_addr_ok(rec->addr) ||
	    rec->user[0] == '\0' || !authsvc_user_ok(rec->user) ||
	    rec->ttl == 0 || rec->ttl > AUTHSVC_TTL_MAX)
		return msg_refuse(w);
	msg_add_str(w, rec->domain);
	msg_add_str(w, rec->addr);
	msg_add_str(w, rec->user);
	msg_add_u32(w, rec->ttl);
	return w->err ? -1 : 0;
}

int
authsvc_record_read(const struct imsg *imsg, struct authsvc_record *rec)
{
	struct msg_reader	r;

	memset(rec, 0, sizeof(*rec));
	msg_reader_init(&r, imsg);
	if (msg_get_str(&r, rec->domain, sizeof(rec->domain)) == -1 ||
	    msg_get_str(&r, rec->addr, sizeof(rec->addr)) == -1 ||
	    msg_get_str(&r, rec->user, sizeof(rec->user)) == -1 ||
	    msg_get_u32(&r, &rec->ttl) == -1 || msg_end(&r) == -1)
		return -1;
	if (!authsvc_domain_ok(rec->domain) || !authsvc_addr_ok(rec->addr) ||
	    rec->user[0] == '\0' || !authsvc_user_ok(rec->user) ||
	    rec->ttl == 0 || rec->ttl > AUTHSVC_TTL_MAX)
		return -1;
	return 0;
}

int
authsvc_query_write(struct msg_writer *w, const struct authsvc_query *q)
{
	if (!authsvc_domain_ok(q->domain) || !authsvc_addr_ok(q->addr))
		return msg_refuse(w);
	msg_add_u64(w, q->reqid);
	msg_add_str(w, q->domain);
	msg_add_str(w, q->addr);
	return w->err ? -1 : 0;
}

int
authsvc_query_read(const struct imsg *imsg, struct authsvc_query *q)
{
	struct msg_reader	r;

	memset(q, 0, sizeof(*q));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &q->reqid) == -1 ||
	    msg_get_str(&r, q->domain, sizeof(q->domain)) == -1 ||
	    msg_get_str(&r, q->addr, sizeof(q->addr)) == -1 ||
	    msg_end(&r) == -1)
		return -1;
	if (!authsvc_domain_ok(q->domain) || !authsvc_addr_ok(q->addr))
		return -1;
	return 0;
}

int
authsvc_answer_write(struct msg_writer *w, const struct authsvc_answer *a)
{
	if (!authsvc_user_ok(a->user))
		return msg_refuse(w);
	msg_add_u64(w, a->reqid);
	msg_add_str(w, a->user);
	return w->err ? -1 : 0;
}

int
authsvc_answer_read(const struct imsg *imsg, struct authsvc_answer *a)
{
	struct msg_reader	r;

	memset(a, 0, sizeof(*a));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &a->reqid) == -1 ||
	    msg_get_str(&r, a->user, sizeof(a->user)) == -1 ||
	    msg_end(&r) == -1 || !authsvc_user_ok(a->user))
		return -1;
	return 0;
}
