/*
 * libFuzzer target for lib/tcpaccess.c: the input, split at its first NUL
 * into a TCPAccess value and a client (address, then a host name after a
 * second NUL), is parsed and checked under every name state; a parsed set
 * must stay inside its tables, and a decision must name a rule it has.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tcpaccess.h"

#define INPUT_MAX	4096

static void
check_set(const struct tcpa_set *set)
{
	size_t	i;

	if (set->nrules > TCPA_RULES_MAX || set->nitems > TCPA_ITEMS_MAX)
		abort();
	for (i = 0; i < set->nrules; i++) {
		if (set->rules[i].nitems == 0 || set->rules[i].first +
		    set->rules[i].nitems > set->nitems ||
		    set->rules[i].svcs == 0 || set->rules[i].len == 0 ||
		    set->rules[i].off + set->rules[i].len >= TCPA_TEXT_BYTES)
			abort();
		if (set->items[set->rules[i].first].kind == TCPA_EXCEPT ||
		    set->items[set->rules[i].first + set->rules[i].nitems -
		    1].kind == TCPA_EXCEPT)
			abort();
	}
	for (i = 0; i < set->nitems; i++)
		if (set->items[i].kind > TCPA_EXCEPT ||
		    set->items[i].off + set->items[i].len >= TCPA_TEXT_BYTES)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpa_client	 c;
	struct tcpa_set		*set;
	char			*in, *addr, *name, why[256], rule[TCPA_TEXT_BYTES];
	size_t			 n;
	int			 r, st, svc, tls, which;

	if (size > INPUT_MAX)
		return 0;
	if ((in = calloc(1, size + 3)) == NULL)
		return 0;
	if ((set = malloc(sizeof(*set))) == NULL) {
		free(in);
		return 0;
	}
	memcpy(in, data, size);
	n = strlen(in);
	addr = in + n + 1;
	name = addr + strlen(addr) + 1;
	why[0] = '\0';
	r = tcpa_parse(in, set, why, sizeof(why));
	if (r == -1 && why[0] == '\0')
		abort();
	if (r == 0) {
		check_set(set);
		for (st = 0; st < TCPA_NAME_MAX; st++)
			for (svc = SVC_IMAP; svc <= SVC_POP; svc++)
				for (tls = 0; tls < 2; tls++) {
					c.svc = svc;
					c.tls = tls;
					c.addr = addr;
					c.namestate = st;
					c.name = name;
					r = tcpa_check(set, &c, &which);
					if ((r != 0 && r != 1) || which < -1 ||
					    which >= (int)set->nrules ||
					    (r == 0 && which == -1))
						abort();
					(void)tcpa_rule_text(set, which, rule,
					    sizeof(rule));
				}
		(void)tcpa_name_pattern(set, rule, sizeof(rule));
	}
	free(set);
	free(in);
	return 0;
}
