/*
 * The vdmap file (VirtualDomainFile): `vdmap NAME IPADDR` binds a virtual
 * domain to a local address of mmpd, `NAME:Key value` overrides a key for
 * sessions on that address. The parser works on a buffer the parent read,
 * so it is pure and can be fuzzed; values are validated by conf_vset, the
 * code the main files' values go through.
 */
#ifndef MMP_VDMAP_H
#define MMP_VDMAP_H

#include <stddef.h>

#include "config.h"

#define VDMAP_FILE_MAX_BYTES	(1024 * 1024)

/*
 * Parse buf (len bytes, file named file in messages) into sect's virtual
 * domains of conf (which must have none yet). 0, or -1 with "file:line:
 * reason" in err: a line that is neither, an unknown NAME, a key that may
 * not be set per virtual domain, an invalid value, a duplicate name or
 * address, a bad address, more than CONF_VDOMAINS_MAX entries, a NUL byte
 * or a line too long. Warnings (unknown key, VDomain) go to log_warnx.
 */
int	vdmap_parse(struct mmp_conf *, int sect, const char *buf, size_t len,
	    const char *file, char *err, size_t errlen);

#endif /* MMP_VDMAP_H */
