/*
 * certmap.conf (CertMapFile): which LDAP entry a verified client
 * certificate belongs to. The parent parses the file; mmp-ldapd holds the
 * mappings it receives and builds a search base and filter from a
 * certificate's subject, given as parsed (attribute, value) fields, never
 * as a string to split.
 *
 *	certmap default default		first mapping, for every issuer
 *	certmap NAME ISSUERDN		for certificates of that issuer
 *	NAME:DNComps [list]		search base (see certmap_base)
 *	NAME:FilterComps [list]		search filter (see certmap_filter)
 *
 * A list is comma-separated components, each ATTR or FROMATTR=TOATTR
 * (the subject's FROMATTR value searched as TOATTR=value).
 */
#ifndef MMP_CERTMAP_H
#define MMP_CERTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "tlsmsg.h"

#define CERTMAP_MAPS_MAX	64	/* mappings in one file */
#define CERTMAP_COMPS_MAX	16	/* components in one list */
#define CERTMAP_NAME_BYTES	64	/* a mapping's name, NUL included */
#define CERTMAP_ATTR_BYTES	TLS_FIELD_ATTR_BYTES
#define CERTMAP_LINE_BYTES	MMP_STR_BYTES	/* one line, NUL included */
#define CERTMAP_FILE_MAX_BYTES	(256 * 1024)
#define CERTMAP_DEFAULT		"default"

/* What a DNComps or FilterComps line said. */
enum certmap_state {
	CERTMAP_ABSENT,		/* no line */
	CERTMAP_EMPTY,		/* a line without components */
	CERTMAP_LIST,		/* a line with 1..CERTMAP_COMPS_MAX */
	CERTMAP_STATE_MAX
};

struct certmap_comp {
	char	from[CERTMAP_ATTR_BYTES];	/* subject attribute */
	char	to[CERTMAP_ATTR_BYTES];		/* LDAP attribute */
};

struct certmap_comps {
	uint8_t			state;	/* enum certmap_state */
	uint8_t			n;	/* 0 unless CERTMAP_LIST */
	struct certmap_comp	c[CERTMAP_COMPS_MAX];
};

struct certmap_map {
	char			name[CERTMAP_NAME_BYTES];
	char			issuer[MMP_STR_BYTES];	/* "default" or a DN */
	struct certmap_comps	dn;
	struct certmap_comps	filter;
};

/* The mappings of one CertMapFile; map[0] is "default". */
struct certmap_set {
	struct certmap_map	*map;
	size_t			 n;
};

/*
 * Parent: the file's bytes (at most CERTMAP_FILE_MAX_BYTES). NULL with
 * "file:line: reason" in err. VerifyCert and CmapLdapAttr are accepted
 * with a warning (log_warnx, file:line): mmpd does not do them.
 */
struct certmap_set *certmap_parse(const char *buf, size_t len,
		    const char *file, char *err, size_t errlen);

/* An empty set, for a receiver that adds mappings one by one. */
struct certmap_set *certmap_new(void);
/*
 * Append a copy of m. -1 with the reason in err when the set would not be
 * one a file could give: the first not "certmap default default", a
 * name or issuer used twice, an issuer that is not a DN, a component list
 * that does not match its state, an attribute name out of syntax, more
 * than CERTMAP_MAPS_MAX.
 */
int		 certmap_add(struct certmap_set *, const struct certmap_map *,
		    char *err, size_t errlen);
void		 certmap_free(struct certmap_set *);
/* A component list as a file could give it: state, count and names agree. */
int		 certmap_comps_ok(const struct certmap_comps *);

/* The mapping of a certificate issued by issuer (RFC 4514 text). */
const struct certmap_map *certmap_choose(const struct certmap_set *,
		    const char *issuer);

/* lib/certmapsearch.c */

/*
 * The search base for a subject (fields in certificate order). Returns 1
 * with the base in out; 0 when the directory's own base is meant (DNComps
 * empty); -1 with *why when none can be built. DNComps absent: the
 * subject's DN, its fields in reverse (RFC 4514) order; a list: the
 * subject's fields that a component names, in the same order, each as
 * TOATTR=value. Values are escaped by escape_dn_value.
 */
int		 certmap_base(const struct certmap_map *,
		    const struct tls_field *, size_t, char *out, size_t outsz,
		    const char **why);
/*
 * The search filter: (objectClass=*) for FilterComps absent or empty;
 * for a list, (TOATTR=value) for every subject field each component
 * names (several fields of one attribute: each of them), ANDed when more
 * than one. A component the subject lacks adds nothing; none at all is
 * -1. Values are escaped by escape_filter_value. Length or -1 with *why.
 */
int		 certmap_filter(const struct certmap_map *,
		    const struct tls_field *, size_t, char *out, size_t outsz,
		    const char **why);

#endif /* MMP_CERTMAP_H */
