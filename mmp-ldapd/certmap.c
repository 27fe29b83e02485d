/*
 * Certificate mapping in mmp-ldapd: the mappings of each service arrive
 * with the configuration (IMSG_CONF_CERTMAP); a relay's IMSG_CERTMAP
 * picks the mapping by issuer, builds base and filter from the subject's
 * parsed fields (lib/certmap.c, through the escapers) and searches like a
 * user lookup (lookup.c), the entry's uid becoming the replay name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmapmsg.h"
#include "escape.h"
#include "ldapd.h"
#include "log.h"

#define CERTMAP_LOG_BYTES	1024

/*
 * IMSG_CONF_CERTMAP, inside a configuration: one mapping, added to its
 * section's set with the checks the parent's parser made. A mapping the
 * parent could not have read from a file is a broken stream.
 */
int
certmap_conf(struct ldapd *env, struct imsg *imsg)
{
	struct certmap_conf	cc;
	struct certmap_set	**setp;
	char			err[256];
	uint16_t		vd;

	if (env->rx.conf == NULL)
		return CHAN_BAD;
	if (imsg->hdr.type == IMSG_CONF_VDCERTMAP) {
		/* A virtual domain's CertMap: the domain came before. */
		if (certmap_vdconf_read(imsg, &vd, &cc) == -1 ||
		    vd >= env->rx.conf->nvd[cc.sect])
			return CHAN_BAD;
		setp = &env->rx.conf->vd[cc.sect][vd].certmap;
	} else if (certmap_conf_read(imsg, &cc) == -1)
		return CHAN_BAD;
	else
		setp = &env->rx.conf->certmap[cc.sect];
	if (*setp == NULL && (*setp = certmap_new()) == NULL)
		fatal("%s", __func__);
	if (certmap_add(*setp, &cc.map, err, sizeof(err)) == -1) {
		log_warnx("certmap from parent refused: %s", err);
		return CHAN_BAD;
	}
	return CHAN_OK;
}

/* Base and filter of rq under m; -1 with why when there are none. */
static int
certmap_build(const struct certmap_map *m, const struct certmap_req *rq,
    char *base, size_t basesz, int *hasbase, char *filter, size_t filtersz,
    const char **why)
{
	int	r;

	if ((r = certmap_base(m, rq->field, rq->nfields, base, basesz, why))
	    == -1)
		return -1;
	*hasbase = r == 1;
	return certmap_filter(m, rq->field, rq->nfields, filter, filtersz,
	    why) == -1 ? -1 : 0;
}

/* Which mapping, base and filter a certificate is searched with. */
static void
certmap_log(const struct certmap_req *rq, const char *what,
    const struct certmap_map *m, uint32_t idx, const char *base,
    const char *filter)
{
	char	issuer[CERTMAP_LOG_BYTES], b[CERTMAP_LOG_BYTES + 2];
	char	f[CERTMAP_LOG_BYTES];

	if (!log_wants(rq->svc, LOG_INFO))
		return;
	(void)escape_log(rq->issuer, strlen(rq->issuer), issuer,
	    sizeof(issuer));
	if (base == NULL)
		(void)strlcpy(b, "of LdapUrl", sizeof(b));
	else {
		b[0] = '"';
		(void)escape_log(base, strlen(base), b + 1, sizeof(b) - 2);
		(void)strlcat(b, "\"", sizeof(b));
	}
	(void)escape_log(filter, strlen(filter), f, sizeof(f));
	log_svc(rq->svc, LOG_INFO, "%s issuer \"%s\" from relay %u: mapping "
	    "%s, base %s, filter %s", what, issuer, idx, m->name, b, f);
}

/*
 * IMSG_CERTMAP from a relay. -1: malformed (the relay loses its channel);
 * anything else is answered, a certificate that maps to nobody with
 * LOOKUP_NOUSER.
 */
int
certmap_request(struct ldapd *env, struct relay *r, struct imsg *imsg)
{
	static struct certmap_req	 rq;	/* 25 kB: not on the stack */
	const struct certmap_map	*m;
	char				 base[LDAPD_FILTER_BYTES];
	char				 filter[LDAPD_FILTER_BYTES];
	char				 subj[CERTMAP_LOG_BYTES];
	char				 what[LOG_SID_BYTES +
					     CERTMAP_LOG_BYTES + 16];
	char				 l1[CERTMAP_LOG_BYTES];
	const struct certmap_set	*set;
	const char			*why = NULL;
	int				 hasbase = 0, vd;

	if (certmap_req_read(imsg, &rq) == -1)
		return -1;
	(void)escape_log(rq.subject, strlen(rq.subject), subj, sizeof(subj));
	(void)snprintf(what, sizeof(what), LOG_SID_FMT ": certmap \"%s\"",
	    (unsigned long long)rq.sid, subj);
	/* The session's virtual domain's CertMap, else the service's. */
	vd = conf_vdomain_find(env->conf, rq.svc, rq.local);
	set = vd >= 0 && env->conf->vd[rq.svc][vd].certmap != NULL ?
	    env->conf->vd[rq.svc][vd].certmap : env->conf->certmap[rq.svc];
	if (set == NULL) {
		lookup_refuse(r, rq.reqid, rq.svc, LOOKUP_NOUSER, what,
		    "no CertMapFile");
		return 0;
	}
	m = certmap_choose(set, rq.issuer);
	if (certmap_build(m, &rq, base, sizeof(base), &hasbase, filter,
	    sizeof(filter), &why) == -1) {
		(void)snprintf(l1, sizeof(l1), "mapping %s: %s", m->name, why);
		lookup_refuse(r, rq.reqid, rq.svc, LOOKUP_NOUSER, what, l1);
		return 0;
	}
	certmap_log(&rq, what, m, r->idx, hasbase ? base : NULL, filter);
	lookup_cert_start(env, r, rq.reqid, rq.sid, rq.svc, vd, what,
	    rq.subject, hasbase ? base : NULL, filter);
	return 0;
}
