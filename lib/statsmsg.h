/*
 * Statistics: the counters each process keeps where things happen (plain
 * increments, no system call per event) and the messages that carry them
 * to the statistics process (mmpd -P stats) when it asks, written and
 * read in one place. The reader checks what the statistics process must
 * not trust: exact sizes, known store names, nothing left over.
 */
#ifndef MMP_STATSMSG_H
#define MMP_STATSMSG_H

#include <stdint.h>

#include "imsg.h"

#define STATS_NSVC		2	/* [0] IMAP, [1] POP3 */
#define STATS_STORES_MAX	16	/* store labels; the rest is "other" */
#define STATS_STORE_BYTES	128	/* a longer mailHost counts as other */
/*
 * Upper bounds of the latency histograms' buckets, in microseconds; the
 * last bucket (+Inf) is implied.
 */
#define STATS_BUCKETS		11
#define STATS_BUCKET_BOUNDS_USEC \
	{ 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, \
	  1000000, 5000000 }

/* Where an open session is, as the metric's state label says. */
enum stats_sess_state {
	STATS_SESS_PREAUTH,	/* before the credentials, TLS, closing */
	STATS_SESS_LOGIN,	/* credentials given: directory, store */
	STATS_SESS_RELAYING,	/* the store took the login */
	STATS_SESS_MAX
};

/* How a login ended, as the reason label says. */
enum stats_login {
	STATS_LOGIN_OK,
	STATS_LOGIN_AUTH_FAILED,	/* password, PreAuth bind, CRAM, store */
	STATS_LOGIN_UNKNOWN_USER,	/* no entry, or more than one */
	STATS_LOGIN_DISABLED,		/* account status not active */
	STATS_LOGIN_NO_STORE,		/* no mailHost, or no address for it */
	STATS_LOGIN_STORE_DOWN,		/* no store address answered */
	STATS_LOGIN_DIRECTORY_DOWN,	/* LDAP trouble, mmp-ldapd away */
	STATS_LOGIN_REFUSED,		/* refused by mmpd before anyone saw it */
	STATS_LOGIN_ERROR,		/* store failed after the login was sent */
	STATS_LOGIN_MAX
};

/* The rules that turn a client away, as the rule label says. */
enum refusal {
	REFUSAL_CONNLIMIT,	/* ConnLimits */
	REFUSAL_TCPACCESS,	/* TCPAccess */
	REFUSAL_RELAYCAP,	/* sessions per relay worker */
	REFUSAL_PREAUTHCAP,	/* pre-authentication sessions in all */
	REFUSAL_BADGUY,		/* BadGuy */
	REFUSAL_MAX
};

enum stats_tls {
	STATS_TLS_FULL,		/* a full handshake */
	STATS_TLS_RESUMED,	/* a session resumed (ticket) */
	STATS_TLS_FAILED,
	STATS_TLS_MAX
};

/* The child kinds whose restarts the parent counts. */
enum stats_kind {
	STATS_KIND_RELAY,
	STATS_KIND_LDAPD,
	STATS_KIND_TLSD,
	STATS_KIND_STATS,
	STATS_KIND_MAX
};

struct stats_hist {
	uint64_t	bucket[STATS_BUCKETS + 1];	/* not cumulative */
	uint64_t	sum_usec;
};

struct stats_store {
	char		name[STATS_STORE_BYTES];	/* "" : other */
	uint64_t	login[STATS_LOGIN_MAX];
};

/* A relay's counters; sessions are counted when asked. */
struct stats_relay {
	uint64_t		sessions[STATS_NSVC][STATS_SESS_MAX];
	uint64_t		login[STATS_NSVC][STATS_LOGIN_MAX];
	uint64_t		bytes[STATS_NSVC][2];	/* [0] up, [1] down */
	uint64_t		refused[REFUSAL_MAX];
	struct stats_hist	store_latency;
	/* Per store; stores[nstores] ("") holds the others. */
	uint8_t			nstores;
	struct stats_store	stores[STATS_STORES_MAX + 1];
};

struct stats_ldapd {
	struct stats_hist	lookup_latency;
	uint64_t		ldapcache[2];	/* [0] hits, [1] misses */
	uint64_t		authcache[2];
};

struct stats_tlsd {
	uint64_t		handshakes[STATS_TLS_MAX];
};

/* A latency of usec microseconds into h: a few compares, no call. */
void	stats_hist_add(struct stats_hist *, uint64_t usec);
/*
 * Count one login of the store named name (mailHost as found): into its
 * entry, a new one while there is room, else the others'. Only a name of
 * host name characters (letters, digits, . - _ : [ ]) gets an entry.
 */
void	stats_store_count(struct stats_relay *, const char *,
	    enum stats_login);

/*
 * IMSG_STATS_ANSWER of each kind: u64 reqid, then the struct's counters
 * in order as u64 (stores: u8 n, n x (str name, STATS_LOGIN_MAX x u64),
 * then the others' STATS_LOGIN_MAX x u64). Readers: 0, or -1 on a short,
 * long or impossible payload.
 */
void	stats_relay_write(struct msg_writer *, uint64_t,
	    const struct stats_relay *);
int	stats_relay_read(const struct imsg *, uint64_t *, struct stats_relay *);
void	stats_ldapd_write(struct msg_writer *, uint64_t,
	    const struct stats_ldapd *);
int	stats_ldapd_read(const struct imsg *, uint64_t *, struct stats_ldapd *);
void	stats_tlsd_write(struct msg_writer *, uint64_t,
	    const struct stats_tlsd *);
int	stats_tlsd_read(const struct imsg *, uint64_t *, struct stats_tlsd *);
/* IMSG_STATS_RESTARTS: STATS_KIND_MAX x u64. */
void	stats_restarts_write(struct msg_writer *, const uint64_t *);
int	stats_restarts_read(const struct imsg *, uint64_t *);

#endif /* MMP_STATSMSG_H */
