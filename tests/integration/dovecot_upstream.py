"""A private Dovecot (imapd + pop3d) on loopback, as the upstream server of
the fetcher's tests and benchmark.

    from dovecot_upstream import Dovecot
    dc = Dovecot(users={"u1": "pw1", "u2": "pw2"})   # config in a temp dir
    dc.start()                                       # waits for its ports
    dc.add_message("u1", b"Subject: x\\r\\n\\r\\nhi\\r\\n")   # into Maildir new/
    dc.port("imaps"), dc.port("imap"), dc.port("pop3s"), dc.port("pop3")
    dc.cert_sha256                                   # pin of its certificate
    dc.messages("u1", "INBOX")                       # what the upstream holds
    dc.close()

Its own config, passwd-file, Maildirs, certificate (self-signed, made with
the openssl command) and sockets all live under one temporary directory;
the system's Dovecot service is never touched.  Started as root, the mail
processes run as the Debian package's "dovecot" user; otherwise everything
runs as the calling user.  Needs Debian's dovecot-imapd and dovecot-pop3d (and dovecot-lmtpd for
Dovecot(lmtp=True), an LMTP listener the benchmark delivers into).
"""

import grp
import hashlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"


def available():
    return os.path.exists(DOVECOT) and os.path.exists(DOVEADM) and \
        os.path.exists("/usr/lib/dovecot/imap") and \
        os.path.exists("/usr/lib/dovecot/pop3") and shutil.which("openssl")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, users, lmtp=False, oauth2=None, oauth2_mechanisms="xoauth2 oauthbearer"):
        """oauth2: an introspection URL (RFC 7662): the users then log in
        with bearer tokens (SASL oauth2_mechanisms) that Dovecot's oauth2
        passdb checks there; their passwords work as before."""
        self.dir = tempfile.mkdtemp(prefix="mailhub-dovecot.")
        os.chmod(self.dir, 0o755)
        self.users = dict(users)
        names = ("imap", "imaps", "pop3", "pop3s") + (("lmtp",) if lmtp else ())
        self.ports = {n: _free_port() for n in names}
        self.proc = None
        if os.getuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
            internal, login = "dovecot", "dovenull"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            internal = login = pwd.getpwuid(self.uid).pw_name
        group = grp.getgrgid(self.gid).gr_name
        d = self.dir
        for sub in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(d, sub))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(d, "key.pem"),
                        "-out", os.path.join(d, "cert.pem"), "-days", "2",
                        "-subj", "/CN=upstream.test"],
                       check=True, capture_output=True)
        with open(os.path.join(d, "cert.pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        self.cert_sha256 = hashlib.sha256(der).hexdigest()
        with open(os.path.join(d, "passwd"), "w") as f:
            for u, p in self.users.items():
                f.write(f"{u}:{{PLAIN}}{p}:{self.uid}:{self.gid}::{d}/home/{u}::\n")
        lmtp_conf = f"""
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.ports['lmtp']}
  }}
}}
""" if lmtp else ""
        oauth_conf = ""
        if oauth2:
            with open(os.path.join(d, "oauth2.conf.ext"), "w") as f:
                f.write(f"introspection_mode = post\nintrospection_url = {oauth2}\n"
                        "force_introspection = yes\nusername_attribute = username\n"
                        "active_attribute = active\nactive_value = true\n")
            oauth_conf = f"""
passdb {{
  driver = oauth2
  mechanisms = {oauth2_mechanisms}
  args = {d}/oauth2.conf.ext
}}
"""
        conf = f"""
protocols = imap pop3{' lmtp' if lmtp else ''}
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailhub-test-{self.ports['imap']}
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login {oauth2_mechanisms if oauth2 else ""}
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
mail_fsync = never
mail_max_userip_connections = 1000
{oauth_conf}passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.ports['imap']}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ports['imaps']}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.ports['pop3']}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.ports['pop3s']}
    ssl = yes
  }}
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
protocol pop3 {{
  pop3_uidl_format = %08Xu%08Xv
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
""" + lmtp_conf
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for u in self.users:
            self.maildir(u, "INBOX")
        self._chown()

    def _chown(self):
        if os.getuid() == 0:
            for sub in ("mail", "home"):
                for root, dirs, files in os.walk(os.path.join(self.dir, sub)):
                    os.chown(root, self.uid, self.gid)
                    for f in files:
                        os.chown(os.path.join(root, f), self.uid, self.gid)

    def port(self, name):
        return self.ports[name]

    def maildir(self, user, folder):
        base = os.path.join(self.dir, "mail", user)
        if folder != "INBOX":
            base = os.path.join(base, "." + folder.replace("/", "."))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        if os.getuid() == 0:
            for root in (os.path.join(self.dir, "mail", user), base,
                         *(os.path.join(base, s) for s in ("cur", "new", "tmp"))):
                os.chown(root, self.uid, self.gid)
        return base

    _seq = 0

    def add_message(self, user, data, folder="INBOX"):
        """Puts one message into the user's Maildir (tmp/, then new/)."""
        base = self.maildir(user, folder)
        Dovecot._seq += 1
        name = f"{int(time.time())}.M{Dovecot._seq}P{os.getpid()}.mailhub-test"
        tmp = os.path.join(base, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        if os.getuid() == 0:
            os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(base, "new", name))

    def add_messages(self, user, datas, folder="INBOX"):
        for d in datas:
            self.add_message(user, d, folder)

    def messages(self, user, folder="INBOX"):
        """The messages the upstream holds now (by reading its Maildir)."""
        base = self.maildir(user, folder)
        out = []
        for sub in ("new", "cur"):
            for name in sorted(os.listdir(os.path.join(base, sub))):
                with open(os.path.join(base, sub, name), "rb") as f:
                    out.append(f.read())
        return out

    def imap(self, user):
        """An imaplib session logged in as user (plain IMAP on loopback);
        the caller logs out."""
        c = imaplib.IMAP4("127.0.0.1", self.ports["imap"])
        c.login(user, self.users[user])
        return c

    def append(self, user, data, folder="INBOX", flags=""):
        """APPENDs one message with flags ("\\Seen $Work") through IMAP,
        creating the folder when missing."""
        c = self.imap(user)
        try:
            if folder != "INBOX":
                c.create(f'"{folder}"')
            typ, resp = c.append(f'"{folder}"', f"({flags})" if flags else None, None, data)
            assert typ == "OK", resp
        finally:
            c.logout()

    def set_uidvalidity(self, user, folder, value):
        subprocess.run([DOVEADM, "-c", self.conf, "mailbox", "update", "-u", user,
                        "--uid-validity", str(value), folder],
                       check=True, capture_output=True, timeout=30)

    def start(self, timeout=20):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited: " +
                                     self.proc.stderr.read().decode() + self.log())
            for n in list(pending):
                try:
                    with socket.create_connection(("127.0.0.1", self.ports[n]),
                                                  timeout=1):
                        pending.discard(n)
                except OSError:
                    pass
            time.sleep(0.05)
        if pending:
            self.close()
            raise AssertionError(f"dovecot ports never came up: {pending}")

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
