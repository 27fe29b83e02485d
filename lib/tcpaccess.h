/*
 * TCPAccess: TCP-wrapper style rules on which clients may use which
 * service, parsed once per configuration and checked at every accept.
 * The grammar and its meaning are in mmpd.conf(5), section TCPACCESS.
 */
#ifndef MMP_TCPACCESS_H
#define MMP_TCPACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "netmask.h"

#define TCPA_RULES_MAX		64	/* rules in one value */
#define TCPA_ITEMS_MAX		256	/* client patterns in one value */
#define TCPA_TEXT_BYTES		1024	/* the value (= MMP_STR_BYTES) */
#define TCPA_NAME_BYTES		254	/* a host name, NUL included */

/* Services a rule names (bits). */
#define TCPA_SVC_IMAP		0x01	/* IMAP on a plain listener */
#define TCPA_SVC_IMAPS		0x02	/* IMAP on implicit-TLS listeners */
#define TCPA_SVC_POP		0x04	/* POP3 on a plain listener */
#define TCPA_SVC_POPS		0x08
#define TCPA_SVC_OTHER		0x10	/* smtp, http: not served by mmpd */
#define TCPA_SVC_ALL		0x1f

/* What a client pattern is. */
enum tcpa_kind {
	TCPA_ALL,		/* ALL, * */
	TCPA_NET,		/* an address, a.b.c. prefix, net/mask */
	TCPA_NAME,		/* host.example.com */
	TCPA_SUFFIX,		/* .example.com */
	TCPA_LOCAL,		/* a name without a dot */
	TCPA_KNOWN,		/* the name is known (and confirmed) */
	TCPA_UNKNOWN,		/* the name is not known, or not confirmed */
	TCPA_SPOOFER,		/* DNSSPOOFER, PARANOID: not confirmed */
	TCPA_EXCEPT,		/* what follows is taken out */
};

/* What is known of a client's host name (ClientLookup). */
enum tcpa_name {
	TCPA_NAME_NONE,		/* not looked up: ClientLookup no */
	TCPA_NAME_KNOWN,	/* reverse name, forward-confirmed */
	TCPA_NAME_UNKNOWN,	/* no reverse name, an error, a timeout */
	TCPA_NAME_SPOOFED,	/* its addresses do not include the client */
	TCPA_NAME_MAX
};

struct tcpa_item {
	uint8_t		kind;		/* enum tcpa_kind */
	uint16_t	off;		/* TCPA_NAME, TCPA_SUFFIX: in text */
	uint16_t	len;
	struct netmask	net;		/* TCPA_NET */
};

struct tcpa_rule {
	uint8_t		allow;		/* + (allow) or - (deny) */
	uint8_t		svcs;		/* TCPA_SVC_* */
	uint16_t	first;		/* its patterns in items[] */
	uint16_t	nitems;
	uint16_t	off;		/* its text in text[], for the log */
	uint16_t	len;
};

struct tcpa_set {
	char		 text[TCPA_TEXT_BYTES];	/* the value as written */
	size_t		 nrules;
	size_t		 nitems;
	int		 names;		/* a pattern needs a host name */
	struct tcpa_rule rules[TCPA_RULES_MAX];
	struct tcpa_item items[TCPA_ITEMS_MAX];
};

/*
 * Parse a TCPAccess value: 0, or -1 with the reason (naming the rule or
 * pattern) in why. An empty value is a set without rules.
 */
int	tcpa_parse(const char *, struct tcpa_set *, char *why, size_t whylen);
/* Does some pattern depend on the client's host name? */
int	tcpa_needs_name(const struct tcpa_set *);
/* The first pattern that does, quoted into buf, for a message. */
const char *tcpa_name_pattern(const struct tcpa_set *, char *, size_t);

/* A client as tcpa_check sees it. */
struct tcpa_client {
	int		 svc;		/* SVC_IMAP or SVC_POP */
	int		 tls;		/* on an implicit-TLS listener */
	const char	*addr;		/* numeric, without port */
	int		 namestate;	/* enum tcpa_name */
	const char	*name;		/* TCPA_NAME_KNOWN: the name */
};

/*
 * Allow rules first, then deny rules, each in written order; the first
 * rule that matches decides. 1 allowed, 0 refused; *rule is the index of
 * the deciding rule, -1 when none matched (allowed).
 */
int	tcpa_check(const struct tcpa_set *, const struct tcpa_client *,
	    int *rule);
/* Rule i as written, into buf. */
const char *tcpa_rule_text(const struct tcpa_set *, int, char *, size_t);

#endif /* MMP_TCPACCESS_H */
