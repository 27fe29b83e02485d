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

#include "evmem.h"
#include "rxpeer.h"
#include "mmp-tlsd/tlsd.h"

static struct rx_end	ends[RX_SVC_ENDS];
/* What the parent sends of mmp-tlsd's configuration. */
static const uint32_t	conf_types[] = {
	IMSG_CONF_START, IMSG_CONF_KV, IMSG_CONF_END, IMSG_CONF_VDOMAIN,
	IMSG_CONF_VDKV, IMSG_CONF_TLSFILE, IMSG_NONE
};
static struct rx_child	child = {
	.ends = ends, .peers = rx_svc_peers, .nends = RX_SVC_ENDS,
	.dest = CONF_TO_TLSD, .conf_types = conf_types,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* As the child: all of libevent's memory from lib/evmem.c. */
	evmem_init();
	rx_init();
	rx_end_open_child(&ends[RX_SVC_PARENT]);
	rx_child_conf(&child);
	rx_flush(&ends[RX_SVC_PARENT]);
	tlsd_start(0, 0);
	env->started = 1;
	tlsd_send_ready();
	rx_child_started(&child, &env->parent, env->evb);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	env->draining = env->drained = 0;
	rx_child_ready(&child, env->evb);
	rx_child_feed(&child, env->evb, data, size);
	return 0;
}
