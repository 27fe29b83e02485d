/*
 * loadgen: the load generator of `make bench`. One process drives many
 * IMAP or POP3 sessions at once over non-blocking sockets and epoll
 * (login rate, logged-in idle sessions held, FETCH/RETR throughput) and
 * prints one JSON object with the counts, latencies and MB/s (10^6 bytes).
 *
 * -T: implicit TLS (IMAPS, POP3S) with OpenSSL's libssl, the handshake
 * driven by epoll like the rest; -S NAME sends NAME by SNI, -V 1.2|1.3 pins
 * the version, -R offers the newest session (ticket) this process was
 * given (TLS 1.3 tickets arrive after the handshake: each is kept when it
 * comes; OpenSSL's client uses a 1.3 ticket once, a 1.2 one again and
 * again; the first connection runs alone so that the others have one to
 * offer). SSL_session_reused() says which handshakes were really resumed.
 * The JSON then has a "tls" object: version, cipher and group seen first,
 * handshakes, resumed, tickets, hs_failed and the handshake latency
 * percentiles. The server's certificate is NOT verified: the bench's are
 * self-signed and only the server's cost is measured; never use this to
 * reach a server whose identity matters.
 *
 * -r BYTES_PER_S (fetch): the rate offered by all sessions together, for
 * the relay's cost when the CPU is not the limit. A fetch starts when the
 * bytes of the fetches started before it are due at that rate from the
 * start (a session waits in S_PACE, epoll_wait's timeout is the time to
 * the next due fetch); a fetch is booked at the size of the last one
 * read, so until one has been read only one is in flight. The JSON then
 * has "offered_mbps" beside "mbps", the rate achieved: a server that
 * could not keep up shows as mbps below it.
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
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#define BUFSZ		(64 * 1024)	/* per connection; a longer line is an error */
#define MAXEV		256
#define MAXSAMPLES	(1 << 20)	/* latency reservoir */
#define MAXBIND		256
#define NS		1000000000ULL
#define TICK_MS		50
#define IO_ERR		(-1)	/* io read: an error */
#define IO_AGAIN	(-2)	/* io read: nothing yet, epoll will say */

enum proto { P_IMAP, P_POP3 };
enum scen { SC_LOGIN, SC_IDLE, SC_FETCH };
enum state {
	S_FREE,		/* slot unused */
	S_CONNECT,	/* connect() in progress */
	S_HANDSHAKE,	/* -T: TLS handshake in progress */
	S_GREET,	/* waiting for the greeting */
	S_USER,		/* POP3: waiting for the USER answer */
	S_LOGIN,	/* waiting for the LOGIN / PASS answer */
	S_SELECT,	/* IMAP fetch: waiting for the SELECT answer */
	S_FETCH,	/* reading a FETCH / RETR answer */
	S_PACE,		/* -r: waiting until the next fetch is due */
	S_HOLD,		/* idle: logged in and held */
	S_LOGOUT	/* waiting for the LOGOUT / QUIT answer or EOF */
};

struct conn;

/*
 * The I/O layer under the protocol code: plain sockets or TLS. read
 * returns the bytes read, 0 at the end, IO_AGAIN or IO_ERR; write
 * returns the bytes written (all of a command, or an error).
 */
struct io {
	ssize_t	 (*read)(struct conn *, void *, size_t);
	ssize_t	 (*write)(struct conn *, const void *, size_t);
	int	 (*pending)(struct conn *);	/* read again without epoll */
};

struct conn {
	int		 fd;
	int		 slot;
	enum state	 state;
	const struct io	*io;
	SSL		*ssl;		/* -T */
	uint32_t	 ev;		/* epoll interest */
	int		 user;
	int		 inmulti;	/* POP3 RETR: past the +OK line */
	uint64_t	 t_start;	/* connect() */
	uint64_t	 t_hs;		/* -T: TCP connected, handshake begun */
	uint64_t	 deadline;	/* 0: none (held) */
	uint64_t	 lit;		/* IMAP literal bytes still to skip */
	uint64_t	 got;		/* bytes of the fetch being read */
	uint64_t	 booked;	/* -r: bytes booked for it at start */
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
	int		 tls, resume, tlsver;
	const char	*sni;
	long		 rate;		/* -r: bytes/s, 0: as fast as it goes */
} opt;

/* Latency samples (µs), a reservoir when there are too many. */
struct reservoir {
	uint32_t	*v;
	uint64_t	 n;
};

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
	uint64_t	 requested;	/* -r: booked for the fetches started */
	uint64_t	 fetchsize;	/* -r: bytes of the last fetch read */
	uint64_t	 paced;		/* -r: fetches started */
	struct reservoir lat;
	uint64_t	 rng;
	/* -T */
	SSL_CTX		*ctx;
	SSL_SESSION	*sess;		/* -R: offered to the next handshakes */
	int		 primed;	/* -R: the first connection has ended */
	uint64_t	 handshakes, resumed, tickets, hs_failed;
	struct reservoir hslat;
	char		 tlsversion[32], cipher[64], group[32];
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
	    "[-B addr,...] [-t timeout]\n"
	    "\t[-r bytes_per_s] [-T [-S sni] [-V 1.2|1.3] [-R]]\n");
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

/* SNI: a host name (it is also printed in the JSON as it is). */
static int
sni_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n < 256 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
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
	while ((ch = getopt(argc, argv, "B:c:d:h:m:N:n:p:Rr:S:s:Tt:U:V:W:"))
	    != -1) {
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
		case 'R':
			opt.resume = 1;
			break;
		case 'r':
			opt.rate = numarg(optarg, 1, LONG_MAX);
			break;
		case 'S':
			opt.sni = optarg;
			break;
		case 's':
			haves = 1;
			parse_scen(optarg);
			break;
		case 'T':
			opt.tls = 1;
			break;
		case 't':
			opt.timeout = secarg(optarg);
			break;
		case 'U':
			opt.ufmt = optarg;
			break;
		case 'V':
			if (strcmp(optarg, "1.2") == 0)
				opt.tlsver = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				opt.tlsver = TLS1_3_VERSION;
			else
				usage();
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
	    (opt.scen == SC_IDLE && opt.count == 0) ||
	    (opt.scen != SC_FETCH && opt.rate != 0) ||
	    (!opt.tls && (opt.sni != NULL || opt.tlsver != 0 || opt.resume)))
		usage();
	if (!ufmt_ok(opt.ufmt))
		die("-U needs exactly one %d and no other conversion");
	if (!word_ok(opt.pass))
		die("-W: empty, or holds a space, quote, backslash or newline");
	if (opt.sni != NULL && !sni_ok(opt.sni))
		die("-S: not a host name");
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
lat_add(struct reservoir *r, uint64_t ns)
{
	uint64_t	us = ns / 1000, j;

	if (us > UINT32_MAX)
		us = UINT32_MAX;
	if (r->n < MAXSAMPLES)
		r->v[r->n] = us;
	else if ((j = rnd() % (r->n + 1)) < MAXSAMPLES)
		r->v[j] = us;
	r->n++;
}

static void
deadline_reset(struct conn *c)
{
	c->deadline = now_ns() + (uint64_t)(opt.timeout * NS);
}

/* The epoll interest of a connection, changed only when it differs. */
static int
conn_want(struct conn *c, uint32_t events)
{
	struct epoll_event	ev;

	if (c->ev == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(st.ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		return -1;
	c->ev = events;
	return 0;
}

static ssize_t
plain_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	n;

	if ((n = read(c->fd, buf, len)) == -1)
		return errno == EAGAIN || errno == EINTR ? IO_AGAIN : IO_ERR;
	return n;
}

static ssize_t
plain_write(struct conn *c, const void *buf, size_t len)
{
	return send(c->fd, buf, len, MSG_NOSIGNAL);
}

/* Level-triggered epoll sees every byte still in the socket. */
static int
plain_pending(struct conn *c)
{
	(void)c;
	return 0;
}

/* What SSL_get_error asks for: IO_AGAIN (epoll told) or IO_ERR. */
static ssize_t
tls_again(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return conn_want(c, EPOLLIN) == -1 ? IO_ERR : IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		return conn_want(c, EPOLLOUT) == -1 ? IO_ERR : IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return IO_ERR;
	}
}

/*
 * A TLS 1.3 ticket arriving here is handled inside SSL_read (and kept by
 * tls_new_session); a read that wanted a write goes back to reading.
 */
static ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	int	n;

	ERR_clear_error();
	n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n <= 0)
		return tls_again(c, n);
	if (conn_want(c, EPOLLIN) == -1)
		return IO_ERR;
	return n;
}

static ssize_t
tls_write(struct conn *c, const void *buf, size_t len)
{
	ERR_clear_error();
	return SSL_write(c->ssl, buf, (int)len);
}

/* The rest of a record already decrypted: epoll would not tell. */
static int
tls_pending(struct conn *c)
{
	return c->state != S_FREE && SSL_pending(c->ssl) > 0;
}

static const struct io io_plain = { plain_read, plain_write, plain_pending };
static const struct io io_tls = { tls_read, tls_write, tls_pending };

/* Sends one command; a short write of a few bytes is an error. */
static int
sendstr(struct conn *c, const char *cmd)
{
	ssize_t	n = (ssize_t)strlen(cmd);

	if (c->io->write(c, cmd, n) != n)
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
	c->got = 0;
	return sendstr(c, opt.proto == P_IMAP ? "f FETCH 1 BODY.PEEK[]\r\n" :
	    "RETR 1\r\n");
}

static int
send_logout(struct conn *c)
{
	c->state = S_LOGOUT;
	return sendstr(c, opt.proto == P_IMAP ? "b LOGOUT\r\n" : "QUIT\r\n");
}

/* -r: when the next fetch is due, the bytes booked so far at the rate. */
static uint64_t
pace_due(void)
{
	return st.start + (uint64_t)((double)st.requested / opt.rate * NS);
}

/* -r: a size is known once a fetch has been read; before, one at a time. */
static int
pace_ready(uint64_t now)
{
	if (st.fetches == 0 && st.paced > 0)
		return 0;
	return now >= pace_due();
}

static int
pace_start(struct conn *c)
{
	c->booked = st.fetchsize;
	st.requested += c->booked;
	st.paced++;
	return send_fetch(c);
}

/* -r: a fetch read; its real size replaces what was booked for it. */
static void
pace_done(struct conn *c)
{
	st.requested = st.requested - c->booked + c->got;
	st.fetchsize = c->got;
}

/* The next fetch: at once, or with -r when pace_step finds it due. */
static int
next_fetch(struct conn *c)
{
	if (opt.rate == 0)
		return send_fetch(c);
	c->state = S_PACE;
	c->deadline = 0;
	return 0;
}

/* The bytes of a fetch answer, for the run and for this fetch. */
static void
fetch_bytes(struct conn *c, uint64_t n)
{
	st.bytes += n;
	c->got += n;
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
	lat_add(&st.lat, now_ns() - c->t_start);
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
		return next_fetch(c);
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
	if (opt.rate > 0)
		pace_done(c);
	if (now_ns() < st.end)
		return next_fetch(c);
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
		return r == 1 ? next_fetch(c) : -1;
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
	fetch_bytes(c, raw);
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
		fetch_bytes(c, take);
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
	int	r;

	do {
		n = c->io->read(c, c->buf + c->len, BUFSZ - c->len);
		if (n == IO_AGAIN)
			return;
		if (n <= 0) {
			/* A server may close right after its LOGOUT answer. */
			conn_end(c, n == 0 && c->state == S_LOGOUT ? 0 : 1);
			return;
		}
		c->len += n;
		if (c->state != S_HOLD && c->state != S_PACE)
			deadline_reset(c);
		if ((r = drain(c)) != 0) {
			if (r == -1)
				conn_end(c, 1);
			return;
		}
	} while (c->io->pending(c));
}

/* A session to offer (-R) is kept from the newest ticket that came. */
static int
tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	st.tickets++;
	if (!opt.resume)
		return 0;
	if (st.sess != NULL)
		SSL_SESSION_free(st.sess);
	st.sess = sess;
	return 1;	/* the reference is ours now */
}

static void
tls_setup(void)
{
	int	min = opt.tlsver != 0 ? opt.tlsver : TLS1_2_VERSION;

	/* -V unset: max 0 is the newest the library has. */
	if ((st.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(st.ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(st.ctx, opt.tlsver) != 1)
		die("SSL_CTX_new");
	/* IMAP's close right after LOGOUT may come without close_notify. */
	SSL_CTX_set_options(st.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Self-signed bench certificates: see the header. */
	SSL_CTX_set_verify(st.ctx, SSL_VERIFY_NONE, NULL);
	/* Sessions reach tls_new_session only; no cache of ours. */
	SSL_CTX_set_session_cache_mode(st.ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(st.ctx, tls_new_session);
	/* A write to a server that has closed is an error, not a signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal");
}

/* The first handshake's outcome, for the report. */
static void
tls_note(SSL *ssl)
{
	int	nid;

	if (st.tlsversion[0] != '\0')
		return;
	strlcpy(st.tlsversion, SSL_get_version(ssl), sizeof(st.tlsversion));
	strlcpy(st.cipher, SSL_get_cipher_name(ssl), sizeof(st.cipher));
	if ((nid = SSL_get_negotiated_group(ssl)) != NID_undef &&
	    OBJ_nid2sn(nid) != NULL)
		strlcpy(st.group, OBJ_nid2sn(nid), sizeof(st.group));
}

static void
tls_handshake(struct conn *c)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) != 1) {
		if (tls_again(c, r) != IO_AGAIN)
			conn_end(c, 1);
		return;
	}
	st.handshakes++;
	if (SSL_session_reused(c->ssl))
		st.resumed++;
	lat_add(&st.hslat, now_ns() - c->t_hs);
	tls_note(c->ssl);
	c->state = S_GREET;
	deadline_reset(c);
	if (conn_want(c, EPOLLIN) == -1)
		conn_end(c, 1);
	else if (SSL_has_pending(c->ssl))
		conn_readable(c);
}

/*
 * The newest session, a copy of it for c: a TLS 1.3 client that gets a
 * new ticket marks the session it resumed spent (OpenSSL removes it from
 * the cache, which flags the object itself), so a connection given the
 * shared object before its ClientHello would then offer nothing and make
 * a full handshake (about 15% of them at C=50, against every target).
 */
static int
tls_offer(struct conn *c)
{
	SSL_SESSION	*s;
	int		 ok;

	if (!opt.resume || st.sess == NULL)
		return 0;
	if ((s = SSL_SESSION_dup(st.sess)) == NULL)
		return -1;
	ok = SSL_set_session(c->ssl, s);
	SSL_SESSION_free(s);
	return ok == 1 ? 0 : -1;
}

static void
tls_start(struct conn *c)
{
	if ((c->ssl = SSL_new(st.ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (opt.sni != NULL &&
	    SSL_set_tlsext_host_name(c->ssl, opt.sni) != 1) ||
	    tls_offer(c) == -1) {
		conn_end(c, 1);
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->io = &io_tls;
	c->state = S_HANDSHAKE;
	c->t_hs = now_ns();
	deadline_reset(c);
	tls_handshake(c);
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
	if (opt.tls) {
		tls_start(c);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(st.ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
		conn_end(c, 1);
		return;
	}
	c->ev = EPOLLIN;
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
	if (c->state == S_HANDSHAKE) {
		tls_handshake(c);
		return;
	}
	/* EPOLLOUT only when a TLS read wanted a write. */
	if (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP))
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
	if (c->state == S_HANDSHAKE)
		st.hs_failed++;
	if (c->ssl != NULL) {
		/*
		 * close_notify as a client does; it also keeps the session
		 * resumable (OpenSSL spoils a session freed without it).
		 */
		if (SSL_is_init_finished(c->ssl)) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	st.primed = 1;
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
	c->io = &io_plain;
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
	ev.events = c->ev = EPOLLIN | EPOLLOUT;
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
	st.lat.v = calloc(MAXSAMPLES, sizeof(*st.lat.v));
	st.hslat.v = opt.tls ? calloc(MAXSAMPLES, sizeof(*st.hslat.v)) :
	    NULL;
	if (st.slots == NULL || st.freestk == NULL || st.lat.v == NULL ||
	    (opt.tls && st.hslat.v == NULL))
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
	if (opt.tls)
		tls_setup();
}

/* -R: the first connection alone, then everyone has a ticket. */
static int
may_start(void)
{
	return st.nfree > 0 && (!opt.resume || st.primed || st.started == 0);
}

static void
refill(uint64_t now)
{
	if (opt.scen == SC_IDLE) {
		while (st.started < opt.count && st.connecting < opt.conc &&
		    may_start())
			conn_start(&st.slots[st.freestk[--st.nfree]]);
		return;
	}
	while (now < st.end && may_start())
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

/*
 * -r: starts the fetches that are due, each booked before the next is
 * looked at; at the end the waiting sessions log out. Returns how long
 * (ms) epoll may wait: until the next fetch is due, never 0 (no busy
 * wait), at most a tick.
 */
static int
pace_step(uint64_t now)
{
	struct conn	*c;
	uint64_t	 due;
	int		 i, r, waiting = 0;

	for (i = 0; i < st.nslots; i++) {
		c = &st.slots[i];
		if (c->state != S_PACE)
			continue;
		if (now >= st.end)
			r = send_logout(c);
		else if (pace_ready(now))
			r = pace_start(c);
		else {
			waiting = 1;
			continue;
		}
		if (r == -1)
			conn_end(c, 1);
	}
	due = pace_due() < st.end ? pace_due() : st.end;
	/* Waiting for the first fetch's end, which epoll will tell. */
	if (!waiting || due <= now)
		return TICK_MS;
	due = (due - now + 999999) / 1000000;
	return due < TICK_MS ? (int)due : TICK_MS;
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
	int			i, n, wait = TICK_MS;

	st.start = now_ns();
	st.end = st.start + (uint64_t)(opt.seconds * NS);
	refill(st.start);
	for (;;) {
		n = epoll_wait(st.ep, evs, MAXEV, wait);
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
		if (opt.rate > 0)
			wait = pace_step(now);
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

/* Sorts the samples kept; returns how many. */
static uint64_t
res_sort(struct reservoir *r)
{
	uint64_t	n = r->n < MAXSAMPLES ? r->n : MAXSAMPLES;

	qsort(r->v, n, sizeof(r->v[0]), cmp32);
	return n;
}

static uint32_t
pct(const struct reservoir *r, uint64_t n, double p)
{
	uint64_t	i;

	if (n == 0)
		return 0;
	i = (uint64_t)(p * (double)(n - 1) + 0.5);
	return r->v[i];
}

/* -T: what the handshakes gave, before the closing brace of the object. */
static void
report_tls(void)
{
	uint64_t	n = res_sort(&st.hslat);

	printf(",\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\","
	    "\"group\":\"%s\",\"sni\":\"%s\",\"resume\":%s,"
	    "\"handshakes\":%llu,\"resumed\":%llu,\"tickets\":%llu,"
	    "\"hs_failed\":%llu,"
	    "\"hs_us\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,\"max\":%u}}",
	    st.tlsversion, st.cipher, st.group, opt.sni != NULL ? opt.sni : "",
	    opt.resume ? "true" : "false",
	    (unsigned long long)st.handshakes,
	    (unsigned long long)st.resumed, (unsigned long long)st.tickets,
	    (unsigned long long)st.hs_failed,
	    pct(&st.hslat, n, 0.5), pct(&st.hslat, n, 0.9),
	    pct(&st.hslat, n, 0.99), n > 0 ? st.hslat.v[n - 1] : 0);
}

static void
report(void)
{
	static const char *scen[] = { "login", "idle", "fetch" };
	uint64_t	n;
	double		secs, rate;

	secs = (double)(now_ns() - st.start) / NS;
	n = res_sort(&st.lat);
	rate = (double)(opt.scen == SC_FETCH ? st.fetches : st.ok) / secs;
	printf("{\"scenario\":\"%s\",\"proto\":\"%s\",\"concurrency\":%d,"
	    "\"seconds\":%.2f,\"ok\":%llu,\"failed\":%llu,\"errors\":%llu,"
	    "\"rate\":%.1f,\"lat_us\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,"
	    "\"max\":%u},\"fetches\":%llu,\"bytes\":%llu,\"mbps\":%.1f,"
	    "\"held\":%llu",
	    scen[opt.scen], opt.proto == P_IMAP ? "imap" : "pop3", opt.conc,
	    secs, (unsigned long long)st.ok, (unsigned long long)st.failed,
	    (unsigned long long)st.errors, rate, pct(&st.lat, n, 0.5),
	    pct(&st.lat, n, 0.9), pct(&st.lat, n, 0.99),
	    n > 0 ? st.lat.v[n - 1] : 0,
	    (unsigned long long)st.fetches, (unsigned long long)st.bytes,
	    (double)st.bytes / 1e6 / secs, (unsigned long long)st.held);
	if (opt.rate > 0)
		printf(",\"offered_mbps\":%.1f", (double)opt.rate / 1e6);
	if (opt.tls)
		report_tls();
	printf("}\n");
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
