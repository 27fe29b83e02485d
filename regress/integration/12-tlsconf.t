#!/usr/bin/env python3
# The parent's side of TLS: the product's NSS databases are refused with
# how to convert them, a missing key file refuses the start and a reload
# (the running configuration stays, the log names the file), the NSS-only
# keys are warned about, `mmpd -nn` shows the TLS keys, and the parent
# keeps no byte of a key it read.

import os
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

PEM = "-----BEGIN %s-----\n%s\n-----END %s-----\n"
# What the parent must not keep: the body of a private key.
KEY_BODY = "TWF5IHRoZSBwYXJlbnQgZm9yZ2V0IG1lIGF0IG9uY2UsIDQyIHRpbWVz"


def pem(what, body="AAAA"):
    return PEM % (what, body, what)


def write(path, data, mode=0o600):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def files(env):
    """A certificate, its key, a second pair, a CA: PEM files."""
    d = env.path("tls")
    os.makedirs(d, exist_ok=True)
    return {
        "cert": write(os.path.join(d, "cert.pem"), pem("CERTIFICATE")),
        "key": write(os.path.join(d, "key.pem"),
                     pem("PRIVATE KEY", KEY_BODY)),
        "cert2": write(os.path.join(d, "cert2.pem"), pem("CERTIFICATE")),
        "key2": write(os.path.join(d, "key2.pem"), pem("PRIVATE KEY")),
        "ca": write(os.path.join(d, "ca.pem"), pem("CERTIFICATE")),
    }


def tls_keys(f, cert=None, key=None):
    return {"SSLEnable": "yes", "SSLPorts": "",
            "SSLCertFile": cert or f["cert"], "SSLKeyFile": key or f["key"]}


def mmpd_conf(env, name, imap=None, aservice=None):
    m = env.mmpd(name, pop_ports=[], imap=imap, aservice=aservice)
    return m, m.write_config()


def check(m, *flags):
    r = subprocess.run([T.MMPD_BIN] + list(flags) + ["-f", m.confdir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return (r.returncode, r.stdout.decode("latin-1"),
            r.stderr.decode("latin-1"))


def test_nss(tap, env, f):
    m, lines = mmpd_conf(env, "nssname", tls_keys(
        f, cert="/opt/mmp/cert7.db", key="/opt/mmp/key3.db"))
    rc, out, err = check(m, "-n")
    tap.ok(rc == 1 and re.search(
        r"ImapProxyAService\.cfg:%d: SSLCertFile: \"/opt/mmp/cert7\.db\" "
        r"is an NSS database; mmpd needs PEM files: export them with "
        r"pk12util .*openssl pkcs12" %
        lines["ImapProxyAService.cfg"]["SSLCertFile"], err),
        "NSS database by name: refused with file:line and how to convert",
        err)

    # Berkeley DB 1.85 hash magic, as cert7.db starts.
    bdb = write(env.path("tls", "server.crt"),
                struct.pack("<I", 0x061561) + b"\0" * 60)
    m, lines = mmpd_conf(env, "nsscontent", tls_keys(f, cert=bdb))
    rc, out, err = check(m, "-n")
    tap.ok(rc == 1 and re.search(
        r"ImapProxyAService\.cfg:%d: SSLCertFile %s is an NSS database; "
        r"mmpd needs PEM files" % (
            lines["ImapProxyAService.cfg"]["SSLCertFile"], re.escape(bdb)),
        err), "NSS database by content: refused", err)

    der = write(env.path("tls", "key.der"), b"\x30\x82\x01\x00" + b"x" * 40)
    m, lines = mmpd_conf(env, "der", tls_keys(f, key=der))
    rc, out, err = check(m, "-n")
    tap.ok(rc == 1 and re.search(
        r"ImapProxyAService\.cfg:%d: SSLKeyFile %s is not PEM" % (
            lines["ImapProxyAService.cfg"]["SSLKeyFile"], re.escape(der)),
        err), "a key file without PEM armor: refused", err)


def test_warnings(tap, env, f):
    imap = tls_keys(f)
    imap.update({"SSLSecmodFile": "/opt/mmp/secmod.db",
                 "SSLCertNicknames": "Server-Cert",
                 "SSLCacheDir": "/opt/mmp",
                 "SSLBacksidePort": 993, "SSLStoreCAFile": f["ca"],
                 "SSLStoreVerify": "no"})
    m, lines = mmpd_conf(env, "warn", imap)
    rc, out, err = check(m, "-n")
    tap.is_(rc, 0, "NSS keys and SSLStoreVerify no: mmpd -n exits 0") or \
        tap.diag(err)
    where = lines["ImapProxyAService.cfg"]
    for key in ("SSLSecmodFile", "SSLCertNicknames", "SSLCacheDir"):
        tap.ok("ImapProxyAService.cfg:%d: mmpd uses PEM files; %s is "
               "ignored" % (where[key], key) in err,
               "%s: warned as ignored, with file:line" % key, err)
    tap.ok("not in effect in this version" not in err,
           "no TLS key listed as not in effect", err)
    tap.ok("SSLStoreVerify no: the stores' certificates are not verified"
           in err, "SSLStoreVerify no: warned", err)


def test_dump(tap, env, f):
    imap = tls_keys(f, cert="%s %s" % (f["cert"], f["cert2"]),
                    key="%s  %s" % (f["key"], f["key2"]))
    imap.update({"SSLProtocols": "tlsv1.3", "SSLCipherSpecs":
                 "ECDHE+AESGCM", "StoreStartTLS": "yes",
                 "SSLStoreCAFile": f["ca"], "RestrictPlainPasswords": "yes",
                 "SSLClientCAFile": f["ca"]})
    m, lines = mmpd_conf(env, "dump", imap, aservice={
        "TLSWorkers": 3, "SSLSessionLifetime": 600, "TlsUser": "_mmptls"})
    rc, out, err = check(m, "-nn")
    tap.is_(rc, 0, "mmpd -nn with TLS exits 0") or tap.diag(err)
    wi, wa = lines["ImapProxyAService.cfg"], lines["AService.cfg"]
    want = [
        ("AService", "TLSWorkers", "3", "AService.cfg:%d" % wa["TLSWorkers"]),
        ("AService", "SSLSessionLifetime", "600",
         "AService.cfg:%d" % wa["SSLSessionLifetime"]),
        ("AService", "TlsUser", "_mmptls", "AService.cfg:%d" % wa["TlsUser"]),
        ("ImapProxyAService", "SSLCertFile", "%s %s" % (f["cert"],
         f["cert2"]), "ImapProxyAService.cfg:%d" % wi["SSLCertFile"]),
        ("ImapProxyAService", "SSLKeyFile", "%s %s" % (f["key"], f["key2"]),
         "ImapProxyAService.cfg:%d" % wi["SSLKeyFile"]),
        ("ImapProxyAService", "SSLProtocols", "TLSv1.3",
         "ImapProxyAService.cfg:%d" % wi["SSLProtocols"]),
        ("ImapProxyAService", "SSLCipherSpecs", "ECDHE+AESGCM",
         "ImapProxyAService.cfg:%d" % wi["SSLCipherSpecs"]),
        ("ImapProxyAService", "StoreStartTLS", "yes",
         "ImapProxyAService.cfg:%d" % wi["StoreStartTLS"]),
        ("ImapProxyAService", "RestrictPlainPasswords", "yes",
         "ImapProxyAService.cfg:%d" % wi["RestrictPlainPasswords"]),
        ("ImapProxyAService", "SSLStoreVerify", "yes", "default"),
        ("ImapProxyAService", "SSLBacksidePort", "0", "default"),
    ]
    for fname, key, value, origin in want:
        line = '%s.cfg: default:%s "%s"   # %s\n' % (fname, key, value,
                                                    origin)
        tap.ok(line in out, "-nn: %s %s" % (key, value), out)
    tap.ok(KEY_BODY not in out and KEY_BODY not in err,
           "-nn: no byte of the key printed")


def test_start_missing(tap, env, f):
    gone = env.path("tls", "gone.key")
    m, lines = mmpd_conf(env, "startmissing", tls_keys(f, key=gone))
    rc, out, err = check(m, "-n")
    line = lines["ImapProxyAService.cfg"]["SSLKeyFile"]
    msg = "ImapProxyAService.cfg:%d: SSLKeyFile %s: cannot open: No such " \
          "file or directory" % (line, gone)
    tap.ok(rc == 1 and msg in err, "-n: missing key file refused, named "
           "with file:line", err)
    m.start(wait=False)
    try:
        m.proc.wait(15)
    except subprocess.TimeoutExpired:
        pass
    tap.ok(m.proc.poll() not in (None, 0) and msg in m.log(),
           "start: missing key file: mmpd does not start, log names it",
           m.log()[-2000:])
    tap.ok(not re.search(r"mmp-(ldapd|tlsd).* started", m.log()),
           "start: no child started", m.log()[-2000:])


def test_reload(tap, env, f):
    m = env.mmpd("reload", pop_ports=[])
    m.start()
    port = m.imap_ports[0]
    off = m.log_size()
    gone = env.path("tls", "gone.key")
    m.conf_imap.update(tls_keys(f, key=gone))
    lines = m.write_config()
    m.reload()
    msg = "reload refused: ImapProxyAService.cfg:%d: SSLKeyFile %s: cannot " \
          "open: No such file or directory; keeping the running " \
          "configuration" % (lines["ImapProxyAService.cfg"]["SSLKeyFile"],
                             gone)
    got = m.wait_log(re.escape(msg), off)
    tap.ok(got is not None, "reload with a missing key file: refused, the "
           "log names file:line and the file", m.log_since(off))
    with m.imap(port) as c:
        tap.ok(c.greeting.startswith(b"* OK"), "the running configuration "
               "still serves")
    tap.ok(not m.child_pids("mmp-tlsd"),
           "no mmp-tlsd started by the refused reload")

    # Files that are there: the reload applies them, the parent read the
    # key and must hold none of it.
    off = m.log_size()
    m.conf_imap.update(tls_keys(f))
    m.write_config()
    m.reload()
    done = m.wait_log(r"configuration 2 loaded", off)
    tap.ok(done is not None, "reload with the key file: loaded",
           m.log_since(off))
    tap.ok(T.poll(lambda: m.child_pids("mmp-tlsd"), bool, 5),
           "... and mmp-tlsd started (the control of the refused reload's "
           "none)")
    time.sleep(0.5)
    held = T.memory_holds(m.pid, [KEY_BODY.encode()])
    tap.ok(held == set(), "the parent's memory holds no byte of the key "
           "it read", repr(held))
    m.stop()


def main(tap):
    T.need_root()
    T.need_binaries()
    T.ensure_users()
    env = T.Env("tlsconf", tap)
    with open(env.hosts_file, "w") as fh:
        fh.write("127.0.0.1 localhost\n")
    f = files(env)
    test_nss(tap, env, f)
    test_warnings(tap, env, f)
    test_dump(tap, env, f)
    test_start_missing(tap, env, f)
    test_reload(tap, env, f)


T.run(main)
