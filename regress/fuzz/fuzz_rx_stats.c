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

#include "msg.h"
#include "rxpeer.h"
#include "mmpd/stats_main.h"
#include "mmpd/statsd.h"

enum { END_PARENT, END_RELAY, END_LDAPD, END_TLSD, END_MAX };

static struct rx_end	ends[END_MAX];
/* IMSG_STATS_PEER: fd; u8 kind, u32 index (written at start). */
static struct msg_writer peerw[END_MAX];
static struct rx_peer	peers[END_MAX] = {
	[END_RELAY] =	{ "peer", IMSG_STATS_PEER, NULL, 0 },
	[END_LDAPD] =	{ "peer", IMSG_STATS_PEER, NULL, 0 },
	[END_TLSD] =	{ "peer", IMSG_STATS_PEER, NULL, 0 },
};
/* What the parent sends of the stats process's configuration. */
static const uint32_t	conf_types[] = {
	IMSG_CONF_START, IMSG_CONF_KV, IMSG_CONF_END, IMSG_CONF_VDOMAIN,
	IMSG_CONF_VDKV, IMSG_NONE
};
static struct rx_child	child = {
	.ends = ends, .peers = peers, .nends = END_MAX,
	.dest = CONF_TO_STATS, .conf_types = conf_types,
};

static void
peer_payload(int i, uint8_t kind)
{
	msg_writer_init(&peerw[i]);
	msg_add_u8(&peerw[i], kind);
	msg_add_u32(&peerw[i], 0);
	peers[i].data = peerw[i].buf;
	peers[i].len = peerw[i].len;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char		*sargv[] = { "mmpd", "-P", "stats", NULL };
	struct msg_writer	 w;

	(void)argc;
	(void)argv;
	rx_init();
	peer_payload(END_RELAY, STATS_KIND_RELAY);
	peer_payload(END_LDAPD, STATS_KIND_LDAPD);
	peer_payload(END_TLSD, STATS_KIND_TLSD);
	rx_end_open_child(&ends[END_PARENT]);
	rx_child_conf(&child);
	/* IMSG_STATS_LISTENER: fd, str label; a socket nobody connects to. */
	msg_writer_init(&w);
	msg_add_str(&w, "127.0.0.1:9100");
	rx_send(&ends[END_PARENT], IMSG_STATS_LISTENER, w.buf, w.len, 0);
	rx_flush(&ends[END_PARENT]);
	stats_start(3, sargv);
	rx_child_started(&child, &senv->parent, senv->base);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rx_child_ready(&child, senv->base);
	stats_round_join();
	rx_pump(senv->base);
	rx_child_feed(&child, senv->base, data, size);
	return 0;
}
