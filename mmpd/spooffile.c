/*
 * The parent's SpoofMessageFile: read as root at start, at each reload
 * and by mmpd -n, made into a message (lib/spoofmsg.c) and kept with the
 * configuration; each relay gets it as IMSG_CONF_SPOOF.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "parent.h"
#include "spoofmsg.h"

/* A text file may have LF ends that become CRLF: twice the room at most. */
#define SPOOF_FILE_MAX_BYTES	SPOOF_MSG_MAX_BYTES

int
spooffile_load(struct mmp_conf *conf, char *err, size_t errlen)
{
	const struct conf_value	*cv;
	char			 host[256], why[512], *raw, *msg;
	size_t			 rawlen, len;
	int			 rv;

	cv = &conf->v[SVC_POP][CK_SPOOFMESSAGEFILE];
	if (!cv->isset || cv->str == NULL || cv->str[0] == '\0')
		return 0;
	if ((raw = parent_file_read(cv->str, SPOOF_FILE_MAX_BYTES, &rawlen,
	    why, sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "%s:%d: SpoofMessageFile %s: %s",
		    cv->file, cv->line, cv->str, why);
		return -1;
	}
	if ((msg = malloc(SPOOF_MSG_MAX_BYTES)) == NULL) {
		free(raw);
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	rv = spoof_msg_make(raw, rawlen, host, time(NULL), msg,
	    SPOOF_MSG_MAX_BYTES, &len, why, sizeof(why));
	free(raw);
	if (rv == -1) {
		free(msg);
		(void)snprintf(err, errlen, "%s:%d: SpoofMessageFile %s: %s",
		    cv->file, cv->line, cv->str, why);
		return -1;
	}
	conf->spoofmsg = msg;
	conf->spooflen = len;
	return 0;
}

int
spooffile_send(struct chan *ch, const struct mmp_conf *conf)
{
	struct msg_writer	w;

	if (conf->spoofmsg == NULL)
		return 0;
	msg_writer_init(&w);
	spoof_msg_write(&w, conf->spoofmsg, conf->spooflen);
	return chan_compose_msg(ch, IMSG_CONF_SPOOF, 0, -1, &w);
}
