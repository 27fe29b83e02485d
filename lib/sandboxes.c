/*
 * What each child may do after start, in one place: the promises of the
 * relay workers, mmp-ldapd, mmp-tlsd and the statistics process, each with
 * why it needs them. The calls behind each word are in lib/sandbox.c.
 */
#include "config.h"
#include "sandbox.h"
#include "sandboxes.h"

static void
sandbox_child(const struct mmp_conf *conf, enum conf_key user)
{
	sandbox_drop(conf_str(conf, CONF_GLOBAL, CK_CHROOTDIR),
	    conf_str(conf, CONF_GLOBAL, user));
}

void
sandbox_relay(const struct mmp_conf *conf)
{
	sandbox_child(conf, CK_RELAYUSER);
	/*
	 * stdio:  events, timers, reads and writes on sockets we hold
	 * inet:   accept clients, connect to stores
	 * recvfd: listeners, the mmp-ldapd and mmp-tlsd channels come from
	 *         the parent
	 * sendfd: imsg writes go through sendmsg(2), fds or not; a TLS
	 *         session's network socket and socketpair end go to mmp-tlsd
	 * unix:   socketpair(2) per TLS session, its plaintext side (tls.c)
	 * splice: relay bytes through a pipe without copying them
	 */
	sandbox_pledge("stdio inet recvfd sendfd unix splice");
}

void
sandbox_ldapd(const struct mmp_conf *conf)
{
	sandbox_child(conf, CK_LDAPUSER);
	/*
	 * stdio:  memory, time, the event loop, reads and writes on the
	 *         sockets it holds
	 * inet:   TCP connections to the LDAP servers
	 * dns:    c-ares queries over UDP for mailHost and LDAP host names
	 * recvfd: imsg reads with recvmsg(2); relay channels arrive as fds
	 * sendfd: imsg writes with sendmsg(2); mmp-ldapd passes no fds, but
	 *         seccomp cannot tell a sendmsg with one from one without
	 */
	sandbox_pledge("stdio inet dns recvfd sendfd");
}

void
sandbox_tlsd(const struct mmp_conf *conf)
{
	sandbox_child(conf, CK_TLSUSER);
	/*
	 * stdio:  memory, time, randomness (OpenSSL's DRBG reseeds with
	 *         getrandom), the event loop, reads and writes on the
	 *         sockets it holds, fstat and pread of the files' memfds
	 * recvfd: imsg reads; sockets, socketpair ends and memfds arrive
	 *         as fds; shutdown of a plaintext end at a session's end
	 * sendfd: imsg writes with sendmsg(2); mmp-tlsd passes no fds, but
	 *         seccomp cannot tell a sendmsg with one from one without
	 * No inet, no unix: mmp-tlsd makes no socket, it is handed them.
	 */
	sandbox_pledge("stdio recvfd sendfd");
}

void
sandbox_stats(const struct mmp_conf *conf)
{
	sandbox_child(conf, CK_STATSUSER);
	/*
	 * stdio:  events, timers, reads and writes on sockets we hold
	 * accept: scrapers on the socket the parent bound
	 * recvfd: that socket and the channels to the peers come from the
	 *         parent; clients that linger are closed abortively
	 * sendfd: imsg writes go through sendmsg(2)
	 */
	sandbox_pledge("stdio accept recvfd sendfd");
}
