# tlsdharness: plays mmpd's parent, and relays, to a real mmp-tlsd: the
# configuration with its TLS files as sealed memfds, ticket keys, relay
# channels, and per session a TLS_START with a network socket and a
# TLS_PLAIN with a socketpair end. Also a throwaway PKI made with the
# openssl command line. Message layouts come from lib/tlsmsg.h.

import collections
import fcntl
import os
import selectors
import socket
import ssl
import subprocess
import time

import mmptest as T
import ldapdharness as H
from ldapdharness import IMSG, Reader, Writer

TLSD_BIN = os.path.normpath(os.path.join(os.path.dirname(T.MMPD_BIN), "..",
                                         "mmp-tlsd", "mmp-tlsd"))
_TLSMSG_H = H._read("tlsmsg.h")
TDEF = H._defines(_TLSMSG_H)
FILE = H._enum(_TLSMSG_H, "tls_file_kind")	# "TLS_FILE_CERT" -> n
ROLE = H._enum(_TLSMSG_H, "tls_role")
STATUS = {v: k for k, v in H._enum(_TLSMSG_H, "tls_status").items()}
CERT = {v: k for k, v in H._enum(_TLSMSG_H, "tls_cert_status").items()}
IMAP, POP = H.DEF["SVC_IMAP"], H.DEF["SVC_POP"]

Result = collections.namedtuple(
    "Result", "id status detail version cipher resumed sni cert subject "
    "issuer fields")


# ---------------------------------------------------------------- PKI

class Pki:
    """CA, server certificates, client certificates, in dir."""

    def __init__(self, dir_):
        self.dir = dir_
        os.makedirs(dir_, exist_ok=True)
        self.ca("ca", "/O=mmpd test/CN=mmpd test CA")
        self.ca("rogue", "/CN=rogue CA")
        self.leaf("server", "ca", "/CN=localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                  "extendedKeyUsage=serverAuth")
        self.leaf("mail", "ca", "/CN=mail.example.test",
                  "subjectAltName=DNS:mail.example.test\n"
                  "extendedKeyUsage=serverAuth")
        self.leaf("pilar", "ca", "/O=siroe.com/OU=pilar/CN=Pilar Lorca",
                  "extendedKeyUsage=clientAuth")
        self.leaf("intruder", "rogue", "/O=siroe.com/CN=Pilar Lorca",
                  "extendedKeyUsage=clientAuth")
        self.passphrase = "correct horse battery"
        self._run("pkey", "-in", self.key("server"), "-aes256", "-passout",
                  "pass:" + self.passphrase, "-out", self.p("server.enc.key"))
        with open(self.p("server.pass"), "w") as f:
            f.write(self.passphrase + "\n")

    def p(self, name):
        return os.path.join(self.dir, name)

    def crt(self, name):
        return self.p(name + ".crt")

    def key(self, name):
        return self.p(name + ".key")

    def _run(self, *args):
        subprocess.run(["openssl"] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _newkey(self, name):
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", self.key(name))

    def ca(self, name, subj):
        self._newkey(name)
        self._run("req", "-x509", "-new", "-key", self.key(name), "-subj",
                  subj, "-days", "2", "-out", self.crt(name))

    def leaf(self, name, ca, subj, ext):
        self._newkey(name)
        extfile = self.p(name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        self._run("req", "-new", "-key", self.key(name), "-subj", subj,
                  "-out", self.p(name + ".csr"))
        self._run("x509", "-req", "-in", self.p(name + ".csr"), "-CA",
                  self.crt(ca), "-CAkey", self.key(ca), "-CAcreateserial",
                  "-days", "2", "-extfile", extfile, "-out", self.crt(name))


# ---------------------------------------------------------------- mmp-tlsd

def memfd(data):
    """A sealed memfd holding data, as the parent sends a file."""
    fd = os.memfd_create("tlsfile", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL |
                fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    return fd


def tls_conf(imap=None, glob=None):
    a = {"ServiceList": "ImapProxyAService@143 PopProxyAService@110",
         "ChrootDir": T.CHROOT, "LogLevel": 7}
    a.update(glob or {})
    # conf_finish wants an LDAP URL; mmp-tlsd never uses it.
    ldap = {"LogLevel": 7, "LdapUrl": "ldap://127.0.0.1:1/o=example"}
    i = dict(ldap)
    i.update(imap or {})
    return {"AService.cfg": a, "ImapProxyAService.cfg": i,
            "PopProxyAService.cfg": ldap}


class Tlsd(H.Child):
    def __init__(self, env, index=0, tap=None):
        super().__init__(env, TLSD_BIN,
                         ["mmp-tlsd", "-v", "-i", str(index)], tap)

    def send_conf(self, conf, files=(), gen=1):
        """files: (sect, kind name, index, path) with the path's bytes, or
        (sect, kind, index, path, bytes)."""
        self.parent.send(IMSG["IMSG_CONF_START"], Writer().u32(gen))
        for fname, kv in conf.items():
            for line, (key, value) in enumerate(kv.items(), 1):
                self.parent.send(IMSG["IMSG_CONF_KV"], Writer()
                                 .u8(H.SECTIONS[fname]).u16(H.KEYS[key])
                                 .str(str(value)).str(fname).u32(line))
        for f in files:
            sect, kind, index, path = f[:4]
            if len(f) > 4:
                data = f[4]
            else:
                with open(path, "rb") as fh:
                    data = fh.read()
            fd = memfd(data)
            self.parent.send(IMSG["IMSG_CONF_TLSFILE"], Writer().u8(sect)
                             .u8(FILE[kind]).u8(index).str(path), fd=fd)
            os.close(fd)
        self.parent.send(IMSG["IMSG_CONF_END"], Writer().u32(gen))

    def start(self, conf, files=(), gen=1):
        self.spawn()
        self.send_conf(conf, files, gen)
        if not self.wait_ready(gen):
            raise RuntimeError("%s not ready (%s):\n%s\n%s" % (
                self.name, self.how(), self.log_text()[-3000:],
                self.stderr()[-2000:]))
        return self

    def send_keys(self, keys, lifetime=3600):
        w = Writer().u32(len(keys)).u32(lifetime)
        for name, aes, hmac in keys:
            w.raw(name).raw(aes).raw(hmac)
        self.parent.send(IMSG["IMSG_TLS_TICKET_KEYS"], w)

    def relay(self, index=0):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.parent.send(IMSG["IMSG_RELAY_CHANNEL"], Writer().u32(index),
                         fd=theirs.fileno())
        theirs.close()
        r = Relay(self, ours, index)
        self.channels.append(r.chan)
        return r


def ticket_keys(n=2):
    return [(os.urandom(16), os.urandom(32), os.urandom(32))
            for _ in range(n)]


class Relay:
    """A relay's end of its channel to mmp-tlsd."""

    def __init__(self, tlsd, sock, index):
        self.tlsd = tlsd
        self.chan = H.Channel(sock)
        self.index = index
        self.next_id = 1

    def start(self, sock, role="TLS_ROLE_SERVER", sect=IMAP,
              servername="", peer=None, sid=None, plain=True):
        """TLS_START with sock, then TLS_PLAIN with one end of a new
        socketpair; returns (id, our plaintext end or None). sid is the
        handoff's id; the session id for the log is 0x1000000000000 + sid."""
        if sid is None:
            sid = self.next_id
            self.next_id += 1
        if peer is None:
            peer = "%s:%d" % sock.getpeername()[:2]
        local = "%s:%d" % sock.getsockname()[:2]
        self.chan.send(IMSG["IMSG_TLS_START"], Writer().u64(sid)
                       .u64(0x1000000000000 + sid).u8(ROLE[role]).u8(sect).str(peer).str(local)
                       .str(servername), fd=sock.fileno())
        if not plain:
            return sid, None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.plain(sid, theirs)
        theirs.close()
        return sid, ours

    def plain(self, sid, sock):
        self.chan.send(IMSG["IMSG_TLS_PLAIN"], Writer().u64(sid),
                       fd=sock.fileno())

    def result(self, timeout=H.WAIT_SEC):
        if not self.tlsd.wait_for(lambda: self.chan.msgs, timeout,
                                  lambda: self.chan.eof):
            return None
        m = self.chan.msgs.popleft()
        if m.type != IMSG["IMSG_TLS_RESULT"] or m.fd is not None:
            raise ValueError("mmp-tlsd sent %s" % H.IMSG_NAME.get(m.type))
        r = Reader(m.payload)
        vals = [r.u64(), r.u8(), r.str(), r.str(), r.str(), r.u8(), r.str(),
                r.u8(), r.str(), r.str()]
        fields = [(r.str().decode(), r.str().decode())
                  for _ in range(r.u8())]
        r.end()
        vals = [v.decode() if isinstance(v, bytes) else v for v in vals]
        vals[1] = STATUS[vals[1]]
        vals[7] = CERT[vals[7]]
        return Result(*vals, fields)

    def closed(self, timeout=H.WAIT_SEC):
        return self.tlsd.wait_for(lambda: self.chan.eof, timeout)


# ---------------------------------------------------------------- traffic

class Listener:
    """A loopback TCP listener: the relay's accept."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def accept(self):
        self.sock.settimeout(H.WAIT_SEC)
        s, _ = self.sock.accept()
        return s


def exchange(tls, plain, to_plain, to_tls, timeout=20):
    """Sends to_plain from the TLS socket and to_tls from the plaintext
    one at once, reads both until as much arrived or timeout; returns
    (what the plaintext end got, what the TLS end got)."""
    tls.setblocking(False)
    plain.setblocking(False)
    sel = selectors.DefaultSelector()
    got = {tls: b"", plain: b""}
    out = {tls: to_plain, plain: to_tls}
    want = {tls: len(to_tls), plain: len(to_plain)}
    sel.register(tls, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sel.register(plain, selectors.EVENT_READ | selectors.EVENT_WRITE)
    end = time.monotonic() + timeout
    while time.monotonic() < end and (
            len(got[tls]) < want[tls] or len(got[plain]) < want[plain]):
        ready = sel.select(0.2)
        for key, ev in ready:
            s = key.fileobj
            try:
                if ev & selectors.EVENT_WRITE and out[s]:
                    n = s.send(out[s][:65536])
                    out[s] = out[s][n:]
                if ev & selectors.EVENT_READ or (
                        s is tls and tls.pending()):
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    got[s] += data
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError):
                pass
            except EOFError:
                end = 0
        for s in (tls, plain):
            mask = selectors.EVENT_READ | (
                selectors.EVENT_WRITE if out[s] else 0)
            sel.modify(s, mask)
    sel.close()
    tls.setblocking(True)
    plain.setblocking(True)
    return got[plain], got[tls]
