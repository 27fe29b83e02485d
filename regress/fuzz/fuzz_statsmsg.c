/*
 * libFuzzer target for lib/statsmsg.c, the answers the statistics process
 * reads from relays, mmp-ldapd and mmp-tlsd: the input is read as each;
 * a relay's answer that is taken has a bounded store table of distinct
 * names that need no escaping in a label, and reads back the same after
 * it is written again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "statsmsg.h"

static void
as_imsg(const uint8_t *data, size_t size, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = (uint8_t *)data;
	imsg->datalen = size;
}

static void
check_relay(const struct imsg *imsg)
{
	static struct stats_relay	sr, again;
	struct msg_writer		w;
	struct imsg			back;
	uint64_t			reqid, reqid2;
	size_t				i, j;

	if (stats_relay_read(imsg, &reqid, &sr) == -1)
		return;
	if (sr.nstores > STATS_STORES_MAX)
		abort();
	for (i = 0; i < sr.nstores; i++) {
		if (sr.stores[i].name[0] == '\0' ||
		    strpbrk(sr.stores[i].name, "\"\\\n {}=,") != NULL)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(sr.stores[i].name, sr.stores[j].name) == 0)
				abort();
	}
	msg_writer_init(&w);
	stats_relay_write(&w, reqid, &sr);
	if (w.err)
		abort();
	as_imsg(w.buf, w.len, &back);
	if (stats_relay_read(&back, &reqid2, &again) == -1 ||
	    reqid2 != reqid || memcmp(&sr, &again, sizeof(sr)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stats_ldapd	sl;
	struct stats_tlsd	st;
	struct imsg		imsg;
	uint64_t		reqid, r[STATS_KIND_MAX];

	as_imsg(data, size, &imsg);
	check_relay(&imsg);
	(void)stats_ldapd_read(&imsg, &reqid, &sl);
	(void)stats_tlsd_read(&imsg, &reqid, &st);
	(void)stats_restarts_read(&imsg, r);
	return 0;
}
