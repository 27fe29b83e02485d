/*
 * POP3 command line parsing before login (RFC 1939, 2449, 5034): a
 * keyword and single-space separated arguments, PASS taking the rest of
 * the line. Pure code; the session does the I/O.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pop3cmd.h"

#define POP3_KEYWORD_MIN	3
#define POP3_KEYWORD_MAX	4

static int
pop3_fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		strlcpy(err, why, errlen);
	return -1;
}

static int
is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Split the arguments at [start, len) into ranges. PASS keeps the whole
 * rest as one argument: a password may hold spaces (RFC 1939 4) and any
 * split would change it.
 */
static const char *
pop3_split(const char *line, size_t len, size_t start, int rest,
    size_t off[POP3_ARGS_MAX], struct pop3_cmd *cmd)
{
	size_t	i = start, end;

	while (i <= len) {
		if (cmd->argc == POP3_ARGS_MAX)
			return "too many arguments";
		if (rest)
			end = len;
		else {
			for (end = i; end < len && line[end] != ' '; end++)
				;
		}
		if (end == i)
			return "empty argument";
		off[cmd->argc] = i;
		cmd->arglen[cmd->argc++] = end - i;
		i = end + 1;
	}
	return NULL;
}

int
pop3_number(const char *s, size_t len, unsigned long *n)
{
	size_t	i;

	*n = 0;
	if (len == 0 || len > POP3_NUMBER_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*n = 0;
			return -1;
		}
		*n = *n * 10 + (unsigned long)(s[i] - '0');
	}
	return 0;
}

/*
 * The keyword is copied to cmd->name, so its bytes in line are free: each
 * argument moves to the front and gets its NUL in the byte after it,
 * which is inside line even for the last argument. No byte past len is
 * ever written, whatever buffer the caller passed.
 */
int
pop3_parse(char *line, size_t len, struct pop3_cmd *cmd, char *err,
    size_t errlen)
{
	size_t		 off[POP3_ARGS_MAX], k, i, w;
	const char	*why;
	int		 rest;

	memset(cmd, 0, sizeof(*cmd));
	if (len == 0)
		return pop3_fail(err, errlen, "empty command");
	if (len > POP3_LINE_MAX_BYTES)
		return pop3_fail(err, errlen, "line too long");
	if (memchr(line, '\0', len) != NULL)
		return pop3_fail(err, errlen, "NUL in command");
	if (memchr(line, '\r', len) != NULL || memchr(line, '\n', len) != NULL)
		return pop3_fail(err, errlen, "CR or LF in command");
	for (k = 0; k < len && k <= POP3_KEYWORD_MAX && is_letter(line[k]); k++)
		;
	if (k < POP3_KEYWORD_MIN || k > POP3_KEYWORD_MAX ||
	    (k < len && line[k] != ' '))
		return pop3_fail(err, errlen, "invalid command keyword");
	for (i = 0; i < k; i++)
		cmd->name[i] = line[i] >= 'a' ? line[i] - 'a' + 'A' : line[i];
	cmd->name[k] = '\0';
	if (k < len) {
		rest = strcmp(cmd->name, "PASS") == 0;
		why = pop3_split(line, len, k + 1, rest, off, cmd);
		if (why != NULL) {
			memset(cmd, 0, sizeof(*cmd));
			return pop3_fail(err, errlen, why);
		}
	}
	for (i = 0, w = 0; i < (size_t)cmd->argc; i++) {
		memmove(line + w, line + off[i], cmd->arglen[i]);
		line[w + cmd->arglen[i]] = '\0';
		cmd->argv[i] = line + w;
		w += cmd->arglen[i] + 1;
	}
	return 0;
}
