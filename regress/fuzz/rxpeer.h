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
 * A child's parent channel (*parentp) that the child's lost function
 * would end the process for: the harness counts it, closes it, and gives
 * the child a fresh one at the next rx_pump (on the end pe, opened anew),
 * then calls again(), which sends the configuration again as a restarted
 * child would get it.
 */
void		 rx_watch_parent(struct chan **parentp, struct rx_end *pe,
		    void (*again)(void));
unsigned long	 rx_parent_lost(void);

#endif /* MMP_FUZZ_RXPEER_H */
