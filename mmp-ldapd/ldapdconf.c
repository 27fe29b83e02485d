/*
 * mmp-ldapd's configuration: received from the parent (IMSG_CONF_*, the
 * hosts table), checked by the parent's own code, then applied: the LDAP
 * connections of the services and virtual domains kept or replaced, the
 * caches kept or dropped, the counters of the old one logged.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <ldap.h>

#include "ldapd.h"
#include "log.h"

void
ldapd_send_ready(struct ldapd *env)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->gen);
	if (chan_compose_msg(env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatal("IMSG_READY");
}

/* Each log at the LogLevel of its own file. */
static void
ldapd_log_level(struct ldapd *env, const struct mmp_conf *conf)
{
	conf_log_levels(conf, env->verbose);
}

static void
ldapd_check_restart_keys(const struct mmp_conf *old,
    const struct mmp_conf *new)
{
	static const enum conf_key	 keys[] = { CK_CHROOTDIR, CK_LDAPUSER };
	const struct conf_keyinfo	*ki;
	size_t				 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(conf_str(old, CONF_GLOBAL, keys[i]),
		    conf_str(new, CONF_GLOBAL, keys[i])) == 0)
			continue;
		ki = conf_keyinfo(keys[i]);
		log_warnx("%s changed: mmp-ldapd keeps the old value until "
		    "mmpd is restarted", ki->name);
	}
}

/*
 * Where the waiting lookups of old's virtual domain vd go when its
 * connection retires: the connection of its own that the same-named
 * domain has in conf (nv), else the service's, as a new login of that
 * domain would. Not by index: a reload may number the domains anew, and
 * the domain now at vd may be another tenant's directory.
 */
static struct ldap_conn *
ldapd_vdconn_heir(struct ldapd *env, const struct mmp_conf *old,
    const struct mmp_conf *conf, struct ldap_conn **nv, int svc, size_t vd)
{
	int	k;

	k = conf_vdomain_by_name(conf, svc, old->vd[svc][vd].name);
	if (k >= 0 && nv[k] != NULL)
		return nv[k];
	return env->conn[svc];
}

/*
 * The connections of svc's virtual domains that set their own directory
 * settings: an old one with the same settings stays (whatever its index
 * was), the others retire, their waiting lookups going to the domain's
 * new connection or the service's (ldapd_vdconn_heir). env->conn is
 * conf's already; old is the configuration env->vdconn is indexed by.
 */
static void
ldapd_conf_vdconns(struct ldapd *env, const struct mmp_conf *old,
    const struct mmp_conf *conf, int svc)
{
	struct ldap_conn	**nv = NULL, **ov = env->vdconn[svc], *nc;
	size_t			  n = conf->nvd[svc], on = env->nvdconn[svc];
	size_t			  i, j;

	if (n > 0 && (nv = calloc(n, sizeof(*nv))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		if ((nc = conn_new(env, conf, svc, (int)i)) == NULL)
			continue;
		for (j = 0; j < on; j++)
			if (ov[j] != NULL && conn_same(ov[j], nc))
				break;
		if (j < on) {
			conn_free(nc);
			nv[i] = ov[j];
			nv[i]->vd = (int)i;
			ov[j] = NULL;
			continue;
		}
		nv[i] = nc;
		log_svc(svc, LOG_INFO, "%s virtual domain %s: LDAP connection "
		    "of its own", svc_name(svc), conf->vd[svc][i].name);
		if (env->started)
			conn_start(nc);
	}
	for (j = 0; j < on; j++)
		if (ov[j] != NULL)
			conn_retire(ov[j], ldapd_vdconn_heir(env, old, conf,
			    nv, svc, j));
	free(ov);
	env->vdconn[svc] = nv;
	env->nvdconn[svc] = n;
}

/*
 * The virtual domains' own caches of svc go (with the service's). */
void
ldapd_vdcaches_free(struct ldapd *env, int svc)
{
	size_t	i;

	for (i = 0; i < env->nvdcaches[svc]; i++)
		dircache_free(env->vdcaches[svc][i]);
	free(env->vdcaches[svc]);
	env->vdcaches[svc] = NULL;
	env->nvdcaches[svc] = 0;
}

/* Caches of their own for the virtual domains that ask for them. */
static void
ldapd_vdcaches_new(struct ldapd *env, const struct mmp_conf *conf, int svc)
{
	size_t	i, n = conf->nvd[svc];

	if (n == 0)
		return;
	if ((env->vdcaches[svc] = calloc(n, sizeof(*env->vdcaches[svc]))) ==
	    NULL)
		fatal("%s", __func__);
	env->nvdcaches[svc] = n;
	for (i = 0; i < n; i++)
		if (dircache_vd_own(conf, svc, (int)i))
			env->vdcaches[svc][i] = dircache_conf(conf, svc,
			    (int)i, ++env->cachegen);
}

/*
 * A service's caches (and its virtual domains' own) stay over a reload
 * that changes none of its directory settings (its LDAP connection,
 * SearchFormat, the cache sizes and TTLs, PreAuth, its virtual domains);
 * otherwise they go, and new ones start empty.
 */
static void
ldapd_conf_caches(struct ldapd *env, const struct mmp_conf *old,
    const struct mmp_conf *conf, int svc, int connchanged)
{
	struct dir_caches	*dc = env->caches[svc];

	if (dc != NULL && !connchanged && old != NULL &&
	    dircache_same_conf(old, conf, svc))
		return;
	if (dc != NULL)
		log_svc(svc, LOG_NOTICE, "%s directory settings changed: "
		    "its LdapCache and AuthCache start empty", svc_name(svc));
	dircache_free(dc);
	ldapd_vdcaches_free(env, svc);
	env->caches[svc] = NULL;
	if (env->conn[svc] != NULL) {
		env->caches[svc] = dircache_conf(conf, svc, -1,
		    ++env->cachegen);
		ldapd_vdcaches_new(env, conf, svc);
	}
}

static void
ldapd_conf_conns(struct ldapd *env, const struct mmp_conf *old,
    const struct mmp_conf *conf)
{
	struct ldap_conn	*nc, *oc;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		ldaptls_load(env, conf, svc);
		nc = conn_new(env, conf, svc, -1);
		oc = env->conn[svc];
		if (oc != NULL && nc != NULL && conn_same(oc, nc)) {
			conn_free(nc);
			ldapd_conf_caches(env, old, conf, svc, 0);
			continue;
		}
		env->conn[svc] = nc;
		ldapd_conf_caches(env, old, conf, svc, 1);
		if (oc != NULL) {
			log_svc(svc, LOG_INFO, "%s LDAP settings changed: "
			    "new connection, the old one closes when its "
			    "searches are answered",
			    svc == SVC_POP ? "POP" : "IMAP");
			conn_retire(oc, nc);
		}
		if (env->started)
			conn_start(nc);
	}
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		ldapd_conf_vdconns(env, old, conf, svc);
}

/* Each cache's counters, at each reload and at the end. */
void
ldapd_log_caches(struct ldapd *env)
{
	const struct mmp_conf	*conf = env->conf;
	char			 who[CONF_VDNAME_BYTES + 8];
	size_t			 i;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		dircache_log(env->caches[svc], svc, svc_name(svc));
		for (i = 0; i < env->nvdcaches[svc]; i++) {
			if (env->vdcaches[svc][i] == NULL)
				continue;
			(void)snprintf(who, sizeof(who), "%s %s", svc_name(svc),
			    conf != NULL && i < conf->nvd[svc] ?
			    conf->vd[svc][i].name : "?");
			dircache_log(env->vdcaches[svc][i], svc, who);
		}
	}
}

/* The timeouts counted since the start, at each reload and at the end. */
void
ldapd_log_timeouts(struct ldapd *env)
{
	int	svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (env->conn[svc] != NULL)
			log_svc(svc, LOG_NOTICE, "%s LDAP operations without "
			    "an answer within LdapTimeout since start: %llu "
			    "searches, %llu binds or StartTLS",
			    svc == SVC_POP ? "POP" : "IMAP",
			    env->search_timeouts[svc],
			    env->bind_timeouts[svc]);
}

static void
ldapd_conf_apply(struct ldapd *env, struct mmp_conf *conf, uint32_t gen)
{
	struct mmp_conf	*old = env->conf;

	if (old != NULL) {
		ldapd_check_restart_keys(old, conf);
		ldapd_log_timeouts(env);
		ldapd_log_caches(env);
	}
	hosts_finish(&env->newhosts);
	hosts_free(&env->hosts);
	env->hosts = env->newhosts;
	memset(&env->newhosts, 0, sizeof(env->newhosts));
	env->conf = conf;
	env->gen = gen;
	ldapd_log_level(env, conf);
	ldapd_conf_conns(env, old, conf);
	conf_free(old);
	log_info("configuration %u applied (%zu hosts table entries)", gen,
	    env->hosts.n);
	if (env->started)
		ldapd_send_ready(env);
}

/*
 * The parent checked the configuration with the same code: one refused
 * here means a stream not to be trusted (the parent restarts us).
 */
int
ldapd_conf_imsg(struct ldapd *env, struct imsg *imsg)
{
	struct mmp_conf	*conf = NULL;
	uint32_t	 gen;
	char		 err[512];
	int		 r;

	if (imsg->hdr.type == IMSG_CONF_START)
		hosts_free(&env->newhosts);
	r = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (r == -1) {
		hosts_free(&env->newhosts);
		log_warnx("configuration from parent refused: %s", err);
		return CHAN_BAD;
	}
	if (r == 1)
		ldapd_conf_apply(env, conf, gen);
	return CHAN_OK;
}

/*
 * IMSG_CONF_HOST: str name, str address, inside a configuration. One
 * HostsFile line; several lines may name the same host. A name the
 * parent took and we do not is skipped, not a broken protocol.
 */
int
ldapd_conf_host(struct ldapd *env, struct imsg *imsg)
{
	struct msg_reader	r;
	char			name[MMP_STR_BYTES], addr[MMP_STR_BYTES];

	msg_reader_init(&r, imsg);
	if (msg_get_str(&r, name, sizeof(name)) == -1 ||
	    msg_get_str(&r, addr, sizeof(addr)) == -1 || msg_end(&r) == -1 ||
	    env->rx.conf == NULL)
		return CHAN_BAD;
	if (hosts_add(&env->newhosts, name, addr) == -1)
		log_warnx("hosts table: \"%s\" -> \"%s\" skipped (not a host "
		    "name and a numeric address)", name, addr);
	return CHAN_OK;
}
