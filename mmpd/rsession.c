/*
 * A session after its login: two descriptors, the bytes still to pass on
 * from the login, an idle timer and the counters of its last log line.
 * Everything of the login (buffers, names, secrets) went with its struct
 * session, so an idle relayed session costs about 1 KiB with its events.
 * It lives with its events in one object on env->rsessions' slabs: pages
 * that go back to the kernel when their last session ends.
 */
#include <sys/types.h>
#include <sys/param.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

/*
 * What an idle session costs beside its events and sockets (336 bytes on
 * x86-64; a byte more is 10 KB at 10,000 sessions); a field that only the
 * login needs belongs in struct session.
 */
#define RSESSION_MAX_BYTES	336
_Static_assert(sizeof(struct rsession) <= RSESSION_MAX_BYTES,
    "struct rsession: only what relaying needs");

/* The events of an rsession, after it in the same object. */
enum rsession_ev {
	RSESSION_EV_TIMER,
	RSESSION_EV_UP_READ,
	RSESSION_EV_UP_WRITE,
	RSESSION_EV_DOWN_READ,
	RSESSION_EV_DOWN_WRITE,
	RSESSION_NEV
};
#define RSESSION_ALIGN		16
#define RSESSION_HEAD_BYTES	roundup(sizeof(struct rsession), RSESSION_ALIGN)

/* The rsessions found in the event base (rsession_close_all). */
struct rsession_set {
	struct rsession	**v;
	size_t		  n;
	size_t		  max;
};

static void	rsession_log(struct rsession *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	rsession_event(int, short, void *);
static void	rsession_timer(int, short, void *);

static void
rsession_log(struct rsession *r, int prio, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	session_vlog(r->svc, r->id, r->client, prio, fmt, ap);
	va_end(ap);
}

/* libevent's struct event is opaque: its size is asked at run time. */
static size_t
rsession_ev_bytes(void)
{
	return roundup(event_get_struct_event_size(), RSESSION_ALIGN);
}

static struct event *
rsession_ev(struct rsession *r, enum rsession_ev i)
{
	return (struct event *)((uint8_t *)r + RSESSION_HEAD_BYTES +
	    i * rsession_ev_bytes());
}

void
rsession_init(void)
{
	if (slab_cache_init(&env->rsessions, RSESSION_HEAD_BYTES +
	    RSESSION_NEV * rsession_ev_bytes()) == -1)
		fatal("rsession slabs");
}

static void
rsession_timer_set(struct rsession *r)
{
	struct timeval	tv = { conf_num(env->conf, r->svc, CK_TIMEOUT), 0 };

	evtimer_add(r->timer, &tv);
}

/*
 * Free it and close both sockets; why goes to the log with who ended it
 * and the bytes relayed each way since the login.
 */
static void
rsession_close(struct rsession *r, enum session_closer who, const char *why)
{
	struct timeval	now, d;
	struct shm_key	key;
	int		client = r->up.from, store = r->up.to;

	gettimeofday(&now, NULL);
	timersub(&now, &r->start, &d);
	rsession_log(r, LOG_INFO, "closed: %s (by %s); %lld bytes up, %lld "
	    "down, %lld.%03ld s", why, session_closer_name(who),
	    (long long)r->up.bytes, (long long)r->down.bytes,
	    (long long)d.tv_sec, (long)(d.tv_usec / 1000));
	/* The events go first: deleting one of a closed fd fails (EBADF). */
	event_del(r->timer);
	pump_free(&r->up);
	pump_free(&r->down);
	close(client);
	close(store);
	relay_stat_relaying(r->svc, -1);
	memset(&key, 0, sizeof(key));
	memcpy(key.addr, r->connaddr, sizeof(key.addr));
	key.tag = (uint32_t)r->svc;
	limits_session_end(&key, &r->conncounted);
	slab_put(&env->rsessions, r);
	env->nsessions--;
	heaptrim_soon(&env->trim, env->base);
	relay_session_closed();
}

/* event_base_foreach_event: collects the rsessions by their timers. */
static int
rsession_collect(const struct event_base *base, const struct event *ev,
    void *arg)
{
	struct rsession_set	*set = arg;

	(void)base;
	if (event_get_callback(ev) != rsession_timer || set->n == set->max)
		return 0;
	set->v[set->n++] = event_get_callback_arg(ev);
	return 0;
}

/*
 * At a shutdown that cannot wait for the clients (SIGTERM after the drain
 * time): every relayed session closed, its buffers and pipes freed. The
 * slabs know no list of their objects; each rsession's timer is always
 * added (rsession_timer_set), so libevent's list of events finds them all.
 */
void
rsession_close_all(const char *why)
{
	struct rsession_set	set;
	size_t			i;

	memset(&set, 0, sizeof(set));
	set.max = env->nsessions;
	if (set.max == 0 ||
	    (set.v = calloc(set.max, sizeof(*set.v))) == NULL)
		return;
	(void)event_base_foreach_event(env->base, rsession_collect, &set);
	for (i = 0; i < set.n; i++)
		rsession_close(set.v[i], CLOSER_MMPD, why);
	free(set.v);
}

/* Without events added yet: free it, the descriptors stay the session's. */
static void
rsession_discard(struct rsession *r)
{
	pump_free(&r->up);
	pump_free(&r->down);
	slab_put(&env->rsessions, r);
}

/*
 * The client gets, in order, what was still queued for it, the store's
 * answer and whatever the store sent after it; the store gets what the
 * client pipelined after its login, once.
 */
struct rsession *
rsession_start(const struct session *s)
{
	const struct backend	*be = &s->be;
	struct rsession		*r;

	if ((r = slab_get(&env->rsessions)) == NULL)
		return NULL;
	r->id = s->id;
	r->svc = s->svc;
	r->start = s->start;
	r->client_eof = 0;
	(void)strlcpy(r->client, s->client, sizeof(r->client));
	memcpy(r->connaddr, s->connkey.addr, sizeof(r->connaddr));
	r->conncounted = s->conncounted;
	pump_clear(&r->up);
	pump_clear(&r->down);
	r->up.arg = r->down.arg = r;
	r->timer = rsession_ev(r, RSESSION_EV_TIMER);
	if (evtimer_assign(r->timer, env->base, rsession_timer, r) == -1 ||
	    pump_init(&r->up, env->base, &env->pipes, s->fd, be->fd,
	    CLIENT_IN_MAX_BYTES, rsession_event,
	    rsession_ev(r, RSESSION_EV_UP_READ),
	    rsession_ev(r, RSESSION_EV_UP_WRITE)) == -1 ||
	    pump_init(&r->down, env->base, &env->pipes, be->fd, s->fd,
	    CLIENT_OUT_MAX_BYTES + 2 * STORE_IN_MAX_BYTES, rsession_event,
	    rsession_ev(r, RSESSION_EV_DOWN_READ),
	    rsession_ev(r, RSESSION_EV_DOWN_WRITE)) == -1 ||
	    buf_add(&r->up.pend, buf_data(&s->in), buf_len(&s->in)) == -1 ||
	    buf_add(&r->down.pend, buf_data(&s->out), buf_len(&s->out)) ==
	    -1 || buf_add(&r->down.pend, buf_data(&be->answer),
	    buf_len(&be->answer)) == -1 || buf_add(&r->down.pend,
	    buf_data(&be->in), buf_len(&be->in)) == -1) {
		rsession_discard(r);
		return NULL;
	}
	pump_start(&r->up);
	pump_start(&r->down);
	rsession_timer_set(r);
	relay_stat_relaying(r->svc, 1);
	return r;
}

static void
rsession_event(int fd, short ev, void *arg)
{
	struct relay_dir	*d = arg;
	struct rsession		*r = d->arg;
	enum pump_result	 pr;
	uint64_t		 before = d->bytes;

	(void)fd;
	(void)ev;
	pr = pump_run(d);
	*relay_stat_bytes(r->svc, d == &r->down) += d->bytes - before;
	switch (pr) {
	case PUMP_ERROR:
		if (d == &r->up)
			rsession_close(r, CLOSER_CLIENT,
			    "client connection failed");
		else
			rsession_close(r, CLOSER_STORE,
			    "store connection failed");
		return;
	case PUMP_DONE:
		/*
		 * The store has said all it will say: done. A client that
		 * closed still gets the store's last answer (LOGOUT).
		 */
		if (d == &r->down) {
			if (r->client_eof)
				rsession_close(r, CLOSER_CLIENT,
				    "client closed the connection");
			else
				rsession_close(r, CLOSER_STORE,
				    "store closed the connection");
			return;
		}
		r->client_eof = 1;
		break;
	case PUMP_WAIT:
	case PUMP_YIELD:
		pump_arm(d);
		break;
	}
	rsession_timer_set(r);
}

static void
rsession_timer(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	rsession_close(arg, CLOSER_MMPD, "idle timeout");
}
