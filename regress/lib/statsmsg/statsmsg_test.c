/*
 * Unit test for lib/statsmsg.c: the counters read back as written, and
 * the statistics process refuses an answer that is short, long, has too
 * many stores, a store named twice, an empty name or one that could break
 * out of a label value; the store table and the histogram stay bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statsmsg.h"
#include "regress/tap.h"

static void
as_imsg(struct msg_writer *w, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = w->buf;
	imsg->datalen = w->len;
}

static void
fill(uint64_t *v, size_t n, uint64_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		v[i] = seed + i * 7919;
}

static void
relay_sample(struct stats_relay *sr, int nstores)
{
	int	i;

	memset(sr, 0, sizeof(*sr));
	fill(&sr->sessions[0][0], sizeof(sr->sessions) / 8, 1);
	fill(&sr->login[0][0], sizeof(sr->login) / 8, 2);
	fill(&sr->bytes[0][0], sizeof(sr->bytes) / 8, 1ULL << 40);
	fill(sr->refused, REFUSAL_MAX, 3);
	fill(sr->store_latency.bucket, STATS_BUCKETS + 1, 4);
	sr->store_latency.sum_usec = 123456789;
	for (i = 0; i < nstores; i++) {
		(void)snprintf(sr->stores[i].name, sizeof(sr->stores[i].name),
		    "store%d.example", i);
		fill(sr->stores[i].login, STATS_LOGIN_MAX, 100 * i);
	}
	sr->nstores = nstores;
	fill(sr->stores[STATS_STORES_MAX].login, STATS_LOGIN_MAX, 99);
}

static int
relay_read_as(struct stats_relay *sr, uint64_t *reqid)
{
	static struct stats_relay	got;
	struct msg_writer		w;
	struct imsg			imsg;

	msg_writer_init(&w);
	stats_relay_write(&w, 42, sr);
	as_imsg(&w, &imsg);
	return stats_relay_read(&imsg, reqid, &got);
}

static void
test_relay(void)
{
	static struct stats_relay	sr, got;
	struct msg_writer		w;
	struct imsg			imsg;
	uint64_t			reqid;

	relay_sample(&sr, STATS_STORES_MAX);
	msg_writer_init(&w);
	stats_relay_write(&w, 42, &sr);
	tap_ok(!w.err, "a relay's answer with %d stores fits one message "
	    "(%zu bytes)", STATS_STORES_MAX, w.len);
	as_imsg(&w, &imsg);
	tap_is_int(stats_relay_read(&imsg, &reqid, &got), 0, "read back");
	tap_is_int(reqid, 42, "reqid");
	tap_ok(memcmp(&sr, &got, sizeof(sr)) == 0, "the same counters");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(stats_relay_read(&imsg, &reqid, &got), -1, "short refused");
	msg_add_u8(&w, 0);
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(stats_relay_read(&imsg, &reqid, &got), -1,
	    "trailing byte refused");

	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, sr.stores[0].name,
	    sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "a store named twice");
	relay_sample(&sr, 2);
	sr.stores[1].name[0] = '\0';
	tap_is_int(relay_read_as(&sr, &reqid), -1, "an empty store name");
	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, "a\",x=\"b", sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "a name with a quote");
	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, "a b", sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "a name with a blank");
	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, "a\nb", sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "a name with a newline");
	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, "a\\b", sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "a name with a backslash");
	relay_sample(&sr, 2);
	(void)strlcpy(sr.stores[1].name, "[2001:db8::1]",
	    sizeof(sr.stores[1].name));
	tap_is_int(relay_read_as(&sr, &reqid), 0, "an IPv6 literal passes");
	relay_sample(&sr, STATS_STORES_MAX);
	sr.nstores = STATS_STORES_MAX + 1;
	(void)strlcpy(sr.stores[STATS_STORES_MAX].name, "one.more",
	    sizeof(sr.stores[0].name));
	tap_is_int(relay_read_as(&sr, &reqid), -1, "%d stores",
	    STATS_STORES_MAX + 1);
}

static void
test_small(void)
{
	static struct stats_relay	relay;
	struct stats_ldapd	sl, gotl;
	struct stats_tlsd	st, gott;
	uint64_t		r[STATS_KIND_MAX], gotr[STATS_KIND_MAX], reqid;
	struct msg_writer	w;
	struct imsg		imsg;

	memset(&sl, 0, sizeof(sl));
	fill(sl.lookup_latency.bucket, STATS_BUCKETS + 1, 5);
	sl.lookup_latency.sum_usec = 77;
	fill(sl.ldapcache, 2, 6);
	fill(sl.authcache, 2, 8);
	msg_writer_init(&w);
	stats_ldapd_write(&w, 7, &sl);
	as_imsg(&w, &imsg);
	tap_ok(stats_ldapd_read(&imsg, &reqid, &gotl) == 0 && reqid == 7 &&
	    memcmp(&sl, &gotl, sizeof(sl)) == 0, "mmp-ldapd's answer");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(stats_ldapd_read(&imsg, &reqid, &gotl), -1,
	    "mmp-ldapd's, short");

	fill(st.handshakes, STATS_TLS_MAX, 9);
	msg_writer_init(&w);
	stats_tlsd_write(&w, 8, &st);
	as_imsg(&w, &imsg);
	tap_ok(stats_tlsd_read(&imsg, &reqid, &gott) == 0 && reqid == 8 &&
	    memcmp(&st, &gott, sizeof(st)) == 0, "mmp-tlsd's answer");
	msg_add_u8(&w, 0);
	as_imsg(&w, &imsg);
	tap_is_int(stats_tlsd_read(&imsg, &reqid, &gott), -1,
	    "mmp-tlsd's, trailing byte");
	/* An mmp-tlsd's answer is no relay's. */
	tap_is_int(stats_relay_read(&imsg, &reqid, &relay), -1,
	    "an mmp-tlsd's answer read as a relay's");

	fill(r, STATS_KIND_MAX, 10);
	msg_writer_init(&w);
	stats_restarts_write(&w, r);
	as_imsg(&w, &imsg);
	tap_ok(stats_restarts_read(&imsg, gotr) == 0 &&
	    memcmp(r, gotr, sizeof(r)) == 0, "restarts");
	w.len--;
	as_imsg(&w, &imsg);
	tap_is_int(stats_restarts_read(&imsg, gotr), -1, "restarts, short");
}

/* At most STATS_STORES_MAX names; the rest, and bad names, are other. */
static void
test_store_count(void)
{
	static struct stats_relay	sr;
	char				name[STATS_STORE_BYTES + 8];
	int				i;

	memset(&sr, 0, sizeof(sr));
	for (i = 0; i < STATS_STORES_MAX + 4; i++) {
		(void)snprintf(name, sizeof(name), "s%d", i);
		stats_store_count(&sr, name, STATS_LOGIN_OK);
		stats_store_count(&sr, name, STATS_LOGIN_OK);
	}
	tap_is_int(sr.nstores, STATS_STORES_MAX, "%d store names kept",
	    STATS_STORES_MAX);
	tap_is_int(sr.stores[0].login[STATS_LOGIN_OK], 2, "s0: 2 logins");
	tap_is_int(sr.stores[STATS_STORES_MAX].login[STATS_LOGIN_OK], 8,
	    "4 more stores: 8 logins as other");
	memset(&sr, 0, sizeof(sr));
	memset(name, 'x', STATS_STORE_BYTES);
	name[STATS_STORE_BYTES] = '\0';
	stats_store_count(&sr, name, STATS_LOGIN_STORE_DOWN);
	stats_store_count(&sr, "a\"b", STATS_LOGIN_STORE_DOWN);
	stats_store_count(&sr, "", STATS_LOGIN_STORE_DOWN);
	tap_is_int(sr.nstores, 0, "too long, a quote, empty: no name kept");
	tap_is_int(sr.stores[STATS_STORES_MAX].login[STATS_LOGIN_STORE_DOWN],
	    3, "they count as other");
}

static void
test_hist(void)
{
	static const struct {
		uint64_t	usec;
		int		bucket;
	} cases[] = {
		{ 0, 0 }, { 1000, 0 }, { 1001, 1 }, { 2500, 1 }, { 2501, 2 },
		{ 1000000, 9 }, { 5000000, 10 }, { 5000001, 11 },
		{ UINT64_MAX / 2, 11 },
	};
	struct stats_hist	h;
	size_t			i;
	int			j, at;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&h, 0, sizeof(h));
		stats_hist_add(&h, cases[i].usec);
		for (at = -1, j = 0; j <= STATS_BUCKETS; j++)
			if (h.bucket[j] == 1)
				at = j;
		tap_is_int(at, cases[i].bucket, "%llu us: bucket %d",
		    (unsigned long long)cases[i].usec, cases[i].bucket);
		tap_is_int(h.sum_usec, cases[i].usec, "%llu us: sum",
		    (unsigned long long)cases[i].usec);
	}
}

int
main(void)
{
	test_relay();
	test_small();
	test_store_count();
	test_hist();
	return tap_done();
}
