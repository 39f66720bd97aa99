"""A private Dovecot (Debian's dovecot-imapd) for comparison tests and
benchmarks: its own config in a temporary folder, a loopback port, one
password for every user, Maildir storage.  Never the system service.

    d = Dovecot(tls=True)       # None when dovecot is not installed
    d.start(); d.port, d.tls_port; d.stop()
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "dovecot-pass"


def available():
    return os.access(DOVECOT, os.X_OK)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, tls=False, cert=None, key=None, max_clients=1200,
                 mechanisms="plain", passwd=None, passwd_file=None):
        """mechanisms: Dovecot's auth_mechanisms.  passwd: {user:
        "{CRYPT}$y$..."}, hashes as mailhub stores them, written to a
        passwd-file; passwd_file: such a file of "user:{SCHEME}hash" lines.
        With neither, one static password for every user."""
        self.dir = tempfile.mkdtemp(prefix="mailhub-dovecot.")
        os.chmod(self.dir, 0o755)
        self.port = _free_port()
        self.tls_port = _free_port() if tls else 0
        self.proc = None
        if os.geteuid() == 0:
            # Dovecot refuses root for its processes and for mail
            login, internal = "dovenull", "dovecot"
            mail_user = pwd.getpwnam("dovecot")
        else:
            me = pwd.getpwuid(os.geteuid())
            login = internal = me.pw_name
            mail_user = me
        for sub in ("run", "mail", "state"):
            os.makedirs(os.path.join(self.dir, sub))
        os.chown(os.path.join(self.dir, "mail"), mail_user.pw_uid, mail_user.pw_gid)
        os.chown(os.path.join(self.dir, "state"), mail_user.pw_uid, mail_user.pw_gid)
        passdb = f"passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}"
        if passwd is not None:
            passwd_file = os.path.join(self.dir, "passwd")
            with open(passwd_file, "w") as f:
                for user, hash_ in passwd.items():
                    f.write(f"{user}:{hash_}\n")
            os.chmod(passwd_file, 0o644)
        if passwd_file is not None:
            passdb = f"passdb {{\n  driver = passwd-file\n  args = {passwd_file}\n}}"
        ssl_conf = "ssl = no\n"
        if tls:
            ssl_conf = (f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n")
        conf = f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:{self.dir}/mail/%n
first_valid_uid = {mail_user.pw_uid}
default_internal_user = {internal}
default_login_user = {login}
default_client_limit = {max_clients + 100}
default_process_limit = {max_clients + 100}
default_vsz_limit = 0
mail_max_userip_connections = {max_clients + 100}
{passdb}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={self.dir}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = {self.tls_port}
  }}
  chroot =
  service_count = 0
  client_limit = {max_clients + 100}
  process_min_avail = 1
}}
service imap {{
  process_limit = {max_clients + 100}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {internal}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self, timeout=30):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "w"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited:\n" + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(5)
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("dovecot did not come up:\n" + self.log())

    def log(self):
        text = ""
        for name in ("stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def pids(self):
        """The pids of Dovecot's processes (for memory measurements)."""
        out = subprocess.run(["pgrep", "-f", "-d", " ", self.dir],
                             capture_output=True, text=True).stdout.split()
        kids = subprocess.run(["pgrep", "-P", str(self.proc.pid), "-d", " "],
                              capture_output=True, text=True).stdout.split()
        return sorted({int(p) for p in out + kids} | {self.proc.pid})

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
