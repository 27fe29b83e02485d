/*
 * Configuration: reads the product's AService.cfg and the file of every
 * service ServiceList names, validates each value with the code children
 * use on the same keys (conf_set), and derives the listeners.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "certmap.h"
#include "config.h"
#include "configint.h"
#include "connlimits.h"
#include "loginname.h"
#include "netmask.h"
#include "tcpaccess.h"
#include "log.h"
#include "msg.h"
#include "tlsmsg.h"

#define CONF_LINE_BYTES		4096	/* longest line, without LF/CRLF */
#define CONF_VALUE_BYTES	(MMP_STR_BYTES - 1)	/* an imsg string */
#define CONF_WHY_BYTES		256
#define CONF_PORT_MAX		65535

_Static_assert(CONF_PATHS_MAX == TLS_CERTS_MAX,
    "SSLCertFile pairs: one limit for the configuration and the messages");

static const struct conf_keyinfo conf_keys[CK_NKEYS] = {
#define CK(e, n, f, t, d, dp, fl, mn, mx, h)	\
	{ n, f, t, d, dp, fl, mn, mx, h },
#include "config_keys.h"
#undef CK
};

static const char *const conf_files[CONF_NSECT] = {
	"AService.cfg", "ImapProxyAService.cfg", "PopProxyAService.cfg"
};

/* A value after validation: the normalised text and its number. */
struct conf_parsed {
	char		 str[CONF_VALUE_BYTES + 1];
	long long	 num;
};

/* What a ServiceList names: its listeners and the services used. */
struct conf_svcparse {
	struct conf_listener	*l;
	size_t			 n;
	int			 enabled[CONF_NSECT];
};


void
conf_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Bytes of the blank at p: space, tab, or U+00A0 in UTF-8, which the
 * product's own sample files use between key and value.
 */
size_t
conf_blank(const char *p)
{
	if (*p == ' ' || *p == '\t')
		return 1;
	if ((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0)
		return 2;
	return 0;
}

const char *
conf_skip_blanks(const char *p)
{
	size_t	n;

	while ((n = conf_blank(p)) > 0)
		p += n;
	return p;
}

/* Length of s[0..len) without trailing blanks. */
static size_t
conf_trim_len(const char *s, size_t len)
{
	for (;;) {
		if (len >= 1 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		else if (len >= 2 && (unsigned char)s[len - 2] == 0xc2 &&
		    (unsigned char)s[len - 1] == 0xa0)
			len -= 2;
		else
			return len;
	}
}

/*
 * Next token of a list in *sp, separated by blanks or a byte of seps.
 * 1 with the token in tok, 0 at the end, -1 if it does not fit tok.
 */
static int
conf_token(const char **sp, const char *seps, char *tok, size_t toklen)
{
	const char	*p = *sp, *start;
	size_t		 n;

	for (;;) {
		if ((n = conf_blank(p)) > 0)
			p += n;
		else if (*p != '\0' && strchr(seps, *p) != NULL)
			p++;
		else
			break;
	}
	if (*p == '\0')
		return 0;
	for (start = p; *p != '\0' && conf_blank(p) == 0 &&
	    strchr(seps, *p) == NULL; p++)
		;
	*sp = p;
	if ((size_t)(p - start) >= toklen)
		return -1;
	memcpy(tok, start, p - start);
	tok[p - start] = '\0';
	return 1;
}

/* Appends tok to a blank-separated list; -1 if it does not fit. */
static int
conf_join(char *list, size_t len, const char *tok)
{
	if (list[0] != '\0' && strlcat(list, " ", len) >= len)
		return -1;
	if (strlcat(list, tok, len) >= len)
		return -1;
	return 0;
}

/*
 * s as it may appear in a message: quoted, bounded, control bytes
 * replaced, so neither a log line nor a terminal can be confused by it.
 */
const char *
conf_show_raw(const char *s, char *buf, size_t len)
{
	size_t		 i, o = 0;
	unsigned char	 c;

	buf[o++] = '"';
	for (i = 0; s[i] != '\0' && o + 5 < len; i++) {
		c = s[i];
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : c;
	}
	if (s[i] != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* The same, but a secret is never shown. */
static const char *
conf_show(const struct conf_keyinfo *ki, const char *s, char *buf,
    size_t len)
{
	if (ki->flags & CKF_SECRET) {
		strlcpy(buf, "\"********\"", len);
		return buf;
	}
	return conf_show_raw(s, buf, len);
}

/* Decimal with an optional minus: 0, -1 if not a number, -2 overflow. */
static int
conf_parse_ll(const char *s, long long *out)
{
	const char	*p = s;
	char		*end;
	long long	 n;

	if (*p == '-')
		p++;
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -2;
	*out = n;
	return 0;
}

static int
conf_check_int(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 show[CONF_SHOW_BYTES];
	long long	 n = 0;
	int		 r;

	if ((r = conf_parse_ll(v, &n)) == -1) {
		snprintf(why, whylen, "%s is not a number",
		    conf_show(ki, v, show, sizeof(show)));
		return -1;
	}
	if (r == -2 || n < ki->min || n > ki->max) {
		snprintf(why, whylen, "%s is out of range (%lld..%lld)",
		    conf_show(ki, v, show, sizeof(show)), ki->min, ki->max);
		return -1;
	}
	out->num = n;
	snprintf(out->str, sizeof(out->str), "%lld", n);
	return 0;
}

static int
conf_check_port(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 show[CONF_SHOW_BYTES];
	long long	 n = 0;

	if (conf_parse_ll(v, &n) != 0 || n < 1 || n > CONF_PORT_MAX) {
		snprintf(why, whylen, "%s is not a port (1..%d)",
		    conf_show(ki, v, show, sizeof(show)), CONF_PORT_MAX);
		return -1;
	}
	out->num = n;
	snprintf(out->str, sizeof(out->str), "%lld", n);
	return 0;
}

static int
conf_check_bool(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	static const struct {
		const char	*word;
		int		 val;
	} words[] = {
		{ "yes", 1 }, { "no", 0 }, { "1", 1 }, { "0", 0 },
		{ "true", 1 }, { "false", 0 }, { "on", 1 }, { "off", 0 },
	};
	char	show[CONF_SHOW_BYTES];
	size_t	i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			out->num = words[i].val;
			strlcpy(out->str, out->num ? "yes" : "no",
			    sizeof(out->str));
			return 0;
		}
	}
	snprintf(why, whylen, "%s is not yes or no",
	    conf_show(ki, v, show, sizeof(show)));
	return -1;
}

/* An absolute path, or "" (none: the product writes `""` for that). */
static int
conf_check_path(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char	show[CONF_SHOW_BYTES];

	if (v[0] != '\0' && v[0] != '/') {
		snprintf(why, whylen, "%s is not an absolute path",
		    conf_show(ki, v, show, sizeof(show)));
		return -1;
	}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

/* AuditLog: the facilities an ISP keeps apart (auth, authpriv, local0-7). */
static const char *const conf_audit_facilities[] = {
	"auth", "authpriv", "local0", "local1", "local2", "local3", "local4",
	"local5", "local6", "local7", NULL
};

int
conf_audit_facility(const char *v)
{
	size_t	i;

	if (strncmp(v, "syslog:", 7) != 0)
		return -1;
	for (i = 0; conf_audit_facilities[i] != NULL; i++)
		if (strcmp(v + 7, conf_audit_facilities[i]) == 0)
			return (int)i;
	return -1;
}

/* SyslogFacility: the facilities a mail proxy's lines may go to. */
static const struct {
	const char	*name;
	int		 val;
} conf_syslog_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
conf_syslog_facility(const char *v)
{
	size_t	i;

	for (i = 0; i < sizeof(conf_syslog_facilities) /
	    sizeof(conf_syslog_facilities[0]); i++)
		if (strcasecmp(v, conf_syslog_facilities[i].name) == 0)
			return conf_syslog_facilities[i].val;
	return -1;
}

static int
conf_check_facility(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char	show[CONF_SHOW_BYTES];

	if (conf_syslog_facility(v) == -1) {
		snprintf(why, whylen, "%s is not one of mail, daemon, user, "
		    "auth, authpriv, local0 .. local7", conf_show(ki, v, show,
		    sizeof(show)));
		return -1;
	}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

static int
conf_check_audit(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char	show[CONF_SHOW_BYTES];

	if (strncmp(v, "syslog:", 7) == 0 && conf_audit_facility(v) == -1) {
		snprintf(why, whylen, "%s: the facility is not one of auth, "
		    "authpriv, local0 .. local7", conf_show(ki, v, show,
		    sizeof(show)));
		return -1;
	}
	if (strncmp(v, "syslog:", 7) == 0) {
		strlcpy(out->str, v, sizeof(out->str));
		return 0;
	}
	return conf_check_path(ki, v, out, why, whylen);
}

static int
conf_check_portlist(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*p = v;
	long long	 n;
	int		 r;

	while ((r = conf_token(&p, ",|", tok, sizeof(tok))) == 1) {
		if (conf_parse_ll(tok, &n) != 0 || n < 1 ||
		    n > CONF_PORT_MAX) {
			snprintf(why, whylen, "%s is not a port (1..%d)",
			    conf_show(ki, tok, show, sizeof(show)),
			    CONF_PORT_MAX);
			return -1;
		}
		snprintf(tok, sizeof(tok), "%lld", n);
		if (conf_join(out->str, sizeof(out->str), tok) == -1)
			break;
	}
	if (r != 0) {
		snprintf(why, whylen, "port list too long");
		return -1;
	}
	return 0;
}

/* Absolute paths, blank-separated, at most CONF_PATHS_MAX; "" is none. */
static int
conf_check_pathlist(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*p = v;
	int		 r, n = 0;

	while ((r = conf_token(&p, "", tok, sizeof(tok))) == 1) {
		if (tok[0] != '/') {
			snprintf(why, whylen, "%s is not an absolute path",
			    conf_show(ki, tok, show, sizeof(show)));
			return -1;
		}
		if (++n > CONF_PATHS_MAX) {
			snprintf(why, whylen, "more than %d files",
			    CONF_PATHS_MAX);
			return -1;
		}
		if (conf_join(out->str, sizeof(out->str), tok) == -1)
			break;
	}
	if (r != 0) {
		snprintf(why, whylen, "path list too long");
		return -1;
	}
	out->num = n;
	return 0;
}

/* TLS versions by the names OpenSSL gives them; TLSv1.2 and up only. */
static int
conf_check_tlsprotos(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*p = v;
	int		 r, v12 = 0, v13 = 0;

	while ((r = conf_token(&p, ",", tok, sizeof(tok))) == 1) {
		if (strcasecmp(tok, "TLSv1.2") == 0)
			v12 = 1;
		else if (strcasecmp(tok, "TLSv1.3") == 0)
			v13 = 1;
		else {
			snprintf(why, whylen, "%s is not TLSv1.2 or TLSv1.3",
			    conf_show(ki, tok, show, sizeof(show)));
			return -1;
		}
	}
	if (r != 0 || (!v12 && !v13)) {
		snprintf(why, whylen, "no TLS version given (TLSv1.2, "
		    "TLSv1.3)");
		return -1;
	}
	snprintf(out->str, sizeof(out->str), "%s%s%s", v12 ? "TLSv1.2" : "",
	    v12 && v13 ? " " : "", v13 ? "TLSv1.3" : "");
	return 0;
}

/* Networks: every one must parse, the value is kept as written. */
static int
conf_check_netlist(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	struct netmask	nets[NETLIST_MAX];

	(void)ki;
	if (netlist_parse(v, nets, NETLIST_MAX, why, whylen) == -1)
		return -1;
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

/* TCPAccess: the rules must parse (lib/tcpaccess.c); kept as written. */
static int
conf_check_tcpaccess_value(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	struct tcpa_set	*set;
	int		 rv;

	(void)ki;
	if ((set = malloc(sizeof(*set))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rv = tcpa_parse(v, set, why, whylen);
	free(set);
	if (rv == 0)
		strlcpy(out->str, v, sizeof(out->str));
	return rv;
}

/* ConnLimits: every realm must parse, the value is kept as written. */
static int
conf_check_connlimits(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	static struct connlimit	cl[CONNLIMITS_MAX];	/* 12 kB */

	(void)ki;
	if (connlimits_parse(v, cl, CONNLIMITS_MAX, why, whylen) == -1)
		return -1;
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

/* Attribute descriptions: letters, digits, '-' and ';' (options). */
static int
conf_check_attrs(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*p = v;
	size_t		 i;
	int		 r;

	while ((r = conf_token(&p, "", tok, sizeof(tok))) == 1) {
		for (i = 0; tok[i] != '\0'; i++) {
			if (!isalnum((unsigned char)tok[i]) &&
			    tok[i] != '-' && tok[i] != ';')
				break;
		}
		if (tok[i] != '\0') {
			snprintf(why, whylen, "%s is not an attribute name",
			    conf_show(ki, tok, show, sizeof(show)));
			return -1;
		}
		if (conf_join(out->str, sizeof(out->str), tok) == -1)
			break;
	}
	if (r != 0 || out->str[0] == '\0') {
		snprintf(why, whylen, "%s",
		    r != 0 ? "attribute list too long" : "no attribute named");
		return -1;
	}
	return 0;
}

/*
 * An LDAP filter template: one balanced (...) and only the % codes
 * mmpd fills in (each replacement is RFC 4515-escaped where it is used).
 */
static int
conf_check_filter(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 show[CONF_SHOW_BYTES];
	const char	*p;
	int		 depth = 0;

	if (v[0] != '(') {
		snprintf(why, whylen, "%s does not start with \"(\"",
		    conf_show(ki, v, show, sizeof(show)));
		return -1;
	}
	for (p = v; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && (--depth < 0 ||
		    (depth == 0 && p[1] != '\0')))
			break;
		else if (*p == '%') {
			if (p[1] == '\0' || strchr("sUVoCSD%", p[1]) == NULL) {
				snprintf(why, whylen, "unknown %% code in %s "
				    "(known: %%s %%U %%V %%o %%C %%S %%D %%%%)",
				    conf_show(ki, v, show, sizeof(show)));
				return -1;
			}
			p++;
		}
	}
	if (depth != 0 || *p != '\0') {
		snprintf(why, whylen, "%s is not one balanced (...) filter",
		    conf_show(ki, v, show, sizeof(show)));
		return -1;
	}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

/* ReplayFormat: only the codes login_replay_expand knows. */
static int
conf_check_replayfmt(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char	show[CONF_SHOW_BYTES], e[CONF_WHY_BYTES / 2];

	if (login_replay_check(v, e, sizeof(e)) == -1) {
		snprintf(why, whylen, "%s: %s", conf_show(ki, v, show,
		    sizeof(show)), e);
		return -1;
	}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

/*
 * Banner: it goes into a greeting line as it is. Printable ASCII only
 * (no control character can end or split the line), not empty, bounded,
 * and without '<' or '>': a POP3 client takes the first <...> of the
 * greeting for the APOP timestamp, so a banner must not forge one.
 */
static int
conf_check_banner(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	const unsigned char	*p;

	(void)ki;

	if (*v == '\0') {
		snprintf(why, whylen, "empty");
		return -1;
	}
	if (strlen(v) > CONF_BANNER_BYTES) {
		snprintf(why, whylen, "longer than %d bytes",
		    CONF_BANNER_BYTES);
		return -1;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '<' || *p == '>') {
			snprintf(why, whylen, "only printable ASCII without "
			    "< and > (byte 0x%02x at %zu)", *p,
			    (size_t)(p - (const unsigned char *)v));
			return -1;
		}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

static int
conf_check_ldapurl(const struct conf_keyinfo *ki, const char *url,
    char *why, size_t whylen)
{
	char		 show[CONF_SHOW_BYTES];
	LDAPURLDesc	*lud = NULL;
	int		 ldapi, bad;

	ldapi = strncasecmp(url, "ldapi://", 8) == 0;
	if (!ldapi && strncasecmp(url, "ldap://", 7) != 0 &&
	    strncasecmp(url, "ldaps://", 8) != 0) {
		snprintf(why, whylen, "%s is not an ldap://, ldaps:// or "
		    "ldapi:// URL", conf_show(ki, url, show, sizeof(show)));
		return -1;
	}
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS || lud == NULL) {
		snprintf(why, whylen, "%s is not a valid LDAP URL",
		    conf_show(ki, url, show, sizeof(show)));
		return -1;
	}
	bad = !ldapi && (lud->lud_host == NULL || lud->lud_host[0] == '\0');
	ldap_free_urldesc(lud);
	if (bad) {
		snprintf(why, whylen, "%s names no host",
		    conf_show(ki, url, show, sizeof(show)));
		return -1;
	}
	return 0;
}

static int
conf_check_ldapurls(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1];
	const char	*p = v;
	int		 r;

	while ((r = conf_token(&p, "", tok, sizeof(tok))) == 1) {
		if (conf_check_ldapurl(ki, tok, why, whylen) == -1)
			return -1;
		if (conf_join(out->str, sizeof(out->str), tok) == -1)
			break;
	}
	if (r != 0 || out->str[0] == '\0') {
		snprintf(why, whylen, "%s",
		    r != 0 ? "URL list too long" : "no LDAP URL given");
		return -1;
	}
	return 0;
}

/* Service of a ServiceList module name: SVC_IMAP, SVC_POP or -1. */
static int
conf_service_module(const char *mod, char *why, size_t whylen)
{
	char		 name[64], show[CONF_SHOW_BYTES];
	const char	*base;
	size_t		 len;

	base = strrchr(mod, '/');
	base = base != NULL ? base + 1 : mod;
	len = strlen(base);
	if (len > 3 && strcasecmp(base + len - 3, ".so") == 0)
		len -= 3;
	if (len > 0 && len < sizeof(name)) {
		memcpy(name, base, len);
		name[len] = '\0';
		if (strcasecmp(name, "ImapProxyAService") == 0 ||
		    strcasecmp(name, "imapproxy") == 0)
			return SVC_IMAP;
		if (strcasecmp(name, "PopProxyAService") == 0 ||
		    strcasecmp(name, "popproxy") == 0)
			return SVC_POP;
		if (strcasecmp(name, "SmtpProxyAService") == 0 ||
		    strcasecmp(name, "submitproxy") == 0) {
			snprintf(why, whylen, "SMTP proxy is not supported");
			return -1;
		}
	}
	snprintf(why, whylen, "unknown service %s",
	    conf_show_raw(mod, show, sizeof(show)));
	return -1;
}

/* Splits PORT, IPv4:PORT, *:PORT or [IPv6]:PORT; spec is modified. */
static int
conf_split_listen(char *spec, const char **host, const char **port, int *af)
{
	char	*c;

	*host = "";
	*af = AF_INET;
	if (spec[0] == '[') {
		if ((c = strchr(spec, ']')) == NULL || c == spec + 1 ||
		    c[1] != ':')
			return -1;
		*c = '\0';
		*host = spec + 1;
		*port = c + 2;
		*af = AF_INET6;
	} else if ((c = strchr(spec, ':')) != NULL) {
		if (strchr(c + 1, ':') != NULL)
			return -1;	/* IPv6 without brackets */
		*c = '\0';
		*host = strcmp(spec, "*") == 0 ? "" : spec;
		*port = c + 1;
	} else
		*port = spec;
	return 0;
}

static int
conf_parse_listen(const char *spec, int svc, struct conf_listener *l,
    char *why, size_t whylen)
{
	char		 buf[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*host, *port;
	unsigned char	 addr[sizeof(struct in6_addr)];
	long long	 n;
	int		 af;

	memset(l, 0, sizeof(*l));
	l->svc = svc;
	conf_show_raw(spec, show, sizeof(show));
	if (strlcpy(buf, spec, sizeof(buf)) >= sizeof(buf) ||
	    conf_split_listen(buf, &host, &port, &af) == -1) {
		snprintf(why, whylen, "%s is not PORT, IPv4:PORT or "
		    "[IPv6]:PORT", show);
		return -1;
	}
	if (host[0] != '\0' && (inet_pton(af, host, addr) != 1 ||
	    inet_ntop(af, addr, l->host, sizeof(l->host)) == NULL)) {
		snprintf(why, whylen, "%s: not an IPv%d address", show,
		    af == AF_INET ? 4 : 6);
		return -1;
	}
	if (conf_parse_ll(port, &n) != 0 || n < 1 || n > CONF_PORT_MAX) {
		snprintf(why, whylen, "%s: port is not 1..%d", show,
		    CONF_PORT_MAX);
		return -1;
	}
	l->port = n;
	snprintf(l->label, sizeof(l->label), af == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host[0] != '\0' ? l->host : "*", (unsigned)l->port);
	return 0;
}

/*
 * A port can be bound once: the same address twice, or an address and
 * the wildcard on one port, would fail at bind(2); say so here.
 */
static int
conf_listener_clash(const struct conf_svcparse *sp,
    const struct conf_listener *l, char *why, size_t whylen)
{
	const struct conf_listener	*o;
	size_t				 i;

	for (i = 0; i < sp->n; i++) {
		o = &sp->l[i];
		if (o->port != l->port)
			continue;
		if (strcmp(o->host, l->host) == 0) {
			snprintf(why, whylen, "%s is listed twice", l->label);
			return -1;
		}
		if (o->host[0] == '\0' || l->host[0] == '\0') {
			snprintf(why, whylen, "%s overlaps %s", l->label,
			    o->label);
			return -1;
		}
	}
	return 0;
}

/* PORTSPEC[|PORTSPEC...] of one entry; specs is modified. */
static int
conf_parse_portspecs(char *specs, int svc, struct conf_svcparse *sp,
    char *why, size_t whylen)
{
	struct conf_listener	 l, *nl;
	char			*spec, *next;

	for (spec = specs; spec != NULL; spec = next) {
		if ((next = strchr(spec, '|')) != NULL)
			*next++ = '\0';
		if (conf_parse_listen(spec, svc, &l, why, whylen) == -1 ||
		    conf_listener_clash(sp, &l, why, whylen) == -1)
			return -1;
		nl = reallocarray(sp->l, sp->n + 1, sizeof(*nl));
		if (nl == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		sp->l = nl;
		sp->l[sp->n++] = l;
	}
	return 0;
}

/* MODULE@PORTSPEC[|PORTSPEC...] ...; sp->l is freed on error. */
static int
conf_parse_servicelist(const char *v, struct conf_svcparse *sp, char *why,
    size_t whylen)
{
	char		 tok[CONF_VALUE_BYTES + 1], show[CONF_SHOW_BYTES];
	const char	*p = v;
	char		*at;
	int		 r, svc;

	memset(sp, 0, sizeof(*sp));
	while ((r = conf_token(&p, "", tok, sizeof(tok))) == 1) {
		if ((at = strrchr(tok, '@')) == NULL || at[1] == '\0') {
			snprintf(why, whylen, "%s is not MODULE@PORT[|PORT...]",
			    conf_show_raw(tok, show, sizeof(show)));
			goto fail;
		}
		*at = '\0';
		if ((svc = conf_service_module(tok, why, whylen)) == -1 ||
		    conf_parse_portspecs(at + 1, svc, sp, why, whylen) == -1)
			goto fail;
		sp->enabled[svc] = 1;
	}
	if (r == -1 || sp->n == 0) {
		snprintf(why, whylen, "%s",
		    r == -1 ? "entry too long" : "no service listed");
		goto fail;
	}
	return 0;
 fail:
	free(sp->l);
	memset(sp, 0, sizeof(*sp));
	return -1;
}

static int
conf_check_servicelist(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	struct conf_svcparse	 sp;
	char			 tok[CONF_VALUE_BYTES + 1];
	const char		*p = v;

	(void)ki;
	if (conf_parse_servicelist(v, &sp, why, whylen) == -1)
		return -1;
	free(sp.l);
	while (conf_token(&p, "", tok, sizeof(tok)) == 1)
		(void)conf_join(out->str, sizeof(out->str), tok);
	return 0;
}

/* Listeners as ServiceList spells them: PORT, IPv4:PORT, [IPv6]:PORT. */
static int
conf_check_listenlist(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	struct conf_listener	 l;
	char			 tok[CONF_VALUE_BYTES + 1];
	const char		*p = v;
	int			 r;

	(void)ki;
	while ((r = conf_token(&p, ",|", tok, sizeof(tok))) == 1) {
		if (conf_parse_listen(tok, 0, &l, why, whylen) == -1)
			return -1;
		if (conf_join(out->str, sizeof(out->str), tok) == -1)
			break;
	}
	if (r != 0) {
		snprintf(why, whylen, "listener list too long");
		return -1;
	}
	return 0;
}

/* One listening address (StatsListen): its label is the value. */
static int
conf_check_listen(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	struct conf_listener	l;

	(void)ki;
	if (conf_parse_listen(v, 0, &l, why, whylen) == -1)
		return -1;
	strlcpy(out->str, l.label, sizeof(out->str));
	return 0;
}

int
conf_listen_parse(const char *v, struct conf_listener *l, char *why,
    size_t whylen)
{
	return conf_parse_listen(v, 0, l, why, whylen);
}

/* Validates v for key ki; the normalised value lands in out. */
static int
conf_check(const struct conf_keyinfo *ki, const char *v,
    struct conf_parsed *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (strlen(v) > CONF_VALUE_BYTES) {
		snprintf(why, whylen, "value longer than %d bytes",
		    CONF_VALUE_BYTES);
		return -1;
	}
	if (strpbrk(v, "\r\n") != NULL) {
		snprintf(why, whylen, "value contains CR or LF");
		return -1;
	}
	switch (ki->type) {
	case CT_INT:
		return conf_check_int(ki, v, out, why, whylen);
	case CT_BOOL:
		return conf_check_bool(ki, v, out, why, whylen);
	case CT_PORT:
		return conf_check_port(ki, v, out, why, whylen);
	case CT_PATH:
		return conf_check_path(ki, v, out, why, whylen);
	case CT_AUDIT:
		return conf_check_audit(ki, v, out, why, whylen);
	case CT_FACILITY:
		return conf_check_facility(ki, v, out, why, whylen);
	case CT_SERVICELIST:
		return conf_check_servicelist(ki, v, out, why, whylen);
	case CT_LDAPURLS:
		return conf_check_ldapurls(ki, v, out, why, whylen);
	case CT_FILTER:
		return conf_check_filter(ki, v, out, why, whylen);
	case CT_ATTRS:
		return conf_check_attrs(ki, v, out, why, whylen);
	case CT_PORTLIST:
		return conf_check_portlist(ki, v, out, why, whylen);
	case CT_NETLIST:
		return conf_check_netlist(ki, v, out, why, whylen);
	case CT_PATHLIST:
		return conf_check_pathlist(ki, v, out, why, whylen);
	case CT_TLSPROTOS:
		return conf_check_tlsprotos(ki, v, out, why, whylen);
	case CT_REPLAYFMT:
		return conf_check_replayfmt(ki, v, out, why, whylen);
	case CT_LISTENLIST:
		return conf_check_listenlist(ki, v, out, why, whylen);
	case CT_TCPACCESS:
		return conf_check_tcpaccess_value(ki, v, out, why, whylen);
	case CT_LISTEN:
		return conf_check_listen(ki, v, out, why, whylen);
	case CT_BANNER:
		return conf_check_banner(ki, v, out, why, whylen);
	case CT_CONNLIMITS:
		return conf_check_connlimits(ki, v, out, why, whylen);
	case CT_STR:
		break;
	}
	strlcpy(out->str, v, sizeof(out->str));
	return 0;
}

const struct conf_keyinfo *
conf_keyinfo(enum conf_key key)
{
	if ((int)key < 0 || key >= CK_NKEYS)
		return NULL;
	return &conf_keys[key];
}

int
conf_key_lookup(const char *name)
{
	int	k;

	if (name == NULL)
		return -1;
	for (k = 0; k < CK_NKEYS; k++)
		if (strcasecmp(conf_keys[k].name, name) == 0)
			return k;
	return -1;
}

const char *
conf_section_file(int sect)
{
	if (sect < 0 || sect >= CONF_NSECT)
		return NULL;
	return conf_files[sect];
}

struct mmp_conf *
conf_new(void)
{
	return calloc(1, sizeof(struct mmp_conf));
}

static void
conf_value_clear(const struct conf_keyinfo *ki, struct conf_value *cv)
{
	if (cv->str != NULL) {
		if (ki->flags & CKF_SECRET)
			freezero(cv->str, strlen(cv->str) + 1);
		else
			free(cv->str);
	}
	memset(cv, 0, sizeof(*cv));
}

static void
conf_vdomains_free(struct mmp_conf *conf, int sect)
{
	struct conf_vdomain	*vd;
	size_t			 i;
	int			 k;

	for (i = 0; i < conf->nvd[sect]; i++) {
		vd = &conf->vd[sect][i];
		for (k = 0; k < CK_NKEYS; k++)
			conf_value_clear(&conf_keys[k], &vd->v[k]);
		certmap_free(vd->certmap);
	}
	free(conf->vd[sect]);
	conf->vd[sect] = NULL;
	conf->nvd[sect] = 0;
}

void
conf_free(struct mmp_conf *conf)
{
	int	sect, k;

	if (conf == NULL)
		return;
	for (sect = 0; sect < CONF_NSECT; sect++) {
		for (k = 0; k < CK_NKEYS; k++)
			conf_value_clear(&conf_keys[k], &conf->v[sect][k]);
		certmap_free(conf->certmap[sect]);
		conf_vdomains_free(conf, sect);
		bgexcl_free(&conf->bgexcl[sect]);
	}
	free(conf->listeners);
	free(conf->spoofmsg);
	freezero(conf, sizeof(*conf));
}

/* Validate value for ki and store it in cv with where it came from. */
int
conf_store(const struct conf_keyinfo *ki, struct conf_value *cv,
    const char *value, const char *file, int line, char *err, size_t errlen)
{
	struct conf_parsed	 p;
	char			 why[CONF_WHY_BYTES];
	char			*s;
	int			 rv = -1;

	if (conf_check(ki, value, &p, why, sizeof(why)) == -1)
		conf_errf(err, errlen, "%s:%d: %s: %s", file, line, ki->name,
		    why);
	else if ((s = strdup(p.str)) == NULL)
		conf_errf(err, errlen, "%s:%d: %s: out of memory", file, line,
		    ki->name);
	else {
		conf_value_clear(ki, cv);
		cv->str = s;
		cv->num = p.num;
		cv->isset = 1;
		strlcpy(cv->file, file, sizeof(cv->file));
		cv->line = line;
		rv = 0;
	}
	explicit_bzero(&p, sizeof(p));
	return rv;
}

int
conf_set(struct mmp_conf *conf, int sect, enum conf_key key,
    const char *value, const char *file, int line, char *err, size_t errlen)
{
	const struct conf_keyinfo	*ki;

	if (file == NULL)
		file = "?";
	if (conf == NULL || sect < 0 || sect >= CONF_NSECT ||
	    (ki = conf_keyinfo(key)) == NULL || value == NULL) {
		conf_errf(err, errlen, "%s:%d: invalid key or section", file,
		    line);
		return -1;
	}
	if ((ki->files & (1U << sect)) == 0) {
		conf_errf(err, errlen, "%s:%d: %s: does not belong in %s",
		    file, line, ki->name, conf_files[sect]);
		return -1;
	}
	return conf_store(ki, &conf->v[sect][key], value, file, line, err,
	    errlen);
}

static const char *
conf_default(int sect, const struct conf_keyinfo *ki)
{
	if (sect == SVC_POP && ki->defpop != NULL)
		return ki->defpop;
	return ki->def;
}

const char *
conf_str(const struct mmp_conf *conf, int sect, enum conf_key key)
{
	const struct conf_keyinfo	*ki;

	if (conf == NULL || sect < 0 || sect >= CONF_NSECT ||
	    (ki = conf_keyinfo(key)) == NULL)
		return NULL;
	if (conf->v[sect][key].isset)
		return conf->v[sect][key].str;
	return conf_default(sect, ki);
}

long long
conf_num(const struct mmp_conf *conf, int sect, enum conf_key key)
{
	const struct conf_keyinfo	*ki;
	struct conf_parsed		 p;
	const char			*def;
	char				 why[CONF_WHY_BYTES];

	if (conf == NULL || sect < 0 || sect >= CONF_NSECT ||
	    (ki = conf_keyinfo(key)) == NULL)
		return 0;
	if (conf->v[sect][key].isset)
		return conf->v[sect][key].num;
	if ((def = conf_default(sect, ki)) == NULL ||
	    conf_check(ki, def, &p, why, sizeof(why)) == -1)
		return 0;
	return p.num;
}

int
conf_isset(const struct mmp_conf *conf, int sect, enum conf_key key)
{
	if (conf == NULL || sect < 0 || sect >= CONF_NSECT ||
	    conf_keyinfo(key) == NULL)
		return 0;
	return conf->v[sect][key].isset;
}

/* Is port one of svc's SSLPorts, with SSLEnable on? */
static int
conf_port_is_tls(const struct mmp_conf *conf, int svc, uint16_t port)
{
	char		 tok[CONF_VALUE_BYTES + 1];
	const char	*p;
	long long	 n;

	if (!conf_num(conf, svc, CK_SSLENABLE) ||
	    (p = conf_str(conf, svc, CK_SSLPORTS)) == NULL)
		return 0;
	while (conf_token(&p, ",|", tok, sizeof(tok)) == 1)
		if (conf_parse_ll(tok, &n) == 0 && n == port)
			return 1;
	return 0;
}

/*
 * Does entry (PORT, *:PORT or ADDR:PORT of a ProxyProtocolPorts value)
 * name listener l? A port alone names every address on it.
 */
static int
conf_listener_named(const char *entry, const struct conf_listener *l)
{
	struct conf_listener	e;
	char			why[CONF_WHY_BYTES];

	if (conf_parse_listen(entry, l->svc, &e, why, sizeof(why)) == -1)
		return 0;
	return e.port == l->port && (e.host[0] == '\0' ||
	    strcmp(e.host, l->host) == 0);
}

/* Is l one of its service's ProxyProtocolPorts? */
static int
conf_listener_is_proxy(const struct mmp_conf *conf,
    const struct conf_listener *l)
{
	char		 tok[CONF_VALUE_BYTES + 1];
	const char	*p;

	if ((p = conf_str(conf, l->svc, CK_PROXYPROTOCOLPORTS)) == NULL)
		return 0;
	while (conf_token(&p, ",|", tok, sizeof(tok)) == 1)
		if (conf_listener_named(tok, l))
			return 1;
	return 0;
}

/*
 * ProxyProtocolPorts of sect: each entry names a listener of the service
 * (a typo would leave the load balancer's port expecting no header), and
 * ProxyProtocolNetworks says who may send one (without it every
 * connection there would be refused).
 */
static int
conf_check_proxy(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	const struct conf_value	*cv = &conf->v[sect][CK_PROXYPROTOCOLPORTS];
	char			 tok[CONF_VALUE_BYTES + 1];
	const char		*p = cv->str;
	size_t			 i;
	int			 found;

	if (!cv->isset || p == NULL || p[0] == '\0')
		return 0;
	while (conf_token(&p, ",|", tok, sizeof(tok)) == 1) {
		for (i = 0, found = 0; i < conf->nlisteners && !found; i++)
			found = conf->listeners[i].svc == sect &&
			    conf_listener_named(tok, &conf->listeners[i]);
		if (!found) {
			conf_errf(err, errlen, "%s:%d: ProxyProtocolPorts: %s "
			    "is not a listener of this service in ServiceList",
			    cv->file, cv->line, tok);
			return -1;
		}
	}
	if (!conf->v[sect][CK_PROXYPROTOCOLNETWORKS].isset) {
		conf_errf(err, errlen, "%s:%d: ProxyProtocolPorts needs "
		    "ProxyProtocolNetworks (the load balancers' addresses)",
		    cv->file, cv->line);
		return -1;
	}
	return 0;
}

int
conf_path_next(const char **sp, char *path, size_t len)
{
	return conf_token(sp, "", path, len);
}

int
conf_path_count(const char *v)
{
	char	tok[CONF_VALUE_BYTES + 1];
	int	n = 0;

	while (v != NULL && conf_token(&v, "", tok, sizeof(tok)) == 1)
		n++;
	return n;
}

int
conf_tls_server(const struct mmp_conf *conf, int sect)
{
	return sect != CONF_GLOBAL && sect >= 0 && sect < CONF_NSECT &&
	    conf->enabled[sect] && conf_num(conf, sect, CK_SSLENABLE);
}

int
conf_tls_store(const struct mmp_conf *conf, int sect)
{
	return sect != CONF_GLOBAL && sect >= 0 && sect < CONF_NSECT &&
	    conf->enabled[sect] && (conf_num(conf, sect, CK_SSLBACKSIDEPORT)
	    != 0 || conf_num(conf, sect, CK_STORESTARTTLS));
}

int
conf_tls_used(const struct mmp_conf *conf)
{
	int	sect;

	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		if (conf_tls_server(conf, sect) || conf_tls_store(conf, sect))
			return 1;
	return 0;
}

/* "ImapProxyAService.cfg:12" of a set key, the section's file if not. */
static const char *
conf_where(const struct mmp_conf *conf, int sect, enum conf_key key,
    char *buf, size_t len)
{
	const struct conf_value	*cv = &conf->v[sect][key];

	if (cv->isset)
		snprintf(buf, len, "%s:%d", cv->file, cv->line);
	else
		strlcpy(buf, conf_files[sect], len);
	return buf;
}

/* The product's NSS databases: cert7.db, key3.db, cert8.db, cert9.db. */
static int
conf_check_not_nss(const struct mmp_conf *conf, int sect, enum conf_key key,
    char *err, size_t errlen)
{
	char		 path[CONF_VALUE_BYTES + 1], where[CONF_WHY_BYTES];
	char		 show[CONF_SHOW_BYTES];
	const char	*p = conf_str(conf, sect, key);
	size_t		 len;

	while (p != NULL && conf_token(&p, "", path, sizeof(path)) == 1) {
		len = strlen(path);
		if (len < 3 || strcasecmp(path + len - 3, ".db") != 0)
			continue;
		conf_errf(err, errlen, "%s: %s: %s is an NSS database; %s",
		    conf_where(conf, sect, key, where, sizeof(where)),
		    conf_keys[key].name, conf_show_raw(path, show,
		    sizeof(show)), CONF_NSS_HINT);
		return -1;
	}
	return 0;
}

/* SSLEnable yes: certificates and keys, as many of one as of the other. */
static int
conf_check_tls_server(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	char	where[CONF_WHY_BYTES];
	int	ncert, nkey;

	ncert = conf_path_count(conf_str(conf, sect, CK_SSLCERTFILE));
	nkey = conf_path_count(conf_str(conf, sect, CK_SSLKEYFILE));
	if (ncert == 0) {
		conf_errf(err, errlen, "%s: SSLEnable yes needs SSLCertFile "
		    "and SSLKeyFile (PEM files)", conf_where(conf, sect,
		    CK_SSLENABLE, where, sizeof(where)));
		return -1;
	}
	if (nkey != ncert) {
		conf_errf(err, errlen, "%s: SSLKeyFile: %d file%s for %d in "
		    "SSLCertFile; each certificate needs its key, in the same "
		    "order", conf_where(conf, sect, nkey > 0 ? CK_SSLKEYFILE :
		    CK_SSLCERTFILE, where, sizeof(where)), nkey,
		    nkey == 1 ? "" : "s", ncert);
		return -1;
	}
	if (conf_check_not_nss(conf, sect, CK_SSLCERTFILE, err, errlen) == -1 ||
	    conf_check_not_nss(conf, sect, CK_SSLKEYFILE, err, errlen) == -1)
		return -1;
	return 0;
}

/* What a configuration asks of TLS, key against key. */
static int
conf_check_tls(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	char	where[CONF_WHY_BYTES];

	if (conf_num(conf, sect, CK_SSLENABLE) &&
	    conf_check_tls_server(conf, sect, err, errlen) == -1)
		return -1;
	if (conf_num(conf, sect, CK_SSLBACKSIDEPORT) != 0 &&
	    conf_num(conf, sect, CK_STORESTARTTLS)) {
		conf_errf(err, errlen, "%s: StoreStartTLS yes and "
		    "SSLBacksidePort %lld: choose one (STARTTLS on "
		    "BacksidePort, or TLS from the first byte on "
		    "SSLBacksidePort)", conf_where(conf, sect, CK_STORESTARTTLS,
		    where, sizeof(where)),
		    conf_num(conf, sect, CK_SSLBACKSIDEPORT));
		return -1;
	}
	return 0;
}

/*
 * CRAMs yes: a CRAM login is replayed to the store as StoreAdmin, so
 * both keys must be there. Checked where the files are read (the parent:
 * start, -n, reload); mmp-ldapd never gets StoreAdminPass.
 */
static int
conf_check_crams(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	char		 where[CONF_WHY_BYTES];
	const char	*admin, *pass;

	if (!conf_num(conf, sect, CK_CRAMS))
		return 0;
	admin = conf_str(conf, sect, CK_STOREADMIN);
	pass = conf_str(conf, sect, CK_STOREADMINPASS);
	if (admin != NULL && admin[0] != '\0' && pass != NULL &&
	    pass[0] != '\0')
		return 0;
	conf_errf(err, errlen, "%s: CRAMs yes needs StoreAdmin and "
	    "StoreAdminPass: APOP and CRAM-MD5 logins are replayed to the "
	    "store as its administrator", conf_where(conf, sect, CK_CRAMS,
	    where, sizeof(where)));
	return -1;
}

int
conf_finish(struct mmp_conf *conf, char *err, size_t errlen)
{
	const struct conf_value	*cv;
	struct conf_svcparse	 sp;
	char			 why[CONF_WHY_BYTES];
	size_t			 i;
	int			 sect;

	free(conf->listeners);
	conf->listeners = NULL;
	conf->nlisteners = 0;
	memset(conf->enabled, 0, sizeof(conf->enabled));
	cv = &conf->v[CONF_GLOBAL][CK_SERVICELIST];
	if (!cv->isset) {
		conf_errf(err, errlen, "%s: ServiceList is required",
		    conf_files[CONF_GLOBAL]);
		return -1;
	}
	if (conf_parse_servicelist(cv->str, &sp, why, sizeof(why)) == -1) {
		conf_errf(err, errlen, "%s:%d: ServiceList: %s", cv->file,
		    cv->line, why);
		return -1;
	}
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++) {
		if (sp.enabled[sect] && !conf->v[sect][CK_LDAPURL].isset) {
			conf_errf(err, errlen, "%s: LdapUrl is required",
			    conf_files[sect]);
			free(sp.l);
			return -1;
		}
	}
	for (i = 0; i < sp.n; i++) {
		sp.l[i].tls = conf_port_is_tls(conf, sp.l[i].svc,
		    sp.l[i].port);
		sp.l[i].proxy = conf_listener_is_proxy(conf, &sp.l[i]);
	}
	conf->listeners = sp.l;
	conf->nlisteners = sp.n;
	memcpy(conf->enabled, sp.enabled, sizeof(conf->enabled));
	conf->enabled[CONF_GLOBAL] = 1;
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		if (conf->enabled[sect] &&
		    (conf_check_tls(conf, sect, err, errlen) == -1 ||
		    conf_check_proxy(conf, sect, err, errlen) == -1 ||
		    conf_check_tcpaccess(conf, sect, err, errlen) == -1))
			return -1;
	return 0;
}

/*
 * One line into buf without its LF or CRLF: 1 a line, 0 end of file,
 * -1 read error, -2 line too long, -3 NUL byte.
 */
static int
conf_read_line(FILE *fp, char *buf, size_t size, size_t *lenp)
{
	size_t	len = 0;
	int	c;

	for (;;) {
		if ((c = getc(fp)) == EOF) {
			if (ferror(fp))
				return -1;
			if (len == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0')
			return -3;
		if (len + 1 >= size)
			return -2;
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > CONF_LINE_BYTES)
		return -2;
	buf[len] = '\0';
	*lenp = len;
	return 1;
}

/*
 * The value after the key, blanks trimmed. A value that starts with a
 * double quote ends with the matching one; inside, \" and \\ are escapes
 * and any other backslash is kept (paths of the Windows product).
 */
int
conf_value_unquote(const char *v, char *out, size_t outlen, char *why,
    size_t whylen)
{
	size_t	len, i, o = 0;

	len = conf_trim_len(v, strlen(v));
	if (len >= outlen) {
		snprintf(why, whylen, "value too long");
		return -1;
	}
	if (v[0] != '"') {
		memcpy(out, v, len);
		out[len] = '\0';
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len &&
		    (v[i + 1] == '"' || v[i + 1] == '\\'))
			i++;
		else if (v[i] == '"')
			break;
		out[o++] = v[i];
	}
	out[o] = '\0';
	if (i >= len) {
		snprintf(why, whylen, "no closing double quote");
		return -1;
	}
	if (i + 1 != len) {
		snprintf(why, whylen, "text after the closing double quote");
		return -1;
	}
	return 0;
}

/* "ImapProxyAService.cfg and PopProxyAService.cfg" */
static void
conf_files_text(unsigned int files, char *buf, size_t len)
{
	int	sect;

	buf[0] = '\0';
	for (sect = 0; sect < CONF_NSECT; sect++) {
		if ((files & (1U << sect)) == 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, " and ", len);
		strlcat(buf, conf_files[sect], len);
	}
}

/*
 * Which key a `section:Key value` line sets: the key number, -1 for a
 * line to skip (warned about), -2 for an error. *valp: after the key.
 */
static int
conf_line_key(int sect, char *line, int lineno, char **valp, char *err,
    size_t errlen)
{
	const struct conf_keyinfo	*ki;
	const char			*file = conf_files[sect];
	char				 show[CONF_SHOW_BYTES];
	char				 files[CONF_WHY_BYTES];
	char				*p, *end, *colon;
	int				 k;

	p = (char *)conf_skip_blanks(line);
	if (*p == '\0' || *p == '#')
		return -1;
	for (end = p; *end != '\0' && conf_blank(end) == 0; end++)
		;
	if ((colon = memchr(p, ':', end - p)) == NULL) {
		conf_errf(err, errlen, "%s:%d: not a \"default:Key value\" "
		    "line", file, lineno);
		return -2;
	}
	if (colon + 1 == end) {
		conf_errf(err, errlen, "%s:%d: no key after \":\"", file,
		    lineno);
		return -2;
	}
	*valp = (char *)conf_skip_blanks(end);
	*end = '\0';
	*colon = '\0';
	if (strcasecmp(p, "default") != 0) {
		log_warnx("%s:%d: section %s ignored, only default: is read",
		    file, lineno, conf_show_raw(p, show, sizeof(show)));
		return -1;
	}
	if ((k = conf_key_lookup(colon + 1)) == -1) {
		log_warnx("%s:%d: unknown key %s ignored", file, lineno,
		    conf_show_raw(colon + 1, show, sizeof(show)));
		return -1;
	}
	ki = &conf_keys[k];
	if ((ki->files & (1U << sect)) == 0) {
		conf_files_text(ki->files, files, sizeof(files));
		log_warnx("%s:%d: %s belongs in %s, ignored", file, lineno,
		    ki->name, files);
		return -1;
	}
	return k;
}

/* One line of a file: 0 (set, or skipped with a warning) or -1. */
static int
conf_parse_line(struct mmp_conf *conf, int sect, char *line, int lineno,
    char *err, size_t errlen)
{
	const char		*file = conf_files[sect];
	const struct conf_value	*cv;
	char			 value[CONF_LINE_BYTES + 1];
	char			 why[CONF_WHY_BYTES];
	char			*v;
	int			 k, rv = -1;

	if ((k = conf_line_key(sect, line, lineno, &v, err, errlen)) < 0)
		return k == -1 ? 0 : -1;
	if (conf_value_unquote(v, value, sizeof(value), why, sizeof(why)) == -1) {
		conf_errf(err, errlen, "%s:%d: %s: %s", file, lineno,
		    conf_keys[k].name, why);
		goto out;
	}
	if (conf_keys[k].flags & CKF_NSS)
		log_warnx("%s:%d: mmpd uses PEM files; %s is ignored", file,
		    lineno, conf_keys[k].name);
	cv = &conf->v[sect][k];
	if (cv->isset)
		log_warnx("%s:%d: %s already set at line %d, line %d wins",
		    file, lineno, conf_keys[k].name, cv->line, lineno);
	rv = conf_set(conf, sect, k, value, file, lineno, err, errlen);
 out:
	explicit_bzero(value, sizeof(value));
	return rv;
}

static FILE *
conf_open(const struct mmp_conf *conf, int sect, char *err, size_t errlen)
{
	const char	*file = conf_files[sect];
	char		 path[PATH_MAX];
	struct stat	 st;
	FILE		*fp;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", conf->dir, file) >=
	    sizeof(path)) {
		conf_errf(err, errlen, "%s: path too long", file);
		return NULL;
	}
	/* O_NONBLOCK: a FIFO planted here must not hang the parent. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY))
	    == -1) {
		conf_errf(err, errlen, "%s: cannot open %s: %s", file, path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_errf(err, errlen, "%s: %s is not a regular file", file,
		    path);
		close(fd);
		return NULL;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		conf_errf(err, errlen, "%s: %s: %s", file, path,
		    strerror(errno));
		close(fd);
	}
	return fp;
}

static int
conf_read_file(struct mmp_conf *conf, int sect, char *err, size_t errlen)
{
	const char	*file = conf_files[sect];
	char		 line[CONF_LINE_BYTES + 2];
	size_t		 len;
	FILE		*fp;
	int		 lineno = 0, r, rv = -1;

	if ((fp = conf_open(conf, sect, err, errlen)) == NULL)
		return -1;
	while ((r = conf_read_line(fp, line, sizeof(line), &len)) == 1) {
		lineno++;
		/* A UTF-8 byte order mark, as Windows editors write it. */
		if (lineno == 1 && len >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0)
			memmove(line, line + 3, len - 2);
		if (conf_parse_line(conf, sect, line, lineno, err, errlen)
		    == -1)
			goto out;
	}
	lineno++;
	if (r == -1)
		conf_errf(err, errlen, "%s: read error: %s", file,
		    strerror(errno));
	else if (r == -2)
		conf_errf(err, errlen, "%s:%d: line longer than %d bytes",
		    file, lineno, CONF_LINE_BYTES);
	else if (r == -3)
		conf_errf(err, errlen, "%s:%d: NUL byte in line", file,
		    lineno);
	else
		rv = 0;
 out:
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return rv;
}

struct mmp_conf *
conf_load(const char *dir, char *err, size_t errlen)
{
	struct mmp_conf		*conf;
	struct conf_svcparse	 sp;
	const struct conf_value	*cv;
	char			 why[CONF_WHY_BYTES];
	int			 sect;

	if ((conf = conf_new()) == NULL) {
		conf_errf(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	if (strlcpy(conf->dir, dir, sizeof(conf->dir)) >= sizeof(conf->dir)) {
		conf_errf(err, errlen, "%s: directory name too long", dir);
		goto fail;
	}
	if (conf_read_file(conf, CONF_GLOBAL, err, errlen) == -1)
		goto fail;
	cv = &conf->v[CONF_GLOBAL][CK_SERVICELIST];
	if (!cv->isset) {
		conf_errf(err, errlen, "%s: ServiceList is required",
		    conf_files[CONF_GLOBAL]);
		goto fail;
	}
	/* Only the files of listed services are read. */
	if (conf_parse_servicelist(cv->str, &sp, why, sizeof(why)) == -1) {
		conf_errf(err, errlen, "%s:%d: ServiceList: %s", cv->file,
		    cv->line, why);
		goto fail;
	}
	free(sp.l);
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		if (sp.enabled[sect] &&
		    conf_read_file(conf, sect, err, errlen) == -1)
			goto fail;
	if (conf_finish(conf, err, errlen) == -1)
		goto fail;
	for (sect = SVC_IMAP; sect < CONF_NSECT; sect++)
		if (conf->enabled[sect] &&
		    conf_check_crams(conf, sect, err, errlen) == -1)
			goto fail;
	return conf;
 fail:
	conf_free(conf);
	return NULL;
}

/*
 * AService.cfg alone, unchecked beyond its own lines: what mmpctl(8)
 * needs (PidFile, ControlSocket) even while another file is broken.
 */
struct mmp_conf *
conf_load_global(const char *dir, char *err, size_t errlen)
{
	struct mmp_conf	*conf;

	if ((conf = conf_new()) == NULL) {
		conf_errf(err, errlen, "%s: out of memory", dir);
		return NULL;
	}
	if (strlcpy(conf->dir, dir, sizeof(conf->dir)) >= sizeof(conf->dir)) {
		conf_errf(err, errlen, "%s: directory name too long", dir);
		goto fail;
	}
	if (conf_read_file(conf, CONF_GLOBAL, err, errlen) == -1)
		goto fail;
	return conf;
 fail:
	conf_free(conf);
	return NULL;
}

/* A value in double quotes, escaped so the line can be read back. */
static void
conf_dump_quoted(FILE *fp, const char *s)
{
	unsigned char	c;

	fputc('"', fp);
	for (; s != NULL && *s != '\0'; s++) {
		c = *s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void
conf_dump_key(const struct mmp_conf *conf, int sect, int k, FILE *fp)
{
	const struct conf_keyinfo	*ki = &conf_keys[k];
	const struct conf_value		*cv = &conf->v[sect][k];
	const char			*s, *f;

	s = conf_str(conf, sect, k);
	fprintf(fp, "%s: default:%s ", conf_files[sect], ki->name);
	if ((ki->flags & CKF_SECRET) && s != NULL && s[0] != '\0')
		fputs("\"********\"", fp);
	else
		conf_dump_quoted(fp, s);
	if (cv->isset) {
		fputs("   # ", fp);
		for (f = cv->file; *f != '\0'; f++)
			fputc((unsigned char)*f < 0x20 || *f == 0x7f ? '?' : *f,
			    fp);
		fprintf(fp, ":%d", cv->line);
	} else
		fputs(s == NULL ? "   # default (unset)" : "   # default", fp);
	if (ki->flags & CKF_LATER)
		fputs(", not in effect in this version", fp);
	if (ki->flags & CKF_NSS)
		fputs(", ignored: mmpd uses PEM files", fp);
	fputc('\n', fp);
}

/* A file name as the dump shows it: control bytes replaced. */
static void
conf_dump_origin(FILE *fp, const char *file, int line)
{
	const char	*f;

	fputs("   # ", fp);
	for (f = file; *f != '\0'; f++)
		fputc((unsigned char)*f < 0x20 || *f == 0x7f ? '?' : *f, fp);
	fprintf(fp, ":%d", line);
}

/*
 * A service's virtual domains: "vdmap NAME ADDR" with its domain, then
 * every key a virtual domain may set (CF_V) with its effective value
 * there: the vdmap line that set it, or the service's (secrets hidden).
 */
static void
conf_dump_vdomains(const struct mmp_conf *conf, int sect, FILE *fp)
{
	const struct conf_vdomain	*vd;
	const struct conf_value		*cv;
	const char			*s;
	size_t				 i;
	int				 k;

	for (i = 0; i < conf->nvd[sect]; i++) {
		vd = &conf->vd[sect][i];
		fprintf(fp, "%s: vdmap %s %s", conf_files[sect], vd->name,
		    vd->addr);
		conf_dump_origin(fp, vd->file, vd->line);
		fputs(", domain ", fp);
		conf_dump_quoted(fp, conf_vdomain_domain(conf, sect, (int)i));
		fputc('\n', fp);
		for (k = 0; k < CK_NKEYS; k++) {
			if (!(conf_keys[k].files & CF_V) ||
			    !(conf_keys[k].files & (1U << sect)))
				continue;
			cv = &vd->v[k];
			s = conf_vstr(conf, sect, (int)i, k);
			fprintf(fp, "%s: %s:%s ", conf_files[sect], vd->name,
			    conf_keys[k].name);
			if ((conf_keys[k].flags & CKF_SECRET) && s != NULL &&
			    s[0] != '\0')
				fputs("\"********\"", fp);
			else
				conf_dump_quoted(fp, s);
			if (cv->isset)
				conf_dump_origin(fp, cv->file, cv->line);
			else
				fputs("   # service", fp);
			/* CertMap is the vdmap's CertMapFile: in effect here. */
			if ((conf_keys[k].flags & CKF_LATER) && k != CK_CERTMAP)
				fputs(", not in effect in this version", fp);
			fputc('\n', fp);
		}
	}
}

void
conf_dump(const struct mmp_conf *conf, FILE *fp)
{
	const struct conf_listener	*l;
	size_t				 i;
	int				 sect, k;

	for (sect = 0; sect < CONF_NSECT; sect++) {
		if (sect != CONF_GLOBAL && !conf->enabled[sect])
			continue;
		for (k = 0; k < CK_NKEYS; k++)
			if (conf_keys[k].files & (1U << sect))
				conf_dump_key(conf, sect, k, fp);
		if (sect != CONF_GLOBAL)
			conf_dump_vdomains(conf, sect, fp);
	}
	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		fprintf(fp, "listener %s %s %s%s\n", l->label,
		    l->svc == SVC_IMAP ? "imap" : "pop",
		    l->tls ? "tls" : "plain", l->proxy ? " proxy" : "");
	}
}

int
conf_sent_to(int key, enum conf_dest dest)
{
	const struct conf_keyinfo	*ki;

	if ((ki = conf_keyinfo(key)) == NULL)
		return 0;
	if (!(ki->flags & CKF_SECRET))
		return 1;
	switch (dest) {
	case CONF_TO_LDAPD:
		return (ki->flags & CKF_TO_LDAPD) != 0;
	case CONF_TO_RELAY:
		return (ki->flags & CKF_TO_RELAY) != 0;
	case CONF_TO_TLSD:
	case CONF_TO_STATS:
		break;
	}
	return 0;
}

/*
 * Is key set in sect's file or by one of its virtual domains? CertMap
 * counts in the file only: in a vdmap it is in effect.
 */
static int
conf_later_set(const struct mmp_conf *conf, int sect, int k)
{
	size_t	i;

	if (conf->v[sect][k].isset)
		return 1;
	for (i = 0; k != CK_CERTMAP && i < conf->nvd[sect]; i++)
		if (conf->vd[sect][i].v[k].isset)
			return 1;
	return 0;
}

void
conf_later_keys(const struct mmp_conf *conf, int sect, char *buf,
    size_t len)
{
	size_t	used;
	int	k;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	if (conf == NULL || sect < 0 || sect >= CONF_NSECT)
		return;
	for (k = 0; k < CK_NKEYS; k++) {
		if (!(conf_keys[k].flags & CKF_LATER) ||
		    !conf_later_set(conf, sect, k))
			continue;
		used = strlen(buf);
		/* Never cut a name: end with ", ..." when it does not fit. */
		if (used + 2 + strlen(conf_keys[k].name) + 5 >= len) {
			if (used + 5 < len)
				strlcat(buf, ", ...", len);
			return;
		}
		if (used > 0)
			strlcat(buf, ", ", len);
		strlcat(buf, conf_keys[k].name, len);
	}
}
