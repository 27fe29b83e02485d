/*
 * A client's host name (ClientLookup) between a relay and mmp-ldapd,
 * written and read in one place: IMSG_CLIENT_NAME (relay -> mmp-ldapd)
 * and IMSG_CLIENT_NAME_RESULT (mmp-ldapd -> relay), payloads as lib/msg.h
 * lists them. mmp-ldapd takes only a numeric address; a relay takes only
 * a status it knows and a name that could be a host's.
 */
#ifndef MMP_NAMEMSG_H
#define MMP_NAMEMSG_H

#include <stdint.h>

#include "imsg.h"
#include "msg.h"

#define NAME_HOST_BYTES		254	/* 253 + NUL, RFC 1035 */
#define NAME_ADDR_BYTES		46	/* INET6_ADDRSTRLEN */
#define NAME_DETAIL_BYTES	256

struct name_req {
	uint64_t	reqid;
	uint64_t	sid;		/* the relay's session: log only */
	char		addr[NAME_ADDR_BYTES];	/* numeric, inet_ntop's form */
};

struct name_answer {
	uint64_t	reqid;
	uint8_t		status;		/* enum tcpa_name, not NONE */
	char		name[NAME_HOST_BYTES];	/* "" when UNKNOWN */
	char		detail[NAME_DETAIL_BYTES];	/* for the log */
};

/*
 * A host name as DNS and hosts(5) have them: labels of letters, digits,
 * '-' and '_', 1..63 bytes each, 253 in all, no final dot.
 */
int	name_host_ok(const char *);
/*
 * Numeric IPv4 or IPv6 address in the one form inet_ntop writes (an
 * IPv4-mapped IPv6 address as IPv4): 1, else 0.
 */
int	name_addr_ok(const char *);

/* Relay: -1 if the address is not numeric. */
int	name_req_write(struct msg_writer *, const struct name_req *);
/* mmp-ldapd: 0, or -1 when malformed or the address is not numeric. */
int	name_req_read(const struct imsg *, struct name_req *);
/* mmp-ldapd: -1 if the answer would not be read (see below). */
int	name_answer_write(struct msg_writer *, const struct name_answer *);
/*
 * Relay: 0, or -1 when malformed: a status out of range, a name that is
 * not a host name (or any name with UNKNOWN), a detail with control
 * characters, any string over its field.
 */
int	name_answer_read(const struct imsg *, struct name_answer *);

#endif /* MMP_NAMEMSG_H */
