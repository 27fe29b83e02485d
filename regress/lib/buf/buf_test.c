/*
 * Unit tests for lib/buf.c: the hard maximum, growth, draining against a
 * reference model, line splitting, fd I/O over pipes and buf_addf limits.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "regress/tap.h"

#define MODEL_BYTES	4096
#define MODEL_STEPS	20000

static int
buf_is(const struct buf *b, const char *want, const char *what)
{
	size_t	n = strlen(want);

	if (buf_len(b) != n || (n > 0 && memcmp(buf_data(b), want, n) != 0)) {
		tap_ok(0, "%s", what);
		tap_diag("got %zu bytes \"%.*s\", want \"%s\"", buf_len(b),
		    (int)buf_len(b), buf_len(b) ? (char *)buf_data(b) : "",
		    want);
		return 0;
	}
	return tap_ok(1, "%s", what);
}

static void
test_max(void)
{
	struct buf	b;

	tap_is_int(buf_init(&b, 0, 16), 0, "init lazy, max 16");
	tap_ok(b.data == NULL && buf_len(&b) == 0 && buf_room(&b) == 16,
	    "nothing allocated yet");
	tap_is_int(buf_add(&b, "0123456789", 10), 0, "add 10");
	errno = 0;
	tap_ok(buf_add(&b, "abcdefg", 7) == -1 && errno == ENOBUFS,
	    "add 7 more: ENOBUFS");
	buf_is(&b, "0123456789", "failed add changed nothing");
	tap_is_int(buf_add(&b, "abcdef", 6), 0, "add exactly to max");
	tap_is_int(buf_room(&b), 0, "no room left");
	errno = 0;
	tap_ok(buf_add(&b, "x", 1) == -1 && errno == ENOBUFS,
	    "one byte past max: ENOBUFS");
	tap_is_int(buf_add(&b, "x", 0), 0, "adding nothing always works");
	tap_ok(b.cap <= b.max, "allocation never exceeds max (%zu)", b.cap);
	buf_free(&b);
	tap_ok(b.data == NULL && buf_len(&b) == 0, "freed");

	tap_is_int(buf_init(&b, 100, 10), 0, "initial above max");
	tap_ok(b.cap <= 10, "initial clamped to max");
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf	 b;
	uint8_t		*want;
	size_t		 i, ok = 1, reallocs = 0, lastcap = 0;
	uint8_t		 c;

	if ((want = malloc(100000)) == NULL)
		exit(2);
	buf_init(&b, 0, 1 << 20);
	for (i = 0; i < 100000; i++) {
		c = (uint8_t)(i * 13 + i / 256);
		want[i] = c;
		if (buf_add(&b, &c, 1) == -1)
			ok = 0;
		if (b.cap != lastcap) {
			reallocs++;
			lastcap = b.cap;
		}
	}
	tap_ok(ok, "100000 single-byte adds");
	tap_is_mem(buf_data(&b), buf_len(&b), want, 100000,
	    "content after growth");
	tap_ok(reallocs < 20, "growth is geometric (%zu reallocations)",
	    reallocs);
	tap_ok(b.cap >= buf_len(&b) && b.cap <= b.max, "cap within bounds");
	buf_free(&b);
	free(want);
}

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random adds and drains against a flat array holding what must be there. */
static void
test_model(void)
{
	struct buf	 b;
	uint8_t		 model[MODEL_BYTES], chunk[512];
	size_t		 mlen = 0, n, i, step, bad = 0, badmax = 0;
	uint32_t	 seed = 0x2545f491;
	int		 r;

	buf_init(&b, 0, MODEL_BYTES);
	for (step = 0; step < MODEL_STEPS; step++) {
		if (xorshift(&seed) % 2) {
			n = xorshift(&seed) % sizeof(chunk);
			for (i = 0; i < n; i++)
				chunk[i] = (uint8_t)xorshift(&seed);
			r = buf_add(&b, chunk, n);
			if (mlen + n <= MODEL_BYTES) {
				if (r != 0)
					bad++;
				memcpy(model + mlen, chunk, n);
				mlen += n;
			} else if (r != -1 || errno != ENOBUFS)
				badmax++;
		} else {
			n = xorshift(&seed) % (mlen + 2);
			buf_drain(&b, n);
			if (n > mlen)
				n = mlen;
			memmove(model, model + n, mlen - n);
			mlen -= n;
		}
		if (buf_len(&b) != mlen || (mlen > 0 &&
		    memcmp(buf_data(&b), model, mlen) != 0))
			bad++;
		if (b.off + b.len > b.cap || b.cap > b.max)
			bad++;
	}
	tap_is_int(bad, 0, "%d random adds/drains match the model",
	    MODEL_STEPS);
	tap_is_int(badmax, 0, "adds past max fail with ENOBUFS");
	buf_free(&b);
}

static void
test_drain(void)
{
	struct buf	b;
	char		full[65];
	size_t		i;

	for (i = 0; i < 64; i++)
		full[i] = (char)('A' + i % 26);
	full[64] = '\0';
	buf_init(&b, 64, 64);
	buf_add(&b, full, 64);
	buf_drain(&b, 10);
	buf_is(&b, full + 10, "drain 10 of 64");
	buf_drain(&b, 30);
	buf_is(&b, full + 40, "drain 30 more");
	tap_is_int(buf_add(&b, full, 40), 0,
	    "add 40 into a full-size buffer needs compaction");
	tap_ok(buf_len(&b) == 64 && memcmp(buf_data(&b), full + 40, 24) == 0 &&
	    memcmp(buf_data(&b) + 24, full, 40) == 0,
	    "content kept across compaction");
	tap_is_int(b.cap, 64, "no growth beyond max");
	buf_drain(&b, 1000);
	tap_ok(buf_len(&b) == 0 && b.off == 0, "drain more than len empties");

	buf_add(&b, "secret-password", 15);
	buf_drain(&b, 7);
	tap_ok(memcmp(b.data, "\0\0\0\0\0\0\0", 7) == 0,
	    "drained bytes are wiped");
	buf_reset(&b);
	for (i = 0; i < b.cap && b.data[i] == 0; i++)
		;
	tap_ok(buf_len(&b) == 0 && i == b.cap, "reset empties and wipes");
	buf_free(&b);
}

static void
test_line(void)
{
	struct buf	b;

	buf_init(&b, 0, 256);
	tap_is_int(buf_line(&b), 0, "empty buffer has no line");
	buf_add(&b, "a1 LOGIN", 8);
	tap_is_int(buf_line(&b), 0, "no line without LF");
	buf_add(&b, "\r", 1);
	tap_is_int(buf_line(&b), 0, "lone CR is not a line end");
	buf_add(&b, "\nb2 NOOP\nrest", 13);
	tap_is_int(buf_line(&b), 10, "CRLF line length includes CRLF");
	buf_drain(&b, buf_line(&b));
	tap_is_int(buf_line(&b), 8, "bare LF line length includes LF");
	buf_drain(&b, buf_line(&b));
	tap_is_int(buf_line(&b), 0, "partial tail is no line");
	buf_is(&b, "rest", "tail kept");
	buf_reset(&b);
	buf_add(&b, "\n", 1);
	tap_is_int(buf_line(&b), 1, "empty LF line has length 1");
	buf_reset(&b);
	buf_add(&b, "x\0y\n", 4);
	tap_is_int(buf_line(&b), 4, "NUL inside a line does not end it");
	buf_free(&b);
}

static void
test_fd(void)
{
	struct buf	b;
	int		p[2], q[2];
	char		out[32];
	ssize_t		n;

	if (pipe(p) == -1 || pipe(q) == -1)
		exit(2);
	buf_init(&b, 0, 5);
	if (write(p[1], "hello world", 11) != 11)
		exit(2);
	tap_is_int(buf_read_fd(&b, p[0]), 5, "read stops at max");
	buf_is(&b, "hello", "read content");
	errno = 0;
	tap_ok(buf_read_fd(&b, p[0]) == -1 && errno == ENOBUFS,
	    "read with no room: ENOBUFS");
	tap_is_int(buf_write_fd(&b, q[1]), 5, "write all");
	tap_is_int(buf_len(&b), 0, "written bytes drained");
	tap_is_int(buf_read_fd(&b, p[0]), 5, "read next 5");
	buf_drain(&b, 2);
	tap_is_int(buf_read_fd(&b, p[0]), 1, "read the last byte");
	buf_is(&b, "orld", "content after partial drain and read");
	tap_is_int(buf_write_fd(&b, q[1]), 4, "write the rest");
	n = read(q[0], out, sizeof(out));
	tap_is_mem(out, n > 0 ? (size_t)n : 0, "helloorld", 9,
	    "bytes came out of the other pipe in order");
	tap_is_int(buf_write_fd(&b, q[1]), 0, "write of empty buffer is 0");
	close(p[1]);
	tap_is_int(buf_read_fd(&b, p[0]), 0, "EOF reads 0");
	buf_free(&b);

	/* Larger traffic through a bigger buffer. */
	close(p[0]);
	if (pipe(p) == -1)
		exit(2);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		exit(2);
	buf_init(&b, 0, 1 << 16);
	errno = 0;
	tap_ok(buf_read_fd(&b, p[0]) == -1 && errno == EAGAIN,
	    "non-blocking empty pipe: EAGAIN");
	memset(out, 'z', sizeof(out));
	if (write(p[1], out, sizeof(out)) != sizeof(out))
		exit(2);
	tap_is_int(buf_read_fd(&b, p[0]), sizeof(out),
	    "read 32 into a growing buffer");
	tap_ok(b.cap <= b.max, "cap within max after read");
	buf_free(&b);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void
test_addf(void)
{
	struct buf	b;
	char		want[64];

	buf_init(&b, 0, 16);
	tap_is_int(buf_addf(&b, "%d", 12345), 0, "addf into lazy buffer");
	buf_is(&b, "12345", "addf content");
	errno = 0;
	tap_ok(buf_addf(&b, "%s", "this is far too long") == -1 &&
	    errno == ENOBUFS, "addf past max: ENOBUFS");
	buf_is(&b, "12345", "failed addf changed nothing");
	tap_is_int(buf_addf(&b, "%s-%03d", "abcdef", 7), 0,
	    "addf up to max minus one");
	buf_is(&b, "12345abcdef-007", "content at max minus one");
	tap_is_int(buf_addf(&b, "!"), 0, "addf the last byte");
	tap_is_int(buf_len(&b), 16, "len equals max");
	tap_ok(b.cap <= 16, "cap stays within max (%zu)", b.cap);
	tap_ok(buf_addf(&b, "%s", "") == 0, "empty addf at max works");
	errno = 0;
	tap_ok(buf_addf(&b, "x") == -1 && errno == ENOBUFS,
	    "addf at max: ENOBUFS");
	buf_free(&b);

	buf_init(&b, 4, 100);
	snprintf(want, sizeof(want), "%050d", 42);
	tap_is_int(buf_addf(&b, "%050d", 42), 0, "addf grows a small buffer");
	buf_is(&b, want, "grown addf content");
	buf_drain(&b, 45);
	tap_is_int(buf_addf(&b, "%s", "tail"), 0, "addf after drain");
	buf_is(&b, "00042tail", "content after drain and addf");
	buf_free(&b);
}

int
main(void)
{
	test_max();
	test_growth();
	test_model();
	test_drain();
	test_line();
	test_fd();
	test_addf();
	return tap_done();
}
