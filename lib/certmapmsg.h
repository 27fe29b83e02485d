/*
 * The certificate mapping messages, written and read in one place:
 * IMSG_CONF_CERTMAP (parent -> mmp-ldapd, one mapping of a CertMapFile)
 * and IMSG_CERTMAP (relay -> mmp-ldapd, a verified certificate to map;
 * answered by IMSG_LOOKUP_RESULT, lib/lookupmsg.h). mmp-ldapd trusts
 * neither: a relay's subject is a client's text on its way to LDAP.
 */
#ifndef MMP_CERTMAPMSG_H
#define MMP_CERTMAPMSG_H

#include <stdint.h>

#include "certmap.h"
#include "imsg.h"
#include "msg.h"
#include "tlsmsg.h"

/* IMSG_CONF_CERTMAP: one mapping of the CertMapFile of a section. */
struct certmap_conf {
	uint8_t			sect;	/* SVC_IMAP or SVC_POP */
	struct certmap_map	map;
};

/* IMSG_CERTMAP: what the relay knows of a verified certificate. */
struct certmap_req {
	uint64_t		reqid;
	uint64_t		sid;	/* relay's session id: log only */
	uint8_t			svc;	/* SVC_IMAP or SVC_POP */
	char			issuer[MMP_STR_BYTES];	/* RFC 4514 text */
	char			subject[MMP_STR_BYTES];	/* for the log */
	uint8_t			nfields;	/* 1..TLS_SUBJECT_FIELDS_MAX */
	struct tls_field	field[TLS_SUBJECT_FIELDS_MAX];	/* cert order */
	char			client[MMP_STR_BYTES];
	char			local[MMP_STR_BYTES];
};

/*
 * Parent: -1 if the mapping is out of range (a state, a count, a name or
 * attribute out of syntax): certmap_parse never gives one.
 */
int	certmap_conf_write(struct msg_writer *, const struct certmap_conf *);
/*
 * mmp-ldapd: 0, or -1 when malformed: short, trailing, sect not IMAP or
 * POP, a state out of range or a list that does not match it, more than
 * CERTMAP_COMPS_MAX components, a name or attribute out of syntax, a
 * control character in the issuer.
 */
int	certmap_conf_read(const struct imsg *, struct certmap_conf *);
/* IMSG_CONF_VDCERTMAP: u16 domain index, then the same; 0 or -1. */
int	certmap_vdconf_read(const struct imsg *, uint16_t *,
	    struct certmap_conf *);

/* Relay: -1 if a field is out of range (as the reader would refuse). */
int	certmap_req_write(struct msg_writer *, const struct certmap_req *);
/*
 * mmp-ldapd: 0, or -1 when malformed: short, trailing, svc not IMAP or
 * POP, no field or more than TLS_SUBJECT_FIELDS_MAX, an empty subject, an
 * attribute that is not [A-Za-z0-9.-]+, a control character (C0, DEL) in
 * any string, a string over its field.
 */
int	certmap_req_read(const struct imsg *, struct certmap_req *);

#endif /* MMP_CERTMAPMSG_H */
