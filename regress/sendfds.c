/*
 * One sendmsg(2) with descriptors, for the unit tests that play a peer
 * process (regress/lib/chan, regress/mmpd/proc).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "regress/sendfds.h"

ssize_t
sendfds(int s, const void *data, size_t n, const int *fds, size_t nfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * SENDFDS_MAX)];
	}		 cbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	if (nfd > SENDFDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfd);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfd);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfd);
	}
	return sendmsg(s, &msg, MSG_NOSIGNAL);
}
