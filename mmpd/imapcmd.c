/*
 * IMAP command reader for the pre-authentication phase: collects one
 * command (its lines and literals) with hard limits, checks it strictly
 * each time a line is complete, and hands out decoded tokens. Also the
 * quoting of strings that mmpd itself sends to a store.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "escape.h"
#include "imapcmd.h"

/*
 * The reader's private state word: the phase in the low bits and, while
 * collecting a line, the offset in the buffer where that line starts.
 */
#define RD_LINE			0	/* collecting a line */
#define RD_LITERAL		1	/* collecting litleft literal bytes */
#define RD_DONE			2	/* a command was handed out */
#define RD_FATAL		3	/* stuck: the session must close */
#define RD_PHASE_MASK		0xf
#define RD_LINESTART_SHIFT	4

/*
 * The raw command, then its decoded tokens after it: every token decodes
 * to at most its raw length plus a NUL.
 */
#define READER_MAX_BYTES	(2 * IMAP_CMD_MAX_BYTES + 2 * IMAP_TOKENS_MAX)

#define ZERO_CHUNK_BYTES	512

enum parse_res {
	PARSE_CMD,		/* a complete, valid command */
	PARSE_LITERAL,		/* valid so far, literal data due */
	PARSE_BAD,		/* syntax error */
	PARSE_BIGLIT,		/* literal over a limit */
};

/* One pass over the raw command; cmd == NULL checks without decoding. */
struct imap_parser {
	const uint8_t	*p;
	size_t		 len;
	size_t		 pos;
	int		 depth;
	int		 ntok;
	struct imap_cmd	*cmd;
	uint8_t		*out;		/* decoded tokens when cmd != NULL */
	size_t		 outlen;
	size_t		 tokoff[IMAP_TOKENS_MAX];
	size_t		 litlen;	/* PARSE_LITERAL: bytes announced */
	int		 litplus;
	const char	*why;
};

static int
rd_phase(const struct imap_reader *r)
{
	return r->state & RD_PHASE_MASK;
}

static size_t
rd_linestart(const struct imap_reader *r)
{
	return (size_t)r->state >> RD_LINESTART_SHIFT;
}

/* linestart never exceeds IMAP_CMD_MAX_BYTES, so it fits the int. */
static void
rd_set(struct imap_reader *r, int phase, size_t linestart)
{
	r->state = phase | (int)(linestart << RD_LINESTART_SHIFT);
}

/* ATOM-CHAR of RFC 9051: CHAR except atom-specials. */
static int
is_atom_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static int
is_astring_char(uint8_t c)
{
	return is_atom_char(c) || c == ']';
}

static int
is_tag_char(uint8_t c)
{
	return is_astring_char(c) && c != '+';
}

static int
ps_peek(const struct imap_parser *ps)
{
	return ps->pos < ps->len ? ps->p[ps->pos] : -1;
}

/* CRLF or a bare LF; a CR alone is not a line end. */
static int
ps_at_eol(const struct imap_parser *ps)
{
	int	c = ps_peek(ps);

	return c == '\n' || (c == '\r' && ps->pos + 1 < ps->len &&
	    ps->p[ps->pos + 1] == '\n');
}

static void
ps_eat_eol(struct imap_parser *ps)
{
	ps->pos += ps->p[ps->pos] == '\r' ? 2 : 1;
}

static enum parse_res
ps_bad(struct imap_parser *ps, const char *why)
{
	ps->why = why;
	return PARSE_BAD;
}

static enum parse_res
tok_new(struct imap_parser *ps, enum imap_tok_type type)
{
	if (ps->ntok == IMAP_TOKENS_MAX)
		return ps_bad(ps, "too many arguments");
	if (ps->cmd != NULL) {
		ps->cmd->tok[ps->ntok].type = type;
		ps->tokoff[ps->ntok] = ps->outlen;
	}
	ps->ntok++;
	return PARSE_CMD;
}

static void
tok_put(struct imap_parser *ps, const uint8_t *s, size_t n)
{
	if (ps->out != NULL)
		memcpy(ps->out + ps->outlen, s, n);
	ps->outlen += n;
}

static void
tok_end(struct imap_parser *ps)
{
	tok_put(ps, (const uint8_t *)"", 1);
	if (ps->cmd != NULL)
		ps->cmd->tok[ps->ntok - 1].len = ps->outlen - 1 -
		    ps->tokoff[ps->ntok - 1];
}

/* A token whose content is the n raw bytes at pos. */
static enum parse_res
tok_raw(struct imap_parser *ps, enum imap_tok_type type, size_t n)
{
	if (tok_new(ps, type) != PARSE_CMD)
		return PARSE_BAD;
	tok_put(ps, ps->p + ps->pos, n);
	tok_end(ps);
	ps->pos += n;
	return PARSE_CMD;
}

static enum parse_res
parse_tag(struct imap_parser *ps)
{
	size_t	start = ps->pos, n;

	while (ps->pos < ps->len && is_tag_char(ps->p[ps->pos]))
		ps->pos++;
	n = ps->pos - start;
	if (n == 0)
		return ps_bad(ps, ps_at_eol(ps) ? "empty command" :
		    "invalid tag");
	if (n >= IMAP_TAG_MAX_BYTES)
		return ps_bad(ps, "tag too long");
	if (ps_at_eol(ps))
		return ps_bad(ps, "missing command name");
	if (ps_peek(ps) != ' ')
		return ps_bad(ps, "invalid tag");
	if (ps->cmd != NULL) {
		memcpy(ps->cmd->tag, ps->p + start, n);
		ps->cmd->tag[n] = '\0';
	}
	ps->pos++;
	return PARSE_CMD;
}

static enum parse_res
parse_name(struct imap_parser *ps)
{
	size_t	start = ps->pos, n, i;
	uint8_t	c;

	while (ps->pos < ps->len && is_atom_char(ps->p[ps->pos]))
		ps->pos++;
	n = ps->pos - start;
	if (n == 0)
		return ps_bad(ps, "missing command name");
	if (n >= IMAP_NAME_MAX_BYTES)
		return ps_bad(ps, "command name too long");
	if (!ps_at_eol(ps) && ps_peek(ps) != ' ')
		return ps_bad(ps, "invalid command name");
	if (ps->cmd != NULL) {
		for (i = 0; i < n; i++) {
			c = ps->p[start + i];
			if (c >= 'a' && c <= 'z')
				c = c - 'a' + 'A';
			ps->cmd->name[i] = (char)c;
		}
		ps->cmd->name[n] = '\0';
	}
	return PARSE_CMD;
}

static enum parse_res
parse_atom(struct imap_parser *ps)
{
	size_t	n = 0;

	while (ps->pos + n < ps->len && is_astring_char(ps->p[ps->pos + n]))
		n++;
	if (n == 3 && strncasecmp((const char *)ps->p + ps->pos, "NIL",
	    3) == 0)
		return tok_raw(ps, IMAP_TOK_NIL, n);
	return tok_raw(ps, IMAP_TOK_ATOM, n);
}

/*
 * RFC 9051 quoted: TEXT-CHAR or UTF-8, '"' and '\' escaped and nothing
 * else. It must close on its line: a parser that closes an open quote at
 * the line end lets a client smuggle a different password past it.
 */
static enum parse_res
parse_quoted(struct imap_parser *ps)
{
	size_t	n;
	int	c;

	if (tok_new(ps, IMAP_TOK_QUOTED) != PARSE_CMD)
		return PARSE_BAD;
	ps->pos++;
	for (;;) {
		c = ps_peek(ps);
		if (c == -1 || c == '\r' || c == '\n')
			return ps_bad(ps, "unterminated quoted string");
		if (c == '\0')
			return ps_bad(ps, "NUL in quoted string");
		if (c == '"')
			break;
		n = 1;
		if (c == '\\') {
			c = ps->pos + 1 < ps->len ? ps->p[ps->pos + 1] : -1;
			if (c != '"' && c != '\\')
				return ps_bad(ps, "invalid escape in quoted"
				    " string");
			ps->pos++;
		} else if (c >= 0x80 &&
		    (n = utf8_seqlen(ps->p + ps->pos, ps->len - ps->pos)) == 0)
			return ps_bad(ps, "invalid UTF-8 in quoted string");
		tok_put(ps, ps->p + ps->pos, n);
		ps->pos += n;
	}
	ps->pos++;
	tok_end(ps);
	return PARSE_CMD;
}

/* "{" number ["+"] "}" at the end of a line; returns the digits' value. */
static enum parse_res
parse_literal_head(struct imap_parser *ps, size_t *np)
{
	size_t	n = 0, ndigits = 0;
	int	c;

	ps->pos++;
	while ((c = ps_peek(ps)) >= '0' && c <= '9') {
		/* Saturate: anything past the limit is refused anyway. */
		if (n <= IMAP_CMD_MAX_BYTES)
			n = n * 10 + (size_t)(c - '0');
		ndigits++;
		ps->pos++;
	}
	ps->litplus = c == '+';
	if (ps->litplus) {
		ps->pos++;
		c = ps_peek(ps);
	}
	if (ndigits == 0 || c != '}')
		return ps_bad(ps, "invalid literal");
	ps->pos++;
	if (!ps_at_eol(ps))
		return ps_bad(ps, "literal must end the line");
	ps_eat_eol(ps);
	*np = n;
	if (n > IMAP_LITERAL_MAX_BYTES) {
		ps->why = "literal too large";
		return PARSE_BIGLIT;
	}
	if (n > IMAP_CMD_MAX_BYTES - ps->pos) {
		ps->why = "command too long";
		return PARSE_BIGLIT;
	}
	return PARSE_CMD;
}

static enum parse_res
parse_literal(struct imap_parser *ps)
{
	enum parse_res	r;
	size_t		n;

	if ((r = parse_literal_head(ps, &n)) != PARSE_CMD)
		return r;
	if (ps->pos == ps->len) {
		ps->litlen = n;
		return PARSE_LITERAL;
	}
	/* The reader parses only after the data came; anything else is ours. */
	if (ps->len - ps->pos < n)
		return ps_bad(ps, "literal cut short");
	if (memchr(ps->p + ps->pos, '\0', n) != NULL)
		return ps_bad(ps, "NUL in literal");
	return tok_raw(ps, IMAP_TOK_LITERAL, n);
}

static enum parse_res
parse_paren(struct imap_parser *ps, int open)
{
	if (open && ps->depth == IMAP_PAREN_DEPTH_MAX)
		return ps_bad(ps, "parentheses nested too deeply");
	if (!open && ps->depth == 0)
		return ps_bad(ps, "unbalanced parentheses");
	ps->depth += open ? 1 : -1;
	return tok_raw(ps, open ? IMAP_TOK_LPAREN : IMAP_TOK_RPAREN, 1);
}

static enum parse_res
parse_token(struct imap_parser *ps)
{
	int	c = ps_peek(ps);

	if (c == '(')
		return parse_paren(ps, 1);
	if (c == '"')
		return parse_quoted(ps);
	if (c == '{')
		return parse_literal(ps);
	if (c != -1 && is_astring_char((uint8_t)c))
		return parse_atom(ps);
	if (ps_at_eol(ps))
		return ps_bad(ps, "missing argument");
	return ps_bad(ps, "invalid character in argument");
}

static enum parse_res
parse_end(struct imap_parser *ps)
{
	if (ps->depth > 0)
		return ps_bad(ps, "unbalanced parentheses");
	ps_eat_eol(ps);
	return ps->pos == ps->len ? PARSE_CMD :
	    ps_bad(ps, "data after the command");
}

/*
 * After the name: tokens separated by exactly one SP; '(' may be followed
 * directly by a token or ')', and ')' may follow a token directly.
 */
static enum parse_res
parse_args(struct imap_parser *ps)
{
	enum parse_res	r;
	int		want = 0, c;	/* 1: a token, 2: a token or ')' */

	for (;;) {
		c = ps_peek(ps);
		if (want == 2 && c == ')')
			r = parse_paren(ps, 0);
		else if (want)
			r = parse_token(ps);
		else if (c == ' ') {
			ps->pos++;
			want = 1;
			continue;
		} else if (c == ')')
			r = parse_paren(ps, 0);
		else if (ps_at_eol(ps))
			return parse_end(ps);
		else
			return ps_bad(ps, "expected space");
		if (r != PARSE_CMD)
			return r;
		want = want != 0 && c == '(' ? 2 : 0;
	}
}

static enum parse_res
imap_parse(struct imap_parser *ps)
{
	enum parse_res	r;

	if ((r = parse_tag(ps)) != PARSE_CMD ||
	    (r = parse_name(ps)) != PARSE_CMD)
		return r;
	return parse_args(ps);
}

static void
parser_init(struct imap_parser *ps, const uint8_t *p, size_t len,
    struct imap_cmd *cmd, uint8_t *out)
{
	memset(ps, 0, sizeof(*ps));
	ps->p = p;
	ps->len = len;
	ps->cmd = cmd;
	ps->out = out;
}

/*
 * The tag for "tag BAD": the leading tag characters when they form a
 * valid tag that ends where a tag may end, else "*".
 */
static void
reader_errtag(struct imap_reader *r)
{
	const uint8_t	*p = buf_data(&r->line);
	size_t		 len = buf_len(&r->line), n = 0;

	while (n < len && n < IMAP_TAG_MAX_BYTES && is_tag_char(p[n]))
		n++;
	if (n == 0 || n >= IMAP_TAG_MAX_BYTES || n == len ||
	    (p[n] != ' ' && p[n] != '\r' && p[n] != '\n')) {
		strlcpy(r->errtag, "*", sizeof(r->errtag));
		return;
	}
	memcpy(r->errtag, p, n);
	r->errtag[n] = '\0';
}

/* Wipe the command's bytes and start over; the error fields survive. */
static void
reader_restart(struct imap_reader *r, int phase)
{
	buf_reset(&r->line);
	r->litleft = 0;
	r->total = 0;
	rd_set(r, phase, 0);
}

static enum imap_read
reader_fail(struct imap_reader *r, int fatal, const char *why)
{
	reader_errtag(r);
	strlcpy(r->err, why, sizeof(r->err));
	reader_restart(r, fatal ? RD_FATAL : RD_LINE);
	return fatal ? IMAP_READ_FATAL : IMAP_READ_BAD;
}

/* Whether the last line ends in "{digits+}": its data comes regardless. */
static int
reader_nonsync_pending(const struct imap_reader *r)
{
	const uint8_t	*p = buf_data(&r->line);
	size_t		 i = buf_len(&r->line), start = rd_linestart(r), d;

	if (i - start < 5 || p[--i] != '\n')
		return 0;
	if (p[i - 1] == '\r')
		i--;
	if (i - start < 4 || p[i - 1] != '}' || p[i - 2] != '+')
		return 0;
	for (i -= 2, d = 0; i > start && p[i - 1] >= '0' && p[i - 1] <= '9';
	    i--)
		d++;
	return d > 0 && i > start && p[i - 1] == '{';
}

static int
reader_reserve(struct imap_reader *r, size_t n)
{
	static const uint8_t	zeros[ZERO_CHUNK_BYTES];
	size_t			chunk;

	while (n > 0) {
		chunk = n < sizeof(zeros) ? n : sizeof(zeros);
		if (buf_add(&r->line, zeros, chunk) == -1)
			return -1;
		n -= chunk;
	}
	return 0;
}

/*
 * The command checked out: decode its tokens behind the raw bytes. The
 * room is added first, so the buffer does not move while tokens are
 * written and pointed at.
 */
static enum imap_read
reader_decode(struct imap_reader *r, struct imap_cmd *cmd, size_t outlen)
{
	struct imap_parser	 ps;
	uint8_t			*base;
	size_t			 rawlen = buf_len(&r->line);
	int			 i;

	if (reader_reserve(r, outlen) == -1)
		return reader_fail(r, 1, "out of memory");
	base = buf_data(&r->line);
	parser_init(&ps, base, rawlen, cmd, base + rawlen);
	if (imap_parse(&ps) != PARSE_CMD || ps.outlen != outlen) {
		memset(cmd, 0, sizeof(*cmd));
		return reader_fail(r, 1, "internal parser error");
	}
	for (i = 0; i < ps.ntok; i++)
		cmd->tok[i].s = (char *)base + rawlen + ps.tokoff[i];
	cmd->ntok = ps.ntok;
	strlcpy(r->errtag, cmd->tag, sizeof(r->errtag));
	r->err[0] = '\0';
	rd_set(r, RD_DONE, 0);
	return IMAP_READ_CMD;
}

/*
 * A line is complete: check the whole command so far. A bad line that
 * announced a non-synchronizing literal is fatal, because the client
 * sends that literal anyway and its bytes would be read as commands.
 */
static enum imap_read
reader_parse(struct imap_reader *r, struct imap_cmd *cmd)
{
	struct imap_parser	ps;

	parser_init(&ps, buf_data(&r->line), buf_len(&r->line), NULL, NULL);
	switch (imap_parse(&ps)) {
	case PARSE_CMD:
		return reader_decode(r, cmd, ps.outlen);
	case PARSE_LITERAL:
		r->litleft = ps.litlen;
		if (ps.litlen == 0)
			rd_set(r, RD_LINE, buf_len(&r->line));
		else
			rd_set(r, RD_LITERAL, 0);
		return ps.litplus ? IMAP_READ_MORE : IMAP_READ_CONT;
	case PARSE_BIGLIT:
		return reader_fail(r, ps.litplus, ps.why);
	case PARSE_BAD:
		break;
	}
	return reader_fail(r, reader_nonsync_pending(r), ps.why);
}

/*
 * Take line bytes up to and including the next LF. When a limit is
 * passed, the one reached first in the byte stream is reported, so the
 * answer does not depend on how the bytes were split into reads.
 */
static enum imap_read
reader_line(struct imap_reader *r, const uint8_t *in, size_t len,
    size_t *np, struct imap_cmd *cmd)
{
	const uint8_t	*lf = memchr(in, '\n', len);
	size_t		 take = lf != NULL ? (size_t)(lf - in) + 1 : len;
	size_t		 lineroom, cmdroom;

	lineroom = IMAP_LINE_MAX_BYTES - (buf_len(&r->line) -
	    rd_linestart(r));
	cmdroom = IMAP_CMD_MAX_BYTES - r->total;
	*np = take;
	if (take > lineroom || take > cmdroom) {
		/* Keep what fits, for the tag of the answer. */
		buf_add(&r->line, in, lineroom < cmdroom ? lineroom : cmdroom);
		return reader_fail(r, 1, lineroom <= cmdroom ?
		    "line too long" : "command too long");
	}
	if (buf_add(&r->line, in, take) == -1)
		return reader_fail(r, 1, "out of memory");
	r->total += take;
	if (lf == NULL)
		return IMAP_READ_MORE;
	return reader_parse(r, cmd);
}

static void
reader_literal(struct imap_reader *r, const uint8_t *in, size_t len,
    size_t *np)
{
	size_t	n = len < r->litleft ? len : r->litleft;

	/* Room was checked against the limits when the literal came. */
	if (buf_add(&r->line, in, n) == -1) {
		*np = n;
		reader_fail(r, 1, "out of memory");
		return;
	}
	*np = n;
	r->total += n;
	r->litleft -= n;
	if (r->litleft == 0)
		rd_set(r, RD_LINE, buf_len(&r->line));
}

int
imap_reader_init(struct imap_reader *r)
{
	memset(r, 0, sizeof(*r));
	rd_set(r, RD_LINE, 0);
	return buf_init(&r->line, 0, READER_MAX_BYTES);
}

void
imap_reader_free(struct imap_reader *r)
{
	buf_free(&r->line);
	explicit_bzero(r, sizeof(*r));
}

void
imap_reader_reset(struct imap_reader *r)
{
	reader_restart(r, RD_LINE);
	r->err[0] = '\0';
	r->errtag[0] = '\0';
}

enum imap_read
imap_reader_feed(struct imap_reader *r, const char *in, size_t len,
    size_t *used, struct imap_cmd *cmd)
{
	const uint8_t	*p = (const uint8_t *)in;
	enum imap_read	 res;
	size_t		 off = 0, n;

	*used = 0;
	memset(cmd, 0, sizeof(*cmd));
	if (rd_phase(r) == RD_FATAL)
		return IMAP_READ_FATAL;
	if (rd_phase(r) == RD_DONE)
		imap_reader_reset(r);
	while (off < len) {
		if (rd_phase(r) == RD_LITERAL) {
			reader_literal(r, p + off, len - off, &n);
			off += n;
			if (rd_phase(r) == RD_FATAL)
				break;
			continue;
		}
		res = reader_line(r, p + off, len - off, &n, cmd);
		off += n;
		if (res != IMAP_READ_MORE) {
			*used = off;
			return res;
		}
	}
	*used = off;
	return rd_phase(r) == RD_FATAL ? IMAP_READ_FATAL : IMAP_READ_MORE;
}

/* Roll back a partly appended string; only ENOMEM can cause one. */
static int
append_undo(struct buf *b, size_t oldlen)
{
	if (buf_len(b) > oldlen) {
		explicit_bzero(buf_data(b) + oldlen, buf_len(b) - oldlen);
		b->len = oldlen;
	}
	return -1;
}

static int
append_quoted(struct buf *b, const char *s, size_t len)
{
	size_t	oldlen = buf_len(b), need = len + 2, i, run;

	for (i = 0; i < len; i++)
		if (s[i] == '"' || s[i] == '\\')
			need++;
	if (need > buf_room(b))
		return -1;
	if (buf_add(b, "\"", 1) == -1)
		return append_undo(b, oldlen);
	for (i = 0; i < len; i += run) {
		run = strcspn(s + i, "\"\\");
		if (buf_add(b, s + i, run) == -1)
			return append_undo(b, oldlen);
		if (i + run < len) {
			if (buf_add(b, "\\", 1) == -1 ||
			    buf_add(b, s + i + run, 1) == -1)
				return append_undo(b, oldlen);
			run++;
		}
	}
	if (buf_add(b, "\"", 1) == -1)
		return append_undo(b, oldlen);
	return 0;
}

/*
 * Only printable 7-bit text is quoted: every store parses that the same
 * way. Anything else (8-bit, TAB, other controls) goes as a literal, which
 * carries bytes without interpretation.
 */
int
imap_append_string(struct buf *b, const char *s, int literalplus)
{
	char	head[32];
	size_t	len, i, oldlen = buf_len(b), dataoff;
	int	quoted = 1, n;

	if (s == NULL)
		return -1;
	len = strlen(s);
	for (i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return -1;
		if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] >= 0x7f)
			quoted = 0;
	}
	if (quoted)
		return append_quoted(b, s, len);
	n = snprintf(head, sizeof(head), "{%zu%s}\r\n", len,
	    literalplus ? "+" : "");
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    (size_t)n > buf_room(b) || len > buf_room(b) - (size_t)n)
		return -1;
	if (buf_add(b, head, (size_t)n) == -1)
		return append_undo(b, oldlen);
	dataoff = buf_len(b);
	if (dataoff > INT_MAX || buf_add(b, s, len) == -1)
		return append_undo(b, oldlen);
	return literalplus ? 0 : (int)dataoff;
}
