/*
 * The vdmap file parser (lib/vdmap.h): lines of a buffer, each a `vdmap
 * NAME IPADDR` entry, a `NAME:Key value` override, a comment or blank.
 * Every byte is the operator's file, read by root: bounded and checked.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "vdmap.h"

#define VDMAP_LINE_BYTES	4096	/* as the .cfg files (lib/config.c) */
#define VDMAP_WORD_BYTES	256

/* 5.1's names for keys the table spells otherwise. */
static const struct {
	const char	*name;
	enum conf_key	 key;
} vdmap_aliases[] = {
	{ "CanonicalVirtual", CK_CANONICALDELIM },
};

/* The word at *pp into w, *pp past it: 0, or -1 if it does not fit. */
static int
vdmap_word(const char **pp, char *w, size_t wlen)
{
	const char	*p = conf_skip_blanks(*pp), *start = p;

	while (*p != '\0' && conf_blank(p) == 0)
		p++;
	*pp = p;
	if ((size_t)(p - start) >= wlen)
		return -1;
	memcpy(w, start, (size_t)(p - start));
	w[p - start] = '\0';
	return 0;
}

static int
vdmap_key(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(vdmap_aliases) / sizeof(vdmap_aliases[0]); i++)
		if (strcasecmp(vdmap_aliases[i].name, name) == 0)
			return vdmap_aliases[i].key;
	return conf_key_lookup(name);
}

/* `vdmap NAME IPADDR`; p is after the word vdmap. */
static int
vdmap_entry(struct mmp_conf *conf, int sect, const char *p, const char *file,
    int lineno, char *err, size_t errlen)
{
	char	name[VDMAP_WORD_BYTES], addr[VDMAP_WORD_BYTES];

	if (vdmap_word(&p, name, sizeof(name)) == -1 ||
	    vdmap_word(&p, addr, sizeof(addr)) == -1 || name[0] == '\0' ||
	    addr[0] == '\0' || *conf_skip_blanks(p) != '\0') {
		(void)snprintf(err, errlen, "%s:%d: not \"vdmap NAME "
		    "IPADDR\"", file, lineno);
		return -1;
	}
	return conf_vdomain_add(conf, sect, name, addr, file, lineno, err,
	    errlen) == -1 ? -1 : 0;
}

/* `NAME:Key value`; word is NAME:Key, p the rest of the line. */
static int
vdmap_override(struct mmp_conf *conf, int sect, char *word, const char *p,
    const char *file, int lineno, char *err, size_t errlen)
{
	const struct conf_keyinfo	*ki;
	const struct conf_value		*cv;
	char				 value[VDMAP_LINE_BYTES + 1];
	char				 why[256], *colon, *q;
	int				 vd, k, rv = -1;

	colon = strchr(word, ':');
	*colon = '\0';
	if ((vd = conf_vdomain_by_name(conf, sect, word)) == -1) {
		(void)snprintf(err, errlen, "%s:%d: %s: no \"vdmap %s IPADDR\" "
		    "line before", file, lineno, word, word);
		return -1;
	}
	if ((k = vdmap_key(colon + 1)) == -1) {
		/* Shown, not obeyed: no control byte reaches the log. */
		for (q = colon + 1; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = '?';
		log_warnx("%s:%d: unknown key \"%s\" ignored", file, lineno,
		    colon + 1);
		return 0;
	}
	ki = conf_keyinfo(k);
	if ((ki->files & CF_V) == 0) {
		(void)snprintf(err, errlen, "%s:%d: %s may not be set per "
		    "virtual domain", file, lineno, ki->name);
		return -1;
	}
	if (conf_value_unquote(conf_skip_blanks(p), value, sizeof(value), why,
	    sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "%s:%d: %s: %s", file, lineno,
		    ki->name, why);
		goto out;
	}
	if (k == CK_VDOMAIN)
		log_warnx("%s:%d: VDomain has no defined meaning; accepted "
		    "and not used", file, lineno);
	cv = &conf->vd[sect][vd].v[k];
	if (cv->isset)
		log_warnx("%s:%d: %s:%s already set at line %d, line %d wins",
		    file, lineno, word, ki->name, cv->line, lineno);
	rv = conf_vset(conf, sect, vd, k, value, file, lineno, err, errlen);
 out:
	explicit_bzero(value, sizeof(value));
	return rv;
}

/* One line, NUL-terminated, without its LF or CRLF. */
static int
vdmap_line(struct mmp_conf *conf, int sect, char *line, const char *file,
    int lineno, char *err, size_t errlen)
{
	char		 word[VDMAP_WORD_BYTES];
	const char	*p = conf_skip_blanks(line);

	if (*p == '\0' || *p == '#')
		return 0;
	if (vdmap_word(&p, word, sizeof(word)) == -1) {
		(void)snprintf(err, errlen, "%s:%d: word longer than %d bytes",
		    file, lineno, VDMAP_WORD_BYTES - 1);
		return -1;
	}
	if (strcasecmp(word, "vdmap") == 0)
		return vdmap_entry(conf, sect, p, file, lineno, err, errlen);
	if (strchr(word, ':') == NULL || word[0] == ':' ||
	    word[strlen(word) - 1] == ':') {
		(void)snprintf(err, errlen, "%s:%d: not \"vdmap NAME IPADDR\" "
		    "or \"NAME:Key value\"", file, lineno);
		return -1;
	}
	return vdmap_override(conf, sect, word, p, file, lineno, err, errlen);
}

int
vdmap_parse(struct mmp_conf *conf, int sect, const char *buf, size_t len,
    const char *file, char *err, size_t errlen)
{
	char		 line[VDMAP_LINE_BYTES + 1];
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 n;
	int		 lineno = 0, rv = 0;

	if (conf == NULL || sect <= CONF_GLOBAL || sect >= CONF_NSECT ||
	    conf->nvd[sect] != 0) {
		(void)snprintf(err, errlen, "%s: not a service, or its virtual "
		    "domains were read already", file);
		return -1;
	}
	if (len > VDMAP_FILE_MAX_BYTES) {
		(void)snprintf(err, errlen, "%s: larger than %d bytes", file,
		    VDMAP_FILE_MAX_BYTES);
		return -1;
	}
	/* A UTF-8 byte order mark, as Windows editors write it. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && rv == 0) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) != NULL) {
			(void)snprintf(err, errlen, "%s:%d: NUL byte in line",
			    file, lineno);
			rv = -1;
		} else if (n > VDMAP_LINE_BYTES) {
			(void)snprintf(err, errlen, "%s:%d: line longer than "
			    "%d bytes", file, lineno, VDMAP_LINE_BYTES);
			rv = -1;
		} else {
			memcpy(line, p, n);
			line[n] = '\0';
			rv = vdmap_line(conf, sect, line, file, lineno, err,
			    errlen);
		}
		p = nl != NULL ? nl + 1 : end;
	}
	explicit_bzero(line, sizeof(line));
	return rv;
}
