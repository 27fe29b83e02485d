/*
 * mmp-tlsd's TLS configuration: the files each configuration brings
 * (IMSG_CONF_TLSFILE, sealed memfds), the contexts built from them and
 * swapped in whole at CONF_END or not at all, and the session ticket keys
 * those contexts seal and open tickets with.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tlsd.h"

/* Key material is wiped, not merely freed. */
static void
ctxs_file_clear(struct tls_file *f)
{
	freezero(f->buf, f->len);
	memset(f, 0, sizeof(*f));
}

static void
ctxs_files_clear(void)
{
	struct tls_files	*fs;
	int			 sect, i;

	for (sect = 0; sect < CONF_NSECT; sect++) {
		fs = &env->files[sect];
		for (i = 0; i < TLS_CERTS_MAX; i++) {
			ctxs_file_clear(&fs->cert[i]);
			ctxs_file_clear(&fs->key[i]);
		}
		ctxs_file_clear(&fs->keypass);
		ctxs_file_clear(&fs->client_ca);
		ctxs_file_clear(&fs->store_ca);
	}
}

static void
ctxs_free(struct tlsd_ctxs *c)
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
ctxs_build(const struct mmp_conf *conf, struct tlsd_ctxs *c, char *err,
    size_t errlen)
{
	int	sect;

	memset(c, 0, sizeof(*c));
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++) {
		if (server_build(sect, &env->files[sect], conf, &c->srv[sect],
		    err, errlen) == -1 ||
		    client_build(sect, &env->files[sect], conf, &c->cli[sect],
		    err, errlen) == -1) {
			ctxs_free(c);
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
ctxs_file_read(int fd, struct tls_file *f)
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
			ctxs_file_clear(f);
			return;
		}
		off += n;
	}
}

/* IMSG_CONF_TLSFILE: fd = sealed memfd; struct tls_file_hdr. */
int
ctxs_conf_file(struct imsg *imsg)
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
	ctxs_file_clear(f);
	(void)strlcpy(f->path, h.path, sizeof(f->path));
	ctxs_file_read(imsg->fd, f);
	return CHAN_OK;
}

static void
ctxs_tickets_clear(void)
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
 * The parent checks only that the files exist and look like PEM; the
 * rest (a key that does not match, garbage inside the armor) shows here.
 * A configuration whose files make no contexts: at start there is
 * nothing to serve (the parent restarts us and logs why each time); on a
 * reload the old contexts serve on, the rest of the configuration
 * applies, and the parent is told (TLS_CONF_KEPT) so that its own word
 * on the reload says so too.
 */
static void
ctxs_conf_apply(struct mmp_conf *conf, uint32_t gen)
{
	struct tlsd_ctxs	 nc;
	struct msg_writer	 w;
	char			 err[MMP_STR_BYTES + 256];
	int			 kept = 0;

	if (ctxs_build(conf, &nc, err, sizeof(err)) == -1) {
		if (env->conf == NULL)
			fatalx("%s", err);
		log_svc(LOG_SVC_MMP, LOG_ERR, "configuration %u: TLS part "
		    "refused: %s; the certificates and TLS settings of "
		    "configuration %u stay in use", gen, err, env->tls_gen);
		kept = 1;
	} else {
		ctxs_free(&env->ctxs);
		env->ctxs = nc;
		env->tls_gen = gen;
	}
	ctxs_files_clear();
	conf_free(env->conf);
	env->conf = conf;
	env->gen = gen;
	conf_log_levels(conf, env->verbose);
	/* The parent sends no keys then; older ones must not go on. */
	if (conf_num(conf, CONF_GLOBAL, CK_SSLSESSIONLIFETIME) == 0)
		ctxs_tickets_clear();
	log_info("configuration %u applied", gen);
	if (!env->started)
		return;
	if (kept) {
		msg_writer_init(&w);
		msg_add_u32(&w, gen);
		msg_add_u32(&w, env->tls_gen);
		if (chan_compose_msg(env->parent, IMSG_TLS_CONF_KEPT, 0, -1,
		    &w) == -1)
			fatal("IMSG_TLS_CONF_KEPT");
	}
	tlsd_send_ready();
}

/* Same code as the parent's: one refused here is a stream not trusted. */
int
ctxs_conf_imsg(struct imsg *imsg)
{
	struct mmp_conf	*conf = NULL;
	uint32_t	 gen;
	char		 err[512];
	int		 r;

	if (imsg->hdr.type == IMSG_CONF_START)
		ctxs_files_clear();
	r = conf_rx_imsg(&env->rx, imsg, &conf, &gen, err, sizeof(err));
	if (r == -1) {
		ctxs_files_clear();
		log_warnx("configuration from parent refused: %s", err);
		return CHAN_BAD;
	}
	if (r == 1)
		ctxs_conf_apply(conf, gen);
	return CHAN_OK;
}

/* IMSG_TLS_TICKET_KEYS: the set replaces the old one, which is wiped. */
int
ctxs_ticket_keys(struct imsg *imsg)
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

/* At exit: contexts, files and keys, the secrets wiped. */
void
ctxs_clear(void)
{
	ctxs_free(&env->ctxs);
	ctxs_files_clear();
	if (env->tickets != NULL)
		freezero(env->tickets, sizeof(*env->tickets));
	env->tickets = NULL;
}
