/*
 * The page of one scrape: the answers of the peers that answered in that
 * round, summed, and the parent's restart counts, as Prometheus text
 * (exposition format 0.0.4): HELP and TYPE before each family, counters
 * named _total, histograms with cumulative buckets, _sum and _count.
 */
#include <stdio.h>
#include <string.h>

#include "statsd.h"

/* The bucket bounds of STATS_BUCKET_BOUNDS_USEC, in seconds. */
static const char *const page_le[STATS_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1", "5"
};
static const char *const page_svc[STATS_NSVC] = { "imap", "pop3" };
static const char *const page_state[STATS_SESS_MAX] = {
	"preauth", "login", "relaying"
};
static const char *const page_login[STATS_LOGIN_MAX] = {
	"ok", "auth_failed", "unknown_user", "disabled", "no_store",
	"store_down", "directory_down", "refused", "error"
};
/* The reasons a store has a hand in; the others never name one. */
static const int page_store_login[] = {
	STATS_LOGIN_OK, STATS_LOGIN_AUTH_FAILED, STATS_LOGIN_STORE_DOWN,
	STATS_LOGIN_ERROR
};
static const char *const page_refusal[REFUSAL_MAX] = {
	"connlimit", "tcpaccess", "relaycap", "preauthcap", "badguy"
};
static const char *const page_tls[STATS_TLS_MAX] = {
	"full", "resumed", "failed"
};

/* The sums over every peer that answered. */
struct page_sums {
	struct stats_relay	relay;
	struct stats_ldapd	ldapd;
	struct stats_tlsd	tlsd;
	unsigned int		answered[STATS_KIND_MAX];
};

static void
page_add_n(uint64_t *to, const uint64_t *from, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		to[i] += from[i];
}

static void
page_add_hist(struct stats_hist *to, const struct stats_hist *from)
{
	page_add_n(to->bucket, from->bucket, STATS_BUCKETS + 1);
	to->sum_usec += from->sum_usec;
}

/* Stores by name across relays, bounded again: the rest is "other". */
static void
page_add_stores(struct stats_relay *to, const struct stats_relay *from)
{
	const struct stats_store	*st;
	size_t				 i, j;

	page_add_n(to->stores[STATS_STORES_MAX].login,
	    from->stores[STATS_STORES_MAX].login, STATS_LOGIN_MAX);
	for (i = 0; i < from->nstores; i++) {
		st = &from->stores[i];
		for (j = 0; j < to->nstores; j++)
			if (strcmp(to->stores[j].name, st->name) == 0)
				break;
		if (j == to->nstores && to->nstores < STATS_STORES_MAX) {
			memcpy(to->stores[j].name, st->name,
			    sizeof(st->name));
			to->nstores++;
		}
		page_add_n(to->stores[j < to->nstores ? j :
		    STATS_STORES_MAX].login, st->login, STATS_LOGIN_MAX);
	}
}

static void
page_add_relay(struct page_sums *s, const struct stats_relay *r)
{
	page_add_n(&s->relay.sessions[0][0], &r->sessions[0][0],
	    STATS_NSVC * STATS_SESS_MAX);
	page_add_n(&s->relay.login[0][0], &r->login[0][0],
	    STATS_NSVC * STATS_LOGIN_MAX);
	page_add_n(&s->relay.bytes[0][0], &r->bytes[0][0], STATS_NSVC * 2);
	page_add_n(s->relay.refused, r->refused, REFUSAL_MAX);
	page_add_hist(&s->relay.store_latency, &r->store_latency);
	page_add_stores(&s->relay, r);
}

/* Sum the answers of round; a comment line for each peer left out. */
static int
page_sum(struct buf *b, struct page_sums *s, uint64_t round)
{
	struct stats_peer	*p;

	memset(s, 0, sizeof(*s));
	TAILQ_FOREACH(p, &senv->peers, entry) {
		if (p->round != round) {
			if (buf_addf(b, "# %s %u did not answer in time: left "
			    "out of this scrape\n", stats_kind_name(p->kind),
			    p->index) == -1)
				return -1;
			continue;
		}
		s->answered[p->kind]++;
		if (p->kind == STATS_KIND_RELAY)
			page_add_relay(s, &p->got.relay);
		else if (p->kind == STATS_KIND_LDAPD) {
			page_add_hist(&s->ldapd.lookup_latency,
			    &p->got.ldapd.lookup_latency);
			page_add_n(s->ldapd.ldapcache, p->got.ldapd.ldapcache,
			    2);
			page_add_n(s->ldapd.authcache, p->got.ldapd.authcache,
			    2);
		} else if (p->kind == STATS_KIND_TLSD)
			page_add_n(s->tlsd.handshakes, p->got.tlsd.handshakes,
			    STATS_TLS_MAX);
	}
	return 0;
}

static int
page_family(struct buf *b, const char *name, const char *type,
    const char *help)
{
	return buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static int
page_hist(struct buf *b, const char *name, const char *help,
    const struct stats_hist *h)
{
	uint64_t	cum = 0;
	size_t		i;

	if (page_family(b, name, "histogram", help) == -1)
		return -1;
	for (i = 0; i < STATS_BUCKETS; i++) {
		cum += h->bucket[i];
		if (buf_addf(b, "%s_bucket{le=\"%s\"} %llu\n", name,
		    page_le[i], (unsigned long long)cum) == -1)
			return -1;
	}
	cum += h->bucket[STATS_BUCKETS];
	return buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu.%06llu\n"
	    "%s_count %llu\n", name, (unsigned long long)cum, name,
	    (unsigned long long)(h->sum_usec / 1000000),
	    (unsigned long long)(h->sum_usec % 1000000), name,
	    (unsigned long long)cum);
}

static int
page_sessions(struct buf *b, const struct page_sums *s)
{
	int	svc, i;

	if (page_family(b, "mmpd_sessions", "gauge", "Sessions open now, by "
	    "protocol and state (preauth: before the credentials; login: "
	    "directory and store being asked; relaying: logged in).") == -1)
		return -1;
	for (svc = 0; svc < STATS_NSVC; svc++)
		for (i = 0; i < STATS_SESS_MAX; i++)
			if (buf_addf(b, "mmpd_sessions{protocol=\"%s\","
			    "state=\"%s\"} %llu\n", page_svc[svc],
			    page_state[i], (unsigned long long)
			    s->relay.sessions[svc][i]) == -1)
				return -1;
	return 0;
}

static int
page_logins(struct buf *b, const struct page_sums *s)
{
	int	svc, i;

	if (page_family(b, "mmpd_logins_total", "counter", "Logins by "
	    "protocol, result and reason.") == -1)
		return -1;
	for (svc = 0; svc < STATS_NSVC; svc++)
		for (i = 0; i < STATS_LOGIN_MAX; i++)
			if (buf_addf(b, "mmpd_logins_total{protocol=\"%s\","
			    "result=\"%s\",reason=\"%s\"} %llu\n",
			    page_svc[svc], i == STATS_LOGIN_OK ? "ok" :
			    "failed", page_login[i], (unsigned long long)
			    s->relay.login[svc][i]) == -1)
				return -1;
	return 0;
}

static int
page_store(struct buf *b, const char *name, const uint64_t *login)
{
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(page_store_login) /
	    sizeof(page_store_login[0]); i++) {
		r = page_store_login[i];
		if (buf_addf(b, "mmpd_store_logins_total{store=\"%s\","
		    "result=\"%s\",reason=\"%s\"} %llu\n", name,
		    r == STATS_LOGIN_OK ? "ok" : "failed", page_login[r],
		    (unsigned long long)login[r]) == -1)
			return -1;
	}
	return 0;
}

/* Store names are host name characters (lib/statsmsg.c): no escaping. */
static int
page_stores(struct buf *b, const struct page_sums *s)
{
	size_t	i;

	if (page_family(b, "mmpd_store_logins_total", "counter", "Logins "
	    "that reached a store, by store (mailHost; at most 16, the rest "
	    "as other), result and reason.") == -1)
		return -1;
	for (i = 0; i < s->relay.nstores; i++)
		if (page_store(b, s->relay.stores[i].name,
		    s->relay.stores[i].login) == -1)
			return -1;
	return page_store(b, "other", s->relay.stores[STATS_STORES_MAX].login);
}

static int
page_relay_rest(struct buf *b, const struct page_sums *s)
{
	int	svc, i;

	if (page_family(b, "mmpd_relayed_bytes_total", "counter", "Bytes "
	    "relayed after the login, by protocol and direction (up: client "
	    "to store).") == -1)
		return -1;
	for (svc = 0; svc < STATS_NSVC; svc++)
		for (i = 0; i < 2; i++)
			if (buf_addf(b, "mmpd_relayed_bytes_total{protocol="
			    "\"%s\",direction=\"%s\"} %llu\n", page_svc[svc],
			    i == 0 ? "up" : "down",
			    (unsigned long long)s->relay.bytes[svc][i]) == -1)
				return -1;
	if (page_family(b, "mmpd_refused_total", "counter", "Clients turned "
	    "away, by the rule that refused them.") == -1)
		return -1;
	for (i = 0; i < REFUSAL_MAX; i++)
		if (buf_addf(b, "mmpd_refused_total{rule=\"%s\"} %llu\n",
		    page_refusal[i],
		    (unsigned long long)s->relay.refused[i]) == -1)
			return -1;
	return page_hist(b, "mmpd_store_login_seconds", "Time from the first "
	    "connect to a store to its answer to the login (relays).",
	    &s->relay.store_latency);
}

static int
page_ldapd(struct buf *b, const struct page_sums *s)
{
	static const char *const cache[2] = { "ldap", "auth" };
	const uint64_t	*v;
	int		 i, j;

	if (page_hist(b, "mmpd_ldap_lookup_seconds", "Time mmp-ldapd took to "
	    "answer a lookup, cache hits included.",
	    &s->ldapd.lookup_latency) == -1 ||
	    page_family(b, "mmpd_cache_lookups_total", "counter", "Lookups in "
	    "mmp-ldapd's LdapCache and AuthCache, by cache and result.") == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		v = i == 0 ? s->ldapd.ldapcache : s->ldapd.authcache;
		for (j = 0; j < 2; j++)
			if (buf_addf(b, "mmpd_cache_lookups_total{cache=\"%s\","
			    "result=\"%s\"} %llu\n", cache[i], j == 0 ? "hit" :
			    "miss", (unsigned long long)v[j]) == -1)
				return -1;
	}
	return 0;
}

static int
page_tlsd(struct buf *b, const struct page_sums *s)
{
	int	i;

	if (page_family(b, "mmpd_tls_handshakes_total", "counter", "TLS "
	    "handshakes with clients in mmp-tlsd, by result.") == -1)
		return -1;
	for (i = 0; i < STATS_TLS_MAX; i++)
		if (buf_addf(b, "mmpd_tls_handshakes_total{result=\"%s\"} "
		    "%llu\n", page_tls[i],
		    (unsigned long long)s->tlsd.handshakes[i]) == -1)
			return -1;
	return 0;
}

static int
page_parent(struct buf *b, const struct page_sums *s)
{
	int	i;

	if (page_family(b, "mmpd_child_restarts_total", "counter", "Children "
	    "the parent restarted after they died, by kind.") == -1)
		return -1;
	for (i = 0; i < STATS_KIND_MAX; i++)
		if (buf_addf(b, "mmpd_child_restarts_total{kind=\"%s\"} %llu\n",
		    stats_kind_name(i),
		    (unsigned long long)senv->restarts[i]) == -1)
			return -1;
	if (page_family(b, "mmpd_scrape_answered", "gauge", "Children that "
	    "answered this scrape in time, by kind.") == -1)
		return -1;
	for (i = 0; i < STATS_KIND_STATS; i++)
		if (buf_addf(b, "mmpd_scrape_answered{kind=\"%s\"} %u\n",
		    stats_kind_name(i), s->answered[i]) == -1)
			return -1;
	return 0;
}

int
stats_page(struct buf *b, uint64_t round)
{
	static struct page_sums	s;	/* 7 kB: not on the stack */

	if (page_sum(b, &s, round) == -1 || page_sessions(b, &s) == -1 ||
	    page_logins(b, &s) == -1 || page_stores(b, &s) == -1 ||
	    page_relay_rest(b, &s) == -1 || page_ldapd(b, &s) == -1 ||
	    page_tlsd(b, &s) == -1 || page_parent(b, &s) == -1)
		return -1;
	return 0;
}
