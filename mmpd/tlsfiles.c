/*
 * The TLS files of a configuration (certificates, keys, passphrase, CAs):
 * checked at every load, and read again for each mmp-tlsd at each
 * configuration it gets, straight into a sealed memfd. The parent's copy
 * of the bytes is wiped at once, so no key lingers in the root process;
 * it never parses one either (mmpd has no libssl: only armor is checked).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "parent.h"
#include "tlsmsg.h"

#define TLSFILE_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
			    F_SEAL_SEAL)

/* One file of a configuration, and where the configuration names it. */
struct tlsfile {
	struct tls_file_hdr	 hdr;
	enum conf_key		 key;
	char			 where[96];	/* "ImapProxyAService.cfg:14" */
};

typedef int	(*tlsfile_fn)(const struct tlsfile *, void *, char *, size_t);

/* The bytes of one file, as long as the parent needs them. */
struct tlsfile_data {
	uint8_t		*buf;
	size_t		 len;
	size_t		 size;		/* allocated */
};

static void
tlsfile_data_wipe(struct tlsfile_data *d)
{
	if (d->buf != NULL)
		freezero(d->buf, d->size);
	memset(d, 0, sizeof(*d));
}

/*
 * Berkeley DB (hash and btree, at offset 0 as DB 1.85 writes it and at 12
 * as later versions do, either byte order) or SQLite: cert7.db, key3.db,
 * cert8.db, cert9.db, key4.db.
 */
static int
tlsfile_is_nss(const uint8_t *p, size_t len)
{
	static const uint32_t	magic[] = { 0x00061561, 0x00053162 };
	static const size_t	off[] = { 0, 12 };
	uint32_t		v;
	size_t			i, j;

	if (len >= 16 && memcmp(p, "SQLite format 3", 16) == 0)
		return 1;
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		if (len < off[i] + 4)
			continue;
		memcpy(&v, p + off[i], 4);
		for (j = 0; j < sizeof(magic) / sizeof(magic[0]); j++)
			if (v == magic[j] || __builtin_bswap32(v) == magic[j])
				return 1;
	}
	return 0;
}

/* What the content must be: PEM, but for the passphrase. */
static int
tlsfile_check_content(const struct tlsfile *f, const struct tlsfile_data *d,
    char *err, size_t errlen)
{
	const char	*name = conf_keyinfo(f->key)->name;

	if (d->len == 0) {
		(void)snprintf(err, errlen, "%s: %s %s is empty", f->where,
		    name, f->hdr.path);
		return -1;
	}
	if (f->hdr.kind == TLS_FILE_KEYPASS)
		return 0;
	if (tlsfile_is_nss(d->buf, d->len)) {
		(void)snprintf(err, errlen, "%s: %s %s is an NSS database; %s",
		    f->where, name, f->hdr.path, CONF_NSS_HINT);
		return -1;
	}
	if (memmem(d->buf, d->len, "-----BEGIN ", 11) == NULL) {
		(void)snprintf(err, errlen, "%s: %s %s is not PEM (no "
		    "\"-----BEGIN\" line; an NSS database or DER?); %s",
		    f->where, name, f->hdr.path, CONF_NSS_HINT);
		return -1;
	}
	return 0;
}

/* Read all of fd (size bytes as fstat saw them) into d. */
static int
tlsfile_read_fd(int fd, size_t size, struct tlsfile_data *d)
{
	ssize_t	n;

	d->size = size == 0 ? 1 : size;
	if ((d->buf = malloc(d->size)) == NULL)
		return -1;
	while (d->len < size) {
		n = read(fd, d->buf + d->len, size - d->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		d->len += n;
	}
	return 0;
}

/* The file's bytes into d: 0, or -1 with "file:line: Key path: why". */
static int
tlsfile_read(const struct tlsfile *f, struct tlsfile_data *d, char *err,
    size_t errlen)
{
	const char	*name = conf_keyinfo(f->key)->name;
	struct stat	 st;
	int		 fd, rv = -1;

	memset(d, 0, sizeof(*d));
	/* O_NONBLOCK: a FIFO in its place must not hang the parent. */
	if ((fd = open(f->hdr.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY)) == -1) {
		(void)snprintf(err, errlen, "%s: %s %s: cannot open: %s",
		    f->where, name, f->hdr.path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		(void)snprintf(err, errlen, "%s: %s %s is not a regular file",
		    f->where, name, f->hdr.path);
	else if (st.st_size > TLS_FILE_MAX_BYTES)
		(void)snprintf(err, errlen, "%s: %s %s is larger than %d "
		    "bytes", f->where, name, f->hdr.path, TLS_FILE_MAX_BYTES);
	else if (tlsfile_read_fd(fd, st.st_size, d) == -1)
		(void)snprintf(err, errlen, "%s: %s %s: cannot read: %s",
		    f->where, name, f->hdr.path, strerror(errno));
	else
		rv = tlsfile_check_content(f, d, err, errlen);
	if (rv == 0 && f->hdr.kind == TLS_FILE_KEY &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		log_warnx("%s: SSLKeyFile %s is accessible by group or others: "
		    "chmod 600 %s", f->where, f->hdr.path, f->hdr.path);
	close(fd);
	if (rv == -1)
		tlsfile_data_wipe(d);
	return rv;
}

/* f for the file of key in sect; 0, or -1 if the path does not fit. */
static int
tlsfile_init(struct tlsfile *f, const struct mmp_conf *conf, int sect,
    enum conf_key key, enum tls_file_kind kind, int index, const char *path)
{
	const struct conf_value	*cv = &conf->v[sect][key];

	memset(f, 0, sizeof(*f));
	f->key = key;
	f->hdr.sect = sect;
	f->hdr.kind = kind;
	f->hdr.index = index;
	if (cv->isset)
		(void)snprintf(f->where, sizeof(f->where), "%s:%d", cv->file,
		    cv->line);
	else
		(void)snprintf(f->where, sizeof(f->where), "%s (default)",
		    conf_section_file(sect));
	return strlcpy(f->hdr.path, path, sizeof(f->hdr.path)) <
	    sizeof(f->hdr.path) ? 0 : -1;
}

/* One file of a single-path key, if it names one. */
static int
tlsfile_one(const struct mmp_conf *conf, int sect, enum conf_key key,
    enum tls_file_kind kind, tlsfile_fn fn, void *arg, char *err,
    size_t errlen)
{
	const char	*path = conf_str(conf, sect, key);
	struct tlsfile	 f;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (tlsfile_init(&f, conf, sect, key, kind, 0, path) == -1) {
		(void)snprintf(err, errlen, "%s: path too long",
		    conf_keyinfo(key)->name);
		return -1;
	}
	return fn(&f, arg, err, errlen);
}

/* Each file of a list key, indexed in order: certificates, keys. */
static int
tlsfile_list(const struct mmp_conf *conf, int sect, enum conf_key key,
    enum tls_file_kind kind, tlsfile_fn fn, void *arg, char *err,
    size_t errlen)
{
	const char	*p = conf_str(conf, sect, key);
	char		 path[MMP_STR_BYTES];
	struct tlsfile	 f;
	int		 i;

	for (i = 0; p != NULL && i < TLS_CERTS_MAX &&
	    conf_path_next(&p, path, sizeof(path)) == 1; i++) {
		if (tlsfile_init(&f, conf, sect, key, kind, i, path) == -1 ||
		    fn(&f, arg, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Every file the configuration's TLS needs, in the order mmp-tlsd gets
 * them: per service, the server's files while SSLEnable is on, the
 * stores' CAs while it speaks TLS to its stores.
 */
static int
tlsfile_each(const struct mmp_conf *conf, tlsfile_fn fn, void *arg,
    char *err, size_t errlen)
{
	int	sect;

	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++) {
		if (conf_tls_server(conf, sect) && (
		    tlsfile_list(conf, sect, CK_SSLCERTFILE, TLS_FILE_CERT, fn,
		    arg, err, errlen) == -1 ||
		    tlsfile_list(conf, sect, CK_SSLKEYFILE, TLS_FILE_KEY, fn,
		    arg, err, errlen) == -1 ||
		    tlsfile_one(conf, sect, CK_SSLKEYPASSWDFILE,
		    TLS_FILE_KEYPASS, fn, arg, err, errlen) == -1 ||
		    tlsfile_one(conf, sect, CK_SSLCLIENTCAFILE,
		    TLS_FILE_CLIENT_CA, fn, arg, err, errlen) == -1))
			return -1;
		if (conf_tls_store(conf, sect) &&
		    tlsfile_one(conf, sect, CK_SSLSTORECAFILE,
		    TLS_FILE_STORE_CA, fn, arg, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static int
tlsfile_check_one(const struct tlsfile *f, void *arg, char *err,
    size_t errlen)
{
	struct tlsfile_data	d;

	(void)arg;
	if (tlsfile_read(f, &d, err, errlen) == -1)
		return -1;
	tlsfile_data_wipe(&d);
	return 0;
}

int
tlsfiles_check(const struct mmp_conf *conf, char *err, size_t errlen)
{
	return tlsfile_each(conf, tlsfile_check_one, NULL, err, errlen);
}

/* A sealed memfd holding d, at offset 0; -1 on failure. */
static int
tlsfile_memfd(const struct tlsfile_data *d)
{
	size_t	off = 0;
	ssize_t	n;
	int	fd, saved;

	if ((fd = memfd_create("mmpd-tls", MFD_CLOEXEC | MFD_ALLOW_SEALING))
	    == -1)
		return -1;
	while (off < d->len) {
		if ((n = write(fd, d->buf + off, d->len - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += n;
	}
	if (fcntl(fd, F_ADD_SEALS, TLSFILE_SEALS) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1)
		goto fail;
	return fd;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
tlsfile_send_one(const struct tlsfile *f, void *arg, char *err,
    size_t errlen)
{
	struct chan		*ch = arg;
	struct tlsfile_data	 d;
	struct msg_writer	 w;
	int			 fd;

	if (tlsfile_read(f, &d, err, errlen) == -1)
		return -1;
	fd = tlsfile_memfd(&d);
	tlsfile_data_wipe(&d);
	if (fd == -1) {
		(void)snprintf(err, errlen, "%s: %s %s: memfd: %s", f->where,
		    conf_keyinfo(f->key)->name, f->hdr.path, strerror(errno));
		return -1;
	}
	msg_writer_init(&w);
	if (tls_file_hdr_write(&w, &f->hdr) == -1) {
		close(fd);
		(void)snprintf(err, errlen, "%s: %s: out of range", f->where,
		    f->hdr.path);
		return -1;
	}
	/* The channel owns fd from here and closes it once it is sent. */
	if (chan_compose_msg(ch, IMSG_CONF_TLSFILE, 0, fd, &w) == -1) {
		(void)snprintf(err, errlen, "cannot queue IMSG_CONF_TLSFILE");
		return -1;
	}
	return 0;
}

int
tlsfiles_send(struct chan *ch, const struct mmp_conf *conf, char *err,
    size_t errlen)
{
	return tlsfile_each(conf, tlsfile_send_one, ch, err, errlen);
}
