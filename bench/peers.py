# The benchmark's peers, side by side with mmpd on the same slapd and
# Dovecot stores: the nginx mail proxy (Debian nginx + libnginx-mod-mail)
# with its auth_http service (bench/authhttp.py) and a Dovecot instance
# proxying through a proxy=y LDAP passdb. Each runs in the Env's temp dir
# and is stopped with it; a peer that does not come up raises with its log.

import os
import signal
import subprocess
import sys
import time

import mmptest as T

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX_BIN = "/usr/sbin/nginx"
NGINX_MAIL = "/usr/lib/nginx/modules/ngx_mail_module.so"
AUTHHTTP = os.path.join(HERE, "authhttp.py")
DOVECOT_LDAP = "/usr/lib/dovecot/modules/auth/libauthdb_ldap.so"
PROXY_ADDR = "127.0.0.21"	# the Dovecot proxy's own address
# The most sessions the bench holds at once (2 descriptors each).
SESSIONS_MAX = 10000


def need_peers():
    """The Debian packages the peers need (make bench-deps)."""
    missing = [p for p in (NGINX_BIN, NGINX_MAIL, DOVECOT_LDAP)
               if not os.path.exists(p)]
    # authhttp.py runs under Debian's python3, whatever python3 runs us.
    if subprocess.run(["/usr/bin/python3", "-c", "import ldap"],
                      stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        missing.append("python3-ldap")
    if missing:
        raise RuntimeError("the peers need %s: make bench-deps" %
                           ", ".join(missing))


def tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")[-n:]
    except OSError:
        return "(no log)"


def nofile_hard():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


class Nginx:
    """nginx's mail proxy: IMAP, POP3 and an implicit-TLS IMAP port per
    certificate kind, auth_http to bench/authhttp.py over the same LDAP."""

    def __init__(self, env, certs):
        self.env = env
        self.certs = certs
        self.dir = env.path("nginx")
        os.makedirs(self.dir)
        self.host = "127.0.0.1"
        self.imap_port = T.free_port()
        self.pop_port = T.free_port()
        self.tls_ports = {k: T.free_port() for k in sorted(certs)}
        self.auth_port = T.free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.logpath = os.path.join(self.dir, "error.log")
        self.auth_log = os.path.join(self.dir, "authhttp.log")
        self.proc = None
        self.auth = None
        env.cleanups.append(self.stop)

    def write_conf(self):
        # 2 connections a session; nginx leaves the spread over its
        # workers to epoll's wake-ups (even here: 4,870 sessions each of
        # 10,000). The hard limit, as for mmpd's relays: a container
        # without CAP_SYS_RESOURCE refuses more.
        nofile = nofile_hard()
        tls = ""
        for kind, port in sorted(self.tls_ports.items()):
            cert, key = self.certs[kind]
            tls += """
	server {{
		listen {h}:{p} ssl;
		protocol imap;
		server_name {k}.bench.test;
		ssl_certificate {c};
		ssl_certificate_key {key};
	}}""".format(h=self.host, p=port, k=kind, c=cert, key=key)
        conf = """# bench: nginx mail proxy
load_module {mod};
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile {hard};
user nobody nogroup;
pid {d}/nginx.pid;
lock_file {d}/nginx.lock;
error_log {d}/error.log notice;
events {{
	worker_connections {wc};
}}
mail {{
	auth_http {h}:{ap}/auth;
	auth_http_timeout 30s;
	proxy_pass_error_message on;
	proxy_timeout 30m;
	timeout 30s;
	imap_capabilities IMAP4rev1 LITERAL+;
	pop3_auth plain;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:MAIL:10m;
	ssl_session_tickets on;
	server {{
		listen {h}:{ip};
		protocol imap;
	}}
	server {{
		listen {h}:{pp};
		protocol pop3;
	}}{tls}
}}
""".format(mod=NGINX_MAIL, d=self.dir, h=self.host, ap=self.auth_port,
           ip=self.imap_port, pp=self.pop_port, tls=tls, hard=nofile,
           wc=nofile - 64)
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        env = self.env
        pwfile = os.path.join(self.dir, "bindpw")
        with open(pwfile, "w") as f:
            f.write(T.DM_PW + "\n")
        os.chmod(pwfile, 0o600)
        log = open(self.auth_log, "ab")
        # Debian's python3, where python3-ldap lives.
        self.auth = subprocess.Popen(
            ["/usr/bin/python3", AUTHHTTP,
             "--listen", "%s:%d" % (self.host, self.auth_port),
             "--ldap", env.slapd.url, "--binddn", T.DM_DN,
             "--bindpw-file", pwfile, "--base", T.SUFFIX,
             "--imap-port", str(env.store_imap_port),
             "--pop3-port", str(env.store_pop_port),
             "--hosts", env.hosts_file],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        if not T.wait_listen(self.host, self.auth_port, proc=self.auth):
            raise RuntimeError("nginx: its auth service (%s) did not start "
                               "(exit %s); its log %s:\n%s" %
                               (AUTHHTTP, self.auth.poll(), self.auth_log,
                                tail(self.auth_log)))
        self.write_conf()
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-p", self.dir, "-e", self.logpath, "-c",
             self.conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        for port in [self.imap_port, self.pop_port] + \
                list(self.tls_ports.values()):
            if not T.wait_listen(self.host, port, proc=self.proc):
                raise RuntimeError("nginx did not start (exit %s, port %d); "
                                   "its log %s:\n%s" %
                                   (self.proc.poll(), port, self.logpath,
                                    tail(self.logpath)))
        return self

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None \
            else []

    def auth_pids(self):
        return [self.auth.pid] if self.auth and self.auth.poll() is None \
            else []

    def stop(self):
        for p in (self.proc, self.auth):
            if p is not None and p.poll() is None:
                # nginx: SIGTERM is its fast shutdown, workers included.
                T.kill_pid(p.pid, signal.SIGTERM, 10)
                p.wait()
        self.proc = self.auth = None


class DovecotProxy:
    """A Dovecot instance of its own (address, base_dir) whose login
    processes proxy every user to the store its LDAP entry's mailHost
    names; the store checks the password (nopassword=y here)."""

    def __init__(self, env, certs):
        self.env = env
        self.certs = certs
        self.name = "dovecot-proxy"
        self.host = PROXY_ADDR
        self.dir = env.path("dovecot-proxy")
        os.makedirs(os.path.join(self.dir, "state"))
        self.imap_port = T.free_port((self.host,))
        self.pop_port = T.free_port((self.host,))
        self.tls_ports = {k: T.free_port((self.host,)) for k in
                          sorted(certs)}
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.ldap_conf = os.path.join(self.dir, "ldap.conf")
        self.logpath = os.path.join(self.dir, "dovecot.log")
        self.pid = None
        env.cleanups.append(self.stop)

    def write_conf(self):
        env = self.env
        with open(self.ldap_conf, "w") as f:
            f.write("""# bench: the Dovecot proxy's passdb, the bench's slapd
uris = {url}
dn = {dn}
dnpass = {pw}
auth_bind = no
ldap_version = 3
base = {base}
scope = subtree
pass_filter = (uid=%u)
pass_attrs = =proxy=y, =nopassword=y, mailHost=host, \
=port=%{{if;%{{service}};eq;imap;{ip};{pp}}}
""".format(url=env.slapd.url, dn=T.DM_DN, pw=T.DM_PW, base=T.SUFFIX,
           ip=env.store_imap_port, pp=env.store_pop_port))
        os.chmod(self.ldap_conf, 0o600)
        (c0, k0) = self.certs[sorted(self.certs)[0]]
        names = ""
        for kind in sorted(self.certs):
            cert, key = self.certs[kind]
            names += ("local_name %s.bench.test {\n  ssl_cert = <%s\n"
                      "  ssl_key = <%s\n}\n" % (kind, cert, key))
        listeners = ""
        for kind, port in sorted(self.tls_ports.items()):
            listeners += ("  inet_listener imaps-%s {\n    address = %s\n"
                          "    port = %d\n    ssl = yes\n  }\n" %
                          (kind, self.host, port))
        # Per login process: SESSIONS_MAX clients of 2 descriptors each
        # would pass the hard limit; the master starts more processes.
        cl = SESSIONS_MAX // 2
        conf = """# bench: Dovecot proxy
instance_name = bench-proxy-{pid}
base_dir = {d}/run
state_dir = {d}/state
listen = {addr}
protocols = imap pop3
ssl = yes
ssl_cert = <{c0}
ssl_key = <{k0}
ssl_min_protocol = TLSv1.2
{names}log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
auth_failure_delay = 0
auth_mechanisms = plain login
auth_username_chars =
disable_plaintext_auth = no
login_greeting = dovecot-proxy ready.
default_client_limit = {cl}
default_vsz_limit = 1G
passdb {{
  driver = ldap
  args = {ldap}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home=/nonexistent
}}
service imap-login {{
  inet_listener imap {{
    address = {addr}
    port = {ip}
  }}
{listeners}  service_count = 0
  process_min_avail = {ncpu}
  process_limit = 8
  client_limit = {cl}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {addr}
    port = {pp}
  }}
  service_count = 0
  process_min_avail = {ncpu}
  process_limit = 8
  client_limit = {cl}
}}
service auth {{
  client_limit = {cl3}
}}
service anvil {{
  client_limit = {cl3}
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""".format(pid=os.getpid(), d=self.dir, addr=self.host, c0=c0, k0=k0,
           names=names, ldap=self.ldap_conf, ip=self.imap_port,
           pp=self.pop_port, listeners=listeners, cl=cl, cl3=cl * 4,
           ncpu=os.cpu_count() or 2)
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.write_conf()
        out = os.path.join(self.dir, "start.out")
        with open(out, "wb") as f:
            r = subprocess.run(["dovecot", "-c", self.conf],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        if r.returncode != 0:
            raise RuntimeError("dovecot-proxy did not start (exit %d): %s\n"
                               "its log %s:\n%s" %
                               (r.returncode, tail(out), self.logpath,
                                tail(self.logpath)))
        pidfile = os.path.join(self.dir, "run", "master.pid")
        end = time.time() + T.READY_SEC
        while time.time() < end and self.pid is None:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        for port in [self.imap_port, self.pop_port] + \
                list(self.tls_ports.values()):
            if not T.wait_listen(self.host, port):
                raise RuntimeError("dovecot-proxy not listening on %s:%d; "
                                   "its log %s:\n%s" %
                                   (self.host, port, self.logpath,
                                    tail(self.logpath)))
        return self

    def pids(self):
        return [self.pid] if self.pid and T.pid_alive(self.pid) else []

    def stop(self):
        if self.pid is None:
            try:
                with open(os.path.join(self.dir, "run", "master.pid")) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                return
        T.kill_pid(self.pid, signal.SIGTERM, 10)
        self.pid = None


if __name__ == "__main__":
    sys.exit("peers.py is a module of bench/bench.py")
