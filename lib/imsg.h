/*
 * imsg: typed, length-prefixed messages with file descriptor passing over
 * AF_UNIX socketpairs, after the OpenBSD imsg model (libbsd has none).
 * Payloads are built and read with the msg_* accessors, which fail on
 * short or trailing bytes: every peer process is assumed hostile.
 */
#ifndef MMP_IMSG_H
#define MMP_IMSG_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_MAX_BYTES		16384	/* header + payload */
#define IMSG_HASFD		0x1	/* hdr.flags: an fd rides with it */
#define IMSG_FDS_MAX		16	/* received fds queued per imsgbuf */

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;		/* header included */
	uint32_t	flags;
	uint32_t	peerid;
};
#define IMSG_HEADER_BYTES	sizeof(struct imsg_hdr)

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 unless IMSG_HASFD */
	/*
	 * IMSG_HASFD, but the descriptor never reached us: the kernel
	 * could not install it (this process is out of descriptors).
	 */
	int		 fdlost;
	uint8_t		*data;
	size_t		 datalen;
};

struct imsg_wbuf;			/* one queued outgoing message */

struct imsgbuf {
	int			 fd;
	uint8_t			 rbuf[IMSG_MAX_BYTES * 2];
	size_t			 rlen;
	int			 rfds[IMSG_FDS_MAX];
	size_t			 nrfds;
	struct imsg_wbuf	*whead;
	struct imsg_wbuf	*wtail;
	size_t			 wqueued;	/* messages waiting */
};

void	imsgbuf_init(struct imsgbuf *, int);
/*
 * Frees (zeroes) queued output and closes queued fds; does not close fd.
 * Received fds nobody took are closed abortively (SO_LINGER 0): no close
 * of something a peer sent can block.
 */
void	imsgbuf_clear(struct imsgbuf *);
/*
 * Before closing the channel of a peer given up on: shut it down, read
 * and drop what the peer queued (closing its fds as above), then clear.
 */
void	imsgbuf_shutdown(struct imsgbuf *);
/* Queue a message; fd (or -1) is passed and closed after sending. 0/-1. */
int	imsg_compose(struct imsgbuf *, uint32_t, uint32_t, int, const void *,
	    size_t);
/* Write what the socket takes now. -1 on error (EAGAIN is not an error). */
int	imsgbuf_write(struct imsgbuf *);
/* Write everything, waiting with poll(2). -1 on error. */
int	imsgbuf_flush(struct imsgbuf *);
size_t	imsgbuf_queued(const struct imsgbuf *);
/* Read what is there: -1 error (errno; EAGAIN means nothing yet), 0 EOF. */
ssize_t	imsgbuf_read(struct imsgbuf *);
/*
 * Take the next complete message: 1 got one, 0 none yet, -1 the peer sent
 * garbage (length out of range, fd flag without fd); drop the peer then.
 */
int	imsg_get(struct imsgbuf *, struct imsg *);
/* Frees data and closes an fd the receiver did not take (set fd = -1). */
void	imsg_free(struct imsg *);

/* Typed payload writer: u8/u16/u32/u64 are little endian. */
struct msg_writer {
	uint8_t	buf[IMSG_MAX_BYTES - IMSG_HEADER_BYTES];
	size_t	len;
	int	err;			/* set once something did not fit */
};

void	msg_writer_init(struct msg_writer *);
void	msg_add_u8(struct msg_writer *, uint8_t);
void	msg_add_u16(struct msg_writer *, uint16_t);
void	msg_add_u32(struct msg_writer *, uint32_t);
void	msg_add_u64(struct msg_writer *, uint64_t);
/* u16 length, then the bytes; NULL is sent as the empty string. */
void	msg_add_str(struct msg_writer *, const char *);
void	msg_add_data(struct msg_writer *, const void *, size_t);
/*
 * A typed writer that refuses a field marks the writer failed too and
 * returns -1, so that a caller who composes anyway sends nothing.
 */
int	msg_refuse(struct msg_writer *);
/* Compose from a writer; -1 if it overflowed. Wipes the writer. */
int	msg_compose(struct imsgbuf *, uint32_t, uint32_t, int,
	    struct msg_writer *);

/* Typed payload reader over an imsg; every get fails (-1) past the end. */
struct msg_reader {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

void	msg_reader_init(struct msg_reader *, const struct imsg *);
int	msg_get_u8(struct msg_reader *, uint8_t *);
int	msg_get_u16(struct msg_reader *, uint16_t *);
int	msg_get_u32(struct msg_reader *, uint32_t *);
int	msg_get_u64(struct msg_reader *, uint64_t *);
/* Copies a string into buf; -1 if it does not fit or holds a NUL. */
int	msg_get_str(struct msg_reader *, char *, size_t);
/* As msg_get_str, into a fresh allocation the caller frees. */
int	msg_get_strdup(struct msg_reader *, char **);
int	msg_get_data(struct msg_reader *, void *, size_t);
/* Passes over n bytes, as a get that keeps nothing. */
int	msg_skip(struct msg_reader *, size_t);
/* 0 when everything was consumed and no get failed, else -1. */
int	msg_end(struct msg_reader *);

#endif /* MMP_IMSG_H */
