/*
 * Unit test for lib/tlsmsg.c: every payload of mmp-tlsd reads back as it
 * was written, and each reader refuses what its process must not take:
 * short and trailing bytes, out of range numbers, a name where none is
 * due, a certificate's names without a verified certificate, control
 * characters and forged attributes in a subject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tlsmsg.h"
#include "regress/tap.h"

static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

/* Short by one byte and long by one: both refused. */
#define CUT_AND_PAD(w, imsg, fn, out, what) do {			\
	(w).len--;							\
	as_imsg(&(w), &(imsg));						\
	tap_is_int(fn(&(imsg), (out)), -1, "%s: short refused", (what));\
	msg_add_u8(&(w), 0);						\
	msg_add_u8(&(w), 0);						\
	as_imsg(&(w), &(imsg));						\
	tap_is_int(fn(&(imsg), (out)), -1, "%s: trailing byte refused",	\
	    (what));							\
} while (0)

static void
test_file_hdr(void)
{
	struct tls_file_hdr	h, got;
	struct msg_writer	w;
	struct imsg		imsg;

	memset(&h, 0, sizeof(h));
	h.sect = SVC_POP;
	h.kind = TLS_FILE_KEY;
	h.index = TLS_CERTS_MAX - 1;
	(void)strlcpy(h.path, "/etc/mmpd/pop.key", sizeof(h.path));
	msg_writer_init(&w);
	tap_is_int(tls_file_hdr_write(&w, &h), 0, "file header written");
	as_imsg(&w, &imsg);
	tap_is_int(tls_file_hdr_read(&imsg, &got), 0, "file header read");
	tap_ok(memcmp(&h, &got, sizeof(h)) == 0, "file header the same");
	CUT_AND_PAD(w, imsg, tls_file_hdr_read, &got, "file header");

	h.kind = TLS_FILE_KEYPASS;
	h.index = 1;
	msg_writer_init(&w);
	msg_add_u8(&w, h.sect);
	msg_add_u8(&w, h.kind);
	msg_add_u8(&w, h.index);
	msg_add_str(&w, h.path);
	as_imsg(&w, &imsg);
	tap_is_int(tls_file_hdr_read(&imsg, &got), -1, "an index on a KEYPASS "
	    "refused");
	h.index = 0;
	h.sect = CONF_GLOBAL;
	msg_writer_init(&w);
	tap_is_int(tls_file_hdr_write(&w, &h), -1, "section 0 not written");
	tap_is_int(w.err, 1, "the writer is marked failed");
	h.sect = CONF_NSECT;
	msg_writer_init(&w);
	tap_is_int(tls_file_hdr_write(&w, &h), -1, "section 3 not written");
}

static void
test_keys(void)
{
	struct tls_ticket_keys	k, got;
	struct msg_writer	w;
	struct imsg		imsg;
	uint32_t		i;

	memset(&k, 0, sizeof(k));
	k.n = TLS_TICKET_KEYS_MAX;
	k.lifetime_sec = 7200;
	for (i = 0; i < k.n; i++) {
		memset(k.key[i].name, 'a' + i, sizeof(k.key[i].name));
		memset(k.key[i].aes, 'A' + i, sizeof(k.key[i].aes));
		memset(k.key[i].hmac, '0' + i, sizeof(k.key[i].hmac));
	}
	msg_writer_init(&w);
	tls_ticket_keys_write(&w, &k);
	as_imsg(&w, &imsg);
	tap_is_int(tls_ticket_keys_read(&imsg, &got), 0, "%d keys read",
	    TLS_TICKET_KEYS_MAX);
	tap_ok(memcmp(&k, &got, sizeof(k)) == 0, "keys the same");
	CUT_AND_PAD(w, imsg, tls_ticket_keys_read, &got, "keys");

	msg_writer_init(&w);
	msg_add_u32(&w, 0);
	msg_add_u32(&w, 7200);
	as_imsg(&w, &imsg);
	tap_is_int(tls_ticket_keys_read(&imsg, &got), -1, "n = 0 refused");
	msg_writer_init(&w);
	msg_add_u32(&w, TLS_TICKET_KEYS_MAX + 1);
	msg_add_u32(&w, 7200);
	for (i = 0; i < TLS_TICKET_KEYS_MAX + 1; i++)
		msg_add_data(&w, &k.key[0], sizeof(k.key[0]));
	as_imsg(&w, &imsg);
	tap_is_int(tls_ticket_keys_read(&imsg, &got), -1, "n = %d refused",
	    TLS_TICKET_KEYS_MAX + 1);
}

static void
test_start(void)
{
	struct tls_start	s, got;
	struct msg_writer	w;
	struct imsg		imsg;

	memset(&s, 0, sizeof(s));
	s.id = 0x0102030405060708ULL;
	s.sid = 0x1000000000003ULL;
	s.role = TLS_ROLE_CLIENT;
	s.sect = SVC_IMAP;
	(void)strlcpy(s.peer, "192.0.2.1:993", sizeof(s.peer));
	(void)strlcpy(s.local, "[2001:db8::1]:50000", sizeof(s.local));
	(void)strlcpy(s.servername, "store1.example.com",
	    sizeof(s.servername));
	msg_writer_init(&w);
	tap_is_int(tls_start_write(&w, &s), 0, "start written");
	as_imsg(&w, &imsg);
	tap_is_int(tls_start_read(&imsg, &got), 0, "start read");
	tap_ok(memcmp(&s, &got, sizeof(s)) == 0, "start the same");
	tap_ok(got.id == s.id && got.sid == 0x1000000000003ULL,
	    "handoff id and session id kept apart");
	CUT_AND_PAD(w, imsg, tls_start_read, &got, "start");

	s.role = TLS_ROLE_SERVER;
	msg_writer_init(&w);
	tap_is_int(tls_start_write(&w, &s), 0, "a SERVER with a name is "
	    "written (the writer checks ranges only)");
	as_imsg(&w, &imsg);
	tap_is_int(tls_start_read(&imsg, &got), -1, "a SERVER with a "
	    "servername refused");
	s.role = TLS_ROLE_CLIENT;
	s.servername[0] = '\0';
	msg_writer_init(&w);
	(void)tls_start_write(&w, &s);
	as_imsg(&w, &imsg);
	tap_is_int(tls_start_read(&imsg, &got), -1, "a CLIENT without a "
	    "servername refused");
	(void)strlcpy(s.servername, "store 1", sizeof(s.servername));
	msg_writer_init(&w);
	(void)tls_start_write(&w, &s);
	as_imsg(&w, &imsg);
	tap_is_int(tls_start_read(&imsg, &got), -1, "a blank in the name "
	    "refused");
	s.sect = CONF_GLOBAL;
	msg_writer_init(&w);
	tap_is_int(tls_start_write(&w, &s), -1, "sect 0 not written");
	msg_writer_init(&w);
	msg_add_u64(&w, 1);
	msg_add_u64(&w, 1);
	msg_add_u8(&w, TLS_ROLE_SERVER);
	msg_add_u8(&w, CONF_NSECT);
	msg_add_str(&w, "a");
	msg_add_str(&w, "b");
	msg_add_str(&w, "");
	as_imsg(&w, &imsg);
	tap_is_int(tls_start_read(&imsg, &got), -1, "sect 3 refused");
}

static void
test_plain(void)
{
	struct msg_writer	w;
	struct imsg		imsg;
	uint64_t		id = 0;

	msg_writer_init(&w);
	tls_plain_write(&w, 0xfeedULL);
	as_imsg(&w, &imsg);
	tap_ok(tls_plain_read(&imsg, &id) == 0 && id == 0xfeedULL,
	    "plain read back");
	CUT_AND_PAD(w, imsg, tls_plain_read, &id, "plain");
}

static void
verified(struct tls_result *t)
{
	memset(t, 0, sizeof(*t));
	t->id = 42;
	t->status = TLS_OK;
	(void)strlcpy(t->version, "TLSv1.3", sizeof(t->version));
	(void)strlcpy(t->cipher, "TLS_AES_256_GCM_SHA384", sizeof(t->cipher));
	t->resumed = 1;
	(void)strlcpy(t->sni, "imap.siroe.com", sizeof(t->sni));
	t->cert = TLS_CERT_VERIFIED;
	(void)strlcpy(t->subject, "CN=Pilar Lorca,OU=pilar,O=siroe.com",
	    sizeof(t->subject));
	(void)strlcpy(t->issuer, "CN=CA", sizeof(t->issuer));
	t->nfields = 3;
	(void)strlcpy(t->field[0].attr, "O", sizeof(t->field[0].attr));
	(void)strlcpy(t->field[0].value, "siroe.com",
	    sizeof(t->field[0].value));
	(void)strlcpy(t->field[1].attr, "OU", sizeof(t->field[1].attr));
	(void)strlcpy(t->field[1].value, "pilar", sizeof(t->field[1].value));
	(void)strlcpy(t->field[2].attr, "CN", sizeof(t->field[2].attr));
	(void)strlcpy(t->field[2].value, "Pilar Lorca, O=forged",
	    sizeof(t->field[2].value));
}

static int
result_rt(const struct tls_result *t, struct tls_result *got)
{
	struct msg_writer	w;
	struct imsg		imsg;

	msg_writer_init(&w);
	tls_result_write(&w, t);
	as_imsg(&w, &imsg);
	return tls_result_read(&imsg, got);
}

/* One field of the verified result spoilt, as the case says. */
enum spoil {
	SPOIL_CTRL_VALUE, SPOIL_DEL_VALUE, SPOIL_ATTR_EQ, SPOIL_ATTR_SPACE,
	SPOIL_NO_SUBJECT, SPOIL_NO_FIELDS, SPOIL_NOT_VERIFIED, SPOIL_FAILED,
	SPOIL_STATUS, SPOIL_CERT, SPOIL_CTRL_DETAIL, SPOIL_SNI, SPOIL_RESUMED,
	SPOIL_MAX
};

static const char *spoil_name[SPOIL_MAX] = {
	"a LF in a field value", "a DEL in a field value",
	"an attribute with '='", "an attribute with a space",
	"VERIFIED without subject", "VERIFIED without fields",
	"a subject without VERIFIED", "VERIFIED with TLS_FAILED",
	"status out of range", "cert out of range",
	"a CR in the detail", "a blank in the SNI", "resumed 2",
};

static void
spoil(struct tls_result *t, enum spoil s)
{
	switch (s) {
	case SPOIL_CTRL_VALUE:
		(void)strlcpy(t->field[2].value, "Pilar\nO=x",
		    sizeof(t->field[2].value));
		break;
	case SPOIL_DEL_VALUE:
		(void)strlcpy(t->field[2].value, "Pilar\x7f",
		    sizeof(t->field[2].value));
		break;
	case SPOIL_ATTR_EQ:
		(void)strlcpy(t->field[1].attr, "OU=x", sizeof(t->field[1].attr));
		break;
	case SPOIL_ATTR_SPACE:
		(void)strlcpy(t->field[1].attr, "O U", sizeof(t->field[1].attr));
		break;
	case SPOIL_NO_SUBJECT:
		t->subject[0] = '\0';
		break;
	case SPOIL_NO_FIELDS:
		t->nfields = 0;
		break;
	case SPOIL_NOT_VERIFIED:
		t->cert = TLS_CERT_REFUSED;
		break;
	case SPOIL_FAILED:
		t->status = TLS_FAILED;
		break;
	case SPOIL_STATUS:
		t->status = TLS_STATUS_MAX;
		break;
	case SPOIL_CERT:
		t->cert = TLS_CERT_MAX;
		break;
	case SPOIL_CTRL_DETAIL:
		(void)strlcpy(t->detail, "bad\r", sizeof(t->detail));
		break;
	case SPOIL_SNI:
		(void)strlcpy(t->sni, "a b", sizeof(t->sni));
		break;
	default:
		t->resumed = 2;
		break;
	}
}

static void
test_result(void)
{
	struct tls_result	t, got;
	struct msg_writer	w;
	struct imsg		imsg;
	int			s, i;

	verified(&t);
	tap_is_int(result_rt(&t, &got), 0, "verified result read");
	tap_ok(memcmp(&t, &got, sizeof(t)) == 0, "verified result the same, "
	    "a ',' inside a value stays in it");
	msg_writer_init(&w);
	tls_result_write(&w, &t);
	CUT_AND_PAD(w, imsg, tls_result_read, &got, "result");

	memset(&t, 0, sizeof(t));
	t.id = 7;
	t.status = TLS_FAILED;
	(void)strlcpy(t.detail, "name `x' not present in server certificate",
	    sizeof(t.detail));
	tap_is_int(result_rt(&t, &got), 0, "failed result read");
	tap_ok(memcmp(&t, &got, sizeof(t)) == 0, "failed result the same");

	for (s = 0; s < SPOIL_MAX; s++) {
		verified(&t);
		spoil(&t, s);
		tap_is_int(result_rt(&t, &got), -1, "%s refused",
		    spoil_name[s]);
	}

	/* More fields than allowed: the writer caps, a liar is refused. */
	verified(&t);
	msg_writer_init(&w);
	msg_add_u64(&w, t.id);
	msg_add_u8(&w, t.status);
	msg_add_str(&w, "");
	msg_add_str(&w, t.version);
	msg_add_str(&w, t.cipher);
	msg_add_u8(&w, 0);
	msg_add_str(&w, "");
	msg_add_u8(&w, TLS_CERT_VERIFIED);
	msg_add_str(&w, t.subject);
	msg_add_str(&w, t.issuer);
	msg_add_u8(&w, TLS_SUBJECT_FIELDS_MAX + 1);
	for (i = 0; i < TLS_SUBJECT_FIELDS_MAX + 1; i++) {
		msg_add_str(&w, "CN");
		msg_add_str(&w, "x");
	}
	as_imsg(&w, &imsg);
	tap_is_int(tls_result_read(&imsg, &got), -1, "%d fields refused",
	    TLS_SUBJECT_FIELDS_MAX + 1);
	verified(&t);
	t.nfields = TLS_SUBJECT_FIELDS_MAX + 5;
	for (i = 0; i < TLS_SUBJECT_FIELDS_MAX; i++) {
		(void)strlcpy(t.field[i].attr, "OU", sizeof(t.field[i].attr));
		(void)strlcpy(t.field[i].value, "v", sizeof(t.field[i].value));
	}
	tap_ok(result_rt(&t, &got) == 0 &&
	    got.nfields == TLS_SUBJECT_FIELDS_MAX,
	    "the writer never writes more than %d fields",
	    TLS_SUBJECT_FIELDS_MAX);
}

int
main(void)
{
	test_file_hdr();
	test_keys();
	test_start();
	test_plain();
	test_result();
	return tap_done();
}
