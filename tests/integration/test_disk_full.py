"""A full disk, through the real listeners and the fetcher: data_dir on a
small filesystem made by the test (a loop-mounted ext4 image, or a
size-limited tmpfs), filled first to within the store's reserve (mail is
refused, the database still has room) and then to the last block.  SMTP
answers 452 4.3.1, IMAP APPEND a NO with a response code, the fetcher
records a plain error and keeps the upstream's mail; the database's own
writes that fail (SQLITE_FULL) are refused without the daemon exiting or
hanging, and mail can still be read; nothing half-written is left (no
temporary or partial blob, no row without its blob); and once space is
freed everything works again.

Needs root (mount); skipped otherwise, or when no filesystem can be
mounted, or without Dovecot (the fetcher's upstream)."""

import errno
import os
import shutil
import smtplib
import sqlite3
import subprocess
import tempfile
import time
import unittest

import tap
from api_util import Client
from dovecot_upstream import Dovecot, available
from imap_util import Raw
from mailhub_fixture import HOSTNAME, Mailhub

ALICE, ALICE_PW = "alice@example.org", "alice-secret-1"
ADMIN, ADMIN_PW = "admin@example.org", "admin-secret-2"
UP_USER, UP_PW = "up1", "up-secret-3"

FS_SIZE_MB = 32
# the store's reserve (BLOB_DISK_RESERVE): mail stops with less free
RESERVE = 8 * 1024 * 1024
# messages in alice's INBOX before the disk fills (the database has rows
# whose keywords can grow then)
BASELINE = 40


def message(tag, size):
    head = (f"From: sender@remote.example\r\nTo: {ALICE}\r\n"
            f"Subject: {tag}\r\nMessage-ID: <{tag}@remote.example>\r\n\r\n")
    line = (tag + " ").encode() * 12
    body = bytearray()
    while len(head) + len(body) < size:
        body += line[:70] + b"\r\n"
    return head.encode() + bytes(body)


def mount_small_fs(where, scratch):
    """Mounts a small filesystem on where: ext4 in a loop image, else tmpfs.
    Returns a description, or None when neither can be mounted."""
    image = os.path.join(scratch, "fs.img")
    with open(image, "wb") as f:
        f.truncate(FS_SIZE_MB * 1024 * 1024)
    mkfs = shutil.which("mkfs.ext4") or "/sbin/mkfs.ext4"
    r = subprocess.run([mkfs, "-q", "-F", "-m", "0", image], capture_output=True)
    if r.returncode == 0:
        r = subprocess.run(["mount", "-o", "loop", image, where], capture_output=True)
        if r.returncode == 0:
            return "ext4 on a loop device"
    os.unlink(image)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE_MB}m,mode=0750",
                        "tmpfs", where], capture_output=True)
    return "tmpfs" if r.returncode == 0 else None


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave=0):
    """Writes path until the filesystem has only leave bytes free (0: no
    block left at all); the bytes written."""
    size = 0
    with open(path, "ab", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            data = b"\0" * chunk
            for _ in range(100000):
                if leave and free_bytes(path) - chunk < leave:
                    break
                try:
                    f.write(data)
                    size += chunk
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    return size


class DiskFull(unittest.TestCase):
    """The steps run in order (test_1_..., test_2_...): each finds the
    state the one before left."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to mount a small filesystem for data_dir")
        if not available():
            raise unittest.SkipTest("Dovecot (dovecot-imapd, dovecot-pop3d) is not installed")
        # the upstream Dovecot is on loopback
        cls.mh = Mailhub(listeners=("smtp", "imaps", "admin"), init=False,
                         config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        cls.scratch = tempfile.mkdtemp(prefix="mailhub-fs.")
        os.makedirs(cls.mh.data_dir)
        cls.fs = mount_small_fs(cls.mh.data_dir, cls.scratch)
        if cls.fs is None:
            cls.mh.cleanup()
            shutil.rmtree(cls.scratch, ignore_errors=True)
            raise unittest.SkipTest("cannot mount a small filesystem (loop ext4 or tmpfs)")
        cls.dc = None
        try:
            # the mount's root is data_dir: its mode is the admin's choice
            os.chmod(cls.mh.data_dir, 0o750)
            cls.mh.cli("init", "--hostname", HOSTNAME)
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(ALICE, ALICE_PW)
            cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
            token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
            cls.dc = Dovecot({UP_USER: UP_PW})
            cls.dc.start()
            r = cls.mh.cli("upstream", "add", ALICE, "--protocol", "pop3",
                           "--host", "127.0.0.1", "--port", str(cls.dc.port("pop3s")),
                           "--tls", "implicit", "--tls-verify", "pin:" + cls.dc.cert_sha256,
                           "--username", UP_USER, "--password-stdin", "--delete",
                           input=UP_PW + "\n")
            cls.upstream = int(r.stdout.strip())
            cls.mh.start()
            cls.api = Client(cls.mh.port("admin"), token)
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        try:
            cls.mh.stop(check=False)
        finally:
            if cls.dc is not None:
                cls.dc.close()
            subprocess.run(["umount", cls.mh.data_dir], capture_output=True)
            if os.path.ismount(cls.mh.data_dir):
                subprocess.run(["umount", "-l", cls.mh.data_dir], capture_output=True)
            shutil.rmtree(cls.scratch, ignore_errors=True)
            cls.mh.cleanup()

    @classmethod
    def tearDownClass(cls):
        log = cls.mh.log()
        cls.cleanup()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError(f"sanitizer report in serve log:\n{log}")

    # ---- helpers -----------------------------------------------------------

    def alive(self):
        self.assertIsNone(self.mh.proc.poll(), "the daemon exited:\n" + self.mh.log()[-3000:])

    def imap(self):
        c = Raw(self.mh.port("imaps"), timeout=30)
        c.ok("l", f'LOGIN "{ALICE}" "{ALICE_PW}"'.encode())
        return c

    def append(self, c, tag, data):
        c.send(f"{tag} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
        return c.until(tag)[1]

    def db(self):
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def inbox_count(self):
        with self.db() as db:
            return db.execute(
                "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN users u ON u.id = b.user_id WHERE u.address = ?"
                " AND b.name = 'INBOX'", (ALICE,)).fetchone()[0]

    def blob_files(self):
        out = {}
        for root, _, files in os.walk(os.path.join(self.mh.data_dir, "blobs")):
            for f in files:
                out[os.path.relpath(os.path.join(root, f), self.mh.data_dir)] = \
                    os.path.getsize(os.path.join(root, f))
        return out

    def nothing_half_written(self):
        """No temporary file, every blob whole (its content hashes to its
        name), every row's blob there: what `mailhub fsck` checks."""
        tmp = os.listdir(os.path.join(self.mh.data_dir, "blobs", "tmp"))
        self.assertEqual(tmp, [])
        r = self.mh.cli("fsck", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 corrupt, 0 missing, 0 orphan, 0 stray", r.stdout)

    def upstream_state(self):
        r = self.api.get(f"/upstreams/{self.upstream}")
        self.assertEqual(r.status, 200, r)
        return r.json["state"]

    def fetch_now(self, until, timeout=60):
        before = self.upstream_state()
        r = self.api.post(f"/upstreams/{self.upstream}/fetch", {})
        self.assertIn(r.status, (200, 202, 204), r)
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            state = self.upstream_state()
            if state != before and until(state):
                return state
            # the scheduler may have run it already (after room came back):
            # a run within the same second leaves the state as it was
            if until(before) and until(state) and time.monotonic() - start > 3:
                return state
            time.sleep(0.2)
        self.fail(f"fetch did not finish: {self.upstream_state()}\n{self.mh.log()[-3000:]}")

    # ---- the steps ---------------------------------------------------------

    def test_1_before(self):
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            for i in range(BASELINE):
                s.sendmail("sender@remote.example", [ALICE], message(f"base{i}", 2000))
        self.dc.add_message(UP_USER, message("upstream-before", 3000))
        state = self.fetch_now(lambda st: st["last_ok"] is not None or st["last_error"])
        self.assertIsNone(state["last_error"], state)
        self.assertEqual(self.inbox_count(), BASELINE + 1)
        self.assertEqual(self.dc.messages(UP_USER), [])
        self.nothing_half_written()

    def refused_everywhere(self, tag):
        """New mail refused by SMTP, IMAP APPEND and the fetcher alike;
        nothing of it is kept."""
        # RFC 5321 §4.2.3 / RFC 3463 X.3.1: insufficient system storage
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            for i in range(3):
                with self.assertRaises(smtplib.SMTPDataError) as cm:
                    s.sendmail("sender@remote.example", [ALICE],
                               message(f"{tag}{i}", 200000))
                self.assertEqual(cm.exception.smtp_code, 452, cm.exception)
                self.assertTrue(cm.exception.smtp_error.startswith(b"4.3.1"), cm.exception)
            # the session goes on
            self.assertEqual(s.noop()[0], 250)
        c = self.imap()
        for i in range(2):
            line = self.append(c, f"a{i}", message(f"{tag}-append{i}", 100000))
            self.assertRegex(line, rb"^a%d NO \[(SERVERBUG|OVERQUOTA)\] " % i)
            self.assertIn(b"disk space", line)
        # what is there can still be read
        c.ok("s", b"SELECT INBOX")
        untagged = c.ok("f", b"FETCH 1 (BODY.PEEK[])")
        self.assertTrue(any(b"base0" in l for l in untagged))
        c.ok("n", b"NOOP")
        c.close()
        self.assertEqual(self.inbox_count(), self.rows_before)
        self.assertEqual(self.blob_files(), self.blobs_before)

    def test_2_nearly_full(self):
        """Less free than the reserve: mail is refused, and the database
        still records what the fetcher says."""
        type(self).rows_before = self.inbox_count()
        type(self).blobs_before = self.blob_files()
        fill(os.path.join(self.mh.data_dir, "filler1"), leave=RESERVE // 8)
        self.assertLess(free_bytes(self.mh.data_dir), RESERVE)
        self.refused_everywhere("nearly")
        # the fetcher: paused with a plain error, the upstream's mail kept
        self.dc.add_message(UP_USER, message("upstream-full", 50000))
        state = self.fetch_now(lambda st: st["last_error"] is not None)
        self.assertIn("disk is full", state["last_error"], state)
        self.assertNotIn("/", state["last_error"])	# no path of the server
        self.assertEqual(len(self.dc.messages(UP_USER)), 1)
        self.assertEqual(self.inbox_count(), self.rows_before)
        self.alive()
        self.nothing_half_written()

    def test_3_full(self):
        """Not a block left: the database's own writes fail too (flags,
        keywords, new mailboxes, the fetcher's requests); refused with NO
        or 507, the sessions and the daemon carry on."""
        # the daemon may free a block of its own meanwhile (a WAL
        # checkpoint, a temporary file removed): top up until none is left
        for _ in range(20):
            fill(os.path.join(self.mh.data_dir, "filler2"))
            if os.statvfs(self.mh.data_dir).f_bavail == 0:
                break
            time.sleep(0.1)
        self.assertEqual(os.statvfs(self.mh.data_dir).f_bavail, 0)
        self.refused_everywhere("full")
        c = self.imap()
        c.ok("s", b"SELECT INBOX")
        refused = 0
        # each round replaces every message's keywords with 20 new ones
        # (adding would stop changing anything once a message holds
        # MESSAGE_KEYWORDS_MAX bytes of them, and the WAL's existing space
        # may absorb what came before), and adds 20 names to the mailbox's
        # list: the database must grow
        for i in range(400):
            kw = b" ".join(b"k%d_%d_%s" % (i, j, b"x" * 40) for j in range(20))
            _, line = c.cmd(f"t{i}", b"STORE 1:* FLAGS (" + kw + b")")
            self.assertRegex(line, rb"^t%d (OK|NO) " % i)
            if line.startswith(b"t%d NO" % i):
                refused += 1
                if refused >= 3:
                    break
        self.assertGreater(refused, 0, "the database never filled up")
        _, line = c.cmd("m", b"CREATE Another")
        self.assertRegex(line, rb"^m (OK|NO) ")
        c.ok("n", b"NOOP")
        c.close()
        r = self.api.post(f"/upstreams/{self.upstream}/fetch", {})
        self.assertIn(r.status, (202, 507), r)
        self.assertEqual(len(self.dc.messages(UP_USER)), 1)
        self.alive()
        self.assertEqual(self.inbox_count(), self.rows_before)
        self.nothing_half_written()

    def test_4_room_again(self):
        for name in ("filler1", "filler2"):
            os.unlink(os.path.join(self.mh.data_dir, name))
        self.alive()
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.sendmail("sender@remote.example", [ALICE], message("after", 200000))
        c = self.imap()
        line = self.append(c, "a", message("append-after", 100000))
        self.assertTrue(line.startswith(b"a OK"), line)
        c.ok("s", b"SELECT INBOX")
        c.ok("f", b"STORE 1:* +FLAGS (\\Seen)")
        c.ok("m", b"CREATE AfterFull")
        c.close()
        # the fetcher resumes: the message it left upstream arrives, once
        state = self.fetch_now(lambda st: st["last_error"] is None)
        self.assertIsNone(state["last_error"], state)
        self.assertEqual(self.dc.messages(UP_USER), [])
        self.assertEqual(self.inbox_count(), self.rows_before + 3)
        self.nothing_half_written()
        self.alive()


if __name__ == "__main__":
    tap.main()
