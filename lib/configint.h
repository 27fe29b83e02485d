/*
 * What lib/config.c shares with lib/confvd.c (the virtual domains) and
 * nobody else: the error text, a value quoted for a message, and the
 * one place a value is validated and stored.
 */
#ifndef MMP_CONFIGINT_H
#define MMP_CONFIGINT_H

#include <stddef.h>

#include "config.h"

#define CONF_SHOW_BYTES		64	/* a value quoted in a message */

void		 conf_errf(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((__format__(printf, 3, 4)));
/* s quoted for a message: printable, bounded, into buf. */
const char	*conf_show_raw(const char *s, char *buf, size_t len);
/* Validate value for ki and store it in cv with where it came from. */
int		 conf_store(const struct conf_keyinfo *ki, struct conf_value *cv,
		    const char *value, const char *file, int line, char *err,
		    size_t errlen);

#endif /* MMP_CONFIGINT_H */
