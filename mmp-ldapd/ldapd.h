/*
 * mmp-ldapd: the only mmpd process that talks to LDAP. It answers the
 * relay workers' user lookups (IMSG_LOOKUP) with the user's DN, mail host
 * and the store's addresses, over asynchronous LDAP and DNS.
 */
#ifndef MMP_LDAPD_H
#define MMP_LDAPD_H

#include <sys/queue.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <ldap.h>

#include "chan.h"
#include "statschan.h"
#include "statsmsg.h"
#include "config.h"
#include "confmsg.h"
#include "crammd5.h"
#include "imsg.h"
#include "loginname.h"
#include "lookupmsg.h"
#include "msg.h"

#define LDAPD_URLS_MAX		16	/* LdapUrl failover list */
#define LDAPD_ATTRS_MAX		16	/* MailHostAttrs */
#define LDAPD_HOST_BYTES	256	/* a DNS name, NUL included */
#define LDAPD_URL_BYTES		300	/* "ldap://host:port" for logs */
#define LDAPD_FILTER_BYTES	4096	/* expanded SearchFormat */
#define LDAPD_DETAIL_BYTES	512	/* detail text of an answer */
#define LDAPD_QUEUE_MAX		10000	/* lookups waiting per connection */
/*
 * Searches in flight per connection. slapd closes an anonymous session
 * with more than 100 operations waiting (conn_max_pending), 1000 when
 * bound (conn_max_pending_auth): stay well under both.
 */
#define LDAPD_INFLIGHT_MAX	64
#define LDAPD_LOOKUPS_MAX	50000	/* lookups open in the process */
#define LDAPD_NAMES_MAX		10000	/* client names being looked up */
#define LDAPD_RELAYS_MAX	1024	/* relay channels */
#define LDAPD_RELAY_QUEUE_MAX	20000	/* answers a relay may leave unread */
#define LDAPD_BACKOFF_MIN_SEC	1
#define LDAPD_BACKOFF_MAX_SEC	16
#define LDAPD_RESULTS_PER_PASS	1000	/* LDAP messages per read event */
/*
 * One LDAP message from the directory: an entry with the few attributes
 * mmp-ldapd asks for, a result, a reference. Far over any of them.
 */
#define LDAPD_PDU_MAX_BYTES	(1024 * 1024)
#define LDAPD_UID_ATTR		"uid"	/* a certificate's user, replayed */
#define LDAPD_PASSWORD_ATTR	"userPassword"	/* CRAMs' clear-text secret */
#define LDAPD_REPLAY_ATTRS_MAX	8	/* %A[attr] of one replay format */
/*
 * The user's account status attributes, as Messaging Server 6.3 and later
 * check them: absent, empty, "active" or "overquota" lets the user in,
 * any other value is refused like a wrong password.
 */
#define LDAPD_STATUS_ATTRS	{ "inetUserStatus", "mailUserStatus" }
#define LDAPD_NSTATUS_ATTRS	2
#define LDAPD_STATUS_BYTES	128	/* "mailUserStatus disabled" */

struct cache;
struct ldapd;
struct ldap_tls;
struct lookup;
struct lookup_domain;
struct name_lookup;
struct preauth_conn;
struct preauth_pool;
struct resolver;
struct resolve_req;

/* Numeric addresses of one host, as text, at most MMP_ADDRS_MAX. */
struct addrlist {
	size_t	n;
	char	a[MMP_ADDRS_MAX][INET6_ADDRSTRLEN];
};

/* The parent's HostsFile: name -> address, sorted by name. */
struct hosts_entry {
	char	name[LDAPD_HOST_BYTES];
	char	addr[INET6_ADDRSTRLEN];
	size_t	seq;			/* file order */
};

struct hosts {
	struct hosts_entry	*v;
	size_t			 n;
	size_t			 cap;
};

/* One LdapUrl entry, parsed once when the configuration arrives. */
struct ldap_url {
	char	 label[LDAPD_URL_BYTES];	/* ldap://host:port */
	char	 host[LDAPD_HOST_BYTES];
	int	 port;
	int	 scope;
	int	 tls;				/* ldaps:// */
	char	*base;
	char	 why[LDAPD_DETAIL_BYTES];	/* "" = usable */
};

/* A relay worker, as the channel the parent handed over for it. */
struct relay {
	TAILQ_ENTRY(relay)	 entry;
	struct ldapd		*env;
	struct chan		*chan;
	uint32_t		 idx;
	int			 closing;
	struct event		*closeev;	/* closes it from the loop */
	TAILQ_HEAD(, lookup)	 lookups;
	TAILQ_HEAD(, name_lookup) names;	/* clientname.c */
};

enum lookup_state {
	LK_QUEUED,		/* waiting for the connection */
	LK_SEARCHING,		/* search sent, msgid valid */
	LK_DOMAIN,		/* hosted domain's search sent (domain.c) */
	LK_RESOLVING,		/* mailHost being resolved */
	LK_BINDING,		/* PreAuth: waiting for or in its bind */
};

/* What a CRAM lookup's entry said (cram.c). */
enum cram_verdict {
	CRAM_V_NOSECRET,	/* no clear-text userPassword (or no entry) */
	CRAM_V_BADDIGEST,	/* a clear-text one, and the digest differs */
	CRAM_V_OK,
};

struct lookup {
	TAILQ_ENTRY(lookup)	 qentry;	/* connection queue */
	RB_ENTRY(lookup)	 node;		/* connection, by msgid */
	TAILQ_ENTRY(lookup)	 rentry;	/* relay's lookups */
	struct ldapd		*env;
	struct relay		*relay;
	struct ldap_conn	*conn;		/* NULL while resolving */
	struct resolve_req	*res;
	struct event		*timer;
	enum lookup_state	 state;
	uint64_t		 reqid;
	uint64_t		 sid;		/* relay's session: log only */
	int			 svc;
	/*
	 * Its virtual domain (-1: none) in configuration gen, by name for a
	 * later one (lookup_vd): a reload may number the domains anew.
	 */
	int			 vd;
	uint32_t		 gen;
	char			 vdname[CONF_VDNAME_BYTES];
	int			 msgid;
	int			 timeout_sec;
	int			 nentries;
	int			 resent;	/* its search, after a lost session */
	int			 badvalue;	/* mailHost not a host name */
	struct timespec		 start;
	char			 user[MMP_USER_BYTES + 1];
	struct login_name	 name;		/* user taken apart */
	/*
	 * A replay format that takes precedence over ReplayFormat for this
	 * lookup (a hosted domain's mailAccessProxyReplay); NULL: none.
	 */
	char			*replayfmt;
	/* HostedDomains (domain.c): the domain entry; NULL: none */
	struct lookup_domain	*dom;
	/*
	 * The %A[attr] names of the replay format in effect, asked for by
	 * the search (rattrs point into rattrbuf), and the first value of
	 * each in the entry (NULL: absent, or unusable in a name).
	 */
	char			*rattrbuf;
	char			*rattrs[LDAPD_REPLAY_ATTRS_MAX + 1];
	char			*rvals[LDAPD_REPLAY_ATTRS_MAX];
	char			 replay[MMP_USER_BYTES + 1];	/* "" none */
	char			*filter;
	char			*dn;
	char			*mailhost;
	/* certificate mapping (certmap.c); NULL for a user lookup */
	char			*subject;	/* RFC 4514 text, for the log */
	char			*base;		/* NULL: the LdapUrl's */
	char			*uid;		/* the entry's one uid */
	const char		*uidbad;	/* why there is none */
	/* "mailUserStatus disabled"; "": the account may log in */
	char			 status[LDAPD_STATUS_BYTES];
	/*
	 * That status is "hold" or "defer": a temporary refusal, which a
	 * relay may answer with a spoofed mailbox (SpoofTempFail) once the
	 * password was verified, so such a lookup goes on to the check.
	 */
	int			 held;
	/* The password or CRAM digest was checked and right (answer's). */
	int			 verified;
	/* LdapCache key (NULL: none); the gen of the caches it started with */
	char			*cachekey;
	uint64_t		 cachegen;
	int			 cachehit;
	int			 authhit;	/* AuthCache: no bind needed */
	/* PreAuth (preauth.c); pass NULL otherwise, wiped when done */
	char			*pass;
	size_t			 passlen;
	char			 clientip[INET6_ADDRSTRLEN];
	struct addrlist		 paddrs;	/* the answer, after the bind */
	struct preauth_conn	*pconn;		/* its bind's, or NULL */
	/* CRAMs (cram.c): CRAM_NONE, or the mechanism to verify */
	int			 cram;
	char			 challenge[CRAM_CHALLENGE_BYTES];
	uint8_t			 digest[CRAM_DIGEST_BYTES];
	enum cram_verdict	 cramverdict;
};

/* What a cache counted since it was made (cache.c). */
struct cache_stats {
	unsigned long long	hits;
	unsigned long long	misses;
	unsigned long long	evicted;	/* LRU, to make room */
	unsigned long long	expired;	/* past the TTL */
	size_t			entries;	/* now */
};

/*
 * The caches of one directory configuration: a service's, or a virtual
 * domain's own (dircache_vd_own). gen tells a lookup whether the caches
 * it started with are still the ones in place when its search ends.
 */
struct dir_caches {
	struct cache	*users;		/* LdapCache: "u\n" base "\n" filter */
	struct cache	*auth;		/* AuthCache: "a\n" DN -> HMAC */
	uint64_t	 gen;
};

/*
 * A user entry an LdapCache keeps: what a search found and was usable,
 * with the %A[attr] values its replay format asked for (name, and value
 * or NULL: the entry has none usable).
 */
struct cached_user {
	char	*dn;
	char	*mailhost;
	size_t	 nattrs;
	char	*names[LDAPD_REPLAY_ATTRS_MAX];
	char	*vals[LDAPD_REPLAY_ATTRS_MAX];
};

RB_HEAD(lookup_tree, lookup);
int	lookup_cmp(struct lookup *, struct lookup *);
RB_PROTOTYPE(lookup_tree, lookup, node, lookup_cmp)

enum conn_state {
	CS_DOWN,
	CS_RESOLVING,		/* the URL's host name */
	CS_CONNECTING,		/* non-blocking TCP connect */
	CS_STARTTLS,		/* StartTLS sent (bind_msgid) */
	CS_BINDING,
	CS_UP,
};

/*
 * The LDAP connection of one service section. Replaced (not changed) when
 * a reload changes its settings; the old one retires once its searches are
 * answered.
 */
struct ldap_conn {
	TAILQ_ENTRY(ldap_conn)	 entry;		/* retiring list */
	struct ldapd		*env;
	int			 svc;
	int			 vd;		/* its virtual domain, -1: none */
	enum conn_state		 state;
	int			 retiring;

	/* settings */
	struct ldap_url		*urls;
	size_t			 nurls;
	char			*urltext;	/* LdapUrl as configured */
	char			*binddn;
	char			*bindpass;
	char			*attrtext;	/* MailHostAttrs */
	char			*attrbuf;	/* attrs point into it */
	char			*attrs[LDAPD_ATTRS_MAX + 1];
	/* what a search asks for: MailHostAttrs + status (+ uid) */
	char			*userattrs[LDAPD_ATTRS_MAX +
				    LDAPD_NSTATUS_ATTRS + 1];
	char			*certattrs[LDAPD_ATTRS_MAX +
				    LDAPD_NSTATUS_ATTRS + 2];
	/* a CRAM lookup's: userattrs + userPassword */
	char			*cramattrs[LDAPD_ATTRS_MAX +
				    LDAPD_NSTATUS_ATTRS + 2];
	int			 timeout_sec;
	int			 starttls;	/* LdapStartTLS */

	/* the attempt or session */
	size_t			 cur;		/* URL in use */
	size_t			 failed;	/* URLs failed in this round */
	struct addrlist		 addrs;
	size_t			 curaddr;
	struct resolve_req	*res;
	LDAP			*ld;
	int			 fd;
	struct event		*cev;		/* connect completes */
	struct event		*rev;		/* LDAP data to read */
	struct event		*wev;		/* room to write (LDAP_BUSY) */
	struct event		*timer;		/* bind deadline */
	int			 bind_msgid;
	struct timespec		 last_rx;	/* up, or its last message */
	int			 backoff_sec;
	struct timespec		 next_try;	/* monotonic */
	char			 lasterr[LDAPD_URL_BYTES + LDAPD_DETAIL_BYTES];

	TAILQ_HEAD(, lookup)	 queue;
	size_t			 nqueued;
	struct lookup_tree	 inflight;
	size_t			 ninflight;
};

struct ldapd {
	struct event_base	*evb;
	struct chan		*parent;
	struct conf_rx		 rx;
	struct mmp_conf		*conf;
	uint32_t		 gen;
	struct hosts		 hosts;
	struct hosts		 newhosts;	/* CONF_HOST since CONF_START */
	struct resolver		*resolver;
	struct ldap_conn	*conn[CONF_NSECT];
	/*
	 * A connection per virtual domain that sets LdapUrl, BindDN,
	 * BindPass or MailHostAttrs (NULL: the service's), indexed as the
	 * domains of conf; nvdconn entries.
	 */
	struct ldap_conn	**vdconn[CONF_NSECT];
	size_t			 nvdconn[CONF_NSECT];
	struct ldap_tls		*tls[CONF_NSECT];	/* ldaptls.c */
	/* operations without an answer within LdapTimeout, since start */
	unsigned long long	 search_timeouts[CONF_NSECT];
	unsigned long long	 bind_timeouts[CONF_NSECT];
	TAILQ_HEAD(, ldap_conn)	 retiring;
	TAILQ_HEAD(, relay)	 relays;
	size_t			 nrelays;
	size_t			 nlookups;
	size_t			 nnames;	/* client names (clientname.c) */
	int			 verbose;
	int			 started;	/* sandboxed, loop running */
	int			 draining;
	struct event		*drainev;
	struct event		*sigterm;	/* the parent's, at shutdown */
	struct preauth_pool	*preauth;	/* bind connections */
	struct dir_caches	*caches[CONF_NSECT];	/* cache.c */
	/* a virtual domain's own caches, by index; NULL: the service's */
	struct dir_caches	**vdcaches[CONF_NSECT];
	size_t			 nvdcaches[CONF_NSECT];
	uint64_t		 cachegen;	/* the last dir_caches made */
	/* AuthCache: the HMAC key, random, never leaves the process */
	uint8_t			 authkey[32];
	struct statschan	 statsch;	/* to the statistics process */
	struct stats_ldapd	 stats;		/* stats.c */
	/* AuthService: recent POP3 logins by domain and address (authsvc.c) */
	struct cache		*authsvc;
};

/*
 * SearchFormat values (lib/loginname.h takes the name apart): %s the
 * canonical name, %U the user id, %V the domain, %o the name as typed,
 * %C, %S, %D. NULL reads as "".
 */
struct filter_vars {
	const char	*name;
	const char	*uid;
	const char	*domain;
	const char	*orig;
	const char	*client;
	const char	*local;
	const char	*certdn;
};

/* cache.c */
struct cache *cache_new(size_t, unsigned int);
void	cache_set_clock(struct cache *, void (*)(struct timespec *));
void	*cache_get(struct cache *, const char *);
void	cache_unhit(struct cache *);
int	cache_put(struct cache *, const char *, void *, void (*)(void *));
void	cache_remove(struct cache *, const char *);
void	cache_clear(struct cache *);
void	cache_stats(const struct cache *, struct cache_stats *);
void	cache_free(struct cache *);
struct dir_caches *dircache_new(long long, long long, long long, long long,
	    int, uint64_t);
struct dir_caches *dircache_conf(const struct mmp_conf *, int, int, uint64_t);
int	dircache_vd_own(const struct mmp_conf *, int, int);
int	dircache_same_conf(const struct mmp_conf *, const struct mmp_conf *,
	    int);
void	dircache_log(const struct dir_caches *, int, const char *);
void	dircache_free(struct dir_caches *);

/* ldapd.c */
/* A draining mmp-ldapd exits once its lookups are answered and sent. */
void	ldapd_drain_check(void);
void	ldapd_exit(int) __attribute__((__noreturn__));
/*
 * The process up to its first configuration, applied: channel, libldap,
 * resolver. main.c confines it and runs the loop; regress/fuzz feeds it.
 */
struct ldapd *ldapd_start(int);

/* ldapdconf.c */
void	ldapd_send_ready(struct ldapd *);
/* IMSG_CONF_START .. END, IMSG_CONF_HOST: CHAN_OK or CHAN_BAD. */
int	ldapd_conf_imsg(struct ldapd *, struct imsg *);
int	ldapd_conf_host(struct ldapd *, struct imsg *);
/* The counters, at each reload and at the end. */
void	ldapd_log_caches(struct ldapd *);
void	ldapd_log_timeouts(struct ldapd *);
void	ldapd_vdcaches_free(struct ldapd *, int);

/* answer.c: an answer queued to r, within LDAPD_RELAY_QUEUE_MAX unread. */
void	ldapd_relay_answer(struct relay *, uint32_t, struct msg_writer *,
	    const char *);

/* relays.c */
/* IMSG_RELAY_CHANNEL: CHAN_OK or CHAN_BAD. */
int	ldapd_relay_add(struct ldapd *, struct imsg *);
/* Its lookups cancelled, its channel closed. */
void	ldapd_relay_close(struct relay *);

/* ldaptls.c */
void	ldaptls_load(struct ldapd *, const struct mmp_conf *, int);
void	ldaptls_free(struct ldapd *);
int	ldaptls_prepare(struct ldapd *, int, LDAP *, char *, size_t);
int	ldaptls_handshake(struct ldapd *, int, LDAP *, int, char *, size_t);

/* domain.c */
/* Does lk's login go through the domain tree (HostedDomains)? */
int	domain_wanted(const struct lookup *);
/* Search the domain tree; the user search follows (lookup_user_search). */
void	domain_start(struct lookup *, const char *, const char *);
/* Is the search to send for lk the domain tree's? */
int	domain_pending(const struct lookup *);
/* The attributes the domain tree's search asks for. */
char  **domain_attrs(void);
void	domain_entry(struct ldap_conn *, struct lookup *, LDAPMessage *);
void	domain_result(struct ldap_conn *, struct lookup *, LDAPMessage *);
void	domain_free(struct lookup_domain *);
/* (&(objectClass=inetDomain)(associatedDomain=ESCAPED)): length or -1. */
int	domain_filter(const char *, char *, size_t);
/* What is wrong with an inetDomainSearchFilter (%U %V %o only), or NULL. */
const char *domain_filter_bad(const char *);

/* filter.c */
int	lookup_filter_expand(const char *, const struct filter_vars *, char *,
	    size_t, char *, size_t);

/* ldapurl.c */
int	ldap_url_split(const char *, struct ldap_url *);
void	ldap_url_clear(struct ldap_url *);
int	ldap_url_numeric(const struct ldap_url *, const char *, char *,
	    size_t);
/* The URL libldap gets: the configured name with TLS, else the address. */
int	ldap_url_session(const struct ldap_url *, const char *, int, char *,
	    size_t);

/* conn.c */
/* svc's connection, or virtual domain vd's (NULL: it uses svc's). */
struct ldap_conn *conn_new(struct ldapd *, const struct mmp_conf *, int, int);
/* The connection lookups of svc in domain vd (-1 none) go to. */
struct ldap_conn *conn_for(struct ldapd *, int, int);
int	conn_same(const struct ldap_conn *, const struct ldap_conn *);
void	conn_start(struct ldap_conn *);
void	conn_retire(struct ldap_conn *, struct ldap_conn *);
void	conn_free(struct ldap_conn *);
/* Queue or send lk's search; a retiring connection ends when it is idle. */
void	conn_submit(struct ldap_conn *, struct lookup *);
void	conn_maybe_retire(struct ldap_conn *);
/* After a search's timeout: leave a server that sent nothing as long. */
void	conn_silent(struct ldap_conn *);
/* Messages from the directory over LDAPD_PDU_MAX_BYTES are refused. */
void	conn_limit_incoming(LDAP *);

/* lookup.c */
void	mono_now(struct timespec *);
long long mono_ms_since(const struct timespec *);
const char *svc_name(int);
/* lk's virtual domain in the running configuration; -1: none. */
int	lookup_vd(const struct lookup *);
/* The search base of lk on u: a certificate's own, else the URL's. */
const char *lookup_base(const struct lookup *, const struct ldap_url *);
/* Off its connection (abandoning the search) and out of its timer. */
void	lookup_detach(struct lookup *, int);
/* lk's user search: answered from the LdapCache, or sent (conn_submit). */
void	lookup_search(struct lookup *);

/* usercache.c */
/* lk's caches: its virtual domain's own, else its service's. */
struct dir_caches *lookup_caches(const struct lookup *);
/* Keep lk's found entry, if usable and its caches are still in place. */
void	lookup_cache_store(struct lookup *);
/* Fill lk from dc's entry for its search: 1; 0: search (a miss). */
int	lookup_cache_fill(struct lookup *, struct dir_caches *);
/*
 * The %A[attr] names of the replay format in effect, for the search to ask
 * for: again when a hosted domain set lk->replayfmt. -1: no memory.
 */
int	lookup_replay_attrs(struct lookup *);
/* A search entry or the search's result for lk (conn.c reads them). */
void	lookup_entry(struct ldap_conn *, struct lookup *, LDAPMessage *);
void	lookup_result(struct ldap_conn *, struct lookup *, LDAPMessage *);
/*
 * The user's search with the filter template fmt (SearchFormat,
 * DomainSearchFormat, a domain's inetDomainSearchFilter) filled with lk's
 * name and client and local addresses; finishes lk on failure.
 */
void	lookup_user_search(struct lookup *, const char *, const char *,
	    const char *);
/*
 * reqid, then sid: the relay's session id, for the log lines only; user,
 * its length, client, local, then the PreAuth password (NULL: none),
 * then the request if it is a CRAM's (cram != CRAM_NONE), else NULL.
 */
void	lookup_start(struct ldapd *, struct relay *, uint64_t, uint64_t,
	    int, const char *, size_t, const char *, const char *,
	    const char *, size_t, const struct lookup_req *);
/* Answer the relay, log, free; the lookup is detached. */
void	lookup_finish(struct lookup *, int, const struct addrlist *,
	    const char *, ...) __attribute__((__format__(printf, 4, 5)));
void	lookup_cancel(struct lookup *);
void	lookup_refuse(struct relay *, uint64_t, int, int, const char *,
	    const char *);
/* reqid, sid, svc, virtual domain (-1 none), what, subject, base, filter */
void	lookup_cert_start(struct ldapd *, struct relay *, uint64_t,
	    uint64_t, int, int, const char *, const char *, const char *,
	    const char *);

/* authcache.c */
/* lk's password is the one its DN's AuthCache entry holds (a miss else). */
int	authcache_match(struct lookup *);
/* A bind's outcome: a success kept, anything else forgets the DN. */
void	authcache_bound(struct lookup *, int);

/*
 * authsvc.c: AuthService's table, one for every relay, at most
 * AUTHSVC_ENTRIES_MAX logins (least recently used out first).
 * IMSG_AUTHSVC_RECORD and _QUERY from a relay; -1: malformed.
 */
#define AUTHSVC_ENTRIES_MAX	65536
int	authsvc_record(struct relay *, struct imsg *);
int	authsvc_query(struct relay *, struct imsg *);

/* preauth.c */
int	preauth_set(struct lookup *, const char *, size_t, const char *);
/* The audit line (reason NULL: success); the reason of a status. */
void	preauth_audit(struct lookup *, const char *);
const char *preauth_reason(int);
void	preauth_client_ip(struct lookup *, const char *);
void	preauth_wipe(struct lookup *);
int	preauth_intercept(struct lookup *, int, const struct addrlist *);
void	preauth_detach(struct lookup *);
void	preauth_free(struct ldapd *);

/* cram.c */
int	cram_enabled(const struct ldapd *, int, int);
int	cram_set(struct lookup *, const struct lookup_req *);
const char *cram_name(int);
void	cram_entry(struct ldap_conn *, struct lookup *, LDAPMessage *);
int	cram_found(struct lookup *);
void	cram_audit(struct lookup *, int);

/* clientname.c: ClientLookup */
int	clientname_request(struct relay *, struct imsg *);
void	clientname_cancel_all(struct relay *);

/* certmap.c */
int	certmap_request(struct ldapd *, struct relay *, struct imsg *);
int	certmap_conf(struct ldapd *, struct imsg *);

/* resolve.c */
int	hosts_add(struct hosts *, const char *, const char *);
void	hosts_finish(struct hosts *);
int	hosts_lookup(const struct hosts *, const char *, struct addrlist *);
void	hosts_free(struct hosts *);
int	resolve_numeric(const char *, struct addrlist *);
int	resolve_valid_name(const char *);
typedef void (*resolve_cb)(void *, const struct addrlist *, const char *);
typedef void (*resolve_name_cb)(void *, const char *, const char *);
typedef void (*resolve_confirm_cb)(void *, int, const char *);
int	resolve_confirm_start(struct ldapd *, const char *, const char *,
	    int *, char *, size_t, resolve_confirm_cb, void *,
	    struct resolve_req **);
int	hosts_reverse(const struct hosts *, const char *, char *, size_t);
int	resolve_addr_start(struct ldapd *, const char *, char *, size_t,
	    char *, size_t, resolve_name_cb, void *, struct resolve_req **);
int	resolver_init(struct ldapd *);
void	resolver_free(struct ldapd *);
#ifdef MMP_FUZZ
int	resolver_fuzz_servers(struct ldapd *, const char *);
#endif
int	resolve_start(struct ldapd *, const char *, struct addrlist *, char *,
	    size_t, resolve_cb, void *, struct resolve_req **);
void	resolve_cancel(struct resolve_req *);

/* stats.c */
void	ldapd_stat_lookup(struct ldapd *, const struct timespec *);
int	ldapd_stats_channel(struct ldapd *, struct imsg *);

#endif /* MMP_LDAPD_H */
