/*
 * The relay workers (mmpd -P relay): the structures of one worker on one
 * page. A worker accepts clients, speaks IMAP or POP3 until the login, asks
 * mmp-ldapd where the user lives, logs in to that store and then relays.
 */
#ifndef MMPD_RELAY_H
#define MMPD_RELAY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <event2/event.h>
#include <stdarg.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "crammd5.h"
#include "config.h"
#include "confmsg.h"
#include "connlimits.h"
#include "heaptrim.h"
#include "imapcmd.h"
#include "imsg.h"
#include "lookupmsg.h"
#include "msg.h"
#include "namemsg.h"
#include "netmask.h"
#include "pump.h"
#include "relay_main.h"
#include "sasl.h"
#include "shm.h"
#include "slab.h"
#include "statschan.h"
#include "statsmsg.h"
#include "spoofmsg.h"
#include "tlsmsg.h"

#define CLIENT_IN_MAX_BYTES	(IMAP_CMD_MAX_BYTES + 4096)
#define CLIENT_OUT_MAX_BYTES	65536	/* replies before login */
/*
 * A client that does not read its replies before its login: over this
 * much queued for it, its input is no longer read (nor acted on) until
 * the queue is written; a reply or two, never thousands.
 */
#define CLIENT_OUT_PAUSE_BYTES	2048

#define STORE_IN_MAX_BYTES	65536	/* store lines during the login */
#define STORE_OUT_MAX_BYTES	4096
#define ADDR_TEXT_BYTES		64	/* "[v6 address]:port" */
#define PASS_MAX_BYTES		SASL_FIELD_MAX_BYTES
#define ACCEPT_PAUSE_SEC	1	/* after EMFILE/ENFILE */
#define RELAY_STATS_SEC		1	/* IMSG_STATS at most this often */
#define TLSD_MAX		64	/* mmp-tlsd channels a relay keeps */

/*
 * Where a session is.
 *
 *   accept --(PROXY listener)--> S_PROXY (proxy.c: the header only)
 *     |                              |
 *     |<-----------------------------+ the client's address is final
 *     v
 *   session_admit: limits (limits.c), then TCPAccess (access.c), after
 *     |            S_NAMING with ClientLookup (the client's name, 5 s)
 *     v
 *   session_greet
 *     |
 *     +--(TLS listener)--> S_TLS --TLS_OK, greet------+
 *     |                          ^                    |
 *     | greet                    | handed to mmp-tlsd |
 *     v                          |                    v
 *   S_PREAUTH <-------------- S_STARTTLS <--- STARTTLS/STLS: OK sent,
 *     |   ^  ^   TLS_OK          (answer      pipelined bytes dropped
 *     |   |  |   (no greeting)    flushing)
 *     |   |  +--- S_AUTH_CONT (AUTHENTICATE/AUTH without a response)
 *     |   +------ S_FAILDELAY (AuthFailureDelay, then NO/-ERR)
 *     v
 *   S_LOOKUP --> S_STORE --(store took the login)--> struct rsession
 *                  |                                    ^
 *                  +--(address has badness)--> S_BGHOLD +
 *     (mmp-ldapd:  (backend.c; a store down: back to S_PREAUTH at once,
 *      lookup or    a refused login: S_FAILDELAY)
 *      certmap)
 *
 * A POP3 login whose password mmp-ldapd verified, to a store that cannot
 * serve the mailbox, may go to S_SPOOF instead (SpoofMessageFile,
 * SpoofEmptyMailbox, SpoofTempFail): mmpd answers the transaction state
 * itself until QUIT.
 *
 * At the login the session becomes an rsession (rsession.c), which keeps
 * only what relaying needs; this struct goes, wiped, with every buffer
 * of the login.
 *
 * An MTA's XQUERYAUTH (AuthService) waits in S_AUTHQUERY for
 * mmp-ldapd's answer and goes back to S_PREAUTH.
 *
 * Any state goes to S_CLOSING (last words, then close) or is closed at
 * once; S_TLS and S_STARTTLS close on TLS_FAILED, a lost mmp-tlsd or the
 * login timer; S_PROXY without a word (its peer is a load balancer) on a
 * bad header, an end of file or its timer. S_CLOSING is never left, and
 * any reply may lead to it (over MaxPreauthQueueBytes, or to a client
 * that does not read): a handler sets the state a reply announces before
 * it sends the reply, never after.
 */
enum session_state {
	S_PREAUTH,		/* reading pre-login commands */
	S_PROXY,		/* reading a PROXY header, nothing else */
	S_NAMING,		/* ClientLookup: waiting, before the greeting */
	S_AUTH_CONT,		/* waiting for a SASL response line */
	S_STARTTLS,		/* flushing "OK begin TLS", reading nothing */
	S_TLS,			/* handed to mmp-tlsd, waiting for TLS_RESULT */
	S_LOOKUP,		/* asked mmp-ldapd */
	S_STORE,		/* connecting / logging in to the store */
	S_FAILDELAY,		/* AuthFailureDelay before the answer */
	S_BGHOLD,		/* store took it; BadGuy holds the answer */
	S_SPOOF,		/* POP3: mmpd plays the mailbox (spoof.c) */
	S_AUTHQUERY,		/* POP3: an MTA's XQUERYAUTH at mmp-ldapd */
	S_CLOSING,		/* flushing the last words, then close */
};

/* The SASL mechanism of an AUTHENTICATE / AUTH in progress. */
enum session_mech {
	MECH_PLAIN,
	MECH_EXTERNAL,		/* certificate login, RFC 4422 A */
	MECH_CRAM_MD5,		/* CRAMs, RFC 2195 */
};

/* Why a login did not get through, as far as the protocol code cares. */
enum login_fail {
	LOGIN_FAIL_AUTH,	/* any credential or directory failure */
	LOGIN_FAIL_STORE,	/* the store cannot be reached */
};

/*
 * Why a login was refused, for its log line only (the client hears the
 * same whatever it is): set where the failure is known, before
 * session_login_failed. login.c has the words.
 */
enum login_reason {
	LREASON_NONE,		/* not said: "refused" */
	LREASON_BADREQUEST,	/* mmpd refused the credentials as sent */
	LREASON_NOUSER,		/* no entry, or several */
	LREASON_BADPASS,	/* PreAuth bind or CRAM digest failed */
	LREASON_DISABLED,	/* account or domain status */
	LREASON_NOSTORE,	/* no mailHost, or it does not resolve */
	LREASON_LDAPDOWN,	/* mmp-ldapd or the directory unavailable */
	LREASON_STOREDOWN,	/* no store address could be reached */
	LREASON_STOREREFUSED,	/* the store said no (its password check) */
	LREASON_STOREFAILED,	/* the store failed after it had the login */
	LREASON_CERT,		/* a certificate mapped to another user */
};

/* Who ended a session, for its last log line. */
enum session_closer {
	CLOSER_MMPD,		/* a limit, a timeout, an error */
	CLOSER_CLIENT,
	CLOSER_STORE,
};

struct session;
struct access_rules;

/*
 * SpoofMessageFile's message as the relays serve it, checked
 * (spoof_msg_ok); shared by the configuration that brought it and each
 * session that shows it, freed by the last (spoof.c).
 */
struct spoof_msg {
	unsigned int	 refs;
	size_t		 len;
	size_t		 body;		/* where the body begins */
	char		 uidl[32];	/* "spoof-" and a hash of the bytes */
	char		 data[SPOOF_MSG_MAX_BYTES];
};

/* What a spoofed mailbox holds (spoof_wanted). */
enum spoof_kind {
	SPOOF_NONE,
	SPOOF_EMPTY,			/* no message */
	SPOOF_MESSAGE,			/* SpoofMessageFile's one message */
};

/* What differs between IMAP and POP3, called by session.c. */
struct proto {
	const char	*name;
	void		(*greet)(struct session *);
	/* Act on buffered client input; stops when the state changes. */
	void		(*input)(struct session *);
	void		(*login_failed)(struct session *, enum login_fail);
	void		(*timeout)(struct session *);
};

extern const struct proto imap_proto;
extern const struct proto pop3_proto;
extern const struct proto spoof_proto;

/* Store side of the login, owned by backend.c. */
struct backend {
	int		 fd;
	int		 state;		/* BE_* in backend.c */
	struct event	*ev;
	struct buf	 in;
	struct buf	 out;
	struct buf	 answer;	/* store lines to pass on at success */
	char		 addrs[MMP_ADDRS_MAX][MMP_ADDR_BYTES];
	int		 naddr;
	int		 next;		/* next address to try */
	char		 addr[ADDR_TEXT_BYTES];	/* "ip:port" connected */
	int		 saslir;	/* store offers AUTH=PLAIN + SASL-IR */
	int		 authplain;
	int		 literalplus;
	int		 logindisabled;	/* greeting said LOGINDISABLED */
	int		 idcap;		/* IMAP: the store offers ID */
	int		 xclient;	/* POP3: greeting or CAPA: XCLIENT */
	int		 forwarded;	/* ID / XCLIENT sent on this store */
	size_t		 splits[2];	/* sync literals: wait for "+" here */
	int		 nsplit;
	int		 cursplit;
	size_t		 sent;		/* bytes of the login sent so far */
	int		 sentlogin;	/* the store may have the password */
	int		 tlsmode;	/* BE_TLS_*: how this store does TLS */
	int		 tls;		/* 1: TLS to the store is up */
	struct timespec	 started;	/* CLOCK_MONOTONIC, backend_start */
	/*
	 * MaxConcurrentConnectionAttempts: this connection is counted for
	 * its store (address and port) in env->shm until the greeting.
	 */
	struct shm_key	 attkey;
	uint8_t		 attempting;
};

/*
 * A client certificate as mmp-tlsd reported it; only while it may still
 * serve a login (certificate login), freed at login and close.
 */
struct session_cert {
	uint8_t			status;		/* enum tls_cert_status */
	char			subject[MMP_STR_BYTES];
	char			issuer[MMP_STR_BYTES];
	uint8_t			nfields;
	struct tls_field	field[TLS_SUBJECT_FIELDS_MAX];
};

struct session {
	RB_ENTRY(session)	 entry;
	uint64_t		 id;
	const struct proto	*proto;
	int			 svc;		/* SVC_IMAP or SVC_POP */
	enum session_state	 state;
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct event		*timer;		/* login, delay, idle */
	struct buf		 in;
	struct buf		 out;
	size_t			 outcounted;	/* of out, in env->outqueued */
	/*
	 * The client: accept4's peer, or the address a PROXY header gave;
	 * everything (limits, access, logs, the store) uses these.
	 */
	struct sockaddr_storage	 peer;
	char			 client[ADDR_TEXT_BYTES];
	char			 local[ADDR_TEXT_BYTES];
	int			 tlsport;	/* listener: TLS first */
	/* The listener's label (the admission logs it, maybe later). */
	char			 label[CONF_HOST_BYTES + 8];
	/* ClientLookup (access.c): enum tcpa_name, the name if any */
	int			 namestate;
	char			 name[NAME_HOST_BYTES];
	struct shm_key		 connkey;	/* its ConnLimits count */
	uint8_t			 conncounted;	/* 1: counted in env->shm */
	uint8_t			 inpreauth;	/* on env->preauth, counted */
	uint8_t			 inclosing;	/* counted in env->nclosing */
	TAILQ_ENTRY(session)	 preauth;	/* oldest first */
	/*
	 * Its virtual domain (vdmap) by local, -1 none, as found under
	 * configuration vdgen; session_vd() finds it again after a reload.
	 */
	int			 vd;
	uint32_t		 vdgen;
	int			 nbad;
	time_t			 login_deadline;	/* CLOCK_MONOTONIC s */
	struct timespec		 cred_at;	/* credentials complete */
	uint64_t		 bg_ms;		/* its badness at cred_at */
	int			 mute;		/* replies dropped: closing */
	int			 rpaused;	/* session_read_pause: no reads */
	int			 opaused;	/* replies over CLIENT_OUT_PAUSE_BYTES */
	struct imap_reader	 rd;		/* IMAP only */
	char			 tag[IMAP_TAG_MAX_BYTES];
	int			 saslmech;	/* mech of S_AUTH_CONT */
	int			 certlogin;	/* this login: certificate */
	/*
	 * CRAMs: this login's mechanism (enum cram_mech, CRAM_NONE for a
	 * password or certificate), the challenge it answers and the
	 * client's digest; apop is the greeting's timestamp (POP3, "" none).
	 */
	int			 cram;
	char			 challenge[CRAM_CHALLENGE_BYTES];
	uint8_t			 digest[CRAM_DIGEST_BYTES];
	char			 apop[CRAM_CHALLENGE_BYTES];
	/* The login name; of a certificate login, the authzid, then mapped. */
	char			 user[MMP_USER_BYTES + 1];
	size_t			 userlen;	/* may hold a NUL (POP3 USER) */
	char			 pass[PASS_MAX_BYTES + 1];	/* wiped */
	char			 mailhost[MMP_STR_BYTES];
	/*
	 * This login's name as typed (user becomes the replay name), its
	 * domain ("" none) and why it failed: the log's.
	 */
	char			 typed[MMP_USER_BYTES + 1];
	char			 domain[MMP_USER_BYTES + 1];
	uint8_t			 reason;	/* enum login_reason */
	/* session_finish's words for the last line, and whose they are. */
	uint8_t			 closer;	/* enum session_closer */
	char			 finish_why[128];
	uint64_t		 bytes_in;	/* read from the client */
	uint64_t		 bytes_out;	/* written to the client */
	int			 verified;	/* mmp-ldapd checked the password */
	struct spoof_msg	*spoof;		/* S_SPOOF with a message */
	int			 spoofdel;	/* S_SPOOF: DELE'd, until RSET */
	int			 tls;		/* 1: the client side is TLS */
	int			 tlsd;		/* slot of a RESULT due, -1 */
	uint8_t			 tlsrole;	/* of that result: tls_role */
	uint64_t		 tlsid;		/* its handoff (TLS_START) */
	RB_ENTRY(session)	 handoff;	/* env->handoffs, by tlsid */
	int			 starttls;	/* S_TLS came from STARTTLS */
	struct session_cert	*cert;		/* TLS_CERT_NONE: NULL */
	struct backend		 be;
	struct timeval		 start;
};
RB_HEAD(session_tree, session);
TAILQ_HEAD(session_list, session);

/*
 * A session once the store took its login: what relaying and its last
 * log line need, and nothing of the login. Idle, it costs this, its
 * events and its two sockets.
 */
/*
 * A relayed session: every one of them idles for hours, so its fields are
 * packed (rsession.c asserts its size): the small ones share a word, the
 * client's address text has the room its longest form needs, and of the
 * connection count's key only the address is kept (its tag is svc).
 */
#define RSESSION_CLIENT_BYTES	(INET6_ADDRSTRLEN + sizeof("[]:65535") - 1)
struct rsession {
	uint64_t		 id;
	int			 svc;
	uint8_t			 client_eof;	/* the client closed first */
	uint8_t			 conncounted;	/* connaddr is counted */
	struct event		*timer;		/* Timeout of inactivity */
	struct relay_dir	 up;		/* client -> store */
	struct relay_dir	 down;		/* store -> client */
	struct timeval		 start;
	char			 client[RSESSION_CLIENT_BYTES];
	uint8_t			 connaddr[16];	/* its connection count's */
};
/* Sessions waiting for a TLS_RESULT, by the id of their handoff (tls.c). */
RB_HEAD(handoff_tree, session);

struct relay_listener {
	TAILQ_ENTRY(relay_listener)	 entry;
	int				 fd;
	int				 svc;
	int				 tls;	/* TLS from the first byte */
	int				 proxy;	/* a PROXY header first */
	char				 label[CONF_HOST_BYTES + 8];
	/*
	 * Its address as addr_text writes it when it is bound to one: every
	 * session accepted there has it as its own (no getsockname each).
	 * Empty for a wildcard listener.
	 */
	char				 local[ADDR_TEXT_BYTES];
	struct event			*ev;
};
TAILQ_HEAD(listener_list, relay_listener);

/* StoreNetworks of one service, parsed once per configuration. */
struct store_nets {
	int		 set;		/* the key is set: addresses are checked */
	size_t		 n;
	struct netmask	 v[NETLIST_MAX];
};

/* ConnLimits of one service, parsed once per configuration. */
struct conn_limits {
	size_t			 n;
	struct connlimit	 v[CONNLIMITS_MAX];
};

/* One channel to an mmp-tlsd, by the parent's index of that mmp-tlsd. */
struct tlsd_slot {
	struct chan		*ch;		/* NULL: none now */
	uint32_t		 index;
	unsigned int		 inflight;	/* TLS_RESULTs due */
	int			 draining;	/* TLSD_DRAINING: no handoffs */
};

/*
 * The channel of an mmp-tlsd whose index a new one took (a retired one
 * that drains its sessions, tls.c), kept until that mmp-tlsd closes it.
 */
struct tlsd_parked {
	TAILQ_ENTRY(tlsd_parked) entry;
	struct chan		*ch;
	uint32_t		 index;
};
TAILQ_HEAD(tlsd_parked_list, tlsd_parked);

/* The one per-process state of a relay worker. */
struct relay_env {
	struct event_base	*base;
	int			 index;
	int			 verbose;	/* -v: debug logs */
	struct mmp_conf		*conf;
	uint32_t		 gen;		/* of conf */
	struct conf_rx		 rx;
	struct listener_list	 listeners;
	struct listener_list	 newlisteners;	/* during a reload */
	struct chan		*parent;
	struct chan		*ldapd;		/* NULL: lookups fail */
	struct session_tree	 sessions;
	uint64_t		 nextid;
	unsigned int		 nsessions;
	uint64_t		 logins_ok;	/* stores that said yes */
	uint64_t		 logins_failed;	/* credentials, directory, store */
	struct event		*stats_timer;	/* IMSG_STATS when changed */
	unsigned int		 stats_sessions;	/* last sent */
	uint64_t		 stats_logins;		/* ok + failed sent */
	int			 draining;
	struct event		*accept_pause;
	/* Out of descriptors: since when (0: not), accepts refused since. */
	time_t			 accept_short_since;
	unsigned long		 accept_short_tries;
	struct store_nets	 storenets[CONF_NSECT];
	/* ProxyProtocolNetworks, the same way (proxy.c). */
	struct store_nets	 proxynets[CONF_NSECT];
	struct store_nets	 authsvcmtas;	/* AuthServiceClients */
	unsigned int		 nclosing;	/* of them, inclosing */
	/*
	 * Replies in sessions' out, but for a spoofed mailbox's: it is
	 * logged in as far as its client knows (MaxPreauthQueueBytes).
	 */
	size_t			 outqueued;
	/* Sessions before their login and not closing, oldest first. */
	struct session_list	 preauth;
	struct conn_limits	 connlimits[CONF_NSECT];
	struct tlsd_slot	 tlsd[TLSD_MAX];
	struct tlsd_parked_list	 tlsd_parked;	/* replaced, still open */
	unsigned int		 tlsd_next;	/* round robin among equals */
	struct handoff_tree	 handoffs;
	uint64_t		 nexthandoff;	/* never reused, like nextid */
	char			 hostname[256];	/* of CRAM challenges */
	struct pump_pool	 pipes;		/* empty splice pipes (pump.c) */
	struct heaptrim		 trim;		/* freed heap to the kernel */
	struct slab_cache	 rsessions;	/* with their events (rsession.c) */
	struct access_rules	*access;	/* TCPAccess (access.c) */
	struct statschan	 statsch;	/* to the statistics process */
	struct stats_relay	 stats;		/* relaystats.c */
	struct shm		 shm;		/* shared with all relays */
	struct spoof_msg	*spoof;		/* SpoofMessageFile's, or NULL */
	struct spoof_msg	*newspoof;	/* of the configuration coming */
	struct event		*sigterm;	/* the parent's, at shutdown */
};

extern struct relay_env	*env;

/* relay.c; relay_main() is in relay_main.h, the parent's only view */
int	relay_lookup(struct session *);
int	relay_certmap(struct session *);
void	relay_session_closed(void);

/* session.c */
void	session_accept(int, const struct relay_listener *,
	    const struct sockaddr_storage *);
/* The client's address is final: admission, then greeting or TLS. */
/* Admitted: greet it, or start its TLS handshake. */
void	session_admit(struct session *);
void	session_greet(struct session *);
/* The session's virtual domain in the running configuration, -1 none. */
int	session_vd(const struct session *);
void	session_send(struct session *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	session_send_raw(struct session *, const void *, size_t);
/* The _by forms say who ended it; the others: mmpd. */
void	session_close(struct session *, const char *);
void	session_close_by(struct session *, enum session_closer,
	    const char *);
void	session_finish(struct session *, const char *);
void	session_finish_by(struct session *, enum session_closer,
	    const char *);
const char *session_closer_name(enum session_closer);
void	session_read_pause(struct session *, int);
/*
 * The protocol's input loop asks before each command: 1 when the replies
 * queued for s are over CLIENT_OUT_PAUSE_BYTES; then s reads nothing more
 * until they are written, and the loop stops.
 */
int	session_out_full(struct session *);
void	session_login_timer(struct session *);
int	session_relay_start(struct session *);
void	session_vlog(int svc, uint64_t id, const char *client, int prio,
	    const char *fmt, va_list ap) __attribute__((__format__(printf, 5, 0)));
void	session_log(struct session *, int, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
struct session *session_find(uint64_t);
void	session_bad_command(struct session *);
int	session_plain_ok(const struct session *);
int	session_external_ok(const struct session *);
int	session_crams_ok(const struct session *);
int	session_admin_replay(const struct session *);
void	session_cram_challenge(struct session *);
int	session_starttls_offered(const struct session *);
void	session_starttls(struct session *);
void	session_tls_result(struct session *, const struct tls_result *);
void	session_tls_lost(struct session *);
RB_PROTOTYPE(session_tree, session, entry, session_cmp)

/*
 * rsession.c: the relay phase. rsession_start takes s's descriptors and
 * whatever is still to pass on; the caller frees s. NULL: out of memory,
 * s untouched.
 */
struct rsession *rsession_start(const struct session *);
/* The rsessions' slab cache, before the first session. */
void	rsession_init(void);
/* Every rsession closed now, why in each one's last line (SIGTERM). */
void	rsession_close_all(const char *why);

/* login.c */
void	session_login(struct session *, const char *, size_t, const char *,
	    size_t);
void	session_login_sasl(struct session *, const char *, size_t);
void	session_login_external(struct session *, const char *, size_t);
void	session_login_cram(struct session *, const char *, size_t);
void	session_login_apop(struct session *, const char *, size_t,
	    const char *, size_t);
void	session_lookup_result(struct session *,
	    const struct lookup_answer *);
void	session_fail_all_lookups(void);
void	session_login_failed(struct session *, enum login_fail,
	    const char *);
void	session_login_delay_over(struct session *);
void	session_login_ok(struct session *);

/*
 * badguy.c: BadGuy. badguy_conf after a configuration or the shared
 * memory; badguy_badness in ms; a failed login penalises the address, a
 * held success clears it; badguy_delayed counts a delayed answer.
 */
void	 badguy_conf(void);
uint64_t badguy_badness(const struct session *);
void	 badguy_failed(struct session *);
void	 badguy_cleared(struct session *);
void	 badguy_delayed(void);

/* backend.c */
void	backend_start(struct session *);
void	backend_free(struct backend *);
void	backend_tls_result(struct session *, const struct tls_result *);
void	backend_tls_lost(struct session *);

/* tls.c */
int	tls_channel(uint32_t, int, const struct chan_peer *);
void	tls_channel_drop(uint32_t);
int	tls_available(void);
int	tls_handoff(struct session *, int *, enum tls_role, const char *,
	    const char *, const char *);
void	tls_pending_clear(struct session *);
int	tls_result(struct chan *, struct imsg *);
int	tls_draining(struct chan *, struct imsg *);
int	handoff_cmp(struct session *, struct session *);
RB_PROTOTYPE(handoff_tree, session, handoff, handoff_cmp)
void	tls_channel_lost(struct chan *, const char *);
void	tls_close_all(void);

/*
 * proxy.c: the PROXY protocol header on marked listeners. proxy_conf
 * parses ProxyProtocolNetworks of a new configuration; proxy_start
 * refuses a peer that may not send one or waits for it; proxy_read reads
 * it (never a byte past it) and admits the session.
 */
void	proxy_conf(const struct mmp_conf *);
void	proxy_start(struct session *);
void	proxy_read(struct session *);
void	proxy_timeout(struct session *);
/* access.c: TCPAccess and ClientLookup at admission */
void	access_conf(const struct mmp_conf *);
void	access_free(void);
int	access_admit(struct session *);
void	access_name_result(struct session *, int, const char *,
	    const char *);
int	access_name_answer(struct imsg *);
void	access_name_timeout(struct session *);
void	access_fail_all_names(void);
/* relaystats.c */
void	relay_stat_refused(enum refusal);
void	relay_stat_login(const struct session *, enum stats_login);
void	relay_stat_store(const struct session *, enum stats_login);
void	relay_stat_store_latency(const struct session *);
void	relay_stat_relaying(int, int);
uint64_t *relay_stat_bytes(int, int);
int	relay_stats_channel(struct imsg *);
/*
 * limits.c: limits_admit runs once the client's address is known, before
 * any greeting: 0 admitted, -1 refused (error line queued, finishing).
 */
void	limits_conf(const struct mmp_conf *);
int	limits_admit(struct session *);
void	limits_session_end(const struct shm_key *, uint8_t *);
/* s is no longer before its login (logged in, closing or freed). */
void	limits_preauth_end(struct session *);

/* imap.c */
void	imap_capabilities(const struct session *, char *, size_t);

/*
 * authsvc.c: AuthService (POP-before-SMTP). A POP3 login is recorded at
 * mmp-ldapd; an MTA's XQUERYAUTH line before login (1: it was one and
 * is being answered, 0: not one, to be answered as any other line);
 * mmp-ldapd's answer; its loss.
 */
void	authsvc_note(struct session *);
int	authsvc_xquery(struct session *, const char *, size_t);
int	authsvc_answer(struct imsg *);
void	authsvc_fail_all(void);
void	authsvc_conf(const struct mmp_conf *);

/*
 * spoof.c: what a failed POP3 login gets instead of its failure (temp: a
 * temporary one), SPOOF_NONE for the failure; the spoofed session, why
 * said in its log line; IMSG_CONF_SPOOF; a reference let go.
 */
enum spoof_kind spoof_wanted(const struct session *, int temp);
void	spoof_start(struct session *, enum spoof_kind, const char *why);
int	spoof_conf_msg(struct imsg *);
void	spoof_conf_apply(void);
void	spoof_conf_abort(void);
void	spoof_release(struct spoof_msg *);

#endif /* MMPD_RELAY_H */
