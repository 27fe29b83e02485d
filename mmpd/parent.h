/*
 * The mmpd parent: the one process that stays root. It owns the
 * configuration, the listening sockets and the log files, and starts,
 * feeds and supervises the children (relay workers, mmp-ldapd, mmp-tlsd).
 */
#ifndef MMPD_PARENT_H
#define MMPD_PARENT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <time.h>

#include "chan.h"
#include "config.h"
#include "imsg.h"
#include "instance.h"
#include "statsmsg.h"
#include "shm.h"
#include "tlsmsg.h"

#define RELAYS_MAX		64	/* as the Workers key allows */
#define TLSDS_MAX		64	/* as the TLSWorkers key allows */
#define PEERS_MAX		(1 + TLSDS_MAX)	/* a relay's: ldapd, tlsds */
#define RESTART_MIN_SEC		1	/* first restart of a dead child */
#define RESTART_MAX_SEC		60	/* backoff doubles up to this */
#define RESTART_RESET_SEC	60	/* running this long resets backoff */
#define STOP_GRACE_SEC		3	/* SIGTERM to SIGKILL at shutdown */
#define CHANNEL_LOST_MIN_SEC	1	/* a relay's channels to one peer at
					   most this far apart (IMSG_*_LOST) */
#define CHANNEL_LOST_EXCESS_MAX	1000	/* ignored LOSTs: the relay is killed */
#define LISTEN_BACKLOG		512
#define HOSTS_MAX		65536	/* HostsFile entries sent to ldapd */
#define HOSTS_LINE_BYTES	1024
#define HOST_NAME_BYTES		254	/* 253 + NUL, RFC 1035 */

enum child_kind {
	CHILD_RELAY,
	CHILD_LDAPD,
	CHILD_TLSD,
	CHILD_STATS,		/* mmpd -P stats, only with StatsListen */
};

struct child;

/*
 * A relay's requests for a new channel to one peer (IMSG_LDAPD_LOST,
 * IMSG_TLSD_LOST): see proc_handle_lost.
 */
struct lost {
	struct child		*relay;
	unsigned int		 slot;		/* 0 mmp-ldapd, 1 + i tlsd i */
	struct event		*ev;		/* answers the held LOST */
	struct timespec		 given;		/* last channel sent */
	int			 held;		/* a LOST waits for ev */
	unsigned int		 excess;	/* LOSTs while one was held */
	unsigned int		 unlogged;	/* of those, not yet logged */
};

/* One child process slot; the slot outlives restarts of its process. */
struct child {
	TAILQ_ENTRY(child)	 entry;
	enum child_kind		 kind;
	unsigned int		 index;		/* relay or mmp-tlsd number */
	char			 name[32];	/* "relay 1", "mmp-tlsd 0" */
	pid_t			 pid;		/* -1 while down */
	int			 retiring;	/* drained, not restarted */
	struct chan		*chan;		/* NULL while closed */
	struct event		*restart;	/* restart; kill if chan-less */
	struct timespec		 started;
	int			 backoff_sec;
	uint32_t		 gen_ready;	/* last IMSG_READY */
	/* mmp-tlsd: the last TLS_CONF_KEPT, the generation serving then. */
	uint32_t		 tls_kept;
	uint32_t		 tls_in_use;
	uint32_t		 sessions;	/* last IMSG_STATS */
	uint64_t		 logins_ok;	/* last IMSG_STATS */
	uint64_t		 logins_failed;
	unsigned int		 restarts;	/* of this slot */
	int			 section;	/* relay: its shm section, -1 */
	char			 killed[96];	/* why mmpd killed it, or "" */
	/* Relays only: per peer slot (0 mmp-ldapd, 1 + i mmp-tlsd i). */
	struct lost		 lost[PEERS_MAX];
};
TAILQ_HEAD(child_list, child);

/* A listener of the running configuration. */
struct listener {
	struct conf_listener	 cl;
	int			 fd;		/* -1 once closed */
};

/* A socket a reload removed; closed once the relays applied it. */
struct old_listener {
	TAILQ_ENTRY(old_listener) entry;
	int			 fd;
	uint32_t		 gen;		/* generation that removed it */
	char			 label[CONF_HOST_BYTES + 8];
};
TAILQ_HEAD(old_listener_list, old_listener);

/* One name of the HostsFile, for mmp-ldapd. */
struct hostsfile_entry {
	char			 name[HOST_NAME_BYTES];
	char			 addr[INET6_ADDRSTRLEN];
};

/* The one per-process state of the parent. */
struct parent {
	struct event_base	*base;
	char			 dir[PATH_MAX];		/* -f */
	char			 self[PATH_MAX];	/* our executable */
	char			 ldapd[PATH_MAX];	/* mmp-ldapd's */
	char			 tlsd[PATH_MAX];	/* mmp-tlsd's, "" */
	int			 foreground;
	int			 verbose;
	int			 root;
	struct mmp_conf		*conf;
	uint32_t		 gen;
	struct listener		*listeners;
	size_t			 nlisteners;
	struct old_listener_list old_listeners;
	struct hostsfile_entry	*hosts;
	size_t			 nhosts;
	struct child_list	 children;
	unsigned int		 nrelays;	/* wanted */
	unsigned int		 ntlsds;	/* wanted; 0 without TLS */
	struct listener		 stats;		/* StatsListen; fd -1: none */
	uint64_t		 restarts[STATS_KIND_MAX];	/* by kind */
	struct tls_ticket_keys	 tickets;	/* newest first; n 0: none */
	long long		 ticket_lifetime;	/* timer's, 0: off */
	struct event		*ticket_ev;	/* rotation */
	uint32_t		 announced;	/* generation said applied */
	int			 draining;	/* SIGTERM: relays drain */
	int			 stopping;	/* children were sent SIGTERM */
	struct event		*drain_timer;	/* DrainTimeout */
	struct event		*stop_timer;	/* STOP_GRACE_SEC */
	/* What mmpctl status and stats show (control.c). */
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	uint64_t		 logins_ok;	/* all relays, IMSG_STATS */
	uint64_t		 logins_failed;
	unsigned long		 reloads;	/* configurations loaded */
	unsigned long		 reloads_refused;
	char			 pidfile[PATH_MAX];	/* "": none */
	int			 pidfd;
	char			 ctlpath[CONTROL_PATH_BYTES];	/* "": none */
	int			 ctlfd;
	struct event		*ctlev;
	unsigned int		 nctlconns;	/* open control connections */
	struct event		*sigev[5];
	int			 shmfd;		/* the relays' region, lib/shm.h */
	struct shm		 shm;		/* mapped: its hiwater only */
	/* Sections of it a relay process holds (written or to be wiped). */
	uint8_t			 shm_taken[SHM_SECTIONS];
};

extern struct parent	*penv;

/* mmpd.c: called by proc.c when something changed. */
void	parent_child_ready(struct child *);
void	parent_child_gone(void);
/* mmpd.c: for control.c. */
int	parent_reload(char *, size_t);
void	parent_drain(int);

/* control.c: pid file and control socket (mmpctl). */
void	control_init(const struct mmp_conf *);
void	control_start(void);
void	control_reloaded(const struct mmp_conf *);
void	control_cleanup(void);

/* proc.c */
void	proc_find_ldapd(void);
int	proc_find_tlsd(char *, size_t);
void	proc_start(unsigned int, unsigned int);
void	proc_set_relays(unsigned int);
void	proc_set_tlsds(unsigned int);
void	proc_send_conf_all(void);
void	proc_send_tickets_all(void);
void	proc_reap(void);
unsigned int proc_drain(void);
void	proc_signal(int, int);
unsigned int proc_count(int);
unsigned long proc_sessions(void);
int	proc_all_ready(uint32_t);
uint32_t proc_tls_kept(uint32_t);
void	proc_free_all(void);
/* certmapfile.c */
struct mmp_conf *certmapfile_conf_load(const char *, char *, size_t);
int	certmapfile_send(struct chan *, const struct mmp_conf *);
/* A whole regular file of at most max bytes (malloc'd), or NULL with err. */
char	*parent_file_read(const char *, size_t, size_t *, char *, size_t);
/*
 * spooffile.c: POP's SpoofMessageFile into conf->spoofmsg (0), or -1 with
 * "file:line: SpoofMessageFile path: why"; to a relay as IMSG_CONF_SPOOF.
 */
int	spooffile_load(struct mmp_conf *, char *, size_t);
int	spooffile_send(struct chan *, const struct mmp_conf *);
/* vdmapfile.c: each service's VirtualDomainFile; 0 or -1 with err. */
int	vdmapfile_load(struct mmp_conf *, char *, size_t);
/* bgexclfile.c: each service's BGExcluded networks; 0 or -1 with err. */
int	bgexclfile_load(struct mmp_conf *, char *, size_t);
/* hostsfile.c */
int	hostsfile_load(const struct mmp_conf *, struct hostsfile_entry **,
	    size_t *);

/*
 * tlsfiles.c: every TLS file of a configuration exists, is readable and
 * PEM (0), or -1 with "file:line: Key path: why"; to one mmp-tlsd, as
 * IMSG_CONF_TLSFILE between its CONF_START and CONF_END.
 */
int	tlsfiles_check(const struct mmp_conf *, char *, size_t);
int	tlsfiles_send(struct chan *, const struct mmp_conf *, char *, size_t);

/* ticket.c */
void	ticket_configure(const struct mmp_conf *);
int	ticket_send(struct chan *);
void	ticket_clear(void);

/* listen.c */
int	listen_open(struct listener *, char *, size_t);
int	listen_setup(const struct mmp_conf *, struct listener **, size_t *,
	    char *, size_t);
void	listen_commit(struct listener *, size_t, uint32_t);
void	listen_sweep(void);
void	listen_close_all(void);
void	listen_describe(char *, size_t);

#endif /* MMPD_PARENT_H */
