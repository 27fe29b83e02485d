#!/usr/bin/env python3
# make demo's script in its self-check mode: it starts slapd, two stores and
# mmpd, logs in with curl over IMAP and POP3, stops everything and removes
# its directory.

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402


def main(tap):
    T.need_root()
    T.need_binaries()
    env = dict(os.environ, DEMO_NO_WAIT="1",
               DEMO_IMAP_PORT=str(T.free_port()),
               DEMO_POP_PORT=str(T.free_port()),
               DEMO_IMAPS_PORT=str(T.free_port()),
               DEMO_POP3S_PORT=str(T.free_port()))
    r = subprocess.run(["sh", os.path.join(T.ROOT, "etc", "demo", "demo.sh")],
                       cwd=T.ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=180)
    out = r.stdout.decode("latin-1")
    diag = out[-4000:]
    tap.is_(r.returncode, 0, "demo.sh with DEMO_NO_WAIT=1 exits 0") or \
        tap.diag(diag)
    tap.ok(re.search(r"^demo: IMAP check \(curl, alice\): OK$", out, re.M),
           "demo: curl logs in over IMAP and fetches alice's message", diag)
    tap.ok(re.search(r"^demo: POP3 check \(curl, bob\): OK$", out, re.M),
           "demo: curl logs in over POP3 and retrieves bob's message", diag)
    tap.ok(re.search(r"^demo: IMAPS check \(curl, alice\): OK$", out,
                     re.M), "demo: curl --cacert logs in over IMAPS",
           diag)
    tap.ok(re.search(r"^demo: POP3S check \(curl, bob\): OK$", out,
                     re.M), "demo: curl --cacert logs in over POP3S",
           diag)
    tap.ok(re.search(r"curl -v --cacert \S+/ca\.pem 'imaps://127\.0\.0"
                     r"\.1:%s/" % env["DEMO_IMAPS_PORT"], out) and
           re.search(r"openssl s_client -connect 127\.0\.0\.1:%s "
                     r"-CAfile" % env["DEMO_IMAPS_PORT"], out),
           "demo prints how to trust its CA (curl, openssl)", diag)
    tap.ok(re.search(r"curl -v 'imap://127\.0\.0\.1:%s/" %
                     env["DEMO_IMAP_PORT"], out) and "password" in out,
           "demo prints how to log in", diag)
    m = re.search(r"^demo: working directory: (\S+)$", out, re.M)
    tap.ok(m and not os.path.exists(m.group(1)),
           "demo removed its working directory", diag)
    left = []
    if m:
        for d in os.listdir("/proc"):
            if d.isdigit() and m.group(1) in T.proc_cmdline(int(d)):
                left.append("%s: %s" % (d, T.proc_cmdline(int(d))))
    tap.ok(m and not left, "no slapd or Dovecot of the demo left running",
           "\n".join(left))
    m = re.search(r"mmpd pid (\d+)", out)
    tap.ok(m and not T.pid_alive(int(m.group(1))), "demo stopped mmpd")


T.run(main)
