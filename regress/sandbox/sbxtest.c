/*
 * Helpers both sandbox tests link (sbxtest.h). Each runs in the test and
 * in its children, inside a sandbox too: read, open, sendmsg and recvmsg
 * only.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "regress/sandbox/sbxtest.h"

size_t
read_all(int fd, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;

	while (len < size - 1 &&
	    (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	return len;
}

int
read_file(const char *path, char *buf, size_t size)
{
	int	fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	read_all(fd, buf, size);
	close(fd);
	return 0;
}

const char *
status_field(const char *status, const char *key, char *val, size_t size)
{
	const char	*p = status, *end;
	size_t		 klen = strlen(key), len;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			end = strchr(p, '\n');
			len = end ? (size_t)(end - p) : strlen(p);
			while (len > 0 && (p[len - 1] == ' ' ||
			    p[len - 1] == '\t'))
				len--;
			if (len >= size)
				len = size - 1;
			memcpy(val, p, len);
			val[len] = '\0';
			return val;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

/* One byte and its control message, as sendmsg and recvmsg want them. */
struct fdmsg {
	struct msghdr	msg;
	struct iovec	iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		cm;
	char		c;
};

static void
fdmsg_init(struct fdmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->c = 'f';
	m->iov.iov_base = &m->c;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->cm.buf;
	m->msg.msg_controllen = sizeof(m->cm.buf);
}

int
send_fd(int s, int fd)
{
	struct fdmsg	 m;
	struct cmsghdr	*cmsg;

	fdmsg_init(&m);
	cmsg = CMSG_FIRSTHDR(&m.msg);
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(s, &m.msg, 0) == 1 ? 0 : -1;
}

int
recv_fd(int s)
{
	struct fdmsg	 m;
	struct cmsghdr	*cmsg;
	int		 fd;

	fdmsg_init(&m);
	if (recvmsg(s, &m.msg, 0) != 1 ||
	    (cmsg = CMSG_FIRSTHDR(&m.msg)) == NULL ||
	    cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}
