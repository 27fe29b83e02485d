/*
 * What lib/chan.c needs to know of each message type of msg.h beyond its
 * number: a name for the log, and whether a descriptor rides with it. One
 * table, so that "a descriptor where none is due" is judged in one place.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

static const struct {
	const char	*name;
	int		 fd;		/* a descriptor rides with it */
} msg_types[IMSG_MAX] = {
	[IMSG_CONF_START] =	{ "CONF_START", 0 },
	[IMSG_CONF_KV] =	{ "CONF_KV", 0 },
	[IMSG_CONF_HOST] =	{ "CONF_HOST", 0 },
	[IMSG_CONF_LISTENER] =	{ "CONF_LISTENER", 1 },
	[IMSG_CONF_END] =	{ "CONF_END", 0 },
	[IMSG_READY] =		{ "READY", 0 },
	[IMSG_LOG] =		{ "LOG", 0 },
	[IMSG_LDAPD_CHANNEL] =	{ "LDAPD_CHANNEL", 1 },
	[IMSG_RELAY_CHANNEL] =	{ "RELAY_CHANNEL", 1 },
	[IMSG_DRAIN] =		{ "DRAIN", 0 },
	[IMSG_STATS] =		{ "STATS", 0 },
	[IMSG_LOOKUP] =		{ "LOOKUP", 0 },
	[IMSG_LOOKUP_RESULT] =	{ "LOOKUP_RESULT", 0 },
	[IMSG_LDAPD_LOST] =	{ "LDAPD_LOST", 0 },
	[IMSG_CONF_TLSFILE] =	{ "CONF_TLSFILE", 1 },
	[IMSG_TLS_TICKET_KEYS] = { "TLS_TICKET_KEYS", 0 },
	[IMSG_TLSD_CHANNEL] =	{ "TLSD_CHANNEL", 1 },
	[IMSG_TLS_START] =	{ "TLS_START", 1 },
	[IMSG_TLS_PLAIN] =	{ "TLS_PLAIN", 1 },
	[IMSG_TLS_RESULT] =	{ "TLS_RESULT", 0 },
	[IMSG_TLSD_LOST] =	{ "TLSD_LOST", 0 },
	[IMSG_CONF_CERTMAP] =	{ "CONF_CERTMAP", 0 },
	[IMSG_CERTMAP] =	{ "CERTMAP", 0 },
	[IMSG_TLSD_DRAINING] =	{ "TLSD_DRAINING", 0 },
	[IMSG_TLS_CONF_KEPT] =	{ "TLS_CONF_KEPT", 0 },
	[IMSG_AUDIT] =		{ "AUDIT", 0 },
	[IMSG_CONF_VDOMAIN] =	{ "CONF_VDOMAIN", 0 },
	[IMSG_CONF_VDKV] =	{ "CONF_VDKV", 0 },
	[IMSG_CONF_VDCERTMAP] =	{ "CONF_VDCERTMAP", 0 },
	[IMSG_CLIENT_NAME] =	{ "CLIENT_NAME", 0 },
	[IMSG_CLIENT_NAME_RESULT] = { "CLIENT_NAME_RESULT", 0 },
	[IMSG_STATS_LISTENER] =	{ "STATS_LISTENER", 1 },
	[IMSG_STATS_CHANNEL] =	{ "STATS_CHANNEL", 1 },
	[IMSG_STATS_PEER] =	{ "STATS_PEER", 1 },
	[IMSG_STATS_QUERY] =	{ "STATS_QUERY", 0 },
	[IMSG_STATS_ANSWER] =	{ "STATS_ANSWER", 0 },
	[IMSG_STATS_RESTARTS] =	{ "STATS_RESTARTS", 0 },
	[IMSG_SHM] =		{ "SHM", 1 },
	[IMSG_CONF_BGEXCL] =	{ "CONF_BGEXCL", 0 },
	[IMSG_CONF_SPOOF] =	{ "CONF_SPOOF", 0 },
	[IMSG_AUTHSVC_RECORD] =	{ "AUTHSVC_RECORD", 0 },
	[IMSG_AUTHSVC_QUERY] =	{ "AUTHSVC_QUERY", 0 },
	[IMSG_AUTHSVC_ANSWER] =	{ "AUTHSVC_ANSWER", 0 },
};

/* NULL for a number no message has: the caller logs the number. */
const char *
msg_type_name(uint32_t type)
{
	return type < IMSG_MAX ? msg_types[type].name : NULL;
}

int
msg_type_has_fd(uint32_t type)
{
	return type < IMSG_MAX && msg_types[type].fd;
}

int
msg_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
msg_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
msg_attr_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

int
msg_sect_ok(uint8_t sect)
{
	return sect == SVC_IMAP || sect == SVC_POP;
}
