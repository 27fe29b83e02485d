/*
 * IMAP command reader for the pre-authentication phase (RFC 9051, 3501,
 * 7888): turns client bytes into a tag, a command name and argument tokens
 * (atom, quoted, literal, NIL, parentheses). Pure code, no I/O: the session
 * feeds it bytes and acts on what it returns. Strict: one SP between
 * tokens, quoted strings only escape '"' and '\', no CR/LF/NUL outside
 * literals, lines end in CRLF (a bare LF is accepted as well).
 */
#ifndef MMP_IMAPCMD_H
#define MMP_IMAPCMD_H

#include <stddef.h>

#include "buf.h"

#define IMAP_LINE_MAX_BYTES	8192	/* one line of a command */
#define IMAP_LITERAL_MAX_BYTES	8192	/* one literal before login */
#define IMAP_CMD_MAX_BYTES	16384	/* a whole command */
#define IMAP_TAG_MAX_BYTES	64
#define IMAP_NAME_MAX_BYTES	32
#define IMAP_TOKENS_MAX		64	/* ID may carry 30 pairs + parens */
#define IMAP_PAREN_DEPTH_MAX	4

enum imap_tok_type {
	IMAP_TOK_ATOM,			/* also astring chars incl. ']' */
	IMAP_TOK_QUOTED,		/* unescaped content */
	IMAP_TOK_LITERAL,		/* may hold any byte but NUL */
	IMAP_TOK_NIL,
	IMAP_TOK_LPAREN,
	IMAP_TOK_RPAREN,
};

struct imap_token {
	enum imap_tok_type	 type;
	char			*s;	/* NUL-terminated copy; len is exact */
	size_t			 len;
};

struct imap_cmd {
	char			tag[IMAP_TAG_MAX_BYTES];
	char			name[IMAP_NAME_MAX_BYTES];	/* upper case */
	struct imap_token	tok[IMAP_TOKENS_MAX];	/* after the name */
	int			ntok;
};

enum imap_read {
	IMAP_READ_MORE,		/* input used up, need more bytes */
	IMAP_READ_CONT,		/* {n} announced: send "+ ..." now */
	IMAP_READ_CMD,		/* a whole command is in *cmd */
	IMAP_READ_BAD,		/* syntax error: "tag BAD", go on */
	IMAP_READ_FATAL,	/* cannot resync (too long): BAD, close */
};

struct imap_reader {
	struct buf	line;		/* bytes of the command so far */
	size_t		litleft;	/* bytes of a literal still due */
	int		state;		/* private */
	size_t		total;		/* bytes of this command */
	char		err[128];	/* reason for BAD / FATAL */
	char		errtag[IMAP_TAG_MAX_BYTES];	/* tag if readable */
};

int		 imap_reader_init(struct imap_reader *);
void		 imap_reader_free(struct imap_reader *);	/* wipes */
/* Forget the current command and wipe its bytes (after a login). */
void		 imap_reader_reset(struct imap_reader *);
/*
 * Consume bytes from in. *used is set to how many were taken; bytes after
 * a complete command (pipelining) are left for the next call. cmd's
 * tokens point into the reader and stay valid until the next call.
 * On IMAP_READ_BAD the offending line has been consumed.
 */
enum imap_read	 imap_reader_feed(struct imap_reader *, const char *in,
		    size_t len, size_t *used, struct imap_cmd *cmd);

/*
 * Append s as an IMAP string argument for a store: a quoted string when s
 * is 7-bit without CR/LF/NUL, else a literal ("{n+}" if literalplus, else
 * "{n}" and the caller waits for the continuation before the rest; in that
 * case the return value is the offset at which the literal data starts,
 * else 0). -1 if s holds CR, LF or NUL (never sent) or buf is full.
 */
int		 imap_append_string(struct buf *, const char *s,
		    int literalplus);

#endif /* MMP_IMAPCMD_H */
