/*
 * SpoofMessageFile's message: made from the file by the parent, checked
 * again by each relay that receives it. Pure code, no allocation.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spoofmsg.h"

/* Where a message is built: out, its room, the length so far, a verdict. */
struct spoof_out {
	char	*buf;
	size_t	 size;
	size_t	 len;
	int	 full;
};

static void
out_add(struct spoof_out *o, const char *p, size_t n)
{
	if (o->full || n > o->size - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
out_str(struct spoof_out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* A header field's start: a name of printable bytes but ':', then ':'. */
static int
spoof_is_field(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			return i > 0;
		if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126)
			return 0;
	}
	return 0;
}

static int
spoof_field_is(const char *p, size_t n, const char *name)
{
	size_t	len = strlen(name);

	return n > len && strncasecmp(p, name, len) == 0 && p[len] == ':';
}

/* The next line of raw at *off (without its end); -1 at a bad byte. */
static int
spoof_next_line(const char *raw, size_t rawlen, size_t *off,
    const char **line, size_t *n, char *why, size_t whylen)
{
	size_t	i = *off;

	*line = raw + i;
	while (i < rawlen && raw[i] != '\n') {
		if (raw[i] == '\0') {
			(void)snprintf(why, whylen, "a NUL byte at %zu", i);
			return -1;
		}
		if (raw[i] == '\r' && !(i + 1 < rawlen && raw[i + 1] == '\n')) {
			(void)snprintf(why, whylen, "a CR not before an LF at "
			    "%zu", i);
			return -1;
		}
		i++;
	}
	*n = i - *off;
	if (*n > 0 && raw[i - 1] == '\r')
		(*n)--;
	if (*n > SPOOF_LINE_MAX_BYTES) {
		(void)snprintf(why, whylen, "a line longer than %d bytes at "
		    "%zu", SPOOF_LINE_MAX_BYTES, *off);
		return -1;
	}
	*off = i < rawlen ? i + 1 : i;
	return 0;
}

/*
 * The header section of a file that begins with a field: fields and
 * folded lines up to an empty line or the end. Its end offset in raw
 * (after the empty line, or rawlen), or -1.
 */
static long
spoof_headers(const char *raw, size_t rawlen, char *why, size_t whylen)
{
	const char	*line;
	size_t		 off = 0, n;
	int		 from = 0, date = 0;

	while (off < rawlen) {
		if (spoof_next_line(raw, rawlen, &off, &line, &n, why,
		    whylen) == -1)
			return -1;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (line == raw) {
				(void)snprintf(why, whylen, "a folded line "
				    "first");
				return -1;
			}
			continue;
		}
		if (!spoof_is_field(line, n)) {
			(void)snprintf(why, whylen, "header section: line at "
			    "%zu is no header field (an empty line must end "
			    "the header section)", (size_t)(line - raw));
			return -1;
		}
		from |= spoof_field_is(line, n, "From");
		date |= spoof_field_is(line, n, "Date");
	}
	if (!from || !date) {
		(void)snprintf(why, whylen, "the header section has no %s "
		    "field (RFC 5322 3.6)", !from ? "From:" : "Date:");
		return -1;
	}
	return (long)off;
}

/* Date, From, Subject (and MIME for 8-bit) before a body of a file. */
static void
spoof_add_headers(struct spoof_out *o, const char *raw, size_t rawlen,
    const char *host, time_t now)
{
	struct tm	tm;
	char		date[64];
	size_t		i;
	int		eight = 0;

	for (i = 0; i < rawlen; i++)
		eight |= (unsigned char)raw[i] > 127;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    &tm) == 0)
		(void)strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000",
		    sizeof(date));
	out_str(o, "Date: ");
	out_str(o, date);
	out_str(o, "\r\nFrom: Mail System <postmaster@");
	out_str(o, host);
	out_str(o, ">\r\nSubject: " SPOOF_SUBJECT "\r\n");
	if (eight)
		out_str(o, "MIME-Version: 1.0\r\nContent-Type: text/plain; "
		    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
	out_str(o, "\r\n");
}

/* The host name in From: letters, digits, '.', '-', else "localhost". */
static const char *
spoof_host(const char *host)
{
	size_t	len = host != NULL ? strlen(host) : 0;

	if (len == 0 || len > 253 || strspn(host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != len)
		return "localhost";
	return host;
}

int
spoof_msg_make(const char *raw, size_t rawlen, const char *host,
    time_t now, char *out, size_t outsz, size_t *outlen, char *why,
    size_t whylen)
{
	struct spoof_out	 o = { out, outsz, 0, 0 };
	const char		*line;
	size_t			 off = 0, n, first;
	long			 hdrend = 0;

	*outlen = 0;
	if (rawlen == 0) {
		(void)snprintf(why, whylen, "empty");
		return -1;
	}
	if (o.size > SPOOF_MSG_MAX_BYTES)
		o.size = SPOOF_MSG_MAX_BYTES;
	first = 0;
	if (spoof_next_line(raw, rawlen, &first, &line, &n, why,
	    whylen) == -1)
		return -1;
	if (spoof_is_field(line, n)) {
		if ((hdrend = spoof_headers(raw, rawlen, why, whylen)) == -1)
			return -1;
	} else
		spoof_add_headers(&o, raw, rawlen, spoof_host(host), now);
	while (off < rawlen) {
		if (spoof_next_line(raw, rawlen, &off, &line, &n, why,
		    whylen) == -1)
			return -1;
		out_add(&o, line, n);
		out_add(&o, "\r\n", 2);
	}
	/* Headers to the end of the file: the empty line that ends them. */
	if (hdrend > 0 && (size_t)hdrend == rawlen &&
	    !spoof_msg_ok(o.buf, o.len))
		out_add(&o, "\r\n", 2);
	if (o.full) {
		(void)snprintf(why, whylen, "the message is longer than %zu "
		    "bytes with CRLF line ends%s", o.size, hdrend == 0 ?
		    " and the headers mmpd adds" : "");
		return -1;
	}
	*outlen = o.len;
	return spoof_msg_ok(o.buf, o.len) ? 0 : -1;
}

int
spoof_msg_ok(const char *m, size_t len)
{
	size_t	i;

	if (len < 2 || len > SPOOF_MSG_MAX_BYTES || m[len - 2] != '\r' ||
	    m[len - 1] != '\n')
		return 0;
	for (i = 0; i < len; i++) {
		if (m[i] == '\0')
			return 0;
		if (m[i] == '\r' && (i + 1 == len || m[i + 1] != '\n'))
			return 0;
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			return 0;
	}
	return spoof_msg_body(m, len) > 0;
}

size_t
spoof_msg_body(const char *m, size_t len)
{
	size_t	i;

	/* An empty line: at the very start, or a CRLF after a CRLF. */
	if (len >= 2 && m[0] == '\r' && m[1] == '\n')
		return 2;
	for (i = 0; i + 4 <= len; i++)
		if (memcmp(m + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

void
spoof_msg_write(struct msg_writer *w, const char *m, size_t len)
{
	msg_add_u16(w, (uint16_t)len);
	msg_add_data(w, m, len);
}

int
spoof_msg_read(const struct imsg *imsg, char *buf, size_t *len)
{
	struct msg_reader	r;
	uint16_t		n;

	*len = 0;
	msg_reader_init(&r, imsg);
	if (msg_get_u16(&r, &n) == -1 || n > SPOOF_MSG_MAX_BYTES ||
	    msg_get_data(&r, buf, n) == -1 || msg_end(&r) == -1 ||
	    !spoof_msg_ok(buf, n))
		return -1;
	*len = n;
	return 0;
}
