/*
 * What both sandbox tests (sandbox_test.c, children_test.c) need alike:
 * reading a file or a pipe whole, a field of /proc/PID/status, and a
 * descriptor passed over a socketpair as imsg passes it.
 */
#ifndef MMP_SBXTEST_H
#define MMP_SBXTEST_H

#include <stddef.h>

/* Read what fd holds until EOF, NUL-terminated: its length. */
size_t		 read_all(int fd, char *buf, size_t size);
/* The file at path, NUL-terminated ("" if it cannot be opened). 0 or -1. */
int		 read_file(const char *path, char *buf, size_t size);
/*
 * The value after "Key:" in a /proc/PID/status text, blanks on either
 * side taken off, in val (cut to size); val, or NULL if there is no key.
 */
const char	*status_field(const char *status, const char *key, char *val,
		    size_t size);
/* fd sent on s with one byte (SCM_RIGHTS), as imsg sends one: 0 or -1. */
int		 send_fd(int s, int fd);
/* The descriptor that came on s with one byte, or -1. */
int		 recv_fd(int s);

#endif /* MMP_SBXTEST_H */
