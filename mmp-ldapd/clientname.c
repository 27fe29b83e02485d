/*
 * ClientLookup: a relay asks for the host name of a client's address.
 * The name comes from the HostsFile or a DNS PTR record and is believed
 * only when one of its own addresses is the client's (forward
 * confirmation, as TCP wrappers do); the relay bounds the wait.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldapd.h"
#include "log.h"
#include "namemsg.h"
#include "tcpaccess.h"

/* A detail before it is cut to the answer's field. */
#define CLIENTNAME_DETAIL_BYTES	(2 * LDAPD_HOST_BYTES + LDAPD_DETAIL_BYTES)

struct name_lookup {
	TAILQ_ENTRY(name_lookup)	 entry;		/* relay's */
	struct relay			*relay;
	struct resolve_req		*res;
	uint64_t			 reqid;
	uint64_t			 sid;
	char				 addr[NAME_ADDR_BYTES];
	char				 name[LDAPD_HOST_BYTES];
};

static void	clientname_forward(struct name_lookup *);

/* Answer, log, free. name NULL: "". */
static void
clientname_answer(struct relay *r, uint64_t reqid, uint64_t sid, int status,
    const char *name, const char *detail)
{
	struct name_answer	a;
	struct msg_writer	w;

	memset(&a, 0, sizeof(a));
	a.reqid = reqid;
	a.status = (uint8_t)status;
	if (status != TCPA_NAME_UNKNOWN && name != NULL)
		(void)strlcpy(a.name, name, sizeof(a.name));
	(void)strlcpy(a.detail, detail, sizeof(a.detail));
	log_debug(LOG_SID_FMT ": client name: %s%s%s", (unsigned long long)sid,
	    a.name, a.name[0] != '\0' ? " " : "", detail);
	msg_writer_init(&w);
	/* A refused answer marks w failed: ldapd_relay_answer logs it. */
	(void)name_answer_write(&w, &a);
	ldapd_relay_answer(r, IMSG_CLIENT_NAME_RESULT, &w, "a client name");
}

static void
clientname_free(struct name_lookup *nl)
{
	struct ldapd	*env = nl->relay->env;

	resolve_cancel(nl->res);
	TAILQ_REMOVE(&nl->relay->names, nl, entry);
	env->nnames--;
	free(nl);
	ldapd_drain_check();
}

static void
clientname_finish(struct name_lookup *nl, int status, const char *detail)
{
	nl->res = NULL;
	clientname_answer(nl->relay, nl->reqid, nl->sid, status, nl->name,
	    detail);
	clientname_free(nl);
}

/* Is the client's address one of the name's (has 1), or not (0, -1)? */
static void
clientname_confirm(struct name_lookup *nl, int has, const char *err)
{
	char	detail[CLIENTNAME_DETAIL_BYTES];

	if (has == 1) {
		clientname_finish(nl, TCPA_NAME_KNOWN, "confirmed");
		return;
	}
	if (has == -1) {
		(void)snprintf(detail, sizeof(detail), "%s does not resolve: "
		    "%s", nl->name, err);
		nl->name[0] = '\0';
		clientname_finish(nl, TCPA_NAME_UNKNOWN, detail);
		return;
	}
	(void)snprintf(detail, sizeof(detail), "%s does not resolve to %s",
	    nl->name, nl->addr);
	clientname_finish(nl, TCPA_NAME_SPOOFED, detail);
}

static void
clientname_forward_cb(void *arg, int has, const char *err)
{
	clientname_confirm(arg, has, err);
}

/*
 * A name that reads as an address never names the client: it could make
 * an address pattern match (a PTR record of "10.0.0.1"), so it is taken
 * for a spoof without asking.
 */
static void
clientname_forward(struct name_lookup *nl)
{
	struct addrlist	 al;
	char		 err[LDAPD_DETAIL_BYTES], detail[CLIENTNAME_DETAIL_BYTES];
	int		 r, has = 0;

	if (resolve_numeric(nl->name, &al) || !name_host_ok(nl->name)) {
		(void)snprintf(detail, sizeof(detail), "the name of %s is "
		    "not a host name", nl->addr);
		(void)strlcpy(nl->name, name_host_ok(nl->name) ? nl->name :
		    "invalid", sizeof(nl->name));
		clientname_finish(nl, TCPA_NAME_SPOOFED, detail);
		return;
	}
	r = resolve_confirm_start(nl->relay->env, nl->name, nl->addr, &has,
	    err, sizeof(err), clientname_forward_cb, nl, &nl->res);
	if (r == 0)
		return;
	clientname_confirm(nl, r == 1 ? has : -1, err);
}

static void
clientname_reverse_cb(void *arg, const char *name, const char *err)
{
	struct name_lookup	*nl = arg;
	char			 detail[CLIENTNAME_DETAIL_BYTES];

	nl->res = NULL;
	if (name == NULL) {
		(void)snprintf(detail, sizeof(detail), "no name: %s", err);
		clientname_finish(nl, TCPA_NAME_UNKNOWN, detail);
		return;
	}
	(void)strlcpy(nl->name, name, sizeof(nl->name));
	clientname_forward(nl);
}

/* IMSG_CLIENT_NAME: CHAN_OK, or CHAN_BAD when malformed. */
int
clientname_request(struct relay *r, struct imsg *imsg)
{
	struct ldapd		*env = r->env;
	struct name_lookup	*nl;
	struct name_req		 rq;
	char			 err[LDAPD_DETAIL_BYTES];
	int			 rv;

	if (name_req_read(imsg, &rq) == -1)
		return CHAN_BAD;
	if (env->nnames >= LDAPD_NAMES_MAX ||
	    (nl = calloc(1, sizeof(*nl))) == NULL) {
		clientname_answer(r, rq.reqid, rq.sid, TCPA_NAME_UNKNOWN, NULL,
		    "too many client names being looked up");
		return CHAN_OK;
	}
	nl->relay = r;
	nl->reqid = rq.reqid;
	nl->sid = rq.sid;
	(void)strlcpy(nl->addr, rq.addr, sizeof(nl->addr));
	TAILQ_INSERT_TAIL(&r->names, nl, entry);
	env->nnames++;
	rv = resolve_addr_start(env, nl->addr, nl->name, sizeof(nl->name),
	    err, sizeof(err), clientname_reverse_cb, nl, &nl->res);
	if (rv == 1)
		clientname_forward(nl);
	else if (rv == -1)
		clientname_reverse_cb(nl, NULL, err);
	return CHAN_OK;
}

/* The relay is going: its questions are dropped, unanswered. */
void
clientname_cancel_all(struct relay *r)
{
	struct name_lookup	*nl;

	while ((nl = TAILQ_FIRST(&r->names)) != NULL)
		clientname_free(nl);
}
