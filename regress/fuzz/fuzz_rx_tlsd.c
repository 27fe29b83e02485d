/*
 * libFuzzer target for the imsg receivers of mmp-tlsd (tlsd.c
 * tlsd_dispatch_parent, relays.c relays_dispatch, and its statistics
 * channel, lib/statschan.c). mmp-tlsd is started as mmpd starts it
 * (tlsd_start: the fixed configuration from rxpeer.c) and then fed the
 * input's messages by the harness playing its parent, two relays and the
 * statistics process (rxpeer.h has the input's format). Each socket a
 * message carries is one whose twin is closed: a handshake on it ends
 * at once. A drained mmp-tlsd would exit; the harness takes it back.
 */
#include <stdint.h>
#include <stdlib.h>

#include "confmsg.h"
#include "rxpeer.h"
#include "mmp-tlsd/tlsd.h"

enum { END_PARENT, END_RELAY0, END_RELAY1, END_STATS, END_MAX };

static struct rx_end	ends[END_MAX];
static uint32_t		gen;
static int		conf_touched;

static void
send_conf(void)
{
	const struct mmp_conf	*conf = rx_conf_shared();

	gen++;
	if (conf_send_begin(ends[END_PARENT].ch, conf, gen, CONF_TO_TLSD) ==
	    -1 || conf_send_end(ends[END_PARENT].ch, gen) == -1)
		abort();
}

static void
reconnect(void)
{
	uint32_t	idx;
	int		fd, i;

	for (i = END_RELAY0; i <= END_RELAY1; i++) {
		if (ends[i].ch != NULL)
			continue;
		idx = (uint32_t)(i - END_RELAY0);
		fd = rx_end_open(&ends[i], "relay");
		rx_send_fd(&ends[END_PARENT], IMSG_RELAY_CHANNEL, &idx,
		    sizeof(idx), fd);
	}
	if (ends[END_STATS].ch == NULL) {
		fd = rx_end_open(&ends[END_STATS], "stats");
		rx_send_fd(&ends[END_PARENT], IMSG_STATS_CHANNEL, NULL, 0, fd);
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
	(void)argc;
	(void)argv;
	rx_init();
	rx_end_open_child(&ends[END_PARENT]);
	send_conf();
	rx_flush(&ends[END_PARENT]);
	tlsd_start(0, 0);
	env->started = 1;
	tlsd_send_ready();
	rx_watch_parent(&env->parent, &ends[END_PARENT], again);
	reconnect();
	rx_pump(env->evb);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rx_msg	m;

	env->draining = env->drained = 0;
	if (conf_touched)
		send_conf();
	conf_touched = 0;
	reconnect();
	rx_pump(env->evb);
	while (rx_next(&data, &size, &m)) {
		if (m.end % END_MAX == END_PARENT &&
		    (m.type == IMSG_CONF_START || m.type == IMSG_CONF_KV ||
		    m.type == IMSG_CONF_END || m.type == IMSG_CONF_VDOMAIN ||
		    m.type == IMSG_CONF_VDKV || m.type == IMSG_CONF_TLSFILE))
			conf_touched = 1;
		rx_send_msg(&ends[m.end % END_MAX], &m);
		rx_pump(env->evb);
	}
	return 0;
}
