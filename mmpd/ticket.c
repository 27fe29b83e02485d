/*
 * Session ticket keys (RFC 5077): made by the parent so that every
 * mmp-tlsd seals and opens tickets with the same keys, and a client
 * resumes with whichever mmp-tlsd its connection lands on. A new key every
 * SSLSessionLifetime seconds; the one before still opens tickets for one
 * more period, so a ticket lives at least that long; older keys are wiped.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "tlsmsg.h"

#define TICKET_KEYS_KEPT	2	/* the newest seals, both open */

_Static_assert(TICKET_KEYS_KEPT <= TLS_TICKET_KEYS_MAX,
    "IMSG_TLS_TICKET_KEYS carries every key kept");

static void	ticket_rotate_cb(int, short, void *);

/* A fresh key in front; the oldest beyond TICKET_KEYS_KEPT is wiped. */
static void
ticket_new_key(void)
{
	struct tls_ticket_keys	*tk = &penv->tickets;
	uint32_t		 n;

	n = tk->n < TICKET_KEYS_KEPT ? tk->n + 1 : TICKET_KEYS_KEPT;
	memmove(&tk->key[1], &tk->key[0], (n - 1) * sizeof(tk->key[0]));
	arc4random_buf(&tk->key[0], sizeof(tk->key[0]));
	explicit_bzero(&tk->key[n], (TLS_TICKET_KEYS_MAX - n) *
	    sizeof(tk->key[0]));
	tk->n = n;
}

static void
ticket_wipe(void)
{
	explicit_bzero(&penv->tickets, sizeof(penv->tickets));
}

/* The timer for lifetime seconds (0: none); 0 or -1. */
static int
ticket_timer(long long lifetime)
{
	struct timeval	tv;

	if (penv->ticket_ev == NULL && (penv->ticket_ev = event_new(
	    penv->base, -1, EV_PERSIST, ticket_rotate_cb, NULL)) == NULL)
		return -1;
	(void)evtimer_del(penv->ticket_ev);
	if (lifetime == 0)
		return 0;
	tv.tv_sec = lifetime;
	tv.tv_usec = 0;
	return evtimer_add(penv->ticket_ev, &tv);
}

/*
 * Keys for a configuration, at start and at each reload: none while TLS
 * is unused or SSLSessionLifetime is 0. A reload that keeps the lifetime
 * keeps keys and timer, so it costs no client its session.
 */
void
ticket_configure(const struct mmp_conf *conf)
{
	long long	lifetime = 0;

	if (conf_tls_used(conf))
		lifetime = conf_num(conf, CONF_GLOBAL, CK_SSLSESSIONLIFETIME);
	if (lifetime == 0) {
		(void)ticket_timer(0);
		ticket_wipe();
		penv->ticket_lifetime = 0;
		return;
	}
	if (penv->tickets.n == 0)
		ticket_new_key();
	penv->tickets.lifetime_sec = lifetime;
	if (lifetime == penv->ticket_lifetime)
		return;
	if (ticket_timer(lifetime) == -1)
		log_warnx("cannot schedule the rotation of TLS ticket keys; "
		    "they stay as they are");
	penv->ticket_lifetime = lifetime;
}

/* IMSG_TLS_TICKET_KEYS to one mmp-tlsd, if there are keys; 0 or -1. */
int
ticket_send(struct chan *ch)
{
	struct msg_writer	w;

	if (penv->tickets.n == 0)
		return 0;
	msg_writer_init(&w);
	tls_ticket_keys_write(&w, &penv->tickets);
	/* Composing wipes w; the queued copy is wiped once written. */
	return chan_compose_msg(ch, IMSG_TLS_TICKET_KEYS, 0, -1, &w);
}

static void
ticket_rotate_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ticket_new_key();
	log_debug("TLS ticket keys rotated");
	proc_send_tickets_all();
}

/* Exit: no key outlives the process in its memory. */
void
ticket_clear(void)
{
	if (penv->ticket_ev != NULL)
		event_free(penv->ticket_ev);
	penv->ticket_ev = NULL;
	ticket_wipe();
	penv->ticket_lifetime = 0;
}
