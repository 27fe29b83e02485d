/*
 * tlsres: what a resumed handshake costs the server inside OpenSSL alone,
 * with mmp-tlsd's SSL_CTX settings or with nginx's, client and server in
 * one process over a BIO pair (no sockets, no other process). The bench's
 * figures include the TCP connection, the hop and the load; this isolates
 * the library's part, repeatably under callgrind (bench/README.md, TLS).
 * NOT a product and never installed.
 *
 * usage: tlsres [-fo] [-m mmpd|nginx] [-n HANDSHAKES] [-V 1.2|1.3]
 *	-c CERT -k KEY
 * -f: full handshakes (the client offers no ticket), to compare with.
 * -o: the ticket callback never renews a TLS 1.3 ticket (mmp-tlsd before
 * the fix of "TLS 1.3 resumed only every other login").
 *
 * The server's calls go through srv_handshake and srv_read, so that
 *	valgrind --tool=callgrind --toggle-collect=srv_handshake
 *	    --toggle-collect=srv_read bench/tlsres ...
 * counts the server's instructions only; the first handshake (full) is
 * counted too: run it with two -n and take the difference.
 *
 * The "mmpd" settings mirror server_ctx_settings() and server_ticket_cb()
 * in mmp-tlsd/server.c and the read-ahead of server_ssl_new(); "nginx"
 * those of nginx 1.22's ngx_ssl_create() with the bench's configuration
 * (bench/peers.py: ssl_session_cache shared, ssl_session_tickets on,
 * OpenSSL's own ticket keys and its default of two tickets), its
 * new-session callback reduced to the session's serialisation (not the
 * shared-memory store that follows it in nginx).
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define SNI_NAME	"rsa2048.bench.test"
#define STEPS_MAX	20	/* handshake round trips before giving up */
#define TICKET_SEC	7200	/* mmpd's default ticket lifetime */

/* mmp-tlsd's TLSD_CIPHERS_ALL (mmp-tlsd/tlsd.h) */
#define MMPD_CIPHERS	"ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256"

static struct {
	unsigned char	 name[16], aes[32], hmac[32];
	int		 no_renew13;
	int		 full;		/* -f: never offer a ticket */
	SSL_SESSION	*sess;		/* the client's newest ticket */
	long		 tickets;	/* NewSessionTickets received */
	double		 srv_us;	/* the server's CPU in SSL calls */
} st;

/* As server_ticket_cb: one key here, renewed for every TLS 1.3 ticket. */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM	 params[3];

	if (enc) {
		memcpy(name, st.name, sizeof(st.name));
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(
		    EVP_aes_256_cbc())) != 1 ||
		    EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, st.aes,
		    iv) != 1)
			return -1;
	} else {
		if (memcmp(name, st.name, sizeof(st.name)) != 0)
			return 0;
		if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, st.aes,
		    iv) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    st.hmac, sizeof(st.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return SSL_version(ssl) == TLS1_3_VERSION && !st.no_renew13 ? 2 : 1;
}

/* As server_sni_cb with one certificate: the name checked, no switch. */
static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char	*name;
	X509		*x;

	(void)alert;
	(void)arg;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	x = SSL_CTX_get0_certificate(SSL_get_SSL_CTX(ssl));
	if (name != NULL && x != NULL)
		(void)X509_check_host(x, name, 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	return SSL_TLSEXT_ERR_OK;
}

static void
mmpd_settings(SSL_CTX *ctx)
{
	if (SSL_CTX_set_cipher_list(ctx, MMPD_CIPHERS) != 1)
		errx(1, "SSL_CTX_set_cipher_list");
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_session_id_context(ctx, (unsigned char *)"mmpd0",
	    5) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
		errx(1, "SSL_CTX settings");
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_timeout(ctx, TICKET_SEC);
}

/*
 * ngx_ssl_new_session up to its store: the session serialised. OpenSSL
 * calls it for every TLS 1.3 ticket, resumptions included.
 */
static int
nginx_new_session(SSL *ssl, SSL_SESSION *sess)
{
	unsigned char	 buf[4096], *p = buf;

	(void)ssl;
	if (i2d_SSL_SESSION(sess, NULL) > (int)sizeof(buf) ||
	    i2d_SSL_SESSION(sess, &p) <= 0)
		errx(1, "i2d_SSL_SESSION");
	return 0;
}

/* ngx_ssl_create, ngx_ssl_session_cache (shared), tickets on. */
static void
nginx_settings(SSL_CTX *ctx)
{
	/* SSL_OP_NO_CLIENT_RENEGOTIATION too where OpenSSL has it (3.1) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_ANTI_REPLAY | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
	    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, nginx_new_session);
	if (SSL_CTX_set_session_id_context(ctx, (unsigned char *)"ngx",
	    3) != 1)
		errx(1, "SSL_CTX settings");
}

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	st.tickets++;
	SSL_SESSION_free(st.sess);
	st.sess = sess;
	return 1;
}

static double
cpu_us(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		err(1, "clock_gettime");
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Not inlined: callgrind's --toggle-collect names these two. */
static __attribute__((noinline)) int
srv_handshake(SSL *s)
{
	double	 t0 = cpu_us();
	int	 r = SSL_do_handshake(s);

	st.srv_us += cpu_us() - t0;
	return r;
}

static __attribute__((noinline)) int
srv_read(SSL *s, char *buf, int len)
{
	double	 t0 = cpu_us();
	int	 r = SSL_read(s, buf, len);

	st.srv_us += cpu_us() - t0;
	return r;
}

/*
 * One connection as an IMAPS login starts: the handshake, the server's
 * greeting (which carries a TLS 1.3 ticket to the client), the client's
 * first line. 1 when the server resumed.
 */
static int
connection(SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL	*s, *c;
	BIO	*sb, *cb;
	char	 buf[64];
	int	 i, rs = 0, rc = 0, reused;

	if ((s = SSL_new(sctx)) == NULL || (c = SSL_new(cctx)) == NULL ||
	    BIO_new_bio_pair(&sb, 0, &cb, 0) != 1)
		errx(1, "SSL_new");
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_read_ahead(s, 1);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (SSL_set_tlsext_host_name(c, SNI_NAME) != 1 ||
	    (!st.full && st.sess != NULL && SSL_set_session(c, st.sess) != 1))
		errx(1, "client settings");
	for (i = 0; i < STEPS_MAX && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = srv_handshake(s);
	}
	if (rs != 1 || rc != 1) {
		ERR_print_errors_fp(stderr);
		errx(1, "handshake failed");
	}
	if (SSL_write(s, "* OK\r\n", 6) != 6 ||
	    SSL_read(c, buf, sizeof(buf)) != 6 ||
	    SSL_write(c, "a\r\n", 3) != 3 ||
	    srv_read(s, buf, sizeof(buf)) != 3)
		errx(1, "greeting");
	reused = SSL_session_reused(s);
	(void)SSL_shutdown(c);
	SSL_free(s);
	SSL_free(c);
	return reused;
}

static SSL_CTX *
client_ctx(int ver)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, ver) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, ver) != 1)
		errx(1, "client SSL_CTX");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* As bench/loadgen.c: the newest ticket only, offered to the next. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	return ctx;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tlsres [-fo] [-m mmpd|nginx] [-n HANDSHAKES] "
	    "[-V 1.2|1.3] -c CERT -k KEY\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	SSL_CTX		*sctx, *cctx;
	const char	*mode = "mmpd", *cert = NULL, *key = NULL, *e;
	long		 n = 1000, i, resumed = 0;
	int		 ch, ver = TLS1_3_VERSION;

	while ((ch = getopt(argc, argv, "c:fk:m:n:oV:")) != -1) {
		switch (ch) {
		case 'c':
			cert = optarg;
			break;
		case 'f':
			st.full = 1;
			break;
		case 'k':
			key = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			n = strtonum(optarg, 1, 1000000, &e);
			if (e != NULL)
				errx(2, "-n %s: %s", optarg, e);
			break;
		case 'o':
			st.no_renew13 = 1;
			break;
		case 'V':
			if (strcmp(optarg, "1.2") == 0)
				ver = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				ver = TLS1_3_VERSION;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (cert == NULL || key == NULL || (strcmp(mode, "mmpd") != 0 &&
	    strcmp(mode, "nginx") != 0))
		usage();
	if (RAND_bytes(st.name, sizeof(st.name)) != 1 ||
	    RAND_bytes(st.aes, sizeof(st.aes)) != 1 ||
	    RAND_bytes(st.hmac, sizeof(st.hmac)) != 1)
		errx(1, "RAND_bytes");
	if ((sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(sctx, TLS1_3_VERSION) != 1)
		errx(1, "server SSL_CTX (%s, %s)", cert, key);
	if (strcmp(mode, "mmpd") == 0)
		mmpd_settings(sctx);
	else
		nginx_settings(sctx);
	cctx = client_ctx(ver);
	(void)connection(sctx, cctx);	/* full: the first ticket */
	st.srv_us = 0;
	st.tickets = 0;
	for (i = 0; i < n; i++)
		resumed += connection(sctx, cctx);
	printf("%s TLS %s: %ld of %ld resumed, %.2f tickets per connection, "
	    "server CPU %.0f us per handshake\n", mode, ver == TLS1_3_VERSION ?
	    "1.3" : "1.2", resumed, n, (double)st.tickets / n, st.srv_us / n);
	return 0;
}
