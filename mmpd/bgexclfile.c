/*
 * The parent's BGExcluded: each service's list of networks BadGuy never
 * penalises, given inline or as the name of a file that is read here, as
 * root, at start, at reload and for `mmpd -n` (a line it cannot parse is
 * refused with file:line, a file it cannot read is a warning). The
 * relays get the parsed networks (IMSG_CONF_BGEXCL): they never read
 * files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgexcl.h"
#include "log.h"
#include "netmask.h"
#include "parent.h"

/*
 * An inline list when its first word is a network: "bgexcl.cfg" or
 * "/etc/mmpd/bgexcl.cfg" never is, and "10.0.0.0/8 typo" is a list with
 * a typo, not a file name.
 */
static int
bgexclfile_inline(const char *value)
{
	struct netmask	nm;
	char		word[128];
	size_t		len;

	value += strspn(value, " \t,");
	len = strcspn(value, " \t,");
	if (len == 0 || len >= sizeof(word))
		return 0;
	memcpy(word, value, len);
	word[len] = '\0';
	return netmask_parse(word, &nm, NULL, 0) == 0;
}

static int
bgexclfile_load_svc(struct mmp_conf *conf, int svc, char *err, size_t errlen)
{
	const struct conf_value	*cv = &conf->v[svc][CK_BGEXCLUDED];
	char			*buf, why[512];
	size_t			 len;
	int			 rv;

	if (!conf->enabled[svc] || !cv->isset || cv->str == NULL ||
	    cv->str[0] == '\0')
		return 0;
	if (bgexclfile_inline(cv->str)) {
		if (bgexcl_parse(cv->str, strlen(cv->str), "", &conf->bgexcl[svc],
		    why, sizeof(why)) == 0)
			return 0;
		/* Past the ":1: " of the one line. */
		(void)snprintf(err, errlen, "%s:%d: BGExcluded: %s", cv->file,
		    cv->line, strlen(why) > 4 ? why + 4 : why);
		return -1;
	}
	if (cv->str[0] != '/') {
		(void)snprintf(err, errlen, "%s:%d: BGExcluded \"%.200s\" is "
		    "neither a list of IP|MASK pairs nor an absolute file name",
		    cv->file, cv->line, cv->str);
		return -1;
	}
	/*
	 * A file that is not there excludes nobody: BadGuy then penalises
	 * more, never less, and the product's sample files name one.
	 */
	if ((buf = parent_file_read(cv->str, BGEXCL_FILE_MAX_BYTES, &len, why,
	    sizeof(why))) == NULL) {
		log_warnx("%s:%d: BGExcluded %s: %s; no address is excluded",
		    cv->file, cv->line, cv->str, why);
		return 0;
	}
	rv = bgexcl_parse(buf, len, cv->str, &conf->bgexcl[svc], err, errlen);
	free(buf);
	return rv;
}

int
bgexclfile_load(struct mmp_conf *conf, char *err, size_t errlen)
{
	int	svc;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++)
		if (bgexclfile_load_svc(conf, svc, err, errlen) == -1)
			return -1;
	return 0;
}
