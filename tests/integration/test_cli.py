"""The `mailhub` command line (INTERFACE.md "Command line").

Runs the built binary ($MAILHUB_BIN) against a fresh data dir: exit codes
(0 ok, 1 failure with a message, 2 usage error with the usage), what init
creates, and domains, users, aliases, tokens and fsck through the store.
"""

import hashlib
import os
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

import tap
from mailhub_fixture import Mailhub, mailhub_bin

PASSWORD = "Corr3ct-horse-battery-7781"


def run(args, input=None, env=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([mailhub_bin(), *args], input=input,
                          capture_output=True, text=True, timeout=60,
                          env=full_env)


class InitTest(unittest.TestCase):
    def setUp(self):
        self.mh = Mailhub(init=False)
        self.addCleanup(self.mh.cleanup)

    def mode(self, rel):
        return stat.S_IMODE(os.stat(os.path.join(self.mh.data_dir, rel)).st_mode)

    def read(self, rel):
        with open(os.path.join(self.mh.data_dir, rel), "rb") as f:
            return f.read()

    def test_init_creates_state_with_modes(self):
        r = self.mh.cli("init", "--hostname", "mail.test")
        self.assertEqual(r.stderr, "")
        d = self.mh.data_dir
        self.assertTrue(os.path.isdir(d))
        self.assertEqual(self.mode(""), 0o750)
        self.assertTrue(os.path.isfile(os.path.join(d, "mailhub.db")))
        self.assertTrue(os.path.isdir(os.path.join(d, "blobs")))
        self.assertTrue(os.path.isfile(os.path.join(d, "tls", "cert.pem")))
        self.assertEqual(self.mode("tls/key.pem"), 0o600)
        self.assertEqual(self.mode("secret.key"), 0o600)
        self.assertIn(b"BEGIN CERTIFICATE", self.read("tls/cert.pem"))
        self.assertEqual(len(self.read("secret.key")), 32)
        # the blob folders made ahead (store/blob.h): tmp and 00 to ff
        folders = sorted(os.listdir(os.path.join(d, "blobs")))
        self.assertEqual(folders, sorted(["tmp"] + ["%02x" % i for i in range(256)]))
        for name in folders:
            self.assertEqual(self.mode(os.path.join("blobs", name)), 0o750, name)

    @unittest.skipUnless(os.geteuid() == 0, "needs root (init hands the files to [server] user)")
    def test_init_as_root_hands_everything_to_the_user(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        conf = os.path.join(self.mh.dir, "as-user.conf")
        data = os.path.join(self.mh.dir, "as-user")
        with open(conf, "w") as f:
            f.write(f"[server]\ndata_dir = {data}\nhostname = mail.test\nuser = nobody\n")
        r = run(["--config", conf, "init"])
        self.assertEqual(r.returncode, 0, r.stderr)
        owned_by_root = []
        for root, dirs, files in os.walk(data):
            for name in [""] + dirs + files:
                path = os.path.join(root, name)
                if os.lstat(path).st_uid != nobody.pw_uid:
                    owned_by_root.append(os.path.relpath(path, data))
        self.assertEqual(sorted(set(owned_by_root)), [])
        self.assertTrue(os.path.isdir(os.path.join(data, "blobs", "7f")))

    def test_init_is_idempotent(self):
        self.mh.cli("init", "--hostname", "mail.test")
        self.mh.cli("domain", "add", "example.org")
        before = {rel: self.read(rel)
                  for rel in ("tls/cert.pem", "tls/key.pem", "secret.key")}
        r = self.mh.cli("init", "--hostname", "other.test")
        self.assertEqual(r.returncode, 0)
        for rel, content in before.items():
            self.assertEqual(self.read(rel), content, rel)
        # The database was kept, not recreated.
        self.assertEqual(self.mh.cli("domain", "list").stdout, "example.org\n")

    def test_init_hostname_from_config(self):
        r = self.mh.cli("init")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(os.path.isfile(
            os.path.join(self.mh.data_dir, "tls", "cert.pem")))

    def test_init_bad_hostname(self):
        r = self.mh.cli("init", "--hostname", "bad host!", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("host name", r.stderr)

    def test_init_without_config_file(self):
        missing = os.path.join(self.mh.dir, "nope.conf")
        r = run(["--config", missing, "init", "--hostname", "mail.test"])
        self.assertEqual(r.returncode, 1)
        self.assertIn(missing, r.stderr)
        self.assertIn("does not exist", r.stderr)
        self.assertFalse(os.path.exists(self.mh.data_dir))

    def test_commands_need_init(self):
        r = self.mh.cli("domain", "list", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("mailhub init", r.stderr)
        self.assertFalse(os.path.exists(
            os.path.join(self.mh.data_dir, "mailhub.db")))


class CommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub()
        cls.mh.cli("domain", "add", "example.org")

    @classmethod
    def tearDownClass(cls):
        cls.mh.cleanup()

    def cli(self, *args, input=None):
        return self.mh.cli(*args, input=input, check=False)

    def ok(self, *args, input=None):
        r = self.cli(*args, input=input)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Commands never log to stderr on success.
        self.assertEqual(r.stderr, "")
        return r

    def fails(self, code, *args, input=None):
        r = self.cli(*args, input=input)
        self.assertEqual(r.returncode, code,
                         f"mailhub {' '.join(args)}: {r.stdout}{r.stderr}")
        self.assertTrue(r.stderr.startswith("mailhub: "), r.stderr)
        if code == 2:
            self.assertIn("usage: mailhub", r.stderr)
        else:
            self.assertNotIn("usage:", r.stderr)
        return r

    def show(self, address):
        r = self.ok("user", "show", address)
        fields = {}
        for line in r.stdout.splitlines():
            key, _, value = line.partition(": ")
            fields.setdefault(key, []).append(value)
        return r, fields

    def stored_hash(self, address):
        """The password hash in the database (`user show` never prints it)."""
        con = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        try:
            return con.execute("SELECT password_hash FROM users WHERE address = ?",
                               (address,)).fetchone()[0]
        finally:
            con.close()

    # ---- domains ----------------------------------------------------------

    def test_domain_add_list_del(self):
        self.ok("domain", "add", "Second.Example")
        self.assertIn("second.example", self.ok("domain", "list").stdout.splitlines())
        self.assertIn("example.org", self.ok("domain", "list").stdout.splitlines())
        r = self.fails(1, "domain", "add", "second.example")
        self.assertIn("second.example", r.stderr)
        self.ok("domain", "del", "second.example")
        self.assertNotIn("second.example", self.ok("domain", "list").stdout.splitlines())
        r = self.fails(1, "domain", "del", "second.example")
        self.assertIn("does not exist", r.stderr)

    def test_domain_bad_name(self):
        self.fails(1, "domain", "add", "not a domain")
        self.fails(1, "domain", "add", "-")

    def test_domain_usage(self):
        self.fails(2, "domain")
        self.fails(2, "domain", "add")
        self.fails(2, "domain", "rename", "x.org")
        self.fails(2, "domain", "list", "extra")

    def test_domain_with_users_is_busy(self):
        self.ok("domain", "add", "busy.example")
        self.ok("user", "add", "u@busy.example", "--password-stdin",
                input=PASSWORD + "\n")
        self.fails(1, "domain", "del", "busy.example")
        self.ok("user", "del", "u@busy.example")
        self.ok("domain", "del", "busy.example")

    # ---- users ------------------------------------------------------------

    def test_user_add_show_list(self):
        outputs = []
        r = self.ok("user", "add", "alice@example.org", "--password-stdin",
                    input=PASSWORD + "\nthe second line is not read\n")
        outputs.append(r)
        r, fields = self.show("alice@example.org")
        outputs.append(r)
        self.assertEqual(fields["address"], ["alice@example.org"])
        self.assertEqual(fields["admin"], ["no"])
        self.assertEqual(fields["enabled"], ["yes"])
        # The scheme of the hash, never the hash.
        self.assertEqual(fields["password"], ["yescrypt"])
        self.assertNotIn("$y$", r.stdout)
        self.assertTrue(self.stored_hash("alice@example.org").startswith("{CRYPT}$y$"))
        self.assertEqual(fields["two-factor"], ["off"])
        mailboxes = " ".join(fields["mailbox"])
        for name in ("INBOX", "Sent", "Trash"):
            self.assertIn(name, mailboxes)
        self.assertRegex(mailboxes, r"INBOX \(0 messages")
        r = self.ok("user", "list")
        outputs.append(r)
        rows = [line.split() for line in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["ADDRESS", "ADMIN", "QUOTA", "USED", "ENABLED"])
        self.assertIn(["alice@example.org", "no", "unlimited", "0", "yes"], rows)
        for out in outputs:
            self.assertNotIn(PASSWORD, out.stdout + out.stderr)

    def test_user_admin_quota(self):
        self.ok("user", "add", "--admin", "boss@example.org", "--quota", "10M",
                "--password-stdin", input=PASSWORD + "\r\n")
        _, fields = self.show("boss@example.org")
        self.assertEqual(fields["admin"], ["yes"])
        self.assertEqual(fields["quota"], [str(10 * 1024 * 1024)])
        rows = [line.split() for line in self.ok("user", "list").stdout.splitlines()]
        self.assertIn(["boss@example.org", "yes", str(10 * 1024 * 1024), "0", "yes"],
                      rows)
        self.ok("user", "add", "small@example.org", "--quota=1500",
                "--password-stdin", input=PASSWORD)
        _, fields = self.show("small@example.org")
        self.assertEqual(fields["quota"], ["1500"])

    def test_user_set_quotas(self):
        self.ok("user", "add", "lim@example.org", "--quota-messages", "5",
                "--password-stdin", input=PASSWORD + "\n")
        _, fields = self.show("lim@example.org")
        self.assertEqual((fields["quota"], fields["quota-messages"], fields["messages"]),
                         (["unlimited"], ["5"], ["0"]))
        self.ok("user", "set", "lim@example.org", "--quota", "2M")
        _, fields = self.show("lim@example.org")
        self.assertEqual((fields["quota"], fields["quota-messages"]),
                         ([str(2 * 1024 * 1024)], ["5"]))
        self.ok("user", "set", "LIM@example.org", "--quota-messages", "0", "--quota=0")
        _, fields = self.show("lim@example.org")
        self.assertEqual((fields["quota"], fields["quota-messages"]),
                         (["unlimited"], ["unlimited"]))
        self.ok("user", "set", "lim@example.org", "--quota-messages=7")
        self.assertEqual(self.show("lim@example.org")[1]["quota-messages"], ["7"])
        r = self.fails(1, "user", "set", "nobody@example.org", "--quota", "1M")
        self.assertIn("does not exist", r.stderr)
        self.fails(2, "user", "set", "lim@example.org")
        self.fails(2, "user", "set", "--quota", "1M")
        self.fails(2, "user", "set", "lim@example.org", "--quota-messages", "-1")
        self.fails(2, "user", "set", "lim@example.org", "--quota-messages", "many")
        self.fails(2, "user", "set", "lim@example.org", "--quota", "lots")
        self.assertEqual(self.show("lim@example.org")[1]["quota-messages"], ["7"])

    def test_user_duplicate(self):
        self.ok("user", "add", "dup@example.org", "--password-stdin",
                input=PASSWORD + "\n")
        r = self.fails(1, "user", "add", "DUP@example.org", "--password-stdin",
                       input=PASSWORD + "\n")
        self.assertIn("dup@example.org", r.stderr.lower())
        self.assertIn("taken", r.stderr)

    def test_user_unknown_domain(self):
        r = self.fails(1, "user", "add", "bob@nowhere.example", "--password-stdin",
                       input=PASSWORD + "\n")
        self.assertIn("domain 'nowhere.example' does not exist", r.stderr)

    def test_user_bad_address(self):
        for bad in ("not-an-address", "a b@example.org", "@example.org",
                    "x@", "x@bad_domain!"):
            r = self.fails(1, "user", "add", bad, "--password-stdin",
                           input=PASSWORD + "\n")
            self.assertIn("not a valid address", r.stderr)

    def test_user_empty_password(self):
        for stdin in ("\n", "", "\r\n"):
            r = self.fails(1, "user", "add", "empty@example.org",
                           "--password-stdin", input=stdin)
            self.assertIn("empty password", r.stderr)
        self.fails(1, "user", "show", "empty@example.org")

    def test_user_password_too_long(self):
        self.fails(1, "user", "add", "long@example.org", "--password-stdin",
                   input="x" * 5000 + "\n")
        self.fails(1, "user", "show", "long@example.org")

    def test_user_needs_password_stdin(self):
        r = self.fails(2, "user", "add", "nopw@example.org")
        self.assertIn("--password-stdin", r.stderr)
        self.fails(2, "user", "passwd", "nopw@example.org")
        # There is no way to give a password in argv.
        self.fails(2, "user", "add", "nopw@example.org", "--password", PASSWORD)
        self.fails(2, "user", "add", "nopw@example.org", "--password-stdin",
                   "--password=" + PASSWORD, input=PASSWORD + "\n")
        self.fails(1, "user", "show", "nopw@example.org")

    def test_user_usage(self):
        self.fails(2, "user")
        self.fails(2, "user", "frobnicate")
        self.fails(2, "user", "add", "--password-stdin", input=PASSWORD)
        self.fails(2, "user", "add", "q@example.org", "--quota", "lots",
                   "--password-stdin", input=PASSWORD)
        self.fails(2, "user", "add", "q@example.org", "--password-stdin",
                   "--quota")
        self.fails(2, "user", "list", "extra")
        self.fails(2, "user", "show")

    def test_user_passwd_and_del(self):
        self.ok("user", "add", "carol@example.org", "--password-stdin",
                input=PASSWORD + "\n")
        before = self.stored_hash("carol@example.org")
        r = self.ok("user", "passwd", "carol@example.org", "--password-stdin",
                    input="another-Pa55word\n")
        self.assertEqual(r.stdout, "")
        after = self.stored_hash("carol@example.org")
        self.assertTrue(after.startswith("{CRYPT}$y$"))
        self.assertNotEqual(before, after)
        self.fails(1, "user", "passwd", "carol@example.org", "--password-stdin",
                   input="\n")
        # Too weak: the rule is said, nothing changes.
        r = self.fails(1, "user", "passwd", "carol@example.org", "--password-stdin",
                       input="carol\n")
        self.assertIn("at least 10 characters", r.stderr)
        self.fails(1, "user", "passwd", "carol@example.org", "--password-stdin",
                   input="1234567890\n")
        self.assertEqual(self.stored_hash("carol@example.org"), after)
        self.ok("user", "del", "carol@example.org")
        r = self.fails(1, "user", "show", "carol@example.org")
        self.assertIn("does not exist", r.stderr)
        self.fails(1, "user", "del", "carol@example.org")
        self.fails(1, "user", "passwd", "carol@example.org", "--password-stdin",
                   input=PASSWORD + "\n")

    # ---- aliases ----------------------------------------------------------

    def aliases(self):
        return self.ok("alias", "list").stdout.splitlines()

    def test_alias_add_list_del(self):
        self.ok("user", "add", "dave@example.org", "--password-stdin",
                input=PASSWORD + "\n")
        self.ok("alias", "add", "info@example.org",
                "dave@example.org, friend@remote.example")
        line = "info@example.org -> dave@example.org, friend@remote.example"
        self.assertIn(line, self.aliases())
        self.assertEqual(self.ok("alias", "list", "info@example.org").stdout,
                         line + "\n")
        self.fails(1, "alias", "add", "info@example.org", "dave@example.org")
        # A user's address is not free for an alias.
        self.fails(1, "alias", "add", "dave@example.org", "info@example.org")
        self.ok("alias", "del", "info@example.org")
        self.assertNotIn(line, self.aliases())
        self.fails(1, "alias", "del", "info@example.org")
        self.fails(1, "alias", "list", "info@example.org")

    def test_alias_catch_all(self):
        self.ok("domain", "add", "catch.example")
        self.ok("alias", "add", "@catch.example", "someone@remote.example")
        self.assertIn("@catch.example -> someone@remote.example", self.aliases())
        self.ok("alias", "del", "@catch.example")
        self.ok("domain", "del", "catch.example")

    def test_alias_loop_refused(self):
        self.ok("alias", "add", "loop-a@example.org", "loop-b@example.org")
        self.ok("alias", "add", "loop-b@example.org", "loop-c@example.org")
        before = self.aliases()
        r = self.fails(1, "alias", "add", "loop-c@example.org",
                       "elsewhere@remote.example,loop-a@example.org")
        self.assertIn("loop", r.stderr)
        self.assertEqual(self.aliases(), before)
        self.fails(1, "alias", "add", "self@example.org", "self@example.org")
        self.assertEqual(self.aliases(), before)

    def test_alias_errors(self):
        self.fails(1, "alias", "add", "x@nowhere.example", "a@example.org")
        self.fails(1, "alias", "add", "not-an-address", "a@example.org")
        self.fails(1, "alias", "add", "bad-dest@example.org", "a@example.org,,b@x.example")
        self.fails(1, "alias", "add", "bad-dest@example.org", "nonsense")
        self.assertFalse(any(a.startswith("bad-dest@") for a in self.aliases()))
        self.fails(2, "alias")
        self.fails(2, "alias", "add", "only-source@example.org")
        self.fails(2, "alias", "del")
        self.fails(2, "alias", "rename", "a@example.org")

    # ---- tokens, fsck -----------------------------------------------------

    def test_token_create(self):
        self.ok("user", "add", "tok@example.org", "--password-stdin",
                input=PASSWORD + "\n")
        r = self.ok("token", "create", "tok@example.org", "--name", "script")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        token = lines[0]
        self.assertRegex(token, r"^[A-Za-z0-9_\-.~+/=]{22,}$")
        r2 = self.ok("token", "create", "tok@example.org")
        self.assertNotEqual(r2.stdout.strip(), token)
        _, fields = self.show("tok@example.org")
        self.assertEqual(len(fields.get("token", [])), 2)
        self.assertTrue(any(t.startswith("script ") for t in fields["token"]))
        # Only a prefix is ever shown again.
        self.assertNotIn(token, " ".join(fields["token"]))
        self.fails(1, "token", "create", "nobody@example.org")
        self.fails(2, "token", "create")
        self.fails(2, "token", "revoke", "tok@example.org")

    def test_fsck_clean(self):
        r = self.ok("fsck")
        self.assertIn("ok", r.stdout.splitlines()[-1])
        self.ok("fsck", "--repair")
        self.fails(2, "fsck", "--force")

    # ---- global options ---------------------------------------------------

    def test_config_after_command_and_env(self):
        r = run(["domain", "list", "--config", self.mh.config_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("example.org", r.stdout.splitlines())
        r = run(["domain", "list", "--config=" + self.mh.config_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["domain", "list"], env={"MAILHUB_CONFIG": self.mh.config_path})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("example.org", r.stdout.splitlines())
        r = run(["domain", "list", "--config"])
        self.assertEqual(r.returncode, 2)

    def test_unknown_command_and_option(self):
        for args in (["frobnicate"], ["--bogus", "domain", "list"],
                     ["domain", "list", "--bogus"], []):
            r = run(["--config", self.mh.config_path, *args])
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: mailhub", r.stderr)
            self.assertEqual(r.stdout, "")


class FsckTest(unittest.TestCase):
    def setUp(self):
        self.mh = Mailhub()
        self.addCleanup(self.mh.cleanup)

    def test_orphan_blob_found_and_repaired(self):
        content = b"Subject: orphan\r\n\r\nnobody refers to me\r\n"
        name = hashlib.sha256(content).hexdigest()
        folder = os.path.join(self.mh.data_dir, "blobs", name[:2])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(content)
        r = self.mh.cli("fsck", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(name, r.stdout)
        self.assertTrue(os.path.exists(path))
        # A young file may belong to a delivery in progress: kept.
        r = self.mh.cli("fsck", "--repair", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(path))
        old = time.time() - 3 * 3600
        os.utime(path, (old, old))
        r = self.mh.cli("fsck", "--repair", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(self.mh.cli("fsck").returncode, 0)


class WhileServingTest(unittest.TestCase):
    def test_commands_while_daemon_runs(self):
        mh = Mailhub(listeners=("smtp",))
        self.addCleanup(mh.cleanup)
        mh.start()
        mh.cli("domain", "add", "live.example")
        mh.add_user("live@live.example", PASSWORD)
        mh.cli("alias", "add", "postmaster@live.example", "live@live.example")
        self.assertEqual(mh.cli("token", "create", "live@live.example")
                         .stdout.count("\n"), 1)
        mh.cli("user", "passwd", "live@live.example", "--password-stdin",
               input="changed-" + PASSWORD + "\n")
        mh.cli("user", "del", "live@live.example")
        mh.cli("alias", "del", "postmaster@live.example")
        mh.cli("domain", "del", "live.example")
        mh.close()


class GlobalTest(unittest.TestCase):
    def test_version(self):
        for args in (["version"], ["--version"]):
            r = run(args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^mailhub \d+\.\d+\.\d+")
            self.assertEqual(r.stderr, "")

    def test_help(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        for name in ("serve", "init", "domain", "user", "alias", "token",
                     "fsck", "version"):
            self.assertRegex(r.stdout, rf"(?m)^  {name} ")
        # --help anywhere, and it needs no config file.
        for args in (["user", "--help"], ["user", "add", "-h"],
                     ["--config", "/nonexistent/mailhub.conf", "user", "add",
                      "x@example.org", "--help"], ["help", "user"]):
            r = run(args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("usage: mailhub user add ADDRESS", r.stdout)
            self.assertIn("--password-stdin", r.stdout)
        r = run(["help", "nosuchcommand"])
        self.assertEqual(r.returncode, 2)

    def config_error(self, body, line):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mailhub.conf")
            with open(path, "w") as f:
                f.write(body)
            r = run(["--config", path, "domain", "list"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{path}:{line}", r.stderr)
            self.assertTrue(r.stderr.startswith("mailhub: "), r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            return r

    def test_config_unknown_key(self):
        r = self.config_error("[server]\nhostname = mail.test\n\n[listen]\n"
                              "smpt = 2525\n", 5)
        self.assertIn("smpt", r.stderr)

    def test_config_bad_address(self):
        self.config_error("[server]\nhostname = mail.test\n[listen]\n"
                          "imap = 127.0.0.1:99999\n", 4)
        self.config_error("# a comment\n[listen]\nsmtp = [::1\n", 3)


if __name__ == "__main__":
    tap.main()
