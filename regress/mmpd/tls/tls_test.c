/*
 * mmpd/tls.c against a fake mmp-tlsd: the test reads the START and PLAIN
 * the relay sends on its channel and answers with RESULTs of its choosing.
 * The case that matters: a store handshake given up (its timeout) and the
 * next address handed over; the first one's late RESULT must not be taken
 * for the second's. Also DRAINING: a draining mmp-tlsd gets no handoff;
 * a new channel for its index parks the old one, whichever came first.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd/relay.h"
#include "regress/tap.h"

struct relay_env	*env;

/* What the session side saw. */
static int		 nresults;
static uint64_t		 last_id;
static uint8_t		 last_status;
static int		 nlost;

void
session_tls_result(struct session *s, const struct tls_result *r)
{
	(void)s;
	nresults++;
	last_id = r->id;
	last_status = r->status;
}

void
backend_tls_result(struct session *s, const struct tls_result *r)
{
	session_tls_result(s, r);
}

void
session_tls_lost(struct session *s)
{
	(void)s;
	nlost++;
}

void
backend_tls_lost(struct session *s)
{
	(void)s;
	nlost++;
}

static int
test_dispatch(struct chan *ch, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_TLS_RESULT:
		return tls_result(ch, imsg);
	case IMSG_TLSD_DRAINING:
		return tls_draining(ch, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

static const struct chan_peer test_tlsd_peer = {
	"mmp-tlsd", test_dispatch, tls_channel_lost, NULL
};

static int
test_parent_dispatch(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	(void)imsg;
	return CHAN_OK;
}

static void
test_parent_lost(struct chan *ch, const char *why)
{
	(void)why;
	chan_close(ch);
	env->parent = NULL;
}

static const struct chan_peer test_parent_peer = {
	"parent", test_parent_dispatch, test_parent_lost, NULL
};

/* The fake mmp-tlsd's end of the channel. */
static struct imsgbuf	fake;

static void
spin(void)
{
	int	i;

	for (i = 0; i < 20; i++)
		(void)event_base_loop(env->base, EVLOOP_NONBLOCK);
}

/* The next message from the relay: its type, payload id, and fd. */
static int
fake_get(struct imsg *imsg)
{
	int	i, r;

	for (i = 0; i < 100; i++) {
		spin();
		if ((r = imsg_get(&fake, imsg)) != 0)
			return r;
		if (imsgbuf_read(&fake) == 0)
			return -1;
		usleep(1000);
	}
	return 0;
}

/* START then PLAIN of one handoff; its id, or 0 if they did not come. */
static uint64_t
fake_take_handoff(void)
{
	struct imsg		imsg;
	struct tls_start	ts;
	uint64_t		id, pid = 0;

	if (fake_get(&imsg) != 1)
		return 0;
	id = imsg.hdr.type == IMSG_TLS_START &&
	    tls_start_read(&imsg, &ts) == 0 ? ts.id : 0;
	imsg_free(&imsg);
	if (fake_get(&imsg) != 1)
		return 0;
	if (imsg.hdr.type != IMSG_TLS_PLAIN || tls_plain_read(&imsg, &pid) ==
	    -1)
		pid = 0;
	imsg_free(&imsg);
	return id != 0 && id == pid ? id : 0;
}

static void
fake_result(uint64_t id, uint8_t status)
{
	struct tls_result	r;
	struct msg_writer	w;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.status = status;
	if (status == TLS_FAILED)
		(void)strlcpy(r.detail, "fake", sizeof(r.detail));
	else {
		(void)strlcpy(r.version, "TLSv1.3", sizeof(r.version));
		(void)strlcpy(r.cipher, "TLS_AES_128_GCM_SHA256",
		    sizeof(r.cipher));
	}
	msg_writer_init(&w);
	tls_result_write(&w, &r);
	if (msg_compose(&fake, IMSG_TLS_RESULT, 0, -1, &w) == -1 ||
	    imsgbuf_flush(&fake) == -1)
		tap_diag("fake mmp-tlsd: cannot send a result");
	spin();
}

/* A store handshake as backend.c starts one. */
static int
handoff(struct session *s)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	close(sv[1]);
	if (tls_handoff(s, &sv[0], TLS_ROLE_CLIENT, "127.0.0.11:993",
	    "127.0.0.1:40000", "store1.mmp.test") == -1)
		return -1;
	close(sv[0]);	/* our plaintext end: unused here */
	return 0;
}

static void
test_late_result(struct session *s)
{
	uint64_t	first, second;

	tap_ok(handoff(s) == 0, "first handoff of the session");
	first = fake_take_handoff();
	tap_ok(first != 0, "mmp-tlsd gets START and PLAIN, one id");
	/* backend.c at the store's timeout: the handshake is given up. */
	tls_pending_clear(s);
	tap_ok(handoff(s) == 0, "second handoff of the same session");
	second = fake_take_handoff();
	tap_ok(second != 0 && second != first,
	    "the second handoff has an id of its own (%llx, %llx)",
	    (unsigned long long)first, (unsigned long long)second);

	fake_result(first, TLS_OK);
	tap_is_int(nresults, 0, "the late result of the abandoned handoff is "
	    "ignored");
	tap_ok(s->tlsd == 0, "the session still waits for its handoff");
	tap_ok(env->tlsd[0].ch != NULL, "and the channel lives on");

	fake_result(0xdeadbeef, TLS_OK);
	tap_is_int(nresults, 0, "a result for an id never handed out: "
	    "ignored");

	fake_result(second, TLS_FAILED);
	tap_is_int(nresults, 1, "the result of the current handoff is taken");
	tap_ok(last_id == second && last_status == TLS_FAILED,
	    "it is that handoff's");
	tap_ok(s->tlsd == -1, "the session waits no more");
	fake_result(second, TLS_OK);
	tap_is_int(nresults, 1, "a second result for the same handoff: "
	    "ignored");
}

static void
test_draining(struct session *s)
{
	int	sv[2];

	tap_ok(tls_available(), "before DRAINING: mmp-tlsd available");
	if (imsg_compose(&fake, IMSG_TLSD_DRAINING, 0, -1, NULL, 0) == -1 ||
	    imsgbuf_flush(&fake) == -1)
		tap_diag("fake mmp-tlsd: cannot send DRAINING");
	spin();
	tap_ok(!tls_available(), "DRAINING: no mmp-tlsd is available");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	close(sv[1]);
	errno = 0;
	tap_ok(tls_handoff(s, &sv[0], TLS_ROLE_SERVER, "127.0.0.1:5000",
	    "127.0.0.1:993", "") == -1 && errno == ENOENT && sv[0] == -1,
	    "a handoff finds no mmp-tlsd, the socket is closed");
	imsgbuf_clear(&fake);
	close(fake.fd);
	spin();
	tap_ok(env->tlsd[0].ch == NULL, "its channel's EOF closes the slot");
	tap_is_int(nlost, 0, "no session was waiting on it");
}

/* Open, nothing to read: no EOF from the relay's end. */
static int
still_open(int fd)
{
	char	c;

	spin();
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == -1 &&
	    errno == EAGAIN;
}

/*
 * A new channel for index 0 while the old one is open and its DRAINING
 * not read yet (it comes from that mmp-tlsd, the new channel from the
 * parent: either may be first). The old one is parked, not closed: its
 * sessions live in it. Its handshake under way fails.
 */
static void
test_replaced(struct session *s)
{
	struct imsgbuf		old;
	struct tls_result	r;
	struct msg_writer	w;
	int			a[2], b[2], lost = nlost, results = nresults;
	uint64_t		id = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, b) == -1)
		return;
	tap_ok(tls_channel(0, a[0], &test_tlsd_peer) == 0,
	    "replaced: a channel to mmp-tlsd 0 again");
	imsgbuf_init(&fake, a[1]);
	tap_ok(handoff(s) == 0 && (id = fake_take_handoff()) != 0,
	    "a handoff under way on it");
	tap_ok(tls_channel(0, b[0], &test_tlsd_peer) == 0,
	    "a new channel for index 0 before the old one's DRAINING");
	old = fake;
	imsgbuf_init(&fake, b[1]);
	tap_ok(still_open(a[1]), "the old channel stays open");
	tap_is_int(nlost, lost + 1, "its handshake under way failed");
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.status = TLS_OK;
	msg_writer_init(&w);
	tls_result_write(&w, &r);
	if (imsg_compose(&old, IMSG_TLSD_DRAINING, 0, -1, NULL, 0) == -1 ||
	    msg_compose(&old, IMSG_TLS_RESULT, 0, -1, &w) == -1 ||
	    imsgbuf_flush(&old) == -1)
		tap_diag("old mmp-tlsd: cannot send DRAINING and a result");
	spin();
	tap_ok(still_open(a[1]), "its DRAINING and a late result read, it "
	    "stays open");
	tap_ok(tls_available(), "the new one takes handoffs");
	tap_ok(handoff(s) == 0 && fake_take_handoff() != 0,
	    "a handoff goes to the new channel");
	tls_pending_clear(s);
	tap_is_int(nresults, results, "no result was taken for a session: "
	    "not the old one's late one either");
	imsgbuf_clear(&old);
	close(a[1]);
	spin();
	tap_ok(env->tlsd[0].ch != NULL && TAILQ_EMPTY(&env->tlsd_parked),
	    "the old one's EOF frees it; the new one serves on");
}

int
main(void)
{
	struct session	*s;
	int		 tl[2], pp[2];

	log_init("tls_test", 1, LOG_WARNING);
	if ((env = calloc(1, sizeof(*env))) == NULL ||
	    (env->base = event_base_new()) == NULL)
		return 1;
	RB_INIT(&env->handoffs);
	TAILQ_INIT(&env->tlsd_parked);
	env->nextid = env->nexthandoff = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, tl) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, pp) == -1)
		return 1;
	env->parent = chan_open(env->base, pp[0], &test_parent_peer, NULL);
	tap_ok(tls_channel(0, tl[0], &test_tlsd_peer) == 0,
	    "a channel to mmp-tlsd 0");
	imsgbuf_init(&fake, tl[1]);

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return 1;
	s->id = 0x42;
	s->svc = SVC_IMAP;
	s->tlsd = -1;

	test_late_result(s);
	test_draining(s);
	test_replaced(s);
	tls_close_all();

	free(s);
	close(pp[1]);
	return tap_done();
}
