"""`mailhub import` against real data made by the real peer: a Maildir that
Debian's Dovecot wrote (mail delivered over LMTP, and over IMAP: APPEND
with flags, keywords and internal dates, folders, expunges), imported and
then served by mailhub: imaplib sees in every folder the same UIDVALIDITY,
UIDs, flags, keywords, internal dates and bytes as from Dovecot.  Then an
IMAP import from Dovecot killed with SIGKILL half-way and run again: every
message once, with Dovecot's UIDs.  And an mbox file, with its Status and
X-Status flags and its escaped "From " lines."""

import imaplib
import os
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import dovecot_util  # noqa: E402
from mailhub_fixture import Mailhub, free_port, mailhub_bin  # noqa: E402

PASSWORD = "Import-Test-Pass-42"
FETCH_RE = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\) INTERNALDATE \"([^\"]+)\"")


def message(i, folder="INBOX"):
    return (f"From: Sender {i} <s{i}@example.net>\r\nTo: bob@example.org\r\n"
            f"Subject: message {i} in {folder}\r\nMessage-ID: <m{i}.{folder}@example.net>\r\n"
            f"\r\nbody {i}\r\nFrom the start of a line\r\n" + "x" * (i % 50) + "\r\n").encode()


def folder_state(imap, folder):
    """{"uidvalidity", "uidnext", "messages": {uid: (flags, date, bytes)}}."""
    typ, _ = imap.select('"' + folder + '"', readonly=True)
    assert typ == "OK", folder
    uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
    msgs = {}
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        m = FETCH_RE.search(item[0])
        assert m, item[0]
        flags = set(m.group(2).decode().split()) - {"\\Recent"}
        msgs[int(m.group(1))] = (sorted(flags), m.group(3).decode(), item[1])
    return {"uidvalidity": uidvalidity, "messages": msgs}


def folders(imap):
    typ, data = imap.list()
    names = []
    for line in data:
        m = re.match(rb'\(([^)]*)\) "(.)" "?([^"]*)"?$', line)
        if m and b"\\Noselect" not in m.group(1) and b"\\NonExistent" not in m.group(1):
            names.append(m.group(3).decode())
    return sorted(names)


class ImportFromDovecot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not dovecot_util.available():
            raise unittest.SkipTest("dovecot is not installed")
        cls.dv = dovecot_util.Dovecot()
        cls.lmtp_port = free_port()
        with open(cls.dv.conf) as f:
            conf = f.read()
        conf = conf.replace("protocols = imap\n", "protocols = imap lmtp\n")
        conf += ("service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n"
                 f"    port = {cls.lmtp_port}\n  }}\n}}\n")
        with open(cls.dv.conf, "w") as f:
            f.write(conf)
        cls.dv.start()
        cls.mh = Mailhub(listeners=("imap",), plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        for u in ("bob", "carol", "dave", "erin"):
            cls.mh.add_user(f"{u}@example.org", PASSWORD)
        cls.populate()
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "mh", None):
            cls.mh.close()
        if getattr(cls, "dv", None):
            cls.dv.stop()

    @classmethod
    def dovecot_imap(cls, user="bob"):
        imap = imaplib.IMAP4("127.0.0.1", cls.dv.port, timeout=30)
        imap.login(user, dovecot_util.PASSWORD)
        return imap

    @classmethod
    def populate(cls):
        # over LMTP, as Dovecot's own delivery would
        with smtplib.LMTP("127.0.0.1", cls.lmtp_port, timeout=30) as lmtp:
            for i in range(1, 6):
                lmtp.sendmail("s@example.net", ["bob"], message(i))
        imap = cls.dovecot_imap()
        imap.create("Sent")
        imap.create("Archive/2024")
        imap.create("Caf&AOk-")     # "Café": modified UTF-7 on disk
        for i in range(6, 12):
            imap.append("INBOX", r"(\Seen $Work)" if i % 2 else r"(\Flagged)",
                        imaplib.Time2Internaldate(1600000000 + i * 3600), message(i))
        for i in range(12, 16):
            imap.append("Sent", r"(\Seen \Answered Later)",
                        imaplib.Time2Internaldate(1500000000 + i), message(i, "Sent"))
        for i in range(16, 19):
            imap.append("Archive/2024", r"(\Draft)", None, message(i, "Archive"))
            imap.append("Caf&AOk-", "", None, message(i, "Cafe"))
        imap.select("INBOX")
        imap.uid("STORE", "2", "+FLAGS", r"(\Seen \Deleted)")
        imap.uid("STORE", "3", "+FLAGS", "(Project-X)")
        imap.expunge()            # a gap in the UIDs
        imap.uid("STORE", "4", "+FLAGS", r"(\Answered)")
        imap.logout()
        # the IMAP account to import from: enough messages to kill half-way
        imap = cls.dovecot_imap("frank")
        imap.create("Lists/Debian")
        for i in range(1, 601):
            imap.append("INBOX", r"(\Seen)" if i % 3 else "", None, message(i))
        for i in range(1, 41):
            imap.append("Lists/Debian", "(NonJunk)", None, message(i, "Lists"))
        imap.logout()

    def mailhub_imap(self, user):
        imap = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
        imap.login(f"{user}@example.org", PASSWORD)
        return imap

    def compare(self, dv_user, mh_user):
        dv, mh = self.dovecot_imap(dv_user), self.mailhub_imap(mh_user)
        dv_folders = folders(dv)
        self.assertTrue(set(dv_folders) <= set(folders(mh)), (dv_folders, folders(mh)))
        total = 0
        for name in dv_folders:
            a, b = folder_state(dv, name), folder_state(mh, name)
            self.assertEqual(a["uidvalidity"], b["uidvalidity"], name)
            self.assertEqual(sorted(a["messages"]), sorted(b["messages"]), name)
            for uid, (flags, date, body) in a["messages"].items():
                self.assertEqual(b["messages"][uid], (flags, date, body), (name, uid))
            total += len(a["messages"])
        dv.logout()
        mh.logout()
        return total

    def import_cli(self, *args, check=True):
        return self.mh.cli("import", *args, check=check, timeout=300)

    def test_maildir_from_dovecot(self):
        root = os.path.join(self.dv.dir, "mail", "bob")
        r = self.import_cli("bob@example.org", "maildir", root)
        # (test_export_roundtrip may have run first: then it is all there)
        m = re.search(r"import: (\d+) imported, (\d+) already there, 0 failed, 4 folders",
                      r.stdout)
        self.assertTrue(m, r.stdout)
        self.assertEqual(int(m.group(1)) + int(m.group(2)), 20)
        self.assertEqual(self.compare("bob", "bob"), 20)
        # UIDNEXT follows Dovecot's: new mail gets UIDs no client has seen
        mh = self.mailhub_imap("bob")
        typ, data = mh.status("INBOX", "(UIDNEXT)")
        self.assertIn(b"UIDNEXT 12", data[0])
        mh.logout()
        # a second run brings nothing in twice
        r = self.import_cli("bob@example.org", "maildir", root)
        self.assertIn("import: 0 imported, 20 already there", r.stdout)
        self.assertEqual(self.compare("bob", "bob"), 20)

    def test_imap_killed_and_resumed(self):
        mh = mailhub_bin()
        args = [mh, "--config", self.mh.config_path, "import", "carol@example.org", "imap",
                f"127.0.0.1:{self.dv.port}", "--tls", "none", "--username", "frank",
                "--password-stdin", "--quiet"]
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdin.write(dovecot_util.PASSWORD + "\n")
        p.stdin.flush()
        db = os.path.join(self.mh.data_dir, "mailhub.db")
        done = self.kill_once_counted(p, db, "SELECT count(*) FROM import_keys", 250, 60, 0.02)
        self.assertLess(done, 640)
        r = self.mh.cli("import", *args[4:], input=dovecot_util.PASSWORD + "\n", timeout=300)
        m = re.search(r"import: (\d+) imported, (\d+) already there, 0 failed, 2 folders",
                      r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        self.assertEqual(int(m.group(1)) + int(m.group(2)), 640)
        self.assertGreater(int(m.group(2)), 0)
        self.assertEqual(self.compare("frank", "carol"), 640)
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        dup = c.execute("SELECT count(*) FROM (SELECT blob, mailbox_id FROM messages"
                        " GROUP BY blob, mailbox_id HAVING count(*) > 1)").fetchone()[0]
        c.close()
        self.assertEqual(dup, 0)

    def kill_once_counted(self, p, db, count_sql, at_least, timeout, pause):
        """SIGKILLs import process p once count_sql counts at_least rows
        (polled every pause seconds); the last count."""
        deadline = time.monotonic() + timeout
        done = 0
        while time.monotonic() < deadline and p.poll() is None:
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            done = c.execute(count_sql).fetchone()[0]
            c.close()
            if done >= at_least:
                break
            time.sleep(pause)
        self.assertIsNone(p.poll(), "the import ended before it could be killed")
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        return done

    def test_maildir_killed_and_resumed(self):
        """A Maildir import killed (SIGKILL) after its first batch and run
        again: everything once, with the UIDs and flags of the source."""
        n = 4500                  # more than two of the files' batches (2,000)
        root = os.path.join(self.mh.dir, "killed-maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, sub))
        lines = [f"3 V1234 N{2 * n + 1} G0123456789abcdef0123456789abcdef"]
        for i in range(1, n + 1):
            base = f"{1700000000 + i}.M{i}P1.host,S=100"
            flags = "S" if i % 2 else "FS"
            with open(os.path.join(root, "cur", f"{base}:2,{flags}"), "wb") as f:
                f.write(f"From: a@example.net\nSubject: killed {i}\n\nbody {i}\n".encode())
            lines.append(f"{2 * i} :{base}")      # UIDs with gaps, kept
        with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.mh.add_user("fay@example.org", PASSWORD)
        args = [mailhub_bin(), "--config", self.mh.config_path, "import", "fay@example.org",
                "maildir", root, "--quiet"]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        db = os.path.join(self.mh.data_dir, "mailhub.db")
        count = ("SELECT count(*) FROM import_keys k JOIN mailboxes m ON m.id = k.mailbox_id"
                 " JOIN users u ON u.id = m.user_id WHERE u.address = 'fay@example.org'")
        done = self.kill_once_counted(p, db, count, 1, 120, 0.005)
        self.assertGreater(done, 0)
        self.assertLess(done, n)
        r = self.import_cli("fay@example.org", "maildir", root)
        m = re.search(r"import: (\d+) imported, (\d+) already there, 0 failed, 1 folders",
                      r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        self.assertEqual(int(m.group(1)) + int(m.group(2)), n)
        self.assertGreaterEqual(int(m.group(2)), done)
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        rows = c.execute("SELECT uid, flags FROM messages WHERE mailbox_id ="
                         " (SELECT m.id FROM mailboxes m JOIN users u ON u.id = m.user_id"
                         " WHERE u.address = 'fay@example.org' AND m.name = 'INBOX')"
                         " ORDER BY uid").fetchall()
        uidnext = c.execute("SELECT uidnext FROM mailboxes m JOIN users u ON u.id = m.user_id"
                            " WHERE u.address = 'fay@example.org' AND m.name = 'INBOX'"
                            ).fetchone()[0]
        c.close()
        self.assertEqual([u for u, _ in rows], [2 * i for i in range(1, n + 1)])
        # \Seen is bit 0, \Flagged bit 2 (sql/001)
        self.assertEqual([f for _, f in rows], [1 if i % 2 else 5 for i in range(1, n + 1)])
        self.assertEqual(uidnext, 2 * n + 1)

    def test_mbox(self):
        path = os.path.join(self.mh.dir, "old.mbox")
        with open(path, "wb") as f:
            f.write(b"From alice@example.net Thu Feb 15 01:02:03 2007\n"
                    b"From: alice@example.net\nSubject: one\nStatus: RO\nX-Status: AF\n"
                    b"X-Keywords: $Work, bad\\kw, \\Seen later\nContent-Length: 30\n\n"
                    b"body one\n>From here, escaped\n>>From twice\n\n"
                    b"From bob@example.net Fri Feb 16 01:02:03 2007\n"
                    b"From: bob@example.net\nSubject: two\nStatus: O\n\nbody two\n\n")
        r = self.import_cli("dave@example.org", "mbox", path, "--folder", "Old")
        self.assertIn("import: 2 imported, 0 already there", r.stdout)
        mh = self.mailhub_imap("dave")
        st = folder_state(mh, "Old")["messages"]
        mh.logout()
        self.assertEqual(sorted(st), [1, 2])
        flags, date, body = st[1]
        self.assertEqual(flags, sorted(["\\Seen", "\\Answered", "\\Flagged", "$Work", "later"]))
        self.assertEqual(date, "15-Feb-2007 01:02:03 +0000")
        self.assertEqual(body, b"From: alice@example.net\r\nSubject: one\r\n\r\n"
                               b"body one\r\nFrom here, escaped\r\n>From twice\r\n")
        self.assertEqual(st[2][0], [])
        self.assertEqual(st[2][2], b"From: bob@example.net\r\nSubject: two\r\n\r\nbody two\r\n")
        r = self.import_cli("dave@example.org", "mbox", path, "--folder", "Old")
        self.assertIn("import: 0 imported, 2 already there", r.stdout)
        # an unescaped "From " line after a blank one, counted by a right
        # Content-Length (as mutt writes them), stays in its message
        path2 = os.path.join(self.mh.dir, "cl.mbox")
        body = b"para one\n\nFrom me, with love\n"
        with open(path2, "wb") as f:
            f.write(b"From a@b Thu Feb 15 01:02:03 2007\nSubject: cl\n"
                    b"Content-Length: %d\n\n" % len(body) + body +
                    b"\nFrom a@b Thu Feb 15 01:02:04 2007\nSubject: next\n\nx\n")
        r = self.import_cli("dave@example.org", "mbox", path2, "--folder", "CL")
        self.assertIn("import: 2 imported", r.stdout)
        mh = self.mailhub_imap("dave")
        st = folder_state(mh, "CL")["messages"]
        mh.logout()
        self.assertEqual(st[1][2], b"Subject: cl\r\n\r\npara one\r\n\r\nFrom me, with love\r\n")
        self.assertEqual(st[2][2], b"Subject: next\r\n\r\nx\r\n")

    def test_export_roundtrip(self):
        # Maildir: exported, then served by Dovecot: every message byte for
        # byte, every flag and keyword, the same UIDs and UIDVALIDITY
        root = os.path.join(self.dv.dir, "mail", "bob")
        self.import_cli("bob@example.org", "maildir", root)
        dest = os.path.join(self.dv.dir, "mail", "exp")
        r = self.mh.cli("export", "bob@example.org", "maildir", dest)
        self.assertIn("export: 20 messages", r.stdout)
        owner = os.stat(os.path.join(self.dv.dir, "mail")).st_uid
        subprocess.run(["chown", "-R", f"{owner}:{owner}", dest], check=True)
        self.assertEqual(self.compare("exp", "bob"), 20)
        # mbox: exported, imported again by another user: the same messages
        mdest = os.path.join(self.mh.dir, "mbox-out")
        self.mh.cli("export", "bob@example.org", "mbox", mdest)
        self.assertTrue(os.path.isfile(os.path.join(mdest, "Archive.sbd", "2024")))
        r = self.import_cli("erin@example.org", "mbox", mdest)
        self.assertIn("import: 20 imported", r.stdout)
        a, b = self.mailhub_imap("bob"), self.mailhub_imap("erin")
        for name in ("INBOX", "Sent", "Archive/2024", "Caf&AOk-"):
            x = sorted(folder_state(a, name)["messages"].values(), key=lambda v: v[2])
            y = sorted(folder_state(b, name)["messages"].values(), key=lambda v: v[2])
            self.assertEqual(x, y, name)
        a.logout()
        b.logout()
        # nothing is overwritten
        r = self.mh.cli("export", "bob@example.org", "mbox", mdest, check=False)
        self.assertEqual(r.returncode, 1)

    def mbsync_mirror(self, name, port, user, password):
        """Pulls the account with mbsync into a Maildir; returns {folder:
        {far UID: (maildir flags, bytes)}} from mbsync's sync state."""
        root = os.path.join(self.mh.dir, "mbsync-" + name)
        os.makedirs(os.path.join(root, "m"))
        rc = os.path.join(root, "rc")
        with open(rc, "w") as f:
            f.write(f"IMAPAccount a\nHost 127.0.0.1\nPort {port}\nUser {user}\n"
                    f"Pass {password}\nSSLType None\nAuthMechs LOGIN\n\n"
                    f"IMAPStore far\nAccount a\n\nMaildirStore near\nPath {root}/m/\n"
                    f"Inbox {root}/m/INBOX\nSubFolders Verbatim\n\nChannel c\n"
                    f"Far :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\n"
                    f"SyncState *\n")
        r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = {}
        for d, _, files in os.walk(os.path.join(root, "m")):
            if ".mbsyncstate" not in files:
                continue
            folder = os.path.relpath(d, os.path.join(root, "m"))
            near = {}
            for sub in ("cur", "new"):
                for fn in os.listdir(os.path.join(d, sub)):
                    m = re.search(r",U=(\d+)", fn)
                    flags = fn.split(":2,", 1)[1] if ":2," in fn else ""
                    with open(os.path.join(d, sub, fn), "rb") as f:
                        # mbsync's own X-TUID field differs between runs
                        data = re.sub(rb"(?m)^X-TUID: .*\n", b"", f.read())
                    near[int(m.group(1))] = (flags, data)
            msgs = {}
            with open(os.path.join(d, ".mbsyncstate")) as f:
                for line in f.read().split("\n\n", 1)[1].splitlines():
                    far, near_uid = line.split()[:2]
                    if int(far) > 0 and int(near_uid) > 0:
                        msgs[int(far)] = near[int(near_uid)]
            out[folder] = msgs
        return out

    @unittest.skipUnless(shutil.which("mbsync"), "isync (mbsync) not installed")
    def test_maildir_mbsync_sees_the_same(self):
        root = os.path.join(self.dv.dir, "mail", "bob")
        self.import_cli("bob@example.org", "maildir", root)
        a = self.mbsync_mirror("dovecot", self.dv.port, "bob", dovecot_util.PASSWORD)
        b = self.mbsync_mirror("mailhub", self.mh.port("imap"), "bob@example.org", PASSWORD)
        self.assertEqual(sum(len(v) for v in a.values()), 20)
        for folder, msgs in a.items():
            self.assertEqual(b.get(folder), msgs, folder)

    @unittest.skipUnless(shutil.which("neomutt") and shutil.which("script"),
                         "neomutt (or script) not installed")
    def test_mbox_written_by_mutt(self):
        # mutt copies Dovecot's INBOX into an mbox (its Status/X-Status, its
        # escaping of "From " lines); imported, it shows the same messages
        # and system flags as Dovecot's INBOX
        work = os.path.join(self.mh.dir, "mutt")
        src = os.path.join(work, "src")
        os.makedirs(work)
        os.makedirs(src)
        for sub in ("cur", "new", "tmp"):
            shutil.copytree(os.path.join(self.dv.dir, "mail", "bob", sub),
                            os.path.join(src, sub))
        rc = os.path.join(work, "rc")
        with open(rc, "w") as f:
            f.write("set mbox_type=mbox\nset confirmappend=no\nset confirmcreate=no\n"
                    "set quit=yes\nset mark_old=no\nset move=no\nset auto_tag=yes\n")
        out = os.path.join(work, "out.mbox")
        push = (f"push '<tag-pattern>~A<enter><tag-prefix><copy-message>{out}<enter>"
                "<quit>'")
        # mutt on a terminal of its own (script) now and then copied only
        # the message under its cursor (in one CI run under load): what is
        # under test is the import of what it writes, so it may try again
        for _ in range(3):
            if os.path.exists(out):
                os.unlink(out)
            subprocess.run(["script", "-qc", f'neomutt -n -F {rc} -f {src} -e "{push}"',
                            "/dev/null"], env=dict(os.environ, TERM="xterm"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            text = b""
            if os.path.exists(out):
                with open(out, "rb") as f:
                    text = f.read()
            if len(re.findall(rb"(?m)^From \S+@\S+ \w{3} \w{3} ", text)) == 10:
                break
        self.assertEqual(len(re.findall(rb"(?m)^From \S+@\S+ \w{3} \w{3} ", text)), 10, text)
        # mutt does not escape a "From " line that follows a non-blank one
        self.assertIn(b"\nFrom the start of a line\n", text)
        self.assertIn(b"\nStatus: RO\n", text)
        r = self.import_cli("erin@example.org", "mbox", out, "--folder", "FromMutt")
        self.assertIn("import: 10 imported", r.stdout)
        dv, mh = self.dovecot_imap("bob"), self.mailhub_imap("erin")
        system = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}
        a = sorted((sorted(set(f) & system), b)
                   for f, _, b in folder_state(dv, "INBOX")["messages"].values())
        b = sorted((sorted(set(f) & system), b)
                   for f, _, b in folder_state(mh, "FromMutt")["messages"].values())
        dv.logout()
        mh.logout()
        self.assertEqual(len(a), 10)
        self.assertEqual(a, b)

    def test_usage(self):
        r = self.import_cli("bob@example.org", "pst", "x", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.import_cli("nobody@example.org", "maildir", "/nonexistent", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.import_cli("erin@example.org", "imap", "127.0.0.1:1", "--username", "x",
                            check=False)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    tap.main()
