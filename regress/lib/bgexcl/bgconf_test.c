/*
 * Unit test for IMSG_CONF_BGEXCL as a relay reads it (lib/confmsg.c):
 * only inside a configuration, a service section, a network parsed again
 * (host bits, garbage and trailing bytes refused), at most BGEXCL_MAX; the
 * finished configuration holds the networks in order.
 */
#include <stdio.h>
#include <string.h>

#include "bgexcl.h"
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
feed(struct conf_rx *rx, struct msg_writer *w, uint32_t type,
    struct mmp_conf **out, char *err, size_t errlen)
{
	struct imsg	imsg;
	uint32_t	g;

	as_imsg(w, type, &imsg);
	return conf_rx_imsg(rx, &imsg, out, &g, err, errlen);
}

static int
feed_net(struct conf_rx *rx, uint8_t sect, const char *net, int trailing,
    char *err, size_t errlen)
{
	struct msg_writer	 w;
	struct mmp_conf		*out = NULL;

	msg_writer_init(&w);
	msg_add_u8(&w, sect);
	msg_add_str(&w, net);
	if (trailing)
		msg_add_u8(&w, 0);
	return feed(rx, &w, IMSG_CONF_BGEXCL, &out, err, errlen);
}

static void
feed_kv(struct conf_rx *rx, uint8_t sect, uint16_t key, const char *value)
{
	struct msg_writer	 w;
	struct mmp_conf		*out = NULL;
	char			 err[256];

	msg_writer_init(&w);
	msg_add_u8(&w, sect);
	msg_add_u16(&w, key);
	msg_add_str(&w, value);
	msg_add_str(&w, "x.cfg");
	msg_add_u32(&w, 1);
	(void)feed(rx, &w, IMSG_CONF_KV, &out, err, sizeof(err));
}

/* START and the keys conf_finish needs. */
static void
start(struct conf_rx *rx)
{
	struct msg_writer	 w;
	struct mmp_conf		*out = NULL;
	char			 err[256];

	conf_rx_clear(rx);
	msg_writer_init(&w);
	msg_add_u32(&w, 7);
	(void)feed(rx, &w, IMSG_CONF_START, &out, err, sizeof(err));
	feed_kv(rx, CONF_GLOBAL, CK_SERVICELIST, "imapproxy@1143");
	feed_kv(rx, SVC_IMAP, CK_LDAPURL, "ldap://127.0.0.1/o=x");
}

static struct mmp_conf *
end(struct conf_rx *rx)
{
	struct msg_writer	 w;
	struct mmp_conf		*out = NULL;
	char			 err[256];

	msg_writer_init(&w);
	msg_add_u32(&w, 7);
	if (feed(rx, &w, IMSG_CONF_END, &out, err, sizeof(err)) != 1) {
		tap_diag("END: %s", err);
		return NULL;
	}
	return out;
}

static void
test_refused(struct conf_rx *rx)
{
	static const struct {
		uint8_t		 sect;
		const char	*net;
		int		 trailing;
		const char	*why;
	} cases[] = {
		{ SVC_IMAP, "10.1.2.3/8", 0, "host bits" },
		{ SVC_IMAP, "10.0.0.0|255.0.255.0", 0, "mask" },
		{ SVC_IMAP, "", 0, "not an IPv4" },
		{ SVC_IMAP, "bgexcl.cfg", 0, "not an IPv4" },
		{ SVC_IMAP, "10.0.0.0/8 192.0.2.0/24", 0, "prefix" },
		{ SVC_IMAP, "10.0.0.0/8", 1, "malformed" },
		{ CONF_GLOBAL, "10.0.0.0/8", 0, "malformed" },
		{ 9, "10.0.0.0/8", 0, "malformed" },
	};
	char	err[256];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(rx);
		err[0] = '\0';
		r = feed_net(rx, cases[i].sect, cases[i].net, cases[i].trailing,
		    err, sizeof(err));
		if (!tap_ok(r == -1 && strstr(err, cases[i].why) != NULL &&
		    rx->conf == NULL, "section %u \"%s\"%s refused (%s), the "
		    "configuration dropped", cases[i].sect, cases[i].net,
		    cases[i].trailing ? " + a byte" : "", cases[i].why))
			tap_diag("r %d err %s", r, err);
	}
}

int
main(void)
{
	struct conf_rx	 rx;
	struct mmp_conf	*conf;
	char		 err[256], text[64];
	int		 i, r = 0;

	memset(&rx, 0, sizeof(rx));
	tap_is_int(feed_net(&rx, SVC_IMAP, "10.0.0.0/8", 0, err,
	    sizeof(err)), -1, "BGEXCL outside START/END refused");
	start(&rx);
	tap_is_int(feed_net(&rx, SVC_IMAP, "10.0.0.0/8", 0, err,
	    sizeof(err)), 0, "an IMAP network taken");
	tap_is_int(feed_net(&rx, SVC_POP, "2001:db8::/32", 0, err,
	    sizeof(err)), 0, "a POP network taken");
	tap_is_int(feed_net(&rx, SVC_IMAP, "192.0.2.7/32", 0, err,
	    sizeof(err)), 0, "a second IMAP network taken");
	if ((conf = end(&rx)) == NULL)
		tap_ok(0, "configuration finished");
	else {
		tap_is_int(conf->bgexcl[SVC_IMAP].n, 2, "IMAP: 2 networks");
		tap_is_int(conf->bgexcl[SVC_POP].n, 1, "POP: 1 network");
		bgexcl_text(&conf->bgexcl[SVC_IMAP].v[1], text, sizeof(text));
		tap_is_str(text, "192.0.2.7/32", "in the order sent");
		conf_free(conf);
	}
	test_refused(&rx);
	start(&rx);
	for (i = 0; i < BGEXCL_MAX && r == 0; i++) {
		(void)snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 256,
		    i % 256);
		r = feed_net(&rx, SVC_IMAP, text, 0, err, sizeof(err));
	}
	tap_ok(r == 0, "%d networks taken", BGEXCL_MAX);
	tap_ok(feed_net(&rx, SVC_IMAP, "192.0.2.1", 0, err, sizeof(err)) ==
	    -1 && strstr(err, "too many") != NULL, "one more is refused");
	conf_rx_clear(&rx);
	return tap_done();
}
