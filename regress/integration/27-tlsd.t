#!/usr/bin/env python3
# mmp-tlsd on its own, driven by a fake parent and relay: handshakes with
# Python's ssl as client and as store, bytes both ways, SNI, session
# tickets across two mmp-tlsd processes, client certificates verified and
# refused, encrypted keys, bad files at start and at a reload, relays that
# break the protocol, the sandbox the process runs in, DRAIN (retired:
# no new session, the open ones end, then exit 0), and a relay that
# leaves its results unread (its channel is closed, the others serve on).

import array
import os
import pwd
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402
import tlsdharness as TH  # noqa: E402
from tlsdharness import IMAP  # noqa: E402

MIB = 1 << 20


def files(pki, cert0="server", key0=None, extra=(), client_ca="ca",
          store_ca="ca"):
    f = [(IMAP, "TLS_FILE_CERT", 0, pki.crt(cert0)),
         (IMAP, "TLS_FILE_KEY", 0, key0 or pki.key(cert0)),
         (IMAP, "TLS_FILE_CERT", 1, pki.crt("mail")),
         (IMAP, "TLS_FILE_KEY", 1, pki.key("mail"))]
    if client_ca:
        f.append((IMAP, "TLS_FILE_CLIENT_CA", 0, pki.crt(client_ca)))
    if store_ca:
        f.append((IMAP, "TLS_FILE_STORE_CA", 0, pki.crt(store_ca)))
    return f + list(extra)


def client_ctx(pki, maxv=None, cert=None):
    ctx = ssl.create_default_context(cafile=pki.crt("ca"))
    if maxv is not None:
        ctx.maximum_version = maxv
    if cert is not None:
        ctx.load_cert_chain(pki.crt(cert), pki.key(cert))
    return ctx


def session(relay, lst, ctx, name="localhost", sess=None):
    """A client connects, the relay hands the socket over; returns
    (RESULT, client SSLSocket or the exception, plaintext end)."""
    c = socket.create_connection(("127.0.0.1", lst.port))
    a = lst.accept()
    out = {}

    def handshake():
        try:
            c.settimeout(H.WAIT_SEC)
            out["s"] = ctx.wrap_socket(c, server_hostname=name,
                                       session=sess)
        except Exception as e:
            out["s"] = e
    th = threading.Thread(target=handshake)
    th.start()
    _, plain = relay.start(a)
    a.close()
    r = relay.result()
    th.join(H.WAIT_SEC)
    if "s" not in out:
        out["s"] = RuntimeError("client handshake did not finish")
    return r, out["s"], plain


def good(tap, r, s, what):
    return tap.ok(r is not None and r.status == "TLS_OK" and
                  isinstance(s, ssl.SSLSocket),
                  "%s: handshake OK" % what, "result %r, client %r" % (r, s))


def test_basic(tap, relay, lst, pki):
    r, s, plain = session(relay, lst, client_ctx(pki))
    if not good(tap, r, s, "basic"):
        return
    tap.ok(r.version == "TLSv1.3" and r.cipher.startswith("TLS_") and
           r.sni == "localhost" and r.cert == "TLS_CERT_NONE" and
           r.resumed == 0 and r.fields == [],
           "basic: RESULT says TLSv1.3, its cipher, SNI localhost, no "
           "certificate", repr(r))
    a = os.urandom(MIB)
    b = os.urandom(MIB)
    got_plain, got_tls = TH.exchange(s, plain, a, b)
    tap.ok(got_plain == a, "1 MiB client -> plaintext end, byte-exact",
           "got %d bytes" % len(got_plain))
    tap.ok(got_tls == b, "1 MiB plaintext end -> client, byte-exact",
           "got %d bytes" % len(got_tls))
    s.close()
    plain.settimeout(H.WAIT_SEC)
    tap.is_(plain.recv(10), b"", "client gone: the plaintext end sees EOF")
    plain.close()
    # The other way round: the relay closes, the client gets close_notify.
    r, s, plain = session(relay, lst, client_ctx(pki))
    plain.sendall(b"* BYE\r\n")
    plain.close()
    s.settimeout(H.WAIT_SEC)
    data = b""
    try:
        while True:
            d = s.recv(100)
            if not d:
                break
            data += d
    except (ssl.SSLError, OSError) as e:
        data += repr(e).encode()
    tap.is_(data, b"* BYE\r\n", "relay closes: the client gets what was "
            "written, then a clean TLS end")
    s.close()


def test_sni(tap, relay, lst, pki):
    r, s, plain = session(relay, lst, client_ctx(pki), "mail.example.test")
    if good(tap, r, s, "SNI mail.example.test"):
        cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
        tap.is_(cn, "mail.example.test", "SNI picks the second certificate")
        tap.is_(r.sni, "mail.example.test", "RESULT carries the SNI")
        s.close()
    plain.close()


def resume(tap, relay, lst, pki, maxv, what, relay2=None, lst2=None):
    ctx = client_ctx(pki, maxv)
    r, s, plain = session(relay, lst, ctx)
    if not good(tap, r, s, what + " first"):
        return
    TH.exchange(s, plain, b"a", b"b")
    sess = s.session
    s.close()
    plain.close()
    r, s, plain = session(relay2 or relay, lst2 or lst, ctx, sess=sess)
    if good(tap, r, s, what + " again"):
        tap.ok(s.session_reused and r.resumed == 1,
               "%s: the session is resumed (client and RESULT)" % what,
               "client %s, result %r" % (s.session_reused, r))
        s.close()
    plain.close()


def test_client_certs(tap, relay, lst, pki):
    r, s, plain = session(relay, lst, client_ctx(pki, cert="pilar"))
    if good(tap, r, s, "client certificate"):
        tap.is_((r.cert, r.subject, r.issuer, r.fields),
                ("TLS_CERT_VERIFIED", "CN=Pilar Lorca,OU=pilar,O=siroe.com",
                 "CN=mmpd test CA,O=mmpd test",
                 [("O", "siroe.com"), ("OU", "pilar"),
                  ("CN", "Pilar Lorca")]),
                "client certificate VERIFIED, fields in certificate order")
        s.close()
    plain.close()
    r, s, plain = session(relay, lst, client_ctx(pki, cert="intruder"))
    if good(tap, r, s, "rogue client certificate"):
        tap.ok(r.cert == "TLS_CERT_REFUSED" and r.fields == [] and
               r.subject == "" and re.match(
                   r"client certificate: .*\(subject CN=Pilar Lorca,"
                   r"O=siroe.com\)", r.detail),
               "rogue CA: REFUSED with why, no names", repr(r))
        s.close()
    plain.close()


def test_reload_bad(tap, td, relay, lst, pki):
    since = len(td.log)
    td.send_conf(TH.tls_conf(), files(pki, key0=pki.key("mail")), gen=2)
    tap.ok(td.wait_ready(2), "reload with a key that does not match: "
           "READY 2 all the same")
    tap.ok(td.wait_log(r"configuration 2: TLS part refused: SSLKeyFile " +
                       re.escape(pki.key("mail")) + ".*does not match.*"
                       r"configuration 1 stay in use", since),
           "the log names the key file, why, and what stays in use",
           td.log_text(since))
    kept = [H.Reader(m.payload) for m in td.others
            if m.type == H.IMSG["IMSG_TLS_CONF_KEPT"]]
    tap.ok(len(kept) == 1 and (kept[0].u32(), kept[0].u32()) == (2, 1),
           "the parent is told: TLS_CONF_KEPT 2, 1 in use",
           "%d messages" % len(kept))
    r, s, plain = session(relay, lst, client_ctx(pki))
    if good(tap, r, s, "after the bad reload"):
        tap.ok(td.alive(), "the old certificate serves on")
        s.close()
    plain.close()


def test_bad_first(tap, env, pki):
    td = TH.Tlsd(env, 7)
    td.spawn()
    td.send_conf(TH.tls_conf(), files(pki, key0=pki.key("mail")))
    td.wait_for(lambda: False, 5, lambda: not td.alive() or
                td.parent.eof)
    td.wait_for(lambda: not td.alive(), 5, lambda: False)
    tap.ok(not td.alive() and td.status is not None and
           os.WIFEXITED(td.status) and os.WEXITSTATUS(td.status) != 0,
           "a bad key at the first configuration: mmp-tlsd exits",
           td.how())
    tap.ok(re.search(re.escape(pki.key("mail")), td.log_text()),
           "and its last log line names the file", td.log_text())


def store_server(pki, lst, out):
    """One TLS handshake as a store, then echo one line."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.crt("server"), pki.key("server"))
    a = lst.accept()
    try:
        a.settimeout(H.WAIT_SEC)
        s = ctx.wrap_socket(a, server_side=True)
        s.sendall(s.recv(100))
        out["ok"] = True
        s.close()
    except Exception as e:
        out["ok"] = e
        a.close()


def to_store(relay, lst, pki, name):
    out = {}
    th = threading.Thread(target=store_server, args=(pki, lst, out))
    th.start()
    c = socket.create_connection(("127.0.0.1", lst.port))
    _, plain = relay.start(c, role="TLS_ROLE_CLIENT", servername=name)
    c.close()
    r = relay.result()
    echo = None
    if r is not None and r.status == "TLS_OK":
        plain.settimeout(H.WAIT_SEC)
        plain.sendall(b"a1 NOOP\r\n")
        echo = plain.recv(100)
    th.join(H.WAIT_SEC)
    plain.close()
    return r, echo, out.get("ok")


def test_client_role(tap, env, relay, lst, pki):
    for name in ("localhost", "127.0.0.1"):
        r, echo, ok = to_store(relay, lst, pki, name)
        tap.ok(r is not None and r.status == "TLS_OK" and
               echo == b"a1 NOOP\r\n" and ok is True,
               "to a store as %s: verified, bytes both ways" % name,
               "%r %r %r" % (r, echo, ok))
    td = TH.Tlsd(env, 3, env.tap).start(
        TH.tls_conf(), files(pki, store_ca="rogue"))
    r2 = td.relay(0)
    r, echo, ok = to_store(r2, lst, pki, "localhost")
    tap.ok(r is not None and r.status == "TLS_FAILED" and
           re.search("verif", r.detail),
           "store certificate from another CA: TLS_FAILED, with why",
           repr(r))
    tap.ok(td.wait_log("TLS handshake with 127.0.0.1:\\d+ failed: "),
           "the failure is logged with the store's address")
    td.send_conf(TH.tls_conf({"SSLStoreVerify": "no"}),
                 files(pki, store_ca="rogue"), gen=2)
    tap.ok(td.wait_ready(2), "reload to SSLStoreVerify no")
    r, echo, ok = to_store(r2, lst, pki, "localhost")
    tap.ok(r is not None and r.status == "TLS_OK" and
           echo == b"a1 NOOP\r\n", "SSLStoreVerify no: the handshake "
           "succeeds", repr(r))
    td.stop()


def test_protocol(tap, td, relay, lst):
    bad = td.relay(5)
    since = len(td.log)
    a, b = socket.socketpair()
    bad.plain(9, a)
    tap.ok(bad.closed(), "PLAIN without START: relay 5's channel closed")
    tap.ok(td.wait_log(r"relay 5: TLS_PLAIN 9 without its TLS_START",
                       since), "and logged", td.log_text(since))
    bad = td.relay(6)
    c = socket.create_connection(("127.0.0.1", lst.port))
    acc = lst.accept()
    bad.start(acc, plain=False)
    bad.start(acc, plain=False)
    tap.ok(bad.closed(), "a second START before PLAIN: channel closed")
    tap.ok(td.wait_log(r"relay 6: TLS_START 2 while 1 waits", since),
           "and logged", td.log_text(since))
    for s in (a, b, c, acc):
        s.close()
    tap.ok(td.alive(), "mmp-tlsd lives on")


def exited_0(td, timeout=H.WAIT_SEC):
    td.wait_for(lambda: not td.alive(), timeout, lambda: False)
    return (not td.alive() and td.status is not None and
            os.WIFEXITED(td.status) and os.WEXITSTATUS(td.status) == 0)


def test_drain(tap, env, pki, lst):
    """DRAIN: no new session, the relays told, the open one goes on, exit
    0 when it ends; and at once when none is open."""
    td = TH.Tlsd(env, 5, tap).start(TH.tls_conf(), files(pki))
    relay = td.relay(0)
    r, s, plain = session(relay, lst, client_ctx(pki))
    if not good(tap, r, s, "drain: a session before DRAIN"):
        return
    since = len(td.log)
    td.parent.send(H.IMSG["IMSG_DRAIN"])
    got = td.wait_for(lambda: relay.chan.msgs)
    m = relay.chan.msgs.popleft() if got else None
    tap.ok(m is not None and m.type == H.IMSG["IMSG_TLSD_DRAINING"] and
           m.payload == b"" and m.fd is None,
           "DRAIN: the relay is told TLSD_DRAINING, no payload",
           repr(m))
    tap.ok(td.wait_log(r"mmp-tlsd 5 retired by the parent: draining 1 TLS sessions",
                       since), "and the log says it drains 1 session",
           td.log_text(since))
    r2, s2, plain2 = session(relay, lst, client_ctx(pki))
    tap.ok(r2 is not None and r2.status == "TLS_FAILED" and
           r2.detail == "mmp-tlsd is retiring",
           "a START while draining: TLS_FAILED, \"mmp-tlsd is retiring\"",
           repr(r2))
    if isinstance(s2, ssl.SSLSocket):
        s2.close()
    plain2.close()
    got_plain, got_tls = TH.exchange(s, plain, b"a1 NOOP\r\n",
                                     b"a1 OK NOOP\r\n")
    tap.ok(got_plain == b"a1 NOOP\r\n" and got_tls == b"a1 OK NOOP\r\n",
           "the session open before DRAIN works on", repr((got_plain,
                                                          got_tls)))
    tap.ok(td.alive(), "mmp-tlsd lives while a session is open")
    s.close()
    plain.close()
    tap.ok(exited_0(td), "the last session ended: mmp-tlsd exits 0",
           td.how())
    td.pump(0.2)
    tap.ok(re.search(r"mmp-tlsd 5 drained: no TLS session left, exiting",
                     td.log_text(since)), "and says why",
           td.log_text(since))
    tap.ok(relay.closed(), "the relay's channel ends with it")

    td = TH.Tlsd(env, 6, tap).start(TH.tls_conf(), files(pki))
    relay = td.relay(0)
    td.parent.send(H.IMSG["IMSG_DRAIN"])
    tap.ok(exited_0(td), "DRAIN with no session open: mmp-tlsd exits 0 "
           "at once", td.how())


def unread_bound():
    """TLSD_RELAY_QUEUE_MAX of mmp-tlsd/tlsd.h; 100,000 if it has none
    (a build from before the bound: the flood is sized all the same)."""
    with open(os.path.join(T.ROOT, "mmp-tlsd", "tlsd.h")) as f:
        m = re.search(r"^#define\s+TLSD_RELAY_QUEUE_MAX\s+(\d+)", f.read(),
                      re.M)
    return int(m.group(1)) if m else 100000


def flood_pairs(relay, n, sect):
    """n START/PLAIN pairs for sect, as fast as mmp-tlsd takes them, each
    message with its descriptor in its own sendmsg as a relay sends them.
    The kernel gives mmp-tlsd a new descriptor per message, closed when
    the pair fails: two of ours serve every pair, far from RLIMIT_NOFILE.
    (pairs sent, the error that stopped the flood or None)."""
    net, plain = socket.socketpair()
    net.setblocking(False)	# mmp-tlsd's F_SETFL saved
    plain.setblocking(False)
    anc_net = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                array.array("i", [net.fileno()]))]
    anc_plain = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                  array.array("i", [plain.fileno()]))]
    tail = H.Writer().u8(TH.ROLE["TLS_ROLE_SERVER"]).u8(sect).str(
        "192.0.2.1:993").str("192.0.2.2:993").str("").b
    start_t, plain_t = H.IMSG["IMSG_TLS_START"], H.IMSG["IMSG_TLS_PLAIN"]
    hasfd = H.DEF["IMSG_HASFD"]
    sock = relay.chan.sock
    sock.settimeout(H.WAIT_SEC)
    sent, err = 0, None
    try:
        for i in range(1, n + 1):
            body = struct.pack("<QQ", i, 0x1000000000000 + i) + tail
            sock.sendmsg([H.HDR.pack(start_t, H.HDR.size + len(body), hasfd,
                                     0) + body], anc_net)
            sock.sendmsg([H.HDR.pack(plain_t, H.HDR.size + 8, hasfd, 0) +
                          struct.pack("<Q", i)], anc_plain)
            sent = i
    except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
        err = e
    finally:
        sock.setblocking(False)
        net.close()
        plain.close()
    return sent, err


def test_unread(tap, env, pki, lst):
    """A relay that hands sessions over and never reads the results: each
    pair fails at once (POP has no SSLCertFile here), its result queued.
    Over TLSD_RELAY_QUEUE_MAX mmp-tlsd closes that channel and says why;
    it lives on and another relay's handshakes go on. The flood is the
    bound and a quarter: the results our socket holds (a few hundred)
    are not queued in mmp-tlsd."""
    conf = TH.tls_conf()
    # No line per failed pair (POP's LogLevel, and no -v to override it):
    # the parent's end is not read during the flood, and a full log queue
    # would drop the line this test looks for.
    conf["PopProxyAService.cfg"]["LogLevel"] = 4
    td = TH.Tlsd(env, 8, tap)
    td.argv = [a for a in td.argv if a != "-v"]
    td.start(conf, files(pki))
    relay = td.relay(0)
    bad = td.relay(1)
    td.channels.remove(bad.chan)	# pump() must not read it
    bound = unread_bound()
    since = len(td.log)
    n = bound + bound // 4
    t0 = time.monotonic()
    sent, err = flood_pairs(bad, n, TH.POP)
    tap.diag("flood: %d of %d pairs sent in %.1f s, then %r" % (
        sent, n, time.monotonic() - t0, err))
    td.channels.append(bad.chan)
    tap.ok(bad.closed(), "a relay that never reads its results: its "
           "channel is closed", "%d pairs sent" % sent)
    res = [m for m in bad.chan.msgs if m.type == H.IMSG["IMSG_TLS_RESULT"]]
    tap.ok(len(res) == len(bad.chan.msgs) and len(res) < sent,
           "it read TLS_RESULTs up to EOF, fewer than the pairs it sent",
           "%d messages, %d results, %d pairs" % (len(bad.chan.msgs),
                                                  len(res), sent))
    tap.ok(td.wait_log(r"relay 1 leaves more than %d TLS results unread: "
                       r"channel closed" % bound, since),
           "and the log says why", td.log_text(since)[-2000:])
    tap.ok(td.alive(), "mmp-tlsd lives on", td.how())
    r, s, plain = session(relay, lst, client_ctx(pki))
    if good(tap, r, s, "another relay, after the flood"):
        s.close()
    plain.close()
    td.stop()


def test_proc(tap, td):
    st = T.proc_status(td.pid)
    if T.LEAKCHECK:
        tap.skip("mmp-tlsd runs under seccomp with no_new_privs",
                 T.LEAKCHECK_WHY)
    else:
        tap.is_((st.get("Seccomp"), st.get("NoNewPrivs")), ("2", "1"),
                "mmp-tlsd runs under seccomp with no_new_privs")
    uid = pwd.getpwnam("_mmptls").pw_uid
    tap.ok(st.get("Uid", "").split()[:1] == [str(uid)],
           "it runs as _mmptls", st.get("Uid"))
    if T.LEAKCHECK:
        tap.skip("its root is %s" % T.CHROOT, T.LEAKCHECK_WHY)
    else:
        tap.is_(os.readlink("/proc/%d/root" % td.pid), T.CHROOT,
                "its root is %s" % T.CHROOT)


def main(tap):
    T.need_root()
    if not os.access(TH.TLSD_BIN, os.X_OK):
        raise RuntimeError("%s is not built (make all)" % TH.TLSD_BIN)
    T.ensure_users()
    try:
        pwd.getpwnam("_mmptls")
    except KeyError:	# ensure_users looks for the older users only
        subprocess.run(["sh", T.USERS_SH], check=True)
    env = T.Env("tlsd", tap)
    env.tap = tap
    pki = TH.Pki(env.path("pki"))
    keys = TH.ticket_keys(2)
    lst = TH.Listener()

    td = TH.Tlsd(env, 0, tap).start(TH.tls_conf(), files(pki))
    td.send_keys(keys)
    relay = td.relay(0)
    test_proc(tap, td)
    test_basic(tap, relay, lst, pki)
    test_sni(tap, relay, lst, pki)
    resume(tap, relay, lst, pki, ssl.TLSVersion.TLSv1_3, "TLS 1.3")
    resume(tap, relay, lst, pki, ssl.TLSVersion.TLSv1_2, "TLS 1.2")
    test_client_certs(tap, relay, lst, pki)

    # A second mmp-tlsd, its key encrypted, the same ticket keys.
    enc = files(pki, key0=pki.p("server.enc.key"), extra=[
        (IMAP, "TLS_FILE_KEYPASS", 0, pki.p("server.pass"))])
    td2 = TH.Tlsd(env, 1, tap).start(TH.tls_conf(), enc)
    td2.send_keys(keys)
    relay2 = td2.relay(0)
    lst2 = TH.Listener()
    r, s, plain = session(relay2, lst2, client_ctx(pki))
    if good(tap, r, s, "encrypted key with SSLKeyPasswdFile"):
        s.close()
    plain.close()
    resume(tap, relay, lst, pki, ssl.TLSVersion.TLSv1_3,
           "TLS 1.3 across two mmp-tlsd", relay2, lst2)
    resume(tap, relay, lst, pki, ssl.TLSVersion.TLSv1_2,
           "TLS 1.2 across two mmp-tlsd", relay2, lst2)

    test_client_role(tap, env, relay, lst, pki)
    test_reload_bad(tap, td, relay, lst, pki)
    test_protocol(tap, td, relay, lst)
    test_bad_first(tap, env, pki)
    test_drain(tap, env, pki, lst)
    test_unread(tap, env, pki, lst)

    text = td.log_text() + td2.log_text()
    tap.ok(not re.search(r"fatal|dropped", text, re.I),
           "nothing fatal, no dropped log lines", text[-2000:])
    for t in (td, td2):
        status = t.stop()
        tap.ok(status is not None and os.WIFEXITED(status) and
               os.WEXITSTATUS(status) == 0,
               "mmp-tlsd %s exits 0 when its parent channel closes" %
               t.argv[-1], "%s; stderr: %s" % (t.how(), t.stderr()))


if __name__ == "__main__":
    T.run(main)
