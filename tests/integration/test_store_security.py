"""What the store leaves on disk, through the real listeners: a refused
message leaves no file under data_dir/blobs (SMTP over quota, IMAP APPEND
to a missing mailbox or over quota), a blob another message shares is never
taken with a refusal, deleting an IMAP mailbox gives its bytes back to the
user's quota, and every file the daemon makes in data_dir has its mode on
purpose (run with umask 000), with `mailhub fsck` reporting a loosened one
and DKIM keys sealed in the database."""

import os
import smtplib
import sqlite3
import stat
import unittest

import tap
from api_util import Client, q
from imap_util import Raw
from mailhub_fixture import Mailhub

OK_USER, OK_PW = "ok@example.org", "ok-secret-1"
FULL, FULL_PW = "full@example.org", "full-secret-2"
QUOTA_USER, QUOTA_PW = "q@example.org", "q-secret-3"
ADMIN, ADMIN_PW = "admin@example.org", "admin-secret-4"

FULL_QUOTA = 2000
Q_QUOTA = 30000


def blob_usage(mh):
    """(files, bytes) under data_dir/blobs, its temporary folder included."""
    files = size = 0
    for root, _, names in os.walk(os.path.join(mh.data_dir, "blobs")):
        for n in names:
            files += 1
            size += os.lstat(os.path.join(root, n)).st_size
    return files, size


def message(tag, size):
    """A message of about size bytes, different for each tag."""
    head = (f"From: sender@remote.example\r\nTo: someone@example.org\r\n"
            f"Subject: {tag}\r\nMessage-ID: <{tag}@remote.example>\r\n\r\n")
    line = (tag + " ").encode() * 10
    body = bytearray()
    while len(head) + len(body) < size:
        body += line[:70] + b"\r\n"
    return head.encode() + bytes(body)


def login(mh, user, password):
    c = Raw(mh.port("imaps"))
    c.ok("l", f'LOGIN "{user}" "{password}"'.encode())
    return c


def append(c, tag, mailbox, data, sync=True):
    """APPEND with a synchronising literal (the server may refuse before
    its continuation) or a LITERAL+ one; returns the tagged line."""
    head = f"{tag} APPEND {mailbox} {{{len(data)}{'' if sync else '+'}}}\r\n".encode()
    if not sync:
        c.send(head + data + b"\r\n")
        return c.until(tag)[1]
    c.send(head)
    line = c.line()
    if line.startswith(b"+"):
        c.send(data + b"\r\n")
        return c.until(tag)[1]
    return line if line.startswith(tag.encode() + b" ") else c.until(tag)[1]


class RefusedMessagesLeaveNothing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp", "imaps", "admin"))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(OK_USER, OK_PW)
        cls.mh.add_user(FULL, FULL_PW, quota=FULL_QUOTA)
        cls.mh.add_user(QUOTA_USER, QUOTA_PW, quota=Q_QUOTA)
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_smtp_over_quota_leaves_no_blob(self):
        before = blob_usage(self.mh)
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            for i in range(5):
                with self.assertRaises(smtplib.SMTPDataError) as cm:
                    s.sendmail("sender@remote.example", [FULL],
                               message(f"smtp{i}", 860 * 1024))
                self.assertEqual(cm.exception.smtp_code, 552)
                self.assertTrue(cm.exception.smtp_error.startswith(b"5.2.2"),
                                cm.exception.smtp_error)
        self.assertEqual(blob_usage(self.mh), before)

    def test_smtp_partly_refused_keeps_only_taken_copies(self):
        """One message to a user with room and one over quota, in either
        order: accepted, and only the copy that was taken is on disk (each
        user's copy is its own blob, with its delivery fields).  From the
        null sender, so that no DSN keeps a copy for the queue."""
        for order in ([OK_USER, FULL], [FULL, OK_USER]):
            before = blob_usage(self.mh)
            with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
                refused = s.sendmail("<>", order,
                                     message("partly-" + order[0][:2], 300 * 1024))
            self.assertEqual(refused, {})
            after = blob_usage(self.mh)
            self.assertEqual(after[0], before[0] + 1, order)
            self.assertLess(after[1] - before[1], 2 * 300 * 1024, order)

    def test_imap_append_to_missing_mailbox_leaves_no_blob(self):
        before = blob_usage(self.mh)
        c = login(self.mh, OK_USER, OK_PW)
        for i, sync in enumerate((True, False, True)):
            line = append(c, f"a{i}", "Nowhere", message(f"miss{i}", 900 * 1024), sync)
            self.assertTrue(line.startswith(f"a{i} NO [TRYCREATE]".encode()), line)
        c.ok("z", b"NOOP")
        c.close()
        self.assertEqual(blob_usage(self.mh), before)

    def test_imap_append_over_quota_leaves_no_blob(self):
        before = blob_usage(self.mh)
        c = login(self.mh, FULL, FULL_PW)
        for i, sync in enumerate((True, False)):
            line = append(c, f"a{i}", "INBOX", message(f"quota{i}", 900 * 1024), sync)
            self.assertTrue(line.startswith(f"a{i} NO [OVERQUOTA]".encode()), line)
        # two messages in one command that fit one by one but not together
        small = message("q-one", 1200), message("q-two", 1200)
        c.send(b"m APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
               % (len(small[0]), small[0], len(small[1]), small[1]))
        line = c.until("m")[1]
        self.assertTrue(line.startswith(b"m NO [OVERQUOTA]"), line)
        c.ok("z", b"NOOP")
        c.close()
        self.assertEqual(blob_usage(self.mh), before)

    def test_refusal_keeps_a_shared_blob(self):
        data = message("shared", 4000)
        ok = login(self.mh, OK_USER, OK_PW)
        self.assertTrue(append(ok, "a", "INBOX", data).startswith(b"a OK"))
        after_first = blob_usage(self.mh)
        full = login(self.mh, FULL, FULL_PW)
        line = append(full, "b", "INBOX", data)
        self.assertTrue(line.startswith(b"b NO [OVERQUOTA]"), line)
        full.close()
        self.assertEqual(blob_usage(self.mh), after_first)
        ok.ok("s", b"SELECT INBOX")
        untagged = ok.ok("f", b"UID FETCH 1:* (BODY.PEEK[])")
        self.assertTrue(any(data in l for l in untagged))
        ok.close()

    def used(self, address):
        out = self.mh.cli("user", "show", address).stdout
        fields = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        return int(fields["used"])

    def test_mailbox_delete_frees_quota(self):
        c = login(self.mh, QUOTA_USER, QUOTA_PW)
        c.ok("c", b"CREATE Box")
        for i in range(2):
            line = append(c, f"a{i}", "Box", message(f"box{i}", 10000))
            self.assertTrue(line.startswith(f"a{i} OK".encode()), line)
        self.assertGreaterEqual(self.used(QUOTA_USER), 20000)
        c.ok("d", b"DELETE Box")
        c.close()
        self.assertEqual(self.used(QUOTA_USER), 0)
        api = Client(self.mh.port("admin"), self.token)
        r = api.get("/users/" + q(QUOTA_USER))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["used"], 0)
        # the freed bytes can be used again: two more fill the quota
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            for i in range(2):
                s.sendmail("sender@remote.example", [QUOTA_USER],
                           message(f"again{i}", 10000))
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("sender@remote.example", [QUOTA_USER],
                           message("again-over", 10000))
            self.assertEqual(cm.exception.smtp_code, 552)


# What data_dir may hold and the most each may allow: the store's folders
# and files, the seal key and the self-signed TLS pair.
DIR_MODE = 0o750
FILE_MODES = {
    "mailhub.db": 0o640, "mailhub.db-wal": 0o640, "mailhub.db-shm": 0o640,
    "mailhub.db-journal": 0o640, "secret.key": 0o600,
    "tls/key.pem": 0o600, "tls/cert.pem": 0o644,
}
BLOB_MODE = 0o640


def modes_beyond(data_dir):
    """[(path, mode, allowed)] of everything in data_dir with more
    permission than it may have, or that the daemon does not make."""
    bad = []
    for root, dirs, files in os.walk(data_dir):
        for d in dirs:
            path = os.path.join(root, d)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if mode & ~DIR_MODE:
                bad.append((path, oct(mode), oct(DIR_MODE)))
        for f in files:
            path = os.path.join(root, f)
            rel = os.path.relpath(path, data_dir)
            allowed = BLOB_MODE if rel.startswith("blobs/") else FILE_MODES.get(rel)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if allowed is None or mode & ~allowed:
                bad.append((path, oct(mode), allowed and oct(allowed)))
    mode = stat.S_IMODE(os.lstat(data_dir).st_mode)
    if mode & ~DIR_MODE:
        bad.append((data_dir, oct(mode), oct(DIR_MODE)))
    return bad


class SecretsAtRest(unittest.TestCase):
    """The daemon started with umask 000 (as a careless init system might):
    nothing in data_dir is readable by others all the same."""

    @classmethod
    def setUpClass(cls):
        old = os.umask(0)
        try:
            cls.mh = Mailhub(listeners=("smtp", "imaps", "admin"))
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(OK_USER, OK_PW)
            # the DKIM keys are made at first need
            cls.domain_show = cls.mh.cli("domain", "show", "example.org").stdout
            cls.mh.start()
            with smtplib.SMTP("127.0.0.1", cls.mh.port("smtp"), timeout=30) as s:
                s.sendmail("sender@remote.example", [OK_USER], message("umask", 3000))
            c = login(cls.mh, OK_USER, OK_PW)
            c.ok("c", b"CREATE Kept")
            line = append(c, "a", "Kept", message("umask-append", 5000))
            assert line.startswith(b"a OK"), line
            c.close()
        finally:
            os.umask(old)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_every_file_has_its_mode(self):
        blobs = [f for _, _, fs in os.walk(os.path.join(self.mh.data_dir, "blobs"))
                 for f in fs]
        self.assertGreaterEqual(len(blobs), 2)
        for name in ("mailhub.db", "mailhub.db-wal", "mailhub.db-shm", "secret.key"):
            self.assertTrue(os.path.exists(os.path.join(self.mh.data_dir, name)), name)
        self.assertEqual(modes_beyond(self.mh.data_dir), [])

    def test_fsck_reports_and_repairs_a_mode(self):
        db = os.path.join(self.mh.data_dir, "mailhub.db")
        os.chmod(db, 0o644)
        r = self.mh.cli("fsck", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"mode of {db}: 0644, more than 0640", r.stdout)
        r = self.mh.cli("fsck", "--repair", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o640)
        r = self.mh.cli("fsck", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("fsck: ok", r.stdout)

    def test_dkim_keys_sealed(self):
        self.assertIn("v=DKIM1; k=ed25519; p=", self.domain_show)
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            keys = [k for (k,) in db.execute("SELECT private_key FROM dkim_keys")]
        self.assertEqual(len(keys), 2)
        for k in keys:
            self.assertTrue(k.startswith("v1:"), k[:40])
            self.assertNotIn("PRIVATE KEY", k)


if __name__ == "__main__":
    tap.main()
