/*
 * Unit test for the virtual domain messages of lib/confmsg.c as a child
 * reads them (IMSG_CONF_VDOMAIN, IMSG_CONF_VDKV): in order, in range,
 * every value validated again; anything else drops the configuration.
 */
#include <stdio.h>
#include <string.h>

#include "confmsg.h"
#include "msg.h"
#include "regress/tap.h"

static void
as_imsg(struct msg_writer *w, uint32_t type, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->hdr.type = type;
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static int
feed_gen(struct conf_rx *rx, uint32_t type, uint32_t gen,
    struct mmp_conf **out)
{
	struct msg_writer	w;
	struct imsg		imsg;
	char			err[256];
	uint32_t		g;

	msg_writer_init(&w);
	msg_add_u32(&w, gen);
	as_imsg(&w, type, &imsg);
	return conf_rx_imsg(rx, &imsg, out, &g, err, sizeof(err));
}

static int
feed_vd(struct conf_rx *rx, uint8_t sect, uint16_t idx, const char *name,
    const char *addr, int trailing, char *err, size_t errlen)
{
	struct msg_writer	 w;
	struct imsg		 imsg;
	struct mmp_conf		*out = NULL;
	uint32_t		 g;

	msg_writer_init(&w);
	msg_add_u8(&w, sect);
	msg_add_u16(&w, idx);
	msg_add_str(&w, name);
	msg_add_str(&w, addr);
	msg_add_str(&w, "vdmap.cfg");
	msg_add_u32(&w, 3);
	if (trailing)
		msg_add_u8(&w, 0);
	as_imsg(&w, IMSG_CONF_VDOMAIN, &imsg);
	return conf_rx_imsg(rx, &imsg, &out, &g, err, errlen);
}

static int
feed_kv(struct conf_rx *rx, uint8_t sect, uint16_t idx, uint16_t key,
    const char *value, char *err, size_t errlen)
{
	struct msg_writer	 w;
	struct imsg		 imsg;
	struct mmp_conf		*out = NULL;
	uint32_t		 g;

	msg_writer_init(&w);
	msg_add_u8(&w, sect);
	msg_add_u16(&w, idx);
	msg_add_u16(&w, key);
	msg_add_str(&w, value);
	msg_add_str(&w, "vdmap.cfg");
	msg_add_u32(&w, 4);
	as_imsg(&w, IMSG_CONF_VDKV, &imsg);
	return conf_rx_imsg(rx, &imsg, &out, &g, err, errlen);
}

/* A fresh configuration being received: START, the keys conf_finish needs. */
static void
start(struct conf_rx *rx)
{
	struct msg_writer	 w;
	struct imsg		 imsg;
	struct mmp_conf		*out = NULL;
	char			 err[256];
	uint32_t		 g;

	conf_rx_clear(rx);
	(void)feed_gen(rx, IMSG_CONF_START, 7, &out);
	msg_writer_init(&w);
	msg_add_u8(&w, CONF_GLOBAL);
	msg_add_u16(&w, CK_SERVICELIST);
	msg_add_str(&w, "imapproxy@1143");
	msg_add_str(&w, "AService.cfg");
	msg_add_u32(&w, 1);
	as_imsg(&w, IMSG_CONF_KV, &imsg);
	(void)conf_rx_imsg(rx, &imsg, &out, &g, err, sizeof(err));
	msg_writer_init(&w);
	msg_add_u8(&w, SVC_IMAP);
	msg_add_u16(&w, CK_LDAPURL);
	msg_add_str(&w, "ldap://127.0.0.1/o=x");
	msg_add_str(&w, "ImapProxyAService.cfg");
	msg_add_u32(&w, 1);
	as_imsg(&w, IMSG_CONF_KV, &imsg);
	(void)conf_rx_imsg(rx, &imsg, &out, &g, err, sizeof(err));
}

int
main(void)
{
	struct conf_rx	 rx;
	struct mmp_conf	*out = NULL;
	char		 err[256];

	memset(&rx, 0, sizeof(rx));
	tap_is_int(feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err,
	    sizeof(err)), -1, "VDOMAIN outside START/END refused");
	start(&rx);
	tap_is_int(feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err,
	    sizeof(err)), 0, "domain 0 taken");
	tap_is_int(feed_kv(&rx, SVC_IMAP, 0, CK_SEARCHFORMAT, "(mail=%s)",
	    err, sizeof(err)), 0, "its SearchFormat taken");
	tap_is_int(feed_kv(&rx, SVC_IMAP, 0, CK_BINDPASS, "pw", err,
	    sizeof(err)), 0, "its BindPass taken");
	tap_is_int(feed_vd(&rx, SVC_IMAP, 1, "b", "::ffff:127.0.0.3", 0, err,
	    sizeof(err)), 0, "domain 1 taken");
	tap_is_int(feed_gen(&rx, IMSG_CONF_END, 7, &out), 1,
	    "configuration complete");
	tap_ok(out != NULL && out->nvd[SVC_IMAP] == 2 &&
	    strcmp(conf_vstr(out, SVC_IMAP, 0, CK_SEARCHFORMAT), "(mail=%s)")
	    == 0 && strcmp(conf_vstr(out, SVC_IMAP, 1, CK_SEARCHFORMAT),
	    "(uid=%s)") == 0 && strcmp(out->vd[SVC_IMAP][1].addr,
	    "127.0.0.3") == 0 && out->vd[SVC_IMAP][0].v[CK_BINDPASS].line ==
	    4, "domains, values and origins as sent");
	conf_free(out);

	start(&rx);
	tap_is_int(feed_vd(&rx, SVC_IMAP, 1, "a", "127.0.0.2", 0, err,
	    sizeof(err)), -1, "a domain out of order refused (%s)", err);
	tap_ok(rx.conf == NULL, "and the configuration dropped");
	start(&rx);
	tap_is_int(feed_vd(&rx, CONF_GLOBAL, 0, "a", "127.0.0.2", 0, err,
	    sizeof(err)), -1, "a domain of AService.cfg refused");
	start(&rx);
	tap_is_int(feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 1, err,
	    sizeof(err)), -1, "a trailing byte refused");
	start(&rx);
	tap_is_int(feed_vd(&rx, SVC_IMAP, 0, "a b", "127.0.0.2", 0, err,
	    sizeof(err)), -1, "a name the parser would refuse (%s)", err);
	start(&rx);
	tap_is_int(feed_vd(&rx, SVC_IMAP, 0, "a", "not-an-address", 0, err,
	    sizeof(err)), -1, "an address the parser would refuse");
	start(&rx);
	(void)feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err, sizeof(err));
	tap_is_int(feed_vd(&rx, SVC_IMAP, 1, "b", "127.0.0.2", 0, err,
	    sizeof(err)), -1, "the same address twice refused");
	start(&rx);
	(void)feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err, sizeof(err));
	tap_is_int(feed_kv(&rx, SVC_IMAP, 1, CK_PREAUTH, "yes", err,
	    sizeof(err)), -1, "a key of a domain not sent refused");
	start(&rx);
	(void)feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err, sizeof(err));
	tap_is_int(feed_kv(&rx, SVC_IMAP, 0, CK_TIMEOUT, "5", err,
	    sizeof(err)), -1, "a key not per virtual domain refused (%s)",
	    err);
	start(&rx);
	(void)feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err, sizeof(err));
	tap_is_int(feed_kv(&rx, SVC_IMAP, 0, CK_NKEYS, "5", err,
	    sizeof(err)), -1, "a key out of range refused");
	start(&rx);
	(void)feed_vd(&rx, SVC_IMAP, 0, "a", "127.0.0.2", 0, err, sizeof(err));
	tap_is_int(feed_kv(&rx, SVC_IMAP, 0, CK_REPLAYFORMAT, "%Z", err,
	    sizeof(err)), -1, "an invalid value refused (%s)", err);
	conf_rx_clear(&rx);
	return tap_done();
}
