/*
 * imsg: length-prefixed typed messages with fd passing over non-blocking
 * AF_UNIX stream sockets, plus the msg_* payload writer and reader. Plain
 * system calls only, so any event loop can drive it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_IOV_MAX	64	/* messages gathered into one sendmsg */
/*
 * The most descriptors one recvmsg can bring: Linux's SCM_MAX_FD, the
 * limit of one sendmsg, and a stream read takes at most one such batch.
 * Room for all of them, so the kernel never drops (closes) one for us.
 */
#define IMSG_RECV_FDS_MAX	253

/*
 * One queued outgoing message, header and payload in one allocation so a
 * single freezero wipes it. fd is sent with the first byte, then closed.
 */
struct imsg_wbuf {
	struct imsg_wbuf	*next;
	size_t			 len;	/* header + payload */
	size_t			 off;	/* bytes already sent */
	int			 fd;
	uint8_t			 data[];
};

/*
 * Close a descriptor a peer sent that nobody took. A peer may send a TCP
 * socket with SO_LINGER set and data its own peer never reads: a plain
 * close would wait out the linger time. Abortive close (RST) never waits;
 * for anything but a socket the setsockopt fails and changes nothing.
 */
static void
imsg_close_received(int fd)
{
	struct linger	abort_close = { 1, 0 };

	if (fd < 0)	/* one the kernel could not give us */
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close,
	    sizeof(abort_close));
	close(fd);
}

static void
imsg_wbuf_free(struct imsg_wbuf *wb)
{
	if (wb->fd >= 0)
		close(wb->fd);
	freezero(wb, sizeof(*wb) + wb->len);
}

void
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	ib->fd = fd;
}

void
imsgbuf_clear(struct imsgbuf *ib)
{
	struct imsg_wbuf	*wb;
	size_t			 i;

	while ((wb = ib->whead) != NULL) {
		ib->whead = wb->next;
		imsg_wbuf_free(wb);
	}
	ib->wtail = NULL;
	ib->wqueued = 0;
	for (i = 0; i < ib->nrfds; i++)
		imsg_close_received(ib->rfds[i]);
	ib->nrfds = 0;
	explicit_bzero(ib->rbuf, sizeof(ib->rbuf));
	ib->rlen = 0;
}

/*
 * The fd belongs to the imsgbuf from this call on: it is closed after it
 * was sent, on imsgbuf_clear, or here at once when queueing fails, so a
 * caller never has to guess whether to close it.
 */
int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t datalen)
{
	struct imsg_wbuf	*wb;
	struct imsg_hdr		 hdr;

	if (data == NULL && datalen > 0) {
		errno = EINVAL;
		goto fail;
	}
	if (datalen > IMSG_MAX_BYTES - IMSG_HEADER_BYTES) {
		errno = EMSGSIZE;
		goto fail;
	}
	if ((wb = calloc(1, sizeof(*wb) + IMSG_HEADER_BYTES + datalen)) ==
	    NULL)
		goto fail;
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_BYTES + datalen);
	hdr.flags = fd >= 0 ? IMSG_HASFD : 0;
	hdr.peerid = peerid;
	memcpy(wb->data, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(wb->data + IMSG_HEADER_BYTES, data, datalen);
	wb->len = IMSG_HEADER_BYTES + datalen;
	wb->fd = fd >= 0 ? fd : -1;
	if (ib->wtail != NULL)
		ib->wtail->next = wb;
	else
		ib->whead = wb;
	ib->wtail = wb;
	ib->wqueued++;
	return 0;

 fail:
	if (fd >= 0) {
		int	saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

/*
 * One sendmsg of the queue head and the fd-less messages after it. An fd
 * only travels at the start of a batch, so it is attached to the call that
 * carries the first byte of its message and to no other.
 */
static ssize_t
imsg_sendsome(struct imsgbuf *ib)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}			 cmsgbuf;
	struct iovec		 iov[IMSG_IOV_MAX];
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct imsg_wbuf	*wb = ib->whead;
	size_t			 n = 0;
	ssize_t			 r;

	memset(&msg, 0, sizeof(msg));
	iov[n].iov_base = wb->data + wb->off;
	iov[n++].iov_len = wb->len - wb->off;
	for (wb = wb->next; wb != NULL && wb->fd < 0 && n < IMSG_IOV_MAX;
	    wb = wb->next) {
		iov[n].iov_base = wb->data;
		iov[n++].iov_len = wb->len;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = n;
	wb = ib->whead;
	if (wb->fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &wb->fd, sizeof(int));
	}
	if ((r = sendmsg(ib->fd, &msg, MSG_NOSIGNAL)) > 0 && wb->fd >= 0) {
		/* The kernel holds its own reference now. */
		close(wb->fd);
		wb->fd = -1;
	}
	return r;
}

/* Drop the n bytes just sent from the head of the queue. */
static void
imsg_consume(struct imsgbuf *ib, size_t n)
{
	struct imsg_wbuf	*wb;
	size_t			 rest;

	while (n > 0 && (wb = ib->whead) != NULL) {
		rest = wb->len - wb->off;
		if (n < rest) {
			wb->off += n;
			return;
		}
		n -= rest;
		ib->whead = wb->next;
		if (ib->whead == NULL)
			ib->wtail = NULL;
		ib->wqueued--;
		imsg_wbuf_free(wb);
	}
}

int
imsgbuf_write(struct imsgbuf *ib)
{
	ssize_t	r;

	while (ib->whead != NULL) {
		if ((r = imsg_sendsome(ib)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		imsg_consume(ib, (size_t)r);
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ib)
{
	struct pollfd	pfd;

	for (;;) {
		if (imsgbuf_write(ib) == -1)
			return -1;
		if (ib->whead == NULL)
			return 0;
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		/* POLLERR and POLLHUP surface as an error of the next write. */
	}
}

size_t
imsgbuf_queued(const struct imsgbuf *ib)
{
	return ib->wqueued;
}

/*
 * Queue the fds a recvmsg brought. An honest peer sends one fd per
 * sendmsg and the kernel hands over at most one such batch per recvmsg, so
 * more fds than free slots (or a control buffer filled and truncated)
 * means the peer is misbehaving: every fd of this call is closed and the
 * read fails with EMFILE, and the caller drops the peer.
 *
 * Truncated with room to spare is another thing: the kernel could not
 * install a descriptor because this process has none left (EMFILE,
 * ENFILE), and dropped it. The bytes are intact; a -1 takes the lost
 * descriptor's place in the queue, and its message comes out of imsg_get
 * with fdlost set, for the receiver to fail that one request.
 */
static int
imsg_take_fds(struct imsgbuf *ib, struct msghdr *msg)
{
	struct cmsghdr	*cmsg;
	size_t		 first = ib->nrfds, i, nfds, got = 0;
	int		 fd, overflow = 0;
	int		 ctrunc = (msg->msg_flags & MSG_CTRUNC) != 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS ||
		    cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(fd));
			got++;
			if (ib->nrfds < IMSG_FDS_MAX)
				ib->rfds[ib->nrfds++] = fd;
			else {
				imsg_close_received(fd);
				overflow = 1;
			}
		}
	}
	if (ctrunc && !overflow && got < IMSG_RECV_FDS_MAX &&
	    ib->nrfds < IMSG_FDS_MAX) {
		ib->rfds[ib->nrfds++] = -1;	/* lost here, not a lie */
		return 0;
	}
	if (!overflow && !ctrunc)
		return 0;
	while (ib->nrfds > first)
		imsg_close_received(ib->rfds[--ib->nrfds]);
	errno = EMFILE;
	return -1;
}

/*
 * Never reads more than rbuf holds. With a full rbuf or fd queue this
 * fails with ENOBUFS instead of reading (and EAGAIN would make an event
 * loop spin): the caller must take messages with imsg_get first.
 */
ssize_t
imsgbuf_read(struct imsgbuf *ib)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    IMSG_RECV_FDS_MAX)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;

	if (ib->rlen >= sizeof(ib->rbuf) || ib->nrfds >= IMSG_FDS_MAX) {
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ib->rbuf + ib->rlen;
	iov.iov_len = sizeof(ib->rbuf) - ib->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	ib->rlen += (size_t)n;
	if (imsg_take_fds(ib, &msg) == -1)
		return -1;
	return n;
}

/*
 * A peer we gave up on: it may send nothing more (shutdown), and what it
 * had queued is read and dropped. Descriptors waiting in that queue would
 * otherwise be released by the kernel inside our close(2) of the channel,
 * lingering as their sender set them up; read here, they are closed like
 * every unclaimed one. The queue is finite once the peer cannot add to it.
 */
void
imsgbuf_shutdown(struct imsgbuf *ib)
{
	if (ib->fd != -1) {
		(void)shutdown(ib->fd, SHUT_RDWR);
		do {
			ib->rlen = 0;
			while (ib->nrfds > 0)
				imsg_close_received(ib->rfds[--ib->nrfds]);
		} while (imsgbuf_read(ib) > 0);
	}
	imsgbuf_clear(ib);
}

int
imsg_get(struct imsgbuf *ib, struct imsg *imsg)
{
	struct imsg_hdr	hdr;
	size_t		datalen;

	imsg->fd = -1;
	imsg->fdlost = 0;
	imsg->data = NULL;
	imsg->datalen = 0;
	if (ib->rlen < IMSG_HEADER_BYTES)
		return 0;
	memcpy(&hdr, ib->rbuf, sizeof(hdr));
	/* Judge the header as soon as it is here, not when the body is. */
	if (hdr.len < IMSG_HEADER_BYTES || hdr.len > IMSG_MAX_BYTES ||
	    (hdr.flags & ~(uint32_t)IMSG_HASFD) != 0 ||
	    ((hdr.flags & IMSG_HASFD) && ib->nrfds == 0)) {
		errno = EBADMSG;
		return -1;
	}
	if (ib->rlen < hdr.len)
		return 0;
	datalen = hdr.len - IMSG_HEADER_BYTES;
	if (datalen > 0) {
		if ((imsg->data = malloc(datalen)) == NULL)
			return -1;
		memcpy(imsg->data, ib->rbuf + IMSG_HEADER_BYTES, datalen);
	}
	imsg->hdr = hdr;
	imsg->datalen = datalen;
	if (hdr.flags & IMSG_HASFD) {
		imsg->fd = ib->rfds[0];
		imsg->fdlost = imsg->fd == -1;
		ib->nrfds--;
		memmove(ib->rfds, ib->rfds + 1, ib->nrfds * sizeof(int));
	}
	ib->rlen -= hdr.len;
	memmove(ib->rbuf, ib->rbuf + hdr.len, ib->rlen);
	explicit_bzero(ib->rbuf + ib->rlen, hdr.len);
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->data != NULL)
		freezero(imsg->data, imsg->datalen);
	imsg->data = NULL;
	imsg->datalen = 0;
	if (imsg->fd >= 0)
		imsg_close_received(imsg->fd);
	imsg->fd = -1;
}

void
msg_writer_init(struct msg_writer *w)
{
	w->len = 0;
	w->err = 0;
}

void
msg_add_data(struct msg_writer *w, const void *data, size_t n)
{
	if (w->err || n > sizeof(w->buf) - w->len ||
	    (data == NULL && n > 0)) {
		w->err = 1;
		return;
	}
	if (n > 0)
		memcpy(w->buf + w->len, data, n);
	w->len += n;
}

int
msg_refuse(struct msg_writer *w)
{
	w->err = 1;
	return -1;
}

void
msg_add_u8(struct msg_writer *w, uint8_t v)
{
	msg_add_data(w, &v, 1);
}

void
msg_add_u16(struct msg_writer *w, uint16_t v)
{
	uint8_t	b[2];

	b[0] = v & 0xff;
	b[1] = v >> 8;
	msg_add_data(w, b, sizeof(b));
}

void
msg_add_u32(struct msg_writer *w, uint32_t v)
{
	uint8_t	b[4];
	size_t	i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (v >> (8 * i)) & 0xff;
	msg_add_data(w, b, sizeof(b));
}

void
msg_add_u64(struct msg_writer *w, uint64_t v)
{
	uint8_t	b[8];
	size_t	i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (v >> (8 * i)) & 0xff;
	msg_add_data(w, b, sizeof(b));
}

void
msg_add_str(struct msg_writer *w, const char *s)
{
	size_t	n;

	if (s == NULL)
		s = "";
	if ((n = strlen(s)) > UINT16_MAX) {
		w->err = 1;
		return;
	}
	msg_add_u16(w, (uint16_t)n);
	msg_add_data(w, s, n);
}

/* Like imsg_compose, the fd is consumed even when this fails. */
int
msg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    struct msg_writer *w)
{
	int	r;

	if (w->err) {
		if (fd >= 0)
			close(fd);
		errno = EMSGSIZE;
		r = -1;
	} else
		r = imsg_compose(ib, type, peerid, fd, w->buf, w->len);
	explicit_bzero(w, sizeof(*w));
	return r;
}

void
msg_reader_init(struct msg_reader *r, const struct imsg *imsg)
{
	r->p = imsg->data;
	r->left = imsg->data != NULL ? imsg->datalen : 0;
	r->err = 0;
}

int
msg_skip(struct msg_reader *r, size_t n)
{
	if (r->err || n > r->left) {
		r->err = 1;
		errno = EBADMSG;
		return -1;
	}
	if (n == 0)
		return 0;
	r->p += n;
	r->left -= n;
	return 0;
}

int
msg_get_data(struct msg_reader *r, void *buf, size_t n)
{
	if (r->err || n > r->left || (buf == NULL && n > 0)) {
		r->err = 1;
		errno = EBADMSG;
		return -1;
	}
	/* An empty payload has no pointer to advance (p may be NULL). */
	if (n == 0)
		return 0;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

int
msg_get_u8(struct msg_reader *r, uint8_t *v)
{
	return msg_get_data(r, v, 1);
}

int
msg_get_u16(struct msg_reader *r, uint16_t *v)
{
	uint8_t	b[2];

	if (msg_get_data(r, b, sizeof(b)) == -1)
		return -1;
	*v = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

int
msg_get_u32(struct msg_reader *r, uint32_t *v)
{
	uint8_t	b[4];
	size_t	i;

	if (msg_get_data(r, b, sizeof(b)) == -1)
		return -1;
	*v = 0;
	for (i = 0; i < sizeof(b); i++)
		*v |= (uint32_t)b[i] << (8 * i);
	return 0;
}

int
msg_get_u64(struct msg_reader *r, uint64_t *v)
{
	uint8_t	b[8];
	size_t	i;

	if (msg_get_data(r, b, sizeof(b)) == -1)
		return -1;
	*v = 0;
	for (i = 0; i < sizeof(b); i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return 0;
}

/*
 * Check the next string without consuming it: its length must be there,
 * its bytes must be there, and none may be NUL (a NUL would let a C
 * string say less than the bytes did).
 */
static int
msg_peek_str(struct msg_reader *r, uint16_t *lenp)
{
	uint16_t	n;

	if (r->err || r->left < 2)
		goto bad;
	n = (uint16_t)(r->p[0] | r->p[1] << 8);
	if (n > r->left - 2 || memchr(r->p + 2, '\0', n) != NULL)
		goto bad;
	*lenp = n;
	return 0;
 bad:
	r->err = 1;
	errno = EBADMSG;
	return -1;
}

int
msg_get_str(struct msg_reader *r, char *buf, size_t bufsz)
{
	uint16_t	n;

	if (bufsz > 0)
		buf[0] = '\0';
	if (msg_peek_str(r, &n) == -1)
		return -1;
	if ((size_t)n >= bufsz) {
		r->err = 1;
		errno = EBADMSG;
		return -1;
	}
	memcpy(buf, r->p + 2, n);
	buf[n] = '\0';
	r->p += 2 + (size_t)n;
	r->left -= 2 + (size_t)n;
	return 0;
}

/* The u16 length caps the allocation at 65535 + 1 bytes. */
int
msg_get_strdup(struct msg_reader *r, char **sp)
{
	uint16_t	 n;
	char		*s;

	*sp = NULL;
	if (msg_peek_str(r, &n) == -1)
		return -1;
	if ((s = malloc((size_t)n + 1)) == NULL) {
		r->err = 1;
		return -1;
	}
	memcpy(s, r->p + 2, n);
	s[n] = '\0';
	r->p += 2 + (size_t)n;
	r->left -= 2 + (size_t)n;
	*sp = s;
	return 0;
}

int
msg_end(struct msg_reader *r)
{
	if (r->err || r->left != 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}
