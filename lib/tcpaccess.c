/*
 * TCPAccess values: both notations of the product (the rule form
 * "+svc:client$-svc:client" and the filter form "svc: clients [EXCEPT
 * clients] [: allow|deny]"), parsed strictly into a table, and the check
 * of one client against it. No name is resolved here.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "tcpaccess.h"

#define TCPA_WHY_TOKEN		48	/* bytes of a token quoted in why */
#define TCPA_NET_BYTES		96	/* an address pattern, rewritten */

static const struct {
	const char	*name;
	uint8_t		 bits;
} tcpa_svcs[] = {
	{ "ALL",	TCPA_SVC_ALL },
	{ "imap",	TCPA_SVC_IMAP | TCPA_SVC_IMAPS },
	{ "imaps",	TCPA_SVC_IMAPS },
	{ "pop",	TCPA_SVC_POP | TCPA_SVC_POPS },
	{ "pop3",	TCPA_SVC_POP | TCPA_SVC_POPS },
	{ "pops",	TCPA_SVC_POPS },
	{ "smtp",	TCPA_SVC_OTHER },
	{ "http",	TCPA_SVC_OTHER },
};

static const struct {
	const char	*name;
	enum tcpa_kind	 kind;
} tcpa_words[] = {
	{ "ALL",	TCPA_ALL },
	{ "*",		TCPA_ALL },
	{ "LOCAL",	TCPA_LOCAL },
	{ "KNOWN",	TCPA_KNOWN },
	{ "UNKNOWN",	TCPA_UNKNOWN },
	{ "DNSSPOOFER",	TCPA_SPOOFER },
	{ "PARANOID",	TCPA_SPOOFER },
	{ "EXCEPT",	TCPA_EXCEPT },
};

/* One piece of the value: text[off .. off + len). */
struct tcpa_span {
	size_t	off;
	size_t	len;
};

static int
tcpa_fail(char *why, size_t whylen, const char *what, const char *s,
    size_t len)
{
	if (len > TCPA_WHY_TOKEN)
		(void)snprintf(why, whylen, "\"%.*s...\": %s",
		    TCPA_WHY_TOKEN, s, what);
	else
		(void)snprintf(why, whylen, "\"%.*s\": %s", (int)len, s, what);
	return -1;
}

static int
tcpa_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* sp without the blanks at either end. */
static void
tcpa_trim(const char *text, struct tcpa_span *sp)
{
	while (sp->len > 0 && tcpa_blank(text[sp->off])) {
		sp->off++;
		sp->len--;
	}
	while (sp->len > 0 && tcpa_blank(text[sp->off + sp->len - 1]))
		sp->len--;
}

static int
tcpa_word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Services "imap,pop" into bits: 0, or -1 with why. */
static int
tcpa_services(const char *text, struct tcpa_span sp, uint8_t *bits,
    char *why, size_t whylen)
{
	const char	*s = text + sp.off, *end = s + sp.len, *t;
	size_t		 i, len;

	*bits = 0;
	while (s < end) {
		if (*s == ',' || tcpa_blank(*s)) {
			s++;
			continue;
		}
		for (t = s; t < end && *t != ',' && !tcpa_blank(*t); t++)
			;
		len = (size_t)(t - s);
		for (i = 0; i < sizeof(tcpa_svcs) / sizeof(tcpa_svcs[0]); i++)
			if (tcpa_word_is(s, len, tcpa_svcs[i].name))
				break;
		if (memchr(s, '@', len) != NULL)
			return tcpa_fail(why, whylen, "service@host is not "
			    "supported (a virtual domain chooses by local "
			    "address)", s, len);
		if (i == sizeof(tcpa_svcs) / sizeof(tcpa_svcs[0]))
			return tcpa_fail(why, whylen, "unknown service (imap, "
			    "imaps, pop, pops, ALL)", s, len);
		*bits |= tcpa_svcs[i].bits;
		s = t;
	}
	if (*bits == 0)
		return tcpa_fail(why, whylen, "no service before \":\"",
		    text + sp.off, sp.len);
	return 0;
}

/* An octet of a dotted address: decimal 0..255, no leading zero. */
static int
tcpa_octet(const char *s, size_t len)
{
	size_t	i;
	int	v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 255 ? v : -1;
}

/* "10.", "192.168.", "192.168.1.": the network of those octets. */
static int
tcpa_prefix(const char *s, size_t len, struct netmask *nm)
{
	char		 buf[TCPA_NET_BYTES];
	int		 oct[3], n = 0, v;
	const char	*p = s, *dot, *end = s + len;

	while (p < end) {
		if ((dot = memchr(p, '.', (size_t)(end - p))) == NULL ||
		    n == 3 || (v = tcpa_octet(p, (size_t)(dot - p))) == -1)
			return -1;
		oct[n++] = v;
		p = dot + 1;
	}
	if (n == 0)
		return -1;
	(void)snprintf(buf, sizeof(buf), "%d.%d.%d.0/%d", oct[0],
	    n > 1 ? oct[1] : 0, n > 2 ? oct[2] : 0, n * 8);
	return netmask_parse(buf, nm, NULL, 0);
}

static size_t
tcpa_dots(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '.';
	return n;
}

/*
 * An address pattern: "a.b.c.d", "a.b.c." (a prefix), "a.b.c.d/len",
 * "a.b.c.d/m.m.m.m", "[v6]" or "[v6]/len". 0, or -1 with why.
 */
static int
tcpa_address(const char *s, size_t len, struct netmask *nm, char *why,
    size_t whylen)
{
	char		 buf[TCPA_NET_BYTES], nwhy[128];
	const char	*slash, *close;
	size_t		 alen;

	if (len >= sizeof(buf))
		return tcpa_fail(why, whylen, "address pattern too long", s,
		    len);
	if (s[0] == '[') {
		if ((close = memchr(s, ']', len)) == NULL ||
		    (close + 1 != s + len && close[1] != '/'))
			return tcpa_fail(why, whylen, "not [IPv6] or "
			    "[IPv6]/length", s, len);
		alen = (size_t)(close - s - 1);
		memcpy(buf, s + 1, alen);
		(void)snprintf(buf + alen, sizeof(buf) - alen, "%.*s",
		    (int)(s + len - close - 1), close + 1);
		if (memchr(buf, ':', alen) == NULL)
			return tcpa_fail(why, whylen, "brackets are for IPv6 "
			    "addresses", s, len);
	} else {
		if (s[len - 1] == '.') {
			if (tcpa_prefix(s, len, nm) == -1)
				return tcpa_fail(why, whylen, "not an address "
				    "prefix like 192.168.1.", s, len);
			return 0;
		}
		memcpy(buf, s, len);
		buf[len] = '\0';
		/* a.b.c.d/m.m.m.m is the product's a.b.c.d|m.m.m.m */
		if ((slash = strchr(buf, '/')) != NULL &&
		    strchr(slash, '.') != NULL)
			buf[slash - buf] = '|';
		if (slash == NULL && tcpa_dots(buf) != 3)
			return tcpa_fail(why, whylen, "incomplete address "
			    "(a prefix ends with \".\")", s, len);
	}
	if (netmask_parse(buf, nm, nwhy, sizeof(nwhy)) == -1)
		return tcpa_fail(why, whylen, nwhy, s, len);
	if (s[0] == '[' && nm->family != AF_INET6)
		return tcpa_fail(why, whylen, "brackets are for IPv6 "
		    "addresses", s, len);
	return 0;
}

/*
 * A host name or ".domain": labels of letters, digits, '-' and '_', at
 * most 63 bytes each and 253 in all.
 */
static int
tcpa_hostname_ok(const char *s, size_t len)
{
	size_t	i, label = 0;

	if (len == 0 || len > TCPA_NAME_BYTES - 1)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 && i > 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* Does the token look like an address (digits, dots, a mask)? */
static int
tcpa_looks_numeric(const char *s, size_t len)
{
	size_t	i;

	if (s[0] == '[')
		return 1;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '/')
			return 0;
	return 1;
}

/* One client pattern into it: 0, or -1 with why. */
static int
tcpa_pattern(struct tcpa_set *set, size_t off, size_t len,
    struct tcpa_item *it, char *why, size_t whylen)
{
	const char	*s = set->text + off;
	size_t		 i;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < sizeof(tcpa_words) / sizeof(tcpa_words[0]); i++) {
		if (tcpa_word_is(s, len, tcpa_words[i].name)) {
			it->kind = tcpa_words[i].kind;
			if (it->kind >= TCPA_LOCAL && it->kind <= TCPA_SPOOFER)
				set->names = 1;
			return 0;
		}
	}
	if (s[0] == '@')
		return tcpa_fail(why, whylen, "netgroups are not supported",
		    s, len);
	if (memchr(s, '@', len) != NULL)
		return tcpa_fail(why, whylen, "user@host (ident) is not "
		    "supported", s, len);
	if (memchr(s, '*', len) != NULL || memchr(s, '?', len) != NULL)
		return tcpa_fail(why, whylen, "wildcards other than ALL or a "
		    "lone * are not supported", s, len);
	if (tcpa_looks_numeric(s, len)) {
		it->kind = TCPA_NET;
		return tcpa_address(s, len, &it->net, why, whylen);
	}
	if (memchr(s, ':', len) != NULL)
		return tcpa_fail(why, whylen, "write an IPv6 address in "
		    "brackets: [2001:db8::]/32", s, len);
	if (memchr(s, '/', len) != NULL || !tcpa_hostname_ok(s, len))
		return tcpa_fail(why, whylen, "not an address, host name or "
		    ".domain", s, len);
	it->kind = s[0] == '.' ? TCPA_SUFFIX : TCPA_NAME;
	it->off = (uint16_t)off;
	it->len = (uint16_t)len;
	set->names = 1;
	return 0;
}

/* The client list of a rule: patterns, EXCEPT between two of them. */
static int
tcpa_clients(struct tcpa_set *set, struct tcpa_rule *r, struct tcpa_span sp,
    char *why, size_t whylen)
{
	struct tcpa_item	*it;
	size_t			 p = sp.off, end = sp.off + sp.len, t;
	int			 last = TCPA_EXCEPT;

	r->first = (uint16_t)set->nitems;
	while (p < end) {
		if (set->text[p] == ',' || tcpa_blank(set->text[p])) {
			p++;
			continue;
		}
		for (t = p; t < end && set->text[t] != ',' &&
		    !tcpa_blank(set->text[t]); t++)
			;
		if (set->nitems == TCPA_ITEMS_MAX) {
			(void)snprintf(why, whylen, "more than %d client "
			    "patterns", TCPA_ITEMS_MAX);
			return -1;
		}
		it = &set->items[set->nitems];
		if (tcpa_pattern(set, p, t - p, it, why, whylen) == -1)
			return -1;
		if (it->kind == TCPA_EXCEPT && last == TCPA_EXCEPT)
			return tcpa_fail(why, whylen, "EXCEPT needs a client "
			    "pattern before it", set->text + sp.off, sp.len);
		last = it->kind;
		set->nitems++;
		p = t;
	}
	if (last == TCPA_EXCEPT)
		return tcpa_fail(why, whylen, set->nitems == r->first ?
		    "no client pattern" : "EXCEPT needs a client pattern after "
		    "it", set->text + sp.off, sp.len);
	r->nitems = (uint16_t)(set->nitems - r->first);
	return 0;
}

/* The first ':' of sp outside brackets, or sp.len. */
static size_t
tcpa_colon(const char *text, struct tcpa_span sp, int last)
{
	size_t	i, found = sp.len;
	int	depth = 0;

	for (i = 0; i < sp.len; i++) {
		if (text[sp.off + i] == '[')
			depth++;
		else if (text[sp.off + i] == ']' && depth > 0)
			depth--;
		else if (text[sp.off + i] == ':' && depth == 0) {
			found = i;
			if (!last)
				break;
		}
	}
	return found;
}

/*
 * The filter form's optional ": allow" or ": deny" after the clients:
 * cut from cl, r->allow set. -1 with why for another ':'.
 */
static int
tcpa_action(const char *text, struct tcpa_span *cl, struct tcpa_rule *r,
    char *why, size_t whylen)
{
	struct tcpa_span	act;
	size_t			c;

	r->allow = 1;
	if ((c = tcpa_colon(text, *cl, 1)) == cl->len)
		return 0;
	act.off = cl->off + c + 1;
	act.len = cl->len - c - 1;
	tcpa_trim(text, &act);
	if (tcpa_word_is(text + act.off, act.len, "deny"))
		r->allow = 0;
	else if (!tcpa_word_is(text + act.off, act.len, "allow"))
		return tcpa_fail(why, whylen, "after the clients only "
		    "\": allow\" or \": deny\" (IPv6 addresses go in "
		    "brackets)", text + cl->off, cl->len);
	cl->len = c;
	if (tcpa_colon(text, *cl, 0) != cl->len)
		return tcpa_fail(why, whylen, "more than one \":\" after the "
		    "services", text + cl->off, cl->len);
	return 0;
}

/* One rule, sp trimmed and not empty. */
static int
tcpa_rule(struct tcpa_set *set, struct tcpa_span sp, char *why,
    size_t whylen)
{
	struct tcpa_rule	*r;
	struct tcpa_span	 svc, cl;
	size_t			 c;
	int			 ruleform;

	if (set->nrules == TCPA_RULES_MAX) {
		(void)snprintf(why, whylen, "more than %d rules",
		    TCPA_RULES_MAX);
		return -1;
	}
	r = &set->rules[set->nrules];
	r->off = (uint16_t)sp.off;
	r->len = (uint16_t)sp.len;
	ruleform = set->text[sp.off] == '+' || set->text[sp.off] == '-';
	r->allow = set->text[sp.off] != '-';
	svc = sp;
	if (ruleform) {
		svc.off++;
		svc.len--;
	}
	if ((c = tcpa_colon(set->text, svc, 0)) == svc.len)
		return tcpa_fail(why, whylen, "no \":\" between services and "
		    "clients", set->text + sp.off, sp.len);
	cl.off = svc.off + c + 1;
	cl.len = svc.len - c - 1;
	svc.len = c;
	if (tcpa_services(set->text, svc, &r->svcs, why, whylen) == -1)
		return -1;
	if (ruleform) {
		if (tcpa_colon(set->text, cl, 0) != cl.len)
			return tcpa_fail(why, whylen, "more than one \":\" "
			    "(IPv6 addresses go in brackets)",
			    set->text + sp.off, sp.len);
	} else if (tcpa_action(set->text, &cl, r, why, whylen) == -1)
		return -1;
	if (tcpa_clients(set, r, cl, why, whylen) == -1)
		return -1;
	set->nrules++;
	return 0;
}

int
tcpa_parse(const char *value, struct tcpa_set *set, char *why,
    size_t whylen)
{
	struct tcpa_span	sp;
	size_t			len, p = 0, end;

	memset(set, 0, sizeof(*set));
	if ((len = strlen(value)) >= sizeof(set->text)) {
		(void)snprintf(why, whylen, "longer than %d bytes",
		    TCPA_TEXT_BYTES - 1);
		return -1;
	}
	memcpy(set->text, value, len + 1);
	for (p = 0; p < len; p++) {
		if ((unsigned char)value[p] < 0x20 && value[p] != '\t') {
			(void)snprintf(why, whylen, "control character");
			return -1;
		}
	}
	sp.off = 0;
	sp.len = len;
	tcpa_trim(set->text, &sp);
	if (sp.len == 0)
		return 0;
	for (p = 0; p <= len; p = end + 1) {
		end = p + strcspn(set->text + p, "$");
		sp.off = p;
		sp.len = end - p;
		tcpa_trim(set->text, &sp);
		if (sp.len == 0) {
			(void)snprintf(why, whylen, "empty rule (\"$\" at "
			    "byte %zu)", end < len ? end + 1 : p);
			return -1;
		}
		if (tcpa_rule(set, sp, why, whylen) == -1)
			return -1;
	}
	return 0;
}

int
tcpa_needs_name(const struct tcpa_set *set)
{
	return set->names;
}

const char *
tcpa_name_pattern(const struct tcpa_set *set, char *buf, size_t len)
{
	const struct tcpa_item	*it;
	size_t			 i;

	for (i = 0; i < set->nitems; i++) {
		it = &set->items[i];
		switch (it->kind) {
		case TCPA_NAME:
		case TCPA_SUFFIX:
			(void)snprintf(buf, len, "%.*s", (int)it->len,
			    set->text + it->off);
			return buf;
		case TCPA_LOCAL:
			return "LOCAL";
		case TCPA_KNOWN:
			return "KNOWN";
		case TCPA_UNKNOWN:
			return "UNKNOWN";
		case TCPA_SPOOFER:
			return "DNSSPOOFER";
		}
	}
	return "";
}

/* The client's address in binary, parsed once per check. */
struct tcpa_peer {
	int	family;			/* AF_INET, AF_INET6, -1 none */
	uint8_t	a[16];
};

/* As netlist_match reads it: an IPv4-mapped IPv6 address is IPv4. */
static void
tcpa_peer_parse(const char *text, struct tcpa_peer *p)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	memset(p, 0, sizeof(*p));
	if (text != NULL && inet_pton(AF_INET, text, p->a) == 1)
		p->family = AF_INET;
	else if (text != NULL && inet_pton(AF_INET6, text, p->a) == 1) {
		p->family = AF_INET6;
		if (memcmp(p->a, mapped, sizeof(mapped)) == 0) {
			memmove(p->a, p->a + 12, 4);
			memset(p->a + 4, 0, 12);
			p->family = AF_INET;
		}
	} else
		p->family = -1;
}

static int
tcpa_net_match(const struct netmask *nm, const struct tcpa_peer *p)
{
	size_t	i;

	if (nm->family != p->family)
		return 0;
	for (i = 0; i < sizeof(p->a); i++)
		if ((p->a[i] & nm->mask[i]) != nm->addr[i])
			return 0;
	return 1;
}

static int
tcpa_item_match(const struct tcpa_set *set, const struct tcpa_item *it,
    const struct tcpa_client *c, const struct tcpa_peer *p)
{
	size_t	nlen;
	int	known = c->namestate == TCPA_NAME_KNOWN && c->name != NULL;

	nlen = known ? strlen(c->name) : 0;
	switch (it->kind) {
	case TCPA_ALL:
		return 1;
	case TCPA_NET:
		return tcpa_net_match(&it->net, p);
	case TCPA_NAME:
		return known && nlen == it->len &&
		    strncasecmp(c->name, set->text + it->off, it->len) == 0;
	case TCPA_SUFFIX:
		return known && nlen > it->len && strncasecmp(c->name +
		    nlen - it->len, set->text + it->off, it->len) == 0;
	case TCPA_LOCAL:
		return known && strchr(c->name, '.') == NULL;
	case TCPA_KNOWN:
		return known;
	case TCPA_UNKNOWN:
		return c->namestate == TCPA_NAME_UNKNOWN ||
		    c->namestate == TCPA_NAME_SPOOFED;
	case TCPA_SPOOFER:
		return c->namestate == TCPA_NAME_SPOOFED;
	}
	return 0;
}

/*
 * "a b EXCEPT c d EXCEPT e" reads as (a or b) and not ((c or d) and not
 * e), as in hosts_access(5): from the last group back to the first.
 */
static int
tcpa_list_match(const struct tcpa_set *set, const struct tcpa_rule *r,
    const struct tcpa_client *c, const struct tcpa_peer *p)
{
	const struct tcpa_item	*v = &set->items[r->first];
	int			 i, any = 0, taken = 0;

	for (i = (int)r->nitems - 1; i >= 0; i--) {
		if (v[i].kind == TCPA_EXCEPT) {
			taken = any && !taken;
			any = 0;
		} else if (!any)
			any = tcpa_item_match(set, &v[i], c, p);
	}
	return any && !taken;
}

static int
tcpa_svc_match(const struct tcpa_rule *r, const struct tcpa_client *c)
{
	if (c->svc == SVC_IMAP)
		return (r->svcs & (c->tls ? TCPA_SVC_IMAPS : TCPA_SVC_IMAP))
		    != 0;
	if (c->svc == SVC_POP)
		return (r->svcs & (c->tls ? TCPA_SVC_POPS : TCPA_SVC_POP))
		    != 0;
	return 0;
}

int
tcpa_check(const struct tcpa_set *set, const struct tcpa_client *c,
    int *rule)
{
	struct tcpa_peer	p;
	size_t			i;
	int			allow;

	*rule = -1;
	tcpa_peer_parse(c->addr, &p);
	for (allow = 1; allow >= 0; allow--) {
		for (i = 0; i < set->nrules; i++) {
			if (set->rules[i].allow != allow ||
			    !tcpa_svc_match(&set->rules[i], c) ||
			    !tcpa_list_match(set, &set->rules[i], c, &p))
				continue;
			*rule = (int)i;
			return allow;
		}
	}
	return 1;
}

const char *
tcpa_rule_text(const struct tcpa_set *set, int i, char *buf, size_t len)
{
	if (i < 0 || (size_t)i >= set->nrules)
		(void)snprintf(buf, len, "(none)");
	else
		(void)snprintf(buf, len, "%.*s", (int)set->rules[i].len,
		    set->text + set->rules[i].off);
	return buf;
}
