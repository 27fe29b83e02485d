/*
 * Each child's whole sandbox, one call per kind of child: ChrootDir and
 * the child's user from the configuration (sandbox_drop), then its
 * promises (sandbox_pledge). The child calls it after its setup, and
 * regress/sandbox/children_test.c calls the very same function to prove
 * what the child can and cannot do afterwards.
 */
#ifndef MMP_SANDBOXES_H
#define MMP_SANDBOXES_H

struct mmp_conf;

void	sandbox_relay(const struct mmp_conf *);	/* RelayUser */
void	sandbox_ldapd(const struct mmp_conf *);	/* LdapUser */
void	sandbox_tlsd(const struct mmp_conf *);	/* TlsUser */
void	sandbox_stats(const struct mmp_conf *);	/* StatsUser */

#endif /* MMP_SANDBOXES_H */
