/*
 * The counters of lib/statsmsg.h: the few helpers that count, and the
 * IMSG_STATS_ANSWER and IMSG_STATS_RESTARTS payloads both ways.
 */
#include <string.h>

#include "statsmsg.h"

static const uint64_t	stats_bounds[STATS_BUCKETS] = STATS_BUCKET_BOUNDS_USEC;

/*
 * A store's name as a label value: a host name or an address, nothing
 * that would need escaping (a quote, a backslash, a newline) or that a
 * host name has no business holding.
 */
static int
stats_store_name_chars(const char *name)
{
	const char	*p;

	if (*name == '\0' || strlen(name) >= STATS_STORE_BYTES)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && strchr(".-_:[]", *p) == NULL)
			return 0;
	return 1;
}

void
stats_hist_add(struct stats_hist *h, uint64_t usec)
{
	size_t	i;

	for (i = 0; i < STATS_BUCKETS && usec > stats_bounds[i]; i++)
		continue;
	h->bucket[i]++;
	h->sum_usec += usec;
}

void
stats_store_count(struct stats_relay *sr, const char *name,
    enum stats_login how)
{
	size_t	i;

	if (stats_store_name_chars(name)) {
		for (i = 0; i < sr->nstores; i++)
			if (strcmp(sr->stores[i].name, name) == 0) {
				sr->stores[i].login[how]++;
				return;
			}
		if (sr->nstores < STATS_STORES_MAX) {
			(void)strlcpy(sr->stores[sr->nstores].name, name,
			    sizeof(sr->stores[0].name));
			sr->stores[sr->nstores++].login[how]++;
			return;
		}
	}
	sr->stores[STATS_STORES_MAX].login[how]++;
}

static void
stats_add_n(struct msg_writer *w, const uint64_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		msg_add_u64(w, v[i]);
}

static int
stats_get_n(struct msg_reader *r, uint64_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (msg_get_u64(r, &v[i]) == -1)
			return -1;
	return 0;
}

static void
stats_hist_write(struct msg_writer *w, const struct stats_hist *h)
{
	stats_add_n(w, h->bucket, STATS_BUCKETS + 1);
	msg_add_u64(w, h->sum_usec);
}

static int
stats_hist_read(struct msg_reader *r, struct stats_hist *h)
{
	if (stats_get_n(r, h->bucket, STATS_BUCKETS + 1) == -1)
		return -1;
	return msg_get_u64(r, &h->sum_usec);
}

void
stats_relay_write(struct msg_writer *w, uint64_t reqid,
    const struct stats_relay *sr)
{
	size_t	i;

	msg_add_u64(w, reqid);
	stats_add_n(w, &sr->sessions[0][0], STATS_NSVC * STATS_SESS_MAX);
	stats_add_n(w, &sr->login[0][0], STATS_NSVC * STATS_LOGIN_MAX);
	stats_add_n(w, &sr->bytes[0][0], STATS_NSVC * 2);
	stats_add_n(w, sr->refused, REFUSAL_MAX);
	stats_hist_write(w, &sr->store_latency);
	msg_add_u8(w, sr->nstores);
	for (i = 0; i < sr->nstores; i++) {
		msg_add_str(w, sr->stores[i].name);
		stats_add_n(w, sr->stores[i].login, STATS_LOGIN_MAX);
	}
	stats_add_n(w, sr->stores[STATS_STORES_MAX].login, STATS_LOGIN_MAX);
}

/* A store's name: one a relay could have counted, and not twice. */
static int
stats_store_name_ok(const struct stats_relay *sr, size_t n)
{
	size_t	i;

	if (!stats_store_name_chars(sr->stores[n].name))
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(sr->stores[i].name, sr->stores[n].name) == 0)
			return 0;
	return 1;
}

int
stats_relay_read(const struct imsg *imsg, uint64_t *reqid,
    struct stats_relay *sr)
{
	struct msg_reader	r;
	size_t			i;

	memset(sr, 0, sizeof(*sr));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, reqid) == -1 ||
	    stats_get_n(&r, &sr->sessions[0][0], STATS_NSVC *
	    STATS_SESS_MAX) == -1 ||
	    stats_get_n(&r, &sr->login[0][0], STATS_NSVC *
	    STATS_LOGIN_MAX) == -1 ||
	    stats_get_n(&r, &sr->bytes[0][0], STATS_NSVC * 2) == -1 ||
	    stats_get_n(&r, sr->refused, REFUSAL_MAX) == -1 ||
	    stats_hist_read(&r, &sr->store_latency) == -1 ||
	    msg_get_u8(&r, &sr->nstores) == -1 ||
	    sr->nstores > STATS_STORES_MAX)
		return -1;
	for (i = 0; i < sr->nstores; i++)
		if (msg_get_str(&r, sr->stores[i].name,
		    sizeof(sr->stores[i].name)) == -1 ||
		    !stats_store_name_ok(sr, i) ||
		    stats_get_n(&r, sr->stores[i].login,
		    STATS_LOGIN_MAX) == -1)
			return -1;
	if (stats_get_n(&r, sr->stores[STATS_STORES_MAX].login,
	    STATS_LOGIN_MAX) == -1)
		return -1;
	return msg_end(&r);
}

void
stats_ldapd_write(struct msg_writer *w, uint64_t reqid,
    const struct stats_ldapd *sl)
{
	msg_add_u64(w, reqid);
	stats_hist_write(w, &sl->lookup_latency);
	stats_add_n(w, sl->ldapcache, 2);
	stats_add_n(w, sl->authcache, 2);
}

int
stats_ldapd_read(const struct imsg *imsg, uint64_t *reqid,
    struct stats_ldapd *sl)
{
	struct msg_reader	r;

	memset(sl, 0, sizeof(*sl));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, reqid) == -1 ||
	    stats_hist_read(&r, &sl->lookup_latency) == -1 ||
	    stats_get_n(&r, sl->ldapcache, 2) == -1 ||
	    stats_get_n(&r, sl->authcache, 2) == -1)
		return -1;
	return msg_end(&r);
}

void
stats_tlsd_write(struct msg_writer *w, uint64_t reqid,
    const struct stats_tlsd *st)
{
	msg_add_u64(w, reqid);
	stats_add_n(w, st->handshakes, STATS_TLS_MAX);
}

int
stats_tlsd_read(const struct imsg *imsg, uint64_t *reqid,
    struct stats_tlsd *st)
{
	struct msg_reader	r;

	memset(st, 0, sizeof(*st));
	msg_reader_init(&r, imsg);
	if (msg_get_u64(&r, reqid) == -1 ||
	    stats_get_n(&r, st->handshakes, STATS_TLS_MAX) == -1)
		return -1;
	return msg_end(&r);
}

void
stats_restarts_write(struct msg_writer *w, const uint64_t *restarts)
{
	stats_add_n(w, restarts, STATS_KIND_MAX);
}

int
stats_restarts_read(const struct imsg *imsg, uint64_t *restarts)
{
	struct msg_reader	r;

	msg_reader_init(&r, imsg);
	if (stats_get_n(&r, restarts, STATS_KIND_MAX) == -1)
		return -1;
	return msg_end(&r);
}
