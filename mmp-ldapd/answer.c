/*
 * mmp-ldapd's answers to the relays, within what a relay may leave
 * unread. A file of its own: the lookup code and its unit tests link it
 * without relays.c, whose dispatch pulls in every request's code.
 */
#include <sys/types.h>

#include <event2/event.h>
#include <ldap.h>

#include "ldapd.h"
#include "log.h"

/* Closed from the event loop: the caller may still be using r. */
static void
relay_close_later(struct relay *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	event_active(r->closeev, EV_TIMEOUT, 0);
}

/*
 * Every answer to a relay goes out here (lookups, certificates, client
 * names, AuthService). One that cannot be queued (or was not written
 * whole: a typed writer that refused a field set w->err) costs the
 * relay its channel, and so does one over LDAPD_RELAY_QUEUE_MAX left
 * unread: a relay that asks and never reads would grow this process
 * without end. Nothing goes to a relay whose channel is closing.
 */
void
ldapd_relay_answer(struct relay *r, uint32_t type, struct msg_writer *w,
    const char *what)
{
	if (r->closing)
		return;
	if (chan_compose_msg(r->chan, type, 0, -1, w) == -1) {
		log_warn("relay %u: cannot queue %s: channel closed", r->idx,
		    what);
		relay_close_later(r);
	} else if (chan_queued(r->chan) > LDAPD_RELAY_QUEUE_MAX) {
		log_warnx("relay %u leaves more than %d answers unread: "
		    "channel closed", r->idx, LDAPD_RELAY_QUEUE_MAX);
		relay_close_later(r);
	}
}
