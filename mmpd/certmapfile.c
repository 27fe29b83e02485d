/*
 * The parent's CertMapFile: each service's certmap.conf, read as root at
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

/* The whole file, at most CERTMAP_FILE_MAX_BYTES; NULL with err. */
static char *
certmapfile_read(const char *path, size_t *lenp, char *err, size_t errlen)
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
	if (st.st_size > CERTMAP_FILE_MAX_BYTES) {
		(void)snprintf(err, errlen, "larger than %d bytes",
		    CERTMAP_FILE_MAX_BYTES);
		goto fail;
	}
	/* One byte more than allowed tells a file that grew meanwhile. */
	if ((buf = malloc(CERTMAP_FILE_MAX_BYTES + 1)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (len <= CERTMAP_FILE_MAX_BYTES &&
	    (n = read(fd, buf + len, CERTMAP_FILE_MAX_BYTES + 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(err, errlen, "%s", strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > CERTMAP_FILE_MAX_BYTES) {
		(void)snprintf(err, errlen, "larger than %d bytes",
		    CERTMAP_FILE_MAX_BYTES);
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
	if ((buf = certmapfile_read(cv->str, &len, why, sizeof(why))) ==
	    NULL) {
		(void)snprintf(err, errlen, "%s:%d: CertMapFile %s: %s",
		    cv->file, cv->line, cv->str, why);
		return -1;
	}
	conf->certmap[svc] = certmap_parse(buf, len, cv->str, err, errlen);
	free(buf);
	return conf->certmap[svc] == NULL ? -1 : 0;
}

/*
 * conf_load, and then each service's CertMapFile: NULL with "file:line:
 * reason" in err when either is refused, so that a start fails, `mmpd -n`
 * says why and a reload keeps the running configuration.
 */
struct mmp_conf *
certmapfile_conf_load(const char *dir, char *err, size_t errlen)
{
	struct mmp_conf	*conf;
	int		 svc;

	if ((conf = conf_load(dir, err, errlen)) == NULL)
		return NULL;
	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (certmapfile_load_svc(conf, svc, err, errlen) == -1) {
			conf_free(conf);
			return NULL;
		}
	return conf;
}

/* IMSG_CONF_CERTMAP per mapping of each service, in file order. */
int
certmapfile_send(struct chan *ch, const struct mmp_conf *conf)
{
	struct certmap_conf	 cc;
	struct msg_writer	 w;
	const struct certmap_set *set;
	size_t			 i;
	int			 svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		if ((set = conf->certmap[svc]) == NULL)
			continue;
		for (i = 0; i < set->n; i++) {
			memset(&cc, 0, sizeof(cc));
			cc.sect = (uint8_t)svc;
			cc.map = set->map[i];
			msg_writer_init(&w);
			if (certmap_conf_write(&w, &cc) == -1 ||
			    chan_compose_msg(ch, IMSG_CONF_CERTMAP, 0, -1, &w)
			    == -1)
				return -1;
		}
	}
	return 0;
}
