/*
 * POP3 command line parsing for the pre-authentication phase (RFC 1939,
 * 2449, 5034). Pure code. A keyword of 3-4 letters (case-insensitive), then
 * arguments separated by single spaces; PASS takes the rest of the line
 * (passwords may contain spaces). NUL, CR or LF inside a line: error.
 */
#ifndef MMP_POP3CMD_H
#define MMP_POP3CMD_H

#include <stddef.h>

#define POP3_LINE_MAX_BYTES	2048	/* AUTH continuations can be long */
#define POP3_ARGS_MAX		2

struct pop3_cmd {
	char	 name[8];		/* upper case */
	int	 argc;
	char	*argv[POP3_ARGS_MAX];	/* point into the caller's line */
	size_t	 arglen[POP3_ARGS_MAX];
};

/*
 * Parse one line (without its CRLF / LF), modifying line in place (NUL
 * separators). 0 or -1 with a reason in err.
 */
int	pop3_parse(char *line, size_t len, struct pop3_cmd *, char *err,
	    size_t errlen);

/*
 * A message number or line count of a POP3 command (RFC 1939: LIST,
 * RETR, TOP ...): 1 to POP3_NUMBER_DIGITS_MAX decimal digits, nothing
 * else (no sign, no blank). 0 with *n, or -1.
 */
#define POP3_NUMBER_DIGITS_MAX	9
int	pop3_number(const char *, size_t, unsigned long *n);

#endif /* MMP_POP3CMD_H */
