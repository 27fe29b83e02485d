/*
 * AuthService (POP-before-SMTP) between a relay and mmp-ldapd, written
 * and read in one place: IMSG_AUTHSVC_RECORD (a POP3 login from an
 * address), IMSG_AUTHSVC_QUERY and IMSG_AUTHSVC_ANSWER (XQUERYAUTH).
 * Each reader checks what its process must not trust; the address an
 * MTA asks about is read by authsvc_addr, the one parser of it.
 */
#ifndef MMP_AUTHSVCMSG_H
#define MMP_AUTHSVCMSG_H

#include <stddef.h>
#include <stdint.h>

#include "imsg.h"
#include "msg.h"

#define AUTHSVC_ADDR_BYTES	46	/* INET6_ADDRSTRLEN */
#define AUTHSVC_DOMAIN_BYTES	64	/* = CONF_VDNAME_BYTES */
#define AUTHSVC_TTL_MAX		604800	/* AuthServiceTTL's top */

/* relay -> ldapd: user logged in to POP3 from addr in domain ("": none). */
struct authsvc_record {
	char		domain[AUTHSVC_DOMAIN_BYTES];
	char		addr[AUTHSVC_ADDR_BYTES];
	char		user[MMP_USER_BYTES + 1];
	uint32_t	ttl;		/* seconds, 1 .. AUTHSVC_TTL_MAX */
};

/* relay -> ldapd: who logged in from addr in domain lately? */
struct authsvc_query {
	uint64_t	reqid;
	char		domain[AUTHSVC_DOMAIN_BYTES];
	char		addr[AUTHSVC_ADDR_BYTES];
};

/* ldapd -> relay: the user ("" none). */
struct authsvc_answer {
	uint64_t	reqid;
	char		user[MMP_USER_BYTES + 1];
};

/*
 * An IPv4 or IPv6 address as text (len bytes, no NUL needed) in the
 * form inet_ntop writes it, into out (AUTHSVC_ADDR_BYTES): 0, or -1 for
 * anything else (a name, a port, a prefix, a scope, blanks).
 */
int	authsvc_addr(const char *, size_t, char *out, size_t outsz);

/* Writers: -1 if a field is out of range (the reader would refuse it). */
int	authsvc_record_write(struct msg_writer *,
	    const struct authsvc_record *);
int	authsvc_query_write(struct msg_writer *,
	    const struct authsvc_query *);
int	authsvc_answer_write(struct msg_writer *,
	    const struct authsvc_answer *);
/*
 * Readers: 0, or -1 when malformed: short, trailing bytes, a string over
 * its field, an address not in authsvc_addr's form, a domain or user
 * with a control character, an empty user in a record, a ttl of 0 or
 * over AUTHSVC_TTL_MAX.
 */
int	authsvc_record_read(const struct imsg *, struct authsvc_record *);
int	authsvc_query_read(const struct imsg *, struct authsvc_query *);
int	authsvc_answer_read(const struct imsg *, struct authsvc_answer *);

#endif /* MMP_AUTHSVCMSG_H */
