/*
 * Bounded byte buffers: every buffer has a hard maximum, and adding past
 * it fails with ENOBUFS instead of growing. Freed with freezero because
 * client buffers can hold passwords.
 */
#ifndef MMP_BUF_H
#define MMP_BUF_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 off;		/* first valid byte */
	size_t	 len;		/* valid bytes from off */
	size_t	 cap;		/* allocated */
	size_t	 max;		/* hard limit of len */
};

/* 0 or -1 (ENOMEM); initial may be 0 (allocated on first use). */
int	 buf_init(struct buf *, size_t initial, size_t max);
void	 buf_free(struct buf *);		/* freezero */
int	 buf_add(struct buf *, const void *, size_t);	/* -1 ENOBUFS */
int	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 buf_drain(struct buf *, size_t);
void	 buf_reset(struct buf *);		/* empties, wipes bytes */
uint8_t	*buf_data(const struct buf *);
size_t	 buf_len(const struct buf *);
size_t	 buf_room(const struct buf *);		/* max - len */
/*
 * Read once from fd into the free room (at most buf_room bytes).
 * Returns like read(2); 0 room gives -1 with ENOBUFS.
 */
ssize_t	 buf_read_fd(struct buf *, int);
/* Write once from the head and drain what was written; like write(2). */
ssize_t	 buf_write_fd(struct buf *, int);
/*
 * Length of the first line including its LF (CRLF or bare LF), or 0 when
 * no full line is buffered yet.
 */
size_t	 buf_line(const struct buf *);

#endif /* MMP_BUF_H */
