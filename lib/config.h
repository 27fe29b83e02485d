/*
 * Configuration: the product's files (AService.cfg, ImapProxyAService.cfg,
 * PopProxyAService.cfg) in `default:Key value` form. The parent parses them;
 * children rebuild the same structure from key/value imsgs with conf_set(),
 * so every value is validated by the same code in every process.
 */
#ifndef MMP_CONFIG_H
#define MMP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "bgexcl.h"

/* Sections; the numbers match LOG_SVC_* in log.h. */
#define CONF_GLOBAL	0		/* AService.cfg */
#define SVC_IMAP	1		/* ImapProxyAService.cfg */
#define SVC_POP		2		/* PopProxyAService.cfg */
#define CONF_NSECT	3

#define CF_A		0x1
#define CF_I		0x2
#define CF_P		0x4
#define CF_V		0x8		/* may be set per virtual domain (vdmap) */

#define CKF_SECRET	0x1
#define CKF_LATER	0x2
#define CKF_NSS		0x4		/* NSS database key: warned, ignored */
/* Which children get a CKF_SECRET key; a secret with neither, nobody. */
#define CKF_TO_LDAPD	0x8
#define CKF_TO_RELAY	0x10

/* The children a configuration is sent to (conf_sent_to). */
enum conf_dest {
	CONF_TO_RELAY,
	CONF_TO_LDAPD,
	CONF_TO_TLSD,
	CONF_TO_STATS,		/* no secret at all */
};

/* Said wherever mmpd meets an NSS database instead of a PEM file. */
#define CONF_NSS_HINT	"mmpd needs PEM files: export them with " \
	"pk12util -d DIR -n NICKNAME -o server.p12, then openssl pkcs12 " \
	"-in server.p12 -nokeys -out cert.pem and -nocerts -out key.pem"

enum conf_type {
	CT_STR,
	CT_INT,
	CT_BOOL,		/* yes/no, 1/0, true/false, on/off */
	CT_PORT,
	CT_PATH,		/* absolute path */
	CT_AUDIT,		/* absolute path or syslog:FACILITY */
	CT_FACILITY,		/* a syslog facility: mail, daemon, local0 .. */
	CT_SERVICELIST,
	CT_LDAPURLS,
	CT_FILTER,		/* balanced (...) with known % codes */
	CT_ATTRS,		/* blank-separated attribute names */
	CT_PORTLIST,		/* blank, comma or | separated ports */
	CT_NETLIST,		/* networks, see netmask.h */
	CT_PATHLIST,		/* blank-separated absolute paths, at most
				   CONF_PATHS_MAX; "" = none */
	CT_TLSPROTOS,		/* TLSv1.2 and/or TLSv1.3 */
	CT_REPLAYFMT,		/* ReplayFormat, see lib/loginname.h */
	CT_LISTENLIST,		/* PORT, IPv4:PORT or [IPv6]:PORT of
				   ServiceList; blank, comma or | separated */
	CT_TCPACCESS,		/* TCPAccess rules, see lib/tcpaccess.h */
	CT_LISTEN,		/* PORT, IPv4:PORT or [IPv6]:PORT */
	CT_BANNER,		/* greeting text: printable ASCII, no < or >,
				   at most CONF_BANNER_BYTES */
	CT_CONNLIMITS,		/* IP|MASK:NUM realms, see connlimits.h */
};

#define CONF_BANNER_BYTES	200	/* a greeting line stays short */

#define CONF_PATHS_MAX	16	/* = TLS_CERTS_MAX (lib/tlsmsg.h) */

enum conf_key {
#define CK(e, n, f, t, d, dp, fl, mn, mx, h)	CK_##e,
#include "config_keys.h"
#undef CK
	CK_NKEYS
};

struct conf_keyinfo {
	const char	*name;
	unsigned int	 files;
	enum conf_type	 type;
	const char	*def;
	const char	*defpop;
	unsigned int	 flags;
	long long	 min;
	long long	 max;
	const char	*help;
};

struct conf_value {
	char		*str;		/* normalised value; NULL if unset */
	long long	 num;		/* CT_INT, CT_BOOL, CT_PORT */
	int		 isset;
	char		 file[64];	/* where it was set */
	int		 line;
};

#define CONF_HOST_BYTES	64

struct conf_listener {
	int		 svc;		/* SVC_IMAP or SVC_POP */
	int		 tls;		/* port is in SSLPorts, SSLEnable yes */
	int		 proxy;		/* in ProxyProtocolPorts */
	char		 host[CONF_HOST_BYTES];	/* "" = every address */
	uint16_t	 port;
	char		 label[CONF_HOST_BYTES + 8];	/* "*:143", "[::1]:143" */
};

struct certmap_set;

#define CONF_VDOMAINS_MAX	256	/* vdmap entries of one service */
#define CONF_VDNAME_BYTES	64	/* a vdmap NAME, NUL included */

/*
 * One `vdmap NAME IPADDR` entry of a service's VirtualDomainFile and the
 * keys (CF_V) it overrides for sessions on that local address.
 */
struct conf_vdomain {
	char			 name[CONF_VDNAME_BYTES];
	char			 addr[CONF_HOST_BYTES];	/* numeric, normalised */
	char			 file[64];		/* where it starts */
	int			 line;
	struct conf_value	 v[CK_NKEYS];
	struct certmap_set	*certmap;		/* its CertMap, parsed */
};

struct mmp_conf {
	char			 dir[1024];
	int			 enabled[CONF_NSECT];	/* in ServiceList */
	struct conf_value	 v[CONF_NSECT][CK_NKEYS];
	struct conf_listener	*listeners;
	size_t			 nlisteners;
	/*
	 * Each service's CertMapFile, parsed (lib/certmap.h); NULL: none.
	 * The parent reads it (mmpd/certmapfile.c), mmp-ldapd receives it;
	 * conf_free frees it.
	 */
	struct certmap_set	*certmap[CONF_NSECT];
	/*
	 * Each service's virtual domains (VirtualDomainFile, lib/vdmap.h),
	 * in file order; the parent parses the file, the children receive
	 * them (IMSG_CONF_VDOMAIN, IMSG_CONF_VDKV). conf_free frees them.
	 */
	struct conf_vdomain	*vd[CONF_NSECT];
	size_t			 nvd[CONF_NSECT];
	/*
	 * Each service's BGExcluded networks (lib/bgexcl.h): the parent
	 * parses the inline list or reads the file (mmpd/bgexclfile.c), the
	 * relays receive them (IMSG_CONF_BGEXCL). conf_free frees them.
	 */
	struct bgexcl		 bgexcl[CONF_NSECT];
	/*
	 * POP's SpoofMessageFile made into a message (lib/spoofmsg.h), NULL
	 * without one; the parent reads it (mmpd/spooffile.c), the relays
	 * receive it (IMSG_CONF_SPOOF). conf_free frees it.
	 */
	char			*spoofmsg;
	size_t			 spooflen;
};

const struct conf_keyinfo *conf_keyinfo(enum conf_key);
/* Key by name, case-insensitive; -1 if unknown. */
int		 conf_key_lookup(const char *);
const char	*conf_section_file(int);	/* "ImapProxyAService.cfg" */

struct mmp_conf	*conf_new(void);
void		 conf_free(struct mmp_conf *);	/* wipes secrets */
/*
 * Read DIR/AService.cfg and the file of every service ServiceList names.
 * NULL on error with "file:line: reason" in err; warnings (unknown key,
 * key in the wrong file, other section) go to log_warnx with file:line.
 */
struct mmp_conf	*conf_load(const char *dir, char *err, size_t errlen);
struct mmp_conf	*conf_load_global(const char *dir, char *err, size_t errlen);
/* Validate and store one value; file/line say where it came from. */
int		 conf_set(struct mmp_conf *, int sect, enum conf_key,
		    const char *value, const char *file, int line,
		    char *err, size_t errlen);
/* Derive listeners, check required keys. 0 or -1 with err. */
int		 conf_finish(struct mmp_conf *, char *err, size_t errlen);

/* Effective values: set value, else the section's default. */
const char	*conf_str(const struct mmp_conf *, int sect, enum conf_key);
long long	 conf_num(const struct mmp_conf *, int sect, enum conf_key);
/*
 * AuditLog "syslog:FACILITY": an index into auth, authpriv, local0 ..
 * local7 (-1: not that form).
 */
int		 conf_audit_facility(const char *);
/* SyslogFacility: its LOG_* value (syslog.h), -1 if not one. */
int		 conf_syslog_facility(const char *);
int		 conf_isset(const struct mmp_conf *, int sect, enum conf_key);

/*
 * The next path of a CT_PATHLIST value at *sp into path: 1, or 0 at the
 * end (or -1 if one does not fit path).
 */
int		 conf_path_next(const char **sp, char *path, size_t len);
/* How many paths a CT_PATHLIST value holds. */
int		 conf_path_count(const char *);
/* A CT_LISTEN value (StatsListen) as a listener: 0, or -1 with why. */
int		 conf_listen_parse(const char *, struct conf_listener *,
		    char *why, size_t whylen);

/*
 * After conf_finish: does sect (an enabled service) accept TLS
 * (SSLEnable), speak TLS to its stores (SSLBacksidePort, StoreStartTLS),
 * does any service do either?
 */
int		 conf_tls_server(const struct mmp_conf *, int sect);
int		 conf_tls_store(const struct mmp_conf *, int sect);
int		 conf_tls_used(const struct mmp_conf *);

/*
 * Does key go to a child of kind dest? Every key but a secret, and a
 * secret only to the children its CKF_TO_* flags name.
 */
int		 conf_sent_to(int key, enum conf_dest);

/*
 * Virtual domains. conf_vdomain_add: a new `vdmap NAME IPADDR` of sect,
 * its index or -1 with err (bad name or address, a duplicate, more than
 * CONF_VDOMAINS_MAX). conf_vset: validate and store a CF_V key of domain
 * vd, like conf_set. conf_vdomain_by_name: index or -1.
 */
int		 conf_vdomain_add(struct mmp_conf *, int sect, const char *name,
		    const char *addr, const char *file, int line, char *err,
		    size_t errlen);
int		 conf_vset(struct mmp_conf *, int sect, int vd, enum conf_key,
		    const char *value, const char *file, int line, char *err,
		    size_t errlen);
int		 conf_vdomain_by_name(const struct mmp_conf *, int sect,
		    const char *name);
/*
 * The virtual domain of a session that came in on local address addr
 * (numeric, "ADDR", "IPv4:PORT" or "[IPv6]:PORT"; an IPv4-mapped IPv6
 * address matches its IPv4 form): index or -1 for none.
 */
int		 conf_vdomain_find(const struct mmp_conf *, int sect,
		    const char *addr);
/* Its domain: its DefaultDomain if set, else its name; NULL if vd < 0. */
const char	*conf_vdomain_domain(const struct mmp_conf *, int sect, int vd);
/*
 * Effective values in virtual domain vd of sect: its override if set,
 * else the service's (conf_str/conf_num); vd -1 is the service's.
 */
const char	*conf_vstr(const struct mmp_conf *, int sect, int vd,
		    enum conf_key);
long long	 conf_vnum(const struct mmp_conf *, int sect, int vd,
		    enum conf_key);
int		 conf_visset(const struct mmp_conf *, int sect, int vd,
		    enum conf_key);
/* Is the key set in vd itself (not inherited)? */
int		 conf_voverrides(const struct mmp_conf *, int sect, int vd,
		    enum conf_key);
/*
 * Every virtual domain of sect with CRAMs yes has a StoreAdmin and its
 * password to replay them as: 0, or -1 with "file:line: why" in err.
 */
int		 conf_check_vdomain_crams(const struct mmp_conf *, int sect,
		    char *err, size_t errlen);
/*
 * TCPAccess of sect and of each of its virtual domains names host names
 * (or LOCAL, KNOWN, UNKNOWN, DNSSPOOFER) only where ClientLookup is yes:
 * 0, or -1 with "file:line: why" in err.
 */
int		 conf_check_tcpaccess(const struct mmp_conf *, int sect,
		    char *err, size_t errlen);
/*
 * Bytes of the blank at p (space, tab, or U+00A0 in UTF-8, which the
 * product's sample files use), 0 if none; p past every blank.
 */
size_t		 conf_blank(const char *p);
const char	*conf_skip_blanks(const char *p);
/* The value of a .cfg line after its key, unquoted: 0 or -1 with why. */
int		 conf_value_unquote(const char *v, char *out, size_t outlen,
		    char *why, size_t whylen);

/* `mmpd -nn`: every key of every active section, value and origin. */
void		 conf_dump(const struct mmp_conf *, FILE *);
/*
 * Keys set in sect (its file or its vdmap) whose feature is CKF_LATER, as
 * "A, B, C"; "" if none.
 */
void		 conf_later_keys(const struct mmp_conf *, int sect, char *,
		    size_t);

#endif /* MMP_CONFIG_H */
