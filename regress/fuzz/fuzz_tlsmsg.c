/*
 * libFuzzer target for lib/tlsmsg.c, the payloads of mmp-tlsd's messages:
 * the input is read as each; what a reader takes must keep its promises
 * (ranges, names only with a verified certificate, no control character)
 * and read back the same after it is written again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tlsmsg.h"

static void
as_imsg(const uint8_t *data, size_t size, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = (uint8_t *)data;
	imsg->datalen = size;
}

static int
has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
check_file_hdr(const struct imsg *imsg)
{
	struct tls_file_hdr	h, again;
	struct msg_writer	w;
	struct imsg		back;

	if (tls_file_hdr_read(imsg, &h) == -1)
		return;
	if ((h.sect != SVC_IMAP && h.sect != SVC_POP) ||
	    h.kind >= TLS_FILE_MAX || h.index >= TLS_CERTS_MAX ||
	    has_ctrl(h.path))
		abort();
	msg_writer_init(&w);
	if (tls_file_hdr_write(&w, &h) == -1)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (tls_file_hdr_read(&back, &again) == -1 ||
	    memcmp(&h, &again, sizeof(h)) != 0)
		abort();
}

static void
check_keys(const struct imsg *imsg)
{
	struct tls_ticket_keys	k, again;
	struct msg_writer	w;
	struct imsg		back;

	if (tls_ticket_keys_read(imsg, &k) == -1)
		return;
	if (k.n == 0 || k.n > TLS_TICKET_KEYS_MAX)
		abort();
	msg_writer_init(&w);
	tls_ticket_keys_write(&w, &k);
	as_imsg(w.buf, w.len, &back);
	if (tls_ticket_keys_read(&back, &again) == -1 ||
	    memcmp(&k, &again, sizeof(k)) != 0)
		abort();
}

static void
check_start(const struct imsg *imsg)
{
	struct tls_start	s, again;
	struct msg_writer	w;
	struct imsg		back;
	uint64_t		id;

	if (tls_plain_read(imsg, &id) == 0 && imsg->datalen != 8)
		abort();
	if (tls_start_read(imsg, &s) == -1)
		return;
	if (s.role >= TLS_ROLE_MAX ||
	    (s.role == TLS_ROLE_SERVER) != (s.servername[0] == '\0'))
		abort();
	msg_writer_init(&w);
	if (tls_start_write(&w, &s) == -1)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (tls_start_read(&back, &again) == -1 ||
	    memcmp(&s, &again, sizeof(s)) != 0)
		abort();
}

static void
check_result(const struct imsg *imsg)
{
	struct tls_result	t, again;
	struct msg_writer	w;
	struct imsg		back;
	uint8_t			i;

	if (tls_result_read(imsg, &t) == -1)
		return;
	if (t.status >= TLS_STATUS_MAX || t.cert >= TLS_CERT_MAX ||
	    t.nfields > TLS_SUBJECT_FIELDS_MAX ||
	    (t.cert == TLS_CERT_VERIFIED) != (t.subject[0] != '\0') ||
	    (t.cert != TLS_CERT_VERIFIED && t.nfields != 0) ||
	    has_ctrl(t.detail) || has_ctrl(t.subject) || has_ctrl(t.issuer))
		abort();
	for (i = 0; i < t.nfields; i++)
		if (has_ctrl(t.field[i].value) ||
		    strpbrk(t.field[i].attr, "=, +") != NULL ||
		    t.field[i].attr[0] == '\0')
			abort();
	msg_writer_init(&w);
	tls_result_write(&w, &t);
	as_imsg(w.buf, w.len, &back);
	if (w.err || tls_result_read(&back, &again) == -1 ||
	    memcmp(&t, &again, sizeof(t)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsg	imsg;

	if (size > IMSG_MAX_BYTES)
		return 0;
	as_imsg(data, size, &imsg);
	check_file_hdr(&imsg);
	check_keys(&imsg);
	check_start(&imsg);
	check_result(&imsg);
	return 0;
}
