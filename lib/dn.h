/*
 * lib/dn.c: distinguished names as RFC 4514 text, and the attribute
 * names in them.
 */
#ifndef MMP_DN_H
#define MMP_DN_H

#include "tlsmsg.h"

#define DN_ATTR_BYTES	TLS_FIELD_ATTR_BYTES	/* an attribute name, NUL */

/*
 * Two DNs in RFC 4514 text are the same: attribute names compared
 * without case (and "e"/"email" as emailAddress), blanks around
 * separators ignored, values exact once unescaped. 0 if not, or if either
 * is not a DN.
 */
int		 dn_equal(const char *, const char *);
int		 dn_valid(const char *);
/* An attribute name: keystring or numericoid (RFC 4512), one that fits. */
int		 dn_attr_ok(const char *);

/* The same attribute by any of its names: "e" and emailAddress. */
int		 dn_attr_same(const char *, const char *);

#endif /* MMP_DN_H */
