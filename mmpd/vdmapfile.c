/*
 * The parent's VirtualDomainFile: each service's vdmap file, read as root
 * at start, at reload and for `mmpd -n`, parsed by lib/vdmap.c into the
 * configuration it belongs to; the children get the domains with it
 * (lib/confmsg.c), since they cannot read files in their chroot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parent.h"
#include "vdmap.h"

/*
 * How the file is named in messages and -nn origins: its path, or its
 * last component when the path does not fit an origin (64 bytes).
 */
static const char *
vdmapfile_label(const char *path)
{
	const char	*slash;
	struct conf_value cv;

	if (strlen(path) < sizeof(cv.file))
		return path;
	slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

static int
vdmapfile_load_svc(struct mmp_conf *conf, int svc, char *err, size_t errlen)
{
	const struct conf_value	*cv = &conf->v[svc][CK_VIRTUALDOMAINFILE];
	char			*buf, why[512];
	size_t			 len;
	int			 rv;

	if (!conf->enabled[svc] || !cv->isset || cv->str == NULL ||
	    cv->str[0] == '\0')
		return 0;
	if ((buf = parent_file_read(cv->str, VDMAP_FILE_MAX_BYTES, &len, why,
	    sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "%s:%d: VirtualDomainFile %s: %s",
		    cv->file, cv->line, cv->str, why);
		return -1;
	}
	rv = vdmap_parse(conf, svc, buf, len, vdmapfile_label(cv->str), err,
	    errlen);
	/* It may hold a BindPass or StoreAdminPass. */
	freezero(buf, len);
	if (rv == 0)
		rv = conf_check_vdomain_crams(conf, svc, err, errlen);
	if (rv == 0)
		rv = conf_check_tcpaccess(conf, svc, err, errlen);
	return rv;
}

int
vdmapfile_load(struct mmp_conf *conf, char *err, size_t errlen)
{
	int	svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (vdmapfile_load_svc(conf, svc, err, errlen) == -1)
			return -1;
	return 0;
}
