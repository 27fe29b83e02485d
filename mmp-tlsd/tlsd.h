/*
 * mmp-tlsd: the only mmpd process that holds private keys. It takes a
 * relay's network socket and a plaintext socketpair end, does the TLS
 * handshake (server side toward clients, client side toward stores),
 * reports the result and pumps bytes between the two.
 */
#ifndef MMP_TLSD_H
#define MMP_TLSD_H

#include <sys/queue.h>
#include <sys/tree.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <tls.h>

#include "chan.h"
#include "heaptrim.h"
#include "statschan.h"
#include "statsmsg.h"
#include "config.h"
#include "confmsg.h"
#include "imsg.h"
#include "msg.h"
#include "tlsmsg.h"

#define TLS_HANDSHAKE_TIMEOUT_SEC	30	/* START to RESULT */
#define TLS_CLOSE_TIMEOUT_SEC		30	/* flushing after an EOF */
/* One direction's buffer: a full TLS record's plaintext, and a margin. */
#define TLS_BUF_BYTES			(16384 + 512)
#define TLSD_RELAYS_MAX			1024	/* relay channels */
#define TLSD_SESSIONS_MAX		100000	/* sessions in the process */
/*
 * TLS_RESULTs a relay may leave unread before its channel is closed. A
 * result ends a handshake; a healthy relay has one due per handoff in
 * flight, at most one per session it holds (MaxSessionsPerWorker, 50,000
 * by default), and this process holds TLSD_SESSIONS_MAX handshakes and
 * sessions. The bound is that many: every handshake here ending in one
 * round (a burst timing out together) while the relay reads nothing. A
 * relay that never reads (START/PLAIN pairs that fail at once, for a
 * service with no certificate) stops there, at some 11 MB (a failure's
 * result is 110 bytes queued), not at out of memory.
 */
#define TLSD_RELAY_QUEUE_MAX		100000

/* One file of IMSG_CONF_TLSFILE, its bytes in memory. */
struct tls_file {
	uint8_t		*buf;		/* NULL: none came */
	size_t		 len;
	char		 path[MMP_STR_BYTES];
	char		 why[64];	/* not read: why, for the log */
};

/* The files of one service section, as the parent sent them. */
struct tls_files {
	struct tls_file	 cert[TLS_CERTS_MAX];
	struct tls_file	 key[TLS_CERTS_MAX];
	struct tls_file	 keypass;
	struct tls_file	 client_ca;
	struct tls_file	 store_ca;
};

/*
 * The server side of one section: one SSL_CTX per certificate, sharing
 * every setting, chosen by SNI. Sessions hold a reference: a handshake
 * in flight across a reload still finds the set its SNI callback needs.
 */
struct srv_set {
	int		 refs;
	int		 sect;
	size_t		 n;
	SSL_CTX		*ctx[TLS_CERTS_MAX];
	int		 client_ca;	/* client certificates are asked */
};

/* The client side of one section (libtls). */
struct cli_set {
	int		  refs;
	struct tls_config *cfg;		/* NULL: handshakes fail, why says */
	char		  why[128];
};

/* What a configuration builds; replaced whole, or not at all. */
struct tlsd_ctxs {
	struct srv_set	*srv[CONF_NSECT];	/* NULL: no certificate */
	struct cli_set	*cli[CONF_NSECT];
};

struct tlsd_relay;

enum conn_state {
	CONN_WAIT_PLAIN,	/* START came, PLAIN is due */
	CONN_HANDSHAKE,
	CONN_PUMP,
	CONN_CLOSING,		/* one side ended: flushing the other */
};

/* Bytes in flight in one direction. */
struct conn_buf {
	uint8_t		*data;		/* TLS_BUF_BYTES, allocated lazily */
	size_t		 off;
	size_t		 len;
};

/* One TLS session. */
struct conn {
	RB_ENTRY(conn)		 node;		/* relay's, by id */
	struct tlsd_relay	*relay;
	uint64_t		 id;		/* the handoff's */
	uint64_t		 sid;		/* relay's session: log only */
	int			 role;
	int			 sect;
	char			 peer[MMP_ADDR_BYTES];
	char			 servername[TLS_NAME_BYTES];
	enum conn_state		 state;
	int			 netfd;
	int			 plainfd;
	struct event		*netrev;
	struct event		*netwev;
	struct event		*plainrev;
	struct event		*plainwev;
	struct event		*timer;
	short			 netwant;	/* handshake blocked on */
	SSL			*ssl;		/* server */
	struct srv_set		*srv;
	struct tls		*tls;		/* client */
	struct cli_set		*cli;
	int			 verify_err;	/* first, 0 if none */
	struct conn_buf		 toplain;	/* TLS -> plaintext */
	struct conn_buf		 tonet;		/* plaintext -> TLS */
	int			 net_eof;
	int			 plain_eof;
	int			 dead;		/* an error: close at once */
	short			 net_rd_wants;	/* TLS read blocked on */
	short			 net_wr_wants;	/* TLS write blocked on */
	int			 net_drained;	/* read until empty: wait for */
	int			 plain_drained;	/* ... the side's next event */
};

RB_HEAD(conn_tree, conn);
int	conn_cmp(struct conn *, struct conn *);
RB_PROTOTYPE(conn_tree, conn, node, conn_cmp)

/* A relay worker, as the channel the parent handed over for it. */
struct tlsd_relay {
	TAILQ_ENTRY(tlsd_relay)	 entry;
	struct chan		*chan;
	uint32_t		 idx;
	int			 closing;	/* closeev is due: read no more */
	struct event		*closeev;	/* closes it from the loop */
	struct conn		*pending;	/* START without PLAIN yet */
	struct conn_tree	 conns;
};

struct tlsd {
	struct event_base	*evb;
	struct chan		*parent;
	struct conf_rx		 rx;
	struct mmp_conf		*conf;
	uint32_t		 gen;
	uint32_t		 tls_gen;	/* whose files made env->ctxs */
	uint32_t		 index;		/* -i */
	int			 verbose;
	int			 started;	/* sandboxed, loop running */
	int			 draining;	/* DRAIN came: no new session */
	int			 drained;	/* and none left: exiting */
	struct tls_files	 files[CONF_NSECT];	/* since CONF_START */
	struct tlsd_ctxs	 ctxs;
	struct tls_ticket_keys	*tickets;	/* NULL: none, no tickets */
	int			 ssl_idx;	/* SSL ex_data: struct conn */
	TAILQ_HEAD(, tlsd_relay) relays;
	size_t			 nrelays;
	size_t			 nconns;
	struct statschan	 statsch;	/* to the statistics process */
	struct stats_tlsd	 stats;		/* handshakes (conn.c) */
	struct event		*sigterm;	/* the parent's, at shutdown */
	struct heaptrim		 trim;		/* freed heap to the kernel */
};

extern struct tlsd	*env;

/* stats.c */
int	tlsd_stats_channel(struct imsg *);

/* tlsd.c */
/*
 * The process up to its first configuration, applied; main.c confines it
 * and runs the loop, regress/fuzz feeds it. tlsd_exit: the end.
 */
void	tlsd_start(int, uint32_t);
void	tlsd_exit(int) __attribute__((__noreturn__));
void	tlsd_send_ready(void);
void	tlsd_drain_check(void);

/* ctxs.c */
int	ctxs_conf_imsg(struct imsg *);
int	ctxs_conf_file(struct imsg *);
int	ctxs_ticket_keys(struct imsg *);
void	ctxs_clear(void);

/* relays.c */
int	relays_add(struct imsg *);
int	relays_send_result(struct tlsd_relay *, const struct tls_result *);
void	relays_drain(void);
int	relays_busy(void);
void	relays_flush_all(void);
void	relays_close_all(void);

/* server.c */
void	server_init(void);
int	server_build(int, const struct tls_files *, const struct mmp_conf *,
	    struct srv_set **, char *, size_t);
void	server_set_unref(struct srv_set *);
void	server_tickets_changed(struct srv_set *);
SSL	*server_ssl_new(struct srv_set *, struct conn *, int);
void	server_result(struct conn *, struct tls_result *);
void	server_errstr(char *, size_t, const char *);
int	server_load_cas(const struct tls_file *, const char *, X509_STORE *,
	    STACK_OF(X509_NAME) *, char *, size_t);

/* client.c */
int	client_build(int, const struct tls_files *, const struct mmp_conf *,
	    struct cli_set **, char *, size_t);
void	client_set_unref(struct cli_set *);
struct tls *client_tls_new(struct cli_set *, int, const char *, char *,
	    size_t);
void	client_result(struct conn *, struct tls_result *);

/* conn.c */
int	conn_start(struct tlsd_relay *, struct imsg *);
int	conn_plain(struct tlsd_relay *, struct imsg *);
void	conn_free(struct conn *);

/* subject.c */
void	subject_fill(X509 *, struct tls_result *);
int	subject_text(X509_NAME *, char *, size_t);

/* Shared by server.c and client.c: SSLProtocols and SSLCipherSpecs. */
int	tlsd_protocols(const char *, int *, int *);
const char *tlsd_ciphers(const char *);
#define TLSD_CIPHERS_ALL	"ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256"

#endif /* MMP_TLSD_H */
