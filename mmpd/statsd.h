/*
 * The statistics process (mmpd -P stats): the structures of one page.
 * It holds no counter of its own: at each scrape it asks every relay,
 * mmp-ldapd and every mmp-tlsd over a channel the parent set up, waits a
 * bounded time, and writes what came as Prometheus text (format 0.0.4).
 */
#ifndef MMPD_STATSD_H
#define MMPD_STATSD_H

#include <sys/queue.h>

#include <event2/event.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "config.h"
#include "confmsg.h"
#include "httpreq.h"
#include "statsmsg.h"

#define STATS_CLIENTS_MAX	4	/* scrapers served at once */
#define STATS_CLIENT_SEC	10	/* accept to last byte written */
#define STATS_ANSWER_MSEC	1000	/* a peer's time to answer a query */
#define STATS_PAGE_MAX_BYTES	(1024 * 1024)
#define STATS_PEERS_MAX		(64 + 1 + 64)	/* relays, ldapd, tlsds */

/* One relay, mmp-ldapd or mmp-tlsd, on its channel. */
struct stats_peer {
	TAILQ_ENTRY(stats_peer)	 entry;
	struct chan		*ch;
	enum stats_kind		 kind;
	uint32_t		 index;
	uint64_t		 asked;		/* QUERY unanswered, 0: none */
	uint64_t		 round;		/* last round it answered */
	union {
		struct stats_relay	relay;
		struct stats_ldapd	ldapd;
		struct stats_tlsd	tlsd;
	}			 got;
};
TAILQ_HEAD(stats_peer_list, stats_peer);

enum stats_client_state {
	SC_READ,		/* reading the request */
	SC_WAIT,		/* waiting for the round's answers */
	SC_WRITE,		/* writing the answer, then close */
};

struct stats_client {
	TAILQ_ENTRY(stats_client) entry;
	int			 fd;
	enum stats_client_state	 state;
	int			 head;		/* HEAD: no body */
	struct event		*rev;
	struct event		*wev;
	struct event		*timer;		/* STATS_CLIENT_SEC in all */
	struct buf		 in;
	struct buf		 out;
};
TAILQ_HEAD(stats_client_list, stats_client);

struct stats_env {
	struct event_base	*base;
	int			 verbose;
	struct mmp_conf		*conf;
	struct conf_rx		 rx;
	struct chan		*parent;
	int			 listen_fd;	/* -1 until STATS_LISTENER */
	char			 label[CONF_HOST_BYTES + 8];
	struct event		*listen_ev;
	struct stats_peer_list	 peers;
	unsigned int		 npeers;
	struct stats_client_list clients;
	unsigned int		 nclients;
	uint64_t		 restarts[STATS_KIND_MAX];
	/* The round of questions in flight: 0 none. */
	uint64_t		 round;
	uint64_t		 nextreq;
	struct event		*round_timer;
	struct event		*sigterm;	/* the parent's, at shutdown */
};

extern struct stats_env	*senv;

/* stats.c */
const char *stats_kind_name(enum stats_kind);
/* A client waits for the answers: start a round unless one runs. */
void	stats_round_join(void);

/* statshttp.c */
void	stats_http_accept(int, short, void *);
void	stats_http_answer(struct stats_client *, enum http_verdict,
	    const struct buf *);
void	stats_http_round_done(const struct buf *);
void	stats_http_free_all(void);

/* statspage.c: the page of the round just ended, into page. 0 or -1. */
int	stats_page(struct buf *, uint64_t round);

#endif /* MMPD_STATSD_H */
