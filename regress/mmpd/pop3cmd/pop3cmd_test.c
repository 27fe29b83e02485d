/*
 * Unit tests for mmpd/pop3cmd.c: keywords, argument splitting, PASS with
 * spaces, NUL/CR/LF inside a line, limits, and that nothing is written
 * past the line the caller passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "mmpd/pop3cmd.h"
#include "regress/tap.h"

struct pop3_case {
	const char	*line;
	size_t		 len;
	int		 rc;
	const char	*name;		/* or a substring of the reason */
	int		 argc;
	const char	*arg0;
	const char	*arg1;
};

#define OK(l, n, c, a0, a1)	{ l, sizeof(l) - 1, 0, n, c, a0, a1 }
#define BAD(l, why)		{ l, sizeof(l) - 1, -1, why, 0, NULL, NULL }

static const struct pop3_case cases[] = {
	OK("USER bob", "USER", 1, "bob", NULL),
	OK("user bob", "USER", 1, "bob", NULL),
	OK("uSeR Bob", "USER", 1, "Bob", NULL),
	OK("CAPA", "CAPA", 0, NULL, NULL),
	OK("capa", "CAPA", 0, NULL, NULL),
	OK("QUIT", "QUIT", 0, NULL, NULL),
	OK("TOP 1 10", "TOP", 2, "1", "10"),
	OK("AUTH PLAIN", "AUTH", 1, "PLAIN", NULL),
	OK("AUTH PLAIN AHVzZXIAcGFzcw==", "AUTH", 2, "PLAIN",
	    "AHVzZXIAcGFzcw=="),
	OK("PASS secret", "PASS", 1, "secret", NULL),
	OK("PASS my secret pass", "PASS", 1, "my secret pass", NULL),
	OK("pass  lead", "PASS", 1, " lead", NULL),
	OK("PASS trail ", "PASS", 1, "trail ", NULL),
	OK("PASS a  b", "PASS", 1, "a  b", NULL),
	OK("PASS \t", "PASS", 1, "\t", NULL),
	OK("PASS p\xc3\xa4ss", "PASS", 1, "p\xc3\xa4ss", NULL),
	OK("PASS", "PASS", 0, NULL, NULL),
	OK("USER", "USER", 0, NULL, NULL),	/* the handler checks argc */
	OK("USER user*)(uid=*", "USER", 1, "user*)(uid=*", NULL),
	OK("USER a\\b", "USER", 1, "a\\b", NULL),
	OK("STLS", "STLS", 0, NULL, NULL),
	OK("stls", "STLS", 0, NULL, NULL),
	OK("StLs x", "STLS", 1, "x", NULL),	/* the handler refuses it */
	BAD("STLS ", "empty argument"),
	BAD("STLSX", "keyword"),
	OK("XYZ a", "XYZ", 1, "a", NULL),
	BAD("", "empty"),
	BAD("US", "keyword"),
	BAD("USERS bob", "keyword"),
	BAD("US3R bob", "keyword"),
	BAD(" USER bob", "keyword"),
	BAD("USER\tbob", "keyword"),
	BAD("USER ", "empty argument"),
	BAD("USER  bob", "empty argument"),
	BAD("USER bob ", "empty argument"),
	BAD("PASS ", "empty argument"),
	OK("USER bob smith", "USER", 2, "bob", "smith"),
	BAD("USER bob j smith", "too many"),
	BAD("TOP 1 2 3", "too many"),
	BAD("AUTH PLAIN x y", "too many"),
	BAD("USER bob\0junk", "NUL"),
	BAD("PASS secret\0junk", "NUL"),
	BAD("PASS sec\rret", "CR or LF"),
	BAD("PASS secret\r", "CR or LF"),
	BAD("USER b\nob", "CR or LF"),
	BAD("\0", "NUL"),
	BAD("\xc3\xa4XYZ", "keyword"),
};

#undef OK
#undef BAD

static void
run_case(size_t n, const struct pop3_case *c)
{
	struct pop3_cmd	 cmd;
	char		*line, err[128], shown[128];
	int		 rc;

	/* Exactly len bytes, then a guard: nothing may be written there. */
	if ((line = malloc(c->len + 1)) == NULL)
		exit(2);
	memcpy(line, c->line, c->len);
	line[c->len] = 'Z';
	escape_log(c->line, c->len, shown, sizeof(shown));
	err[0] = '\0';
	rc = pop3_parse(line, c->len, &cmd, err, sizeof(err));
	if (c->rc == -1) {
		tap_ok(rc == -1 && strstr(err, c->name) != NULL,
		    "case %zu \"%s\" refused: %s", n, shown, err);
	} else {
		tap_ok(rc == 0 && strcmp(cmd.name, c->name) == 0 &&
		    cmd.argc == c->argc &&
		    (c->argc < 1 || (cmd.arglen[0] == strlen(c->arg0) &&
		    strcmp(cmd.argv[0], c->arg0) == 0)) &&
		    (c->argc < 2 || (cmd.arglen[1] == strlen(c->arg1) &&
		    strcmp(cmd.argv[1], c->arg1) == 0)),
		    "case %zu \"%s\" parses as %s/%d", n, shown, c->name,
		    c->argc);
	}
	tap_ok(line[c->len] == 'Z', "case %zu: nothing written past len", n);
	free(line);
}

static void
test_limits(void)
{
	struct pop3_cmd	 cmd;
	char		*line, err[64];

	if ((line = malloc(POP3_LINE_MAX_BYTES + 2)) == NULL)
		exit(2);
	memcpy(line, "AUTH PLAIN ", 11);
	memset(line + 11, 'A', POP3_LINE_MAX_BYTES - 11);
	tap_ok(pop3_parse(line, POP3_LINE_MAX_BYTES, &cmd, err,
	    sizeof(err)) == 0 && cmd.argc == 2 &&
	    cmd.arglen[1] == POP3_LINE_MAX_BYTES - 11 &&
	    strlen(cmd.argv[1]) == cmd.arglen[1],
	    "line of exactly %d bytes", POP3_LINE_MAX_BYTES);
	memcpy(line, "AUTH PLAIN ", 11);
	memset(line + 11, 'A', POP3_LINE_MAX_BYTES + 1 - 11);
	tap_ok(pop3_parse(line, POP3_LINE_MAX_BYTES + 1, &cmd, err,
	    sizeof(err)) == -1 && strstr(err, "too long") != NULL,
	    "line of %d bytes refused", POP3_LINE_MAX_BYTES + 1);
	free(line);

	tap_ok(pop3_parse("", 0, &cmd, NULL, 0) == -1,
	    "NULL err is allowed");
	memcpy(err, "USER bob", 8);
	tap_ok(pop3_parse(err, 4, &cmd, NULL, 0) == 0 && cmd.argc == 0 &&
	    strcmp(cmd.name, "USER") == 0, "len is honoured, not the NUL");
	{
		char	l[] = "USER  x";
		char	small[6];

		tap_ok(pop3_parse(l, 7, &cmd, small, sizeof(small)) == -1 &&
		    strlen(small) == 5, "reason cut to errlen");
		tap_is_int(cmd.argc, 0, "failed parse leaves no arguments");
	}
}

static const struct {
	const char	*s;
	size_t		 len;
	int		 rv;
	unsigned long	 n;
} numbers[] = {
	{ "1", 1, 0, 1 },
	{ "0", 1, 0, 0 },
	{ "007", 3, 0, 7 },
	{ "999999999", 9, 0, 999999999 },
	{ "1000000000", 10, -1, 0 },
	{ "", 0, -1, 0 },
	{ "+1", 2, -1, 0 },
	{ "-1", 2, -1, 0 },
	{ " 1", 2, -1, 0 },
	{ "1 ", 2, -1, 0 },
	{ "1a", 2, -1, 0 },
	{ "0x1", 3, -1, 0 },
	{ "1\0002", 3, -1, 0 },
	{ "12", 1, 0, 1 },		/* len is honoured */
};

static void
test_numbers(void)
{
	unsigned long	n;
	size_t		i;
	int		rv;

	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		n = 12345;
		rv = pop3_number(numbers[i].s, numbers[i].len, &n);
		tap_ok(rv == numbers[i].rv && n == numbers[i].n,
		    "number %zu (\"%.*s\"): %d, %lu", i, (int)numbers[i].len,
		    numbers[i].s, numbers[i].rv, numbers[i].n);
	}
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i, &cases[i]);
	test_limits();
	test_numbers();
	return tap_done();
}
