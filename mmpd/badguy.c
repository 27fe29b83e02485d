/*
 * BadGuy in a relay: each failed login from an address makes the answers
 * to its later logins slower (BGPenalty, up to BGMaxBadness, gone over
 * BGDecay), counted in the shared memory (lib/bgtable.h) so that a
 * guesser gains nothing by landing on another relay. BGExcluded networks
 * are never penalised. login.c adds the badness to its deadlines.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgexcl.h"
#include "bgtable.h"
#include "log.h"
#include "relay.h"

#define MSEC_PER_SEC	1000ULL
#define BG_WORKERS_MAX	64	/* the range of Workers (RELAYS_MAX) */

/* Every relay's table, in section order; own is one of them. */
static struct bg_section	*bg_all[SHM_SECTIONS];
static struct bg_section	*bg_own;
/* CPUs, for Workers 0: read once, before the sandbox, as the parent does. */
static long			 bg_ncpu;

static uint64_t
badguy_now(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MSEC_PER_SEC +
	    (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * This relay's share of BGMax: the largest of the services' (one table
 * serves both: a guesser gains nothing by changing protocol either)
 * split evenly between the Workers, rounded down, so the relays together
 * never track more than BGMax addresses.
 */
static uint32_t
badguy_share(const struct mmp_conf *conf)
{
	long long	max = 0, n;
	int		svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (conf->enabled[svc] &&
		    (n = conf_num(conf, svc, CK_BGMAX)) > max)
			max = n;
	if ((n = conf_num(conf, CONF_GLOBAL, CK_WORKERS)) <= 0)
		n = bg_ncpu;
	if (n < 1)
		n = 1;
	if (n > BG_WORKERS_MAX)
		n = BG_WORKERS_MAX;
	max /= n;
	return max > BG_SLOTS ? BG_SLOTS : (uint32_t)max;
}

/*
 * A configuration was applied; the shared memory came before the first
 * one, and the first one before the sandbox (sysconf reads /sys).
 */
void
badguy_conf(void)
{
	unsigned int	i;

	if (bg_ncpu == 0 && (bg_ncpu = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		bg_ncpu = 1;
	if (env->shm.base == NULL || env->conf == NULL)
		return;
	for (i = 0; i < SHM_SECTIONS; i++)
		bg_all[i] = &shm_section(&env->shm, i)->badguy;
	bg_own = bg_all[env->shm.own];
	bgtable_setup(bg_own, badguy_share(env->conf));
}

/* The service's keys in ms; 0: BadGuy is off for it. */
static int
badguy_params(int svc, struct bg_params *p)
{
	p->penalty = conf_num(env->conf, svc, CK_BGPENALTY) * MSEC_PER_SEC;
	p->max = conf_num(env->conf, svc, CK_BGMAXBADNESS) * MSEC_PER_SEC;
	p->decay = conf_num(env->conf, svc, CK_BGDECAY) * MSEC_PER_SEC;
	p->linear = conf_num(env->conf, svc, CK_BGLINEAR) != 0;
	return bg_own != NULL && p->penalty > 0 && p->max > 0 && p->decay > 0;
}

/*
 * The session's address as the table keys it, and its hash; 0 for an
 * address BadGuy leaves alone (excluded, or not IP).
 */
static int
badguy_key(const struct session *s, uint8_t key[16], uint64_t *hash)
{
	struct shm_key	k;

	if (s->peer.ss_family != AF_INET && s->peer.ss_family != AF_INET6)
		return 0;
	shm_key_sockaddr(&k, &s->peer, 0);
	memcpy(key, k.addr, 16);
	if (bgexcl_match(&env->conf->bgexcl[s->svc], key))
		return 0;
	*hash = shm_hash(&env->shm, key, 16);
	return 1;
}

/* The address of a key as the product logs it: no port, IPv4 plain. */
static void
badguy_text(const uint8_t key[16], char *out, size_t outlen)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	if (memcmp(key, mapped, sizeof(mapped)) == 0) {
		if (inet_ntop(AF_INET, key + 12, out, outlen) != NULL)
			return;
	} else if (inet_ntop(AF_INET6, key, out, outlen) != NULL)
		return;
	(void)strlcpy(out, "?", outlen);
}

/* The badness of the session's address now, in ms. */
uint64_t
badguy_badness(const struct session *s)
{
	struct bg_params	p;
	uint8_t			key[16];
	uint64_t		hash;

	if (!badguy_params(s->svc, &p) || !badguy_key(s, key, &hash))
		return 0;
	return bgtable_badness(bg_all, SHM_SECTIONS, key, hash, badguy_now(),
	    &p);
}

/* An address made room in the table: worth a debug line only. */
static void
badguy_evicted(struct session *s, const struct bg_change *c)
{
	char	addr[INET6_ADDRSTRLEN];

	if (!c->evicted)
		return;
	badguy_text(c->evkey, addr, sizeof(addr));
	session_log(s, LOG_DEBUG, "badguy %s forgotten to make room", addr);
}

/* A login from the session's address failed: it earns a penalty. */
void
badguy_failed(struct session *s)
{
	struct bg_params	p;
	struct bg_change	c;
	uint8_t			key[16];
	uint64_t		hash;
	char			addr[INET6_ADDRSTRLEN];

	if (!badguy_params(s->svc, &p) || !badguy_key(s, key, &hash) ||
	    bgtable_fail(bg_own, bg_all, SHM_SECTIONS, key, hash,
	    badguy_now(), &p, &c) == -1)
		return;
	badguy_evicted(s, &c);
	if (c.after == c.before)
		return;
	badguy_text(key, addr, sizeof(addr));
	session_log(s, LOG_NOTICE, "badguy %s now has %llu badness", addr,
	    (unsigned long long)((c.after + MSEC_PER_SEC / 2) /
	    MSEC_PER_SEC));
}

/*
 * A login from a bad address succeeded (and was held for its badness):
 * the address is no BadGuy any more, in every relay.
 */
void
badguy_cleared(struct session *s)
{
	struct bg_params	p;
	struct bg_change	c;
	uint8_t			key[16];
	uint64_t		hash;
	char			addr[INET6_ADDRSTRLEN];

	if (!badguy_params(s->svc, &p) || !badguy_key(s, key, &hash) ||
	    bgtable_clean(bg_own, bg_all, SHM_SECTIONS, key, hash,
	    badguy_now(), &p, &c) == -1)
		return;
	badguy_evicted(s, &c);
	badguy_text(key, addr, sizeof(addr));
	session_log(s, LOG_INFO, "badguy %s cleared by a login", addr);
}

/* A login answered later for its address's badness (statistics). */
void
badguy_delayed(void)
{
	relay_stat_refused(REFUSAL_BADGUY);
	if (bg_own != NULL)
		atomic_store_explicit(&bg_own->delayed, atomic_load_explicit(
		    &bg_own->delayed, memory_order_relaxed) + 1,
		    memory_order_relaxed);
}
