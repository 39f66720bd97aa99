"""Real IMAP clients against the running daemon: curl (imap:// with
STARTTLS and imaps://), mbsync (isync) doing a full two-way sync of a
mailbox tree and then an incremental one, and a mail reader in batch mode
(mailutils' movemail, or neomutt).  A client that is not installed skips
its test."""

import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from mailhub_fixture import Mailhub, client_tls_context  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"


def msg(subject, body="hello", sender="x@example.net"):
    return (f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.net>\r\n"
            f"\r\n{body}\r\n").encode()


def have(tool):
    return shutil.which(tool) is not None


class ClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub()
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-imapclients.")
        cls.cert = os.path.join(cls.mh.data_dir, "tls", "cert.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.mh.close()

    def imap(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(), timeout=10)
        m.login(USER, PASSWORD)
        return m

    def run_tool(self, args, timeout=120, **kw):
        r = subprocess.run(args, capture_output=True, timeout=timeout, **kw)
        self.assertEqual(r.returncode, 0,
                         f"{args[0]} exited {r.returncode}:\n"
                         f"{r.stdout.decode(errors='replace')[-3000:]}\n"
                         f"{r.stderr.decode(errors='replace')[-3000:]}")
        return r.stdout

    # ---- curl ----------------------------------------------------------

    @unittest.skipUnless(have("curl"), "curl not installed")
    def test_curl(self):
        user = f"{USER}:{PASSWORD}"
        imaps = f"imaps://127.0.0.1:{self.mh.port('imaps')}"
        imap = f"imap://127.0.0.1:{self.mh.port('imap')}"
        m = self.imap()
        m.create("CurlBox")
        m.logout()
        # imap:// with STARTTLS (the server refuses LOGIN in plaintext)
        out = self.run_tool(["curl", "-sS", "-k", "--ssl-reqd", imap + "/",
                             "-u", user])
        self.assertIn(b'"CurlBox"', out)
        self.assertIn(b"\\Sent", out)
        # upload (APPEND), then fetch it back by UID
        path = os.path.join(self.tmp, "up.eml")
        with open(path, "wb") as f:
            f.write(msg("curl upload"))
        self.run_tool(["curl", "-sS", "-k", "-T", path, imaps + "/CurlBox",
                       "-u", user])
        out = self.run_tool(["curl", "-sS", "-k", imaps + "/CurlBox;UID=1",
                             "-u", user])
        self.assertEqual(out, msg("curl upload"))
        out = self.run_tool(["curl", "-sS", "-k",
                             imaps + "/CurlBox;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)",
                             "-u", user])
        self.assertEqual(out, b"Subject: curl upload\r\n\r\n")
        out = self.run_tool(["curl", "-sS", "-k", imaps + "/CurlBox?SUBJECT%20upload",
                             "-u", user])
        self.assertEqual(out.strip(), b"* SEARCH 1")
        out = self.run_tool(["curl", "-sS", "-k", imaps + "/CurlBox", "-X",
                             "STATUS CurlBox (MESSAGES UNSEEN)", "-u", user])
        self.assertIn(b"MESSAGES 1", out)
        # a wrong password fails
        r = subprocess.run(["curl", "-sS", "-k", imaps + "/", "-u",
                            f"{USER}:wrong"], capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)

    # ---- mbsync ----------------------------------------------------------

    def maildir_messages(self, root, folder):
        """{subject: maildir flags} of a local folder."""
        out = {}
        for sub in ("cur", "new"):
            d = os.path.join(root, folder, sub)
            for name in os.listdir(d):
                with open(os.path.join(d, name), "rb") as f:
                    subject = re.search(rb"^Subject: (.*?)\r?$", f.read(),
                                        re.M).group(1).decode()
                flags = name.split(":2,", 1)[1] if ":2," in name else ""
                out[subject] = flags
        return out

    def remote_messages(self, m, box):
        """{subject: set of flags} of a remote mailbox."""
        m.select(box, readonly=True)
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = {}
        if data == [None]:
            return out
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).split())
            flags.discard(b"\\Recent")
            subject = item[1].split(b":", 1)[1].strip().decode()
            out[subject] = {f.decode() for f in flags}
        return out

    def write_local(self, root, folder, name, data, flags=""):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, folder, sub), exist_ok=True)
        with open(os.path.join(root, folder, "cur", f"{name}:2,{flags}"), "wb") as f:
            f.write(data)

    @unittest.skipUnless(have("mbsync"), "isync (mbsync) not installed")
    def test_mbsync_two_way(self):
        local = os.path.join(self.tmp, "maildir")
        os.makedirs(local)
        rc = os.path.join(self.tmp, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount mh
Host 127.0.0.1
Port {self.mh.port('imaps')}
User {USER}
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {self.cert}
PipelineDepth 10

IMAPStore remote
Account mh

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
""")
        # the remote tree
        m = self.imap()
        m.create("Projects/2026")
        m.create("Lists")
        m.append("Projects/2026", r"(\Seen \Flagged)", None, msg("plan"))
        m.append("Projects/2026", None, None, msg("budget"))
        m.append("Lists", r"(\Answered \Seen)", None, msg("digest"))
        m.append("INBOX", None, None, msg("welcome"))
        # the local tree
        self.write_local(local, "Notes/Ideas", "1700000000.1.host",
                         msg("idea one"), "F")
        self.write_local(local, "Notes/Ideas", "1700000000.2.host",
                         msg("idea two"), "S")
        self.write_local(local, "INBOX", "1700000000.3.host",
                         msg("written offline"), "RS")

        # full sync, both ways
        self.run_tool(["mbsync", "-c", rc, "-a"])
        self.assertEqual(self.maildir_messages(local, "Projects/2026"),
                         {"plan": "FS", "budget": ""})
        self.assertEqual(self.maildir_messages(local, "Lists"), {"digest": "RS"})
        self.assertEqual(self.remote_messages(m, "Notes/Ideas"),
                         {"idea one": {"\\Flagged"}, "idea two": {"\\Seen"}})
        self.assertEqual(self.remote_messages(m, "INBOX"),
                         {"welcome": set(),
                          "written offline": {"\\Answered", "\\Seen"}})
        self.assertEqual(self.maildir_messages(local, "INBOX"),
                         {"welcome": "", "written offline": "RS"})

        # changes on both sides, then an incremental sync
        m.select("Projects/2026")
        typ, data = m.search(None, "SUBJECT", "budget")
        m.store(data[0], "+FLAGS", r"(\Seen)")
        typ, data = m.search(None, "SUBJECT", "plan")
        m.store(data[0], "+FLAGS", r"(\Deleted)")
        m.expunge()
        m.append("Lists", None, None, msg("new on server"))
        ideas = os.path.join(local, "Notes/Ideas/cur")
        for name in os.listdir(ideas):
            path = os.path.join(ideas, name)
            with open(path, "rb") as f:
                if b"idea two" in f.read():
                    os.rename(path, path + "T")   # trashed locally
        self.write_local(local, "Lists", "1700000001.1.host",
                         msg("new offline"), "")
        self.run_tool(["mbsync", "-c", rc, "-a"])
        self.assertEqual(self.maildir_messages(local, "Projects/2026"),
                         {"budget": "S"})
        self.assertEqual(self.maildir_messages(local, "Lists"),
                         {"digest": "RS", "new on server": "",
                          "new offline": ""})
        self.assertEqual(self.remote_messages(m, "Lists"),
                         {"digest": {"\\Answered", "\\Seen"},
                          "new on server": set(), "new offline": set()})
        self.assertEqual(self.remote_messages(m, "Notes/Ideas"),
                         {"idea one": {"\\Flagged"}})
        # a third run has nothing left to do and changes nothing
        self.run_tool(["mbsync", "-c", rc, "-a"])
        self.assertEqual(self.remote_messages(m, "Notes/Ideas"),
                         {"idea one": {"\\Flagged"}})
        m.logout()

    # ---- a mail reader in batch mode -----------------------------------------

    @unittest.skipUnless(have("movemail") or have("neomutt"),
                         "neither mailutils nor neomutt installed")
    def test_reader_batch(self):
        m = self.imap()
        m.create("Reader")
        for i in range(3):
            m.append("Reader", None, None, msg(f"read me {i}"))
        m.logout()
        if have("movemail"):
            out = os.path.join(self.tmp, "reader.mbox")
            url = (f"imaps://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:"
                   f"{self.mh.port('imaps')}/Reader")
            # --preserve keeps the messages on the server; mailutils does not
            # verify the self-signed certificate by default
            self.run_tool(["movemail", "--preserve", url, out])
            with open(out, "rb") as f:
                text = f.read()
            for i in range(3):
                self.assertIn(b"Subject: read me %d" % i, text)
            return
        # neomutt: read the folder and save it to an mbox without a terminal
        out = os.path.join(self.tmp, "reader-neomutt.mbox")
        muttrc = os.path.join(self.tmp, "muttrc")
        with open(muttrc, "w") as f:
            f.write(f"""set imap_user="{USER}"
set imap_pass="{PASSWORD}"
set ssl_verify_host=no
set ssl_verify_dates=no
set certificate_file={self.tmp}/neomutt-certs
set confirmappend=no
set confirmcreate=no
set mbox_type=mbox
""")
        with open(os.path.join(self.tmp, "neomutt-certs"), "w") as f:
            with open(self.cert) as c:
                f.write(c.read())
        url = f"imaps://127.0.0.1:{self.mh.port('imaps')}/Reader"
        cmd = (f"neomutt -n -F {muttrc} -f {url} "
               f"-e 'push \"<tag-pattern>~A<enter><tag-prefix><copy-message>"
               f"{out}<enter><quit>\"'")
        self.run_tool(["script", "-qec", cmd, "/dev/null"],
                      env=dict(os.environ, TERM="xterm"))
        with open(out, "rb") as f:
            text = f.read()
        for i in range(3):
            self.assertIn(b"Subject: read me %d" % i, text)


if __name__ == "__main__":
    tap.main()
