/*
 * Unit tests for lib/config.c: the product's sample files, a table of
 * nasty configuration files, conf_set round trips, the dump, the manual.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"

#define REFDIR		"/work/shared/reference"
#define MANPAGE		"doc/mmpd.conf.5"
#define ERR_BYTES	512
#define WARN_BYTES	16384

#define TMPL_X		6		/* mkdtemp(3) wants six Xs */

static char	tmpdir[64];
static char	warnings[WARN_BYTES];	/* every warning since warn_reset */

static const char *const cfgfiles[] = {
	"AService.cfg", "ImapProxyAService.cfg", "PopProxyAService.cfg"
};

#define A_OK	"default:ServiceList \"ImapProxyAService@143|993 " \
		"PopProxyAService@110\"\n"
#define L_OK	"default:LdapUrl ldap://localhost/o=test\n"
#define CERT_OK	"default:SSLCertFile /etc/mmpd/cert.pem\n" \
		"default:SSLKeyFile /etc/mmpd/key.pem\n"

/* One configuration directory and what loading it must give. */
struct lcase {
	const char	*name;
	const char	*a, *i, *p;	/* file contents; NULL: no file */
	const char	*err;		/* NULL: loads; "...": prefix */
	const char	*warn;		/* a warning that must be logged */
	int		 sect;		/* with key/want: a value to check */
	int		 key;
	const char	*want;
};

static const struct lcase lcases[] = {
	{ "minimal", A_OK, L_OK, L_OK, NULL, NULL, SVC_IMAP, CK_TIMEOUT,
	    "1800" },
	{ "pop default", A_OK, L_OK, L_OK, NULL, NULL, SVC_POP, CK_TIMEOUT,
	    "600" },
	{ "quoted blanks", A_OK, L_OK "default:BindDN \"cn=Directory "
	    "Manager\"\n", L_OK, NULL, NULL, SVC_IMAP, CK_BINDDN,
	    "cn=Directory Manager" },
	{ "quoted keeps inner blanks", A_OK, L_OK "default:ServerDownAlert "
	    "\"  two  \"   \n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_SERVERDOWNALERT, "  two  " },
	{ "empty quotes", A_OK, L_OK "default:SSLKeyPasswdFile \"\"\n", L_OK,
	    NULL, NULL, SVC_IMAP, CK_SSLKEYPASSWDFILE, "" },
	{ "escapes", A_OK, L_OK "default:ServerDownAlert \"say \\\"hi\\\" "
	    "\\\\ c:\\dir\"\n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_SERVERDOWNALERT, "say \"hi\" \\ c:\\dir" },
	{ "unquoted rest of line", A_OK, L_OK "default:SSLCertNicknames "
	    "Siroe.com Server-Cert  \t\n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_SSLCERTNICKNAMES, "Siroe.com Server-Cert" },
	{ "inner quote unquoted", A_OK, L_OK "default:Banner a \"b\" c\n",
	    L_OK, NULL, NULL, SVC_IMAP, CK_BANNER, "a \"b\" c" },
	{ "case-insensitive keys", A_OK, "DEFAULT:ldapURL ldap://h/o=x\n"
	    "default:TIMEOUT 99\n", L_OK, NULL, NULL, SVC_IMAP, CK_TIMEOUT,
	    "99" },
	{ "CRLF", A_OK, "default:LdapUrl ldap://h/o=x\r\n"
	    "default:Timeout 77\r\n", L_OK, NULL, NULL, SVC_IMAP, CK_TIMEOUT,
	    "77" },
	{ "CRLF quoted", "default:ServiceList \"imapproxy@143\"\r\n",
	    L_OK "default:BindDN \"cn=x\"\r\n", NULL, NULL, NULL, SVC_IMAP,
	    CK_BINDDN, "cn=x" },
	{ "comments blanks tabs nbsp", A_OK, "# comment\n\n  \t# indented\n"
	    "\t\n" L_OK "\tdefault:Timeout\t\t 42 \t\n"
	    "default:LogLevel\xc2\xa0\xc2\xa0" "6\xc2\xa0\n", L_OK, NULL,
	    NULL, SVC_IMAP, CK_LOGLEVEL, "6" },
	{ "no newline at end", A_OK, L_OK "default:Timeout 5", L_OK, NULL,
	    NULL, SVC_IMAP, CK_TIMEOUT, "5" },
	{ "byte order mark", "\xef\xbb\xbf" A_OK, L_OK, L_OK, NULL, NULL,
	    CONF_GLOBAL, CK_SERVICELIST,
	    "ImapProxyAService@143|993 PopProxyAService@110" },
	{ "unknown key warns", A_OK, L_OK "default:NoSuchKey 1\n", L_OK,
	    NULL, "ImapProxyAService.cfg:2: unknown key \"NoSuchKey\" ignored",
	    SVC_IMAP, CK_TIMEOUT, "1800" },
	{ "other section warns", A_OK, L_OK "siroe:Timeout 5\n", L_OK, NULL,
	    "ImapProxyAService.cfg:2: section \"siroe\" ignored, only "
	    "default: is read", SVC_IMAP, CK_TIMEOUT, "1800" },
	{ "key in wrong file", A_OK "default:Timeout 5\n", L_OK, L_OK, NULL,
	    "AService.cfg:2: Timeout belongs in ImapProxyAService.cfg and "
	    "PopProxyAService.cfg, ignored", SVC_IMAP, CK_TIMEOUT, "1800" },
	{ "IMAP key in POP file", A_OK, L_OK, L_OK "default:Capability x\n",
	    NULL, "PopProxyAService.cfg:2: Capability belongs in "
	    "ImapProxyAService.cfg, ignored", SVC_IMAP, CK_CAPABILITY,
	    "IMAP4rev1 LITERAL+" },
	{ "set twice, later wins", A_OK, L_OK "default:Timeout 5\n"
	    "default:timeout 6\n", L_OK, NULL, "ImapProxyAService.cfg:3: "
	    "Timeout already set at line 2, line 3 wins", SVC_IMAP,
	    CK_TIMEOUT, "6" },
	{ "int normalised", A_OK, L_OK "default:Timeout 007\n", L_OK, NULL,
	    NULL, SVC_IMAP, CK_TIMEOUT, "7" },
	{ "bool normalised", A_OK, L_OK "default:PreAuth ON\n", L_OK, NULL,
	    NULL, SVC_IMAP, CK_PREAUTH, "yes" },
	{ "bool 0", A_OK, L_OK "default:HostedDomains 0\n", L_OK, NULL,
	    NULL, SVC_IMAP, CK_HOSTEDDOMAINS, "no" },
	{ "portlist normalised", A_OK, L_OK "default:SSLPorts \"993|995, "
	    "1993\"\n", L_OK, NULL, NULL, SVC_IMAP, CK_SSLPORTS,
	    "993 995 1993" },
	{ "attrs", A_OK, L_OK "default:MailHostAttrs \"mailHost  "
	    "mailRoutingHost;binary\"\n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_MAILHOSTATTRS, "mailHost mailRoutingHost;binary" },
	{ "ldap urls", A_OK, "default:LdapUrl \"ldap://a/o=x "
	    "ldaps://b:636/ ldap://[::1]:389/o=y "
	    "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi\"\n", L_OK, NULL, NULL,
	    SVC_IMAP, CK_LDAPURL, "ldap://a/o=x ldaps://b:636/ "
	    "ldap://[::1]:389/o=y ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi" },
	{ "filter", A_OK, L_OK "default:SearchFormat "
	    "(&(uid=%U)(|(mail=%s)(x=%%%C%S%D%V%o)))\n", L_OK, NULL, NULL,
	    SVC_IMAP, CK_SEARCHFORMAT,
	    "(&(uid=%U)(|(mail=%s)(x=%%%C%S%D%V%o)))" },
	{ "relative path in unused file", "default:ServiceList "
	    "imapproxy@143\n", L_OK, "default:LogDir log\n", NULL, NULL,
	    SVC_IMAP, CK_LDAPURL, "ldap://localhost/o=test" },

	{ "banner", A_OK, L_OK, L_OK "default:Banner \"Siroe POP, "
	    "ready\"\n", NULL, NULL, SVC_POP, CK_BANNER, "Siroe POP, ready" },
	{ "banner with <", A_OK, L_OK "default:Banner a <b@c> d\n", L_OK,
	    "ImapProxyAService.cfg:2: Banner: only printable ASCII without < "
	    "and > (byte 0x3c at 2)", NULL, 0, 0, NULL },
	{ "banner with tab", A_OK, L_OK, L_OK "default:Banner \"a\tb\"\n",
	    "PopProxyAService.cfg:2: Banner: only printable ASCII without < "
	    "and > (byte 0x09 at 1)", NULL, 0, 0, NULL },
	{ "banner 8-bit", A_OK, L_OK, L_OK "default:Banner caf\xc3\xa9\n",
	    "PopProxyAService.cfg:2: Banner: only printable ASCII without < "
	    "and > (byte 0xc3 at 3)", NULL, 0, 0, NULL },
	{ "banner empty", A_OK, L_OK "default:Banner \"\"\n", L_OK,
	    "ImapProxyAService.cfg:2: Banner: empty", NULL, 0, 0, NULL },
	{ "banner too long", A_OK, L_OK "default:Banner "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    L_OK, "ImapProxyAService.cfg:2: Banner: longer than 200 bytes",
	    NULL, 0, 0, NULL },
	{ "banner of 200", A_OK, L_OK "default:Banner "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    L_OK, NULL, NULL, 0, 0, NULL },
	{ "bad int", A_OK, L_OK "default:Timeout abc\n", L_OK,
	    "ImapProxyAService.cfg:2: Timeout: \"abc\" is not a number",
	    NULL, 0, 0, NULL },
	{ "int with sign", A_OK, L_OK "default:Timeout +5\n", L_OK,
	    "ImapProxyAService.cfg:2: Timeout: \"+5\" is not a number",
	    NULL, 0, 0, NULL },
	{ "int with comment", A_OK, L_OK L_OK "default:Timeout 5 # s\n",
	    L_OK, "ImapProxyAService.cfg:3: Timeout: \"5 # s\" is not a "
	    "number", NULL, 0, 0, NULL },
	{ "int too small", A_OK, L_OK, "default:Timeout 0\n",
	    "PopProxyAService.cfg:1: Timeout: \"0\" is out of range "
	    "(1..604800)", NULL, 0, 0, NULL },
	{ "int overflow", A_OK, L_OK "default:Timeout "
	    "99999999999999999999\n", L_OK, "ImapProxyAService.cfg:2: "
	    "Timeout: \"99999999999999999999\" is out of range (1..604800)",
	    NULL, 0, 0, NULL },
	{ "negative int", "default:Workers -1\n" A_OK, NULL, NULL,
	    "AService.cfg:1: Workers: \"-1\" is out of range (0..64)",
	    NULL, 0, 0, NULL },
	{ "bad bool", A_OK, L_OK "default:SSLEnable maybe\n", L_OK,
	    "ImapProxyAService.cfg:2: SSLEnable: \"maybe\" is not yes or no",
	    NULL, 0, 0, NULL },
	{ "empty bool", A_OK, L_OK "default:SSLEnable\n", L_OK,
	    "ImapProxyAService.cfg:2: SSLEnable: \"\" is not yes or no",
	    NULL, 0, 0, NULL },
	{ "port 0", A_OK, L_OK "default:BacksidePort 0\n", L_OK,
	    "ImapProxyAService.cfg:2: BacksidePort: \"0\" is not a port "
	    "(1..65535)", NULL, 0, 0, NULL },
	{ "port 70000", A_OK, L_OK, L_OK "default:BacksidePort 70000\n",
	    "PopProxyAService.cfg:2: BacksidePort: \"70000\" is not a port "
	    "(1..65535)", NULL, 0, 0, NULL },
	{ "port with blank", A_OK, L_OK "default:BacksidePort \"14 3\"\n",
	    L_OK, "ImapProxyAService.cfg:2: BacksidePort: \"14 3\" is not a "
	    "port (1..65535)", NULL, 0, 0, NULL },
	{ "relative path", A_OK "default:LogDir log\n", L_OK, L_OK,
	    "AService.cfg:2: LogDir: \"log\" is not an absolute path",
	    NULL, 0, 0, NULL },
	{ "bad portlist", A_OK, L_OK "default:SSLPorts \"993 x\"\n", L_OK,
	    "ImapProxyAService.cfg:2: SSLPorts: \"x\" is not a port "
	    "(1..65535)", NULL, 0, 0, NULL },
	{ "attr with comma", A_OK, L_OK "default:MailHostAttrs "
	    "\"mailHost, x\"\n", L_OK, "ImapProxyAService.cfg:2: "
	    "MailHostAttrs: \"mailHost,\" is not an attribute name",
	    NULL, 0, 0, NULL },
	{ "no attr", A_OK, L_OK "default:MailHostAttrs \"\"\n", L_OK,
	    "ImapProxyAService.cfg:2: MailHostAttrs: no attribute named",
	    NULL, 0, 0, NULL },
	{ "filter without parens", A_OK, L_OK "default:SearchFormat "
	    "uid=%s\n", L_OK, "ImapProxyAService.cfg:2: SearchFormat: "
	    "\"uid=%s\" does not start with \"(\"", NULL, 0, 0, NULL },
	{ "filter %A", A_OK, L_OK "default:SearchFormat (uid=%A[uid])\n",
	    L_OK, "ImapProxyAService.cfg:2: SearchFormat: unknown % code in "
	    "\"(uid=%A[uid])\" (known: %s %U %V %o %C %S %D %%)",
	    NULL, 0, 0, NULL },
	{ "filter % at end", A_OK, L_OK "default:SearchFormat (uid=%\n",
	    L_OK, "ImapProxyAService.cfg:2: SearchFormat: unknown % code in "
	    "\"(uid=%\" (known: %s %U %V %o %C %S %D %%)", NULL, 0, 0, NULL },
	{ "filter unbalanced", A_OK, L_OK "default:SearchFormat "
	    "(&(uid=%s)\n", L_OK, "ImapProxyAService.cfg:2: SearchFormat: "
	    "\"(&(uid=%s)\" is not one balanced (...) filter",
	    NULL, 0, 0, NULL },
	{ "filter two", A_OK, L_OK "default:SearchFormat (uid=%s)(x=y)\n",
	    L_OK, "ImapProxyAService.cfg:2: SearchFormat: \"(uid=%s)(x=y)\" "
	    "is not one balanced (...) filter", NULL, 0, 0, NULL },
	{ "filter close first", A_OK, L_OK "default:SearchFormat (a))(\n",
	    L_OK, "ImapProxyAService.cfg:2: SearchFormat: \"(a))(\" is not "
	    "one balanced (...) filter", NULL, 0, 0, NULL },
	{ "ldap url scheme", A_OK, "default:LdapUrl http://h/o=x\n", L_OK,
	    "ImapProxyAService.cfg:1: LdapUrl: \"http://h/o=x\" is not an "
	    "ldap://, ldaps:// or ldapi:// URL", NULL, 0, 0, NULL },
	{ "cldap url", A_OK, "default:LdapUrl cldap://h/o=x\n", L_OK,
	    "ImapProxyAService.cfg:1: LdapUrl: \"cldap://h/o=x\" is not an "
	    "ldap://, ldaps:// or ldapi:// URL", NULL, 0, 0, NULL },
	{ "ldap url without host", A_OK, "default:LdapUrl ldap:///o=x\n",
	    L_OK, "ImapProxyAService.cfg:1: LdapUrl: \"ldap:///o=x\" names "
	    "no host", NULL, 0, 0, NULL },
	{ "ldap url bad", A_OK, "default:LdapUrl ldap://h:99999x/o=x\n",
	    L_OK, "ImapProxyAService.cfg:1: LdapUrl: \"ldap://h:99999x/o=x\" "
	    "is not a valid LDAP URL", NULL, 0, 0, NULL },
	{ "ldap url empty", A_OK, "default:LdapUrl \"\"\n", L_OK,
	    "ImapProxyAService.cfg:1: LdapUrl: no LDAP URL given",
	    NULL, 0, 0, NULL },
	{ "CR inside a string", A_OK, L_OK "default:BindDN a\rb\n", L_OK,
	    "ImapProxyAService.cfg:2: BindDN: value contains CR or LF",
	    NULL, 0, 0, NULL },
	{ "secret with CR", A_OK, L_OK "default:BindPass s3cr\rX\n", L_OK,
	    "ImapProxyAService.cfg:2: BindPass: value contains CR or LF",
	    NULL, 0, 0, NULL },
	{ "no colon", A_OK, L_OK "Timeout 5\n", L_OK,
	    "ImapProxyAService.cfg:2: not a \"default:Key value\" line",
	    NULL, 0, 0, NULL },
	{ "colon in value only", A_OK, L_OK "LdapUrl ldap://h:389/\n", L_OK,
	    "ImapProxyAService.cfg:2: not a \"default:Key value\" line",
	    NULL, 0, 0, NULL },
	{ "no key", A_OK, L_OK "default: 5\n", L_OK,
	    "ImapProxyAService.cfg:2: no key after \":\"", NULL, 0, 0, NULL },
	{ "no key at end", A_OK, L_OK "default:\n", L_OK,
	    "ImapProxyAService.cfg:2: no key after \":\"", NULL, 0, 0, NULL },
	{ "unterminated quote", A_OK, L_OK "default:BindDN \"cn=x\n", L_OK,
	    "ImapProxyAService.cfg:2: BindDN: no closing double quote",
	    NULL, 0, 0, NULL },
	{ "escaped last quote", A_OK, L_OK "default:BindDN \"cn=x\\\"\n",
	    L_OK, "ImapProxyAService.cfg:2: BindDN: no closing double quote",
	    NULL, 0, 0, NULL },
	{ "text after quote", A_OK, L_OK "default:BindDN \"a\" b\n", L_OK,
	    "ImapProxyAService.cfg:2: BindDN: text after the closing double "
	    "quote", NULL, 0, 0, NULL },

	{ "missing AService.cfg", NULL, L_OK, L_OK,
	    "AService.cfg: cannot open ...", NULL, 0, 0, NULL },
	{ "no ServiceList", "default:LogLevel 5\n", L_OK, L_OK,
	    "AService.cfg: ServiceList is required", NULL, 0, 0, NULL },
	{ "empty ServiceList", "default:ServiceList \"\"\n", L_OK, L_OK,
	    "AService.cfg:1: ServiceList: no service listed",
	    NULL, 0, 0, NULL },
	{ "module path and .so", "default:ServiceList "
	    "\"/opt/SUNWmsgsr/lib/ImapProxyAService.so@143 "
	    "/usr/lib/POPPROXYASERVICE@110\"\n", L_OK, L_OK, NULL, NULL,
	    CONF_GLOBAL, CK_SERVICELIST,
	    "/opt/SUNWmsgsr/lib/ImapProxyAService.so@143 "
	    "/usr/lib/POPPROXYASERVICE@110" },
	{ "short names", "default:ServiceList IMAPproxy@1143|1993\n", L_OK,
	    NULL, NULL, NULL, 0, 0, NULL },
	{ "addresses", "default:ServiceList \"imapproxy@127.0.0.1:1143|"
	    "[::1]:1143|*:2143 popproxy@127.0.0.2:110\"\n", L_OK, L_OK, NULL,
	    NULL, 0, 0, NULL },
	{ "unknown module", "default:ServiceList \"imapproxy@143 "
	    "FooProxy@25\"\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: unknown service \"FooProxy\"",
	    NULL, 0, 0, NULL },
	{ "only .so", "default:ServiceList .so@25\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: unknown service \".so\"",
	    NULL, 0, 0, NULL },
	{ "SMTP refused", "default:ServiceList \"imapproxy@143 "
	    "/opt/lib/SmtpProxyAService@25|587\"\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: SMTP proxy is not supported",
	    NULL, 0, 0, NULL },
	{ "submitproxy refused", "default:ServiceList submitproxy@587\n",
	    NULL, NULL,
	    "AService.cfg:1: ServiceList: SMTP proxy is not supported",
	    NULL, 0, 0, NULL },
	{ "service port 0", "default:ServiceList imapproxy@0\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: \"0\": port is not 1..65535",
	    NULL, 0, 0, NULL },
	{ "service port 70000", "\ndefault:ServiceList imapproxy@143|70000\n",
	    L_OK, NULL,
	    "AService.cfg:2: ServiceList: \"70000\": port is not 1..65535",
	    NULL, 0, 0, NULL },
	{ "service port not a number", "default:ServiceList imapproxy@imap\n",
	    L_OK, NULL,
	    "AService.cfg:1: ServiceList: \"imap\": port is not 1..65535",
	    NULL, 0, 0, NULL },
	{ "duplicate port", "default:ServiceList \"imapproxy@143 "
	    "popproxy@110|143\"\n", L_OK, L_OK,
	    "AService.cfg:1: ServiceList: *:143 is listed twice",
	    NULL, 0, 0, NULL },
	{ "duplicate address", "default:ServiceList "
	    "imapproxy@[::1]:143|[0:0::1]:143\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: [::1]:143 is listed twice",
	    NULL, 0, 0, NULL },
	{ "address under wildcard", "default:ServiceList "
	    "imapproxy@143|127.0.0.1:143\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: 127.0.0.1:143 overlaps *:143",
	    NULL, 0, 0, NULL },
	{ "bad IPv4", "default:ServiceList imapproxy@300.1.1.1:143\n",
	    L_OK, NULL, "AService.cfg:1: ServiceList: \"300.1.1.1:143\": not "
	    "an IPv4 address", NULL, 0, 0, NULL },
	{ "bad IPv6", "default:ServiceList imapproxy@[::g]:143\n",
	    L_OK, NULL, "AService.cfg:1: ServiceList: \"[::g]:143\": not "
	    "an IPv6 address", NULL, 0, 0, NULL },
	{ "IPv6 without brackets", "default:ServiceList imapproxy@::1:143\n",
	    L_OK, NULL, "AService.cfg:1: ServiceList: \"::1:143\" is not "
	    "PORT, IPv4:PORT or [IPv6]:PORT", NULL, 0, 0, NULL },
	{ "empty brackets", "default:ServiceList imapproxy@[]:143\n",
	    L_OK, NULL, "AService.cfg:1: ServiceList: \"[]:143\" is not "
	    "PORT, IPv4:PORT or [IPv6]:PORT", NULL, 0, 0, NULL },
	{ "no port after @", "default:ServiceList imapproxy@\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: \"imapproxy@\" is not "
	    "MODULE@PORT[|PORT...]", NULL, 0, 0, NULL },
	{ "no @", "default:ServiceList imapproxy\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: \"imapproxy\" is not "
	    "MODULE@PORT[|PORT...]", NULL, 0, 0, NULL },
	{ "empty port between bars", "default:ServiceList "
	    "imapproxy@143||993\n", L_OK, NULL,
	    "AService.cfg:1: ServiceList: \"\": port is not 1..65535",
	    NULL, 0, 0, NULL },
	{ "missing service file", A_OK, L_OK, NULL,
	    "PopProxyAService.cfg: cannot open ...", NULL, 0, 0, NULL },
	{ "missing LdapUrl", A_OK, L_OK, "default:Timeout 5\n",
	    "PopProxyAService.cfg: LdapUrl is required", NULL, 0, 0, NULL },

	/* TLS: the files, their pairing, the versions, the store side. */
	{ "cert list normalised", A_OK, L_OK "default:SSLEnable yes\n"
	    "default:SSLCertFile \"  /c/a.pem\t/c/b.pem \"\n"
	    "default:SSLKeyFile \"/k/a.pem /k/b.pem\"\n", L_OK, NULL, NULL,
	    SVC_IMAP, CK_SSLCERTFILE, "/c/a.pem /c/b.pem" },
	{ "cert list relative", A_OK, L_OK "default:SSLCertFile "
	    "\"/c/a.pem c/b.pem\"\n", L_OK, "ImapProxyAService.cfg:2: "
	    "SSLCertFile: \"c/b.pem\" is not an absolute path",
	    NULL, 0, 0, NULL },
	{ "cert list 16", A_OK, L_OK "default:SSLCertFile \"/1 /2 /3 /4 /5 "
	    "/6 /7 /8 /9 /10 /11 /12 /13 /14 /15 /16\"\n", L_OK, NULL, NULL,
	    SVC_IMAP, CK_SSLCERTFILE, "/1 /2 /3 /4 /5 /6 /7 /8 /9 /10 /11 /12 "
	    "/13 /14 /15 /16" },
	{ "cert list 17", A_OK, L_OK "default:SSLCertFile \"/1 /2 /3 /4 /5 "
	    "/6 /7 /8 /9 /10 /11 /12 /13 /14 /15 /16 /17\"\n", L_OK,
	    "ImapProxyAService.cfg:2: SSLCertFile: more than 16 files",
	    NULL, 0, 0, NULL },
	{ "key list empty", A_OK, L_OK "default:SSLKeyFile \"\"\n", L_OK,
	    NULL, NULL, SVC_IMAP, CK_SSLKEYFILE, "" },
	{ "SSLEnable without certificate", A_OK, L_OK "default:SSLEnable "
	    "yes\n", L_OK, "ImapProxyAService.cfg:2: SSLEnable yes needs "
	    "SSLCertFile and SSLKeyFile (PEM files)", NULL, 0, 0, NULL },
	{ "SSLEnable with empty certificate", A_OK, L_OK,
	    L_OK "default:SSLCertFile \"\"\ndefault:SSLEnable on\n",
	    "PopProxyAService.cfg:3: SSLEnable yes needs SSLCertFile and "
	    "SSLKeyFile (PEM files)", NULL, 0, 0, NULL },
	{ "SSLEnable no without certificate", A_OK, L_OK "default:SSLEnable "
	    "no\n", L_OK, NULL, NULL, 0, 0, NULL },
	{ "CRAMs without StoreAdmin", A_OK, L_OK "default:CRAMs yes\n", L_OK,
	    "ImapProxyAService.cfg:2: CRAMs yes needs StoreAdmin and "
	    "StoreAdminPass: APOP and CRAM-MD5 logins are replayed to the "
	    "store as its administrator", NULL, 0, 0, NULL },
	{ "CRAMs without StoreAdminPass", A_OK, L_OK, L_OK
	    "default:StoreAdmin mmpadmin\ndefault:CRAMs on\n",
	    "PopProxyAService.cfg:3: CRAMs yes needs StoreAdmin and "
	    "StoreAdminPass: APOP and CRAM-MD5 logins are replayed to the "
	    "store as its administrator", NULL, 0, 0, NULL },
	{ "CRAMs with an empty StoreAdminPass", A_OK, L_OK
	    "default:StoreAdmin mmpadmin\ndefault:StoreAdminPass \"\"\n"
	    "default:CRAMs yes\n", L_OK, "ImapProxyAService.cfg:4: CRAMs yes "
	    "needs StoreAdmin and StoreAdminPass: APOP and CRAM-MD5 logins are "
	    "replayed to the store as its administrator", NULL, 0, 0, NULL },
	{ "CRAMs with StoreAdmin", A_OK, L_OK "default:StoreAdmin mmpadmin\n"
	    "default:StoreAdminPass pw\ndefault:CRAMs yes\n", L_OK, NULL,
	    NULL, SVC_IMAP, CK_CRAMS, "yes" },
	{ "CRAMs no without StoreAdmin", A_OK, L_OK "default:CRAMs no\n",
	    L_OK, NULL, NULL, SVC_IMAP, CK_CRAMS, "no" },
	{ "more keys than certificates", A_OK, L_OK "default:SSLEnable yes\n"
	    "default:SSLCertFile /c/a.pem\n"
	    "default:SSLKeyFile \"/k/a.pem /k/b.pem\"\n", L_OK,
	    "ImapProxyAService.cfg:4: SSLKeyFile: 2 files for 1 in "
	    "SSLCertFile; each certificate needs its key, in the same order",
	    NULL, 0, 0, NULL },
	{ "no key", A_OK, L_OK "default:SSLEnable yes\n"
	    "default:SSLCertFile \"/c/a.pem /c/b.pem\"\n", L_OK,
	    "ImapProxyAService.cfg:3: SSLKeyFile: 0 files for 2 in "
	    "SSLCertFile; each certificate needs its key, in the same order",
	    NULL, 0, 0, NULL },
	{ "NSS certificate database", A_OK, L_OK "default:SSLEnable yes\n"
	    "default:SSLCertFile /opt/mmp/cert7.db\n"
	    "default:SSLKeyFile /opt/mmp/key.pem\n", L_OK,
	    "ImapProxyAService.cfg:3: SSLCertFile: \"/opt/mmp/cert7.db\" is "
	    "an NSS database; mmpd needs PEM files: export them with pk12util "
	    "...", NULL, 0, 0, NULL },
	{ "NSS key database", A_OK, L_OK, L_OK "default:SSLEnable yes\n"
	    "default:SSLCertFile /c/a.pem\n"
	    "default:SSLKeyFile \"/k/a.pem\"\ndefault:SSLKeyFile "
	    "/opt/mmp/key3.DB\n", "PopProxyAService.cfg:5: SSLKeyFile: "
	    "\"/opt/mmp/key3.DB\" is an NSS database; ...", NULL, 0, 0, NULL },
	{ "NSS name while SSLEnable no", A_OK, L_OK "default:SSLCertFile "
	    "/opt/mmp/cert7.db\n", L_OK, NULL, NULL, 0, 0, NULL },
	{ "NSS keys warned", A_OK, L_OK "default:SSLSecmodFile /x/secmod.db\n"
	    "default:SSLCertNicknames \"Server-Cert\"\n", L_OK, NULL,
	    "ImapProxyAService.cfg:3: mmpd uses PEM files; SSLCertNicknames "
	    "is ignored", SVC_IMAP, CK_SSLSECMODFILE, "/x/secmod.db" },
	{ "NSS prefix warned", A_OK, L_OK, L_OK "default:SSLKeyPrefix x-\n",
	    NULL, "PopProxyAService.cfg:2: mmpd uses PEM files; SSLKeyPrefix "
	    "is ignored", 0, 0, NULL },
	{ "protocols normalised", A_OK, L_OK "default:SSLProtocols "
	    "\"tlsv1.3, TLSv1.2 TLSv1.3\"\n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_SSLPROTOCOLS, "TLSv1.2 TLSv1.3" },
	{ "protocols 1.3 only", A_OK, L_OK, L_OK "default:SSLProtocols "
	    "TLSv1.3\n", NULL, NULL, SVC_POP, CK_SSLPROTOCOLS, "TLSv1.3" },
	{ "protocols old", A_OK, L_OK "default:SSLProtocols \"TLSv1.2 "
	    "TLSv1.1\"\n", L_OK, "ImapProxyAService.cfg:2: SSLProtocols: "
	    "\"TLSv1.1\" is not TLSv1.2 or TLSv1.3", NULL, 0, 0, NULL },
	{ "protocols SSLv3", A_OK, L_OK, L_OK "default:SSLProtocols SSLv3\n",
	    "PopProxyAService.cfg:2: SSLProtocols: \"SSLv3\" is not TLSv1.2 "
	    "or TLSv1.3", NULL, 0, 0, NULL },
	{ "protocols none", A_OK, L_OK "default:SSLProtocols \" , \"\n",
	    L_OK, "ImapProxyAService.cfg:2: SSLProtocols: no TLS version "
	    "given (TLSv1.2, TLSv1.3)", NULL, 0, 0, NULL },
	{ "store TLS both ways", A_OK, L_OK "default:SSLBacksidePort 993\n"
	    "default:StoreStartTLS yes\n", L_OK, "ImapProxyAService.cfg:3: "
	    "StoreStartTLS yes and SSLBacksidePort 993: choose one ...",
	    NULL, 0, 0, NULL },
	{ "store TLS both ways, other order", A_OK, L_OK,
	    L_OK "default:StoreStartTLS on\ndefault:SSLBacksidePort 995\n",
	    "PopProxyAService.cfg:2: StoreStartTLS yes and SSLBacksidePort "
	    "995: choose one ...", NULL, 0, 0, NULL },
	{ "store STARTTLS", A_OK, L_OK "default:StoreStartTLS yes\n"
	    "default:SSLBacksidePort 0\n", L_OK, NULL, NULL, SVC_IMAP,
	    CK_STORESTARTTLS, "yes" },
};

static void
warn_sink(int svc, int prio, uint64_t ms, const char *line)
{
	(void)svc;
	(void)prio;
	(void)ms;
	strlcat(warnings, line, sizeof(warnings));
	strlcat(warnings, "\n", sizeof(warnings));
}

static void
warn_reset(void)
{
	warnings[0] = '\0';
}

static int
write_file(const char *name, const char *data, size_t len)
{
	char	path[1024];
	int	fd;
	ssize_t	n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void
clear_dir(void)
{
	char	path[1024];
	size_t	i;

	for (i = 0; i < sizeof(cfgfiles) / sizeof(cfgfiles[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, cfgfiles[i]);
		(void)unlink(path);
	}
}

/* Writes the three files (NULL: absent); -1 on a write failure. */
static int
setup(const char *a, const char *i, const char *p)
{
	const char	*data[] = { a, i, p };
	size_t		 n;

	clear_dir();
	for (n = 0; n < 3; n++)
		if (data[n] != NULL &&
		    write_file(cfgfiles[n], data[n], strlen(data[n])) == -1)
			return -1;
	return 0;
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == -1 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 ||
	    (buf = malloc(len + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	if (fread(buf, 1, len, fp) != (size_t)len) {
		free(buf);
		fclose(fp);
		return NULL;
	}
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	fclose(fp);
	return buf;
}

/* conf_dump into a string (through a tmpfile). */
static char *
dump_string(const struct mmp_conf *conf)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	if ((fp = tmpfile()) == NULL)
		return NULL;
	conf_dump(conf, fp);
	if (fflush(fp) == EOF || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 ||
	    (buf = malloc(len + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	if (fread(buf, 1, len, fp) != (size_t)len) {
		free(buf);
		fclose(fp);
		return NULL;
	}
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

static int
err_matches(const char *got, const char *want)
{
	size_t	len = strlen(want);

	if (len > 3 && strcmp(want + len - 3, "...") == 0)
		return strncmp(got, want, len - 3) == 0;
	return strcmp(got, want) == 0;
}

static void
run_lcase(const struct lcase *c)
{
	struct mmp_conf	*conf;
	char		 err[ERR_BYTES] = "";

	if (setup(c->a, c->i, c->p) == -1) {
		tap_ok(0, "%s: write files", c->name);
		return;
	}
	warn_reset();
	conf = conf_load(tmpdir, err, sizeof(err));
	if (c->err != NULL) {
		tap_ok(conf == NULL && err_matches(err, c->err),
		    "%s: refused", c->name);
		if (conf != NULL || !err_matches(err, c->err))
			tap_diag("got \"%s\", want \"%s\"", err, c->err);
		conf_free(conf);
		return;
	}
	if (!tap_ok(conf != NULL, "%s: loads", c->name))
		tap_diag("error: %s", err);
	if (c->warn != NULL && !tap_ok(strstr(warnings, c->warn) != NULL,
	    "%s: warns", c->name))
		tap_diag("warnings: %s", warnings);
	if (conf != NULL && c->want != NULL)
		tap_is_str(conf_str(conf, c->sect, c->key), c->want,
		    "%s: value", c->name);
	conf_free(conf);
}

/* Lines that cannot be written as C string literals in the table. */
static void
test_raw_lines(void)
{
	static const char	 nul[] = L_OK "default:Timeout 5\0 6\n";
	struct mmp_conf		*conf;
	char			 err[ERR_BYTES] = "", *line;
	size_t			 len;

	setup(A_OK, NULL, L_OK);
	write_file(cfgfiles[SVC_IMAP], nul, sizeof(nul) - 1);
	conf = conf_load(tmpdir, err, sizeof(err));
	tap_ok(conf == NULL, "NUL byte refused");
	tap_is_str(err, "ImapProxyAService.cfg:2: NUL byte in line",
	    "NUL byte: error names the line");
	conf_free(conf);

	if ((line = malloc(5000)) == NULL)
		return;
	for (len = 4096; len <= 4097; len++) {
		/* A comment line of exactly len bytes, then CRLF. */
		memcpy(line, L_OK, strlen(L_OK));
		memset(line + strlen(L_OK), 'x', len + 2);
		line[strlen(L_OK)] = '#';
		memcpy(line + strlen(L_OK) + len, "\r\n", 2);
		write_file(cfgfiles[SVC_IMAP], line, strlen(L_OK) + len + 2);
		err[0] = '\0';
		conf = conf_load(tmpdir, err, sizeof(err));
		if (len == 4096)
			tap_ok(conf != NULL, "4096-byte line with CRLF loads");
		else
			tap_is_str(err, "ImapProxyAService.cfg:2: line longer "
			    "than 4096 bytes", "4097-byte line refused");
		conf_free(conf);
	}
	/* A value longer than one imsg string is refused at load time. */
	memcpy(line, "default:Banner ", 15);
	memset(line + 15, 'b', 1024);
	line[15 + 1024] = '\n';
	setup(A_OK, L_OK, L_OK);
	write_file(cfgfiles[SVC_POP], line, 15 + 1025);
	conf = conf_load(tmpdir, err, sizeof(err));
	tap_is_str(conf == NULL ? err : "loaded", "PopProxyAService.cfg:1: "
	    "Banner: value longer than 1023 bytes", "1024-byte value refused");
	conf_free(conf);
	free(line);
}

static int
find_listener(const struct mmp_conf *conf, const char *label, int svc,
    int tls)
{
	size_t	i;

	for (i = 0; i < conf->nlisteners; i++)
		if (strcmp(conf->listeners[i].label, label) == 0)
			return conf->listeners[i].svc == svc &&
			    conf->listeners[i].tls == tls;
	return 0;
}

static void
test_listeners(void)
{
	struct mmp_conf	*conf;
	char		 err[ERR_BYTES] = "";

	setup("default:ServiceList \"imapproxy@127.0.0.1:1143|[::1]:1143|"
	    "1993|[0::1]:2993 PopProxyAService@110|995\"\n",
	    L_OK "default:SSLEnable yes\ndefault:SSLPorts \"1993 2993\"\n"
	    CERT_OK, L_OK "default:SSLEnable no\ndefault:SSLPorts 995\n");
	if ((conf = conf_load(tmpdir, err, sizeof(err))) == NULL) {
		tap_ok(0, "listeners: load: %s", err);
		return;
	}
	tap_is_int(conf->nlisteners, 6, "six listeners");
	tap_ok(find_listener(conf, "127.0.0.1:1143", SVC_IMAP, 0),
	    "127.0.0.1:1143 imap plain");
	tap_ok(find_listener(conf, "[::1]:1143", SVC_IMAP, 0),
	    "[::1]:1143 imap plain");
	tap_ok(find_listener(conf, "*:1993", SVC_IMAP, 1), "*:1993 imap tls");
	tap_ok(find_listener(conf, "[::1]:2993", SVC_IMAP, 1),
	    "[0::1]:2993 normalised, tls");
	tap_ok(find_listener(conf, "*:995", SVC_POP, 0),
	    "*:995 plain while SSLEnable no");
	tap_is_str(conf->listeners[0].host, "127.0.0.1", "host field");
	tap_is_str(conf->listeners[1].host, "::1", "IPv6 host unbracketed");
	tap_is_str(conf->listeners[2].host, "", "wildcard host is empty");
	tap_is_int(conf->listeners[0].port, 1143, "port field");
	tap_ok(conf->enabled[SVC_IMAP] && conf->enabled[SVC_POP] &&
	    conf->enabled[CONF_GLOBAL], "services enabled");
	conf_free(conf);

	setup("default:ServiceList imapproxy@143\n", L_OK, "garbage\n");
	conf = conf_load(tmpdir, err, sizeof(err));
	tap_ok(conf != NULL && !conf->enabled[SVC_POP] &&
	    conf->nlisteners == 1, "file of an unlisted service not read");
	conf_free(conf);
}

/*
 * text with the value of the line "default:KEY ..." replaced (the line
 * stays where it is); a new string, or NULL.
 */
static char *
replace_value(const char *text, const char *key, const char *value)
{
	char		 pat[128], *out;
	const char	*p, *eol;
	size_t		 len;

	/* Whatever blanks follow the key: the samples use U+00A0. */
	snprintf(pat, sizeof(pat), "default:%s", key);
	if ((p = strstr(text, pat)) == NULL)
		return NULL;
	if ((eol = strchr(p, '\n')) == NULL)
		eol = p + strlen(p);
	len = (p - text) + strlen(pat) + 1 + strlen(value) + strlen(eol) + 1;
	if ((out = malloc(len)) == NULL)
		return NULL;
	snprintf(out, len, "%.*s%s %s%s", (int)(p - text), text, pat, value,
	    eol);
	return out;
}

/*
 * The product's sample files as they are (pem 0), or with PEM files in
 * place of its NSS databases (pem 1), as an operator must change them.
 */
static struct mmp_conf *
load_samples_as(int pem, char *err, size_t errlen)
{
	struct mmp_conf	*conf;
	char		*imap, *pop, *t;
	size_t		 plen = 0;

	imap = slurp(REFDIR "/ImapProxyAService.cfg.sample", NULL);
	pop = slurp(REFDIR "/PopProxyAService.cfg.sample", &plen);
	if (pem && imap != NULL) {
		t = replace_value(imap, "SSLCertFile", "/etc/mmpd/cert.pem");
		free(imap);
		imap = t == NULL ? NULL :
		    replace_value(t, "SSLKeyFile", "/etc/mmpd/key.pem");
		free(t);
	}
	clear_dir();
	if (imap == NULL || pop == NULL ||
	    write_file(cfgfiles[CONF_GLOBAL], A_OK, strlen(A_OK)) == -1 ||
	    write_file(cfgfiles[SVC_IMAP], imap, strlen(imap)) == -1 ||
	    write_file(cfgfiles[SVC_POP], pop, plen) == -1) {
		free(imap);
		free(pop);
		snprintf(err, errlen, "cannot write the samples");
		return NULL;
	}
	free(imap);
	free(pop);
	conf = conf_load(tmpdir, err, errlen);
	return conf;
}

static struct mmp_conf *
load_samples(void)
{
	struct mmp_conf	*conf;
	char		 err[ERR_BYTES] = "";

	if ((conf = load_samples_as(1, err, sizeof(err))) == NULL)
		tap_diag("samples: %s", err);
	return conf;
}

static void
test_samples(void)
{
	struct mmp_conf	*conf;
	char		 later[1024], err[ERR_BYTES] = "";

	warn_reset();
	conf = load_samples_as(0, err, sizeof(err));
	if (!tap_ok(conf == NULL && err_matches(err, "ImapProxyAService.cfg:"
	    "13: SSLCertFile: \"/usr/iplanet/server5/mmp-sandpit/cert7.db\" "
	    "is an NSS database; mmpd needs PEM files: export them with "
	    "pk12util ..."), "product samples as they are: NSS database "
	    "refused"))
		tap_diag("got \"%s\"", err);
	conf_free(conf);
	warn_reset();
	conf = load_samples();
	if (!tap_ok(conf != NULL, "product sample files load with PEM files"))
		return;
	tap_ok(strstr(warnings, "ImapProxyAService.cfg:12: mmpd uses PEM "
	    "files; SSLSecmodFile is ignored\n") != NULL &&
	    strstr(warnings, "ImapProxyAService.cfg:17: mmpd uses PEM files; "
	    "SSLCertNicknames is ignored\n") != NULL &&
	    strstr(warnings, "ImapProxyAService.cfg:18: mmpd uses PEM files; "
	    "SSLCacheDir is ignored\n") != NULL,
	    "sample: NSS keys warned as ignored");
	tap_is_str(conf_str(conf, SVC_IMAP, CK_LDAPURL),
	    "ldap://phonebook/o=Siroe.com", "sample: LdapUrl after U+00A0");
	tap_is_str(conf_str(conf, SVC_IMAP, CK_BINDDN), "cn=Directory Manager",
	    "sample: quoted BindDN");
	tap_is_str(conf_str(conf, SVC_IMAP, CK_SSLKEYPASSWDFILE), "",
	    "sample: SSLKeyPasswdFile \"\"");
	tap_is_str(conf_str(conf, SVC_IMAP, CK_SSLCERTNICKNAMES),
	    "Siroe.com Server-Cert", "sample: unquoted value with a blank");
	tap_is_int(conf_num(conf, SVC_IMAP, CK_SSLBACKSIDEPORT), 993,
	    "sample: SSLBacksidePort");
	tap_is_int(conf_num(conf, SVC_POP, CK_TIMEOUT), 1800,
	    "sample: POP Timeout");
	tap_is_int(conf_num(conf, SVC_POP, CK_LOGINTIMEOUT), 60,
	    "unset key: default number");
	tap_is_int(conf_num(conf, SVC_POP, CK_SPOOFTEMPFAIL), 0,
	    "unset bool: default number");
	tap_is_int(conf_num(conf, SVC_IMAP, CK_HOSTEDDOMAINS), 1,
	    "sample: HostedDomains yes");
	tap_ok(conf_isset(conf, SVC_IMAP, CK_BINDPASS) &&
	    !conf_isset(conf, SVC_IMAP, CK_LOGINTIMEOUT), "conf_isset");
	tap_ok(strstr(warnings, "PopProxyAService.cfg:8: Capability belongs "
	    "in ImapProxyAService.cfg, ignored") != NULL,
	    "sample: Capability in the POP file warned");
	tap_ok(find_listener(conf, "*:143", SVC_IMAP, 0) &&
	    find_listener(conf, "*:993", SVC_IMAP, 1) &&
	    find_listener(conf, "*:110", SVC_POP, 0) &&
	    conf->nlisteners == 3, "sample: listeners, 993 is TLS");
	conf_later_keys(conf, SVC_IMAP, later, sizeof(later));
	tap_ok(strstr(later, "VirtualDomain") == NULL &&
	    strstr(later, "DefaultDomain") == NULL &&
	    strstr(later, "HostedDomains") == NULL &&
	    strstr(later, "CRAMs") == NULL && strstr(later, "Cache") == NULL &&
	    strstr(later, "SSL") == NULL && strstr(later, "Timeout") == NULL,
	    "conf_later_keys: %s", later);
	tap_ok(conf_tls_server(conf, SVC_IMAP) && conf_tls_store(conf,
	    SVC_IMAP) && !conf_tls_server(conf, SVC_POP) &&
	    !conf_tls_store(conf, SVC_POP) && conf_tls_used(conf),
	    "sample: TLS to clients and stores on the IMAP side");
	tap_is_int(conf_path_count(conf_str(conf, SVC_IMAP, CK_SSLCERTFILE)),
	    1, "sample: one certificate");
	conf_later_keys(conf, CONF_GLOBAL, later, sizeof(later));
	tap_is_str(later, "", "conf_later_keys: none in AService.cfg");
	conf_free(conf);
	/* Keys of features still to come, more than a short buffer holds. */
	conf = NULL;
	if (setup(A_OK, L_OK "default:AdminPolicy group\n"
	    "default:TCPAccessAttr mailAllowedServiceAccess\n"
	    "default:CertmapDN o=certs\n", L_OK) == 0)
		conf = conf_load(tmpdir, err, sizeof(err));
	if (conf != NULL)
		conf_later_keys(conf, SVC_IMAP, later, 30);
	tap_ok(conf != NULL && strlen(later) < 30 &&
	    strcmp(later + strlen(later) - 3, "...") == 0,
	    "conf_later_keys: short buffer: %s", conf != NULL ? later : err);
	conf_free(conf);
}

/*
 * Which child gets which secret: BindPass only mmp-ldapd (it binds),
 * StoreAdminPass only the relays (they replay certificate logins),
 * mmp-tlsd no secret of the table at all; other keys go everywhere.
 */
static void
test_sent_to(void)
{
	static const struct {
		int	key;
		int	relay, ldapd, tlsd;
	} want[] = {
		{ CK_BINDPASS,		0, 1, 0 },
		{ CK_STOREADMINPASS,	1, 0, 0 },
		{ CK_STOREADMIN,	1, 1, 1 },
		{ CK_BINDDN,		1, 1, 1 },
	};
	size_t	i;
	int	k, tlsd_secrets = 0, lost = 0;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		tap_ok(conf_sent_to(want[i].key, CONF_TO_RELAY) ==
		    want[i].relay && conf_sent_to(want[i].key, CONF_TO_LDAPD)
		    == want[i].ldapd && conf_sent_to(want[i].key,
		    CONF_TO_TLSD) == want[i].tlsd, "conf_sent_to %s: relay %d, "
		    "mmp-ldapd %d, mmp-tlsd %d",
		    conf_keyinfo(want[i].key)->name, want[i].relay,
		    want[i].ldapd, want[i].tlsd);
	for (k = 0; k < CK_NKEYS; k++) {
		if (!(conf_keyinfo(k)->flags & CKF_SECRET))
			continue;
		tlsd_secrets += conf_sent_to(k, CONF_TO_TLSD);
		/* A secret nobody gets is a key that cannot work. */
		if (!conf_sent_to(k, CONF_TO_RELAY) &&
		    !conf_sent_to(k, CONF_TO_LDAPD)) {
			tap_diag("%s goes to no child", conf_keyinfo(k)->name);
			lost++;
		}
	}
	tap_is_int(tlsd_secrets, 0, "conf_sent_to: no secret to mmp-tlsd");
	tap_is_int(lost, 0, "conf_sent_to: every secret goes to some child");
	tap_ok(!conf_sent_to(-1, CONF_TO_RELAY) &&
	    !conf_sent_to(CK_NKEYS, CONF_TO_RELAY), "conf_sent_to: a key out "
	    "of range goes nowhere");
}

static void
test_dump(void)
{
	struct mmp_conf	*conf;
	char		*d, err[ERR_BYTES] = "";

	setup(A_OK, L_OK "default:BindPass Zq7-s3cr3t\n"
	    "default:StoreAdminPass \"An0ther s3cr3t\"\n"
	    "default:ServerDownAlert \"a \\\"q\\\" \\\\ b\"\n", L_OK);
	if ((conf = conf_load(tmpdir, err, sizeof(err))) == NULL ||
	    (d = dump_string(conf)) == NULL) {
		tap_ok(0, "dump: load: %s", err);
		conf_free(conf);
		return;
	}
	tap_ok(strstr(d, "Zq7-s3cr3t") == NULL &&
	    strstr(d, "An0ther") == NULL, "secrets never in conf_dump");
	tap_ok(strstr(d, "ImapProxyAService.cfg: default:BindPass "
	    "\"********\"   # ImapProxyAService.cfg:2\n") != NULL,
	    "secret shown as ********");
	tap_ok(strstr(d, "PopProxyAService.cfg: default:BindPass \"\"   "
	    "# default\n") != NULL, "unset secret shown empty");
	tap_ok(strstr(d, "ImapProxyAService.cfg: default:StoreAdminPass "
	    "\"********\"   # ImapProxyAService.cfg:3\n") != NULL,
	    "StoreAdminPass shown as ********");
	tap_ok(strstr(d, "AService.cfg: default:LogLevel \"5\"   # default\n")
	    != NULL, "default origin");
	tap_ok(strstr(d, "PopProxyAService.cfg: default:Timeout \"600\"   "
	    "# default\n") != NULL, "POP default");
	tap_ok(strstr(d, "ImapProxyAService.cfg: default:ServerDownAlert "
	    "\"a \\\"q\\\" \\\\ b\"   # ImapProxyAService.cfg:4\n") != NULL,
	    "quotes escaped in dump");
	tap_ok(strstr(d, "PopProxyAService.cfg: default:Capability") == NULL,
	    "IMAP-only key not dumped for POP");
	tap_ok(strstr(d, "\nAService.cfg: default:Timeout") == NULL &&
	    strstr(d, "AService.cfg: default:Workers \"0\"   # default\n")
	    != NULL, "AService.cfg keys only");
	tap_ok(strstr(d, "ImapProxyAService.cfg: default:SSLCertFile \"\"   "
	    "# default (unset)\n") != NULL, "unset key without default");
	tap_ok(strstr(d, "ImapProxyAService.cfg: default:SSLCacheDir \"\"   "
	    "# default (unset), ignored: mmpd uses PEM files\n") != NULL,
	    "NSS key: ignored");
	tap_ok(strstr(d, "listener *:993 imap plain\n") != NULL,
	    "listeners dumped");
	free(d);
	conf_free(conf);
}

/* Children rebuild the parent's configuration from key/value pairs. */
static void
roundtrip(struct mmp_conf *conf, const char *what)
{
	struct mmp_conf	*copy;
	char		*d1, *d2, err[ERR_BYTES] = "";
	int		 sect, k, ok = 1;

	if ((copy = conf_new()) == NULL)
		return;
	for (sect = 0; sect < CONF_NSECT; sect++)
		for (k = 0; k < CK_NKEYS; k++)
			if (conf->v[sect][k].isset && conf_set(copy, sect, k,
			    conf->v[sect][k].str, conf->v[sect][k].file,
			    conf->v[sect][k].line, err, sizeof(err)) == -1) {
				tap_diag("conf_set: %s", err);
				ok = 0;
			}
	tap_ok(ok && conf_finish(copy, err, sizeof(err)) == 0,
	    "%s: conf_set + conf_finish", what);
	d1 = dump_string(conf);
	d2 = dump_string(copy);
	tap_ok(d1 != NULL && d2 != NULL && strcmp(d1, d2) == 0,
	    "%s: same conf_dump after conf_set round trip", what);
	free(d1);
	free(d2);
	conf_free(copy);
}

static void
test_roundtrip(void)
{
	struct mmp_conf	*conf;
	char		 err[ERR_BYTES] = "";

	if ((conf = load_samples()) != NULL)
		roundtrip(conf, "samples");
	conf_free(conf);
	setup("default:ServiceList \"/x/imapproxy.so@[::1]:1143|993 "
	    "popproxy@127.0.0.1:110\"\ndefault:Workers 3\n",
	    L_OK "default:SSLEnable on\ndefault:SSLPorts 993,1\n" CERT_OK
	    "default:ServerDownAlert \"a \\\"b\\\"\"\n",
	    L_OK "default:MailHostAttrs \"a  b\"\n");
	if ((conf = conf_load(tmpdir, err, sizeof(err))) != NULL)
		roundtrip(conf, "addresses");
	else
		tap_ok(0, "roundtrip load: %s", err);
	conf_free(conf);
}

static void
test_conf_set(void)
{
	struct mmp_conf	*conf;
	char		 err[ERR_BYTES] = "", big[1100];

	if ((conf = conf_new()) == NULL)
		return;
	tap_ok(conf_set(conf, SVC_IMAP, CK_TIMEOUT, "abc",
	    "ImapProxyAService.cfg", 7, err, sizeof(err)) == -1, "set: bad");
	tap_is_str(err, "ImapProxyAService.cfg:7: Timeout: \"abc\" is not a "
	    "number", "set: error as in the file");
	tap_ok(conf_set(conf, CONF_GLOBAL, CK_TIMEOUT, "5", "x", 1, err,
	    sizeof(err)) == -1, "set: key in the wrong section");
	tap_is_str(err, "x:1: Timeout: does not belong in AService.cfg",
	    "set: wrong section error");
	tap_ok(conf_set(conf, SVC_IMAP, CK_BINDDN, "a\nb", "x", 1, err,
	    sizeof(err)) == -1, "set: LF refused");
	tap_ok(conf_set(conf, SVC_IMAP, CK_NKEYS, "1", "x", 1, err,
	    sizeof(err)) == -1 && conf_set(conf, 3, CK_TIMEOUT, "1", "x", 1,
	    err, sizeof(err)) == -1 && conf_set(conf, -1, CK_TIMEOUT, "1",
	    "x", 1, err, sizeof(err)) == -1 && conf_set(conf, SVC_IMAP,
	    CK_TIMEOUT, NULL, "x", 1, err, sizeof(err)) == -1,
	    "set: bad section, key, value");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tap_ok(conf_set(conf, SVC_IMAP, CK_BANNER, big, "x", 1, err,
	    sizeof(err)) == -1, "set: over-long value refused");
	tap_ok(conf_set(conf, SVC_POP, CK_BINDPASS, "pw\r", "x", 1, err,
	    sizeof(err)) == -1 && strstr(err, "pw") == NULL,
	    "set: secret not in the error");
	tap_ok(conf_set(conf, SVC_POP, CK_BINDPASS, "one", "x", 1, err,
	    sizeof(err)) == 0 && conf_set(conf, SVC_POP, CK_BINDPASS, "two",
	    "y", 2, err, sizeof(err)) == 0, "set: secret replaced");
	tap_is_str(conf_str(conf, SVC_POP, CK_BINDPASS), "two",
	    "set: later value wins");
	tap_ok(conf_finish(conf, err, sizeof(err)) == -1 &&
	    strcmp(err, "AService.cfg: ServiceList is required") == 0,
	    "finish: ServiceList required");
	tap_ok(conf_set(conf, CONF_GLOBAL, CK_SERVICELIST, "imapproxy@143",
	    "AService.cfg", 1, err, sizeof(err)) == 0 &&
	    conf_finish(conf, err, sizeof(err)) == -1 &&
	    strcmp(err, "ImapProxyAService.cfg: LdapUrl is required") == 0,
	    "finish: LdapUrl required");
	tap_ok(conf_set(conf, SVC_IMAP, CK_LDAPURL, "ldap://h/", "x", 1,
	    err, sizeof(err)) == 0 && conf_finish(conf, err, sizeof(err))
	    == 0 && conf->nlisteners == 1 && conf_finish(conf, err,
	    sizeof(err)) == 0 && conf->nlisteners == 1,
	    "finish: twice, listeners rebuilt");
	conf_free(conf);
	conf_free(NULL);
}

/* Every default in the table is itself a valid value: no typo there. */
static void
test_table(void)
{
	const struct conf_keyinfo	*ki;
	struct mmp_conf			*conf;
	char				 err[ERR_BYTES];
	int				 k, j, sect, bad = 0;

	if ((conf = conf_new()) == NULL)
		return;
	for (k = 0; k < CK_NKEYS; k++) {
		ki = conf_keyinfo(k);
		for (j = 0; j < k; j++)
			if (strcasecmp(conf_keyinfo(j)->name, ki->name) == 0) {
				tap_diag("%s listed twice", ki->name);
				bad++;
			}
		for (sect = 0; sect < CONF_NSECT; sect++) {
			if (!(ki->files & (1U << sect)) || ki->def == NULL)
				continue;
			if (conf_set(conf, sect, k, sect == SVC_POP &&
			    ki->defpop != NULL ? ki->defpop : ki->def, "d", 0,
			    err, sizeof(err)) == -1) {
				tap_diag("default: %s", err);
				bad++;
			}
		}
		if (ki->files == 0 || (ki->files & ~(CF_A | CF_I | CF_P | CF_V))) {
			tap_diag("%s: bad files mask", ki->name);
			bad++;
		}
	}
	tap_is_int(bad, 0, "key table: unique names, valid defaults");
	tap_is_int(conf_key_lookup("LDAPurl"), CK_LDAPURL, "lookup: case");
	tap_is_int(conf_key_lookup("LdapUrlx"), -1, "lookup: unknown");
	tap_is_int(conf_key_lookup(NULL), -1, "lookup: NULL");
	tap_ok(conf_keyinfo(CK_NKEYS) == NULL && conf_section_file(3) == NULL
	    && conf_section_file(-1) == NULL, "out of range is NULL");
	tap_is_str(conf_section_file(SVC_POP), "PopProxyAService.cfg",
	    "section file");
	tap_ok(conf_str(conf, 7, CK_TIMEOUT) == NULL &&
	    conf_num(conf, SVC_IMAP, CK_NKEYS) == 0 &&
	    !conf_isset(conf, -1, CK_TIMEOUT), "accessors check bounds");
	conf_free(conf);
}

/* The ".It Ic NAME" entry of a key in the manual page, or NULL. */
static const char *
manual_entry(const char *man, const char *name)
{
	char		 pat[128];
	const char	*p;
	size_t		 len;

	len = (size_t)snprintf(pat, sizeof(pat), "\n.It Ic %s", name);
	for (p = strstr(man, pat); p != NULL; p = strstr(p + 1, pat))
		if (p[len] == ' ' || p[len] == '\n')
			return p;
	return NULL;
}

/* Does the ".Sy" line after the entry p say V (per virtual domain)? */
static int
manual_marked_v(const char *p)
{
	const char	*sy, *end;

	if ((sy = strchr(p + 1, '\n')) == NULL || strncmp(sy, "\n.Sy ", 5))
		return 0;
	sy++;
	if ((end = strchr(sy, '\n')) == NULL)
		return 0;
	return end - sy >= 4 && strncmp(end - 4, " V .", 4) == 0;
}

/*
 * Every key of the table has an entry in the manual page, and the keys
 * not yet in effect (only those) are under their own heading.
 */
static void
test_manual(void)
{
	const struct conf_keyinfo	*ki;
	const char			*later, *p;
	char				*man;
	int				 k, missing = 0, misplaced = 0;

	if ((man = slurp(MANPAGE, NULL)) == NULL) {
		tap_ok(0, "%s readable (run from the repository root)",
		    MANPAGE);
		return;
	}
	later = strstr(man, "\n.Ss Accepted, not yet in effect\n");
	tap_ok(later != NULL, "%s: heading for keys not in effect", MANPAGE);
	for (k = 0; k < CK_NKEYS; k++) {
		ki = conf_keyinfo(k);
		if ((p = manual_entry(man, ki->name)) == NULL) {
			tap_diag("%s: no \".It Ic %s\" entry", MANPAGE,
			    ki->name);
			missing++;
		} else if (((ki->files & CF_V) != 0) != manual_marked_v(p)) {
			tap_diag("%s: %s: marked V %s", MANPAGE, ki->name,
			    ki->files & CF_V ? "missing" : "wrongly");
			misplaced++;
		} else if (later != NULL &&
		    (p > later) != ((ki->flags & CKF_LATER) != 0)) {
			tap_diag("%s: %s under the wrong heading", MANPAGE,
			    ki->name);
			misplaced++;
		}
	}
	tap_is_int(missing, 0, "every key documented in %s", MANPAGE);
	tap_is_int(misplaced, 0, "keys not in effect grouped in %s", MANPAGE);
	free(man);
}

int
main(void)
{
	size_t	i;

	strlcpy(tmpdir, "/tmp/mmpd-config-test.", sizeof(tmpdir));
	for (i = 0; i < TMPL_X; i++)
		strlcat(tmpdir, "X", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	log_set_sink(warn_sink);
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++)
		run_lcase(&lcases[i]);
	test_raw_lines();
	test_listeners();
	test_samples();
	test_dump();
	test_sent_to();
	test_roundtrip();
	test_conf_set();
	test_table();
	test_manual();
	clear_dir();
	if (rmdir(tmpdir) == -1)
		tap_ok(0, "rmdir %s: %s", tmpdir, strerror(errno));
	return tap_done();
}
