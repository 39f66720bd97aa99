"""The Debian package: build it, install it, run it as the unit would,
send a message over SMTP and read it over IMAP, upgrade it, purge it.

This changes the machine (it installs and purges the package), so it runs
only as root on a Debian system with dpkg-buildpackage, and only in the
plain build (the sanitizer build skips it: one package test is enough).
"""

import glob
import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
import unittest

import tap
from mailhub_fixture import client_tls_context, free_port

BUILDDIR = os.environ.get("MAILHUB_BUILDDIR", ".")
CONF = "/etc/mailhub/mailhub.conf"
DATA = "/var/lib/mailhub"
ADMIN_FILE = "/etc/mailhub/admin-password"


def run(*args, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run(list(args), **kw)


def skip_reason():
    if os.environ.get("MAILHUB_SANITIZERS") == "yes":
        return "the package is tested in the plain build"
    if os.geteuid() != 0:
        return "needs root to install a package"
    for tool in ("dpkg-buildpackage", "apt-get", "dh", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if run("dpkg-query", "-W", "-f=${Status}", "mailhub", check=False).stdout.startswith(
            "install ok installed"):
        return "a mailhub package is installed already; not touching it"
    return None


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@unittest.skipIf(skip_reason() is not None, skip_reason() or "")
class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for old in glob.glob(os.path.join(BUILDDIR, "mailhub_*.deb")):
            os.unlink(old)
        r = run("make", "-C", BUILDDIR, "deb", check=False)
        if r.returncode != 0:
            raise AssertionError(f"make deb failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        debs = glob.glob(os.path.join(BUILDDIR, "mailhub_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one .deb, found {debs}")
        cls.deb = os.path.abspath(debs[0])

    def serve(self):
        """mailhub serve as mailhub.service runs it: user mailhub, the
        installed config, CAP_NET_BIND_SERVICE as its only capability."""
        return subprocess.Popen(
            ["setpriv", "--reuid=mailhub", "--regid=mailhub", "--init-groups",
             "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
             "--bounding-set=-all,+net_bind_service",
             "/usr/sbin/mailhub", "--config", CONF, "serve"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, out.decode(errors="replace"))
        return out.decode(errors="replace")

    def test_lintian_reports_no_error(self):
        if shutil.which("lintian") is None:
            self.skipTest("lintian is not installed")
        r = run("lintian", "--no-tag-display-limit", self.deb, check=False)
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)

    def test_install_run_upgrade_purge(self):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = run("apt-get", "install", "-y", "-q", self.deb, env=env, check=False)
        try:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(ADMIN_FILE, r.stdout + r.stderr)
            self.installed(env)
        finally:
            p = run("apt-get", "purge", "-y", "-q", "mailhub", env=env, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for path in ("/usr/sbin/mailhub", "/etc/mailhub", DATA, "/usr/share/mailhub"):
            self.assertFalse(os.path.exists(path), f"{path} left behind")
        with self.assertRaises(KeyError):
            pwd.getpwnam("mailhub")

    def installed(self, env):
        # What the package put in place.
        self.assertTrue(os.access("/usr/sbin/mailhub", os.X_OK))
        self.assertTrue(os.path.isfile("/usr/lib/sysusers.d/mailhub.conf"))
        unit = "/lib/systemd/system/mailhub.service"
        self.assertTrue(os.path.isfile(unit))
        if shutil.which("systemd-analyze"):
            r = run("systemd-analyze", "security", "--offline=true", unit, check=False)
            line = [l for l in r.stdout.splitlines() if "Overall exposure level" in l]
            self.assertEqual(len(line), 1, r.stdout + r.stderr)
            score = float(line[0].split(":")[1].split()[0])
            sys.stdout.write(f"# systemd-analyze security: exposure {score}\n")
            # "OK" on systemd's scale is below 3.0; the unit is meant to stay there.
            self.assertLess(score, 3.0, r.stdout)
        self.assertTrue(os.path.isfile("/usr/share/mailhub/static/index.html") or
                        os.path.isdir("/usr/share/mailhub/static"))
        st = os.stat(DATA)
        self.assertEqual(st.st_mode & 0o777, 0o750)
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "mailhub")
        self.assertEqual(os.stat(ADMIN_FILE).st_mode & 0o077, 0)
        admin, password = open(ADMIN_FILE).read().split()
        # The admin moves the listeners to loopback test ports, as an admin
        # edits the conffile.
        smtp_port, imap_port = free_port(), free_port()
        with open(CONF) as f:
            lines = f.read().splitlines()
        out, in_listen = [], False
        for line in lines:
            if line.startswith("["):
                in_listen = line.strip() == "[listen]"
                out.append(line)
                if in_listen:
                    out += [f"smtp = 127.0.0.1:{smtp_port}", f"imap = 127.0.0.1:{imap_port}"]
            elif in_listen and line.strip() and not line.lstrip().startswith("#"):
                continue    # the packaged listeners on the standard ports
            else:
                out.append(line)
        with open(CONF, "w") as f:
            f.write("\n".join(out) + "\n")
        proc = self.serve()
        try:
            self.assertTrue(wait_port(smtp_port, proc), "smtp never listened")
            self.assertTrue(wait_port(imap_port, proc), "imap never listened")
            body = (f"From: <{admin}>\r\nTo: <{admin}>\r\nSubject: deb test\r\n\r\n"
                    "installed from the package\r\n")
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
                s.ehlo("tester.test")
                s.sendmail("sender@example.net", [admin], body.encode())
            with imaplib.IMAP4("127.0.0.1", imap_port, timeout=30) as m:
                m.starttls(ssl_context=client_tls_context())
                m.login(admin, password)
                typ, data = m.select("INBOX")
                self.assertEqual(typ, "OK")
                self.assertEqual(int(data[0]), 1)
                typ, data = m.fetch("1", "(BODY.PEEK[])")
                self.assertIn(b"installed from the package", data[0][1])
                m.logout()
        finally:
            log = self.stop(proc)
        self.assertIn("serve started", log)
        # The files it wrote belong to the service user.
        self.assertEqual(pwd.getpwuid(os.stat(os.path.join(DATA, "mailhub.db")).st_uid).pw_name,
                         "mailhub")

        # Upgrade (reinstall of the same package): the data stays.
        r = run("apt-get", "install", "-y", "-q", "--reinstall", self.deb, env=env, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("runuser", "-u", "mailhub", "--", "/usr/sbin/mailhub", "--config", CONF,
                "user", "show", admin)
        self.assertIn("INBOX (1 messages", r.stdout)


if __name__ == "__main__":
    tap.main()
