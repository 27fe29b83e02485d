/*
 * A relay worker (mmpd -P relay): receives its configuration and the
 * listening sockets from the parent, accepts clients and hands them to
 * session.c; asks mmp-ldapd where users live over a channel the parent
 * set up. Sandboxed before the first client byte is read.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lookupmsg.h"
#include "logsink.h"
#include "relay.h"
#include "sandbox.h"

struct relay_env	*env;

static void	relay_dispatch_parent(int, short, void *);
static void	relay_dispatch_ldapd(int, short, void *);

/* A log line was queued for the parent (lib/logsink.c). */
static void
relay_log_want_write(void)
{
	if (env->parent_ev != NULL)
		relay_imsg_arm(&env->parent, env->parent_ev);
}

/* Read (and write, if something is queued) on an imsg channel. */
void
relay_imsg_arm(struct imsgbuf *ib, struct event *ev)
{
	short	what = EV_READ | EV_PERSIST;

	if (imsgbuf_queued(ib) > 0)
		what |= EV_WRITE;
	if (event_get_events(ev) == what && event_pending(ev, what, NULL))
		return;
	event_del(ev);
	event_assign(ev, env->base, ib->fd, what, event_get_callback(ev),
	    event_get_callback_arg(ev));
	event_add(ev, NULL);
}

static void
relay_listener_free(struct relay_listener *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	close(l->fd);
	free(l);
}

static void
relay_listeners_clear(struct listener_list *list)
{
	struct relay_listener	*l;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		relay_listener_free(l);
	}
}

static void
relay_accept(int fd, short ev, void *arg)
{
	struct relay_listener	*l = arg;
	struct timeval		 tv = { ACCEPT_PAUSE_SEC, 0 };
	int			 s;

	(void)ev;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("%s: accept (pausing %d s)", l->label,
			    ACCEPT_PAUSE_SEC);
			TAILQ_FOREACH(l, &env->listeners, entry)
				event_del(l->ev);
			evtimer_add(env->accept_pause, &tv);
		}
		return;
	}
	session_accept(s, l->svc, l->label);
}

static void
relay_accept_resume(int fd, short ev, void *arg)
{
	struct relay_listener	*l;

	(void)fd;
	(void)ev;
	(void)arg;
	if (env->draining)
		return;
	TAILQ_FOREACH(l, &env->listeners, entry)
		event_add(l->ev, NULL);
}

static void
relay_listeners_start(void)
{
	struct relay_listener	*l;

	TAILQ_FOREACH(l, &env->listeners, entry) {
		l->ev = event_new(env->base, l->fd, EV_READ | EV_PERSIST,
		    relay_accept, l);
		if (l->ev == NULL)
			fatalx("event_new");
		if (!env->draining)
			event_add(l->ev, NULL);
	}
}

/* IMSG_CONF_LISTENER: fd, u8 svc, u8 tls, str label. */
static int
relay_conf_listener(struct imsg *imsg)
{
	struct relay_listener	*l;
	struct msg_reader	 r;
	uint8_t			 svc, tls;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	msg_reader_init(&r, imsg);
	if (imsg->fd == -1 || msg_get_u8(&r, &svc) == -1 ||
	    msg_get_u8(&r, &tls) == -1 ||
	    msg_get_str(&r, l->label, sizeof(l->label)) == -1 ||
	    msg_end(&r) == -1 || (svc != SVC_IMAP && svc != SVC_POP) ||
	    tls != 0) {
		free(l);
		return -1;
	}
	l->svc = svc;
	l->fd = imsg->fd;
	imsg->fd = -1;
	if (fcntl(l->fd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("%s: nonblocking", l->label);
	TAILQ_INSERT_TAIL(&env->newlisteners, l, entry);
	return 0;
}

static void
relay_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct relay_listener	*l;
	struct msg_writer	 w;

	conf_free(env->conf);
	env->conf = conf;
	conf_log_levels(conf, env->verbose);
	relay_listeners_clear(&env->listeners);
	while ((l = TAILQ_FIRST(&env->newlisteners)) != NULL) {
		TAILQ_REMOVE(&env->newlisteners, l, entry);
		TAILQ_INSERT_TAIL(&env->listeners, l, entry);
	}
	if (env->base != NULL)
		relay_listeners_start();
	msg_writer_init(&w);
	msg_add_u32(&w, gen);
	if (msg_compose(&env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatalx("cannot queue READY");
}

/* 1 when a whole configuration was applied, 0 consumed, -1 bad. */
static int
relay_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf;
	char		 err[256];
	uint32_t	 gen;
	int		 rv;

	if (imsg->hdr.type == IMSG_CONF_LISTENER) {
		if (env->rx.conf == NULL || relay_conf_listener(imsg) == -1) {
			log_warnx("parent sent a bad listener");
			return -1;
		}
		return 0;
	}
	if (imsg->hdr.type == IMSG_CONF_START)
		relay_listeners_clear(&env->newlisteners);
	rv = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (rv == -1) {
		log_warnx("configuration from parent refused: %s", err);
		relay_listeners_clear(&env->newlisteners);
		return -1;
	}
	if (rv == 1)
		relay_conf_apply(conf, gen);
	return rv;
}

/* Before the sandbox: block until the first configuration is in. */
static void
relay_first_conf(void)
{
	struct pollfd	pfd = { MMP_CHILD_FD, POLLIN, 0 };
	struct imsg	imsg;
	ssize_t		n;
	int		rv;

	for (;;) {
		if ((n = imsgbuf_read(&env->parent)) == -1) {
			if (errno == EAGAIN)
				(void)poll(&pfd, 1, -1);
			else if (errno != EINTR)
				fatal("read from parent");
			continue;
		}
		if (n == 0)
			fatalx("parent closed the channel before configuring");
		while ((rv = imsg_get(&env->parent, &imsg)) == 1) {
			rv = relay_conf_imsg(&imsg);
			imsg_free(&imsg);
			if (rv == -1)
				fatalx("bad first configuration");
			if (rv == 1)
				return;
		}
		if (rv == -1)
			fatalx("parent sent garbage");
	}
}

static void
relay_drain(void)
{
	struct relay_listener	*l;
	struct msg_writer	 w;

	env->draining = 1;
	TAILQ_FOREACH(l, &env->listeners, entry)
		event_del(l->ev);
	relay_listeners_clear(&env->listeners);
	log_info("draining: %u sessions open", env->nsessions);
	msg_writer_init(&w);
	msg_add_u32(&w, env->nsessions);
	(void)msg_compose(&env->parent, IMSG_STATS, 0, -1, &w);
	relay_session_closed();
}

/* Called after every session end; a draining worker leaves when idle. */
void
relay_session_closed(void)
{
	if (env->draining && env->nsessions == 0) {
		(void)imsgbuf_flush(&env->parent);
		event_base_loopexit(env->base, NULL);
	}
}

static void
relay_ldapd_channel(struct imsg *imsg)
{
	if (env->ldapd_ev != NULL) {
		event_free(env->ldapd_ev);
		imsgbuf_shutdown(&env->ldapd);
		close(env->ldapd.fd);
		session_fail_all_lookups();
	}
	imsgbuf_init(&env->ldapd, imsg->fd);
	imsg->fd = -1;
	env->ldapd_ev = event_new(env->base, env->ldapd.fd,
	    EV_READ | EV_PERSIST, relay_dispatch_ldapd, NULL);
	if (env->ldapd_ev == NULL)
		fatalx("event_new");
	event_add(env->ldapd_ev, NULL);
	env->ldapd_ok = 1;
	log_debug("channel to mmp-ldapd ready");
}

static int
relay_parent_imsg(struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_LISTENER:
	case IMSG_CONF_END:
		return relay_conf_imsg(imsg) == -1 ? -1 : 0;
	case IMSG_LDAPD_CHANNEL:
		if (imsg->fd == -1 || imsg->datalen != 0)
			return -1;
		relay_ldapd_channel(imsg);
		return 0;
	case IMSG_DRAIN:
		if (imsg->datalen != 0)
			return -1;
		relay_drain();
		return 0;
	default:
		return -1;
	}
}

/* Act on every complete message from the parent that is buffered. */
static void
relay_parent_imsgs(void)
{
	struct imsg	imsg;
	int		rv;

	while ((rv = imsg_get(&env->parent, &imsg)) == 1) {
		rv = relay_parent_imsg(&imsg);
		imsg_free(&imsg);
		if (rv == -1)
			fatalx("parent sent a bad message");
	}
	if (rv == -1)
		fatalx("parent sent garbage");
}

static void
relay_dispatch_parent(int fd, short ev, void *arg)
{
	ssize_t		n;

	(void)fd;
	(void)arg;
	if (ev & EV_WRITE) {
		if (imsgbuf_write(&env->parent) == -1)
			fatal("write to parent");
		logsink_written();
	}
	if (ev & EV_READ) {
		n = imsgbuf_read(&env->parent);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			fatal("read from parent");
		if (n == 0) {
			/* The parent is gone: nobody supervises us any more. */
			exit(0);
		}
		relay_parent_imsgs();
	}
	relay_imsg_arm(&env->parent, env->parent_ev);
}

/* IMSG_LOOKUP_RESULT: read and checked by lib/lookupmsg.c. */
static int
relay_lookup_result(struct imsg *imsg)
{
	struct lookup_answer	 a;
	struct session		*s;

	if (lookup_answer_read(imsg, &a) == -1)
		return -1;
	if ((s = session_find(a.reqid)) == NULL || s->state != S_LOOKUP)
		return 0;	/* the client left meanwhile */
	(void)strlcpy(s->mailhost, a.mailhost, sizeof(s->mailhost));
	if (a.status == LOOKUP_OK && a.replay[0] != '\0')
		(void)strlcpy(s->user, a.replay, sizeof(s->user));
	session_lookup_result(s, &a);
	return 0;
}

static void
relay_ldapd_lost(const char *why)
{
	log_warnx("channel to mmp-ldapd: %s; failing its lookups", why);
	event_free(env->ldapd_ev);
	env->ldapd_ev = NULL;
	imsgbuf_shutdown(&env->ldapd);
	close(env->ldapd.fd);
	env->ldapd.fd = -1;
	env->ldapd_ok = 0;
	session_fail_all_lookups();
	/* Ask for a new channel; until then logins fail like LDAP trouble. */
	if (imsg_compose(&env->parent, IMSG_LDAPD_LOST, 0, -1, NULL, 0) == 0)
		relay_imsg_arm(&env->parent, env->parent_ev);
}

static void
relay_dispatch_ldapd(int fd, short ev, void *arg)
{
	struct imsg	imsg;
	ssize_t		n;
	int		rv;

	(void)fd;
	(void)arg;
	if ((ev & EV_WRITE) && imsgbuf_write(&env->ldapd) == -1) {
		relay_ldapd_lost("write failed");
		return;
	}
	if (ev & EV_READ) {
		n = imsgbuf_read(&env->ldapd);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			relay_ldapd_lost(n == 0 ? "closed" : "read failed");
			return;
		}
		while ((rv = imsg_get(&env->ldapd, &imsg)) == 1) {
			if (imsg.hdr.type != IMSG_LOOKUP_RESULT ||
			    imsg.fd != -1)
				rv = -1;
			else
				rv = relay_lookup_result(&imsg);
			imsg_free(&imsg);
			if (rv == -1)
				break;
		}
		if (rv == -1) {
			relay_ldapd_lost("malformed message");
			return;
		}
	}
	relay_imsg_arm(&env->ldapd, env->ldapd_ev);
}

/* Ask mmp-ldapd about s->user; -1 when there is nobody to ask. */
int
relay_lookup(struct session *s)
{
	struct lookup_req	rq;
	struct msg_writer	w;

	if (!env->ldapd_ok)
		return -1;
	memset(&rq, 0, sizeof(rq));
	rq.reqid = s->id;
	rq.svc = s->svc;
	rq.userlen = strlen(s->user);
	memcpy(rq.user, s->user, rq.userlen);
	(void)strlcpy(rq.client, s->client, sizeof(rq.client));
	(void)strlcpy(rq.local, s->local, sizeof(rq.local));
	msg_writer_init(&w);
	if (lookup_req_write(&w, &rq) == -1 ||
	    msg_compose(&env->ldapd, IMSG_LOOKUP, 0, -1, &w) == -1)
		return -1;
	relay_imsg_arm(&env->ldapd, env->ldapd_ev);
	return 0;
}

static void
relay_usage(void)
{
	fatalx("usage: mmpd -P relay -i index [-v]");
}

static void
relay_setup(int argc, char *argv[])
{
	char		 name[32];
	const char	*errstr;
	int		 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "di:P:v")) != -1) {
		switch (ch) {
		case 'd':
		case 'P':
			break;
		case 'i':
			env->index = strtonum(optarg, 0, 1024, &errstr);
			if (errstr != NULL)
				relay_usage();
			break;
		case 'v':
			env->verbose = 1;
			break;
		default:
			relay_usage();
		}
	}
	(void)snprintf(name, sizeof(name), "relay %d", env->index);
	log_init(name, 1, env->verbose ? LOG_DEBUG : LOG_INFO);
	imsgbuf_init(&env->parent, MMP_CHILD_FD);
	logsink_init(&env->parent, relay_log_want_write);
	env->ldapd.fd = -1;
	TAILQ_INIT(&env->listeners);
	TAILQ_INIT(&env->newlisteners);
	RB_INIT(&env->sessions);
	env->nextid = ((uint64_t)env->index << 48) | 1;
}

int
relay_main(int argc, char *argv[])
{
	static struct relay_env	 relay_env;

	env = &relay_env;
	relay_setup(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	relay_first_conf();
	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");

	sandbox_drop(conf_str(env->conf, CONF_GLOBAL, CK_CHROOTDIR),
	    conf_str(env->conf, CONF_GLOBAL, CK_RELAYUSER));
	/*
	 * stdio:  events, timers, reads and writes on sockets we hold
	 * inet:   accept clients, connect to stores
	 * recvfd: listeners and the mmp-ldapd channel come from the parent
	 * sendfd: imsg writes go through sendmsg(2), fds or not
	 * splice: relay bytes through a pipe without copying them
	 */
	sandbox_pledge("stdio inet recvfd sendfd splice");

	env->parent_ev = event_new(env->base, env->parent.fd,
	    EV_READ | EV_PERSIST, relay_dispatch_parent, NULL);
	env->accept_pause = evtimer_new(env->base, relay_accept_resume, NULL);
	if (env->parent_ev == NULL || env->accept_pause == NULL)
		fatalx("event_new");
	relay_listeners_start();
	/* What came behind the first configuration (the ldapd channel). */
	relay_parent_imsgs();
	relay_imsg_arm(&env->parent, env->parent_ev);
	log_debug("ready");
	event_base_dispatch(env->base);
	log_info("drained, exiting");
	(void)imsgbuf_flush(&env->parent);
	return 0;
}
