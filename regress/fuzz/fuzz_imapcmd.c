/*
 * libFuzzer target for the IMAP pre-auth command reader: the input is fed
 * whole and in chunks (size from its first byte); both must give the same
 * commands, errors and continuations. Every token is sent back through
 * imap_append_string and must come out of a fresh reader unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mmpd/imapcmd.h"

#define EVENTS_MAX	4096

/* FNV-1a over what a client would see, not how the bytes arrived. */
struct digest {
	uint64_t	h;
	size_t		nevents;
};

static void
digest_add(struct digest *d, const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		d->h ^= b[i];
		d->h *= 1099511628211ULL;
	}
}

static void
digest_str(struct digest *d, const char *s)
{
	digest_add(d, s, strlen(s) + 1);
}

static void
check_token(const struct imap_token *t)
{
	if (t->s == NULL || t->s[t->len] != '\0' || memchr(t->s, '\0',
	    t->len) != NULL)
		abort();
	if (t->type == IMAP_TOK_LPAREN && (t->len != 1 || t->s[0] != '('))
		abort();
	if (t->type == IMAP_TOK_RPAREN && (t->len != 1 || t->s[0] != ')'))
		abort();
	if (t->type == IMAP_TOK_NIL && (t->len != 3 ||
	    strncasecmp(t->s, "NIL", 3) != 0))
		abort();
}

/* s (no CR/LF) must survive append + parse as the single argument. */
static void
round_trip(const struct imap_token *t, int plus)
{
	struct imap_reader	 r;
	struct imap_cmd		 cmd;
	struct buf		 b;
	size_t			 off = 0, used;
	enum imap_read		 res;
	int			 crlf, rv;

	crlf = memchr(t->s, '\r', t->len) != NULL ||
	    memchr(t->s, '\n', t->len) != NULL;
	if (buf_init(&b, 0, 3 * IMAP_CMD_MAX_BYTES) == -1 ||
	    buf_add(&b, "t X ", 4) == -1)
		abort();
	rv = imap_append_string(&b, t->s, plus);
	if (crlf != (rv == -1))
		abort();
	/* Quoting may double it: stay within one line. */
	if (rv == -1 || 2 * t->len + 16 > IMAP_LINE_MAX_BYTES) {
		buf_free(&b);
		return;
	}
	buf_add(&b, "\r\n", 2);
	if (imap_reader_init(&r) == -1)
		abort();
	do {
		res = imap_reader_feed(&r, (char *)buf_data(&b) + off,
		    buf_len(&b) - off, &used, &cmd);
		off += used;
	} while (res == IMAP_READ_CONT);
	if (res != IMAP_READ_CMD || cmd.ntok != 1 || cmd.tok[0].len !=
	    t->len || memcmp(cmd.tok[0].s, t->s, t->len) != 0 ||
	    off != buf_len(&b))
		abort();
	imap_reader_free(&r);
	buf_free(&b);
}

static void
check_cmd(const struct imap_cmd *cmd, struct digest *d, int deep)
{
	int	i;

	if (cmd->tag[0] == '\0' || cmd->name[0] == '\0' || cmd->ntok < 0 ||
	    cmd->ntok > IMAP_TOKENS_MAX)
		abort();
	for (i = 0; cmd->name[i] != '\0'; i++)
		if (cmd->name[i] >= 'a' && cmd->name[i] <= 'z')
			abort();
	digest_str(d, cmd->tag);
	digest_str(d, cmd->name);
	for (i = 0; i < cmd->ntok; i++) {
		check_token(&cmd->tok[i]);
		digest_add(d, &cmd->tok[i].type, sizeof(cmd->tok[i].type));
		digest_add(d, cmd->tok[i].s, cmd->tok[i].len + 1);
		if (deep && (cmd->tok[i].type == IMAP_TOK_ATOM ||
		    cmd->tok[i].type == IMAP_TOK_QUOTED ||
		    cmd->tok[i].type == IMAP_TOK_LITERAL)) {
			round_trip(&cmd->tok[i], 0);
			round_trip(&cmd->tok[i], 1);
		}
	}
}

/* Feed everything, chunk bytes at a time (0: all there is). */
static void
run(const uint8_t *in, size_t len, size_t chunk, struct digest *d, int deep)
{
	struct imap_reader	r;
	struct imap_cmd		cmd;
	size_t			off = 0, avail, used;
	enum imap_read		res;

	d->h = 14695981039346656037ULL;
	d->nevents = 0;
	if (imap_reader_init(&r) == -1)
		abort();
	avail = chunk == 0 || chunk > len ? len : chunk;
	while (d->nevents < EVENTS_MAX) {
		res = imap_reader_feed(&r, (const char *)in + off, avail - off,
		    &used, &cmd);
		if (used > avail - off)
			abort();
		off += used;
		if (res == IMAP_READ_MORE) {
			if (off != avail)
				abort();
			if (avail == len)
				break;
			avail = len - avail < chunk ? len : avail + chunk;
			continue;
		}
		d->nevents++;
		digest_add(d, &res, sizeof(res));
		if (res == IMAP_READ_CMD)
			check_cmd(&cmd, d, deep);
		else if (res == IMAP_READ_BAD || res == IMAP_READ_FATAL) {
			if (r.errtag[0] == '\0' || r.err[0] == '\0')
				abort();
			digest_str(d, r.errtag);
			digest_str(d, r.err);
		}
		if (res == IMAP_READ_FATAL)
			break;
	}
	imap_reader_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest	whole, split;
	size_t		chunk;

	if (size < 1)
		return 0;
	chunk = data[0] % 23 + 1;
	run(data + 1, size - 1, 0, &whole, 1);
	run(data + 1, size - 1, chunk, &split, 0);
	if (whole.h != split.h || whole.nevents != split.nevents)
		abort();
	return 0;
}
