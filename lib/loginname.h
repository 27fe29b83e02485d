/*
 * A login name taken apart the way the product does: the user id, the
 * domain and where the domain came from (typed after a VirtualDomainDelim
 * character, the session's virtual domain, DefaultDomain), and the names
 * built from them: the canonical "uid@domain" (%s), the replay name
 * without a ReplayFormat, and ReplayFormat itself. mmp-ldapd uses it for
 * the search filter and the replay; it is pure string work, no LDAP.
 */
#ifndef MMP_LOGINNAME_H
#define MMP_LOGINNAME_H

#include <stddef.h>

#include "msg.h"

#define LOGIN_NAME_BYTES	(MMP_USER_BYTES + 1)

/* Where the domain of a login name came from. */
enum login_domain_from {
	LDOM_NONE,		/* no domain */
	LDOM_TYPED,		/* typed, after a delimiter character */
	LDOM_VIRTUAL,		/* the session's virtual domain (vdmap) */
	LDOM_DEFAULT,		/* DefaultDomain */
};

/* What decides the split; NULL or "" for any string: none. */
struct login_rules {
	const char	*delims;	/* VirtualDomainDelim / DomainDelim */
	const char	*vdomain;	/* the session's virtual domain */
	const char	*defdomain;	/* DefaultDomain */
	const char	*canondelim;	/* CanonicalVirtualDomainDelim */
};

struct login_name {
	char			orig[LOGIN_NAME_BYTES];	/* as typed */
	char			uid[LOGIN_NAME_BYTES];
	char			domain[LOGIN_NAME_BYTES];	/* "" none */
	enum login_domain_from	from;
	char			canon[LOGIN_NAME_BYTES * 2];	/* %s */
};

/*
 * Split name (a C string, no CR/LF/NUL checked by the caller) at the last
 * of the delimiter characters; a name without one takes the virtual
 * domain, else DefaultDomain. 0, or -1 with err: an empty user id or an
 * empty domain after a delimiter, a name or domain too long.
 */
int	login_name_split(const char *name, const struct login_rules *,
	    struct login_name *, char *err, size_t errlen);

/*
 * The name replayed to the store when no ReplayFormat applies: as typed,
 * with the canonical delimiter and the domain appended when the domain is
 * the virtual domain's (the guide: appended "for the LDAP search and for
 * subsequent replay"); a DefaultDomain is not replayed. 0 or -1 (too long).
 */
int	login_name_replay(const struct login_name *, const char *canondelim,
	    char *out, size_t outsz);

/*
 * A value of the user's entry for %A[attr]: the first value of attr as a
 * C string, or NULL (no such attribute, or a value that may not go to a
 * store).
 */
typedef const char *(*login_attr_fn)(void *arg, const char *attr);

/*
 * Expand ReplayFormat (or a domain's mailAccessProxyReplay): %s canonical
 * name, %U user id, %V domain, %o as typed, %A[attr] the entry's value,
 * %% '%'. No escaping: the result goes to a store as a name, so it must
 * be 1..MMP_USER_BYTES bytes without CR, LF or NUL (checked here). Length,
 * or -1 with err (unknown code, missing attribute, too long, bad byte).
 */
int	login_replay_expand(const char *fmt, const struct login_name *,
	    login_attr_fn, void *arg, char *out, size_t outsz, char *err,
	    size_t errlen);

/* Is fmt a ReplayFormat login_replay_expand knows? 0, or -1 with err. */
int	login_replay_check(const char *fmt, char *err, size_t errlen);

#endif /* MMP_LOGINNAME_H */
