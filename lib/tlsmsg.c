/*
 * The payloads of mmp-tlsd's messages (lib/tlsmsg.h): one encoder and one
 * decoder of each, so that the parent, the relays and mmp-tlsd cannot
 * disagree on a field.
 */
#include <string.h>

#include "config.h"
#include "tlsmsg.h"

int
tls_file_hdr_write(struct msg_writer *w, const struct tls_file_hdr *h)
{
	if (!msg_sect_ok(h->sect) || h->kind >= TLS_FILE_MAX ||
	    h->index >= TLS_CERTS_MAX)
		return msg_refuse(w);
	msg_add_u8(w, h->sect);
	msg_add_u8(w, h->kind);
	msg_add_u8(w, h->index);
	msg_add_str(w, h->path);
	return w->err ? -1 : 0;
}

int
tls_file_hdr_read(const struct imsg *imsg, struct tls_file_hdr *h)
{
	struct msg_reader	r;

	memset(h, 0, sizeof(*h));
	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &h->sect) == -1 || msg_get_u8(&r, &h->kind) == -1 ||
	    msg_get_u8(&r, &h->index) == -1 ||
	    msg_get_str(&r, h->path, sizeof(h->path)) == -1 ||
	    msg_end(&r) == -1)
		return -1;
	if (!msg_sect_ok(h->sect) || h->kind >= TLS_FILE_MAX ||
	    h->index >= TLS_CERTS_MAX || !msg_text_ok(h->path) ||
	    (h->index != 0 && h->kind != TLS_FILE_CERT &&
	    h->kind != TLS_FILE_KEY))
		return -1;
	return 0;
}

void
tls_ticket_keys_write(struct msg_writer *w, const struct tls_ticket_keys *k)
{
	uint32_t	i, n = k->n <= TLS_TICKET_KEYS_MAX ? k->n :
			    TLS_TICKET_KEYS_MAX;

	msg_add_u32(w, n);
	msg_add_u32(w, k->lifetime_sec);
	for (i = 0; i < n; i++) {
		msg_add_data(w, k->key[i].name, sizeof(k->key[i].name));
		msg_add_data(w, k->key[i].aes, sizeof(k->key[i].aes));
		msg_add_data(w, k->key[i].hmac, sizeof(k->key[i].hmac));
	}
}

int
tls_ticket_keys_read(const struct imsg *imsg, struct tls_ticket_keys *k)
{
	struct msg_reader	r;
	uint32_t		i;

	memset(k, 0, sizeof(*k));
	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, &k->n) == -1 || k->n == 0 ||
	    k->n > TLS_TICKET_KEYS_MAX ||
	    msg_get_u32(&r, &k->lifetime_sec) == -1 || k->lifetime_sec == 0)
		return -1;
	for (i = 0; i < k->n; i++)
		if (msg_get_data(&r, k->key[i].name,
		    sizeof(k->key[i].name)) == -1 ||
		    msg_get_data(&r, k->key[i].aes,
		    sizeof(k->key[i].aes)) == -1 ||
		    msg_get_data(&r, k->key[i].hmac,
		    sizeof(k->key[i].hmac)) == -1)
			return -1;
	return msg_end(&r);
}

int
tls_start_write(struct msg_writer *w, const struct tls_start *s)
{
	if (s->role >= TLS_ROLE_MAX || !msg_sect_ok(s->sect))
		return msg_refuse(w);
	msg_add_u64(w, s->id);
	msg_add_u64(w, s->sid);
	msg_add_u8(w, s->role);
	msg_add_u8(w, s->sect);
	msg_add_str(w, s->peer);
	msg_add_str(w, s->local);
	msg_add_str(w, s->servername);
	return w->err ? -1 : 0;
}

int
tls_start_read(const struct imsg *imsg, struct tls_start *s)
{
	struct msg_reader	r;

	memset(s, 0, sizeof(*s));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &s->id) == -1 || msg_get_u64(&r, &s->sid) == -1 ||
	    msg_get_u8(&r, &s->role) == -1 ||
	    msg_get_u8(&r, &s->sect) == -1 ||
	    msg_get_str(&r, s->peer, sizeof(s->peer)) == -1 ||
	    msg_get_str(&r, s->local, sizeof(s->local)) == -1 ||
	    msg_get_str(&r, s->servername, sizeof(s->servername)) == -1 ||
	    msg_end(&r) == -1)
		return -1;
	if (s->role >= TLS_ROLE_MAX || !msg_sect_ok(s->sect) ||
	    !msg_name_ok(s->peer) || !msg_name_ok(s->local) ||
	    !msg_name_ok(s->servername) ||
	    (s->role == TLS_ROLE_SERVER) != (s->servername[0] == '\0'))
		return -1;
	return 0;
}

void
tls_plain_write(struct msg_writer *w, uint64_t id)
{
	msg_add_u64(w, id);
}

int
tls_plain_read(const struct imsg *imsg, uint64_t *id)
{
	struct msg_reader	r;

	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, id) == -1)
		return -1;
	return msg_end(&r);
}

void
tls_result_write(struct msg_writer *w, const struct tls_result *t)
{
	uint8_t	i, n = t->nfields <= TLS_SUBJECT_FIELDS_MAX ? t->nfields :
		    TLS_SUBJECT_FIELDS_MAX;

	msg_add_u64(w, t->id);
	msg_add_u8(w, t->status);
	msg_add_str(w, t->detail);
	msg_add_str(w, t->version);
	msg_add_str(w, t->cipher);
	msg_add_u8(w, t->resumed);
	msg_add_str(w, t->sni);
	msg_add_u8(w, t->cert);
	msg_add_str(w, t->subject);
	msg_add_str(w, t->issuer);
	msg_add_u8(w, n);
	for (i = 0; i < n; i++) {
		msg_add_str(w, t->field[i].attr);
		msg_add_str(w, t->field[i].value);
	}
}

/* The strings of a result: no control character in any. */
static int
tls_result_text_ok(const struct tls_result *t)
{
	uint8_t	i;

	if (!msg_text_ok(t->detail) || !msg_text_ok(t->version) ||
	    !msg_text_ok(t->cipher) || !msg_name_ok(t->sni) ||
	    !msg_text_ok(t->subject) || !msg_text_ok(t->issuer))
		return 0;
	for (i = 0; i < t->nfields; i++)
		if (!msg_attr_ok(t->field[i].attr) ||
		    !msg_text_ok(t->field[i].value))
			return 0;
	return 1;
}

int
tls_result_read(const struct imsg *imsg, struct tls_result *t)
{
	struct msg_reader	r;
	uint8_t			i;

	memset(t, 0, sizeof(*t));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &t->id) == -1 || msg_get_u8(&r, &t->status) == -1 ||
	    msg_get_str(&r, t->detail, sizeof(t->detail)) == -1 ||
	    msg_get_str(&r, t->version, sizeof(t->version)) == -1 ||
	    msg_get_str(&r, t->cipher, sizeof(t->cipher)) == -1 ||
	    msg_get_u8(&r, &t->resumed) == -1 ||
	    msg_get_str(&r, t->sni, sizeof(t->sni)) == -1 ||
	    msg_get_u8(&r, &t->cert) == -1 ||
	    msg_get_str(&r, t->subject, sizeof(t->subject)) == -1 ||
	    msg_get_str(&r, t->issuer, sizeof(t->issuer)) == -1 ||
	    msg_get_u8(&r, &t->nfields) == -1 ||
	    t->nfields > TLS_SUBJECT_FIELDS_MAX)
		return -1;
	for (i = 0; i < t->nfields; i++)
		if (msg_get_str(&r, t->field[i].attr,
		    sizeof(t->field[i].attr)) == -1 ||
		    msg_get_str(&r, t->field[i].value,
		    sizeof(t->field[i].value)) == -1)
			return -1;
	if (msg_end(&r) == -1 || t->status >= TLS_STATUS_MAX ||
	    t->cert >= TLS_CERT_MAX || t->resumed > 1 ||
	    !tls_result_text_ok(t))
		return -1;
	/* Names only with a verified certificate, and then both. */
	if (t->cert == TLS_CERT_VERIFIED) {
		if (t->subject[0] == '\0' || t->nfields == 0 ||
		    t->status != TLS_OK)
			return -1;
	} else if (t->subject[0] != '\0' || t->issuer[0] != '\0' ||
	    t->nfields != 0)
		return -1;
	return 0;
}
