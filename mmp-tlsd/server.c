/*
 * The server side, toward mail clients, on libssl directly: libtls
 * (LibreTLS 3.7) cannot issue session tickets (it sends neither a ticket
 * nor a session id, whatever tls_config_set_session_id, _lifetime and
 * add_ticket_key are given), cannot read an encrypted key from memory and
 * hands out no parsed certificate subject. One SSL_CTX per certificate,
 * chosen by SNI, with the ticket keys the parent gives every mmp-tlsd.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tlsd.h"

/* What the password callback reads: the passphrase, or none. */
struct server_pass {
	const struct tls_file	*file;
	int			 asked;
};

/*
 * Everything OpenSSL and libtls would load lazily, loaded now, before the
 * sandbox forbids opening files: providers, algorithms, the DRBG, error
 * strings. The system's openssl.cnf is not read: SSLProtocols and
 * SSLCipherSpecs say what mmpd does, not a file outside its configuration.
 */
void
server_init(void)
{
	struct tls_config	*tc;
	struct tls		*t;
	EVP_CIPHER		*cipher;
	EVP_MAC			*mac;
	EVP_MD			*md;
	SSL_CTX			*ctx;
	SSL			*ssl;
	unsigned char		 b[32];

	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
	    NULL) != 1)
		fatalx("OpenSSL cannot be initialised");
	if (RAND_bytes(b, sizeof(b)) != 1 || RAND_priv_bytes(b,
	    sizeof(b)) != 1)
		fatalx("OpenSSL has no randomness");
	explicit_bzero(b, sizeof(b));
	if ((cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL ||
	    (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatalx("OpenSSL lacks AES-256-CBC, HMAC or SHA256");
	EVP_CIPHER_free(cipher);
	EVP_MAC_free(mac);
	EVP_MD_free(md);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL)
		fatalx("OpenSSL cannot make a TLS context");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (tls_init() == -1 || (tc = tls_config_new()) == NULL ||
	    (t = tls_client()) == NULL || tls_configure(t, tc) == -1)
		fatalx("libtls cannot be initialised");
	tls_free(t);
	tls_config_free(tc);
	if ((env->ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) == -1)
		fatalx("SSL_get_ex_new_index failed");
}

/* The last OpenSSL error, as a reason for the log; clears the queue. */
void
server_errstr(char *buf, size_t len, const char *dflt)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	(void)snprintf(buf, len, "%s", r != NULL ? r : dflt);
	ERR_clear_error();
}

/* "TLSv1.2 TLSv1.3", either or both: the range of versions. */
int
tlsd_protocols(const char *s, int *min, int *max)
{
	char	 word[16];
	size_t	 len;

	*min = *max = 0;
	for (;;) {
		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		len = strcspn(s, " \t,");
		if (len >= sizeof(word))
			return -1;
		memcpy(word, s, len);
		word[len] = '\0';
		s += len;
		if (strcasecmp(word, "TLSv1.2") == 0) {
			*min = TLS1_2_VERSION;
			if (*max == 0)
				*max = TLS1_2_VERSION;
		} else if (strcasecmp(word, "TLSv1.3") == 0) {
			if (*min == 0)
				*min = TLS1_3_VERSION;
			*max = TLS1_3_VERSION;
		} else
			return -1;
	}
	return *min == 0 ? -1 : 0;
}

/* SSLCipherSpecs "all": ECDHE and AEAD only for TLS 1.2. */
const char *
tlsd_ciphers(const char *spec)
{
	return strcasecmp(spec, "all") == 0 ? TLSD_CIPHERS_ALL : spec;
}

/* The first line of SSLKeyPasswdFile, never a path. */
static int
server_pass_cb(char *buf, int size, int rwflag, void *arg)
{
	struct server_pass	*p = arg;
	size_t			 len;

	(void)rwflag;
	p->asked = 1;
	if (p->file == NULL || p->file->buf == NULL)
		return -1;
	len = strcspn((const char *)p->file->buf, "\r\n");
	if (len > p->file->len)
		len = p->file->len;
	if (len >= (size_t)size)
		return -1;
	memcpy(buf, p->file->buf, len);
	return (int)len;
}

static int
server_file_err(const struct tls_file *f, const char *what, char *err,
    size_t errlen)
{
	(void)snprintf(err, errlen, "%s %s: %s", what, f->path[0] != '\0' ?
	    f->path : "(not sent)", f->why[0] != '\0' ? f->why : "missing");
	return -1;
}

/* A PEM file, or one of the NSS databases the product used. */
static int
server_is_pem(const struct tls_file *f)
{
	return f->buf != NULL && memmem(f->buf, f->len, "-----BEGIN ",
	    11) != NULL;
}

/*
 * Each certificate of a PEM file, in order, to fn (its number from 0);
 * fn returns -1 to stop at one it cannot take. 0 when every one was
 * taken and there was at least one, else -1 with the reason in err,
 * named by key ("SSLCertFile") and the file's path.
 */
static int
server_each_cert(const struct tls_file *f, const char *key,
    int (*fn)(X509 *, int, void *), void *arg, char *err, size_t errlen)
{
	BIO	*bio;
	X509	*x;
	char	 why[128];
	int	 n = 0, stopped = 0;

	if (!server_is_pem(f))
		return server_file_err(f, key, err, errlen);
	if ((bio = BIO_new_mem_buf(f->buf, (int)f->len)) == NULL)
		fatalx("BIO_new_mem_buf");
	while (!stopped && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) !=
	    NULL) {
		stopped = fn(x, n++, arg) == -1;
		X509_free(x);
	}
	BIO_free(bio);
	if (!stopped && n > 0 &&
	    ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 0;
	}
	server_errstr(why, sizeof(why), "no certificate in it");
	(void)snprintf(err, errlen, "%s %s: %s", key, f->path, why);
	return -1;
}

/* One certificate of a chain: the leaf first, then its CAs. */
static int
server_chain_cert(X509 *x, int n, void *arg)
{
	SSL_CTX	*ctx = arg;

	return (n == 0 ? SSL_CTX_use_certificate(ctx, x) :
	    SSL_CTX_add1_chain_cert(ctx, x)) == 1 ? 0 : -1;
}

/* A chain, leaf first, into ctx. */
static int
server_load_chain(SSL_CTX *ctx, const struct tls_file *f, char *err,
    size_t errlen)
{
	return server_each_cert(f, "SSLCertFile", server_chain_cert, ctx, err,
	    errlen);
}

static int
server_load_key(SSL_CTX *ctx, const struct tls_file *f,
    const struct tls_file *pass, char *err, size_t errlen)
{
	struct server_pass	 p = { pass, 0 };
	EVP_PKEY		*pk;
	BIO			*bio;
	char			 why[128];

	if (!server_is_pem(f))
		return server_file_err(f, "SSLKeyFile", err, errlen);
	if ((bio = BIO_new_mem_buf(f->buf, (int)f->len)) == NULL)
		fatalx("BIO_new_mem_buf");
	pk = PEM_read_bio_PrivateKey(bio, NULL, server_pass_cb, &p);
	BIO_free(bio);
	if (pk == NULL) {
		server_errstr(why, sizeof(why), "no key in it");
		if (p.asked && (pass == NULL || pass->buf == NULL))
			(void)strlcpy(why, "the key is encrypted and no "
			    "SSLKeyPasswdFile was given", sizeof(why));
		else if (p.asked)
			(void)strlcpy(why, "wrong passphrase (SSLKeyPasswdFile)"
			    " or damaged key", sizeof(why));
		(void)snprintf(err, errlen, "SSLKeyFile %s: %s", f->path, why);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(pk);
		ERR_clear_error();
		(void)snprintf(err, errlen, "SSLKeyFile %s: the key does not "
		    "match the certificate", f->path);
		return -1;
	}
	EVP_PKEY_free(pk);
	return 0;
}

/* Where the certificates of a CA bundle go. */
struct server_cas {
	X509_STORE		*store;
	STACK_OF(X509_NAME)	*names;
};

static int
server_ca_cert(X509 *x, int n, void *arg)
{
	struct server_cas	*cas = arg;
	X509_NAME		*nm;

	(void)n;
	if (cas->store != NULL && X509_STORE_add_cert(cas->store, x) != 1)
		ERR_clear_error();	/* a duplicate */
	if (cas->names != NULL) {
		if ((nm = X509_NAME_dup(X509_get_subject_name(x))) == NULL ||
		    sk_X509_NAME_push(cas->names, nm) == 0)
			fatalx("out of memory");
	}
	return 0;
}

/*
 * Certificates of a CA bundle, from memory. The X509_NAMEs go to the
 * client CA list when names is not NULL.
 */
int
server_load_cas(const struct tls_file *f, const char *key,
    X509_STORE *store, STACK_OF(X509_NAME) *names, char *err, size_t errlen)
{
	struct server_cas	cas = { store, names };

	return server_each_cert(f, key, server_ca_cert, &cas, err, errlen);
}

/*
 * The session ticket keys: the newest seals, any opens (by name); one
 * opened by an older key is sealed again with the newest (return 2). So
 * is every TLS 1.3 one: a client uses a 1.3 ticket once (RFC 8446 C.4;
 * OpenSSL's client marks its session spent), and a resumption that left
 * it no new ticket would make its next connection a full handshake.
 */
static int
server_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_ticket_keys	*ks = env->tickets;
	const struct tls_ticket_key	*k;
	OSSL_PARAM			 params[3];
	uint32_t			 i;

	if (ks == NULL || ks->n == 0)
		return 0;
	if (enc) {
		i = 0;
		k = &ks->key[0];
		memcpy(name, k->name, TLS_TICKET_NAME_BYTES);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(
		    EVP_aes_256_cbc())) != 1 ||
		    EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	} else {
		for (i = 0; i < ks->n; i++)
			if (memcmp(name, ks->key[i].name,
			    TLS_TICKET_NAME_BYTES) == 0)
				break;
		if (i == ks->n)
			return 0;	/* unknown key: a full handshake */
		k = &ks->key[i];
		if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

/*
 * A client certificate never fails the handshake: the relay decides what
 * an unverified one means (certificate login or not). The first error is
 * kept for the result.
 */
static int
server_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl;
	struct conn	*c;

	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (!ok && ssl != NULL &&
	    (c = SSL_get_ex_data(ssl, env->ssl_idx)) != NULL &&
	    c->verify_err == 0)
		c->verify_err = X509_STORE_CTX_get_error(xs);
	return 1;
}

/*
 * SNI: the first certificate whose names (subjectAltName DNS, else CN)
 * match, exactly or by a wildcard for one label; none: the first.
 */
static int
server_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct conn	*c = SSL_get_ex_data(ssl, env->ssl_idx);
	const char	*name;
	X509		*x;
	size_t		 i;

	(void)alert;
	(void)arg;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (c == NULL || c->srv == NULL || name == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < c->srv->n; i++) {
		x = SSL_CTX_get0_certificate(c->srv->ctx[i]);
		if (x != NULL && X509_check_host(x, name, 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
			break;
	}
	if (i > 0 && i < c->srv->n &&
	    SSL_set_SSL_CTX(ssl, c->srv->ctx[i]) == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

/* Tickets only while there are keys to seal them with. */
static void
server_ctx_tickets(SSL_CTX *ctx)
{
	if (env->tickets != NULL) {
		SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_timeout(ctx, env->tickets->lifetime_sec);
	} else
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
}

void
server_tickets_changed(struct srv_set *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		server_ctx_tickets(s->ctx[i]);
}

/* The settings every certificate's context of a section shares. */
static int
server_ctx_settings(SSL_CTX *ctx, int sect, const struct mmp_conf *conf,
    char *err, size_t errlen)
{
	const char	*protos, *spec;
	char		 sid[16], why[128];
	int		 min, max;

	protos = conf_str(conf, sect, CK_SSLPROTOCOLS);
	if (tlsd_protocols(protos, &min, &max) == -1) {
		(void)snprintf(err, errlen, "%s: SSLProtocols \"%s\": only "
		    "TLSv1.2 and TLSv1.3", conf_section_file(sect), protos);
		return -1;
	}
	spec = conf_str(conf, sect, CK_SSLCIPHERSPECS);
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, tlsd_ciphers(spec)) != 1) {
		server_errstr(why, sizeof(why), "refused");
		(void)snprintf(err, errlen, "%s: SSLCipherSpecs \"%s\": %s",
		    conf_section_file(sect), spec, why);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Stateless tickets only: any mmp-tlsd resumes any client. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	(void)snprintf(sid, sizeof(sid), "mmpd%d", sect);
	if (SSL_CTX_set_session_id_context(ctx, (unsigned char *)sid,
	    strlen(sid)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, server_ticket_cb) != 1)
		fatalx("SSL_CTX settings");
	SSL_CTX_set_tlsext_servername_callback(ctx, server_sni_cb);
	server_ctx_tickets(ctx);
	return 0;
}

static int
server_ctx_client_ca(SSL_CTX *ctx, const struct tls_file *f, char *err,
    size_t errlen)
{
	STACK_OF(X509_NAME)	*names;

	if ((names = sk_X509_NAME_new_null()) == NULL)
		fatalx("out of memory");
	if (server_load_cas(f, "SSLClientCAFile", SSL_CTX_get_cert_store(ctx),
	    names, err, errlen) == -1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, server_verify_cb);
	return 0;
}

static SSL_CTX *
server_ctx_new(int sect, const struct tls_files *fs, size_t i,
    const struct mmp_conf *conf, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	if (server_ctx_settings(ctx, sect, conf, err, errlen) == -1 ||
	    server_load_chain(ctx, &fs->cert[i], err, errlen) == -1 ||
	    server_load_key(ctx, &fs->key[i], &fs->keypass, err,
	    errlen) == -1 ||
	    (fs->client_ca.path[0] != '\0' &&
	    server_ctx_client_ca(ctx, &fs->client_ca, err, errlen) == -1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * The section's contexts: pairs 0..n-1 of SSLCertFile and SSLKeyFile.
 * *out is NULL (and 0 returned) when the section has no certificate.
 */
int
server_build(int sect, const struct tls_files *fs,
    const struct mmp_conf *conf, struct srv_set **out, char *err,
    size_t errlen)
{
	struct srv_set	*s;
	size_t		 n;

	*out = NULL;
	for (n = 0; n < TLS_CERTS_MAX && fs->cert[n].path[0] != '\0'; n++)
		;
	if (n == 0)
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->refs = 1;
	s->sect = sect;
	s->client_ca = fs->client_ca.path[0] != '\0';
	for (s->n = 0; s->n < n; s->n++) {
		if ((s->ctx[s->n] = server_ctx_new(sect, fs, s->n, conf, err,
		    errlen)) == NULL) {
			server_set_unref(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

/* Sessions keep their SSL (which holds its SSL_CTX) across a reload. */
void
server_set_unref(struct srv_set *s)
{
	size_t	i;

	if (s == NULL || --s->refs > 0)
		return;
	for (i = 0; i < s->n; i++)
		SSL_CTX_free(s->ctx[i]);
	free(s);
}

SSL *
server_ssl_new(struct srv_set *s, struct conn *c, int fd)
{
	SSL	*ssl;

	if ((ssl = SSL_new(s->ctx[0])) == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_ex_data(ssl, env->ssl_idx, c) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	/* A flight in one read(2), not two per record (conn.c drains it). */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_accept_state(ssl);
	return ssl;
}

/* Printable ASCII, or "": SNI goes to the relay and its log. */
static void
server_sni(SSL *ssl, char *buf, size_t len)
{
	const char	*name, *p;

	buf[0] = '\0';
	if ((name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) ==
	    NULL)
		return;
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return;
	(void)strlcpy(buf, name, len);
}

static void
server_cert(struct conn *c, struct tls_result *res)
{
	X509		*peer;
	long		 vr;
	char		 subj[256];
	int		 err;

	if ((peer = SSL_get1_peer_certificate(c->ssl)) == NULL)
		return;
	vr = SSL_get_verify_result(c->ssl);
	err = c->verify_err != 0 ? c->verify_err : (int)vr;
	if (err == X509_V_OK) {
		res->cert = TLS_CERT_VERIFIED;
		subject_fill(peer, res);
	} else {
		res->cert = TLS_CERT_REFUSED;
		subject_text(X509_get_subject_name(peer), subj, sizeof(subj));
		(void)snprintf(res->detail, sizeof(res->detail),
		    "client certificate: %s (subject %s)",
		    X509_verify_cert_error_string(err), subj);
	}
	X509_free(peer);
}

void
server_result(struct conn *c, struct tls_result *res)
{
	(void)strlcpy(res->version, SSL_get_version(c->ssl),
	    sizeof(res->version));
	(void)strlcpy(res->cipher, SSL_CIPHER_get_name(
	    SSL_get_current_cipher(c->ssl)), sizeof(res->cipher));
	res->resumed = SSL_session_reused(c->ssl) ? 1 : 0;
	server_sni(c->ssl, res->sni, sizeof(res->sni));
	if (c->srv->client_ca)
		server_cert(c, res);
}
