/*
 * The listening sockets: bound by the parent (ports below 1024 need root),
 * handed to every relay worker. A reload keeps the sockets of listeners it
 * did not change, so clients never meet a closed port.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

/* One socket, bound and listening; -1 with errno and the failed step. */
static int
listen_bind(const struct sockaddr *sa, socklen_t salen, const char **step)
{
	int	fd, on = 1, off = 0, saved;

	*step = "socket";
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	*step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/* The wildcard serves IPv4 too; a literal address only itself. */
	if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr) ? &off : &on,
	    sizeof(int)) == -1)
		goto fail;
	*step = "bind";
	if (bind(fd, sa, salen) == -1)
		goto fail;
	*step = "listen";
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Every address: IPv6 dual stack, IPv4 alone where IPv6 is missing. */
static int
listen_any(uint16_t port, const char **step)
{
	struct sockaddr_in6	sin6;
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons(port);
	fd = listen_bind((struct sockaddr *)&sin6, sizeof(sin6), step);
	if (fd != -1 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
		return fd;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons(port);
	return listen_bind((struct sockaddr *)&sin, sizeof(sin), step);
}

/* Open l's socket into l->fd; 0, or -1 with "label: step: reason". */
int
listen_open(struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	const char		*step = "address";

	memset(&sin6, 0, sizeof(sin6));
	memset(&sin, 0, sizeof(sin));
	errno = EINVAL;
	if (l->cl.host[0] == '\0')
		l->fd = listen_any(l->cl.port, &step);
	else if (inet_pton(AF_INET, l->cl.host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(l->cl.port);
		l->fd = listen_bind((struct sockaddr *)&sin, sizeof(sin),
		    &step);
	} else if (inet_pton(AF_INET6, l->cl.host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(l->cl.port);
		l->fd = listen_bind((struct sockaddr *)&sin6, sizeof(sin6),
		    &step);
	} else
		l->fd = -1;
	if (l->fd == -1) {
		(void)snprintf(err, errlen, "%s: %s: %s", l->cl.label, step,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The socket of the running configuration on host and port, or -1. */
static int
listen_take_running(const struct conf_listener *cl, int *taken)
{
	struct listener	*o;
	size_t		 i;

	for (i = 0; i < penv->nlisteners; i++) {
		o = &penv->listeners[i];
		if (taken[i] || o->fd == -1 || o->cl.port != cl->port ||
		    strcmp(o->cl.host, cl->host) != 0)
			continue;
		taken[i] = 1;
		return o->fd;
	}
	return -1;
}

/*
 * The listeners of conf, reusing the open sockets of the running
 * configuration (same address and port) and binding the others. On
 * failure nothing of the running configuration is touched.
 */
int
listen_setup(const struct mmp_conf *conf, struct listener **out,
    size_t *nout, char *err, size_t errlen)
{
	struct listener	*nl;
	int		*taken, *reused;
	size_t		 i, n = conf->nlisteners;
	int		 rv = -1;

	nl = calloc(n == 0 ? 1 : n, sizeof(*nl));
	taken = calloc(penv->nlisteners + 1, sizeof(*taken));
	reused = calloc(n + 1, sizeof(*reused));
	if (nl == NULL || taken == NULL || reused == NULL) {
		(void)snprintf(err, errlen, "listeners: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		nl[i].cl = conf->listeners[i];
		nl[i].fd = -1;
		if ((nl[i].fd = listen_take_running(&nl[i].cl, taken)) != -1)
			reused[i] = 1;
		else if (listen_open(&nl[i], err, errlen) == -1)
			goto out;
	}
	*out = nl;
	*nout = n;
	nl = NULL;
	rv = 0;
 out:
	for (i = 0; nl != NULL && i < n; i++)
		if (!reused[i] && nl[i].fd != -1)
			close(nl[i].fd);
	free(nl);
	free(taken);
	free(reused);
	return rv;
}

/* Is fd one of the sockets of the listener set l? */
static int
listen_has_fd(const struct listener *l, size_t n, int fd)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (l[i].fd == fd)
			return 1;
	return 0;
}

/*
 * Make nl the running set. Sockets it dropped stay open until every relay
 * has applied generation gen (it holds a copy until then anyway).
 */
void
listen_commit(struct listener *nl, size_t n, uint32_t gen)
{
	struct old_listener	*ol;
	struct listener		*o;
	size_t			 i;

	for (i = 0; i < penv->nlisteners; i++) {
		o = &penv->listeners[i];
		if (o->fd == -1 || listen_has_fd(nl, n, o->fd))
			continue;
		if ((ol = calloc(1, sizeof(*ol))) == NULL) {
			log_warn("%s: closing at once", o->cl.label);
			close(o->fd);
			continue;
		}
		ol->fd = o->fd;
		ol->gen = gen;
		(void)strlcpy(ol->label, o->cl.label, sizeof(ol->label));
		TAILQ_INSERT_TAIL(&penv->old_listeners, ol, entry);
	}
	free(penv->listeners);
	penv->listeners = nl;
	penv->nlisteners = n;
	listen_sweep();
}

/* Close the removed sockets every running relay has let go of. */
void
listen_sweep(void)
{
	struct old_listener	*ol, *next;
	struct child		*c;
	uint32_t		 oldest = penv->gen;

	TAILQ_FOREACH(c, &penv->children, entry)
		if (c->kind == CHILD_RELAY && !c->retiring && c->pid != -1 &&
		    c->gen_ready < oldest)
			oldest = c->gen_ready;
	TAILQ_FOREACH_SAFE(ol, &penv->old_listeners, entry, next) {
		if (ol->gen > oldest)
			continue;
		log_info("%s: listener closed", ol->label);
		close(ol->fd);
		TAILQ_REMOVE(&penv->old_listeners, ol, entry);
		free(ol);
	}
}

/* Shutdown: no new connections from here on. */
void
listen_close_all(void)
{
	struct old_listener	*ol;
	size_t			 i;

	for (i = 0; i < penv->nlisteners; i++) {
		if (penv->listeners[i].fd != -1)
			close(penv->listeners[i].fd);
		penv->listeners[i].fd = -1;
	}
	while ((ol = TAILQ_FIRST(&penv->old_listeners)) != NULL) {
		close(ol->fd);
		TAILQ_REMOVE(&penv->old_listeners, ol, entry);
		free(ol);
	}
}

/* "IMAP on *:143 *:1143, POP on *:110": the open listeners by service. */
void
listen_describe(char *buf, size_t len)
{
	static const struct {
		int		 svc;
		const char	*name;
	} svcs[] = { { SVC_IMAP, "IMAP" }, { SVC_POP, "POP" } };
	const struct listener	*l;
	size_t			 i, s;
	int			 first;

	buf[0] = '\0';
	for (s = 0; s < sizeof(svcs) / sizeof(svcs[0]); s++) {
		first = 1;
		for (i = 0; i < penv->nlisteners; i++) {
			l = &penv->listeners[i];
			if (l->cl.svc != svcs[s].svc || l->fd == -1)
				continue;
			if (first && buf[0] != '\0')
				(void)strlcat(buf, ", ", len);
			if (first) {
				(void)strlcat(buf, svcs[s].name, len);
				(void)strlcat(buf, " on", len);
			}
			(void)strlcat(buf, " ", len);
			(void)strlcat(buf, l->cl.label, len);
			first = 0;
		}
	}
	if (buf[0] == '\0')
		(void)strlcpy(buf, "no listener open", len);
}
