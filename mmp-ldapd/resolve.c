/*
 * Host names to addresses without blocking: numeric addresses as they are,
 * then the parent's HostsFile table, then DNS through c-ares driven by the
 * event loop. c-ares reads resolv.conf in resolver_init, before chroot.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <netdb.h>
#include <event2/event.h>

#include "ldapd.h"
#include "log.h"

#define RESOLVER_TRY_MSEC	2000	/* per server and try */
#define RESOLVER_TRIES		2

struct resolver_sock {
	ares_socket_t	 fd;
	struct event	*ev;
};

struct resolver {
	struct ldapd		*env;
	ares_channel		 ch;
	struct event		*timer;
	struct resolver_sock	*socks;
	size_t			 nsocks;
	int			 closing;
};

/*
 * One c-ares query. c-ares cannot cancel a single query, so a cancelled
 * request stays allocated (cb = NULL) until c-ares calls back.
 */
struct resolve_req {
	struct resolver	*r;
	resolve_cb	 cb;
	resolve_name_cb	 ncb;		/* an address's name (PTR) instead */
	resolve_confirm_cb ccb;		/* is want one of name's addresses? */
	void		*arg;
	int		 inside;	/* in ares_getaddrinfo */
	int		 done;
	int		 status;
	struct addrlist	 out;
	char		 name[LDAPD_HOST_BYTES];
	char		 want[INET6_ADDRSTRLEN];	/* ccb: canonical */
	int		 has;		/* ccb: want is among all of them */
};

static int
hosts_cmp(const void *a, const void *b)
{
	const struct hosts_entry	*x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

/* Ties by file order, so several addresses of one name keep theirs. */
static int
hosts_cmp_seq(const void *a, const void *b)
{
	const struct hosts_entry	*x = a, *y = b;
	int				 c;

	if ((c = hosts_cmp(a, b)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Numeric address text as inet_ntop writes it, "" if not numeric. */
static int
addr_canon(const char *s, char *out, size_t outsz)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return inet_ntop(AF_INET, &a4, out, outsz) != NULL ? 0 : -1;
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return inet_ntop(AF_INET6, &a6, out, outsz) != NULL ? 0 : -1;
	return -1;
}

/* Add one HostsFile line; the parent sends only numeric addresses. */
int
hosts_add(struct hosts *h, const char *name, const char *addr)
{
	struct hosts_entry	*v;
	size_t			 cap;

	if (!resolve_valid_name(name))
		return -1;
	if (h->n == h->cap) {
		cap = h->cap == 0 ? 64 : h->cap * 2;
		if ((v = reallocarray(h->v, cap, sizeof(*v))) == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	v = &h->v[h->n];
	if (addr_canon(addr, v->addr, sizeof(v->addr)) == -1)
		return -1;
	(void)strlcpy(v->name, name, sizeof(v->name));
	v->seq = h->n++;
	return 0;
}

void
hosts_finish(struct hosts *h)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(h->v[0]), hosts_cmp_seq);
}

static void
addrlist_add(struct addrlist *al, const char *a)
{
	size_t	i;

	for (i = 0; i < al->n; i++)
		if (strcmp(al->a[i], a) == 0)
			return;
	if (al->n < MMP_ADDRS_MAX)
		(void)strlcpy(al->a[al->n++], a, sizeof(al->a[0]));
}

/* Case-insensitive, every address of the name in file order. 1 found. */
int
hosts_lookup(const struct hosts *h, const char *name, struct addrlist *out)
{
	struct hosts_entry	 key;
	size_t			 lo = 0, hi = h->n, mid;

	out->n = 0;
	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (hosts_cmp(&h->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < h->n && hosts_cmp(&h->v[lo], &key) == 0; lo++)
		addrlist_add(out, h->v[lo].addr);
	return out->n > 0;
}

/*
 * Is addr (canonical) one of name's addresses in the table, all of them,
 * not only the first MMP_ADDRS_MAX? 1 yes, 0 no, -1 the name is not there.
 */
static int
hosts_has(const struct hosts *h, const char *name, const char *addr)
{
	struct hosts_entry	 key;
	size_t			 lo = 0, hi = h->n, mid;
	int			 seen = 0;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return -1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (hosts_cmp(&h->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < h->n && hosts_cmp(&h->v[lo], &key) == 0; lo++) {
		seen = 1;
		if (strcmp(h->v[lo].addr, addr) == 0)
			return 1;
	}
	return seen ? 0 : -1;
}

/*
 * The name hosts(5) gives addr: the first name of the file's first line
 * with that address, as the C library's reverse lookup in /etc/hosts
 * does. A scan: the table is sorted by name, and this runs only with
 * ClientLookup, once per connection. 1 found.
 */
int
hosts_reverse(const struct hosts *h, const char *addr, char *name,
    size_t len)
{
	const struct hosts_entry	*best = NULL;
	char				 canon[INET6_ADDRSTRLEN];
	size_t				 i;

	if (addr_canon(addr, canon, sizeof(canon)) == -1)
		return 0;
	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i].addr, canon) == 0 &&
		    (best == NULL || h->v[i].seq < best->seq))
			best = &h->v[i];
	if (best == NULL || strlcpy(name, best->name, len) >= len)
		return 0;
	return 1;
}

void
hosts_free(struct hosts *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* "192.0.2.1", "2001:db8::1" or "[2001:db8::1]": 1 and out filled. */
int
resolve_numeric(const char *name, struct addrlist *out)
{
	char	tmp[INET6_ADDRSTRLEN + 2], canon[INET6_ADDRSTRLEN];
	size_t	len = strlen(name);

	out->n = 0;
	if (len >= 2 && name[0] == '[' && name[len - 1] == ']' &&
	    len - 2 < sizeof(tmp)) {
		memcpy(tmp, name + 1, len - 2);
		tmp[len - 2] = '\0';
		if (strchr(tmp, ':') == NULL ||
		    addr_canon(tmp, canon, sizeof(canon)) == -1)
			return 0;
	} else if (addr_canon(name, canon, sizeof(canon)) == -1)
		return 0;
	addrlist_add(out, canon);
	return 1;
}

/*
 * A name DNS can be asked for: labels of letters, digits, '-' and '_'
 * (service names in the wild), 1..63 bytes each, 253 in all, an optional
 * final dot. Anything else in an LDAP attribute is refused before c-ares.
 */
int
resolve_valid_name(const char *name)
{
	size_t	len = strlen(name), label = 0, i;

	if (len == 0 || len > 253 || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static void	resolver_sock_cb(void *, ares_socket_t, int, int);

static void
resolver_schedule(struct resolver *r)
{
	struct timeval	tv, *tvp;

	if (r->closing)
		return;
	if ((tvp = ares_timeout(r->ch, NULL, &tv)) != NULL)
		evtimer_add(r->timer, tvp);
	else
		evtimer_del(r->timer);
}

static void
resolver_timer_cb(int fd, short events, void *arg)
{
	struct resolver	*r = arg;

	(void)fd;
	(void)events;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_schedule(r);
}

static void
resolver_io_cb(int fd, short events, void *arg)
{
	struct resolver	*r = arg;

	ares_process_fd(r->ch, (events & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	resolver_schedule(r);
}

static struct resolver_sock *
resolver_sock_find(struct resolver *r, ares_socket_t fd)
{
	size_t	i;

	for (i = 0; i < r->nsocks; i++)
		if (r->socks[i].fd == fd)
			return &r->socks[i];
	return NULL;
}

/* c-ares says which of its sockets it wants to read or write. */
static void
resolver_sock_cb(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct resolver		*r = arg;
	struct resolver_sock	*s, *v;
	short			 what;

	if ((s = resolver_sock_find(r, fd)) != NULL) {
		event_free(s->ev);
		*s = r->socks[--r->nsocks];
	}
	if ((!readable && !writable) || r->closing)
		return;
	if ((v = reallocarray(r->socks, r->nsocks + 1, sizeof(*v))) == NULL) {
		log_warn("resolver: socket table");
		return;
	}
	r->socks = v;
	what = EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0);
	s = &r->socks[r->nsocks];
	s->fd = fd;
	if ((s->ev = event_new(r->env->evb, fd, what, resolver_io_cb, r)) ==
	    NULL || event_add(s->ev, NULL) == -1) {
		log_warnx("resolver: cannot watch socket %d", fd);
		if (s->ev != NULL)
			event_free(s->ev);
		return;
	}
	r->nsocks++;
}

/*
 * Before chroot: c-ares reads /etc/resolv.conf now. Lookups go to DNS
 * only ("b"): the hosts table came from the parent, and /etc/hosts is not
 * there after chroot.
 */
int
resolver_init(struct ldapd *env)
{
	struct ares_options	 opts;
	struct resolver		*r;
	int			 rc, mask;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		fatalx("ares_library_init: %s", ares_strerror(rc));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("resolver");
	r->env = env;
	memset(&opts, 0, sizeof(opts));
	opts.lookups = (char *)"b";
	opts.timeout = RESOLVER_TRY_MSEC;
	opts.tries = RESOLVER_TRIES;
	opts.sock_state_cb = resolver_sock_cb;
	opts.sock_state_cb_data = r;
	mask = ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_SOCK_STATE_CB;
	if ((rc = ares_init_options(&r->ch, &opts, mask)) != ARES_SUCCESS)
		fatalx("resolver: ares_init_options: %s", ares_strerror(rc));
	if ((r->timer = evtimer_new(env->evb, resolver_timer_cb, r)) == NULL)
		fatalx("resolver: timer");
	env->resolver = r;
	return 0;
}

#ifdef MMP_FUZZ
/*
 * Fuzz builds only (regress/fuzz/fuzz_rx_ldapd.c): queries go to servers
 * (c-ares "host:port,..."), a port nobody listens on, not to resolv.conf's.
 */
int
resolver_fuzz_servers(struct ldapd *env, const char *servers)
{
	return ares_set_servers_ports_csv(env->resolver->ch, servers) ==
	    ARES_SUCCESS ? 0 : -1;
}
#endif

/* At exit: pending queries call back with ARES_EDESTRUCTION and free. */
void
resolver_free(struct ldapd *env)
{
	struct resolver	*r = env->resolver;
	size_t		 i;

	if (r == NULL)
		return;
	r->closing = 1;
	ares_destroy(r->ch);
	for (i = 0; i < r->nsocks; i++)
		event_free(r->socks[i].ev);
	free(r->socks);
	event_free(r->timer);
	free(r);
	ares_library_cleanup();
	env->resolver = NULL;
}

static void
resolve_collect(struct resolve_req *q, struct ares_addrinfo *ai)
{
	struct ares_addrinfo_node	*n;
	char				 buf[INET6_ADDRSTRLEN];
	const void			*src;

	q->out.n = 0;
	for (n = ai != NULL ? ai->nodes : NULL; n != NULL; n = n->ai_next) {
		if (n->ai_family == AF_INET)
			src = &((struct sockaddr_in *)n->ai_addr)->sin_addr;
		else if (n->ai_family == AF_INET6)
			src = &((struct sockaddr_in6 *)n->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(n->ai_family, src, buf, sizeof(buf)) != NULL)
			addrlist_add(&q->out, buf);
	}
}

/* Is want (canonical) among every address of the answer? */
static int
resolve_has(struct ares_addrinfo *ai, const char *want)
{
	struct ares_addrinfo_node	*n;
	char				 buf[INET6_ADDRSTRLEN];
	const void			*src;

	for (n = ai != NULL ? ai->nodes : NULL; n != NULL; n = n->ai_next) {
		if (n->ai_family == AF_INET)
			src = &((struct sockaddr_in *)n->ai_addr)->sin_addr;
		else if (n->ai_family == AF_INET6)
			src = &((struct sockaddr_in6 *)n->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(n->ai_family, src, buf, sizeof(buf)) != NULL &&
		    strcmp(buf, want) == 0)
			return 1;
	}
	return 0;
}

static void
resolve_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct resolve_req	*q = arg;
	char			 err[LDAPD_DETAIL_BYTES];

	(void)timeouts;
	resolve_collect(q, ai);
	if (q->want[0] != '\0')
		q->has = resolve_has(ai, q->want);
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	if (status == ARES_SUCCESS && q->out.n == 0)
		status = ARES_ENODATA;
	q->status = status;
	q->done = 1;
	if (q->inside)
		return;		/* resolve_start answers synchronously */
	if (q->ccb != NULL && !q->r->closing) {
		(void)snprintf(err, sizeof(err), "%s", ares_strerror(status));
		q->ccb(q->arg, status == ARES_SUCCESS ? q->has : -1, err);
	} else if (q->cb != NULL && !q->r->closing) {
		(void)snprintf(err, sizeof(err), "%s", ares_strerror(status));
		q->cb(q->arg, status == ARES_SUCCESS ? &q->out : NULL, err);
	}
	free(q);
}

/* A request on env's resolver for arg's callback; NULL with err. */
static struct resolve_req *
resolve_req_new(struct ldapd *env, void *arg, char *err, size_t errlen)
{
	struct resolve_req	*q;

	if (env->resolver == NULL) {
		(void)snprintf(err, errlen, "no resolver");
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->r = env->resolver;
	q->arg = arg;
	return q;
}

/*
 * After q's c-ares call (made with q->inside set): 0 while it runs, q in
 * *reqp and its callback to come; 1 when c-ares answered at once, its
 * result in q for the caller, who then ends q with resolve_req_end.
 */
static int
resolve_req_wait(struct resolve_req *q, struct resolve_req **reqp)
{
	q->inside = 0;
	if (q->done)
		return 1;
	resolver_schedule(q->r);
	*reqp = q;
	return 0;
}

/* Frees an answered q: 1 if it succeeded, else -1 with err. */
static int
resolve_req_end(struct resolve_req *q, char *err, size_t errlen)
{
	int	status = q->status;

	free(q);
	if (status == ARES_SUCCESS)
		return 1;
	(void)snprintf(err, errlen, "%s", ares_strerror(status));
	return -1;
}

/* q's forward query for q->name, answered by resolve_done. */
static int
resolve_forward(struct resolve_req *q, struct resolve_req **reqp)
{
	struct ares_addrinfo_hints	 hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	/* No sorting: it connects a UDP socket per address to rank them. */
	hints.ai_flags = ARES_AI_NOSORT;
	q->inside = 1;
	ares_getaddrinfo(q->r->ch, q->name, NULL, &hints, resolve_done, q);
	return resolve_req_wait(q, reqp);
}

/*
 * 1: out holds the addresses now; 0: asynchronous, cb(arg, list or NULL,
 * error text) comes later unless resolve_cancel(*reqp); -1: err says why.
 */
int
resolve_start(struct ldapd *env, const char *name, struct addrlist *out,
    char *err, size_t errlen, resolve_cb cb, void *arg,
    struct resolve_req **reqp)
{
	struct resolve_req	*q;

	*reqp = NULL;
	if (resolve_numeric(name, out))
		return 1;
	if (hosts_lookup(&env->hosts, name, out))
		return 1;
	if (!resolve_valid_name(name)) {
		(void)snprintf(err, errlen, "not a host name");
		return -1;
	}
	if ((q = resolve_req_new(env, arg, err, errlen)) == NULL)
		return -1;
	q->cb = cb;
	(void)strlcpy(q->name, name, sizeof(q->name));
	if (resolve_forward(q, reqp) == 0)
		return 0;
	*out = q->out;
	return resolve_req_end(q, err, errlen);
}

void
resolve_cancel(struct resolve_req *q)
{
	if (q != NULL) {
		q->cb = NULL;
		q->ncb = NULL;
		q->ccb = NULL;
	}
}

/* c-ares's PTR answer: its name, if DNS could have it, goes to ncb. */
static void
resolve_name_done(void *arg, int status, int timeouts, struct hostent *he)
{
	struct resolve_req	*q = arg;
	char			 err[LDAPD_DETAIL_BYTES];

	(void)timeouts;
	q->name[0] = '\0';
	if (status == ARES_SUCCESS && (he == NULL || he->h_name == NULL ||
	    strlcpy(q->name, he->h_name, sizeof(q->name)) >= sizeof(q->name) ||
	    !resolve_valid_name(q->name))) {
		q->name[0] = '\0';
		status = ARES_EBADRESP;
	}
	q->status = status;
	q->done = 1;
	if (q->inside)
		return;		/* resolve_addr_start answers synchronously */
	if (q->ncb != NULL && !q->r->closing) {
		(void)snprintf(err, sizeof(err), "%s", ares_strerror(status));
		q->ncb(q->arg, status == ARES_SUCCESS ? q->name : NULL, err);
	}
	free(q);
}

/*
 * The host name of the numeric address addr: the HostsFile's, else DNS's
 * PTR record (ClientLookup; the caller confirms it forward). 1: name
 * holds it now; 0: asynchronous, cb(arg, name or NULL, error text) comes
 * later unless resolve_cancel(*reqp); -1: err says why.
 */
int
resolve_addr_start(struct ldapd *env, const char *addr, char *name,
    size_t len, char *err, size_t errlen, resolve_name_cb cb, void *arg,
    struct resolve_req **reqp)
{
	struct resolve_req	*q;
	struct in6_addr		 a6;
	struct in_addr		 a4;

	*reqp = NULL;
	if (hosts_reverse(&env->hosts, addr, name, len))
		return 1;
	if ((q = resolve_req_new(env, arg, err, errlen)) == NULL)
		return -1;
	q->ncb = cb;
	q->inside = 1;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		ares_gethostbyaddr(q->r->ch, &a4, sizeof(a4), AF_INET,
		    resolve_name_done, q);
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		ares_gethostbyaddr(q->r->ch, &a6, sizeof(a6), AF_INET6,
		    resolve_name_done, q);
	else
		resolve_name_done(q, ARES_EBADNAME, 0, NULL);
	if (resolve_req_wait(q, reqp) == 0)
		return 0;
	if (q->status == ARES_SUCCESS)
		(void)strlcpy(name, q->name, len);
	return resolve_req_end(q, err, errlen);
}

/*
 * Forward confirmation (ClientLookup): is the numeric address addr one of
 * name's addresses, all of them (a pool may have more than MMP_ADDRS_MAX)?
 * The HostsFile first, then DNS. 1: *has says so now; 0: asynchronous,
 * cb(arg, 1 or 0, or -1 with error text) comes later unless
 * resolve_cancel(*reqp); -1: err says why.
 */
int
resolve_confirm_start(struct ldapd *env, const char *name, const char *addr,
    int *has, char *err, size_t errlen, resolve_confirm_cb cb, void *arg,
    struct resolve_req **reqp)
{
	struct resolve_req	*q;
	char			 want[INET6_ADDRSTRLEN];
	int			 r;

	*reqp = NULL;
	if (addr_canon(addr, want, sizeof(want)) == -1 ||
	    !resolve_valid_name(name)) {
		(void)snprintf(err, errlen, "not a host name or address");
		return -1;
	}
	if ((r = hosts_has(&env->hosts, name, want)) != -1) {
		*has = r;
		return 1;
	}
	if ((q = resolve_req_new(env, arg, err, errlen)) == NULL)
		return -1;
	q->ccb = cb;
	(void)strlcpy(q->name, name, sizeof(q->name));
	(void)strlcpy(q->want, want, sizeof(q->want));
	if (resolve_forward(q, reqp) == 0)
		return 0;
	*has = q->has;
	return resolve_req_end(q, err, errlen);
}
