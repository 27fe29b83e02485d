/*
 * The PROXY protocol on listeners marked for it (ProxyProtocolPorts): only
 * the load balancers of ProxyProtocolNetworks may connect there, and their
 * header is read before anything else, byte-exactly, so that what follows
 * it (a pipelined command, a TLS ClientHello) stays in the socket for
 * whoever reads next. Its addresses become the session's.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proxyproto.h"
#include "relay.h"

/* A load balancer sends its header with the connection: this is plenty. */
#define PROXY_HEADER_TIMEOUT_SEC	10

/*
 * ProxyProtocolNetworks of each service. The value passed conf_set in
 * this process too; if it did not parse, nobody may send a header.
 */
void
proxy_conf(const struct mmp_conf *conf)
{
	struct store_nets	*pn;
	char			 why[128];
	int			 svc, n;

	for (svc = SVC_IMAP; svc < CONF_NSECT; svc++) {
		pn = &env->proxynets[svc];
		memset(pn, 0, sizeof(*pn));
		if (!conf_isset(conf, svc, CK_PROXYPROTOCOLNETWORKS))
			continue;
		pn->set = 1;
		if ((n = netlist_parse(conf_str(conf, svc,
		    CK_PROXYPROTOCOLNETWORKS), pn->v, NETLIST_MAX, why,
		    sizeof(why))) == -1)
			log_warnx("%s ProxyProtocolNetworks unusable, no load "
			    "balancer is allowed: %s", conf_section_file(svc),
			    why);
		else
			pn->n = (size_t)n;
	}
}

/* The numeric host of a socket address ("" if none), for netlist_match. */
static void
proxy_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void	*a;

	buf[0] = '\0';
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		return;
	if (inet_ntop(ss->ss_family, a, buf, len) == NULL)
		buf[0] = '\0';
}

/*
 * A connection on a PROXY listener: from a load balancer, wait for its
 * header (the login timeout, PROXY_HEADER_TIMEOUT_SEC at most); from
 * anyone else, close it unread. Nothing is sent either way: the peer
 * does not speak IMAP or POP3 yet.
 */
void
proxy_start(struct session *s)
{
	const struct store_nets	*pn = &env->proxynets[s->svc];
	const struct conf_value	*cv;
	struct timeval		 tv = { PROXY_HEADER_TIMEOUT_SEC, 0 };
	struct timespec		 now;
	char			 host[INET6_ADDRSTRLEN];

	proxy_host(&s->peer, host, sizeof(host));
	if (!netlist_match(pn->v, pn->n, host)) {
		cv = &env->conf->v[s->svc][CK_PROXYPROTOCOLNETWORKS];
		session_log(s, LOG_NOTICE, "PROXY protocol listener: %s is "
		    "not in ProxyProtocolNetworks (%s:%d)", host, cv->file,
		    cv->line);
		session_close(s, "not a load balancer");
		return;
	}
	s->state = S_PROXY;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->login_deadline - now.tv_sec < tv.tv_sec)
		tv.tv_sec = s->login_deadline > now.tv_sec ?
		    s->login_deadline - now.tv_sec : 0;
	evtimer_add(s->timer, &tv);
	event_add(s->rev, NULL);
}

/* The header's addresses are the session's from now on. */
static void
proxy_apply(struct session *s, const struct proxy_hdr *h)
{
	char	via[ADDR_TEXT_BYTES];

	if (h->local) {
		session_log(s, LOG_INFO, "PROXY v%d without a client address "
		    "(LOCAL, UNKNOWN or no IP family): the connection's own "
		    "addresses stand", h->version);
		return;
	}
	(void)strlcpy(via, s->client, sizeof(via));
	s->peer = h->src;
	addr_text(&h->src, s->client, sizeof(s->client));
	addr_text(&h->dst, s->local, sizeof(s->local));
	/* As at accept: the address the client connected to, its domain. */
	s->vd = conf_vdomain_find(env->conf, s->svc, s->local);
	s->vdgen = env->gen;
	session_log(s, LOG_INFO, "PROXY v%d via %s to %s", h->version, via,
	    s->local);
}

static void
proxy_refuse(struct session *s, const char *why)
{
	session_log(s, LOG_NOTICE, "PROXY header refused: %s", why);
	session_close(s, "bad PROXY header");
}

/*
 * Peek at what came, take exactly the header's bytes (or all of them
 * while it is incomplete: they are all its own) and keep them in s->in
 * until it is whole. recvmsg, not recv: the relay's filter allows it for
 * imsg already (lib/sandbox.c).
 */
void
proxy_read(struct session *s)
{
	uint8_t			hdr[PROXY_MAX_BYTES];
	struct proxy_hdr	h;
	struct iovec		iov;
	struct msghdr		msg;
	char			why[256];
	size_t			have = buf_len(&s->in), take;
	ssize_t			n;
	int			r;

	/* An empty buffer may have no memory yet: no memcpy from NULL. */
	if (have > 0)
		memcpy(hdr, buf_data(&s->in), have);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = hdr + have;
	iov.iov_len = sizeof(hdr) - have;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	n = recvmsg(s->fd, &msg, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_close(s, n == 0 ? "closed before its PROXY header was "
		    "complete" : "PROXY header: read failed");
		return;
	}
	if ((r = proxy_parse(hdr, have + n, &h, why, sizeof(why))) == -1) {
		proxy_refuse(s, why);
		return;
	}
	take = r > 0 ? (size_t)r - have : (size_t)n;
	if (read(s->fd, hdr + have, take) != (ssize_t)take ||
	    (r == 0 && buf_add(&s->in, hdr + have, take) == -1)) {
		session_close(s, "PROXY header: read failed");
		return;
	}
	if (r == 0)
		return;
	buf_reset(&s->in);
	proxy_apply(s, &h);
	/*
	 * From here on as on any listener: nothing is read before the
	 * greeting arms the event again or mmp-tlsd takes the socket. While
	 * the client's name is looked up (ClientLookup), what came behind
	 * the header stays in the socket for them; read now, it would be
	 * lost to the handshake and lie unanswered in s->in.
	 */
	event_del(s->rev);
	s->state = S_PREAUTH;
	session_login_timer(s);
	session_admit(s);
}

void
proxy_timeout(struct session *s)
{
	session_log(s, LOG_NOTICE, "PROXY header refused: none complete in "
	    "time");
	session_close(s, "no PROXY header in time");
}
