/*
 * floor: the bench's reference target "floor", the cheapest IMAP and POP3
 * login proxy this machine can run for the work mmpd's relay does per
 * session: accept, greet, read the login, connect to the store, log in
 * there, pass the answer on, then relay both directions with splice(2)
 * through pipes taken from a small pool while bytes move (as mmpd/pump.c
 * does). It is a lower bound to measure against, NOT a product: no
 * configuration, no directory lookup (one store for every user), no
 * logging, no sandbox, no process split, no timeouts, one process and one
 * thread, and it is never installed.
 *
 * usage: floor [-a ADDR] -i IMAPPORT -p POP3PORT -s STOREADDR
 *	-I STOREIMAPPORT -P STOREPOP3PORT
 * prints READY on stdout once it listens.
 *
 * Each socket is added to epoll once, edge-triggered, for input; output is
 * added (once, for the rest of the session) only the first time a write
 * would block. So a login costs two epoll_ctl calls and no more.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_BYTES	1024		/* a pre-auth line, with its CRLF */
#define PIPE_BYTES	65536		/* Linux's default pipe size */
#define WAKEUP_BYTES	(4 * PIPE_BYTES)	/* then others get a turn */
#define POOL_MAX	64		/* idle pipes kept for reuse */
#define MAXEV		256
#define BACKLOG		4096

enum proto { P_IMAP, P_POP3 };

enum state {
	ST_CLIENT,	/* reading the client's LOGIN (IMAP) or USER/PASS */
	ST_GREET,	/* reading the store's greeting */
	ST_USER,	/* POP3: reading the store's answer to USER */
	ST_ANSWER,	/* reading the store's answer to LOGIN or PASS */
	ST_RELAY
};

struct sess;

/* What epoll's data points at: a listener (sess NULL) or a session's end. */
struct end {
	struct sess	*sess;
	int		 fd;
	int		 pending;	/* input came that was not read yet */
	int		 rdhup;		/* the peer's close was reported */
	int		 outwatch;	/* EPOLLOUT was added */
	enum proto	 proto;		/* listeners: what they accept */
};

/* One direction of the relay, as mmpd/pump.c's struct relay_dir. */
struct half {
	struct end	*from, *to;
	int		 pipe[2];
	size_t		 inpipe;
	int		 eof;
	int		 blocked;	/* to is full: wait for its EPOLLOUT */
	int		 queued;	/* on the yield list */
	unsigned int	 qgen;		/* the turn it was queued in */
	TAILQ_ENTRY(half) entry;
};

/* The login's lines: freed when the relay begins. */
struct pre {
	char		 saved[2 * LINE_MAX_BYTES];	/* for the store */
	size_t		 savedlen;
	size_t		 userlen;	/* POP3: "USER name\r\n" of saved */
	char		 tag[LINE_MAX_BYTES];		/* IMAP */
	size_t		 taglen;
	char		 rbuf[LINE_MAX_BYTES];
	size_t		 rlen;
};

struct sess {
	enum proto	 proto;
	enum state	 state;
	int		 dead;
	struct end	 c, s;		/* client, store */
	struct half	 up, down;	/* client to store, store to client */
	struct pre	*pre;
	LIST_ENTRY(sess) dead_entry;
};

TAILQ_HEAD(halfq, half);
LIST_HEAD(sessl, sess);

static struct {
	int			 ep;
	struct sockaddr_storage	 store[2];	/* by enum proto */
	socklen_t		 storelen[2];
	int			 pool[POOL_MAX][2];
	int			 npool;
	struct halfq		 yielded;
	unsigned int		 gen;		/* run_yielded's turns */
	struct sessl		 dead;
} env;

static void
usage(void)
{
	fprintf(stderr, "usage: floor [-a addr] -i imapport -p pop3port "
	    "-s storeaddr -I storeimapport -P storepop3port\n");
	exit(2);
}

static int
addr(const char *host, const char *port, int passive,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo	 hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
	    (passive ? AI_PASSIVE : 0);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
ep_add(struct end *e, uint32_t events)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = e;
	return epoll_ctl(env.ep, EPOLL_CTL_ADD, e->fd, &ev);
}

/* Once per end and session: its writes may block from now on. */
static int
ep_watch_out(struct end *e)
{
	struct epoll_event	 ev;

	if (e->outwatch)
		return 0;
	e->outwatch = 1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = e;
	return epoll_ctl(env.ep, EPOLL_CTL_MOD, e->fd, &ev);
}

static void
listener(struct end *l, struct sockaddr_storage *ss, socklen_t len)
{
	int	 on = 1;

	if ((l->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1)
		err(1, "setsockopt");
	if (bind(l->fd, (struct sockaddr *)ss, len) == -1)
		err(1, "bind");
	if (listen(l->fd, BACKLOG) == -1)
		err(1, "listen");
	/* Level-triggered: one accept per wakeup, the rest on the next. */
	if (ep_add(l, EPOLLIN) == -1)
		err(1, "epoll_ctl");
}

/* A pipe for the bytes about to move: the pool's, or a new one. */
static int
pipe_take(struct half *h)
{
	if (env.npool > 0) {
		env.npool--;
		h->pipe[0] = env.pool[env.npool][0];
		h->pipe[1] = env.pool[env.npool][1];
		return 0;
	}
	return pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC);
}

/* Nothing in flight: the pipe goes back to the pool (or is closed). */
static void
pipe_give(struct half *h)
{
	if (h->pipe[0] == -1)
		return;
	if (h->inpipe == 0 && env.npool < POOL_MAX) {
		env.pool[env.npool][0] = h->pipe[0];
		env.pool[env.npool][1] = h->pipe[1];
		env.npool++;
	} else {
		close(h->pipe[0]);
		close(h->pipe[1]);
	}
	h->pipe[0] = h->pipe[1] = -1;
	h->inpipe = 0;
}

/* Freed after the current batch of events, which may still name it. */
static void
sess_close(struct sess *s)
{
	if (s->dead)
		return;
	s->dead = 1;
	if (s->up.queued)
		TAILQ_REMOVE(&env.yielded, &s->up, entry);
	if (s->down.queued)
		TAILQ_REMOVE(&env.yielded, &s->down, entry);
	pipe_give(&s->up);
	pipe_give(&s->down);
	close(s->c.fd);
	if (s->s.fd != -1)
		close(s->s.fd);
	if (s->pre != NULL) {
		explicit_bzero(s->pre, sizeof(*s->pre));
		free(s->pre);
		s->pre = NULL;
	}
	LIST_INSERT_HEAD(&env.dead, s, dead_entry);
}

/*
 * A whole write or the session ends: before the relay a side is sent at
 * most a greeting and one answer (under 2 KiB) on a fresh socket, which
 * its send buffer always takes.
 */
static int
put(int fd, const char *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static int
puts_fd(int fd, const char *str)
{
	return put(fd, str, strlen(str));
}

/*
 * Reads from e into the pre-auth buffer: the length of the first line
 * (with its LF) once there is one, 0 to wait, -1 on EOF, error or a line
 * too long.
 */
static ssize_t
line_read(struct sess *s, struct end *e)
{
	struct pre	*p = s->pre;
	char		*lf;
	size_t		 room;
	ssize_t		 n;
	int		 drained = 0;

	for (;;) {
		if ((lf = memchr(p->rbuf, '\n', p->rlen)) != NULL)
			return lf - p->rbuf + 1;
		if (drained)
			return 0;
		if ((room = sizeof(p->rbuf) - p->rlen) == 0)
			return -1;
		n = read(e->fd, p->rbuf + p->rlen, room);
		if (n == 0)
			return -1;
		if (n == -1) {
			e->pending = 0;
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		}
		p->rlen += n;
		/*
		 * A short read emptied the socket: edge-triggered, the next
		 * bytes bring an event. A full one may have left some.
		 */
		drained = (size_t)n < room;
		e->pending = !drained;
	}
}

static void
line_consume(struct pre *p, size_t n)
{
	memmove(p->rbuf, p->rbuf + n, p->rlen - n);
	p->rlen -= n;
}

static int
atom_char(int c)
{
	return c > ' ' && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* An atom or a quoted string without escapes: its length, or 0. */
static size_t
imap_arg(const char *l, size_t n)
{
	size_t	 i;

	if (n > 0 && l[0] == '"') {
		for (i = 1; i < n; i++) {
			if (l[i] == '"')
				return i + 1;
			if (l[i] == '\\' || l[i] == '\r' || l[i] == '\n')
				return 0;
		}
		return 0;
	}
	for (i = 0; i < n && atom_char((unsigned char)l[i]); i++)
		;
	return i;
}

/* "TAG LOGIN user pass\r\n", n with the CRLF: 0 if it is one. */
static int
imap_parse_login(struct pre *p, const char *l, size_t n)
{
	size_t	 i = 0, k;

	if (n < 2 || l[n - 2] != '\r')
		return -1;
	n -= 2;
	while (i < n && atom_char((unsigned char)l[i]) && l[i] != '+')
		i++;
	if (i == 0)
		return -1;
	memcpy(p->tag, l, i);
	p->taglen = i;
	if (n - i < 7 || strncasecmp(l + i, " LOGIN ", 7) != 0)
		return -1;
	i += 7;
	if ((k = imap_arg(l + i, n - i)) == 0)
		return -1;
	i += k;
	if (i >= n || l[i] != ' ')
		return -1;
	i++;
	if ((k = imap_arg(l + i, n - i)) == 0)
		return -1;
	return i + k == n ? 0 : -1;
}

static int
store_connect(struct sess *s)
{
	int	 fd;

	fd = socket(env.store[s->proto].ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	s->s.fd = fd;
	if (connect(fd, (struct sockaddr *)&env.store[s->proto],
	    env.storelen[s->proto]) == -1 && errno != EINPROGRESS)
		return -1;
	/* A failed connect says EPOLLERR or EPOLLHUP: no getsockopt. */
	if (ep_add(&s->s, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1)
		return -1;
	s->state = ST_GREET;
	return 0;
}

/* The client's line: IMAP's LOGIN (kept whole, with what follows it). */
static int
imap_client(struct sess *s, size_t n)
{
	struct pre	*p = s->pre;

	if (imap_parse_login(p, p->rbuf, n) == -1) {
		if (p->taglen > 0 && p->taglen + 7 < sizeof(p->saved)) {
			memcpy(p->saved, p->tag, p->taglen);
			memcpy(p->saved + p->taglen, " BAD\r\n", 6);
			(void)put(s->c.fd, p->saved, p->taglen + 6);
		} else
			(void)puts_fd(s->c.fd, "* BAD\r\n");
		return -1;
	}
	memcpy(p->saved, p->rbuf, p->rlen);
	p->savedlen = p->rlen;
	p->rlen = 0;
	return store_connect(s);
}

/* POP3's USER, then PASS: both kept for the store. */
static int
pop3_client(struct sess *s, size_t n)
{
	struct pre	*p = s->pre;
	const char	*l = p->rbuf;

	if (n < 8 || l[n - 2] != '\r' || memchr(l, '\0', n) != NULL)
		goto bad;
	if (p->userlen == 0) {
		if (strncasecmp(l, "USER ", 5) != 0 ||
		    memchr(l + 5, ' ', n - 7) != NULL)
			goto bad;
		memcpy(p->saved, l, n);
		p->userlen = p->savedlen = n;
		line_consume(p, n);
		return puts_fd(s->c.fd, "+OK\r\n");
	}
	if (strncasecmp(l, "PASS ", 5) != 0)
		goto bad;
	memcpy(p->saved + p->savedlen, l, p->rlen);
	p->savedlen += p->rlen;
	p->rlen = 0;
	return store_connect(s);
bad:
	(void)puts_fd(s->c.fd, "-ERR\r\n");
	return -1;
}

static int
ok_answer(struct sess *s, const char *l, size_t n)
{
	struct pre	*p = s->pre;

	if (s->proto == P_POP3)
		return n >= 3 && memcmp(l, "+OK", 3) == 0;
	return n >= p->taglen + 4 && strncasecmp(l + p->taglen + 1, "OK",
	    2) == 0 && (l[p->taglen + 3] == ' ' || l[p->taglen + 3] == '\r');
}

/* The relay begins with what came while the login was under way. */
static int relay_run(struct half *);

static int
relay_start(struct sess *s)
{
	explicit_bzero(s->pre, sizeof(*s->pre));
	free(s->pre);
	s->pre = NULL;
	s->state = ST_RELAY;
	if ((s->c.pending || s->c.rdhup) && relay_run(&s->up) == -1)
		return -1;
	if ((s->s.pending || s->s.rdhup) && relay_run(&s->down) == -1)
		return -1;
	return 0;
}

/* A line from the store, by state: 0 to go on, -1 to end. */
static int
store_line(struct sess *s, size_t n)
{
	struct pre	*p = s->pre;
	const char	*l = p->rbuf;

	switch (s->state) {
	case ST_GREET:
		line_consume(p, n);
		s->state = s->proto == P_IMAP ? ST_ANSWER : ST_USER;
		return put(s->s.fd, p->saved, s->proto == P_IMAP ?
		    p->savedlen : p->userlen);
	case ST_USER:
		if (!ok_answer(s, l, n))
			break;
		line_consume(p, n);
		s->state = ST_ANSWER;
		return put(s->s.fd, p->saved + p->userlen,
		    p->savedlen - p->userlen);
	case ST_ANSWER:
		if (s->proto == P_IMAP && (n < p->taglen + 1 ||
		    memcmp(l, p->tag, p->taglen) != 0 || l[p->taglen] != ' ')) {
			line_consume(p, n);	/* untagged: not passed on */
			return 0;
		}
		/* The answer, and whatever the store sent after it. */
		if (put(s->c.fd, l, p->rlen) == -1 || !ok_answer(s, l, n))
			return -1;
		return relay_start(s);
	default:
		break;
	}
	(void)put(s->c.fd, l, n);
	return -1;
}

static int
pre_input(struct sess *s, struct end *e)
{
	ssize_t	 n;

	if ((e == &s->c) != (s->state == ST_CLIENT)) {
		e->pending = 1;	/* read when the login is done */
		return 0;
	}
	while (!s->dead && (e == &s->c) == (s->state == ST_CLIENT) &&
	    s->state != ST_RELAY) {
		if ((n = line_read(s, e)) <= 0)
			return n;
		if (e == &s->s) {
			if (store_line(s, n) == -1)
				return -1;
		} else if ((s->proto == P_IMAP ? imap_client(s, n) :
		    pop3_client(s, n)) == -1)
			return -1;
	}
	return 0;
}

static void
half_init(struct half *h, struct end *from, struct end *to)
{
	h->from = from;
	h->to = to;
	h->pipe[0] = h->pipe[1] = -1;
}

/*
 * As mmpd/pump.c's pump_run: the pipe's bytes first, then splice from the
 * sender into the pipe until it says EAGAIN (edge-triggered: no later
 * event for bytes already there), the receiver is full, or the wakeup's
 * budget is spent (the half waits on the yield list then). -1: the session
 * ends (an error, or the sender closed and all it sent was passed on).
 */
static int
relay_run(struct half *h)
{
	size_t	 moved = 0;
	ssize_t	 n;

	h->blocked = 0;
	h->from->pending = 0;
	for (;;) {
		if (h->inpipe > 0) {
			n = splice(h->pipe[0], NULL, h->to->fd, NULL,
			    h->inpipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n == -1) {
				if (errno != EAGAIN)
					return -1;
				h->blocked = 1;
				return ep_watch_out(h->to);
			}
			h->inpipe -= n;
			continue;
		}
		if (h->eof)
			return -1;
		if (moved >= WAKEUP_BYTES) {
			if (!h->queued) {
				h->queued = 1;
				h->qgen = env.gen;
				TAILQ_INSERT_TAIL(&env.yielded, h, entry);
			}
			return 0;
		}
		if (h->pipe[0] == -1 && pipe_take(h) == -1)
			return -1;
		n = splice(h->from->fd, NULL, h->pipe[1], NULL, PIPE_BYTES,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0)
			h->eof = 1;
		else if (n == -1) {
			if (errno != EAGAIN)
				return -1;
			/* Nothing to read: an idle direction holds no pipe. */
			pipe_give(h);
			return 0;
		} else {
			h->inpipe += n;
			moved += n;
		}
	}
}

static void
relay_event(struct sess *s, struct end *e, uint32_t ev)
{
	struct half	*in = e == &s->c ? &s->up : &s->down;
	struct half	*out = e == &s->c ? &s->down : &s->up;

	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
	    !in->blocked && !in->queued && relay_run(in) == -1) {
		sess_close(s);
		return;
	}
	if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && out->blocked &&
	    relay_run(out) == -1)
		sess_close(s);
}

static void
sess_event(struct sess *s, struct end *e, uint32_t ev)
{
	if (s->dead)
		return;
	if (s->state == ST_RELAY) {
		relay_event(s, e, ev);
		return;
	}
	if ((ev & (EPOLLERR | EPOLLHUP)) ||
	    ((ev & EPOLLRDHUP) && !(ev & EPOLLIN))) {
		sess_close(s);
		return;
	}
	/* Reported once: the relay's first read finds the close. */
	if (ev & EPOLLRDHUP)
		e->rdhup = 1;
	if ((ev & (EPOLLIN | EPOLLRDHUP)) && pre_input(s, e) == -1)
		sess_close(s);
}

static void
sess_accept(struct end *l)
{
	struct sess	*s;
	int		 fd;

	if ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->pre = malloc(sizeof(*s->pre))) == NULL) {
		free(s);
		close(fd);
		return;
	}
	s->proto = l->proto;
	s->state = ST_CLIENT;
	s->c.sess = s->s.sess = s;
	s->c.fd = fd;
	s->s.fd = -1;
	s->pre->rlen = s->pre->savedlen = s->pre->userlen = 0;
	s->pre->taglen = 0;
	half_init(&s->up, &s->c, &s->s);
	half_init(&s->down, &s->s, &s->c);
	if (ep_add(&s->c, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1 ||
	    puts_fd(fd, s->proto == P_IMAP ? "* OK floor ready\r\n" :
	    "+OK floor ready\r\n") == -1)
		sess_close(s);
}

static void
reap(void)
{
	struct sess	*s;

	while ((s = LIST_FIRST(&env.dead)) != NULL) {
		LIST_REMOVE(s, dead_entry);
		free(s);
	}
}

/*
 * The halves that spent their budget: another turn, after the others.
 * Those that queue again wait for the next round; a session closed on
 * the way takes its halves off the list.
 */
static void
run_yielded(void)
{
	struct half	*h;
	unsigned int	 gen = env.gen++;

	while ((h = TAILQ_FIRST(&env.yielded)) != NULL && h->qgen == gen) {
		TAILQ_REMOVE(&env.yielded, h, entry);
		h->queued = 0;
		if (relay_run(h) == -1)
			sess_close(h->from->sess);
	}
}

static void
loop(void)
{
	struct epoll_event	 evs[MAXEV];
	struct end		*e;
	int			 i, n;

	for (;;) {
		n = epoll_wait(env.ep, evs, MAXEV,
		    TAILQ_EMPTY(&env.yielded) ? -1 : 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			e = evs[i].data.ptr;
			if (e->sess == NULL)
				sess_accept(e);
			else
				sess_event(e->sess, e, evs[i].events);
		}
		run_yielded();
		reap();
	}
}

static void
nofile_max(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	static struct end	 lis[2];
	const char		*bindaddr = "127.0.0.1", *store = NULL;
	const char		*port[2] = { NULL, NULL };
	const char		*sport[2] = { NULL, NULL };
	int			 ch, i;

	while ((ch = getopt(argc, argv, "a:i:p:s:I:P:")) != -1) {
		switch (ch) {
		case 'a':
			bindaddr = optarg;
			break;
		case 'i':
			port[P_IMAP] = optarg;
			break;
		case 'p':
			port[P_POP3] = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'I':
			sport[P_IMAP] = optarg;
			break;
		case 'P':
			sport[P_POP3] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || store == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);
	nofile_max();
	TAILQ_INIT(&env.yielded);
	LIST_INIT(&env.dead);
	if ((env.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	for (i = P_IMAP; i <= P_POP3; i++) {
		if (port[i] == NULL || sport[i] == NULL)
			usage();
		if (addr(store, sport[i], 0, &env.store[i],
		    &env.storelen[i]) == -1)
			errx(1, "bad store address %s port %s", store, sport[i]);
		if (addr(bindaddr, port[i], 1, &ss, &len) == -1)
			errx(1, "bad address %s port %s", bindaddr, port[i]);
		lis[i].proto = i;
		listener(&lis[i], &ss, len);
	}
	printf("READY\n");
	fflush(stdout);
	loop();
	return 0;
}
