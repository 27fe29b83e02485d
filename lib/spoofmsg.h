/*
 * SpoofMessageFile: the one message of a spoofed POP3 mailbox. The parent
 * reads the file and makes a message of it (spoof_msg_make); a relay gets
 * it as IMSG_CONF_SPOOF and checks it again (spoof_msg_read), so that
 * what it serves is always CRLF lines with a header section.
 */
#ifndef MMP_SPOOFMSG_H
#define MMP_SPOOFMSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imsg.h"

#define SPOOF_MSG_MAX_BYTES	8192	/* fits one imsg, one RETR reply */
#define SPOOF_LINE_MAX_BYTES	998	/* RFC 5322 2.1.1, without CRLF */
#define SPOOF_SUBJECT		"Your mailbox is temporarily unavailable"

/*
 * The file's bytes (raw, rawlen) into a message in out (outsz bytes,
 * *outlen set): LF or CRLF line ends become CRLF, the last line gets one.
 * A file that begins with a header field must be a whole RFC 5322
 * message: a header section of fields (and folded lines) with From: and
 * Date:, ended by an empty line or the end of the file (an empty line is
 * added then). A file that does not begin with a header field is a body:
 * Date (now, UTC), From (postmaster@host) and Subject (SPOOF_SUBJECT) are
 * put in front, with MIME headers when it has 8-bit bytes. -1 with why:
 * a NUL, a CR not before an LF, a line over SPOOF_LINE_MAX_BYTES, an
 * empty file, a broken header section, a message over outsz or over
 * SPOOF_MSG_MAX_BYTES.
 */
int	spoof_msg_make(const char *raw, size_t rawlen, const char *host,
	    time_t now, char *out, size_t outsz, size_t *outlen, char *why,
	    size_t whylen);

/*
 * What spoof_msg_make gives: 1..SPOOF_MSG_MAX_BYTES bytes, no NUL, every
 * CR before an LF and every LF after a CR, ending in CRLF, an empty line
 * ending the header section. 1 yes, 0 no.
 */
int	spoof_msg_ok(const char *, size_t);

/* Where the header section ends (after its empty line); the message is ok. */
size_t	spoof_msg_body(const char *, size_t);

/* IMSG_CONF_SPOOF: u16 length, that many bytes (spoof_msg_ok). */
void	spoof_msg_write(struct msg_writer *, const char *, size_t);
/* 0 with the message in buf (SPOOF_MSG_MAX_BYTES) and *len, or -1. */
int	spoof_msg_read(const struct imsg *, char *buf, size_t *len);

#endif /* MMP_SPOOFMSG_H */
