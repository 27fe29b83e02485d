/*
 * IMSG_CONF_CERTMAP and IMSG_CERTMAP: the one encoder and decoder of
 * each, so that the parent, the relays and mmp-ldapd cannot disagree.
 */
#include <string.h>

#include "config.h"
#include "certmapmsg.h"
#include "dn.h"

static int
conf_ok(const struct certmap_conf *cc)
{
	return msg_sect_ok(cc->sect) && cc->map.name[0] != '\0' &&
	    msg_text_ok(cc->map.name) && cc->map.issuer[0] != '\0' &&
	    msg_text_ok(cc->map.issuer) && certmap_comps_ok(&cc->map.dn) &&
	    certmap_comps_ok(&cc->map.filter);
}

static void
comps_write(struct msg_writer *w, const struct certmap_comps *cs)
{
	uint8_t	i;

	msg_add_u8(w, cs->state);
	msg_add_u8(w, cs->n);
	for (i = 0; i < cs->n; i++) {
		msg_add_str(w, cs->c[i].from);
		msg_add_str(w, cs->c[i].to);
	}
}

static int
comps_read(struct msg_reader *r, struct certmap_comps *cs)
{
	uint8_t	i;

	if (msg_get_u8(r, &cs->state) == -1 || msg_get_u8(r, &cs->n) == -1 ||
	    cs->n > CERTMAP_COMPS_MAX)
		return -1;
	for (i = 0; i < cs->n; i++)
		if (msg_get_str(r, cs->c[i].from, sizeof(cs->c[i].from)) ==
		    -1 || msg_get_str(r, cs->c[i].to, sizeof(cs->c[i].to)) ==
		    -1)
			return -1;
	return 0;
}

int
certmap_conf_write(struct msg_writer *w, const struct certmap_conf *cc)
{
	if (!conf_ok(cc))
		return msg_refuse(w);
	msg_add_u8(w, cc->sect);
	msg_add_str(w, cc->map.name);
	msg_add_str(w, cc->map.issuer);
	comps_write(w, &cc->map.dn);
	comps_write(w, &cc->map.filter);
	return w->err ? -1 : 0;
}

static int
conf_read(struct msg_reader *r, struct certmap_conf *cc)
{
	if (msg_get_u8(r, &cc->sect) == -1 ||
	    msg_get_str(r, cc->map.name, sizeof(cc->map.name)) == -1 ||
	    msg_get_str(r, cc->map.issuer, sizeof(cc->map.issuer)) == -1 ||
	    comps_read(r, &cc->map.dn) == -1 ||
	    comps_read(r, &cc->map.filter) == -1 || msg_end(r) == -1)
		return -1;
	return conf_ok(cc) ? 0 : -1;
}

int
certmap_conf_read(const struct imsg *imsg, struct certmap_conf *cc)
{
	struct msg_reader	r;

	memset(cc, 0, sizeof(*cc));
	msg_reader_init(&r, imsg);
	return conf_read(&r, cc);
}

int
certmap_vdconf_read(const struct imsg *imsg, uint16_t *vd,
    struct certmap_conf *cc)
{
	struct msg_reader	r;

	memset(cc, 0, sizeof(*cc));
	msg_reader_init(&r, imsg);
	if (msg_get_u16(&r, vd) == -1)
		return -1;
	return conf_read(&r, cc);
}

static int
req_ok(const struct certmap_req *rq)
{
	uint8_t	i;

	if (!msg_sect_ok(rq->svc) || rq->nfields == 0 ||
	    rq->nfields > TLS_SUBJECT_FIELDS_MAX || rq->subject[0] == '\0' ||
	    !msg_text_ok(rq->issuer) || !msg_text_ok(rq->subject) ||
	    !msg_text_ok(rq->client) || !msg_text_ok(rq->local))
		return 0;
	for (i = 0; i < rq->nfields; i++)
		if (!msg_attr_ok(rq->field[i].attr) ||
		    !msg_text_ok(rq->field[i].value))
			return 0;
	return 1;
}

int
certmap_req_write(struct msg_writer *w, const struct certmap_req *rq)
{
	uint8_t	i;

	if (!req_ok(rq))
		return msg_refuse(w);
	msg_add_u64(w, rq->reqid);
	msg_add_u64(w, rq->sid);
	msg_add_u8(w, rq->svc);
	msg_add_str(w, rq->issuer);
	msg_add_str(w, rq->subject);
	msg_add_u8(w, rq->nfields);
	for (i = 0; i < rq->nfields; i++) {
		msg_add_str(w, rq->field[i].attr);
		msg_add_str(w, rq->field[i].value);
	}
	msg_add_str(w, rq->client);
	msg_add_str(w, rq->local);
	return w->err ? -1 : 0;
}

int
certmap_req_read(const struct imsg *imsg, struct certmap_req *rq)
{
	struct msg_reader	r;
	uint8_t			i;

	memset(rq, 0, sizeof(*rq));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, &rq->reqid) == -1 ||
	    msg_get_u64(&r, &rq->sid) == -1 ||
	    msg_get_u8(&r, &rq->svc) == -1 ||
	    msg_get_str(&r, rq->issuer, sizeof(rq->issuer)) == -1 ||
	    msg_get_str(&r, rq->subject, sizeof(rq->subject)) == -1 ||
	    msg_get_u8(&r, &rq->nfields) == -1 ||
	    rq->nfields > TLS_SUBJECT_FIELDS_MAX)
		return -1;
	for (i = 0; i < rq->nfields; i++)
		if (msg_get_str(&r, rq->field[i].attr,
		    sizeof(rq->field[i].attr)) == -1 ||
		    msg_get_str(&r, rq->field[i].value,
		    sizeof(rq->field[i].value)) == -1)
			return -1;
	if (msg_get_str(&r, rq->client, sizeof(rq->client)) == -1 ||
	    msg_get_str(&r, rq->local, sizeof(rq->local)) == -1 ||
	    msg_end(&r) == -1)
		return -1;
	return req_ok(rq) ? 0 : -1;
}
