/*
 * libFuzzer target for the POP3 command line parser: the line is copied
 * into an allocation of exactly its length, so a write past it is caught,
 * and every accepted parse is checked against the rules of pop3cmd.h; an
 * APOP digest goes through the strict hex decoder of lib/crammd5.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crammd5.h"
#include "mmpd/pop3cmd.h"

/* 32 hex digits of either case, nothing else, give 16 bytes. */
static void
check_apop(const struct pop3_cmd *cmd)
{
	uint8_t		d[CRAM_DIGEST_BYTES], zero[CRAM_DIGEST_BYTES];
	const char	*h;
	size_t		i;
	int		want = 1, got;

	if (strcmp(cmd->name, "APOP") != 0 || cmd->argc != 2)
		return;
	h = cmd->argv[1];
	if (cmd->arglen[1] != CRAM_HEX_BYTES)
		want = 0;
	for (i = 0; want && i < CRAM_HEX_BYTES; i++)
		if (strchr("0123456789abcdefABCDEF", h[i]) == NULL ||
		    h[i] == '\0')
			want = 0;
	got = cram_hex_decode(h, cmd->arglen[1], d) == 0;
	memset(zero, 0, sizeof(zero));
	if (got != want || (!got && memcmp(d, zero, sizeof(d)) != 0))
		abort();
}

static void
check_cmd(const struct pop3_cmd *cmd, const char *line, size_t len)
{
	size_t	i, n = strlen(cmd->name);
	int	a;

	if (n < 3 || n > 4 || cmd->argc < 0 || cmd->argc > POP3_ARGS_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (cmd->name[i] < 'A' || cmd->name[i] > 'Z')
			abort();
	for (a = 0; a < cmd->argc; a++) {
		if (cmd->argv[a] < line || cmd->argv[a] + cmd->arglen[a] >=
		    line + len || cmd->arglen[a] == 0 ||
		    strlen(cmd->argv[a]) != cmd->arglen[a] ||
		    strpbrk(cmd->argv[a], "\r\n") != NULL)
			abort();
		if (strcmp(cmd->name, "PASS") != 0 &&
		    memchr(cmd->argv[a], ' ', cmd->arglen[a]) != NULL)
			abort();
	}
}

/* A number taken is digits only, at most 9, and its value. */
static void
check_numbers(const struct pop3_cmd *cmd)
{
	unsigned long	n, v;
	size_t		i;
	int		a;

	for (a = 0; a < cmd->argc; a++) {
		if (pop3_number(cmd->argv[a], cmd->arglen[a], &n) == -1)
			continue;
		if (cmd->arglen[a] == 0 ||
		    cmd->arglen[a] > POP3_NUMBER_DIGITS_MAX)
			abort();
		for (i = 0, v = 0; i < cmd->arglen[a]; i++) {
			if (cmd->argv[a][i] < '0' || cmd->argv[a][i] > '9')
				abort();
			v = v * 10 + (unsigned long)(cmd->argv[a][i] - '0');
		}
		if (v != n)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd	 cmd;
	char		*line, err[64];

	if ((line = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(line, data, size);
	err[0] = '\0';
	if (pop3_parse(line, size, &cmd, err, sizeof(err)) == 0) {
		check_cmd(&cmd, line, size);
		check_apop(&cmd);
		check_numbers(&cmd);
	} else if (err[0] == '\0' || cmd.argc != 0)
		abort();
	free(line);
	return 0;
}
