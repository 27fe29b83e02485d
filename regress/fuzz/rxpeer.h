/*
 * What the libFuzzer harnesses of the imsg receivers (fuzz_rx_*.c) share.
 * The process under test runs its own set-up, dispatch and lost functions
 * on its own event base; the harness plays each of its peers at the other
 * end of a socketpair, on an event base of its own, and drains whatever
 * the process sends. No socket leads to a real peer.
 *
 * An input is a sequence of messages: u8 end (bits 0-3: which of the
 * harness's ends sends it; bit 6: the payload's first 8 bytes are the
 * first 8 of the last message the process sent on that end, as a peer
 * answering a request echoes its id; bit 7: break the descriptor rule, a
 * descriptor where none is due or none where one is), u8 type, u16
 * length (little endian), then that many payload bytes (fewer at the end
 * of the input).
 * A type that carries a descriptor gets a fresh socket whose twin is
 * closed.
 */
#ifndef MMP_FUZZ_RXPEER_H
#define MMP_FUZZ_RXPEER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "chan.h"
#include "config.h"

#define RX_CONF_GEN	1	/* generation of the fixed configuration */

/* The harness's end of one channel to the process under test. */
struct rx_end {
	const char	*name;
	struct chan	*ch;		/* NULL once the process closed it */
	unsigned long	 nrecv;		/* messages the process sent on it */
	uint8_t		 last[8];	/* first bytes of the last of them */
};

struct rx_msg {
	unsigned int	 end;
	int		 flipfd;
	int		 echo;
	uint32_t	 type;
	const uint8_t	*data;
	size_t		 len;
};

/* Once: the harness's event base, quiet logs, SIGPIPE ignored. */
void		 rx_init(void);
/* A network namespace with only loopback, for a process that connects. */
void		 rx_isolate(void);
/*
 * The fixed test configuration, loaded with conf_load from files written
 * to a temporary directory (removed at exit): both services, PreAuth,
 * ClientLookup, AuthService, a few limits. Each call loads it afresh.
 */
struct mmp_conf	*rx_conf(void);
/* The same, loaded once and kept: to send, never to change or free. */
const struct mmp_conf *rx_conf_shared(void);
/* A socketpair: e gets one end; the other is returned for the process. */
int		 rx_end_open(struct rx_end *, const char *name);
/* As rx_end_open, the process's end on fd 3 (MMP_CHILD_FD). */
void		 rx_end_open_child(struct rx_end *);
void		 rx_end_close(struct rx_end *);
/* Queue one message on e (nothing if it is closed). */
void		 rx_send(struct rx_end *, uint32_t type, const void *,
		    size_t, int flipfd);
/* The same for a message of the input, its bits applied. */
void		 rx_send_msg(struct rx_end *, const struct rx_msg *);
/* The same with a descriptor of the caller's (or -1), closed once sent. */
void		 rx_send_fd(struct rx_end *, uint32_t type, const void *,
		    size_t, int fd);
/* Everything queued on e is written now (before a blocking start). */
void		 rx_flush(struct rx_end *);
/* The next message of an input; 0 when there is none. */
int		 rx_next(const uint8_t **, size_t *, struct rx_msg *);
/* Both loops, by turns, until the messages sent were handled. */
void		 rx_pump(struct event_base *);

/*
 * A channel the parent hands a child to one of its peers: the message that
 * carries its descriptor, and that message's payload.
 */
struct rx_peer {
	const char	*name;
	uint32_t	 type;
	const void	*data;
	size_t		 len;
};

/*
 * A child process under test (a relay, mmp-ldapd, mmp-tlsd, the stats
 * process): the harness plays its parent on ends[0] and a peer on each of
 * ends[1 .. nends - 1], whose channel reaches the child as peers[i] says.
 * What is the same for every child is here; the harness keeps what is its
 * process's own (its start function, what it takes back between inputs).
 */
struct rx_child {
	struct rx_end		*ends;
	const struct rx_peer	*peers;		/* [0] unused: the parent */
	unsigned int		 nends;
	enum conf_dest		 dest;		/* whose configuration */
	/* The parent's messages that change the configuration, to IMSG_NONE. */
	const uint32_t		*conf_types;
	/* A message of the input never sent (NULL: none is). */
	int			(*skip)(const struct rx_msg *);
	/* rxpeer.c's. */
	uint32_t		 gen;		/* of the last configuration */
	int			 conf_touched;	/* the last input sent some */
};

/*
 * The ends of mmp-ldapd and mmp-tlsd alike: the parent hands each the
 * channels of two relays (IMSG_RELAY_CHANNEL, u32 index) and of the
 * statistics process (IMSG_STATS_CHANNEL).
 */
enum { RX_SVC_PARENT, RX_SVC_RELAY0, RX_SVC_RELAY1, RX_SVC_STATS, RX_SVC_ENDS };
extern const struct rx_peer rx_svc_peers[RX_SVC_ENDS];

/* The configuration (rx_conf_shared), as the parent sends it to c. */
void		 rx_child_conf(struct rx_child *c);
/*
 * After c's start function: its parent channel (*parentp) watched, the
 * peers' channels sent, all of it handled. A parent channel that the
 * child's lost function would end the process for is counted, closed,
 * and given to the child afresh at the next rx_pump (ends[0] opened
 * anew), followed by the configuration and the peers' channels, as a
 * restarted child would get them.
 */
void		 rx_child_started(struct rx_child *c, struct chan **parentp,
		    struct event_base *);
/*
 * Before an input: the configuration again if the last input sent a
 * message of conf_types, a new channel to each peer whose end c closed.
 */
void		 rx_child_ready(struct rx_child *c, struct event_base *);
/* The input's messages, each handled before the next is sent. */
void		 rx_child_feed(struct rx_child *c, struct event_base *,
		    const uint8_t *, size_t);

#endif /* MMP_FUZZ_RXPEER_H */
