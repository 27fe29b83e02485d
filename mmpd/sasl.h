/*
 * SASL PLAIN (RFC 4616), EXTERNAL (RFC 4422), the CRAM-MD5 response
 * (RFC 2195) and strict base64 (RFC 4648) for the login exchanges of
 * both protocols.
 */
#ifndef MMP_SASL_H
#define MMP_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SASL_FIELD_MAX_BYTES	256	/* authzid, authcid, password each */

/* Strict: no whitespace, correct padding. Returns length or -1. */
int	base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outsz);
/* Appends base64 of in to b; -1 if b is full. */
int	base64_encode_buf(struct buf *, const void *in, size_t inlen);

/*
 * Decode a PLAIN response ("authzid NUL authcid NUL password", base64).
 * Fails (-1, reason in err) on bad base64, a NUL count other than two, an
 * empty authcid, a field too long, CR or LF anywhere, or an authzid that is
 * neither empty nor equal to authcid (a client may not act as another
 * user). Outputs are NUL-terminated, sized SASL_FIELD_MAX_BYTES + 1.
 */
int	sasl_plain_decode(const char *b64, size_t len, char *authcid,
	    char *passwd, char *err, size_t errlen);
/*
 * Decode an EXTERNAL response (RFC 4422 appendix A): the authorization
 * identity the client asks for, "" for the one its certificate maps to.
 * Returns its length, or -1 (reason in err) on bad base64, a NUL, CR or
 * LF, or an identity that does not fit authzid (size bytes with its NUL).
 */
int	sasl_external_decode(const char *b64, size_t len, char *authzid,
	    size_t size, char *err, size_t errlen);
/*
 * Decode a CRAM-MD5 response: base64 of "user SP 32-hex"
 * (cram_response_parse, lib/crammd5.h). 0, or -1 (reason in err) on bad
 * base64 or anything else than one name, one space and 32 hex digits.
 */
int	sasl_cram_decode(const char *b64, size_t len, char *user,
	    size_t usersz, uint8_t *digest, char *err, size_t errlen);
/* Append base64("authzid NUL authcid NUL passwd"); authzid may be NULL. */
int	sasl_plain_encode(struct buf *, const char *authzid,
	    const char *authcid, const char *passwd);

#endif /* MMP_SASL_H */
