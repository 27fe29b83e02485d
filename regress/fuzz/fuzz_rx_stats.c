/*
 * libFuzzer target for the imsg receivers of the statistics process
 * (mmpd/stats.c stats_dispatch_parent and stats_dispatch_peer). It is
 * started as mmpd starts it (stats_start: the fixed configuration from
 * rxpeer.c and its listener) and then fed the input's messages by the
 * harness playing its parent, a relay, mmp-ldapd and an mmp-tlsd
 * (rxpeer.h has the input's format). Each input begins a scrape's round
 * of questions, so that answers (echoing the question's id, bit 6 of a
 * message's first byte) are taken and the page is written from them.
 */
#include <stdint.h>
#include <stdlib.h>

#include "confmsg.h"
#include "msg.h"
#include "rxpeer.h"
#include "mmpd/stats_main.h"
#include "mmpd/statsd.h"

enum { END_PARENT, END_RELAY, END_LDAPD, END_TLSD, END_MAX };

static struct rx_end	ends[END_MAX];
static uint32_t		gen;
static int		conf_touched;

static void
send_conf(void)
{
	const struct mmp_conf	*conf = rx_conf_shared();

	gen++;
	if (conf_send_begin(ends[END_PARENT].ch, conf, gen, CONF_TO_STATS) ==
	    -1 || conf_send_end(ends[END_PARENT].ch, gen) == -1)
		abort();
}

/* IMSG_STATS_PEER: fd; u8 kind, u32 index. */
static void
reconnect(void)
{
	struct msg_writer	w;
	int			fd, i;

	for (i = END_RELAY; i <= END_TLSD; i++) {
		if (ends[i].ch != NULL)
			continue;
		fd = rx_end_open(&ends[i], "peer");
		msg_writer_init(&w);
		msg_add_u8(&w, i == END_RELAY ? STATS_KIND_RELAY :
		    i == END_LDAPD ? STATS_KIND_LDAPD : STATS_KIND_TLSD);
		msg_add_u32(&w, 0);
		rx_send_fd(&ends[END_PARENT], IMSG_STATS_PEER, w.buf, w.len,
		    fd);
	}
}

static void
again(void)
{
	send_conf();
	reconnect();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char		*sargv[] = { "mmpd", "-P", "stats", NULL };
	struct msg_writer	 w;

	(void)argc;
	(void)argv;
	rx_init();
	rx_end_open_child(&ends[END_PARENT]);
	send_conf();
	/* IMSG_STATS_LISTENER: fd, str label; a socket nobody connects to. */
	msg_writer_init(&w);
	msg_add_str(&w, "127.0.0.1:9100");
	rx_send(&ends[END_PARENT], IMSG_STATS_LISTENER, w.buf, w.len, 0);
	rx_flush(&ends[END_PARENT]);
	stats_start(3, sargv);
	rx_watch_parent(&senv->parent, &ends[END_PARENT], again);
	reconnect();
	rx_pump(senv->base);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rx_msg	m;

	if (conf_touched)
		send_conf();
	conf_touched = 0;
	reconnect();
	rx_pump(senv->base);
	stats_round_join();
	rx_pump(senv->base);
	while (rx_next(&data, &size, &m)) {
		if (m.end % END_MAX == END_PARENT &&
		    (m.type == IMSG_CONF_START || m.type == IMSG_CONF_KV ||
		    m.type == IMSG_CONF_END || m.type == IMSG_CONF_VDOMAIN ||
		    m.type == IMSG_CONF_VDKV))
			conf_touched = 1;
		rx_send_msg(&ends[m.end % END_MAX], &m);
		rx_pump(senv->base);
	}
	return 0;
}
