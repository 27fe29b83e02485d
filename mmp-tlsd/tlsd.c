/*
 * mmp-tlsd: started by the parent as `mmp-tlsd [-v] -i INDEX` with the
 * parent channel on fd 3. It reads its first configuration (with the
 * certificates and keys), confines itself, then does the TLS sessions the
 * relay workers hand it; reloads, ticket keys and relay channels arrive
 * on fd 3 later.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "log.h"
#include "logsink.h"
#include "sandbox.h"
#include "tlsd.h"

struct tlsd	*env;

static void	tlsd_exit(int) __attribute__((__noreturn__));
static int	tlsd_dispatch_parent(struct chan *, struct imsg *);
static void	tlsd_lost_parent(struct chan *, const char *);
static void	tlsd_parent_drained(struct chan *);
static int	tlsd_dispatch_relay(struct chan *, struct imsg *);
static void	tlsd_lost_relay(struct chan *, const char *);
static void	tlsd_relay_close(struct tlsd_relay *);

enum tlsd_peer {
	TLSD_PARENT,
	TLSD_RELAY,
};

/* mmp-tlsd's peers: the parent, and each relay on a channel it hands us. */
static const struct chan_peer tlsd_peers[] = {
	[TLSD_PARENT] = { "parent", tlsd_dispatch_parent, tlsd_lost_parent,
	    tlsd_parent_drained },
	[TLSD_RELAY] = { "relay", tlsd_dispatch_relay, tlsd_lost_relay,
	    NULL },
};

static void
usage(void)
{
	fprintf(stderr, "usage: mmp-tlsd [-v] -i index\n");
	exit(1);
}

/* ---- files and contexts ------------------------------------------ */

/* Key material is wiped, not merely freed. */
static void
tlsd_file_clear(struct tls_file *f)
{
	freezero(f->buf, f->len);
	memset(f, 0, sizeof(*f));
}

static void
tlsd_files_clear(void)
{
	struct tls_files	*fs;
	int			 sect, i;

	for (sect = 0; sect < CONF_NSECT; sect++) {
		fs = &env->files[sect];
		for (i = 0; i < TLS_CERTS_MAX; i++) {
			tlsd_file_clear(&fs->cert[i]);
			tlsd_file_clear(&fs->key[i]);
		}
		tlsd_file_clear(&fs->keypass);
		tlsd_file_clear(&fs->client_ca);
		tlsd_file_clear(&fs->store_ca);
	}
}

static void
tlsd_ctxs_free(struct tlsd_ctxs *c)
{
	int	sect;

	for (sect = 0; sect < CONF_NSECT; sect++) {
		server_set_unref(c->srv[sect]);
		client_set_unref(c->cli[sect]);
		c->srv[sect] = NULL;
		c->cli[sect] = NULL;
	}
}

/* Every context of a configuration, or none: err names file and reason. */
static int
tlsd_ctxs_build(const struct mmp_conf *conf, struct tlsd_ctxs *c, char *err,
    size_t errlen)
{
	int	sect;

	memset(c, 0, sizeof(*c));
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++) {
		if (server_build(sect, &env->files[sect], conf, &c->srv[sect],
		    err, errlen) == -1 ||
		    client_build(sect, &env->files[sect], conf, &c->cli[sect],
		    err, errlen) == -1) {
			tlsd_ctxs_free(c);
			return -1;
		}
	}
	return 0;
}

/*
 * The memfd's bytes (the parent sealed it). A file over the limit or one
 * that cannot be read is remembered with why: a configuration error of
 * that file at CONF_END, not a broken protocol.
 */
static void
tlsd_file_read(int fd, struct tls_file *f)
{
	struct stat	st;
	ssize_t		n;
	size_t		off = 0;

	if (fstat(fd, &st) == -1) {
		(void)snprintf(f->why, sizeof(f->why), "fstat: %s",
		    strerror(errno));
		return;
	}
	if (st.st_size < 0 || st.st_size > TLS_FILE_MAX_BYTES) {
		(void)snprintf(f->why, sizeof(f->why), "larger than %d bytes",
		    TLS_FILE_MAX_BYTES);
		return;
	}
	f->len = st.st_size;
	if ((f->buf = calloc(1, f->len + 1)) == NULL) {
		(void)strlcpy(f->why, "out of memory", sizeof(f->why));
		f->len = 0;
		return;
	}
	while (off < f->len) {
		n = pread(fd, f->buf + off, f->len - off, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)snprintf(f->why, sizeof(f->why), "read: %s",
			    n == 0 ? "short" : strerror(errno));
			tlsd_file_clear(f);
			return;
		}
		off += n;
	}
}

/* IMSG_CONF_TLSFILE: fd = sealed memfd; struct tls_file_hdr. */
static int
tlsd_conf_file(struct imsg *imsg)
{
	struct tls_file_hdr	 h;
	struct tls_files	*fs;
	struct tls_file		*f;

	if (tls_file_hdr_read(imsg, &h) == -1 || env->rx.conf == NULL)
		return CHAN_BAD;
	fs = &env->files[h.sect];
	switch (h.kind) {
	case TLS_FILE_CERT:
		f = &fs->cert[h.index];
		break;
	case TLS_FILE_KEY:
		f = &fs->key[h.index];
		break;
	case TLS_FILE_KEYPASS:
		f = &fs->keypass;
		break;
	case TLS_FILE_CLIENT_CA:
		f = &fs->client_ca;
		break;
	default:
		f = &fs->store_ca;
		break;
	}
	tlsd_file_clear(f);
	(void)strlcpy(f->path, h.path, sizeof(f->path));
	tlsd_file_read(imsg->fd, f);
	return CHAN_OK;
}

static void
tlsd_send_ready(void)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	msg_add_u32(&w, env->gen);
	if (chan_compose_msg(env->parent, IMSG_READY, 0, -1, &w) == -1)
		fatal("IMSG_READY");
}

static void
tlsd_tickets_clear(void)
{
	int	sect;

	if (env->tickets == NULL)
		return;
	freezero(env->tickets, sizeof(*env->tickets));
	env->tickets = NULL;
	for (sect = 0; sect < CONF_NSECT; sect++)
		server_tickets_changed(env->ctxs.srv[sect]);
}

/*
 * A configuration whose files do not make contexts: at start there is
 * nothing to serve (the parent restarts us and logs why each time); on a
 * reload the old contexts serve on, and the reload still completes.
 */
static void
tlsd_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct tlsd_ctxs	 nc;
	char			 err[MMP_STR_BYTES + 256];

	if (tlsd_ctxs_build(conf, &nc, err, sizeof(err)) == -1) {
		if (env->conf == NULL)
			fatalx("%s", err);
		log_svc(LOG_SVC_MMP, LOG_ERR, "%s; configuration %u: "
		    "keeping the previous certificates and TLS settings", err,
		    gen);
	} else {
		tlsd_ctxs_free(&env->ctxs);
		env->ctxs = nc;
	}
	tlsd_files_clear();
	conf_free(env->conf);
	env->conf = conf;
	env->gen = gen;
	conf_log_levels(conf, env->verbose);
	/* The parent sends no keys then; older ones must not go on. */
	if (conf_num(conf, CONF_GLOBAL, CK_SSLSESSIONLIFETIME) == 0)
		tlsd_tickets_clear();
	log_info("configuration %u applied", gen);
	if (env->started)
		tlsd_send_ready();
}

/* Same code as the parent's: one refused here is a stream not trusted. */
static int
tlsd_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf = NULL;
	uint32_t	 gen;
	char		 err[512];
	int		 r;

	if (imsg->hdr.type == IMSG_CONF_START)
		tlsd_files_clear();
	r = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (r == -1) {
		tlsd_files_clear();
		log_warnx("configuration from parent refused: %s", err);
		return CHAN_BAD;
	}
	if (r == 1)
		tlsd_conf_apply(conf, gen);
	return CHAN_OK;
}

/* IMSG_TLS_TICKET_KEYS: the set replaces the old one, which is wiped. */
static int
tlsd_ticket_keys(struct imsg *imsg)
{
	struct tls_ticket_keys	*k;
	int			 sect;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("calloc");
	if (tls_ticket_keys_read(imsg, k) == -1) {
		freezero(k, sizeof(*k));
		return CHAN_BAD;
	}
	if (env->tickets != NULL)
		freezero(env->tickets, sizeof(*env->tickets));
	env->tickets = k;
	for (sect = 0; sect < CONF_NSECT; sect++)
		server_tickets_changed(env->ctxs.srv[sect]);
	log_debug("%u session ticket keys, lifetime %u s", k->n,
	    k->lifetime_sec);
	return CHAN_OK;
}

/* ---- relays ------------------------------------------------------ */

int
tlsd_send_result(struct tlsd_relay *r, const struct tls_result *res)
{
	struct msg_writer	w;

	msg_writer_init(&w);
	tls_result_write(&w, res);
	return chan_compose_msg(r->chan, IMSG_TLS_RESULT, 0, -1, &w);
}

/* Its sessions end with it: their results have nowhere to go. */
static void
tlsd_relay_close(struct tlsd_relay *r)
{
	struct conn	*c;

	if (r->pending != NULL)
		conn_free(r->pending);
	while ((c = RB_MIN(conn_tree, &r->conns)) != NULL)
		conn_free(c);
	chan_close(r->chan);
	TAILQ_REMOVE(&env->relays, r, entry);
	env->nrelays--;
	free(r);
}

/* A relay: sessions to start. */
static int
tlsd_dispatch_relay(struct chan *ch, struct imsg *imsg)
{
	struct tlsd_relay	*r = chan_arg(ch);

	switch (imsg->hdr.type) {
	case IMSG_TLS_START:
		return conn_start(r, imsg);
	case IMSG_TLS_PLAIN:
		return conn_plain(r, imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* A relay that left or broke the protocol loses its channel, only it. */
static void
tlsd_lost_relay(struct chan *ch, const char *why)
{
	struct tlsd_relay	*r = chan_arg(ch);

	if (why == NULL)
		log_debug("relay %u closed its channel", r->idx);
	else
		log_warnx("relay %u %s: channel closed", r->idx, why);
	tlsd_relay_close(r);
}

/*
 * IMSG_RELAY_CHANNEL: fd = socket to relay idx; u32 idx. A relay has one
 * channel to each mmp-tlsd: a new one for an index replaces the old (the
 * relay was restarted, or gave the old one up).
 */
static int
tlsd_relay_add(struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct tlsd_relay	*r, *old;
	uint32_t		 idx;

	msg_reader_init(&rd, imsg);
	if (msg_get_u32(&rd, &idx) == -1 || msg_end(&rd) == -1)
		return CHAN_BAD;
	TAILQ_FOREACH(old, &env->relays, entry)
		if (old->idx == idx)
			break;
	if (old != NULL) {
		log_info("relay %u: new channel replaces the old one", idx);
		tlsd_relay_close(old);
	}
	if (env->nrelays >= TLSD_RELAYS_MAX) {
		log_warnx("relay %u: more than %d relay channels; refused",
		    idx, TLSD_RELAYS_MAX);
		return CHAN_OK;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->idx = idx;
	RB_INIT(&r->conns);
	if ((r->chan = chan_open(env->evb, imsg->fd, &tlsd_peers[TLSD_RELAY],
	    r)) == NULL) {
		log_warn("relay %u: channel", idx);
		free(r);
		return CHAN_OK;
	}
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&env->relays, r, entry);
	env->nrelays++;
	log_debug("relay %u: channel open", idx);
	return CHAN_OK;
}

/* ---- the parent -------------------------------------------------- */

/* The parent: configurations with their files, ticket keys, relays. */
static int
tlsd_dispatch_parent(struct chan *ch, struct imsg *imsg)
{
	(void)ch;
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
	case IMSG_CONF_KV:
	case IMSG_CONF_END:
		return tlsd_conf_imsg(imsg);
	case IMSG_CONF_TLSFILE:
		return tlsd_conf_file(imsg);
	case IMSG_TLS_TICKET_KEYS:
		return tlsd_ticket_keys(imsg);
	case IMSG_RELAY_CHANNEL:
		return tlsd_relay_add(imsg);
	default:
		return CHAN_UNEXPECTED;
	}
}

/* EOF: nobody supervises us any more; garbage: no parent to serve. */
static void
tlsd_lost_parent(struct chan *ch, const char *why)
{
	(void)ch;
	if (why == NULL)
		tlsd_exit(0);
	fatalx("parent %s", why);
}

static void
tlsd_parent_drained(struct chan *ch)
{
	(void)ch;
	logsink_written();
}

static int
tlsd_configured(void)
{
	return env->conf != NULL;
}

/* ---- start and stop ---------------------------------------------- */

static void
tlsd_exit(int code)
{
	struct tlsd_relay	*r;

	while ((r = TAILQ_FIRST(&env->relays)) != NULL)
		tlsd_relay_close(r);
	tlsd_ctxs_free(&env->ctxs);
	tlsd_files_clear();
	if (env->tickets != NULL)
		freezero(env->tickets, sizeof(*env->tickets));
	conf_rx_clear(&env->rx);
	conf_free(env->conf);
	(void)chan_flush(env->parent);
	logsink_init(NULL);
	chan_close(env->parent);
	event_base_free(env->evb);
	free(env);
	env = NULL;
	exit(code);
}

static void
tlsd_setup(int verbose, uint32_t index)
{
	if ((env = calloc(1, sizeof(*env))) == NULL)
		fatal("calloc");
	env->verbose = verbose;
	env->index = index;
	TAILQ_INIT(&env->relays);
	if ((env->evb = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((env->parent = chan_open(env->evb, MMP_CHILD_FD,
	    &tlsd_peers[TLSD_PARENT], NULL)) == NULL)
		fatalx("parent channel: cannot watch it");
	logsink_init(env->parent);
	/* Lines go to the parent: no syslog socket in the sandbox. */
	closelog();
}

static void
tlsd_confine(void)
{
	sandbox_drop(conf_str(env->conf, CONF_GLOBAL, CK_CHROOTDIR),
	    conf_str(env->conf, CONF_GLOBAL, CK_TLSUSER));
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

int
main(int argc, char *argv[])
{
	const char	*errstr;
	uint32_t	 index = 0;
	int		 ch, verbose = 0, have_index = 0;

	while ((ch = getopt(argc, argv, "i:v")) != -1) {
		switch (ch) {
		case 'i':
			index = strtonum(optarg, 0, UINT32_MAX / 2, &errstr);
			if (errstr != NULL)
				usage();
			have_index = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_index)
		usage();
	if (fcntl(MMP_CHILD_FD, F_GETFD) == -1) {
		fprintf(stderr, "mmp-tlsd: no parent channel on fd %d: "
		    "mmp-tlsd is started by mmpd\n", MMP_CHILD_FD);
		exit(1);
	}
	log_init("tlsd", 0, verbose ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);	/* a peer gone is a write error */
	signal(SIGHUP, SIG_IGN);	/* the parent sends reloads */
	signal(SIGINT, SIG_IGN);	/* and decides when to stop */
	if (fcntl(MMP_CHILD_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd %d", MMP_CHILD_FD);
	tlsd_setup(verbose, index);
	/* Everything OpenSSL would open later, opened now. */
	server_init();
	chan_first_conf(env->parent, tlsd_configured);
	tlsd_confine();
	env->started = 1;
	tlsd_send_ready();
	event_base_dispatch(env->evb);
	tlsd_exit(0);
}
