/*
 * mmp-tlsd: started by the parent as `mmp-tlsd [-v] -i INDEX` with the
 * parent channel on fd 3. It reads its first configuration (with the
 * certificates and keys, ctxs.c), confines itself, then does the TLS
 * sessions the relay workers hand it (relays.c, conn.c); reloads, ticket
 * keys and relay channels arrive on fd 3 later. Here: set-up up to the
 * first configuration, the parent and stop; main.c confines and runs it.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "childsig.h"
#include "evmem.h"
#include "leakcheck.h"
#include "log.h"
#include "logsink.h"
#include "tlsd.h"

struct tlsd	*env;

static int	tlsd_dispatch_parent(struct chan *, struct imsg *);
static int	tlsd_drain(struct imsg *);
static void	tlsd_lost_parent(struct chan *, const char *);
static void	tlsd_parent_drained(struct chan *);

/* The parent's channel; each relay's is relays.c's. */
static const struct chan_peer tlsd_parent_peer = {
	"parent", tlsd_dispatch_parent, tlsd_lost_parent, tlsd_parent_drained
};

/* IMSG_READY: the configuration env->gen is applied. */
void
tlsd_send_ready(void)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->gen);
	if (chan_compose_msg(env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatal("IMSG_READY");
}

/*
 * IMSG_DRAIN: no payload. We are retired: no new session from here on,
 * the relays are told so, and we exit when the last one has ended.
 */
static int
tlsd_drain(struct imsg *imsg)
{
	if (imsg->datalen != 0)
		return CHAN_BAD;
	if (env->draining)
		return CHAN_OK;
	env->draining = 1;
	log_info("mmp-tlsd %u retired by the parent: draining %zu TLS "
	    "sessions, taking no new ones", env->index, env->nconns);
	relays_drain();
	tlsd_drain_check();
	return CHAN_OK;
}

/*
 * Draining and nothing left (no session, no START waiting for its
 * PLAIN): the results still queued go out, and the loop ends; main exits
 * 0. Called where a session ends.
 */
void
tlsd_drain_check(void)
{
	if (!env->draining || env->drained || env->nconns > 0 ||
	    relays_busy())
		return;
	env->drained = 1;
	log_info("mmp-tlsd %u drained: no TLS session left, exiting",
	    env->index);
	relays_flush_all();
	if (event_base_loopexit(env->evb, NULL) == -1)
		fatalx("event_base_loopexit failed");
}

/* The parent: configurations with their files, ticket keys, relays. */
static int
tlsd_dispatch_parent(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_VDOMAIN:
	case IMSG_CONF_VDKV:
	case IMSG_CONF_END:
		return ctxs_conf_imsg(imsg);
	case IMSG_CONF_TLSFILE:
		return ctxs_conf_file(imsg);
	case IMSG_TLS_TICKET_KEYS:
		return ctxs_ticket_keys(imsg);
	case IMSG_RELAY_CHANNEL:
		return relays_add(imsg);
	case IMSG_STATS_CHANNEL:
		return tlsd_stats_channel(imsg);
	case IMSG_DRAIN:
		return tlsd_drain(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* EOF: nobody supervises us any more; garbage: no parent to serve. */
static void
tlsd_lost_parent(struct chan *ch, const char *why)
{
	(void)ch;
	if (why == NULL)
		tlsd_exit(0);
	fatalx("parent %s", why);
}

static void
tlsd_parent_drained(struct chan *ch)
{
	(void)ch;
	logsink_written();
}

static int
tlsd_configured(void)
{
	return env->conf != NULL;
}

void
tlsd_exit(int code)
{
	env->draining = 0;	/* closing, not draining, from here on */
	relays_close_all();
	ctxs_clear();
	if (env->statsch.ch != NULL)
		chan_close(env->statsch.ch);
	conf_rx_clear(&env->rx);
	conf_free(env->conf);
	(void)chan_flush(env->parent);
	logsink_init(NULL);
	chan_close(env->parent);
	event_free(env->sigterm);
	heaptrim_free(&env->trim);
	event_base_free(env->evb);
	free(env);
	env = NULL;
	exit(code);
}

/*
 * The parent's SIGTERM at shutdown (after its relays have drained, or
 * its drain time is over): leave through tlsd_exit like on the parent's
 * end of file, every session and context freed, not by the signal.
 */
static void
tlsd_sigterm(int sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_info("mmp-tlsd %u: SIGTERM: closing %zu TLS sessions, exiting",
	    env->index, env->nconns);
	tlsd_exit(0);
}

static void
tlsd_setup(int verbose, uint32_t index)
{
	if ((env = calloc(1, sizeof(*env))) == NULL)
		fatal("calloc");
	env->verbose = verbose;
	env->index = index;
	TAILQ_INIT(&env->relays);
	evmem_init();
	if ((env->evb = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((env->parent = chan_open(env->evb, MMP_CHILD_FD,
	    &tlsd_parent_peer, NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	logsink_init(env->parent);
	/* Lines go to the parent: no syslog socket in the sandbox. */
	closelog();
	env->sigterm = child_sigterm(env->evb, tlsd_sigterm, NULL);
}

/*
 * Up to the first configuration, applied (main.c, then the sandbox and
 * the loop; regress/fuzz, then messages): the parent channel on fd 3,
 * and everything OpenSSL would open later, opened now.
 */
void
tlsd_start(int verbose, uint32_t index)
{
	if (fcntl(MMP_CHILD_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd %d", MMP_CHILD_FD);
	tlsd_setup(verbose, index);
	server_init();
	chan_first_conf(env->parent, tlsd_configured);
}
