/*
 * libFuzzer target for the imsg receivers of mmp-ldapd (ldapd.c
 * ldapd_dispatch_parent, relays.c ldapd_dispatch_relay, and its
 * statistics channel, lib/statschan.c). mmp-ldapd is started as mmpd
 * starts it (ldapd_start: the fixed configuration from rxpeer.c) and then
 * fed the input's messages by the harness playing its parent, two relays
 * and the statistics process (rxpeer.h has the input's format).
 *
 * No socket reaches a real server: the harness runs in a network
 * namespace of its own with only loopback (rx_isolate), the test
 * configuration's LDAP server is a closed port,
 * and the resolver asks a closed port too. A DRAIN from the parent with
 * no lookup pending ends the process by design (ldapd_exit): the harness
 * sends that one message never.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confmsg.h"
#include "mmp-ldapd/ldapd.h"
#include "rxpeer.h"

enum { END_PARENT, END_RELAY0, END_RELAY1, END_STATS, END_MAX };

static struct rx_end	 ends[END_MAX];
static struct ldapd	*lenv;
static uint32_t		 gen;
static int		 conf_touched;

static void
send_conf(void)
{
	const struct mmp_conf	*conf = rx_conf_shared();

	gen++;
	if (conf_send_begin(ends[END_PARENT].ch, conf, gen, CONF_TO_LDAPD) ==
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

/* A UDP port on loopback that nobody listens on: queries are refused. */
static void
closed_resolver(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			csv[64];
	int			s;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &len) == -1)
		abort();
	close(s);
	(void)snprintf(csv, sizeof(csv), "127.0.0.1:%u", ntohs(sin.sin_port));
	if (resolver_fuzz_servers(lenv, csv) == -1)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (setenv("LDAPNOINIT", "1", 1) == -1)
		abort();
	rx_init();
	rx_isolate();
	rx_end_open_child(&ends[END_PARENT]);
	send_conf();
	rx_flush(&ends[END_PARENT]);
	lenv = ldapd_start(0);
	closed_resolver();
	rx_watch_parent(&lenv->parent, &ends[END_PARENT], again);
	reconnect();
	rx_pump(lenv->evb);
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
	rx_pump(lenv->evb);
	while (rx_next(&data, &size, &m)) {
		if (m.end % END_MAX == END_PARENT) {
			if (m.type == IMSG_DRAIN && m.len == 0 && !m.flipfd)
				continue;
			if (m.type == IMSG_CONF_START ||
			    m.type == IMSG_CONF_KV || m.type == IMSG_CONF_END ||
			    m.type == IMSG_CONF_HOST ||
			    m.type == IMSG_CONF_VDOMAIN ||
			    m.type == IMSG_CONF_VDKV ||
			    m.type == IMSG_CONF_CERTMAP ||
			    m.type == IMSG_CONF_VDCERTMAP)
				conf_touched = 1;
		}
		rx_send_msg(&ends[m.end % END_MAX], &m);
		rx_pump(lenv->evb);
	}
	return 0;
}
