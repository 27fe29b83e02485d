/*
 * The messages of mmp-tlsd, written and read in one place: the files and
 * ticket keys the parent hands it, and a TLS session's start (relay ->
 * mmp-tlsd) and result (mmp-tlsd -> relay). Payloads as lib/msg.h lists
 * them. Each reader checks what its process must not trust: mmp-tlsd does
 * not trust a relay's request, a relay does not trust mmp-tlsd's answer
 * (a certificate's subject is the client's text, and goes to LDAP).
 */
#ifndef MMP_TLSMSG_H
#define MMP_TLSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "imsg.h"
#include "msg.h"

#define TLS_FILE_MAX_BYTES	(1024 * 1024)	/* one PEM file, a CA bundle */
#define TLS_CERTS_MAX		16	/* SSLCertFile/SSLKeyFile pairs */
#define TLS_TICKET_KEYS_MAX	4
#define TLS_TICKET_NAME_BYTES	16
#define TLS_TICKET_AES_BYTES	32	/* AES-256-CBC */
#define TLS_TICKET_HMAC_BYTES	32	/* HMAC-SHA256 */
#define TLS_NAME_BYTES		256	/* a host name, SNI; 253 + NUL fits */
#define TLS_SUBJECT_FIELDS_MAX	16	/* RDNs of a subject we pass on */
#define TLS_FIELD_ATTR_BYTES	32	/* "CN", "OU", "emailAddress" */
#define TLS_FIELD_VALUE_BYTES	256	/* one attribute value */

/* What one IMSG_CONF_TLSFILE holds. */
enum tls_file_kind {
	TLS_FILE_CERT,		/* SSLCertFile: chain, PEM; index pairs it */
	TLS_FILE_KEY,		/* SSLKeyFile: private key, PEM; same index */
	TLS_FILE_KEYPASS,	/* SSLKeyPasswdFile: line 1 = passphrase */
	TLS_FILE_CLIENT_CA,	/* SSLClientCAFile: client certs' CAs */
	TLS_FILE_STORE_CA,	/* SSLStoreCAFile: CAs of the stores */
	TLS_FILE_MAX
};

struct tls_file_hdr {
	uint8_t		sect;		/* SVC_IMAP or SVC_POP */
	uint8_t		kind;		/* enum tls_file_kind */
	uint8_t		index;		/* < TLS_CERTS_MAX; CERT/KEY only */
	char		path[MMP_STR_BYTES];	/* for the log */
};

struct tls_ticket_key {
	uint8_t		name[TLS_TICKET_NAME_BYTES];
	uint8_t		aes[TLS_TICKET_AES_BYTES];
	uint8_t		hmac[TLS_TICKET_HMAC_BYTES];
};

struct tls_ticket_keys {
	uint32_t		n;	/* 1 .. TLS_TICKET_KEYS_MAX */
	uint32_t		lifetime_sec;	/* of a ticket */
	struct tls_ticket_key	key[TLS_TICKET_KEYS_MAX];
};

enum tls_role {
	TLS_ROLE_SERVER,	/* a client's socket: we accept TLS */
	TLS_ROLE_CLIENT,	/* a store's socket: we connect with TLS */
	TLS_ROLE_MAX
};

struct tls_start {
	/*
	 * id: the handoff's, naming the TLS session between relay and
	 * mmp-tlsd (TLS_PLAIN, TLS_RESULT); sid: the relay's session id, for
	 * mmp-tlsd's log lines only, so that one grep follows a session.
	 */
	uint64_t	id;
	uint64_t	sid;
	uint8_t		role;		/* enum tls_role */
	uint8_t		sect;		/* SVC_IMAP or SVC_POP: whose keys */
	char		peer[MMP_ADDR_BYTES];	/* "ip:port" of the peer */
	char		local[MMP_ADDR_BYTES];	/* "ip:port" of our end */
	/*
	 * TLS_ROLE_CLIENT: the name (or address) the store's certificate
	 * must carry, also sent as SNI when a name. "" for SERVER.
	 */
	char		servername[TLS_NAME_BYTES];
};

enum tls_status {
	TLS_OK,			/* handshake done; plaintext flows */
	TLS_FAILED,		/* no session: detail says why */
	TLS_STATUS_MAX
};

/* A client certificate, as far as the handshake got. */
enum tls_cert_status {
	TLS_CERT_NONE,		/* none asked for, or none given */
	TLS_CERT_VERIFIED,	/* verified against SSLClientCAFile */
	TLS_CERT_REFUSED,	/* given, not verified: detail says why */
	TLS_CERT_MAX
};

struct tls_field {
	char	attr[TLS_FIELD_ATTR_BYTES];	/* OpenSSL short name: CN */
	char	value[TLS_FIELD_VALUE_BYTES];	/* UTF-8, no control chars */
};

struct tls_result {
	uint64_t	id;
	uint8_t		status;		/* enum tls_status */
	char		detail[MMP_STR_BYTES];	/* for the log only */
	char		version[32];	/* "TLSv1.3" */
	char		cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	uint8_t		resumed;	/* 1: an abbreviated handshake */
	char		sni[TLS_NAME_BYTES];	/* SERVER: name asked, or "" */
	uint8_t		cert;		/* enum tls_cert_status */
	/* A VERIFIED certificate's names, RFC 4514 text, for log and %D. */
	char		subject[MMP_STR_BYTES];
	char		issuer[MMP_STR_BYTES];
	/* The subject's attributes in certificate order, parsed, not split. */
	uint8_t		nfields;
	struct tls_field field[TLS_SUBJECT_FIELDS_MAX];
};

/* Parent: the header of a file; -1 if a field is out of range. */
int	tls_file_hdr_write(struct msg_writer *, const struct tls_file_hdr *);
/* mmp-tlsd: 0, or -1 when malformed or out of range. */
int	tls_file_hdr_read(const struct imsg *, struct tls_file_hdr *);

void	tls_ticket_keys_write(struct msg_writer *,
	    const struct tls_ticket_keys *);
/* mmp-tlsd: 0, or -1 (n out of 1..TLS_TICKET_KEYS_MAX, trailing bytes). */
int	tls_ticket_keys_read(const struct imsg *, struct tls_ticket_keys *);

/* Relay. -1 if a field is out of range. */
int	tls_start_write(struct msg_writer *, const struct tls_start *);
/*
 * mmp-tlsd: 0, or -1 when malformed: role or sect out of range, a name
 * for a SERVER, none for a CLIENT, a string over its field or with a
 * byte that is not printable ASCII.
 */
int	tls_start_read(const struct imsg *, struct tls_start *);
/* IMSG_TLS_PLAIN's payload: the id alone. */
void	tls_plain_write(struct msg_writer *, uint64_t);
int	tls_plain_read(const struct imsg *, uint64_t *);

/* mmp-tlsd: nfields must be <= TLS_SUBJECT_FIELDS_MAX. */
void	tls_result_write(struct msg_writer *, const struct tls_result *);
/*
 * Relay: 0, or -1 when malformed: status or cert out of range, more
 * fields than TLS_SUBJECT_FIELDS_MAX, a VERIFIED certificate without
 * subject or fields, fields or names without one, an attribute that is
 * not [A-Za-z0-9.-]+, any string with a control character (CR, LF, DEL,
 * C0), any string over its field.
 */
int	tls_result_read(const struct imsg *, struct tls_result *);

#endif /* MMP_TLSMSG_H */
