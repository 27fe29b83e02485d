/*
 * The relay workers (mmpd -P relay): the structures of one worker on one
 * page. A worker accepts clients, speaks IMAP or POP3 until the login, asks
 * mmp-ldapd where the user lives, logs in to that store and then relays.
 */
#ifndef MMPD_RELAY_H
#define MMPD_RELAY_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <event2/event.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "config.h"
#include "confmsg.h"
#include "imapcmd.h"
#include "imsg.h"
#include "lookupmsg.h"
#include "msg.h"
#include "netmask.h"
#include "pump.h"
#include "relay_main.h"
#include "sasl.h"

#define CLIENT_IN_MAX_BYTES	(IMAP_CMD_MAX_BYTES + 4096)
#define CLIENT_OUT_MAX_BYTES	65536	/* replies before login */
#define STORE_IN_MAX_BYTES	65536	/* store lines during the login */
#define STORE_OUT_MAX_BYTES	4096
#define ADDR_TEXT_BYTES		64	/* "[v6 address]:port" */
#define PASS_MAX_BYTES		SASL_FIELD_MAX_BYTES
#define ACCEPT_PAUSE_SEC	1	/* after EMFILE/ENFILE */

/* Where a session is. */
enum session_state {
	S_PREAUTH,		/* reading pre-login commands */
	S_AUTH_CONT,		/* waiting for a SASL response line */
	S_LOOKUP,		/* asked mmp-ldapd */
	S_STORE,		/* connecting / logging in to the store */
	S_FAILDELAY,		/* AuthFailureDelay before the answer */
	S_RELAY,		/* bytes flow both ways */
	S_CLOSING,		/* flushing the last words, then close */
};

/* Why a login did not get through, as far as the protocol code cares. */
enum login_fail {
	LOGIN_FAIL_AUTH,	/* any credential or directory failure */
	LOGIN_FAIL_STORE,	/* the store cannot be reached */
};

struct session;

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
	size_t		 splits[2];	/* sync literals: wait for "+" here */
	int		 nsplit;
	int		 cursplit;
	size_t		 sent;		/* bytes of the login sent so far */
	int		 sentlogin;	/* the store may have the password */
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
	char			 client[ADDR_TEXT_BYTES];
	char			 local[ADDR_TEXT_BYTES];
	char			 listener[CONF_HOST_BYTES + 8];
	int			 nbad;
	time_t			 login_deadline;	/* CLOCK_MONOTONIC s */
	struct timespec		 cred_at;	/* credentials complete */
	int			 mute;		/* replies dropped: closing */
	struct imap_reader	 rd;		/* IMAP only */
	char			 tag[IMAP_TAG_MAX_BYTES];
	int			 saslmech;	/* AUTHENTICATE/AUTH pending */
	char			 user[MMP_USER_BYTES + 1];
	size_t			 userlen;	/* may hold a NUL (POP3 USER) */
	char			 pass[PASS_MAX_BYTES + 1];	/* wiped */
	char			 mailhost[MMP_STR_BYTES];
	struct backend		 be;
	struct relay_dir	 up;		/* client -> store */
	struct relay_dir	 down;		/* store -> client */
	struct timeval		 start;
};
RB_HEAD(session_tree, session);

struct relay_listener {
	TAILQ_ENTRY(relay_listener)	 entry;
	int				 fd;
	int				 svc;
	char				 label[CONF_HOST_BYTES + 8];
	struct event			*ev;
};
TAILQ_HEAD(listener_list, relay_listener);

/* StoreNetworks of one service, parsed once per configuration. */
struct store_nets {
	int		 set;		/* the key is set: addresses are checked */
	size_t		 n;
	struct netmask	 v[NETLIST_MAX];
};

/* The one per-process state of a relay worker. */
struct relay_env {
	struct event_base	*base;
	int			 index;
	int			 verbose;	/* -v: debug logs */
	struct mmp_conf		*conf;
	struct conf_rx		 rx;
	struct listener_list	 listeners;
	struct listener_list	 newlisteners;	/* during a reload */
	struct chan		*parent;
	struct chan		*ldapd;		/* NULL: lookups fail */
	struct session_tree	 sessions;
	uint64_t		 nextid;
	unsigned int		 nsessions;
	int			 draining;
	struct event		*accept_pause;
	struct store_nets	 storenets[CONF_NSECT];
};

extern struct relay_env	*env;

/* relay.c; relay_main() is in relay_main.h, the parent's only view */
int	relay_lookup(struct session *);
void	relay_session_closed(void);

/* session.c */
void	session_accept(int, int, const char *);
void	session_send(struct session *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	session_send_raw(struct session *, const void *, size_t);
void	session_close(struct session *, const char *);
void	session_finish(struct session *, const char *);
void	session_read_pause(struct session *, int);
void	session_login_timer(struct session *);
int	session_relay_start(struct session *);
void	session_log(struct session *, int, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
struct session *session_find(uint64_t);
void	session_bad_command(struct session *);
RB_PROTOTYPE(session_tree, session, entry, session_cmp)

/* login.c */
void	session_login(struct session *, const char *, size_t, const char *,
	    size_t);
void	session_login_sasl(struct session *, const char *, size_t);
void	session_lookup_result(struct session *,
	    const struct lookup_answer *);
void	session_fail_all_lookups(void);
void	session_login_failed(struct session *, enum login_fail,
	    const char *);
void	session_login_delay_over(struct session *);
void	session_login_ok(struct session *);

/* backend.c */
void	backend_start(struct session *);
void	backend_free(struct backend *);

/* imap.c */
void	imap_capabilities(char *, size_t);

#endif /* MMPD_RELAY_H */
