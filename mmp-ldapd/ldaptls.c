/*
 * TLS to the directory (ldaps:// and LdapStartTLS), done by libldap. The
 * CA file is read into one libldap TLS context per section at the first
 * configuration, before the sandbox: a connection never opens a file.
 */

#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>

#include "escape.h"
#include "ldapd.h"
#include "log.h"

/* A section's TLS context and what it was made from. */
struct ldap_tls {
	void	*ctx;		/* libldap's tls_ctx; NULL: unread */
	char	*cafile;
	int	 verify;
};

/*
 * Why libldap's last handshake failed: its own error text says only
 * "Connect error", the reason (untrusted certificate, name mismatch) is in
 * a trace line of its TLS code ("TLS: peer cert untrusted ..."), caught
 * here while a handshake runs: the first "TLS:" line other than the
 * generic "can't connect".
 */
static char	ldaptls_why[LDAPD_DETAIL_BYTES];

/* LDAP_DEBUG_TRACE of OpenLDAP's private ldap_log.h */
#define LDAPTLS_DEBUG_TRACE	0x0001

/*
 * Drops a reference to a TLS context (the one ldap_get_option gave us).
 * libldap exports it (OPENLDAP_2.5) but installs no header for it, and
 * nothing public lets go of a context once taken.
 */
void	ldap_pvt_tls_ctx_free(void *);

static void
ldaptls_libldap_line(const char *line)
{
	size_t	n;

	if (ldaptls_why[0] != '\0' || strncmp(line, "TLS: ", 5) != 0 ||
	    strncmp(line, "TLS: can't connect", 18) == 0)
		return;
	(void)escape_log(line + 5, strcspn(line + 5, "\n"), ldaptls_why,
	    sizeof(ldaptls_why));
	n = strlen(ldaptls_why);
	while (n > 0 && ldaptls_why[n - 1] == '.')
		ldaptls_why[--n] = '\0';
}

/* libldap's debug lines reach ldaptls_libldap_line, only when asked. */
static void
ldaptls_catch_reasons(void)
{
	static int	done;

	if (done++)
		return;
	(void)ber_set_option(NULL, LBER_OPT_LOG_PRINT_FN,
	    (const void *)ldaptls_libldap_line);
}

static void
ldaptls_trace(int on)
{
	int	level = on ? LDAPTLS_DEBUG_TRACE : 0;

	(void)ldap_set_option(NULL, LDAP_OPT_DEBUG_LEVEL, &level);
}

static const char *
ldaptls_sect(int svc)
{
	return svc == SVC_POP ? "POP" : "IMAP";
}

/*
 * Whether the section asks for TLS: LdapStartTLS or an ldaps:// URL, its
 * own or one of its virtual domains'.
 */
static int
ldaptls_used(const struct mmp_conf *conf, int svc)
{
	const char	*u;
	size_t		 i;

	if (conf_num(conf, svc, CK_LDAPSTARTTLS) != 0 ||
	    strcasestr(conf_str(conf, svc, CK_LDAPURL), "ldaps://") != NULL)
		return 1;
	for (i = 0; i < conf->nvd[svc]; i++)
		if ((u = conf_vstr(conf, svc, (int)i, CK_LDAPURL)) != NULL &&
		    strcasestr(u, "ldaps://") != NULL)
			return 1;
	return 0;
}

/* A context made from the CA file; NULL if it cannot be read. */
static void *
ldaptls_ctx_new(const char *cafile, int verify)
{
	LDAP	*ld;
	void	*ctx = NULL;
	int	 req, client = 0;

	req = verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
	if (ldap_initialize(&ld, NULL) != LDAP_SUCCESS)
		return NULL;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cafile) ==
	    LDAP_OPT_SUCCESS &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) ==
	    LDAP_OPT_SUCCESS &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client) ==
	    LDAP_OPT_SUCCESS)
		(void)ldap_get_option(ld, LDAP_OPT_X_TLS_CTX, &ctx);
	/* ctx keeps its own reference */
	(void)ldap_unbind_ext(ld, NULL, NULL);
	return ctx;
}

/*
 * The section's CA and verification. Only before the sandbox: a reload
 * that changes them is logged and waits for a restart of mmpd.
 */
void
ldaptls_load(struct ldapd *env, const struct mmp_conf *conf, int svc)
{
	struct ldap_tls	*t = env->tls[svc];
	const char	*cafile;
	int		 verify;

	if (!conf_isset(conf, svc, CK_LDAPURL))
		return;
	cafile = conf_str(conf, svc, CK_LDAPCAFILE);
	verify = conf_num(conf, svc, CK_LDAPVERIFY) != 0;
	if (env->started) {
		if (t == NULL || strcmp(t->cafile, cafile) != 0 ||
		    t->verify != verify)
			log_svc(svc, LOG_WARNING, "%s LdapCAFile or "
			    "LdapVerify changed: mmp-ldapd keeps the CA it "
			    "read at start until mmpd is restarted",
			    ldaptls_sect(svc));
		return;
	}
	if (t != NULL)
		return;	/* a second configuration before the start */
	ldaptls_catch_reasons();
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->cafile = strdup(cafile)) == NULL)
		fatal("%s", __func__);
	t->verify = verify;
	/* Read even without TLS in use: a reload may turn it on. */
	if ((t->ctx = ldaptls_ctx_new(cafile, verify)) == NULL)
		log_svc(svc, ldaptls_used(conf, svc) ? LOG_ERR : LOG_DEBUG,
		    "%s LdapCAFile %s: no CA certificate could be read; TLS "
		    "to the directory fails", ldaptls_sect(svc), cafile);
	else if (!verify)
		log_svc(svc, LOG_WARNING, "%s LdapVerify no: the directory's "
		    "certificate is not checked (encryption without "
		    "authentication)", ldaptls_sect(svc));
	env->tls[svc] = t;
}

/* At exit: each section's context (its CA certificates) and name. */
void
ldaptls_free(struct ldapd *env)
{
	struct ldap_tls	*t;
	int		 svc;

	for (svc = 0; svc < CONF_NSECT; svc++) {
		if ((t = env->tls[svc]) == NULL)
			continue;
		if (t->ctx != NULL)
			ldap_pvt_tls_ctx_free(t->ctx);
		free(t->cafile);
		free(t);
		env->tls[svc] = NULL;
	}
}

/*
 * A new libldap session of section svc (the search connection's, or a
 * PreAuth bind connection's) uses the section's context. -1: why says.
 */
int
ldaptls_prepare(struct ldapd *env, int svc, LDAP *ld, char *why,
    size_t whylen)
{
	struct ldap_tls	*t = env->tls[svc];
	int		 req;

	if (t == NULL) {
		(void)snprintf(why, whylen, "no TLS: the section had no "
		    "LdapUrl when mmpd started, restart mmpd");
		return -1;
	}
	if (t->ctx == NULL) {
		(void)snprintf(why, whylen, "no TLS: LdapCAFile %s could not "
		    "be read when mmpd started", t->cafile);
		return -1;
	}
	req = t->verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_CTX, t->ctx) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) !=
	    LDAP_OPT_SUCCESS) {
		(void)snprintf(why, whylen, "cannot set up TLS in libldap");
		return -1;
	}
	return 0;
}

/*
 * The TLS handshake, synchronous within LdapTimeout (libldap polls the
 * socket with LDAP_OPT_NETWORK_TIMEOUT), certificate and name checked
 * unless LdapVerify is no. libldap leaves the socket blocking: the event
 * loop needs it non-blocking again. -1: why says.
 */
int
ldaptls_handshake(struct ldapd *env, int svc, LDAP *ld, int fd, char *why,
    size_t whylen)
{
	char	*diag = NULL, d[LDAPD_DETAIL_BYTES];
	int	 rc, fl;

	ldaptls_why[0] = '\0';
	ldaptls_trace(1);
	rc = ldap_install_tls(ld);
	ldaptls_trace(0);
	if (rc != LDAP_SUCCESS) {
		(void)ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE,
		    &diag);
		(void)escape_log(diag != NULL ? diag : "", diag != NULL ?
		    strlen(diag) : 0, d, sizeof(d));
		ldap_memfree(diag);
		if (ldaptls_why[0] != '\0')
			(void)strlcpy(d, ldaptls_why, sizeof(d));
		(void)snprintf(why, whylen, "TLS handshake failed "
		    "(certificate verification: %s): %s%s%s", env->tls[svc]->
		    verify ? "on" : "off", ldap_err2string(rc),
		    d[0] != '\0' ? ": " : "", d);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		(void)snprintf(why, whylen, "cannot make the socket "
		    "non-blocking again after TLS");
		return -1;
	}
	return 0;
}
