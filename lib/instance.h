/*
 * One mmpd instance on a host: where its pid file and control socket are
 * (PidFile, ControlSocket, or derived from its configuration directory so
 * that two instances never share one), and the bounds of the control
 * protocol between mmpd and mmpctl(8).
 */
#ifndef MMP_INSTANCE_H
#define MMP_INSTANCE_H

#include <stddef.h>

#include "config.h"

#ifndef RUNDIR
#define RUNDIR			"/run/mmpd"
#endif
#define INSTANCE_NAME_BYTES	80	/* derived name, NUL included */
#define CONTROL_PATH_BYTES	108	/* sizeof(sun_path) on Linux */

/*
 * The control protocol: the client sends one request, a word of lower
 * case letters ended by LF, within CONTROL_REQUEST_SEC; the parent
 * answers "ok" or "error", optionally a blank and text, then more lines,
 * and closes. One request per connection.
 */
#define CONTROL_REQUEST_BYTES	32
#define CONTROL_REQUEST_SEC	5
#define CONTROL_ANSWER_BYTES	65536

/* A request as its bytes arrive. */
struct control_request {
	char	word[CONTROL_REQUEST_BYTES];
	size_t	len;
};

/* The instance name of a configuration directory (absolute path). */
int	instance_name(const char *dir, char *name, size_t len);
/*
 * The pid file and the control socket of the instance configured in dir:
 * 0, or -1 with the reason in err.
 */
int	instance_paths(const struct mmp_conf *, const char *dir,
	    char *pidfile, size_t pidlen, char *sock, size_t socklen,
	    char *err, size_t errlen);

/*
 * Bytes of a request as they arrive (zeroed struct first): 0 more are
 * needed, 1 the request is complete (word holds it), -1 it is refused
 * (not a lower case word and LF, too long, or bytes after the LF).
 */
int	control_request_add(struct control_request *, const char *, size_t);

#endif /* MMP_INSTANCE_H */
