/*
 * Carrying a configuration from the parent to a child over imsg: the
 * parent sends every set value as IMSG_CONF_KV between IMSG_CONF_START and
 * IMSG_CONF_END; the child rebuilds a struct mmp_conf with conf_set(), so
 * each value is validated again by the process that uses it.
 */
#ifndef MMP_CONFMSG_H
#define MMP_CONFMSG_H

#include <stdint.h>

#include "chan.h"
#include "config.h"
#include "imsg.h"

/*
 * Parent: queue IMSG_CONF_START(gen), one IMSG_CONF_KV per set value, then
 * each virtual domain (IMSG_CONF_VDOMAIN) with its keys (IMSG_CONF_VDKV).
 * A secret key only to the kind of child (dest) it is for (conf_sent_to):
 * BindPass to mmp-ldapd, StoreAdminPass to the relays. The caller adds
 * its own messages (listeners, hosts) and then calls conf_send_end. 0 or
 * -1.
 */
int	conf_send_begin(struct chan *, const struct mmp_conf *, uint32_t gen,
	    enum conf_dest dest);
int	conf_send_end(struct chan *, uint32_t gen);

/* Child: a configuration being received. Zero it before first use. */
struct conf_rx {
	struct mmp_conf	*conf;		/* NULL outside START..END */
	uint32_t	 gen;
};

/*
 * Child: feed an IMSG_CONF_START, _KV, _VDOMAIN, _VDKV or _END. Returns 0
 * when consumed, 1 at a valid END (*out is the finished configuration,
 * owned by the caller; *gen its generation), -1 on a malformed or invalid
 * message (reason in err; the partial configuration is dropped).
 */
int	conf_rx_imsg(struct conf_rx *, struct imsg *, struct mmp_conf **out,
	    uint32_t *gen, char *err, size_t errlen);
void	conf_rx_clear(struct conf_rx *);

/* Every process: each log's level from its file's LogLevel (-v: debug). */
void	conf_log_levels(const struct mmp_conf *, int verbose);

#endif /* MMP_CONFMSG_H */
