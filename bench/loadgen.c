/*
 * loadgen: the load generator of `make bench`. One process drives many
 * plain IMAP or POP3 sessions at once over non-blocking sockets and epoll
 * (login rate, logged-in idle sessions held, FETCH/RETR throughput) and
 * prints one JSON object with the counts, latencies and MB/s (10^6 bytes).
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ		(64 * 1024)	/* per connection; a longer line is an error */
#define MAXEV		256
#define MAXSAMPLES	(1 << 20)	/* latency reservoir */
#define MAXBIND		256
#define NS		1000000000ULL
#define TICK_MS		50

enum proto { P_IMAP, P_POP3 };
enum scen { SC_LOGIN, SC_IDLE, SC_FETCH };
enum state {
	S_FREE,		/* slot unused */
	S_CONNECT,	/* connect() in progress */
	S_GREET,	/* waiting for the greeting */
	S_USER,		/* POP3: waiting for the USER answer */
	S_LOGIN,	/* waiting for the LOGIN / PASS answer */
	S_SELECT,	/* IMAP fetch: waiting for the SELECT answer */
	S_FETCH,	/* reading a FETCH / RETR answer */
	S_HOLD,		/* idle: logged in and held */
	S_LOGOUT	/* waiting for the LOGOUT / QUIT answer or EOF */
};

struct conn {
	int		 fd;
	int		 slot;
	enum state	 state;
	int		 user;
	int		 inmulti;	/* POP3 RETR: past the +OK line */
	uint64_t	 t_start;	/* connect() */
	uint64_t	 deadline;	/* 0: none (held) */
	uint64_t	 lit;		/* IMAP literal bytes still to skip */
	size_t		 off, len;
	char		*buf;
};

static struct {
	enum proto	 proto;
	enum scen	 scen;
	const char	*host, *port, *ufmt, *pass;
	int		 nusers, conc, count;
	double		 seconds, timeout;
	struct sockaddr_storage dst;
	socklen_t	 dstlen;
	struct sockaddr_in bind[MAXBIND];
	int		 nbind;
} opt;

static struct {
	int		 ep;
	struct conn	*slots;
	int		 nslots;
	int		*freestk;
	int		 nfree;
	int		 active, connecting, started;
	int		 nextuser, nextbind;
	uint64_t	 start, end, hold_end;
	int		 held_printed;
	uint64_t	 ok, failed, errors, fetches, bytes, held;
	uint32_t	*lat;
	uint64_t	 nlat;
	uint64_t	 rng;
} st;

static void	 usage(void) __attribute__((noreturn));
static void	 conn_end(struct conn *, int);

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	exit(2);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -m imap|pop3 -h host -p port -U format "
	    "-W password -n nusers -c concurrency\n"
	    "\t-s login|idle|fetch [-d seconds] [-N count] "
	    "[-B addr,...] [-t timeout]\n");
	exit(2);
}

/* The user format must hold exactly one %d and no other conversion. */
static int
ufmt_ok(const char *f)
{
	int	nd = 0;

	for (; *f != '\0'; f++) {
		if (*f != '%')
			continue;
		f++;
		if (*f == '%')
			continue;
		if (*f != 'd')
			return 0;
		nd++;
	}
	return nd == 1;
}

/* Quoted in IMAP LOGIN and sent raw in POP3: keep it to plain bytes. */
static int
word_ok(const char *s)
{
	return strpbrk(s, "\"\\\r\n ") == NULL && *s != '\0';
}

static long
numarg(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static double
secarg(const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v > 0 && v < 1e6))
		usage();
	return v;
}

static void
parse_bind(char *list)
{
	char	*a;

	while ((a = strsep(&list, ",")) != NULL) {
		if (opt.nbind == MAXBIND)
			die("too many -B addresses");
		opt.bind[opt.nbind].sin_family = AF_INET;
		if (inet_pton(AF_INET, a, &opt.bind[opt.nbind].sin_addr) != 1)
			die("-B: not an IPv4 address");
		opt.nbind++;
	}
}

static void
resolve(void)
{
	struct addrinfo	 hints, *res;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = opt.nbind > 0 ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", opt.host, gai_strerror(e));
		exit(2);
	}
	memcpy(&opt.dst, res->ai_addr, res->ai_addrlen);
	opt.dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
parse_scen(const char *s)
{
	if (strcmp(s, "login") == 0)
		opt.scen = SC_LOGIN;
	else if (strcmp(s, "idle") == 0)
		opt.scen = SC_IDLE;
	else if (strcmp(s, "fetch") == 0)
		opt.scen = SC_FETCH;
	else
		usage();
}

static void
parse_args(int argc, char *argv[])
{
	int	ch, havem = 0, haves = 0;

	opt.seconds = 5;
	opt.timeout = 10;
	while ((ch = getopt(argc, argv, "B:c:d:h:m:N:n:p:s:t:U:W:")) != -1) {
		switch (ch) {
		case 'B':
			parse_bind(optarg);
			break;
		case 'c':
			opt.conc = numarg(optarg, 1, 1000000);
			break;
		case 'd':
			opt.seconds = secarg(optarg);
			break;
		case 'h':
			opt.host = optarg;
			break;
		case 'm':
			havem = 1;
			if (strcmp(optarg, "imap") == 0)
				opt.proto = P_IMAP;
			else if (strcmp(optarg, "pop3") == 0)
				opt.proto = P_POP3;
			else
				usage();
			break;
		case 'N':
			opt.count = numarg(optarg, 1, 1000000);
			break;
		case 'n':
			opt.nusers = numarg(optarg, 1, INT_MAX);
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 's':
			haves = 1;
			parse_scen(optarg);
			break;
		case 't':
			opt.timeout = secarg(optarg);
			break;
		case 'U':
			opt.ufmt = optarg;
			break;
		case 'W':
			opt.pass = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !havem || !haves || opt.host == NULL ||
	    opt.port == NULL || opt.ufmt == NULL || opt.pass == NULL ||
	    opt.nusers == 0 || opt.conc == 0 ||
	    (opt.scen == SC_IDLE && opt.count == 0))
		usage();
	if (!ufmt_ok(opt.ufmt))
		die("-U needs exactly one %d and no other conversion");
	if (!word_ok(opt.pass))
		die("-W: empty, or holds a space, quote, backslash or newline");
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("setrlimit");
}

/* xorshift64: reservoir sampling needs no better randomness. */
static uint64_t
rnd(void)
{
	st.rng ^= st.rng << 13;
	st.rng ^= st.rng >> 7;
	st.rng ^= st.rng << 17;
	return st.rng;
}

static void
lat_add(uint64_t ns)
{
	uint64_t	us = ns / 1000, j;

	if (us > UINT32_MAX)
		us = UINT32_MAX;
	if (st.nlat < MAXSAMPLES)
		st.lat[st.nlat] = us;
	else if ((j = rnd() % (st.nlat + 1)) < MAXSAMPLES)
		st.lat[j] = us;
	st.nlat++;
}

static void
deadline_reset(struct conn *c)
{
	c->deadline = now_ns() + (uint64_t)(opt.timeout * NS);
}

/* Sends one command; a short write of a few bytes is an error. */
static int
sendstr(struct conn *c, const char *cmd)
{
	ssize_t	n = (ssize_t)strlen(cmd);

	if (send(c->fd, cmd, n, MSG_NOSIGNAL) != n)
		return -1;
	deadline_reset(c);
	return 0;
}

static int
send_login(struct conn *c)
{
	char	user[256], cmd[768];
	int	n;

	n = snprintf(user, sizeof(user), opt.ufmt, c->user);
	if (n < 0 || (size_t)n >= sizeof(user))
		return -1;
	if (opt.proto == P_IMAP) {
		c->state = S_LOGIN;
		n = snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n",
		    user, opt.pass);
	} else {
		c->state = S_USER;
		n = snprintf(cmd, sizeof(cmd), "USER %s\r\n", user);
	}
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return sendstr(c, cmd);
}

static int
send_pass(struct conn *c)
{
	char	cmd[512];
	int	n;

	c->state = S_LOGIN;
	n = snprintf(cmd, sizeof(cmd), "PASS %s\r\n", opt.pass);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return sendstr(c, cmd);
}

static int
send_fetch(struct conn *c)
{
	c->state = S_FETCH;
	c->inmulti = 0;
	return sendstr(c, opt.proto == P_IMAP ? "f FETCH 1 BODY.PEEK[]\r\n" :
	    "RETR 1\r\n");
}

static int
send_logout(struct conn *c)
{
	c->state = S_LOGOUT;
	return sendstr(c, opt.proto == P_IMAP ? "b LOGOUT\r\n" : "QUIT\r\n");
}

static int
starts(const char *l, size_t n, const char *p)
{
	size_t	pl = strlen(p);

	return n >= pl && memcmp(l, p, pl) == 0;
}

/* 1: tagged OK, 0: tagged NO/BAD, -1: not an answer to this tag. */
static int
imap_tagged(const char *l, size_t n, char tag)
{
	if (n < 2 || l[0] != tag || l[1] != ' ')
		return -1;
	if (starts(l + 2, n - 2, "OK"))
		return 1;
	if (starts(l + 2, n - 2, "NO") || starts(l + 2, n - 2, "BAD"))
		return 0;
	return -1;
}

/* A line ending in {N} or {N+} announces N bytes of literal. */
static void
imap_literal(struct conn *c, const char *l, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	if (n < 3 || l[n - 1] != '}')
		return;
	i = n - 2;
	if (l[i] == '+')
		i--;
	if (i == 0 || l[i] < '0' || l[i] > '9')
		return;
	while (i > 0 && l[i] >= '0' && l[i] <= '9')
		i--;
	if (l[i] != '{')
		return;
	for (i++; l[i] >= '0' && l[i] <= '9'; i++) {
		if (v > (UINT64_C(1) << 40))
			return;
		v = v * 10 + (uint64_t)(l[i] - '0');
	}
	c->lit = v;
}

/* Logged in: what comes next depends on the scenario. */
static int
logged_in(struct conn *c)
{
	st.ok++;
	lat_add(now_ns() - c->t_start);
	st.connecting--;
	switch (opt.scen) {
	case SC_LOGIN:
		return send_logout(c);
	case SC_IDLE:
		c->state = S_HOLD;
		c->deadline = 0;
		return 0;
	case SC_FETCH:
		if (opt.proto == P_IMAP) {
			c->state = S_SELECT;
			return sendstr(c, "s SELECT INBOX\r\n");
		}
		return send_fetch(c);
	}
	return -1;
}

static int
login_failed(struct conn *c)
{
	st.failed++;
	conn_end(c, 0);
	return 1;
}

static int
fetch_done(struct conn *c)
{
	st.fetches++;
	if (now_ns() < st.end)
		return send_fetch(c);
	return send_logout(c);
}

/* Returns -1 on a protocol error, 1 if the connection ended, else 0. */
static int
imap_line(struct conn *c, const char *l, size_t n)
{
	int	r;

	imap_literal(c, l, n);
	switch (c->state) {
	case S_GREET:
		if (!starts(l, n, "* OK"))
			return -1;
		return send_login(c);
	case S_LOGIN:
		if ((r = imap_tagged(l, n, 'a')) == -1)
			return starts(l, n, "* ") ? 0 : -1;
		return r == 1 ? logged_in(c) : login_failed(c);
	case S_SELECT:
		if ((r = imap_tagged(l, n, 's')) == -1)
			return 0;
		return r == 1 ? send_fetch(c) : -1;
	case S_FETCH:
		if ((r = imap_tagged(l, n, 'f')) == -1)
			return 0;
		return r == 1 ? fetch_done(c) : -1;
	case S_LOGOUT:
		if ((r = imap_tagged(l, n, 'b')) == -1)
			return 0;
		conn_end(c, 0);
		return 1;
	default:
		return 0;
	}
}

static int
pop3_fetch_line(struct conn *c, const char *l, size_t n, size_t raw)
{
	if (!c->inmulti) {
		if (!starts(l, n, "+OK"))
			return -1;
		c->inmulti = 1;
		return 0;
	}
	if (n == 1 && l[0] == '.')
		return fetch_done(c);
	st.bytes += raw;
	return 0;
}

static int
pop3_line(struct conn *c, const char *l, size_t n, size_t raw)
{
	int	ok = starts(l, n, "+OK");

	if (!ok && !starts(l, n, "-ERR") && c->state != S_FETCH &&
	    c->state != S_HOLD)
		return -1;
	switch (c->state) {
	case S_GREET:
		return ok ? send_login(c) : -1;
	case S_USER:
		if (!ok)
			return login_failed(c);
		return send_pass(c);
	case S_LOGIN:
		return ok ? logged_in(c) : login_failed(c);
	case S_FETCH:
		return pop3_fetch_line(c, l, n, raw);
	case S_LOGOUT:
		conn_end(c, 0);
		return 1;
	default:
		return 0;
	}
}

/* Skips literal bytes, counting them while fetching. */
static void
eat_literal(struct conn *c)
{
	uint64_t	take = c->len - c->off;

	if (take > c->lit)
		take = c->lit;
	if (c->state == S_FETCH)
		st.bytes += take;
	c->off += take;
	c->lit -= take;
}

/* Handles every whole line in the buffer; -1 error, 1 ended, 0 more. */
static int
drain(struct conn *c)
{
	char	*l, *nl;
	size_t	 n, raw;
	int	 r;

	while (c->off < c->len) {
		if (c->lit > 0) {
			eat_literal(c);
			continue;
		}
		l = c->buf + c->off;
		if ((nl = memchr(l, '\n', c->len - c->off)) == NULL)
			break;
		raw = nl - l + 1;
		n = raw - 1;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		c->off += raw;
		if (opt.proto == P_IMAP)
			r = imap_line(c, l, n);
		else
			r = pop3_line(c, l, n, raw);
		if (r != 0)
			return r;
	}
	memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= c->off;
	c->off = 0;
	return c->len == BUFSZ ? -1 : 0;
}

static void
conn_readable(struct conn *c)
{
	ssize_t	n;

	n = read(c->fd, c->buf + c->len, BUFSZ - c->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A server may close right after its LOGOUT answer. */
		conn_end(c, n == 0 && c->state == S_LOGOUT ? 0 : 1);
		return;
	}
	c->len += n;
	if (c->state != S_HOLD)
		deadline_reset(c);
	if (drain(c) == -1)
		conn_end(c, 1);
}

static void
conn_connected(struct conn *c)
{
	struct epoll_event	ev;
	int			err = 0;
	socklen_t		len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		conn_end(c, 1);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(st.ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
		conn_end(c, 1);
		return;
	}
	c->state = S_GREET;
	deadline_reset(c);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	if (c->state == S_FREE)
		return;
	if (c->state == S_CONNECT) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(c);
}

/* Closes a connection; its slot is refilled after the event batch. */
static void
conn_end(struct conn *c, int error)
{
	if (c->state == S_FREE)
		return;
	if (error)
		st.errors++;
	if (c->state <= S_LOGIN)
		st.connecting--;
	close(c->fd);
	c->fd = -1;
	c->state = S_FREE;
	st.active--;
	st.freestk[st.nfree++] = c->slot;
}

static int
conn_bind(int fd)
{
	int	on = 1;

	if (opt.nbind == 0)
		return 0;
#ifdef IP_BIND_ADDRESS_NO_PORT
	/* The port is chosen at connect(), per destination. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
	    sizeof(on));
#else
	(void)on;
#endif
	st.nextbind = (st.nextbind + 1) % opt.nbind;
	return bind(fd, (struct sockaddr *)&opt.bind[st.nextbind],
	    sizeof(opt.bind[0]));
}

static void
conn_start(struct conn *c)
{
	struct epoll_event	ev;

	c->state = S_CONNECT;
	c->off = c->len = 0;
	c->lit = 0;
	c->user = st.nextuser;
	st.nextuser = (st.nextuser + 1) % opt.nusers;
	st.active++;
	st.connecting++;
	st.started++;
	c->t_start = now_ns();
	deadline_reset(c);
	c->fd = socket(opt.dst.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1 || conn_bind(c->fd) == -1 ||
	    (connect(c->fd, (struct sockaddr *)&opt.dst, opt.dstlen) == -1 &&
	    errno != EINPROGRESS)) {
		conn_end(c, 1);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(st.ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		conn_end(c, 1);
}

static void
setup(void)
{
	int	i;

	st.nslots = opt.scen == SC_IDLE ? opt.count : opt.conc;
	st.slots = calloc(st.nslots, sizeof(*st.slots));
	st.freestk = calloc(st.nslots, sizeof(*st.freestk));
	st.lat = calloc(MAXSAMPLES, sizeof(*st.lat));
	if (st.slots == NULL || st.freestk == NULL || st.lat == NULL)
		die("out of memory");
	for (i = st.nslots - 1; i >= 0; i--) {
		st.slots[i].slot = i;
		st.slots[i].fd = -1;
		if ((st.slots[i].buf = malloc(BUFSZ)) == NULL)
			die("out of memory");
		st.freestk[st.nfree++] = i;
	}
	if ((st.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	st.rng = now_ns() | 1;
}

static void
refill(uint64_t now)
{
	if (opt.scen == SC_IDLE) {
		while (st.started < opt.count && st.connecting < opt.conc &&
		    st.nfree > 0)
			conn_start(&st.slots[st.freestk[--st.nfree]]);
		return;
	}
	while (now < st.end && st.nfree > 0)
		conn_start(&st.slots[st.freestk[--st.nfree]]);
}

static void
check_deadlines(uint64_t now)
{
	struct conn	*c;
	int		 i;

	for (i = 0; i < st.nslots; i++) {
		c = &st.slots[i];
		if (c->state != S_FREE && c->deadline != 0 &&
		    now >= c->deadline)
			conn_end(c, 1);
	}
}

static int
count_held(void)
{
	int	i, n = 0;

	for (i = 0; i < st.nslots; i++)
		if (st.slots[i].state == S_HOLD)
			n++;
	return n;
}

/* Idle: all logged in, say so, hold; at the end count and close. */
static int
idle_step(uint64_t now)
{
	int	i;

	if (!st.held_printed && st.started == opt.count &&
	    st.connecting == 0) {
		fprintf(stderr, "HELD %d\n", count_held());
		fflush(stderr);
		st.held_printed = 1;
		st.hold_end = now + (uint64_t)(opt.seconds * NS);
	}
	if (!st.held_printed || now < st.hold_end)
		return 0;
	st.held = count_held();
	for (i = 0; i < st.nslots; i++)
		if (st.slots[i].state != S_FREE)
			conn_end(&st.slots[i], 0);
	return 1;
}

static void
run(void)
{
	struct epoll_event	evs[MAXEV];
	uint64_t		now, last = 0;
	int			i, n;

	st.start = now_ns();
	st.end = st.start + (uint64_t)(opt.seconds * NS);
	refill(st.start);
	for (;;) {
		n = epoll_wait(st.ep, evs, MAXEV, TICK_MS);
		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
		now = now_ns();
		if (now - last >= TICK_MS * 1000000ULL) {
			check_deadlines(now);
			last = now;
		}
		if (opt.scen == SC_IDLE && idle_step(now))
			break;
		refill(now);
		if (opt.scen != SC_IDLE && st.active == 0 && now >= st.end)
			break;
	}
}

static int
cmp32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
pct(uint64_t n, double p)
{
	uint64_t	i;

	if (n == 0)
		return 0;
	i = (uint64_t)(p * (double)(n - 1) + 0.5);
	return st.lat[i];
}

static void
report(void)
{
	static const char *scen[] = { "login", "idle", "fetch" };
	uint64_t	n = st.nlat < MAXSAMPLES ? st.nlat : MAXSAMPLES;
	double		secs, rate;

	secs = (double)(now_ns() - st.start) / NS;
	qsort(st.lat, n, sizeof(st.lat[0]), cmp32);
	rate = (double)(opt.scen == SC_FETCH ? st.fetches : st.ok) / secs;
	printf("{\"scenario\":\"%s\",\"proto\":\"%s\",\"concurrency\":%d,"
	    "\"seconds\":%.2f,\"ok\":%llu,\"failed\":%llu,\"errors\":%llu,"
	    "\"rate\":%.1f,\"lat_us\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,"
	    "\"max\":%u},\"fetches\":%llu,\"bytes\":%llu,\"mbps\":%.1f,"
	    "\"held\":%llu}\n",
	    scen[opt.scen], opt.proto == P_IMAP ? "imap" : "pop3", opt.conc,
	    secs, (unsigned long long)st.ok, (unsigned long long)st.failed,
	    (unsigned long long)st.errors, rate, pct(n, 0.5), pct(n, 0.9),
	    pct(n, 0.99), n > 0 ? st.lat[n - 1] : 0,
	    (unsigned long long)st.fetches, (unsigned long long)st.bytes,
	    (double)st.bytes / 1e6 / secs, (unsigned long long)st.held);
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	parse_args(argc, argv);
	resolve();
	raise_nofile();
	setup();
	run();
	report();
	return st.errors == 0 && st.failed == 0 ? 0 : 1;
}
