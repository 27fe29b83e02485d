# ldapdharness: plays mmpd's parent, and a relay, to a real mmp-ldapd, so a
# test can send it what only a misbehaving relay would: the relay checks
# user names first, and mmp-ldapd's own checks are otherwise unreachable.
# Message numbers, key indexes and limits come from lib/*.h, the framing is
# lib/imsg.c's. Everything read from the child stays bytes (text decoded with
# errors="replace"). The generic part (Channel, Child) can serve mmp-tlsd too.

import array
import collections
import os
import re
import select
import signal
import socket
import struct
import time

import mmptest as T

LIB = os.path.join(T.ROOT, "lib")
# As mmpd finds it (proc_find_ldapd): next to the mmpd under test, so that
# MMPD=build-asan/mmpd/mmpd (make asan) tests the sanitized mmp-ldapd.
LDAPD_BIN = os.path.normpath(os.path.join(os.path.dirname(T.MMPD_BIN), "..",
                                          "mmp-ldapd", "mmp-ldapd"))
WAIT_SEC = 10


# ---------------------------------------------------------------- headers

def _read(name):
    with open(os.path.join(LIB, name), "rb") as f:
        return re.sub(rb"/\*.*?\*/", b"", f.read(), flags=re.S).decode()


def _enum(text, name):
    """{member: value} of `enum name { ... }` (C rules for values)."""
    body = re.search(r"enum\s+%s\s*\{(.*?)\}" % name, text, re.S).group(1)
    out, v = {}, 0
    for m in (x.strip() for x in body.split(",")):
        if m:
            k, _, val = (s.strip() for s in m.partition("="))
            v = int(val, 0) if val else v
            out[k] = v
            v += 1
    return out


def _defines(text):
    return {k: int(v, 0) for k, v in
            re.findall(r"^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", text,
                       re.M)}


_MSG_H = _read("msg.h")
IMSG = _enum(_MSG_H, "mmp_imsg")		# "IMSG_LOOKUP" -> number
IMSG_NAME = {v: k for k, v in IMSG.items()}
LOOKUP = _enum(_MSG_H, "lookup_status")		# "LOOKUP_OK" -> number
LOOKUP_NAME = {v: k for k, v in LOOKUP.items()}
DEF = {}
for _h in ("msg.h", "imsg.h", "config.h", "log.h"):
    DEF.update(_defines(_read(_h)))
# Key index = position in config_keys.h, as enum conf_key numbers them.
KEYS = {n: i for i, n in enumerate(re.findall(
    r'^CK\(\w+,\s*"(\w+)"', _read("config_keys.h"), re.M))}
SECTIONS = {"AService.cfg": DEF["CONF_GLOBAL"],
            "ImapProxyAService.cfg": DEF["SVC_IMAP"],
            "PopProxyAService.cfg": DEF["SVC_POP"]}
CHILD_FD = DEF["MMP_CHILD_FD"]
HDR = struct.Struct("=IIII")	# type, len (header included), flags, peerid
assert HDR.size == 16


# ---------------------------------------------------------------- payloads

class Writer:
    """msg_add_*: little-endian integers, strings as u16 length + bytes."""

    def __init__(self):
        self.b = b""

    def u8(self, v):
        self.b += struct.pack("<B", v)
        return self

    def u16(self, v):
        self.b += struct.pack("<H", v)
        return self

    def u32(self, v):
        self.b += struct.pack("<I", v)
        return self

    def u64(self, v):
        self.b += struct.pack("<Q", v)
        return self

    def str(self, s):
        if isinstance(s, str):
            s = s.encode()
        return self.u16(len(s)).raw(s)

    def raw(self, data):
        self.b += data
        return self


class Reader:
    """msg_get_*: raises ValueError on short or (at end()) trailing bytes."""

    def __init__(self, data):
        self.b, self.off = data, 0

    def _take(self, n):
        if self.off + n > len(self.b):
            raise ValueError("payload too short")
        self.off += n
        return self.b[self.off - n:self.off]

    def u8(self):
        return self._take(1)[0]

    def u16(self):
        return struct.unpack("<H", self._take(2))[0]

    def u32(self):
        return struct.unpack("<I", self._take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self._take(8))[0]

    def str(self):
        return self._take(self.u16())

    def end(self):
        if self.off != len(self.b):
            raise ValueError("%d trailing bytes" % (len(self.b) - self.off))


# ---------------------------------------------------------------- channel

Imsg = collections.namedtuple("Imsg", "type flags peerid payload fd")


class Channel:
    """One end of an imsg socketpair: framed messages, an fd with the first
    byte of its message, received messages queued until taken."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.setblocking(False)
        self.rbuf = b""
        self.fds = []
        self.msgs = collections.deque()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def send_bytes(self, data, fd=None):
        """Raw bytes, framed or not; fd rides with the first byte."""
        anc = [] if fd is None else \
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
        self.sock.setblocking(True)
        try:
            n = self.sock.sendmsg([data], anc)
            if n < len(data):
                self.sock.sendall(data[n:])
        finally:
            self.sock.setblocking(False)

    def send(self, type_, payload=b"", fd=None, peerid=0, flags=None):
        if isinstance(payload, Writer):
            payload = payload.b
        if flags is None:
            flags = DEF["IMSG_HASFD"] if fd is not None else 0
        self.send_bytes(HDR.pack(type_, HDR.size + len(payload), flags,
                                 peerid) + payload, fd)

    def read(self):
        """What the socket holds now into the queue; False at EOF."""
        try:
            data, anc, _, _ = self.sock.recvmsg(
                65536, socket.CMSG_SPACE(4 * DEF["IMSG_FDS_MAX"]))
        except (BlockingIOError, InterruptedError):
            return True
        except ConnectionResetError:
            data, anc = b"", []
        for level, kind, fdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(fdata[:len(fdata) - len(fdata) % a.itemsize])
                self.fds.extend(a)
        if not data:
            self.eof = True
            return False
        self.rbuf += data
        while len(self.rbuf) >= HDR.size:
            type_, ln, flags, peerid = HDR.unpack_from(self.rbuf)
            if ln < HDR.size or ln > DEF["IMSG_MAX_BYTES"]:
                raise ValueError("peer sent a message of length %d" % ln)
            if len(self.rbuf) < ln:
                break
            fd = None
            if flags & DEF["IMSG_HASFD"]:
                fd = self.fds.pop(0) if self.fds else -1
            self.msgs.append(Imsg(type_, flags, peerid,
                                  self.rbuf[HDR.size:ln], fd))
            self.rbuf = self.rbuf[ln:]
        return True

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()


# ---------------------------------------------------------------- child

def _socketpair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


class Child:
    """A child program started as mmpd's proc_exec does: its parent
    channel on fd 3, a bare environment. Its IMSG_LOG lines are kept in
    self.log as (svc, prio, bytes); stdout and stderr go to a file."""

    def __init__(self, env, binary, argv, tap=None):
        self.env = env
        self.binary = binary
        self.argv = argv
        self.name = os.path.basename(binary)
        self.errpath = env.path("%s.%d.stderr" % (self.name, id(self)))
        self.pid = None
        self.status = None
        self.parent = None
        self.channels = []		# other channels pump() reads
        self.log = []
        self.others = []		# parent messages that are not logs
        env.cleanups.append(self.stop)
        if tap is not None:
            tap.on_fail.append(self.diagnostics)

    def spawn(self):
        ours, theirs = _socketpair()
        envp = {"PATH": "/usr/bin:/bin"}
        # As mmpd's proc.c passes them: the sanitizers' and leak check's.
        for k in ("MMPD_SANDBOX_DEBUG", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                  "LSAN_OPTIONS", "MMPD_LEAKCHECK", "MMPD_LEAKCHECK_DIR"):
            if k in os.environ:
                envp[k] = os.environ[k]
        pid = os.fork()
        if pid == 0:		# the child: exec or _exit, never return
            try:
                os.setpgid(0, 0)
                for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(sig, signal.SIG_DFL)
                os.dup2(theirs.fileno(), CHILD_FD)
                null = os.open(os.devnull, os.O_RDONLY)
                err = os.open(self.errpath, os.O_WRONLY | os.O_CREAT |
                              os.O_APPEND, 0o600)
                os.dup2(null, 0)
                os.dup2(err, 1)
                os.dup2(err, 2)
                # dup2 onto itself would keep close-on-exec.
                for fd in (0, 1, 2, CHILD_FD):
                    os.set_inheritable(fd, True)
                os.closerange(CHILD_FD + 1, os.sysconf("SC_OPEN_MAX"))
                os.execve(self.binary, self.argv, envp)
            finally:
                os._exit(127)
        theirs.close()
        self.pid = pid
        self.parent = Channel(ours)
        return self

    def send_conf(self, conf, hosts=(), gen=1, certmaps=()):
        """conf: {file name: {key name: value}} as mmpd would send it, each
        value with its file and line; hosts: (name, address) pairs;
        certmaps: IMSG_CONF_CERTMAP payloads (certmap_payload)."""
        self.parent.send(IMSG["IMSG_CONF_START"], Writer().u32(gen))
        for fname, kv in conf.items():
            for line, (key, value) in enumerate(kv.items(), 1):
                self.parent.send(IMSG["IMSG_CONF_KV"], Writer()
                                 .u8(SECTIONS[fname]).u16(KEYS[key])
                                 .str(str(value)).str(fname).u32(line))
        for name, addr in hosts:
            self.parent.send(IMSG["IMSG_CONF_HOST"],
                             Writer().str(name).str(addr))
        for payload in certmaps:
            self.parent.send(IMSG["IMSG_CONF_CERTMAP"], payload)
        self.parent.send(IMSG["IMSG_CONF_END"], Writer().u32(gen))

    def start(self, conf, hosts=(), gen=1, certmaps=()):
        """Spawns, configures, waits for IMSG_READY."""
        self.spawn()
        self.send_conf(conf, hosts, gen, certmaps)
        if not self.wait_ready(gen):
            raise RuntimeError("%s not ready:\n%s\n%s" % (
                self.name, self.log_text()[-3000:], self.stderr()[-2000:]))
        return self

    def wait_ready(self, gen, timeout=WAIT_SEC):
        return self.wait_for(lambda: any(
            m.type == IMSG["IMSG_READY"] and Reader(m.payload).u32() == gen
            for m in self.others), timeout)

    def pump(self, timeout):
        """Reads every channel that has something within timeout."""
        chans = [c for c in [self.parent] + self.channels
                 if c is not None and not c.eof and c.sock.fileno() != -1]
        if not chans:
            time.sleep(timeout)
            return
        readable, _, _ = select.select(chans, [], [], timeout)
        for c in readable:
            c.read()
        while self.parent is not None and self.parent.msgs:
            m = self.parent.msgs.popleft()
            if m.type == IMSG["IMSG_LOG"]:
                r = Reader(m.payload)
                # u64: the child's time of the line (lib/msg.h).
                svc, prio, _, line = r.u8(), r.u8(), r.u64(), r.str()
                r.end()
                self.log.append((svc, prio, line))
            else:
                self.others.append(m)

    def wait_for(self, pred, timeout=WAIT_SEC, give_up=None):
        """pred()'s first true value, pumping meanwhile; a false one after
        timeout, or as soon as give_up() is true. By default that is when
        the parent channel ended: what the child said has been read."""
        if give_up is None:
            def give_up():
                return self.parent is None or self.parent.eof
        end = time.monotonic() + timeout
        while True:
            v = pred()
            if v or give_up() or time.monotonic() >= end:
                return v
            self.pump(min(end - time.monotonic(), 0.2))

    def log_text(self, since=0):
        return "\n".join(line.decode(errors="replace")
                         for _, _, line in self.log[since:])

    def wait_log(self, regex, since=0, timeout=WAIT_SEC):
        """The first match of regex in the log lines from index since."""
        return self.wait_for(lambda: re.search(regex, self.log_text(since)),
                             timeout)

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        if self.pid is None or self.status is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.status = status
        return False

    def how(self):
        """How the child ended, as mmpd's log would say; "" if it runs."""
        if self.alive() or self.status is None:
            return ""
        if os.WIFEXITED(self.status):
            return "exited with status %d" % os.WEXITSTATUS(self.status)
        return "killed by signal %s" % signal.Signals(
            os.WTERMSIG(self.status)).name

    def stop(self, timeout=5):
        """Closes the parent channel (a child's cue to exit); kills what is
        left after timeout. The wait status, or None if never started."""
        if self.pid is None:
            return None
        if self.parent is not None:
            self.parent.close()
            self.parent = None
        for c in self.channels:
            c.close()
        self.channels = []
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            time.sleep(0.05)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
        return self.status

    def diagnostics(self, tap):
        lines = self.log_text().splitlines()[-30:]
        tap.diag("last %d log lines of %s (pid %s%s):" %
                 (len(lines), self.name, self.pid,
                  ", " + self.how() if self.how() else ""))
        for line in lines:
            tap.diag("  " + line)
        err = self.stderr().strip()
        if err:
            tap.diag("%s stderr: %s" % (self.name, err[-1000:]))


# ---------------------------------------------------------------- mmp-ldapd

CERTMAP = _enum(_read("certmap.h"), "certmap_state")


def _comps(w, comps):
    """None: no line; []: an empty line; [(from, to), ...]: a list."""
    if comps is None:
        return w.u8(CERTMAP["CERTMAP_ABSENT"]).u8(0)
    w.u8(CERTMAP["CERTMAP_LIST" if comps else "CERTMAP_EMPTY"])
    w.u8(len(comps))
    for frm, to in comps:
        w.str(frm).str(to)
    return w


def certmap_payload(sect, name, issuer, dncomps=None, filtercomps=None):
    """IMSG_CONF_CERTMAP's payload: one mapping of a CertMapFile."""
    w = Writer().u8(sect).str(name).str(issuer)
    return _comps(_comps(w, dncomps), filtercomps).b


LookupResult = collections.namedtuple(
    "LookupResult", "reqid status detail dn mailhost user addrs verified")


def ldapd_conf(slapd, **imap_pop):
    """A configuration as the tests' mmpd has it; keyword arguments
    override keys of the IMAP and POP sections."""
    svc = {"LdapUrl": "%s/%s" % (slapd.url, T.SUFFIX), "BindDN": T.DM_DN,
           "BindPass": T.DM_PW, "SearchFormat": "(uid=%s)",
           "HostedDomains": "no",
           "LdapTimeout": 5, "LogLevel": 6}
    svc.update(imap_pop)
    return {"AService.cfg": {"ServiceList": "ImapProxyAService@143 "
                             "PopProxyAService@110",
                             "ChrootDir": T.CHROOT, "LogLevel": 6},
            "ImapProxyAService.cfg": dict(svc),
            "PopProxyAService.cfg": dict(svc)}


class Ldapd(Child):
    def __init__(self, env, tap=None, verbose=False):
        super().__init__(env, LDAPD_BIN,
                         ["mmp-ldapd"] + (["-v"] if verbose else []), tap)

    def relay(self, index=0):
        """A new relay channel (IMSG_RELAY_CHANNEL) and its relay end."""
        ours, theirs = _socketpair()
        self.parent.send(IMSG["IMSG_RELAY_CHANNEL"], Writer().u32(index),
                         fd=theirs.fileno())
        theirs.close()
        r = Relay(self, ours, index)
        self.channels.append(r.chan)
        return r


class Relay:
    """The relay's end of a channel to mmp-ldapd."""

    def __init__(self, ldapd, sock, index):
        self.ldapd = ldapd
        self.chan = Channel(sock)
        self.index = index
        self.next_reqid = 1

    def send(self, type_, payload=b"", fd=None):
        self.chan.send(type_, payload, fd)

    @staticmethod
    def lookup_payload(reqid, user, svc=None, client="127.0.0.1",
                       local="127.0.0.1", sid=None, password=None, cram=0,
                       challenge=b"", digest=b"", preauth=None):
        """IMSG_LOOKUP's payload; user is sent as given, bytes or str;
        sid, the relay's session id for the log, is reqid unless given;
        password (bytes or str) only for a PreAuth service, sent with the
        relay's preauth flag (set when a password is given, unless
        preauth says otherwise); cram (enum
        cram_mech: 1 APOP, 2 CRAM-MD5) with its challenge and 16-byte
        digest for CRAMs."""
        w = Writer().u64(reqid).u64(reqid if sid is None else sid) \
            .u8(DEF["SVC_IMAP"] if svc is None else svc).str(user) \
            .str(client).str(local) \
            .u8((password is not None) if preauth is None else preauth) \
            .str(password if password is not None else b"").u8(cram)
        if cram:
            w.str(challenge).raw(digest)
        return w.b

    def lookup(self, user, svc=None, **kw):
        """Sends an IMSG_LOOKUP; returns its reqid."""
        reqid = self.next_reqid
        self.next_reqid += 1
        self.send(IMSG["IMSG_LOOKUP"],
                  self.lookup_payload(reqid, user, svc, **kw))
        return reqid

    def result(self, timeout=WAIT_SEC):
        """The next IMSG_LOOKUP_RESULT, parsed strictly; None at EOF or
        timeout. Anything else mmp-ldapd sends raises ValueError."""
        if not self.ldapd.wait_for(lambda: self.chan.msgs, timeout,
                                   lambda: self.chan.eof):
            return None
        m = self.chan.msgs.popleft()
        if m.type != IMSG["IMSG_LOOKUP_RESULT"] or m.fd is not None:
            raise ValueError("mmp-ldapd sent %s (fd %s)" %
                             (IMSG_NAME.get(m.type, m.type), m.fd))
        r = Reader(m.payload)
        reqid, status = r.u64(), r.u8()
        detail, dn, mailhost, user = r.str(), r.str(), r.str(), r.str()
        addrs = [r.str() for _ in range(r.u8())]
        verified = r.u8()
        r.end()
        return LookupResult(reqid, LOOKUP_NAME.get(status, status),
                            detail.decode(errors="replace"),
                            dn.decode(errors="replace"),
                            mailhost.decode(errors="replace"),
                            user.decode(errors="replace"),
                            [a.decode(errors="replace") for a in addrs],
                            verified)

    @staticmethod
    def certmap_payload(reqid, fields, issuer="CN=Test CA", subject=None,
                        svc=None, client="127.0.0.1:4711",
                        local="127.0.0.1:993", sid=None):
        """IMSG_CERTMAP's payload; fields: (attr, value) in certificate
        order; subject: the RFC 4514 text (made from fields if None);
        sid, the session id for the log, is reqid unless given."""
        if subject is None:
            subject = ",".join("%s=%s" % f for f in reversed(fields))
        w = Writer().u64(reqid).u64(reqid if sid is None else sid)
        w.u8(DEF["SVC_IMAP"] if svc is None else svc)
        w.str(issuer).str(subject).u8(len(fields))
        for attr, value in fields:
            w.str(attr).str(value)
        return w.str(client).str(local).b

    def certmap(self, fields, **kw):
        """Sends an IMSG_CERTMAP; returns (reqid, its result or None)."""
        reqid = self.next_reqid
        self.next_reqid += 1
        self.send(IMSG["IMSG_CERTMAP"],
                  self.certmap_payload(reqid, fields, **kw))
        return reqid, self.result()

    def ask(self, user, svc=None, **kw):
        """lookup + result: (reqid sent, result or None)."""
        reqid = self.lookup(user, svc, **kw)
        return reqid, self.result()

    def closed(self, timeout=WAIT_SEC):
        """True when mmp-ldapd closes this channel within timeout."""
        return self.ldapd.wait_for(lambda: self.chan.eof, timeout)
