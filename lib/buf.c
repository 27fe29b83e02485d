/*
 * Bounded byte buffers for client and store traffic: they grow on demand
 * up to a hard maximum, and every byte that leaves them is wiped because
 * they carry credentials.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#define BUF_MIN_ALLOC_BYTES	256	/* first allocation when growing */
/*
 * Room wanted before one read: a line of the protocols before the login.
 * A buffer that fills up grows by doubling, so a long command costs a
 * few more reads, and the many short ones leave small buffers.
 */
#define BUF_READ_BYTES		1024

int
buf_init(struct buf *b, size_t initial, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	if (initial > max)
		initial = max;
	if (initial > 0 && (b->data = calloc(1, initial)) == NULL)
		return -1;
	b->cap = initial;
	return 0;
}

void
buf_free(struct buf *b)
{
	if (b->data != NULL)
		freezero(b->data, b->cap);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/* Move the valid bytes to the front and wipe the stale copy behind them. */
static void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len);
	explicit_bzero(b->data + b->len, b->off);
	b->off = 0;
}

/*
 * Make n bytes of room after the valid ones; the caller checked that
 * len + n <= max. Compacts before growing, and grows by doubling so a
 * buffer filled in small steps is not reallocated at every step.
 */
static int
buf_reserve(struct buf *b, size_t n)
{
	uint8_t	*p;
	size_t	 newcap;

	if (b->cap - b->off - b->len >= n)
		return 0;
	buf_compact(b);
	if (b->cap - b->len >= n)
		return 0;
	newcap = b->cap < BUF_MIN_ALLOC_BYTES ? BUF_MIN_ALLOC_BYTES : b->cap;
	while (newcap < b->len + n)
		newcap = newcap > b->max / 2 ? b->max : newcap * 2;
	if (newcap > b->max)
		newcap = b->max;
	/* recallocarray wipes the old allocation when it moves. */
	if ((p = recallocarray(b->data, b->cap, newcap, 1)) == NULL)
		return -1;
	b->data = p;
	b->cap = newcap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (data == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (n > b->max - b->len) {
		errno = ENOBUFS;
		return -1;
	}
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->off + b->len, data, n);
	b->len += n;
	return 0;
}

/*
 * Format into the free room first (the common, short case); when that is
 * too small, format again into a scratch copy of the exact size, so the
 * buffer never needs room for the terminator beyond its maximum.
 */
int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*tmp;
	size_t	 tail = b->cap - b->off - b->len, need;
	int	 r;

	va_start(ap, fmt);
	r = vsnprintf(tail > 0 ? (char *)b->data + b->off + b->len : NULL,
	    tail, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	need = (size_t)r;
	if (need < tail) {
		b->len += need;
		return 0;
	}
	/* Do not leave a truncated copy of the text behind the data. */
	if (tail > 0)
		explicit_bzero(b->data + b->off + b->len, tail);
	if (need > b->max - b->len) {
		errno = ENOBUFS;
		return -1;
	}
	if ((tmp = malloc(need + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	r = vsnprintf(tmp, need + 1, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r != need) {
		freezero(tmp, need + 1);
		errno = EINVAL;
		return -1;
	}
	r = buf_add(b, tmp, need);
	freezero(tmp, need + 1);
	return r;
}

/*
 * Compacts only once the drained front is more than half the allocation,
 * so draining small pieces does not memmove the rest each time.
 */
void
buf_drain(struct buf *b, size_t n)
{
	if (b->data == NULL)
		return;
	if (n >= b->len) {
		explicit_bzero(b->data + b->off, b->len);
		b->off = b->len = 0;
		return;
	}
	explicit_bzero(b->data + b->off, n);
	b->off += n;
	b->len -= n;
	if (b->off > b->cap / 2)
		buf_compact(b);
}

void
buf_reset(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	b->off = b->len = 0;
}

uint8_t *
buf_data(const struct buf *b)
{
	return b->data != NULL ? b->data + b->off : NULL;
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

size_t
buf_room(const struct buf *b)
{
	return b->max - b->len;
}

ssize_t
buf_read_fd(struct buf *b, int fd)
{
	size_t	room = b->max - b->len, want, tail;
	ssize_t	n;

	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	want = room < BUF_READ_BYTES ? room : BUF_READ_BYTES;
	if (b->cap - b->off - b->len < want && buf_reserve(b, want) == -1)
		return -1;
	/* cap <= max, so the free tail never exceeds the room left. */
	tail = b->cap - b->off - b->len;
	do {
		n = read(fd, b->data + b->off + b->len, tail);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t
buf_write_fd(struct buf *b, int fd)
{
	ssize_t	n;

	if (b->len == 0)
		return 0;
	do {
		n = write(fd, b->data + b->off, b->len);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_drain(b, (size_t)n);
	return n;
}

size_t
buf_line(const struct buf *b)
{
	const uint8_t	*start, *nl;

	if (b->len == 0)
		return 0;
	start = b->data + b->off;
	if ((nl = memchr(start, '\n', b->len)) == NULL)
		return 0;
	return (size_t)(nl - start) + 1;
}
