/*
 * The caches of one directory configuration (a service's, or a virtual
 * domain's own): which settings make them, which change drops them, and
 * their counters in the log.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldapd.h"
#include "log.h"

/*
 * The settings whose change makes what the caches hold wrong or kept
 * differently (the LDAP connection's are conn_same's).
 */
static const enum conf_key dircache_num_keys[] = {
	CK_LDAPCACHESIZE, CK_LDAPCACHETTL, CK_AUTHCACHESIZE, CK_AUTHCACHETTL,
	CK_PREAUTH,
};

/* The virtual domains of svc, the same in a and b, overrides included. */
static int
dircache_same_vdomains(const struct mmp_conf *a, const struct mmp_conf *b,
    int svc)
{
	const struct conf_keyinfo	*ki;
	const char			*va, *vb;
	size_t				 i;
	int				 k;

	if (a->nvd[svc] != b->nvd[svc])
		return 0;
	for (i = 0; i < a->nvd[svc]; i++) {
		if (strcmp(a->vd[svc][i].name, b->vd[svc][i].name) != 0 ||
		    strcmp(a->vd[svc][i].addr, b->vd[svc][i].addr) != 0)
			return 0;
		for (k = 0; k < CK_NKEYS; k++) {
			if ((ki = conf_keyinfo(k)) == NULL ||
			    !(ki->files & CF_V))
				continue;
			if (conf_voverrides(a, svc, (int)i, k) !=
			    conf_voverrides(b, svc, (int)i, k))
				return 0;
			va = conf_vstr(a, svc, (int)i, k);
			vb = conf_vstr(b, svc, (int)i, k);
			if (strcmp(va != NULL ? va : "", vb != NULL ? vb : "")
			    != 0)
				return 0;
		}
	}
	return 1;
}

int
dircache_same_conf(const struct mmp_conf *a, const struct mmp_conf *b,
    int svc)
{
	const char	*fa, *fb;
	size_t		 i;

	for (i = 0; i < sizeof(dircache_num_keys) /
	    sizeof(dircache_num_keys[0]); i++)
		if (conf_num(a, svc, dircache_num_keys[i]) !=
		    conf_num(b, svc, dircache_num_keys[i]))
			return 0;
	fa = conf_str(a, svc, CK_SEARCHFORMAT);
	fb = conf_str(b, svc, CK_SEARCHFORMAT);
	return strcmp(fa != NULL ? fa : "", fb != NULL ? fb : "") == 0 &&
	    dircache_same_vdomains(a, b, svc);
}

/*
 * Whether virtual domain vd of svc needs caches of its own: it sets their
 * sizes or lifetimes, PreAuth, or a directory of its own (its entries and
 * binds are another directory's). The others share the service's.
 */
int
dircache_vd_own(const struct mmp_conf *conf, int svc, int vd)
{
	static const enum conf_key keys[] = {
		CK_LDAPCACHESIZE, CK_LDAPCACHETTL, CK_AUTHCACHESIZE,
		CK_AUTHCACHETTL, CK_PREAUTH, CK_LDAPURL, CK_BINDDN,
		CK_BINDPASS, CK_MAILHOSTATTRS,
	};
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (conf_voverrides(conf, svc, vd, keys[i]))
			return 1;
	return 0;
}

/*
 * The caches settings ask for: LdapCacheSize entries for LdapCacheTTL;
 * with PreAuth, AuthCacheSize entries for the shorter of AuthCacheTTL
 * and LdapCacheTTL (a user's entry that expires takes the cached password
 * data with it). A size or TTL of 0 turns that cache off. fatal: no memory.
 */
struct dir_caches *
dircache_new(long long usize, long long uttl, long long asize,
    long long attl, int preauth, uint64_t gen)
{
	struct dir_caches	*dc;

	if ((dc = calloc(1, sizeof(*dc))) == NULL)
		fatal("%s", __func__);
	dc->gen = gen;
	if (usize > 0 && uttl > 0 &&
	    (dc->users = cache_new((size_t)usize, (unsigned int)uttl)) ==
	    NULL)
		fatal("%s", __func__);
	if (attl > uttl)
		attl = uttl;
	if (preauth && asize > 0 && attl > 0 &&
	    (dc->auth = cache_new((size_t)asize, (unsigned int)attl)) == NULL)
		fatal("%s", __func__);
	return dc;
}

struct dir_caches *
dircache_conf(const struct mmp_conf *conf, int svc, int vd, uint64_t gen)
{
	return dircache_new(conf_vnum(conf, svc, vd, CK_LDAPCACHESIZE),
	    conf_vnum(conf, svc, vd, CK_LDAPCACHETTL),
	    conf_vnum(conf, svc, vd, CK_AUTHCACHESIZE),
	    conf_vnum(conf, svc, vd, CK_AUTHCACHETTL),
	    conf_vnum(conf, svc, vd, CK_PREAUTH) != 0, gen);
}

static void
dircache_log_one(int svc, const char *who, const char *what,
    const struct cache *c)
{
	struct cache_stats	st;

	if (c == NULL)
		return;
	cache_stats(c, &st);
	log_svc(svc, LOG_NOTICE, "%s %s: %llu hits, %llu misses, %llu "
	    "evicted, %llu expired, %zu entries", who, what, st.hits,
	    st.misses, st.evicted, st.expired, st.entries);
}

/* One line per cache: at each reload and at the end. who: "IMAP". */
void
dircache_log(const struct dir_caches *dc, int svc, const char *who)
{
	if (dc == NULL)
		return;
	dircache_log_one(svc, who, "LdapCache", dc->users);
	dircache_log_one(svc, who, "AuthCache", dc->auth);
}

void
dircache_free(struct dir_caches *dc)
{
	if (dc == NULL)
		return;
	cache_free(dc->users);
	cache_free(dc->auth);
	free(dc);
}
