/*
 * libFuzzer target for the imsg receivers of a relay worker (mmpd/relay.c
 * relay_dispatch_parent, _ldapd, _tlsd, and its statistics channel,
 * lib/statschan.c). The relay is started as mmpd starts it (relay_start:
 * shared memory, the fixed configuration from rxpeer.c) and then fed the
 * input's messages by the harness playing its parent, mmp-ldapd, mmp-tlsd
 * 0 and the statistics process (rxpeer.h has the input's format).
 */
#include <stdint.h>
#include <stdlib.h>

#include "mmpd/relay.h"
#include "evmem.h"
#include "rxpeer.h"

enum { END_PARENT, END_LDAPD, END_TLSD, END_STATS, END_MAX };

static const uint32_t	tlsd_index;	/* mmp-tlsd 0 */
static struct rx_end	ends[END_MAX];
static const struct rx_peer peers[END_MAX] = {
	[END_LDAPD] =	{ "mmp-ldapd", IMSG_LDAPD_CHANNEL, NULL, 0 },
	[END_TLSD] =	{ "mmp-tlsd", IMSG_TLSD_CHANNEL, &tlsd_index,
			    sizeof(tlsd_index) },
	[END_STATS] =	{ "stats", IMSG_STATS_CHANNEL, NULL, 0 },
};
/* What the parent sends of a relay's configuration. */
static const uint32_t	conf_types[] = {
	IMSG_CONF_START, IMSG_CONF_END, IMSG_CONF_KV, IMSG_CONF_LISTENER,
	IMSG_CONF_VDOMAIN, IMSG_CONF_VDKV, IMSG_CONF_BGEXCL, IMSG_CONF_SPOOF,
	IMSG_NONE
};
static struct rx_child	child = {
	.ends = ends, .peers = peers, .nends = END_MAX,
	.dest = CONF_TO_RELAY, .conf_types = conf_types,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char	*rargv[] = { "mmpd", "-P", "relay", "-i", "0", NULL };
	uint32_t	 section = 0;
	int		 shmfd;

	(void)argc;
	(void)argv;
	/* As the child: all of libevent's memory from lib/evmem.c. */
	evmem_init();
	rx_init();
	rx_end_open_child(&ends[END_PARENT]);
	/* As proc_spawned: the shared memory first, then the configuration. */
	if ((shmfd = shm_create()) == -1)
		abort();
	rx_send_fd(&ends[END_PARENT], IMSG_SHM, &section, sizeof(section),
	    shmfd);
	rx_child_conf(&child);
	rx_flush(&ends[END_PARENT]);
	relay_start(5, rargv);
	rx_child_started(&child, &env->parent, env->base);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A drained relay exits; the harness takes it back instead. */
	env->draining = 0;
	rx_child_ready(&child, env->base);
	rx_child_feed(&child, env->base, data, size);
	return 0;
}
