/*
 * mmp-ldapd's relay channels: one per relay worker, handed over by the
 * parent (IMSG_RELAY_CHANNEL); the lookups and certificate mappings they
 * ask for, and what goes when a relay leaves or breaks the protocol.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <ldap.h>

#include "ldapd.h"
#include "log.h"
#include "lookupmsg.h"

static int	ldapd_dispatch_relay(struct chan *, struct imsg *);
static void	ldapd_lost_relay(struct chan *, const char *);
static void	ldapd_relay_drained(struct chan *);

/* A relay's channel: lookups and certificates in, answers out. */
static const struct chan_peer relay_peer = {
	"relay", ldapd_dispatch_relay, ldapd_lost_relay, ldapd_relay_drained
};

/* What it still had queued, read or unread, is dropped (chan_close). */
void
ldapd_relay_close(struct relay *r)
{
	struct lookup	*lk;

	while ((lk = TAILQ_FIRST(&r->lookups)) != NULL)
		lookup_cancel(lk);
	clientname_cancel_all(r);
	chan_close(r->chan);
	event_free(r->closeev);
	TAILQ_REMOVE(&r->env->relays, r, entry);
	r->env->nrelays--;
	free(r);
	ldapd_drain_check();
}

static void
ldapd_relay_close_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	ldapd_relay_close(arg);
}

/*
 * IMSG_LOOKUP, read by lib/lookupmsg.c: a name with NUL, CR or LF, or too
 * long, is answered (TEMPFAIL), not taken for garbage. -1: malformed.
 */
static int
ldapd_relay_lookup(struct relay *r, struct imsg *imsg)
{
	struct lookup_req	rq;

	if (lookup_req_read(imsg, &rq) == -1) {
		explicit_bzero(&rq, sizeof(rq));
		return -1;
	}
	/*
	 * A bind when the relay asks for one (its PreAuth) and this
	 * process's PreAuth (of the session's virtual domain) says so too;
	 * an empty password is refused unbound. Either one without the
	 * other (a reload applied here and there a moment apart) is a
	 * lookup: the store checks the password. A CRAM carries a digest
	 * instead (cram.c), never a password.
	 */
	lookup_start(r->env, r, rq.reqid, rq.sid, rq.svc, rq.user, rq.userlen,
	    rq.client, rq.local, rq.preauth && (rq.svc == SVC_IMAP ||
	    rq.svc == SVC_POP) && conf_vnum(r->env->conf, rq.svc,
	    conf_vdomain_find(r->env->conf, rq.svc, rq.local), CK_PREAUTH) ?
	    rq.pass : NULL, rq.passlen,
	    rq.cram != CRAM_NONE ? &rq : NULL);
	explicit_bzero(&rq, sizeof(rq));
	return 0;
}

/* A relay: lookups, certificates, client names. A channel being closed is read no further. */
static int
ldapd_dispatch_relay(struct chan *ch, struct imsg *imsg)
{
	struct relay	*r = chan_arg(ch);

	if (r->closing)
		return CHAN_OK;
	switch (imsg->hdr.type) {
	case IMSG_LOOKUP:
		return ldapd_relay_lookup(r, imsg);
	case IMSG_CERTMAP:
		return certmap_request(r->env, r, imsg);
	case IMSG_CLIENT_NAME:
		return clientname_request(r, imsg);
	case IMSG_AUTHSVC_RECORD:
		return authsvc_record(r, imsg);
	case IMSG_AUTHSVC_QUERY:
		return authsvc_query(r, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* A relay that left or broke the protocol loses its channel, only it. */
static void
ldapd_lost_relay(struct chan *ch, const char *why)
{
	struct relay	*r = chan_arg(ch);

	if (why == NULL)
		log_debug("relay %u closed its channel", r->idx);
	else
		log_warnx("relay %u %s: channel closed", r->idx, why);
	ldapd_relay_close(r);
}

/* Its answers are out: a draining mmp-ldapd may be done. */
static void
ldapd_relay_drained(struct chan *ch)
{
	(void)ch;
	ldapd_drain_check();
}

/* NULL on failure; fd stays the caller's then. */
static struct relay *
ldapd_relay_new(struct ldapd *env, uint32_t idx, int fd)
{
	struct relay	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->env = env;
	r->idx = idx;
	TAILQ_INIT(&r->lookups);
	TAILQ_INIT(&r->names);
	r->closeev = event_new(env->evb, -1, 0, ldapd_relay_close_cb, r);
	if (r->closeev == NULL || (r->chan = chan_open(env->evb, fd,
	    &relay_peer, r)) == NULL) {
		if (r->closeev != NULL)
			event_free(r->closeev);
		free(r);
		return NULL;
	}
	return r;
}

/*
 * IMSG_RELAY_CHANNEL: fd = socket to relay idx; u32 idx. Several
 * channels may carry one index for a while: a draining relay keeps its
 * channel while its successor gets a new one. A channel goes away when
 * its relay closes it. One too many is refused, not a broken protocol.
 */
int
ldapd_relay_add(struct ldapd *env, struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct relay		*r;
	uint32_t		 idx;

	msg_reader_init(&rd, imsg);
	if (msg_get_u32(&rd, &idx) == -1 || msg_end(&rd) == -1)
		return CHAN_BAD;
	if (env->nrelays >= LDAPD_RELAYS_MAX) {
		log_warnx("relay %u: more than %d relay channels; refused",
		    idx, LDAPD_RELAYS_MAX);
		return CHAN_OK;
	}
	if ((r = ldapd_relay_new(env, idx, imsg->fd)) == NULL) {
		log_warn("relay %u: channel", idx);
		return CHAN_OK;
	}
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&env->relays, r, entry);
	env->nrelays++;
	log_debug("relay %u: channel open", idx);
	return CHAN_OK;
}
