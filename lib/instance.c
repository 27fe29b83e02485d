/*
 * Where an instance keeps its pid file and control socket: the keys
 * PidFile and ControlSocket, or /run/mmpd/NAME.pid and .sock, NAME
 * derived from the configuration directory; and the parser of a control
 * request. Used by mmpd and mmpctl(8).
 */
#include <stdio.h>
#include <string.h>

#include "instance.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc/mmpd"
#endif

/*
 * "mmpd" for the default directory; any other is its path with the
 * slashes as dashes ("/srv/mail/mmpd2" is "srv-mail-mmpd2") and anything
 * but letters, digits, dot, dash and underscore as underscores. -1 when
 * it does not fit in len.
 */
int
instance_name(const char *dir, char *name, size_t len)
{
	size_t	o = 0;

	if (len < 2)
		return -1;
	if (strcmp(dir, SYSCONFDIR) == 0) {
		(void)strlcpy(name, "mmpd", len);
		return 0;
	}
	while (*dir == '/')
		dir++;
	for (; *dir != '\0' && o + 1 < len; dir++) {
		if (*dir == '/') {
			if (dir[1] == '/' || dir[1] == '\0')
				continue;
			name[o++] = '-';
		} else if ((*dir >= 'a' && *dir <= 'z') ||
		    (*dir >= 'A' && *dir <= 'Z') ||
		    (*dir >= '0' && *dir <= '9') ||
		    *dir == '.' || *dir == '-' || *dir == '_')
			name[o++] = *dir;
		else
			name[o++] = '_';
	}
	if (o == 0)
		name[o++] = '_';
	name[o] = '\0';
	/* Cut short, two directories could share a name. */
	return *dir == '\0' ? 0 : -1;
}

/* A key's value, or RUNDIR/NAME.SUFFIX; 0, or -1 when it does not fit. */
static int
instance_path(const struct mmp_conf *conf, enum conf_key key,
    const char *name, const char *suffix, char *out, size_t len,
    char *err, size_t errlen)
{
	const char	*v;

	if ((v = conf_str(conf, CONF_GLOBAL, key)) != NULL) {
		if (strlcpy(out, v, len) < len)
			return 0;
		(void)snprintf(err, errlen, "%s %s: longer than %zu bytes",
		    conf_keyinfo(key)->name, v, len - 1);
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s/%s.%s", RUNDIR, name, suffix) < len)
		return 0;
	(void)snprintf(err, errlen, "%s: the default %s/%s.%s is longer than "
	    "%zu bytes; set %s in AService.cfg", conf->dir, RUNDIR, name,
	    suffix, len - 1, conf_keyinfo(key)->name);
	return -1;
}

int
instance_paths(const struct mmp_conf *conf, const char *dir, char *pidfile,
    size_t pidlen, char *sock, size_t socklen, char *err, size_t errlen)
{
	char	name[INSTANCE_NAME_BYTES];

	if (instance_name(dir, name, sizeof(name)) == -1 &&
	    (!conf_isset(conf, CONF_GLOBAL, CK_PIDFILE) ||
	    !conf_isset(conf, CONF_GLOBAL, CK_CONTROLSOCKET))) {
		(void)snprintf(err, errlen, "%s: directory name too long to "
		    "name the instance; set PidFile and ControlSocket in "
		    "AService.cfg", dir);
		return -1;
	}
	if (instance_path(conf, CK_PIDFILE, name, "pid", pidfile, pidlen,
	    err, errlen) == -1)
		return -1;
	if (socklen > CONTROL_PATH_BYTES)
		socklen = CONTROL_PATH_BYTES;
	return instance_path(conf, CK_CONTROLSOCKET, name, "sock", sock,
	    socklen, err, errlen);
}

int
control_request_add(struct control_request *cr, const char *buf, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' && i + 1 == n && cr->len > 0) {
			cr->word[cr->len] = '\0';
			return 1;
		}
		if (buf[i] < 'a' || buf[i] > 'z' ||
		    cr->len + 1 >= sizeof(cr->word))
			return -1;
		cr->word[cr->len++] = buf[i];
	}
	return 0;
}
