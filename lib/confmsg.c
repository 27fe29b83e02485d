/*
 * Configuration over imsg: the parent sends each set value with where it
 * came from, then each virtual domain and its keys; the child validates it
 * again with conf_set() and conf_vset() and derives its listeners with
 * conf_finish(), the same code the parent ran.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "confmsg.h"
#include "log.h"
#include "msg.h"

/* One virtual domain: its entry, then each key it sets. */
static int
conf_send_vdomain(struct chan *ch, const struct mmp_conf *conf, int sect,
    int i, enum conf_dest dest)
{
	const struct conf_vdomain	*vd = &conf->vd[sect][i];
	const struct conf_value		*cv;
	struct msg_writer		 w;
	int				 k;

	msg_writer_init(&w);
	msg_add_u8(&w, sect);
	msg_add_u16(&w, i);
	msg_add_str(&w, vd->name);
	msg_add_str(&w, vd->addr);
	msg_add_str(&w, vd->file);
	msg_add_u32(&w, vd->line);
	if (chan_compose_msg(ch, IMSG_CONF_VDOMAIN, 0, -1, &w) == -1)
		return -1;
	for (k = 0; k < CK_NKEYS; k++) {
		cv = &vd->v[k];
		if (!cv->isset || !conf_sent_to(k, dest))
			continue;
		msg_writer_init(&w);
		msg_add_u8(&w, sect);
		msg_add_u16(&w, i);
		msg_add_u16(&w, k);
		msg_add_str(&w, cv->str);
		msg_add_str(&w, cv->file);
		msg_add_u32(&w, cv->line);
		/* Composing wipes w: it may have held a secret. */
		if (chan_compose_msg(ch, IMSG_CONF_VDKV, 0, -1, &w) == -1)
			return -1;
	}
	return 0;
}

/* Each service's BGExcluded networks: only the relays match them. */
static int
conf_send_bgexcl(struct chan *ch, const struct mmp_conf *conf)
{
	struct msg_writer	w;
	char			text[128];
	size_t			i;
	int			sect;

	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		for (i = 0; i < conf->bgexcl[sect].n; i++) {
			bgexcl_text(&conf->bgexcl[sect].v[i], text,
			    sizeof(text));
			msg_writer_init(&w);
			msg_add_u8(&w, sect);
			msg_add_str(&w, text);
			if (chan_compose_msg(ch, IMSG_CONF_BGEXCL, 0, -1, &w) ==
			    -1)
				return -1;
		}
	return 0;
}

int
conf_send_begin(struct chan *ch, const struct mmp_conf *conf, uint32_t gen,
    enum conf_dest dest)
{
	size_t				 i;
	struct msg_writer		 w;
	const struct conf_value	*cv;
	int			 sect, k;

	msg_writer_init(&w);
	msg_add_u32(&w, gen);
	if (chan_compose_msg(ch, IMSG_CONF_START, 0, -1, &w) == -1)
		return -1;
	for (sect = 0; sect < CONF_NSECT; sect++) {
		for (k = 0; k < CK_NKEYS; k++) {
			cv = &conf->v[sect][k];
			if (!cv->isset || !conf_sent_to(k, dest))
				continue;
			msg_writer_init(&w);
			msg_add_u8(&w, sect);
			msg_add_u16(&w, k);
			msg_add_str(&w, cv->str);
			msg_add_str(&w, cv->file);
			msg_add_u32(&w, cv->line);
			/* Composing wipes w: it may have held a secret. */
			if (chan_compose_msg(ch, IMSG_CONF_KV, 0, -1, &w) ==
			    -1)
				return -1;
		}
	}
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		for (i = 0; i < conf->nvd[sect]; i++)
			if (conf_send_vdomain(ch, conf, sect, (int)i, dest) ==
			    -1)
				return -1;
	if (dest == CONF_TO_RELAY)
		return conf_send_bgexcl(ch, conf);
	return 0;
}

int
conf_send_end(struct chan *ch, uint32_t gen)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, gen);
	return chan_compose_msg(ch, IMSG_CONF_END, 0, -1, &w);
}

void
conf_rx_clear(struct conf_rx *rx)
{
	conf_free(rx->conf);
	rx->conf = NULL;
}

static int
conf_rx_kv(struct conf_rx *rx, struct imsg *imsg, char *err, size_t errlen)
{
	struct msg_reader	 r;
	char			 value[MMP_STR_BYTES], file[64];
	uint32_t		 line;
	uint16_t		 key;
	uint8_t			 sect;
	int			 rv = -1;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &sect) == -1 || msg_get_u16(&r, &key) == -1 ||
	    msg_get_str(&r, value, sizeof(value)) == -1 ||
	    msg_get_str(&r, file, sizeof(file)) == -1 ||
	    msg_get_u32(&r, &line) == -1 || msg_end(&r) == -1)
		(void)snprintf(err, errlen, "malformed configuration value");
	else if (sect >= CONF_NSECT || key >= CK_NKEYS || line > INT32_MAX)
		(void)snprintf(err, errlen, "configuration value out of range");
	else
		rv = conf_set(rx->conf, sect, key, value, file, line, err,
		    errlen);
	explicit_bzero(value, sizeof(value));
	return rv;
}

/* IMSG_CONF_VDOMAIN: the next domain of its section, in order. */
static int
conf_rx_vdomain(struct conf_rx *rx, struct imsg *imsg, char *err,
    size_t errlen)
{
	struct msg_reader	r;
	char			name[MMP_STR_BYTES], addr[MMP_STR_BYTES];
	char			file[64];
	uint32_t		line;
	uint16_t		idx;
	uint8_t			sect;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &sect) == -1 || msg_get_u16(&r, &idx) == -1 ||
	    msg_get_str(&r, name, sizeof(name)) == -1 ||
	    msg_get_str(&r, addr, sizeof(addr)) == -1 ||
	    msg_get_str(&r, file, sizeof(file)) == -1 ||
	    msg_get_u32(&r, &line) == -1 || msg_end(&r) == -1) {
		(void)snprintf(err, errlen, "malformed virtual domain");
		return -1;
	}
	if (!msg_sect_ok(sect) || idx != rx->conf->nvd[sect] ||
	    line > INT32_MAX || !msg_text_ok(file)) {
		(void)snprintf(err, errlen, "virtual domain out of range");
		return -1;
	}
	return conf_vdomain_add(rx->conf, sect, name, addr, file, line, err,
	    errlen) == -1 ? -1 : 0;
}

/* IMSG_CONF_VDKV: a key of a domain received before. */
static int
conf_rx_vdkv(struct conf_rx *rx, struct imsg *imsg, char *err, size_t errlen)
{
	struct msg_reader	 r;
	char			 value[MMP_STR_BYTES], file[64];
	uint32_t		 line;
	uint16_t		 idx, key;
	uint8_t			 sect;
	int			 rv = -1;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &sect) == -1 || msg_get_u16(&r, &idx) == -1 ||
	    msg_get_u16(&r, &key) == -1 ||
	    msg_get_str(&r, value, sizeof(value)) == -1 ||
	    msg_get_str(&r, file, sizeof(file)) == -1 ||
	    msg_get_u32(&r, &line) == -1 || msg_end(&r) == -1)
		(void)snprintf(err, errlen, "malformed virtual domain value");
	else if (!msg_sect_ok(sect) || idx >= rx->conf->nvd[sect] ||
	    key >= CK_NKEYS || line > INT32_MAX)
		(void)snprintf(err, errlen, "virtual domain value out of "
		    "range");
	else
		rv = conf_vset(rx->conf, sect, idx, key, value, file, line, err,
		    errlen);
	explicit_bzero(value, sizeof(value));
	return rv;
}

/* IMSG_CONF_BGEXCL: one more network, parsed again here. */
static int
conf_rx_bgexcl(struct conf_rx *rx, struct imsg *imsg, char *err,
    size_t errlen)
{
	struct msg_reader	r;
	struct netmask		nm;
	char			text[128], why[256];
	uint8_t			sect;

	msg_reader_init(&r, imsg);
	if (msg_get_u8(&r, &sect) == -1 ||
	    msg_get_str(&r, text, sizeof(text)) == -1 || msg_end(&r) == -1 ||
	    !msg_sect_ok(sect)) {
		(void)snprintf(err, errlen, "malformed BGExcluded network");
		return -1;
	}
	if (netmask_parse(text, &nm, why, sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "BGExcluded: %s", why);
		return -1;
	}
	if (bgexcl_add(&rx->conf->bgexcl[sect], &nm) == -1) {
		(void)snprintf(err, errlen, "BGExcluded: too many networks");
		return -1;
	}
	return 0;
}

static int
conf_rx_gen(struct imsg *imsg, uint32_t *gen)
{
	struct msg_reader	r;

	msg_reader_init(&r, imsg);
	if (msg_get_u32(&r, gen) == -1 || msg_end(&r) == -1)
		return -1;
	return 0;
}

int
conf_rx_imsg(struct conf_rx *rx, struct imsg *imsg, struct mmp_conf **out,
    uint32_t *genp, char *err, size_t errlen)
{
	uint32_t	gen;

	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
		conf_rx_clear(rx);
		if (conf_rx_gen(imsg, &rx->gen) == -1) {
			(void)snprintf(err, errlen, "malformed CONF_START");
			return -1;
		}
		if ((rx->conf = conf_new()) == NULL) {
			(void)snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	case IMSG_CONF_KV:
	case IMSG_CONF_VDOMAIN:
	case IMSG_CONF_VDKV:
	case IMSG_CONF_BGEXCL:
		if (rx->conf == NULL) {
			(void)snprintf(err, errlen, "%s outside START/END",
			    msg_type_name(imsg->hdr.type));
			return -1;
		}
		if ((imsg->hdr.type == IMSG_CONF_KV ? conf_rx_kv(rx, imsg, err,
		    errlen) : imsg->hdr.type == IMSG_CONF_VDOMAIN ?
		    conf_rx_vdomain(rx, imsg, err, errlen) :
		    imsg->hdr.type == IMSG_CONF_VDKV ?
		    conf_rx_vdkv(rx, imsg, err, errlen) :
		    conf_rx_bgexcl(rx, imsg, err, errlen)) == -1)
			break;
		return 0;
	case IMSG_CONF_END:
		if (rx->conf == NULL || conf_rx_gen(imsg, &gen) == -1 ||
		    gen != rx->gen) {
			(void)snprintf(err, errlen, "unexpected CONF_END");
			break;
		}
		if (conf_finish(rx->conf, err, errlen) == -1)
			break;
		*out = rx->conf;
		*genp = gen;
		rx->conf = NULL;
		return 1;
	default:
		(void)snprintf(err, errlen, "not a configuration message");
		return -1;
	}
	conf_rx_clear(rx);
	return -1;
}

void
conf_log_levels(const struct mmp_conf *conf, int verbose)
{
	int	sect;

	/* Sections and logs are numbered alike (config.h, log.h). */
	for (sect = 0; sect < CONF_NSECT; sect++)
		log_set_svc_level(sect, verbose ? LOG_DEBUG :
		    (int)conf_num(conf, sect, CK_LOGLEVEL));
}
