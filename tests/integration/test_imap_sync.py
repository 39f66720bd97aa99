"""CONDSTORE and QRESYNC (RFC 7162) as transcripts against the running
daemon: MODSEQ per message and HIGHESTMODSEQ per mailbox (persisted, never
shrinking, across restarts and expunges), FETCH CHANGEDSINCE, STORE
UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ, ENABLE, VANISHED and
VANISHED (EARLIER), SELECT (QRESYNC (...)); the resynchronisation of a
client that was away is compared with Dovecot's answer to the same
story."""

import os
import re
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot_util  # noqa: E402
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"


def message(i):
    return (b"From: Bob <bob@example.org>\r\n"
            b"To: Alice <alice@example.org>\r\n"
            b"Subject: Sync %d\r\n"
            b"Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
            b"\r\n"
            b"Body %d\r\n" % (i, i))


def append(c, mailbox, i):
    m = message(i)
    c.send(b"a APPEND " + mailbox + b" {%d+}\r\n" % len(m) + m + b"\r\n")
    _, tagged = c.until("a")
    if not tagged.startswith(b"a OK"):
        raise AssertionError(tagged)


def code(lines, name):
    """The number of an "[NAME n]" response code in the lines."""
    for line in lines:
        m = re.search(rb"\[" + name + rb" (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no {name!r} in {lines!r}")


def modseqs(lines):
    """{UID or sequence number: MODSEQ} of the FETCH lines."""
    out = {}
    for line in lines:
        m = re.match(rb"\* (\d+) FETCH \((.*)\)\r\n$", line)
        if not m:
            continue
        uid = re.search(rb"UID (\d+)", m.group(2))
        ms = re.search(rb"MODSEQ \((\d+)\)", m.group(2))
        if ms:
            out[int(uid.group(1)) if uid else int(m.group(1))] = int(ms.group(1))
    return out


class Server:
    """What a test needs of a server: a logged-in connection."""

    def __init__(self, port, tls, user, password):
        self.port, self.tls, self.user, self.password = port, tls, user, password

    def login(self):
        c = Raw(self.port, tls=self.tls, timeout=20)
        c.ok("l", b"LOGIN " + self.user.encode() + b" " + self.password.encode())
        return c


def resync_story(server, mailbox):
    """A client reads a mailbox of 6 messages and goes away; another
    changes flags and expunges; the first comes back with QRESYNC.
    Returns what it hears after SELECT's usual data, MODSEQs blanked."""
    c = server.login()
    c.ok("c", b"CREATE " + mailbox)
    for i in range(1, 7):
        append(c, mailbox, i)
    untagged = c.ok("s", b"SELECT " + mailbox + b" (CONDSTORE)")
    uidvalidity = code(untagged, b"UIDVALIDITY")
    highest = code(untagged, b"HIGHESTMODSEQ")
    c.ok("o", b"LOGOUT")
    c.close()

    other = server.login()
    other.ok("s", b"SELECT " + mailbox)
    other.ok("f", b"STORE 2 +FLAGS (\\Flagged)")
    other.ok("k", b"STORE 4 +FLAGS ($Work)")
    other.ok("d", b"STORE 3,5 +FLAGS (\\Deleted)")
    other.ok("e", b"EXPUNGE")
    other.ok("o", b"LOGOUT")
    other.close()

    c = server.login()
    c.ok("e", b"ENABLE QRESYNC")
    untagged = c.ok("q", b"SELECT %s (QRESYNC (%d %d 1:6))"
                    % (mailbox, uidvalidity, highest))
    c.ok("o", b"LOGOUT")
    c.close()
    # what QRESYNC adds: everything but FLAGS, EXISTS, RECENT and the OKs
    # that every SELECT sends
    extra = [line for line in untagged
             if not re.match(rb"\* (FLAGS|\d+ EXISTS|\d+ RECENT|OK \[)", line)]
    return [re.sub(rb"MODSEQ \(\d+\)", b"MODSEQ (n)", line) for line in extra]


class SyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(limits={"message_size": "1M"})
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()
        cls.server = Server(cls.mh.port("imaps"), True, USER, PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def box(self, name, n):
        """A new mailbox with n messages, selected on a new connection."""
        c = self.server.login()
        c.ok("c", b"CREATE " + name)
        for i in range(1, n + 1):
            append(c, name, i)
        untagged = c.ok("s", b"SELECT " + name)
        return c, untagged

    def test_capability(self):
        c = self.server.login()
        caps = c.ok("c", b"CAPABILITY")[0].split()
        self.assertIn(b"CONDSTORE", caps)
        self.assertIn(b"QRESYNC", caps)
        c.close()

    def test_modseq_grows_with_each_change(self):
        c, untagged = self.box(b"Grow", 3)
        highest = code(untagged, b"HIGHESTMODSEQ")
        # STATUS HIGHESTMODSEQ enables CONDSTORE, which in the selected
        # state first tells the HIGHESTMODSEQ (RFC 7162 §3.1)
        status = c.ok("t", b"STATUS Grow (HIGHESTMODSEQ MESSAGES)")
        self.assertEqual(status[0], b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest)
        self.assertEqual(status[1],
                         b"* STATUS \"Grow\" (MESSAGES 3 HIGHESTMODSEQ %d)\r\n" % highest)
        before = modseqs(c.ok("f", b"FETCH 1:* (MODSEQ)"))
        self.assertEqual(sorted(before), [1, 2, 3])
        self.assertEqual(max(before.values()), highest)
        # a STORE gives the changed message a MODSEQ above all others
        after = modseqs(c.ok("g", b"STORE 2 +FLAGS (\\Seen)"))
        self.assertGreater(after[2], highest)
        # a STORE that changes nothing leaves the MODSEQ
        again = c.ok("h", b"STORE 2 +FLAGS.SILENT (\\Seen)")
        self.assertEqual(again, [])
        self.assertEqual(modseqs(c.ok("i", b"FETCH 2 (MODSEQ)")), {2: after[2]})
        # CHANGEDSINCE keeps only what changed, and reports the MODSEQ
        changed = c.ok("j", b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % highest)
        self.assertEqual(changed, [b"* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (%d))\r\n"
                                   % after[2]])
        # SEARCH MODSEQ, with the highest MODSEQ found
        found = c.ok("k", b"SEARCH MODSEQ %d" % (highest + 1))
        self.assertEqual(found, [b"* SEARCH 2 (MODSEQ %d)\r\n" % after[2]])
        found = c.ok("l", b'SEARCH MODSEQ "/flags/\\\\seen" all 1')
        self.assertEqual(found, [b"* SEARCH 1 2 3 (MODSEQ %d)\r\n" % after[2]])
        # ESEARCH (RFC 7162 §3.2): MIN and MAX alone give the MODSEQ of
        # the messages they name, anything else the highest found
        key = b'MODSEQ "/flags/\\\\seen" all 1'
        for tag, ret, want in ((b"m", b"MIN", b"MIN 1 MODSEQ %d" % before[1]),
                               (b"n", b"MAX", b"MAX 3 MODSEQ %d" % before[3]),
                               (b"o", b"MIN MAX", b"MIN 1 MAX 3 MODSEQ %d"
                                % max(before[1], before[3])),
                               (b"p", b"COUNT", b"COUNT 3 MODSEQ %d" % after[2])):
            found = c.ok(tag.decode(), b"SEARCH RETURN (%s) %s" % (ret, key))
            self.assertEqual(found, [b'* ESEARCH (TAG "%s") %s\r\n' % (tag, want)])
        c.close()

    def test_store_unchangedsince(self):
        c, untagged = self.box(b"Cond", 3)
        highest = code(untagged, b"HIGHESTMODSEQ")
        c.ok("e", b"ENABLE CONDSTORE")
        # message 1 changes; a later STORE based on the old MODSEQ
        # touches the others and reports message 1 as MODIFIED
        first = modseqs(c.ok("a", b"STORE 1 +FLAGS.SILENT (\\Seen)"))
        self.assertGreater(first[1], highest)
        untagged, tagged = c.cmd("b", b"STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)"
                                 % highest)
        self.assertTrue(tagged.startswith(b"b OK [MODIFIED 1]"), tagged)
        got = modseqs(untagged)
        self.assertEqual(sorted(got), [2, 3])
        self.assertTrue(all(v > first[1] for v in got.values()))
        for line in untagged:
            self.assertIn(b"\\Flagged", line)
        # UID STORE reports UIDs; UNCHANGEDSINCE 0 fails for every message
        _, tagged = c.cmd("d", b"UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
        self.assertTrue(tagged.startswith(b"d OK [MODIFIED 1:3]"), tagged)
        flags = c.ok("f", b"FETCH 1:3 (FLAGS)")
        self.assertFalse(any(b"\\Draft" in line for line in flags), flags)
        # bad modifiers are BAD
        _, tagged = c.cmd("g", b"STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)")
        self.assertTrue(tagged.startswith(b"g BAD"), tagged)
        _, tagged = c.cmd("h", b"FETCH 1 (FLAGS) (CHANGEDSINCE 0)")
        self.assertTrue(tagged.startswith(b"h BAD"), tagged)
        # VANISHED needs QRESYNC and UID FETCH
        _, tagged = c.cmd("i", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        self.assertTrue(tagged.startswith(b"i BAD"), tagged)
        c.close()

    def test_others_changes_carry_modseq(self):
        c, _ = self.box(b"Others", 2)
        c.ok("e", b"ENABLE CONDSTORE")
        other = self.server.login()
        other.ok("s", b"SELECT Others")
        other.ok("f", b"STORE 2 +FLAGS (\\Answered)")
        changed = modseqs(other.ok("g", b"FETCH 2 (MODSEQ)"))
        untagged = c.ok("n", b"NOOP")
        self.assertEqual(untagged, [b"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent)"
                                    b" MODSEQ (%d))\r\n" % changed[2]])
        other.close()
        c.close()

    def test_own_changes_then_another_process(self):
        """A session's own STORE and EXPUNGE are taken into its view without
        a look at the store when nothing else changed the mailbox since its
        last look; a change another process made meanwhile (`mailhub
        import`, which no notification of the daemon tells of) is still
        seen by the next command that changes the mailbox, and by NOOP."""
        c, untagged = self.box(b"Cross", 2)
        self.assertIn(b"* 2 EXISTS\r\n", untagged)
        self.assertEqual(c.ok("f", b"STORE 1 +FLAGS (\\Flagged)"),
                         [b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"])
        c.ok("d", b"STORE 2 +FLAGS.SILENT (\\Deleted)")
        # a recent message went: the count is told again (as Dovecot does)
        self.assertEqual(c.ok("e", b"EXPUNGE"), [b"* 2 EXPUNGE\r\n", b"* 1 RECENT\r\n"])
        path = os.path.join(self.mh.dir, "cross.mbox")

        def cli_import(i):
            with open(path, "wb") as f:
                f.write(b"From bob@example.org Mon Nov 23 08:00:00 2026\n")
                f.write(message(i).replace(b"\r\n", b"\n") + b"\n")
            self.mh.cli("import", USER, "mbox", path, "--folder", "Cross", "--quiet")

        cli_import(10)
        untagged = c.ok("g", b"STORE 1 -FLAGS (\\Flagged)")
        self.assertIn(b"* 2 EXISTS\r\n", untagged)
        self.assertIn(b"* 1 FETCH (FLAGS (\\Recent))\r\n", untagged)
        cli_import(11)
        self.assertIn(b"* 3 EXISTS\r\n", c.ok("n", b"NOOP"))
        fetched = c.ok("h", b"FETCH 1:* (FLAGS)")
        self.assertEqual(len(fetched), 3)
        self.assertIn(b"Subject: Sync 11", b"".join(c.ok("b", b"FETCH 3 BODY.PEEK[HEADER]")))
        c.close()

    def test_store_to_message_expunged_elsewhere(self):
        """STORE to a message another session expunged, which this one
        still sees (RFC 2180 §4.2.1): OK, and a FETCH with its flags as the
        change leaves them, also once the session has heard of the expunge
        during a FETCH, where it may not be told; a keyword new to the
        mailbox is in FLAGS first; the EXPUNGEs follow at NOOP."""
        c, _ = self.box(b"Ghost", 3)
        other = self.server.login()
        other.ok("s", b"SELECT Ghost")
        other.ok("d", b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        other.ok("x", b"EXPUNGE")
        untagged = c.ok("f", b"STORE 1 +FLAGS (\\Flagged $Ghostly)")
        self.assertNotIn(b"EXPUNGE", b"".join(untagged))
        flags_at = [i for i, line in enumerate(untagged) if line.startswith(b"* FLAGS (")]
        fetch_at = [i for i, line in enumerate(untagged) if line.startswith(b"* 1 FETCH (")]
        self.assertTrue(flags_at and fetch_at and flags_at[0] < fetch_at[0], untagged)
        self.assertIn(b"$Ghostly", untagged[flags_at[0]])
        self.assertIn(b"\\Flagged", untagged[fetch_at[0]])
        self.assertIn(b"$Ghostly", untagged[fetch_at[0]])
        # heard of during a FETCH, not yet told: the view's copy changes
        c.ok("g", b"FETCH 1:3 (FLAGS)")
        untagged = c.ok("h", b"STORE 2 -FLAGS (\\Deleted)")
        self.assertEqual(len([line for line in untagged if line.startswith(b"* 2 FETCH (")]), 1,
                         untagged)
        self.assertNotIn(b"\\Deleted", b"".join(untagged))
        noop = c.ok("n", b"NOOP")
        self.assertEqual([line for line in noop if line.endswith(b"EXPUNGE\r\n")],
                         [b"* 1 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"])
        # nothing was stored for them: the one left is as it was
        self.assertEqual(len(c.ok("a", b"FETCH 1:* (FLAGS)")), 1)
        other.close()
        c.close()

    def test_vanished_replaces_expunge(self):
        c, _ = self.box(b"Vanish", 5)
        c.ok("e", b"ENABLE QRESYNC")
        c.ok("d", b"STORE 2,4:5 +FLAGS.SILENT (\\Deleted)")
        untagged = c.ok("x", b"EXPUNGE")
        self.assertIn(b"* VANISHED 2,4:5\r\n", untagged)
        self.assertFalse(any(b"EXPUNGE" in line for line in untagged), untagged)
        # another session's expunge, heard at NOOP
        other = self.server.login()
        other.ok("s", b"SELECT Vanish")
        other.ok("d", b"UID STORE 3 +FLAGS.SILENT (\\Deleted)")
        other.ok("x", b"UID EXPUNGE 3")
        self.assertIn(b"* VANISHED 3\r\n", c.ok("n", b"NOOP"))
        other.close()
        # UID FETCH ... VANISHED: the expunges since a MODSEQ, then FETCH
        untagged = c.ok("f", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        self.assertEqual(untagged[0], b"* VANISHED (EARLIER) 2:5\r\n")
        self.assertEqual(len(untagged), 2, untagged)
        self.assertTrue(untagged[1].startswith(b"* 1 FETCH (UID 1 FLAGS"), untagged)
        c.close()

    def test_select_qresync_needs_enable(self):
        c = self.server.login()
        _, tagged = c.cmd("s", b"SELECT INBOX (QRESYNC (1 1))")
        self.assertTrue(tagged.startswith(b"s BAD"), tagged)
        c.ok("e", b"ENABLE QRESYNC")
        _, tagged = c.cmd("t", b"SELECT INBOX (QRESYNC (1))")
        self.assertTrue(tagged.startswith(b"t BAD"), tagged)
        _, tagged = c.cmd("u", b"SELECT INBOX (QRESYNC (1 1 1:*))")
        self.assertTrue(tagged.startswith(b"u BAD"), tagged)
        # a UIDVALIDITY that is not the mailbox's: a plain SELECT
        untagged = c.ok("v", b"SELECT INBOX (QRESYNC (1 1 1:9 (1:2 1:2)))")
        self.assertFalse(any(b"VANISHED" in line or b"FETCH" in line
                             for line in untagged), untagged)
        # the mailbox closed by a new SELECT is announced
        untagged = c.ok("w", b"EXAMINE INBOX")
        self.assertEqual(untagged[0], b"* OK [CLOSED] Previous mailbox closed.\r\n")
        c.close()

    def test_resync_exactly(self):
        """The deliverable's story: exactly VANISHED (EARLIER) and the
        changed FLAGS, nothing more."""
        extra = resync_story(self.server, b"Resync")
        self.assertEqual(extra, [
            b"* VANISHED (EARLIER) 3,5\r\n",
            b"* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (n))\r\n",
            b"* 3 FETCH (UID 4 FLAGS ($Work) MODSEQ (n))\r\n",
        ])

    @unittest.skipUnless(dovecot_util.available(), "dovecot-imapd not installed")
    def test_resync_as_dovecot(self):
        d = dovecot_util.Dovecot()
        d.start()
        try:
            theirs = resync_story(Server(d.port, False, "alice",
                                         dovecot_util.PASSWORD), b"Resync")
        finally:
            d.stop()
        ours = resync_story(self.server, b"ResyncD")
        self.assertEqual(ours, theirs)

    def test_forgotten_expunges_reported_as_gaps(self):
        c, untagged = self.box(b"Forgot", 6)
        uidvalidity = code(untagged, b"UIDVALIDITY")
        highest = code(untagged, b"HIGHESTMODSEQ")
        c.ok("d", b"STORE 2,5 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", b"EXPUNGE")
        c.close()
        # the month-old records are dropped as the store's sweep does
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        with db:
            db.execute("DELETE FROM expunged WHERE mailbox_id ="
                       " (SELECT id FROM mailboxes WHERE name = 'Forgot')")
        db.close()
        c = self.server.login()
        c.ok("e", b"ENABLE QRESYNC")
        untagged = c.ok("s", b"SELECT Forgot (QRESYNC (%d %d 1:6))"
                        % (uidvalidity, highest))
        self.assertIn(b"* VANISHED (EARLIER) 2,5\r\n", untagged)
        # a client that synchronised after the forgotten expunges hears
        # of none
        now = code(untagged, b"HIGHESTMODSEQ")
        untagged = c.ok("t", b"SELECT Forgot (QRESYNC (%d %d 1:6))"
                        % (uidvalidity, now))
        self.assertFalse(any(b"VANISHED" in line for line in untagged), untagged)
        c.close()


class PersistTest(unittest.TestCase):
    """MODSEQs never shrink: not across a restart, not when the message
    with the highest MODSEQ is expunged."""

    def test_restart_and_expunge(self):
        mh = Mailhub(limits={"message_size": "1M"})
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user(USER, PASSWORD)
            mh.start()
            server = Server(mh.port("imaps"), True, USER, PASSWORD)
            c = server.login()
            for i in range(3):
                append(c, b"INBOX", i)
            c.ok("s", b"SELECT INBOX")
            c.ok("f", b"STORE 3 +FLAGS (\\Flagged)")
            stored = modseqs(c.ok("g", b"FETCH 1:* (MODSEQ)"))
            c.close()
            mh.stop()
            mh.start()
            c = server.login()
            untagged = c.ok("s", b"SELECT INBOX")
            highest = code(untagged, b"HIGHESTMODSEQ")
            self.assertEqual(highest, max(stored.values()))
            self.assertEqual(modseqs(c.ok("f", b"FETCH 3 (MODSEQ)")), {3: highest})
            # expunge the message that holds the highest MODSEQ
            c.ok("d", b"STORE 3 +FLAGS.SILENT (\\Deleted)")
            c.ok("x", b"EXPUNGE")
            c.ok("u", b"UNSELECT")
            status = c.ok("t", b"STATUS INBOX (HIGHESTMODSEQ)")
            after = int(re.search(rb"HIGHESTMODSEQ (\d+)", status[0]).group(1))
            self.assertGreater(after, highest)
            append(c, b"INBOX", 9)
            c.ok("s", b"SELECT INBOX")
            new = modseqs(c.ok("f", b"FETCH 3 (MODSEQ)"))
            self.assertGreater(new[3], after)
            c.close()
        finally:
            mh.close()


if __name__ == "__main__":
    tap.main()
