/*
 * SearchFormat: the user search filter filled with the login's values,
 * every value RFC 4515-escaped.
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

/* Append one value, RFC 4515-escaped. */
static int
filter_put(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	int	r;

	if (*len >= outsz ||
	    (r = escape_filter_value(s, n, out + *len, outsz - *len)) < 0)
		return -1;
	*len += (size_t)r;
	return 0;
}

static const char *
filter_value(int code, const struct filter_vars *v, size_t *lenp)
{
	const char	*s;

	switch (code) {
	case 's':
		s = v->name;
		break;
	case 'U':
		s = v->uid;
		break;
	case 'V':
		s = v->domain;
		break;
	case 'o':
		s = v->orig;
		break;
	case 'C':
		s = v->client;
		break;
	case 'S':
		s = v->local;
		break;
	case 'D':
		s = v->certdn;
		break;
	default:
		return NULL;
	}
	if (s == NULL)
		s = "";
	*lenp = strlen(s);
	return s;
}

/*
 * Fill SearchFormat: %s canonical name, %U user id, %V domain, %o the
 * name as typed, %C client address, %S local address, %D certificate
 * subject, %% '%'. Every value is RFC 4515-escaped; the template itself
 * was checked by the configuration parser. Length or -1 with err.
 */
int
lookup_filter_expand(const char *fmt, const struct filter_vars *v, char *out,
    size_t outsz, char *err, size_t errlen)
{
	const char	*p, *val;
	size_t		 len = 0, n;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (p = fmt; *p != '\0'; p++) {
		if (*p == '%' && p[1] != '%') {
			if ((val = filter_value(*++p, v, &n)) == NULL) {
				(void)snprintf(err, errlen, "SearchFormat has "
				    "an unknown %% code");
				return -1;
			}
			if (filter_put(out, outsz, &len, val, n) == -1)
				goto toolong;
			continue;
		}
		if (*p == '%')
			p++;
		if (len + 1 >= outsz)
			goto toolong;
		out[len++] = *p;
		out[len] = '\0';
	}
	return (int)len;
 toolong:
	(void)snprintf(err, errlen, "filter longer than %zu bytes", outsz - 1);
	out[0] = '\0';
	return -1;
}
