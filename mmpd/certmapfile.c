/*
 * The parent's CertMapFile: each service's (and each virtual domain's
 * CertMap) certmap.conf, read as root at
 * start, at reload and for `mmpd -n`, parsed by lib/certmap.c into the
 * configuration it belongs to, and sent to mmp-ldapd (which cannot read
 * files in its chroot) as IMSG_CONF_CERTMAP inside that configuration.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certmapmsg.h"
#include "log.h"
#include "parent.h"

/* The whole file, at most max bytes; NULL with err. */
char *
parent_file_read(const char *path, size_t max, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: a FIFO in its place must not hang the parent. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY))
	    == -1) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "not a regular file");
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		(void)snprintf(err, errlen, "larger than %zu bytes", max);
		goto fail;
	}
	/* One byte more than allowed tells a file that grew meanwhile. */
	if ((buf = malloc(max + 1)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (len <= max && (n = read(fd, buf + len, max + 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(err, errlen, "%s", strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > max) {
		(void)snprintf(err, errlen, "larger than %zu bytes", max);
		goto fail;
	}
	close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	return NULL;
}

/* One service's file into conf->certmap[svc]. 0 or -1 with err. */
static int
certmapfile_load_svc(struct mmp_conf *conf, int svc, char *err,
    size_t errlen)
{
	const struct conf_value	*cv = &conf->v[svc][CK_CERTMAPFILE];
	char			*buf, why[512];
	size_t			 len;

	if (!conf->enabled[svc] || !cv->isset || cv->str == NULL ||
	    cv->str[0] == '\0')
		return 0;
	if ((buf = parent_file_read(cv->str, CERTMAP_FILE_MAX_BYTES, &len,
	    why, sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "%s:%d: CertMapFile %s: %s",
		    cv->file, cv->line, cv->str, why);
		return -1;
	}
	conf->certmap[svc] = certmap_parse(buf, len, cv->str, err, errlen);
	free(buf);
	return conf->certmap[svc] == NULL ? -1 : 0;
}

/* A virtual domain's CertMap (its CertMapFile) into vd->certmap. */
static int
certmapfile_load_vd(struct conf_vdomain *vd, char *err, size_t errlen)
{
	const struct conf_value	*cv = &vd->v[CK_CERTMAP];
	char			*buf, why[512];
	size_t			 len;

	if (!cv->isset || cv->str == NULL || cv->str[0] == '\0')
		return 0;
	if ((buf = parent_file_read(cv->str, CERTMAP_FILE_MAX_BYTES, &len,
	    why, sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "%s:%d: %s:CertMap %s: %s",
		    cv->file, cv->line, vd->name, cv->str, why);
		return -1;
	}
	vd->certmap = certmap_parse(buf, len, cv->str, err, errlen);
	free(buf);
	return vd->certmap == NULL ? -1 : 0;
}

/*
 * conf_load, each service's VirtualDomainFile (vdmapfile.c) and
 * BGExcluded (bgexclfile.c), POP's SpoofMessageFile (spooffile.c), and then
 * each service's and each virtual domain's certmap file: NULL with
 * "file:line: reason" in err when one is refused, so that a start fails,
 * `mmpd -n` says why and a reload keeps the running configuration.
 */
struct mmp_conf *
certmapfile_conf_load(const char *dir, char *err, size_t errlen)
{
	struct mmp_conf	*conf;
	size_t		 i;
	int		 svc;

	if ((conf = conf_load(dir, err, errlen)) == NULL)
		return NULL;
	if (vdmapfile_load(conf, err, errlen) == -1 ||
	    bgexclfile_load(conf, err, errlen) == -1 ||
	    spooffile_load(conf, err, errlen) == -1)
		goto fail;
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		if (certmapfile_load_svc(conf, svc, err, errlen) == -1)
			goto fail;
		for (i = 0; i < conf->nvd[svc]; i++)
			if (certmapfile_load_vd(&conf->vd[svc][i], err,
			    errlen) == -1)
				goto fail;
	}
	return conf;
 fail:
	conf_free(conf);
	return NULL;
}

/*
 * One set's mappings in file order: IMSG_CONF_CERTMAP for a service's
 * (vd -1), IMSG_CONF_VDCERTMAP with the domain's index for a virtual
 * domain's.
 */
static int
certmapfile_send_set(struct chan *ch, const struct certmap_set *set, int svc,
    int vd)
{
	struct certmap_conf	 cc;
	struct msg_writer	 w;
	size_t			 i;

	for (i = 0; set != NULL && i < set->n; i++) {
		memset(&cc, 0, sizeof(cc));
		cc.sect = (uint8_t)svc;
		cc.map = set->map[i];
		msg_writer_init(&w);
		if (vd >= 0)
			msg_add_u16(&w, (uint16_t)vd);
		if (certmap_conf_write(&w, &cc) == -1 ||
		    chan_compose_msg(ch, vd >= 0 ? IMSG_CONF_VDCERTMAP :
		    IMSG_CONF_CERTMAP, 0, -1, &w) == -1)
			return -1;
	}
	return 0;
}

/* Each service's mappings, then each of its virtual domains'. */
int
certmapfile_send(struct chan *ch, const struct mmp_conf *conf)
{
	size_t	i;
	int	svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		if (certmapfile_send_set(ch, conf->certmap[svc], svc, -1) == -1)
			return -1;
		for (i = 0; i < conf->nvd[svc]; i++)
			if (certmapfile_send_set(ch, conf->vd[svc][i].certmap,
			    svc, (int)i) == -1)
				return -1;
	}
	return 0;
}
