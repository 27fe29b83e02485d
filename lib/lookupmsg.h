/*
 * The user lookup between a relay and mmp-ldapd, written and read in one
 * place: IMSG_LOOKUP (relay -> mmp-ldapd) and IMSG_LOOKUP_RESULT
 * (mmp-ldapd -> relay), payloads as lib/msg.h lists them. Each reader
 * checks what its process must not trust: mmp-ldapd does not trust the
 * name a relay sends, a relay does not trust mmp-ldapd's answer.
 */
#ifndef MMP_LOOKUPMSG_H
#define MMP_LOOKUPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "crammd5.h"
#include "imsg.h"
#include "msg.h"

struct lookup_req {
	uint64_t	reqid;
	uint64_t	sid;	/* the relay's session id: for the log only */
	uint8_t		svc;
	/*
	 * The name as the client sent it, bytes, NUL included, and its
	 * length. A longer name than MMP_USER_BYTES is read as its first
	 * MMP_USER_BYTES + 1 bytes: still too long, and so refused.
	 */
	size_t		userlen;
	char		user[MMP_USER_BYTES + 2];
	char		client[MMP_STR_BYTES];
	char		local[MMP_STR_BYTES];
	/*
	 * The relay's PreAuth for the session (1) and the password, bytes,
	 * wiped by whoever holds them; passlen 0 without preauth.
	 */
	uint8_t		preauth;
	size_t		passlen;
	char		pass[MMP_PASS_BYTES + 1];
	/*
	 * CRAMs (enum cram_mech), else CRAM_NONE: the challenge the relay
	 * sent and the digest the client answered; never with a password.
	 */
	uint8_t		cram;
	char		challenge[CRAM_CHALLENGE_BYTES];
	uint8_t		digest[CRAM_DIGEST_BYTES];
};

struct lookup_answer {
	uint64_t	reqid;
	uint8_t		status;		/* enum lookup_status */
	char		detail[MMP_STR_BYTES];	/* for the log only */
	char		dn[MMP_STR_BYTES];
	char		mailhost[MMP_STR_BYTES];
	char		replay[MMP_USER_BYTES + 1];	/* "" = the name */
	uint8_t		naddr;
	char		addrs[MMP_ADDRS_MAX][MMP_ADDR_BYTES];
	uint8_t		verified;	/* the password was checked, right */
};

/*
 * Relay: the request. -1 if something does not fit (a name or password
 * too long), or a CRAM with a password or without a challenge. The
 * caller wipes the writer (chan_compose_msg does).
 */
int	lookup_req_write(struct msg_writer *, const struct lookup_req *);
/*
 * mmp-ldapd: 0, or -1 when the payload is malformed (short, trailing,
 * a string over its field). A name too long or with CR, LF or NUL is not
 * malformed: the lookup answers it (lookup_bad_name in mmp-ldapd); a
 * password over MMP_PASS_BYTES is, and so is a CRAM mechanism out of
 * range, a CRAM with a password, or a challenge that is not
 * "<printable>" within CRAM_CHALLENGE_BYTES. The caller wipes rq->pass.
 */
int	lookup_req_read(const struct imsg *, struct lookup_req *);

/* mmp-ldapd: the answer; naddr must be <= MMP_ADDRS_MAX. */
void	lookup_answer_write(struct msg_writer *, const struct lookup_answer *);
/*
 * Relay: 0, or -1 when malformed: status out of range, more addresses
 * than MMP_ADDRS_MAX, LOOKUP_OK without an address, a replay name with CR
 * or LF (it goes to a store as is), any string over its field, verified
 * other than 0 or 1, or 1 with a status other than LOOKUP_OK/HELD.
 */
int	lookup_answer_read(const struct imsg *, struct lookup_answer *);

#endif /* MMP_LOOKUPMSG_H */
