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

#include "mmp-ldapd/ldapd.h"
#include "rxpeer.h"

static struct rx_end	 ends[RX_SVC_ENDS];
/* What the parent sends of mmp-ldapd's configuration. */
static const uint32_t	 conf_types[] = {
	IMSG_CONF_START, IMSG_CONF_KV, IMSG_CONF_END, IMSG_CONF_HOST,
	IMSG_CONF_VDOMAIN, IMSG_CONF_VDKV, IMSG_CONF_CERTMAP,
	IMSG_CONF_VDCERTMAP, IMSG_NONE
};
static int		 skip_drain(const struct rx_msg *);
static struct rx_child	 child = {
	.ends = ends, .peers = rx_svc_peers, .nends = RX_SVC_ENDS,
	.dest = CONF_TO_LDAPD, .conf_types = conf_types, .skip = skip_drain,
};
static struct ldapd	*lenv;

/* The parent's DRAIN with no lookup pending: mmp-ldapd exits (by design). */
static int
skip_drain(const struct rx_msg *m)
{
	return m->end == RX_SVC_PARENT && m->type == IMSG_DRAIN &&
	    m->len == 0 && !m->flipfd;
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
	rx_end_open_child(&ends[RX_SVC_PARENT]);
	rx_child_conf(&child);
	rx_flush(&ends[RX_SVC_PARENT]);
	lenv = ldapd_start(0);
	closed_resolver();
	rx_child_started(&child, &lenv->parent, lenv->evb);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rx_child_ready(&child, lenv->evb);
	rx_child_feed(&child, lenv->evb, data, size);
	return 0;
}
