/*
 * Every imsg type exchanged between mmpd processes: who sends it, who
 * receives it, and its payload (msg_add_* order). Receivers check sizes
 * and fields with msg_get_* and msg_end(). Garbage, a type not expected
 * from that peer, a descriptor where none is due or a refused payload
 * loses the channel (lib/chan.c); what that means is the receiver's: the
 * parent kills and restarts the child, a child whose parent misbehaves
 * exits, a relay asks the parent for a new channel to mmp-ldapd,
 * mmp-ldapd closes that relay's channel.
 *
 * Channels: parent <-> each child on fd 3 of the child; relay <-> ldapd
 * and relay <-> each tlsd on a socketpair the parent hands to both
 * (IMSG_*_CHANNEL; IMSG_RELAY_CHANNEL goes to mmp-ldapd and mmp-tlsd);
 * the statistics process <-> each relay, ldapd and each tlsd likewise
 * (IMSG_STATS_CHANNEL to the child, IMSG_STATS_PEER to mmpd -P stats).
 */
#ifndef MMP_MSG_H
#define MMP_MSG_H

#include <stdint.h>

#define MMP_CHILD_FD		3	/* parent channel in every child */
#define MMP_STR_BYTES		1024	/* longest string in any message */
#define MMP_USER_BYTES		256	/* longest user name accepted */
#define MMP_ADDRS_MAX		8	/* store addresses in a lookup */
#define MMP_ADDR_BYTES		64	/* one numeric address, as text */
#define MMP_PASS_BYTES		256	/* longest password (PreAuth bind) */

enum mmp_imsg {
	IMSG_NONE,
	/* parent -> child: u32 generation. A new configuration begins. */
	IMSG_CONF_START,
	/*
	 * parent -> child: u8 section, u16 key, str value, str file, u32 line.
	 * Secret keys go to mmp-ldapd only.
	 */
	IMSG_CONF_KV,
	/* parent -> ldapd: str name, str address (one HostsFile entry). */
	IMSG_CONF_HOST,
	/*
	 * parent -> relay: fd = listening socket; u8 svc, u8 tls, u8 proxy
	 * (a PROXY protocol header comes first), str label.
	 * Part of a configuration: the set replaces the old one at CONF_END.
	 */
	IMSG_CONF_LISTENER,
	/* parent -> child: u32 generation. Apply what came since START. */
	IMSG_CONF_END,
	/* child -> parent: u32 generation. Configuration applied. */
	IMSG_READY,
	/*
	 * child -> parent: u8 svc (LOG_SVC_*), u8 priority, u64 time (ms
	 * since the epoch, taken when the child formatted the line), str line.
	 */
	IMSG_LOG,
	/* parent -> relay: fd = socket to mmp-ldapd. No payload. */
	IMSG_LDAPD_CHANNEL,
	/* parent -> ldapd, tlsd: fd = socket to relay; u32 relay index. */
	IMSG_RELAY_CHANNEL,
	/*
	 * parent -> relay, tlsd: no payload. The child is retired (fewer
	 * Workers or TLSWorkers, TLS turned off, shutdown): it takes no new
	 * session (a relay stops accepting; an mmp-tlsd answers a START with
	 * TLS_FAILED and tells its relays, IMSG_TLSD_DRAINING), lets the
	 * open ones end, and exits 0 when none is left.
	 */
	IMSG_DRAIN,
	/*
	 * relay -> parent: u32 sessions open, u64 logins accepted, u64 logins
	 * refused, both since the relay started (answer to DRAIN, and once a
	 * second while they change).
	 */
	IMSG_STATS,
	/*
	 * relay -> ldapd: u64 reqid, u64 sid (the relay's session id, for
	 * mmp-ldapd's log lines only), u8 svc, str user (as the client sent
	 * it, no CR/LF/NUL), str client address, str local address,
	 * u8 preauth (1: PreAuth is on for the session in the relay's
	 * configuration), u16 passlen, passlen bytes of password: 0 bytes
	 * unless preauth (mmp-ldapd binds with it when its configuration has
	 * PreAuth too, then wipes it; never logged; without preauth it binds
	 * never, so a reload that turns PreAuth on or off, applied by the
	 * relay and mmp-ldapd a moment apart, refuses nobody),
	 * u8 cram (enum cram_mech, lib/crammd5.h): CRAM_NONE, or CRAM_APOP /
	 * CRAM_MD5 (CRAMs; passlen 0) followed by str challenge ("<...>" as
	 * the client got it) and 16 bytes of the client's digest, checked by
	 * mmp-ldapd against the entry's clear-text userPassword.
	 */
	IMSG_LOOKUP,
	/*
	 * ldapd -> relay: u64 reqid, u8 status (enum lookup_status),
	 * str detail (for the log; never shown to clients), str dn,
	 * str mailhost (as found), str replay user, u8 naddr (<= MMP_ADDRS_MAX),
	 * naddr x str numeric address, u8 verified (1: mmp-ldapd checked the
	 * password or CRAM digest and it was right, by a PreAuth bind or the
	 * AuthCache; only with LOOKUP_OK or LOOKUP_HELD).
	 */
	IMSG_LOOKUP_RESULT,
	/*
	 * relay -> parent: no payload. Its channel to mmp-ldapd carried
	 * garbage and was closed; asks for a new IMSG_LDAPD_CHANNEL.
	 */
	IMSG_LDAPD_LOST,
	/*
	 * parent -> tlsd: fd = a sealed memfd holding one file's bytes
	 * (offset 0; read with fstat + pread, at most TLS_FILE_MAX_BYTES);
	 * struct tls_file_hdr (lib/tlsmsg.h). Part of a configuration,
	 * between CONF_START and CONF_END. The parent wipes its copy of the
	 * bytes before sending; only mmp-tlsd ever reads a key.
	 */
	IMSG_CONF_TLSFILE,
	/*
	 * parent -> tlsd: struct tls_ticket_keys (lib/tlsmsg.h), newest first:
	 * the newest seals new session tickets, every one opens them. After
	 * each configuration's CONF_END and at each rotation.
	 */
	IMSG_TLS_TICKET_KEYS,
	/* parent -> relay: fd = socket to mmp-tlsd; u32 mmp-tlsd index. */
	IMSG_TLSD_CHANNEL,
	/*
	 * relay -> tlsd: fd = the network socket (a client's, or a store's,
	 * connected); struct tls_start (lib/tlsmsg.h): u64 handoff id, u64
	 * sid (the relay's session id, for mmp-tlsd's log lines only), ...
	 */
	IMSG_TLS_START,
	/*
	 * relay -> tlsd: fd = mmp-tlsd's end of the plaintext socketpair of
	 * that session; u64 id. Follows its IMSG_TLS_START at once; anything
	 * else after a START is a protocol error.
	 */
	IMSG_TLS_PLAIN,
	/* tlsd -> relay: struct tls_result (lib/tlsmsg.h). One per START. */
	IMSG_TLS_RESULT,
	/*
	 * relay -> parent: u32 mmp-tlsd index. Its channel to that mmp-tlsd
	 * carried garbage and was closed; asks for a new IMSG_TLSD_CHANNEL.
	 */
	IMSG_TLSD_LOST,
	/*
	 * parent -> ldapd: one certmap.conf mapping of a service
	 * (CertMapFile), lib/certmapmsg.h, in file order ("default" first).
	 * Part of a configuration, between CONF_START and CONF_END.
	 * u8 section, str name, str issuer ("default" or a DN),
	 * u8 DNComps state (enum certmap_state: absent, empty, list),
	 * u8 n (<= CERTMAP_COMPS_MAX, 0 unless a list), n x (str from,
	 * str to), then FilterComps alike.
	 */
	IMSG_CONF_CERTMAP,
	/*
	 * relay -> ldapd: a verified client certificate to map to a user,
	 * lib/certmapmsg.h. u64 reqid, u64 sid (session id, log only),
	 * u8 svc, str issuer (RFC 4514),
	 * str subject (RFC 4514, for the log), u8 nfields (1 ..
	 * TLS_SUBJECT_FIELDS_MAX), nfields x (str attr, str value) in
	 * certificate order, str client address, str local address.
	 * Answered by IMSG_LOOKUP_RESULT with its reqid; the entry's uid in
	 * the replay field.
	 */
	IMSG_CERTMAP,
	/*
	 * tlsd -> relay: no payload. That mmp-tlsd drains (it got DRAIN):
	 * hand it no more sessions; the running ones go on, and its channel
	 * ends (EOF) when the last one has.
	 */
	IMSG_TLSD_DRAINING,
	/*
	 * tlsd -> parent: u32 generation, u32 generation in use. The TLS
	 * files of that configuration made no contexts (mmp-tlsd logged
	 * which file and why): the certificates and TLS settings of the one
	 * in use serve on. Sent just before that generation's READY.
	 */
	IMSG_TLS_CONF_KEPT,
	/*
	 * ldapd -> parent: u8 svc (LOG_SVC_IMAP/POP), str line. One
	 * pre-authentication audit line without its date and time, e.g.
	 * "(sid 0x1f) user bob pre-authenticated - 192.0.2.7"; the parent
	 * puts its local "yyyymmdd hhmmss " in front and routes it
	 * (AuditLog). One printable line, or the message is refused.
	 */
	IMSG_AUDIT,
	/*
	 * parent -> child: u8 section, u16 index (the domains of a section
	 * are numbered from 0 in file order), str name, str address (numeric),
	 * str file, u32 line. One `vdmap NAME IPADDR` entry of the section's
	 * VirtualDomainFile; part of a configuration, after its CONF_KVs.
	 */
	IMSG_CONF_VDOMAIN,
	/*
	 * parent -> child: u8 section, u16 index, u16 key, str value,
	 * str file, u32 line. One key of a virtual domain sent before, read
	 * again with conf_vset; a secret only to the child conf_sent_to names.
	 */
	IMSG_CONF_VDKV,
	/*
	 * parent -> ldapd: u16 index of a virtual domain of the section,
	 * then the payload of IMSG_CONF_CERTMAP: one mapping of that domain's
	 * CertMap, lib/certmapmsg.h, in file order.
	 */
	IMSG_CONF_VDCERTMAP,
	/*
	 * relay -> ldapd: u64 reqid, u64 sid (the relay's session id, for
	 * mmp-ldapd's log lines only), str address (numeric, as inet_ntop
	 * writes it). ClientLookup: the client's host name, lib/namemsg.h.
	 */
	IMSG_CLIENT_NAME,
	/*
	 * ldapd -> relay: u64 reqid, u8 status (enum tcpa_name: KNOWN,
	 * UNKNOWN or SPOOFED, lib/tcpaccess.h), str name (the reverse name,
	 * forward-confirmed when KNOWN, the one that did not lead back when
	 * SPOOFED, "" when UNKNOWN), str detail (for the log). One per
	 * CLIENT_NAME, unless the relay's channel closes first.
	 */
	IMSG_CLIENT_NAME_RESULT,
	/*
	 * parent -> stats: fd = the listening socket of StatsListen;
	 * str label ("127.0.0.1:9100"). Once, after the first CONF_END.
	 */
	IMSG_STATS_LISTENER,
	/*
	 * parent -> relay, ldapd, tlsd: fd = socket to the statistics process
	 * (mmpd -P stats). No payload. A new one replaces the old; sent when
	 * either end (re)starts.
	 */
	IMSG_STATS_CHANNEL,
	/*
	 * parent -> stats: fd = socket to a child; u8 kind (enum stats_kind
	 * of lib/statsmsg.h: relay, ldapd, tlsd), u32 index (relay or
	 * mmp-tlsd number, 0 for mmp-ldapd). Replaces that child's old one.
	 */
	IMSG_STATS_PEER,
	/*
	 * stats -> relay, ldapd, tlsd: u64 reqid. Send your counters. One at
	 * a time per channel; a peer that does not answer within
	 * STATS_ANSWER_MSEC is left out of that scrape.
	 */
	IMSG_STATS_QUERY,
	/*
	 * relay, ldapd, tlsd -> stats: u64 reqid of the QUERY, then the
	 * sender kind's counters, lib/statsmsg.h (stats_relay_write,
	 * stats_ldapd_write, stats_tlsd_write). Garbage, or an answer to no
	 * question, closes that channel (logged).
	 */
	IMSG_STATS_ANSWER,
	/*
	 * parent -> stats: STATS_KIND_MAX x u64, the restarts of the children
	 * by kind (lib/statsmsg.h) since mmpd started. Sent when the
	 * statistics process starts and whenever a child is restarted.
	 */
	IMSG_STATS_RESTARTS,
	/*
	 * parent -> relay: fd = the relays' shared memory (lib/shm.h, a
	 * sealed memfd of SHM_REGION_BYTES); u32 section (< SHM_SECTIONS),
	 * the one this relay writes. Sent once, before the first
	 * configuration; the relay maps it read/write and closes the fd. The
	 * parent wipes the section when that relay process ends.
	 */
	IMSG_SHM,
	/*
	 * parent -> relay: u8 section, str network ("ADDR/PREFIX"). One
	 * network of the section's BGExcluded (inline or from its file, which
	 * the parent read); part of a configuration, after its CONF_KVs.
	 */
	IMSG_CONF_BGEXCL,
	/*
	 * parent -> relay: u16 length, that many bytes: POP's
	 * SpoofMessageFile as a message (lib/spoofmsg.h: CRLF lines, a
	 * header section, at most SPOOF_MSG_MAX_BYTES). Part of a
	 * configuration, between CONF_START and CONF_END; none: no file.
	 */
	IMSG_CONF_SPOOF,
	/*
	 * relay -> ldapd, lib/authsvcmsg.h: str domain (the session's
	 * virtual domain's name, "" none), str client address (numeric, as
	 * inet_ntop writes it), str user, u32 ttl (1 .. 604800 s). A POP3
	 * login succeeded with AuthService on (POP-before-SMTP). No answer.
	 */
	IMSG_AUTHSVC_RECORD,
	/*
	 * relay -> ldapd: u64 reqid, str domain, str address (as above).
	 * An MTA's XQUERYAUTH: who logged in from that address lately?
	 */
	IMSG_AUTHSVC_QUERY,
	/* ldapd -> relay: u64 reqid, str user ("" nobody within the TTL). */
	IMSG_AUTHSVC_ANSWER,
	IMSG_MAX
};

enum lookup_status {
	LOOKUP_OK,
	LOOKUP_NOUSER,		/* no entry matched */
	LOOKUP_AMBIGUOUS,	/* more than one entry matched */
	LOOKUP_NOMAILHOST,	/* entry has none of MailHostAttrs */
	LOOKUP_NOADDR,		/* mailHost does not resolve */
	LOOKUP_TEMPFAIL,	/* LDAP down, timeout, internal error */
	LOOKUP_DISABLED,	/* account status not active (detail: which) */
	LOOKUP_BADPASS,		/* PreAuth bind or CRAM digest failed */
	LOOKUP_HELD,		/* status hold/defer: refused for now */
	LOOKUP_MAX
};

/*
 * lib/msg.c: a type's name for the log ("LOOKUP"; NULL if no message has
 * that number), and whether a descriptor rides with it: with those types
 * always, with no other ever (lib/chan.c holds every peer to it).
 */
const char	*msg_type_name(uint32_t);
int		 msg_type_has_fd(uint32_t);

/*
 * What text a payload may carry, for the payload readers in lib/: no C0
 * control character and no DEL (the text reaches logs and LDAP); printable
 * ASCII without blanks (addresses, host names); an attribute's short name
 * ("CN", "emailAddress", "2.5.4.45"); a service section (SVC_IMAP, SVC_POP).
 */
int		 msg_text_ok(const char *);
int		 msg_name_ok(const char *);
int		 msg_attr_ok(const char *);
int		 msg_sect_ok(uint8_t);

#endif /* MMP_MSG_H */
