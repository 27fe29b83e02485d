/*
 * Unit test for lib/certmapmsg.c: a mapping and a certificate request
 * read back as written; malformed payloads (short, trailing, out of
 * range, control characters) are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmapmsg.h"
#include "config.h"
#include "regress/tap.h"

static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static void
good_conf(struct certmap_conf *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->sect = SVC_POP;
	(void)strlcpy(cc->map.name, "siroe", sizeof(cc->map.name));
	(void)strlcpy(cc->map.issuer, "CN=Siroe CA, O=Siroe\\, Inc.",
	    sizeof(cc->map.issuer));
	cc->map.dn.state = CERTMAP_EMPTY;
	cc->map.filter.state = CERTMAP_LIST;
	cc->map.filter.n = 2;
	(void)strlcpy(cc->map.filter.c[0].from, "ou", CERTMAP_ATTR_BYTES);
	(void)strlcpy(cc->map.filter.c[0].to, "uid", CERTMAP_ATTR_BYTES);
	(void)strlcpy(cc->map.filter.c[1].from, "e", CERTMAP_ATTR_BYTES);
	(void)strlcpy(cc->map.filter.c[1].to, "mail", CERTMAP_ATTR_BYTES);
}

/* Write cc unchecked, as a lying parent would; read it. */
static int
raw_conf_read(const struct certmap_conf *cc, struct certmap_conf *got)
{
	struct msg_writer	w;
	struct imsg		imsg;
	uint8_t			i;

	msg_writer_init(&w);
	msg_add_u8(&w, cc->sect);
	msg_add_str(&w, cc->map.name);
	msg_add_str(&w, cc->map.issuer);
	msg_add_u8(&w, cc->map.dn.state);
	msg_add_u8(&w, cc->map.dn.n);
	for (i = 0; i < cc->map.dn.n && i < CERTMAP_COMPS_MAX; i++) {
		msg_add_str(&w, cc->map.dn.c[i].from);
		msg_add_str(&w, cc->map.dn.c[i].to);
	}
	msg_add_u8(&w, cc->map.filter.state);
	msg_add_u8(&w, cc->map.filter.n);
	for (i = 0; i < cc->map.filter.n && i < CERTMAP_COMPS_MAX; i++) {
		msg_add_str(&w, cc->map.filter.c[i].from);
		msg_add_str(&w, cc->map.filter.c[i].to);
	}
	as_imsg(&w, &imsg);
	return certmap_conf_read(&imsg, got);
}

static void
test_conf(void)
{
	struct certmap_conf	cc, got;
	struct msg_writer	w;
	struct imsg		imsg;

	good_conf(&cc);
	msg_writer_init(&w);
	tap_is_int(certmap_conf_write(&w, &cc), 0, "mapping written");
	as_imsg(&w, &imsg);
	tap_is_int(certmap_conf_read(&imsg, &got), 0, "mapping read");
	tap_ok(memcmp(&cc, &got, sizeof(cc)) == 0, "the same mapping");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(certmap_conf_read(&imsg, &got), -1, "short: refused");
	w.len += 2;
	as_imsg(&w, &imsg);
	tap_is_int(certmap_conf_read(&imsg, &got), -1, "trailing: refused");

	tap_is_int(raw_conf_read(&cc, &got), 0, "raw writer agrees");
	cc.sect = 0;
	tap_is_int(raw_conf_read(&cc, &got), -1, "section 0 refused");
	good_conf(&cc);
	cc.map.dn.state = CERTMAP_STATE_MAX;
	tap_is_int(raw_conf_read(&cc, &got), -1, "state out of range refused");
	good_conf(&cc);
	cc.map.filter.state = CERTMAP_EMPTY;
	tap_is_int(raw_conf_read(&cc, &got), -1, "EMPTY with components "
	    "refused");
	good_conf(&cc);
	cc.map.dn.state = CERTMAP_LIST;
	tap_is_int(raw_conf_read(&cc, &got), -1, "LIST without components "
	    "refused");
	good_conf(&cc);
	cc.map.filter.n = CERTMAP_COMPS_MAX + 1;
	tap_is_int(raw_conf_read(&cc, &got), -1, "%d components refused",
	    CERTMAP_COMPS_MAX + 1);
	good_conf(&cc);
	(void)strlcpy(cc.map.filter.c[1].to, "ma(il", CERTMAP_ATTR_BYTES);
	tap_is_int(raw_conf_read(&cc, &got), -1, "attribute ma(il refused");
	good_conf(&cc);
	(void)strlcpy(cc.map.issuer, "cn=a\nb", sizeof(cc.map.issuer));
	tap_is_int(raw_conf_read(&cc, &got), -1, "LF in the issuer refused");
	msg_writer_init(&w);
	tap_is_int(certmap_conf_write(&w, &cc), -1, "and never written");
	tap_is_int(w.err, 1, "the writer is marked failed");
	good_conf(&cc);
	cc.map.name[0] = '\0';
	tap_is_int(raw_conf_read(&cc, &got), -1, "empty name refused");
}

static void
good_req(struct certmap_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->reqid = 0x0102030405060708ULL;
	rq->sid = 0x1000000000003ULL;
	rq->svc = SVC_IMAP;
	(void)strlcpy(rq->issuer, "CN=Siroe CA,O=Siroe", sizeof(rq->issuer));
	(void)strlcpy(rq->subject, "CN=Pilar Lorca,OU=pilar,O=siroe.com",
	    sizeof(rq->subject));
	rq->nfields = 3;
	(void)strlcpy(rq->field[0].attr, "O", TLS_FIELD_ATTR_BYTES);
	(void)strlcpy(rq->field[0].value, "siroe.com", TLS_FIELD_VALUE_BYTES);
	(void)strlcpy(rq->field[1].attr, "OU", TLS_FIELD_ATTR_BYTES);
	(void)strlcpy(rq->field[1].value, "pilar, o=x*)(", TLS_FIELD_VALUE_BYTES);
	(void)strlcpy(rq->field[2].attr, "CN", TLS_FIELD_ATTR_BYTES);
	(void)strlcpy(rq->field[2].value, "Pilar Lorca \xc3\x91",
	    TLS_FIELD_VALUE_BYTES);
	(void)strlcpy(rq->client, "192.0.2.1:4711", sizeof(rq->client));
	(void)strlcpy(rq->local, "192.0.2.2:993", sizeof(rq->local));
}

/* rq written without the writer's checks. */
static int
raw_req_read(const struct certmap_req *rq, struct certmap_req *got)
{
	struct msg_writer	w;
	struct imsg		imsg;
	uint8_t			i;

	msg_writer_init(&w);
	msg_add_u64(&w, rq->reqid);
	msg_add_u64(&w, rq->sid);
	msg_add_u8(&w, rq->svc);
	msg_add_str(&w, rq->issuer);
	msg_add_str(&w, rq->subject);
	msg_add_u8(&w, rq->nfields);
	for (i = 0; i < rq->nfields && i < TLS_SUBJECT_FIELDS_MAX; i++) {
		msg_add_str(&w, rq->field[i].attr);
		msg_add_str(&w, rq->field[i].value);
	}
	msg_add_str(&w, rq->client);
	msg_add_str(&w, rq->local);
	as_imsg(&w, &imsg);
	return certmap_req_read(&imsg, got);
}

static void
test_req(void)
{
	struct certmap_req	rq, got;
	struct msg_writer	w;
	struct imsg		imsg;

	good_req(&rq);
	msg_writer_init(&w);
	tap_is_int(certmap_req_write(&w, &rq), 0, "request written");
	as_imsg(&w, &imsg);
	tap_is_int(certmap_req_read(&imsg, &got), 0, "request read");
	tap_ok(memcmp(&rq, &got, sizeof(rq)) == 0, "the same request");
	tap_ok(got.sid == 0x1000000000003ULL, "the session id survives");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(certmap_req_read(&imsg, &got), -1, "short: refused");
	w.len += 2;
	as_imsg(&w, &imsg);
	tap_is_int(certmap_req_read(&imsg, &got), -1, "trailing: refused");

	rq.svc = 3;
	tap_is_int(raw_req_read(&rq, &got), -1, "service 3 refused");
	good_req(&rq);
	rq.nfields = 0;
	tap_is_int(raw_req_read(&rq, &got), -1, "no field refused");
	good_req(&rq);
	rq.nfields = TLS_SUBJECT_FIELDS_MAX + 1;
	tap_is_int(raw_req_read(&rq, &got), -1, "%d fields refused",
	    TLS_SUBJECT_FIELDS_MAX + 1);
	good_req(&rq);
	rq.subject[0] = '\0';
	tap_is_int(raw_req_read(&rq, &got), -1, "empty subject refused");
	good_req(&rq);
	(void)strlcpy(rq.field[1].attr, "O U", TLS_FIELD_ATTR_BYTES);
	tap_is_int(raw_req_read(&rq, &got), -1, "attribute \"O U\" refused");
	good_req(&rq);
	rq.field[1].attr[0] = '\0';
	tap_is_int(raw_req_read(&rq, &got), -1, "empty attribute refused");
	good_req(&rq);
	rq.field[2].value[3] = '\r';
	tap_is_int(raw_req_read(&rq, &got), -1, "CR in a value refused");
	msg_writer_init(&w);
	tap_is_int(certmap_req_write(&w, &rq), -1, "and never written");
	tap_is_int(w.err, 1, "the writer is marked failed");
	good_req(&rq);
	rq.issuer[2] = 0x7f;
	tap_is_int(raw_req_read(&rq, &got), -1, "DEL in the issuer refused");
	good_req(&rq);
	rq.client[0] = '\t';
	tap_is_int(raw_req_read(&rq, &got), -1, "TAB in the client refused");
	good_req(&rq);
	memset(rq.field[0].value, 'v', sizeof(rq.field[0].value));
	rq.field[0].value[sizeof(rq.field[0].value) - 1] = 'v';
	tap_is_int(raw_req_read(&rq, &got), -1, "a value over its field "
	    "refused");
}

int
main(void)
{
	test_conf();
	test_req();
	return tap_done();
}
