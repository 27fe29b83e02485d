/*
 * Virtual domains in the configuration: each service's vdmap entries
 * (lib/vdmap.c parses the file), the keys marked CF_V they override, and
 * the effective value of a key for a session's virtual domain.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmap.h"
#include "config.h"
#include "configint.h"
#include "log.h"
#include "tcpaccess.h"

/* A vdmap NAME: letters, digits, '.', '-', '_'; it prefixes keys. */
static int
conf_vdname_ok(const char *name)
{
	const char	*p;

	if (name[0] == '\0' || strlen(name) >= CONF_VDNAME_BYTES)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '_')
			return 0;
	return 1;
}

/*
 * A numeric address in its one text form (inet_ntop), an IPv4-mapped
 * IPv6 address as IPv4: 0, or -1 if addr is not an address.
 */
static int
conf_addr_normalise(const char *addr, char *out, size_t outlen)
{
	unsigned char	a[sizeof(struct in6_addr)];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	if (inet_pton(AF_INET, addr, a) == 1)
		return inet_ntop(AF_INET, a, out, outlen) == NULL ? -1 : 0;
	if (inet_pton(AF_INET6, addr, a) != 1)
		return -1;
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return inet_ntop(AF_INET, a + 12, out, outlen) == NULL ? -1 : 0;
	return inet_ntop(AF_INET6, a, out, outlen) == NULL ? -1 : 0;
}

static int
conf_vd_ok(const struct mmp_conf *conf, int sect, int vd)
{
	return conf != NULL && sect > CONF_GLOBAL && sect < CONF_NSECT &&
	    vd >= 0 && (size_t)vd < conf->nvd[sect];
}

int
conf_vdomain_by_name(const struct mmp_conf *conf, int sect, const char *name)
{
	size_t	i;

	if (conf == NULL || sect <= CONF_GLOBAL || sect >= CONF_NSECT)
		return -1;
	for (i = 0; i < conf->nvd[sect]; i++)
		if (strcasecmp(conf->vd[sect][i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * The address of "ADDR", "IPv4:PORT" or "[IPv6]:PORT" (how the relays
 * write a socket's address) into out: 0, or -1 if it does not fit.
 */
static int
conf_addr_strip_port(const char *addr, char *out, size_t outlen)
{
	const char	*end, *c;
	size_t		 n;

	if (addr[0] == '[') {
		if ((end = strchr(addr, ']')) == NULL)
			return -1;
		addr++;
	} else if ((c = strchr(addr, ':')) != NULL && strchr(c + 1, ':') ==
	    NULL)
		end = c;
	else
		end = addr + strlen(addr);
	n = (size_t)(end - addr);
	if (n >= outlen)
		return -1;
	memcpy(out, addr, n);
	out[n] = '\0';
	return 0;
}

int
conf_vdomain_find(const struct mmp_conf *conf, int sect, const char *addr)
{
	char	host[CONF_HOST_BYTES], norm[CONF_HOST_BYTES];
	size_t	i;

	if (conf == NULL || sect <= CONF_GLOBAL || sect >= CONF_NSECT ||
	    addr == NULL || conf->nvd[sect] == 0 ||
	    conf_addr_strip_port(addr, host, sizeof(host)) == -1 ||
	    conf_addr_normalise(host, norm, sizeof(norm)) == -1)
		return -1;
	for (i = 0; i < conf->nvd[sect]; i++)
		if (strcmp(conf->vd[sect][i].addr, norm) == 0)
			return (int)i;
	return -1;
}

int
conf_vdomain_add(struct mmp_conf *conf, int sect, const char *name,
    const char *addr, const char *file, int line, char *err, size_t errlen)
{
	struct conf_vdomain	*nv, *vd;
	char			 norm[CONF_HOST_BYTES], show[CONF_SHOW_BYTES];
	int			 o;

	if (file == NULL)
		file = "?";
	if (conf == NULL || sect <= CONF_GLOBAL || sect >= CONF_NSECT) {
		conf_errf(err, errlen, "%s:%d: invalid section", file, line);
		return -1;
	}
	if (!conf_vdname_ok(name)) {
		conf_errf(err, errlen, "%s:%d: vdmap name %s: not 1..%d "
		    "letters, digits, '.', '-' or '_'", file, line,
		    conf_show_raw(name, show, sizeof(show)),
		    CONF_VDNAME_BYTES - 1);
		return -1;
	}
	if (conf_addr_normalise(addr, norm, sizeof(norm)) == -1) {
		conf_errf(err, errlen, "%s:%d: vdmap %s: %s is not an IPv4 or "
		    "IPv6 address", file, line, name, conf_show_raw(addr, show,
		    sizeof(show)));
		return -1;
	}
	if ((o = conf_vdomain_by_name(conf, sect, name)) != -1) {
		conf_errf(err, errlen, "%s:%d: vdmap %s: name already used at "
		    "line %d", file, line, name, conf->vd[sect][o].line);
		return -1;
	}
	if ((o = conf_vdomain_find(conf, sect, norm)) != -1) {
		conf_errf(err, errlen, "%s:%d: vdmap %s: address %s already "
		    "used by %s (line %d)", file, line, name, norm,
		    conf->vd[sect][o].name, conf->vd[sect][o].line);
		return -1;
	}
	if (conf->nvd[sect] >= CONF_VDOMAINS_MAX) {
		conf_errf(err, errlen, "%s:%d: more than %d vdmap entries",
		    file, line, CONF_VDOMAINS_MAX);
		return -1;
	}
	nv = recallocarray(conf->vd[sect], conf->nvd[sect],
	    conf->nvd[sect] + 1, sizeof(*nv));
	if (nv == NULL) {
		conf_errf(err, errlen, "%s:%d: out of memory", file, line);
		return -1;
	}
	conf->vd[sect] = nv;
	vd = &nv[conf->nvd[sect]];
	strlcpy(vd->name, name, sizeof(vd->name));
	strlcpy(vd->addr, norm, sizeof(vd->addr));
	strlcpy(vd->file, file, sizeof(vd->file));
	vd->line = line;
	return (int)conf->nvd[sect]++;
}

int
conf_vset(struct mmp_conf *conf, int sect, int vd, enum conf_key key,
    const char *value, const char *file, int line, char *err, size_t errlen)
{
	const struct conf_keyinfo	*ki;

	if (file == NULL)
		file = "?";
	if (!conf_vd_ok(conf, sect, vd) || (ki = conf_keyinfo(key)) == NULL ||
	    value == NULL) {
		conf_errf(err, errlen, "%s:%d: invalid key or virtual domain",
		    file, line);
		return -1;
	}
	if ((ki->files & CF_V) == 0 || (ki->files & (1U << sect)) == 0) {
		conf_errf(err, errlen, "%s:%d: %s may not be set per virtual "
		    "domain", file, line, ki->name);
		return -1;
	}
	return conf_store(ki, &conf->vd[sect][vd].v[key], value, file, line,
	    err, errlen);
}

int
conf_voverrides(const struct mmp_conf *conf, int sect, int vd,
    enum conf_key key)
{
	return conf_vd_ok(conf, sect, vd) && conf_keyinfo(key) != NULL &&
	    conf->vd[sect][vd].v[key].isset;
}

const char *
conf_vstr(const struct mmp_conf *conf, int sect, int vd, enum conf_key key)
{
	if (conf_voverrides(conf, sect, vd, key))
		return conf->vd[sect][vd].v[key].str;
	return conf_str(conf, sect, key);
}

long long
conf_vnum(const struct mmp_conf *conf, int sect, int vd, enum conf_key key)
{
	if (conf_voverrides(conf, sect, vd, key))
		return conf->vd[sect][vd].v[key].num;
	return conf_num(conf, sect, key);
}

int
conf_visset(const struct mmp_conf *conf, int sect, int vd, enum conf_key key)
{
	return conf_voverrides(conf, sect, vd, key) ||
	    conf_isset(conf, sect, key);
}

const char *
conf_vdomain_domain(const struct mmp_conf *conf, int sect, int vd)
{
	const char	*d;

	if (!conf_vd_ok(conf, sect, vd))
		return NULL;
	if (conf_voverrides(conf, sect, vd, CK_DEFAULTDOMAIN) &&
	    (d = conf->vd[sect][vd].v[CK_DEFAULTDOMAIN].str)[0] != '\0')
		return d;
	return conf->vd[sect][vd].name;
}

int
conf_check_vdomain_crams(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	const struct conf_vdomain	*vd;
	const struct conf_value		*cv;
	const char			*admin, *pass;
	size_t				 i;

	for (i = 0; i < conf->nvd[sect]; i++) {
		vd = &conf->vd[sect][i];
		if (!conf_vnum(conf, sect, (int)i, CK_CRAMS))
			continue;
		admin = conf_vstr(conf, sect, (int)i, CK_STOREADMIN);
		pass = conf_vstr(conf, sect, (int)i, CK_STOREADMINPASS);
		if (admin != NULL && admin[0] != '\0' && pass != NULL &&
		    pass[0] != '\0')
			continue;
		cv = &vd->v[CK_CRAMS];
		conf_errf(err, errlen, "%s:%d: virtual domain %s: CRAMs yes "
		    "needs StoreAdmin and StoreAdminPass: APOP and CRAM-MD5 "
		    "logins are replayed to the store as its administrator",
		    cv->isset ? cv->file : vd->file, cv->isset ? cv->line :
		    vd->line, vd->name);
		return -1;
	}
	return 0;
}

/* One set of rules against its ClientLookup; vd -1 is the service's. */
static int
conf_check_tcpaccess_vd(const struct mmp_conf *conf, int sect, int vd,
    struct tcpa_set *set, char *err, size_t errlen)
{
	const struct conf_value	*cv;
	const char		*v;
	char			 why[256], pat[TCPA_NAME_BYTES];

	v = conf_vstr(conf, sect, vd, CK_TCPACCESS);
	if (v == NULL || v[0] == '\0' ||
	    conf_vnum(conf, sect, vd, CK_CLIENTLOOKUP))
		return 0;
	if (tcpa_parse(v, set, why, sizeof(why)) == -1) {
		/* conf_set took it: not reached unless memory is corrupt */
		conf_errf(err, errlen, "%s: TCPAccess: %s",
		    conf_section_file(sect), why);
		return -1;
	}
	if (!tcpa_needs_name(set))
		return 0;
	cv = vd >= 0 && conf_voverrides(conf, sect, vd, CK_TCPACCESS) ?
	    &conf->vd[sect][vd].v[CK_TCPACCESS] : &conf->v[sect][CK_TCPACCESS];
	conf_errf(err, errlen, "%s:%d: TCPAccess: %s needs the client's host "
	    "name: set ClientLookup yes%s%s", cv->file, cv->line,
	    tcpa_name_pattern(set, pat, sizeof(pat)),
	    vd >= 0 ? " for virtual domain " : "",
	    vd >= 0 ? conf->vd[sect][vd].name : "");
	return -1;
}

int
conf_check_tcpaccess(const struct mmp_conf *conf, int sect, char *err,
    size_t errlen)
{
	struct tcpa_set	*set;
	size_t		 i;
	int		 rv;

	if (conf_str(conf, sect, CK_TCPACCESS) == NULL &&
	    conf->nvd[sect] == 0)
		return 0;
	if ((set = malloc(sizeof(*set))) == NULL) {
		conf_errf(err, errlen, "%s: TCPAccess: out of memory",
		    conf_section_file(sect));
		return -1;
	}
	rv = conf_check_tcpaccess_vd(conf, sect, -1, set, err, errlen);
	for (i = 0; rv == 0 && i < conf->nvd[sect]; i++)
		rv = conf_check_tcpaccess_vd(conf, sect, (int)i, set, err,
		    errlen);
	free(set);
	return rv;
}
