#!/usr/bin/python3
# The nginx mail proxy's auth_http service in `make bench`: looks the user
# up in the bench's slapd the way mmpd's bench config does ((uid=USER)
# under the suffix, bound as the Directory Manager, reading mailHost) and
# tells nginx where to connect. The store verifies the password, as it
# does for mmpd and the Dovecot proxy: nothing here checks it.
#
# python3-ldap (Debian) over libldap, the library mmp-ldapd uses too, so
# the peer's directory cost is libldap's as well; one connection kept
# open; one request at a time (nginx sends a request per login, HTTP/1.0).

import argparse
import http.server
import ipaddress
import socketserver
import sys
import urllib.parse

import ldap
import ldap.filter

FAIL = "Invalid login or password"


def read_hosts(path):
    """name -> IPv4 address, from a hosts(5) file (the one mmpd reads)."""
    out = {}
    if not path:
        return out
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            for name in words[1:]:
                out.setdefault(name.lower(), words[0])
    return out


class Directory:
    def __init__(self, url, binddn, bindpw, base):
        self.url, self.binddn, self.bindpw, self.base = \
            url, binddn, bindpw, base
        self.conn = None

    def _connect(self):
        c = ldap.initialize(self.url)
        c.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        c.set_option(ldap.OPT_TIMEOUT, 5)
        c.simple_bind_s(self.binddn, self.bindpw)
        self.conn = c

    def mailhost(self, user):
        """The user's mailHost, None if there is no such single user."""
        filt = "(uid=%s)" % ldap.filter.escape_filter_chars(user)
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self._connect()
                res = self.conn.search_s(self.base, ldap.SCOPE_SUBTREE,
                                         filt, ["mailHost"])
                break
            except ldap.SERVER_DOWN:
                self.conn = None
                if attempt:
                    raise
        entries = [a for dn, a in res if dn is not None]
        if len(entries) != 1 or not entries[0].get("mailHost"):
            return None
        return entries[0]["mailHost"][0].decode("ascii", "replace")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        srv = self.server
        user = urllib.parse.unquote(self.headers.get("Auth-User", ""))
        proto = self.headers.get("Auth-Protocol", "")
        port = srv.ports.get(proto)
        addr = None
        if user and port is not None:
            try:
                host = srv.directory.mailhost(user)
            except ldap.LDAPError as e:
                sys.stderr.write("authhttp: LDAP: %s\n" % e)
                host = None
            if host is not None:
                addr = address(host, srv.hosts)
        self.send_response(200)
        if addr is None:
            self.send_header("Auth-Status", FAIL)
            self.send_header("Auth-Wait", "0")
        else:
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", addr)
            self.send_header("Auth-Port", str(port))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass	# one line per login would cost more than the lookup


def address(host, hosts):
    """An IP literal as is, a name through the hosts file, else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return hosts.get(host.lower())


class Server(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--ldap", required=True, help="ldap://HOST:PORT")
    ap.add_argument("--binddn", required=True)
    ap.add_argument("--bindpw-file", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--imap-port", type=int, required=True)
    ap.add_argument("--pop3-port", type=int, required=True)
    ap.add_argument("--hosts", default=None)
    a = ap.parse_args()
    with open(a.bindpw_file) as f:
        bindpw = f.read().strip()
    host, _, port = a.listen.rpartition(":")
    srv = Server((host, int(port)), Handler)
    srv.directory = Directory(a.ldap, a.binddn, bindpw, a.base)
    srv.directory._connect()	# fail at start, not at the first login
    srv.ports = {"imap": a.imap_port, "pop3": a.pop3_port}
    srv.hosts = read_hosts(a.hosts)
    sys.stderr.write("authhttp: listening on %s\n" % a.listen)
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
