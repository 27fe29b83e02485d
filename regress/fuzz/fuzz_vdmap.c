/*
 * libFuzzer target for lib/vdmap.c: the input is a vdmap file for the IMAP
 * service. An accepted one is dumped, every domain's keys read, each
 * override sent again through conf_vset as a child would (accepted as
 * is), and every address looked up again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "log.h"
#include "vdmap.h"

static FILE	*devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 1, LOG_CRIT);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

/* The child's copy: the same domains, each value accepted again. */
static void
resend(const struct mmp_conf *conf)
{
	const struct conf_vdomain	*vd;
	struct mmp_conf			*copy;
	char				 err[512];
	size_t				 i;
	int				 k;

	if ((copy = conf_new()) == NULL)
		return;
	for (i = 0; i < conf->nvd[SVC_IMAP]; i++) {
		vd = &conf->vd[SVC_IMAP][i];
		if (conf_vdomain_add(copy, SVC_IMAP, vd->name, vd->addr,
		    vd->file, vd->line, err, sizeof(err)) != (int)i)
			abort();
		for (k = 0; k < CK_NKEYS; k++) {
			if (!vd->v[k].isset)
				continue;
			if (conf_vset(copy, SVC_IMAP, (int)i, (enum conf_key)k,
			    vd->v[k].str, "resend", 1, err, sizeof(err)) == -1 ||
			    strcmp(copy->vd[SVC_IMAP][i].v[k].str,
			    vd->v[k].str) != 0)
				abort();
		}
	}
	conf_free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmp_conf	*conf;
	char		 err[512];
	size_t		 i;
	int		 k;

	if ((conf = conf_new()) == NULL)
		return 0;
	conf->enabled[SVC_IMAP] = 1;
	err[0] = '\0';
	if (vdmap_parse(conf, SVC_IMAP, (const char *)data, size, "fuzz", err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		conf_free(conf);
		return 0;
	}
	conf_dump(conf, devnull);
	for (i = 0; i < conf->nvd[SVC_IMAP]; i++) {
		if (conf_vdomain_find(conf, SVC_IMAP,
		    conf->vd[SVC_IMAP][i].addr) != (int)i ||
		    conf_vdomain_domain(conf, SVC_IMAP, (int)i) == NULL)
			abort();
		for (k = 0; k < CK_NKEYS; k++) {
			(void)conf_vstr(conf, SVC_IMAP, (int)i,
			    (enum conf_key)k);
			(void)conf_vnum(conf, SVC_IMAP, (int)i,
			    (enum conf_key)k);
		}
	}
	resend(conf);
	conf_free(conf);
	return 0;
}
