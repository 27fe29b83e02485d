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
#include "rxpeer.h"

enum { END_PARENT, END_LDAPD, END_TLSD, END_STATS, END_MAX };

static struct rx_end	ends[END_MAX];
static uint32_t		gen;
static int		conf_touched;	/* the last input sent CONF_* */

static void
send_conf(void)
{
	const struct mmp_conf	*conf = rx_conf_shared();

	gen++;
	if (conf_send_begin(ends[END_PARENT].ch, conf, gen, CONF_TO_RELAY) ==
	    -1 || conf_send_end(ends[END_PARENT].ch, gen) == -1)
		abort();
}

/* The parent's channels to each peer, again where one was closed. */
static void
reconnect(void)
{
	uint32_t	index = 0;
	int		fd;

	if (ends[END_LDAPD].ch == NULL) {
		fd = rx_end_open(&ends[END_LDAPD], "mmp-ldapd");
		rx_send_fd(&ends[END_PARENT], IMSG_LDAPD_CHANNEL, NULL, 0, fd);
	}
	if (ends[END_TLSD].ch == NULL) {
		fd = rx_end_open(&ends[END_TLSD], "mmp-tlsd");
		rx_send_fd(&ends[END_PARENT], IMSG_TLSD_CHANNEL, &index,
		    sizeof(index), fd);
	}
	if (ends[END_STATS].ch == NULL) {
		fd = rx_end_open(&ends[END_STATS], "stats");
		rx_send_fd(&ends[END_PARENT], IMSG_STATS_CHANNEL, NULL, 0, fd);
	}
}

/* A child given a new parent channel: its configuration again. */
static void
again(void)
{
	send_conf();
	reconnect();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char	*rargv[] = { "mmpd", "-P", "relay", "-i", "0", NULL };
	uint32_t	 section = 0;
	int		 shmfd;

	(void)argc;
	(void)argv;
	rx_init();
	rx_end_open_child(&ends[END_PARENT]);
	/* As proc_spawned: the shared memory first, then the configuration. */
	if ((shmfd = shm_create()) == -1)
		abort();
	rx_send_fd(&ends[END_PARENT], IMSG_SHM, &section, sizeof(section),
	    shmfd);
	send_conf();
	rx_flush(&ends[END_PARENT]);
	relay_start(5, rargv);
	rx_watch_parent(&env->parent, &ends[END_PARENT], again);
	reconnect();
	rx_pump(env->base);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rx_msg	m;

	/* A drained relay exits; the harness takes it back instead. */
	env->draining = 0;
	if (conf_touched)
		send_conf();
	conf_touched = 0;
	reconnect();
	rx_pump(env->base);
	while (rx_next(&data, &size, &m)) {
		if (m.end % END_MAX == END_PARENT &&
		    (m.type == IMSG_CONF_START || m.type == IMSG_CONF_END ||
		    m.type == IMSG_CONF_KV || m.type == IMSG_CONF_LISTENER ||
		    m.type == IMSG_CONF_VDOMAIN || m.type == IMSG_CONF_VDKV ||
		    m.type == IMSG_CONF_BGEXCL || m.type == IMSG_CONF_SPOOF))
			conf_touched = 1;
		rx_send_msg(&ends[m.end % END_MAX], &m);
		rx_pump(env->base);
	}
	return 0;
}
