/*
 * LdapUrl entries: parsed and checked once per configuration, and the
 * URL each connection attempt gives libldap (a numeric address, or the
 * configured name where TLS must verify it).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldap.h>
#include <openldap.h>

#include "escape.h"
#include "ldapd.h"
#include "addr.h"
#include "log.h"

/*
 * ldap_url_parse turns a missing scope into base (RFC 4516); LdapUrl
 * means subtree then. Is there a scope field: dn?attrs?SCOPE?...
 */
static int
ldap_url_scope_given(const char *url)
{
	const char	*p;

	if ((p = strstr(url, "://")) == NULL ||
	    (p = strchr(p + 3, '?')) == NULL ||
	    (p = strchr(p + 1, '?')) == NULL)
		return 0;
	return p[1] != '\0' && p[1] != '?';
}

static int
ldap_url_scope(const char *url, int scope)
{
	if (!ldap_url_scope_given(url))
		return LDAP_SCOPE_SUBTREE;
	switch (scope) {
	case LDAP_SCOPE_BASE:
	case LDAP_SCOPE_ONELEVEL:
	case LDAP_SCOPE_SUBTREE:
	case LDAP_SCOPE_SUBORDINATE:
		return scope;
	default:
		return LDAP_SCOPE_SUBTREE;
	}
}

static void
ldap_url_label(struct ldap_url *u)
{
	const char	*fmt;

	fmt = strchr(u->host, ':') != NULL ? "%s://[%s]:%d" : "%s://%s:%d";
	(void)snprintf(u->label, sizeof(u->label), fmt,
	    u->tls ? "ldaps" : "ldap", u->host, u->port);
}

static int
ldap_url_check(struct ldap_url *u, LDAPURLDesc *lud)
{
	struct addrlist	al;

	if (lud->lud_scheme != NULL && strcasecmp(lud->lud_scheme, "ldaps")
	    == 0)
		u->tls = 1;
	else if (lud->lud_scheme == NULL ||
	    strcasecmp(lud->lud_scheme, "ldap") != 0) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: only "
		    "ldap:// and ldaps:// URLs are supported");
		return -1;
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0' ||
	    strlcpy(u->host, lud->lud_host, sizeof(u->host)) >=
	    sizeof(u->host)) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: no "
		    "host or a host name too long");
		return -1;
	}
	if (!resolve_numeric(u->host, &al) && !resolve_valid_name(u->host)) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: the "
		    "host is not a host name or address");
		return -1;
	}
	if (lud->lud_crit_exts != 0) {
		(void)snprintf(u->why, sizeof(u->why), "is not usable: "
		    "critical extensions are not supported");
		return -1;
	}
	return 0;
}

/*
 * One LdapUrl: host, port (389), base DN and scope (subtree). A URL mmpd
 * cannot use keeps a label and why says so; -1 then.
 */
int
ldap_url_split(const char *url, struct ldap_url *u)
{
	LDAPURLDesc	*lud = NULL;
	char		 esc[LDAPD_URL_BYTES];
	int		 rv = -1;

	memset(u, 0, sizeof(*u));
	u->port = LDAP_PORT;
	u->scope = LDAP_SCOPE_SUBTREE;
	(void)escape_log(url, strlen(url), esc, sizeof(esc));
	(void)strlcpy(u->label, esc, sizeof(u->label));
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS || lud == NULL) {
		(void)snprintf(u->why, sizeof(u->why), "is not a valid LDAP "
		    "URL");
		return -1;
	}
	if (ldap_url_check(u, lud) == 0) {
		if (u->tls)
			u->port = LDAPS_PORT;
		if (lud->lud_port > 0 && lud->lud_port <= 65535)
			u->port = lud->lud_port;
		u->scope = ldap_url_scope(url, lud->lud_scope);
		ldap_url_label(u);
		if ((u->base = strdup(lud->lud_dn != NULL ? lud->lud_dn : ""))
		    == NULL)
			(void)snprintf(u->why, sizeof(u->why), "out of memory");
		else
			rv = 0;
	}
	ldap_free_urldesc(lud);
	return rv;
}

void
ldap_url_clear(struct ldap_url *u)
{
	free(u->base);
	u->base = NULL;
}

/* The URL handed to libldap: the address we connected to, never a name. */
int
ldap_url_numeric(const struct ldap_url *u, const char *addr, char *out,
    size_t outsz)
{
	const char	*fmt;
	int		 n;

	fmt = strchr(addr, ':') != NULL ? "ldap://[%s]:%d" : "ldap://%s:%d";
	n = snprintf(out, outsz, fmt, addr, u->port);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/*
 * With TLS libldap checks the certificate against the URL's host, so it
 * gets the name as configured; the socket is connected already, libldap
 * never resolves it.
 */
int
ldap_url_session(const struct ldap_url *u, const char *addr, int tls,
    char *out, size_t outsz)
{
	struct ldap_url	named = *u;

	if (!tls)
		return ldap_url_numeric(u, addr, out, outsz);
	named.base = NULL;
	return ldap_url_numeric(&named, u->host, out, outsz);
}
