/*
 * Included first (-include) in the fuzz build of a process that connects
 * out (mmp-ldapd: LDAP servers, PreAuth binds): connect(2) is
 * rx_connect (rxpeer.c), which lets only loopback addresses through. A
 * fuzzed LdapUrl then reaches no real server off this host.
 */
#ifndef MMP_FUZZ_RXCONNECT_H
#define MMP_FUZZ_RXCONNECT_H

#include <sys/types.h>
#include <sys/socket.h>

int	rx_connect(int, __CONST_SOCKADDR_ARG, socklen_t);
#define connect	rx_connect

#endif /* MMP_FUZZ_RXCONNECT_H */
