/*
 * The client side, toward the stores (SSLBacksidePort, StoreStartTLS), on
 * libtls: it verifies the store's certificate and name (an IP address
 * against the IP subjectAltNames) against SSLStoreCAFile.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tlsd.h"

static int
client_cfg(struct tls_config *cfg, int sect, const struct tls_files *fs,
    const struct mmp_conf *conf, char *err, size_t errlen)
{
	const char	*protos, *spec;
	int		 min, max, p = 0;

	protos = conf_str(conf, sect, CK_SSLPROTOCOLS);
	if (tlsd_protocols(protos, &min, &max) == -1) {
		(void)snprintf(err, errlen, "%s: SSLProtocols \"%s\": only "
		    "TLSv1.2 and TLSv1.3", conf_section_file(sect), protos);
		return -1;
	}
	if (min <= TLS1_2_VERSION)
		p |= TLS_PROTOCOL_TLSv1_2;
	if (max >= TLS1_3_VERSION)
		p |= TLS_PROTOCOL_TLSv1_3;
	spec = conf_str(conf, sect, CK_SSLCIPHERSPECS);
	if (tls_config_set_protocols(cfg, p) == -1 ||
	    tls_config_set_ciphers(cfg, tlsd_ciphers(spec)) == -1) {
		(void)snprintf(err, errlen, "%s: SSLCipherSpecs \"%s\": %s",
		    conf_section_file(sect), spec, tls_config_error(cfg));
		return -1;
	}
	if (!conf_num(conf, sect, CK_SSLSTOREVERIFY)) {
		tls_config_insecure_noverifycert(cfg);
		tls_config_insecure_noverifyname(cfg);
		log_svc(sect, LOG_WARNING, "SSLStoreVerify no: the stores' "
		    "certificates are not verified (encryption without "
		    "authentication)");
		return 0;
	}
	if (server_load_cas(&fs->store_ca, "SSLStoreCAFile", NULL, NULL, err,
	    errlen) == -1)
		return -1;
	if (tls_config_set_ca_mem(cfg, fs->store_ca.buf,
	    fs->store_ca.len) == -1) {
		(void)snprintf(err, errlen, "SSLStoreCAFile %s: %s",
		    fs->store_ca.path, tls_config_error(cfg));
		return -1;
	}
	return 0;
}

/*
 * Without a CA file (and verification on) the section still builds: a
 * store handshake then fails and says why, the configuration's other
 * parts serve on.
 */
int
client_build(int sect, const struct tls_files *fs,
    const struct mmp_conf *conf, struct cli_set **out, char *err,
    size_t errlen)
{
	struct cli_set	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->refs = 1;
	if (conf_num(conf, sect, CK_SSLSTOREVERIFY) &&
	    fs->store_ca.path[0] == '\0') {
		(void)strlcpy(s->why, "no SSLStoreCAFile to verify the store's "
		    "certificate with", sizeof(s->why));
		*out = s;
		return 0;
	}
	if ((s->cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (client_cfg(s->cfg, sect, fs, conf, err, errlen) == -1) {
		client_set_unref(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
client_set_unref(struct cli_set *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	tls_config_free(s->cfg);
	free(s);
}

/* A connecting libtls context on fd; NULL with why in err. */
struct tls *
client_tls_new(struct cli_set *s, int fd, const char *servername,
    char *err, size_t errlen)
{
	struct tls	*t;

	if (s == NULL || s->cfg == NULL) {
		(void)strlcpy(err, s != NULL ? s->why :
		    "TLS to stores is not configured", errlen);
		return NULL;
	}
	if ((t = tls_client()) == NULL) {
		(void)strlcpy(err, "out of memory", errlen);
		return NULL;
	}
	if (tls_configure(t, s->cfg) == -1 ||
	    tls_connect_socket(t, fd, servername) == -1) {
		(void)strlcpy(err, tls_error(t) != NULL ? tls_error(t) :
		    "libtls refused the connection", errlen);
		tls_free(t);
		return NULL;
	}
	return t;
}

void
client_result(struct conn *c, struct tls_result *res)
{
	const char	*v;

	if ((v = tls_conn_version(c->tls)) != NULL)
		(void)strlcpy(res->version, v, sizeof(res->version));
	if ((v = tls_conn_cipher(c->tls)) != NULL)
		(void)strlcpy(res->cipher, v, sizeof(res->cipher));
	res->resumed = tls_conn_session_resumed(c->tls) == 1;
}
