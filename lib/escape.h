/*
 * Escaping of untrusted strings: LDAP filter values (RFC 4515), DN
 * attribute values (RFC 4514) and anything that goes into a log line.
 */
#ifndef MMP_ESCAPE_H
#define MMP_ESCAPE_H

#include <stddef.h>

/*
 * RFC 4515 value escaping: '*' '(' ')' '\' NUL and every byte >= 0x80 that
 * is not part of valid UTF-8 become \XX. Returns the output length, or -1
 * when out (NUL-terminated) would be too small.
 */
int	escape_filter_value(const char *in, size_t inlen, char *out,
	    size_t outsz);
/*
 * RFC 4514 attribute value escaping: , + " \ < > ; = as \c, a leading
 * '#' or space, a trailing space, NUL as \00. Returns length or -1.
 */
int	escape_dn_value(const char *in, size_t inlen, char *out,
	    size_t outsz);
/*
 * For log lines: printable ASCII is copied, '\' becomes "\\", CR LF TAB
 * become \r \n \t, every other byte \xHH. Always NUL-terminates; when out
 * is too small the result ends in "..." . Returns out.
 */
char	*escape_log(const char *in, size_t inlen, char *out, size_t outsz);

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF; ASCII is 1), or 0.
 */
size_t	utf8_seqlen(const unsigned char *p, size_t left);

/* The value of hex digit c (either case), 0 to 15, or -1. */
int	hex_digit_value(int c);

#endif /* MMP_ESCAPE_H */
