#!/usr/bin/env python3
"""SPF, DKIM, ARC and DMARC on port 25 (issue 15), through the real
listener: Debian's unbound serves the senders' records on loopback (the
zone "test." is static: nothing leaves the machine), messages are signed
with dkimpy (python3-dkim), and clients connect from 127.0.0.2 (127.0.0.1,
local software, is not checked).  Asserts what users see: the
Authentication-Results and Received-SPF fields of the delivered copy, 550
5.7.1 for DMARC p=reject (pct and sp honoured) and for a forged local
sender, the Junk folder for p=quarantine, forged Authentication-Results
claiming our authserv-id removed, and the verdicts on the log line."""

import os
import smtplib
import sqlite3
import tempfile
import urllib.parse
import unittest

import tap
from dkim_cases import openssl_rsa
from api_util import Client
from mailhub_fixture import HOSTNAME, Mailhub
from relay_util import Unbound, have_unbound
from smtp_util import blob_bytes, inbox_rows

try:
    import dkim
except ImportError:
    dkim = None

BOB = "bob@home.test"
ALICE = "alice@home.test"
CLIENT = "127.0.0.2"
SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif dkim is None:
    SKIP = "dkimpy is not installed (Debian package python3-dkim)"


def txt(s):
    """TXT rdata: strings of at most 255 characters, each quoted."""
    return " ".join(f'"{s[i:i + 255]}"' for i in range(0, len(s), 255))


def records(pub):
    spf = '"v=spf1 ip4:127.0.0.2 -all"'
    return [
        # the household's own domain: its mail leaves from elsewhere
        'home.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
        # a sender whose mail comes from 127.0.0.2, signed, p=reject
        f"sender.test. TXT {spf}",
        '_dmarc.sender.test. TXT "v=DMARC1; p=reject"',
        "sel._domainkey.sender.test. TXT " + txt(f"v=DKIM1; k=rsa; p={pub}"),
        f"helo.sender.test. TXT {spf}",
        "helo.sender.test. A 127.0.0.2",
        # p=quarantine; p=reject with pct=0 (never in the sample)
        '_dmarc.quar.test. TXT "v=DMARC1; p=quarantine"',
        '_dmarc.pct.test. TXT "v=DMARC1; p=reject; pct=0"',
        # sp=: the organisational domain's record for its subdomains
        '_dmarc.org.test. TXT "v=DMARC1; p=none; sp=reject"',
        # p=none: recorded only
        '_dmarc.none.test. TXT "v=DMARC1; p=none"',
        # an SPF fail for everybody
        'other.test. TXT "v=spf1 -all"',
        # mailing lists that seal with ARC: one trusted, one not
        f"lists.test. TXT {spf}",
        "sel._domainkey.lists.test. TXT " + txt(f"v=DKIM1; k=rsa; p={pub}"),
        f"evil.test. TXT {spf}",
        "sel._domainkey.evil.test. TXT " + txt(f"v=DKIM1; k=rsa; p={pub}"),
    ]


def message(sender, subject, extra=b""):
    return (f"From: Someone <{sender}>\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@x.test>\r\n").encode() + extra + \
        b"\r\nHello, this is the body.\r\n"


def fields(msg, name):
    """The unfolded values of every field called name in the header."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode()
    out, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            out[-1] += " " + line.strip()
            continue
        k, _, v = line.partition(":")
        cur = k.strip().lower()
        if cur == name.lower():
            out.append(v.strip())
        else:
            cur = None
    return out


@unittest.skipIf(SKIP, SKIP)
class InboundTrust(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.key, pub = openssl_rsa(2048, cls.tmp.name + "/sel.pem")
        cls.dns = Unbound(records(pub), zones=("test.",))
        cls.dns.start()
        try:
            cls.mh = Mailhub(listeners=("smtp", "submission", "admin"),
                             plaintext_on_loopback=True,
                             config_extra=f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                                          "[trust]\narc_sealers = lists.test\n")
            cls.mh.cli("domain", "add", "home.test")
            cls.mh.add_user(BOB, "bob-secret-password-4")
            cls.mh.add_user(ALICE, "alice-secret-password-4", admin=True)
            # bob and a friend elsewhere: a copy kept, one queued
            cls.mh.cli("alias", "add", "both@home.test", f"{BOB},friend@remote.test")
            cls.token = cls.mh.cli("token", "create", ALICE).stdout.strip().split()[-1]
            cls.mh.start()
        except BaseException:
            cls.dns.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dns.stop()
            cls.tmp.cleanup()

    def sign(self, msg, domain=b"sender.test", length=False):
        return dkim.sign(msg, b"sel", domain, self.key,
                         include_headers=[b"from", b"to", b"subject", b"message-id"],
                         length=length) + msg

    def send(self, mail_from, msg, source=CLIENT, helo="client.sender.test"):
        """Sends; returns (code, text) of the end of DATA (250 or the refusal)."""
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30,
                          local_hostname=helo, source_address=(source, 0)) as s:
            try:
                s.sendmail(mail_from, [BOB], msg)
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error.decode()
            except smtplib.SMTPSenderRefused as e:
                return e.smtp_code, e.smtp_error.decode()
        return 250, ""

    def delivered(self, mailbox="INBOX"):
        rows = inbox_rows(self.mh, BOB, mailbox)
        return blob_bytes(self.mh, rows[-1][1]) if rows else None

    def count(self, mailbox="INBOX"):
        return len(inbox_rows(self.mh, BOB, mailbox))

    def test_all_pass(self):
        """SPF pass, an aligned DKIM signature: all three pass, in one
        Authentication-Results field with our authserv-id, ahead of the
        message's own fields."""
        before = self.count()
        code, _ = self.send("a@sender.test", self.sign(message("a@sender.test", "all pass")))
        self.assertEqual(code, 250)
        self.assertEqual(self.count(), before + 1)
        msg = self.delivered()
        ar = fields(msg, "Authentication-Results")
        self.assertEqual(len(ar), 1, ar)
        self.assertTrue(ar[0].startswith(HOSTNAME + ";"), ar[0])
        self.assertIn("spf=pass smtp.mailfrom=sender.test", ar[0])
        self.assertRegex(ar[0], r"dkim=pass .*header\.d=sender\.test")
        self.assertIn("dmarc=pass", ar[0])
        self.assertIn("header.from=sender.test", ar[0])
        spf = fields(msg, "Received-SPF")
        self.assertEqual(len(spf), 1)
        self.assertTrue(spf[0].startswith("pass "), spf[0])
        self.assertIn("client-ip=127.0.0.2", spf[0])
        self.assertIn("identity=mailfrom", spf[0])
        # the verdicts on the message's log line
        self.assertRegex(self.mh.log(), r"accepted id=\S+ from=<a@sender\.test> .*"
                         r"spf=pass dkim=pass dkim\.d=sender\.test dmarc=pass "
                         r"header\.from=sender\.test")

    def test_dkim_alone_passes_dmarc(self):
        """Forwarded mail (SPF fails for the forwarder's address) keeps its
        aligned signature: DMARC passes, the message is delivered."""
        msg = self.sign(message("a@sender.test", "dkim only"))
        code, _ = self.send("bounce@other.test", msg)
        self.assertEqual(code, 250)
        ar = fields(self.delivered(), "Authentication-Results")[0]
        self.assertIn("spf=fail smtp.mailfrom=other.test", ar)
        self.assertIn("dkim=pass", ar)
        self.assertIn("dmarc=pass", ar)

    def test_dmarc_reject(self):
        before = self.count()
        code, text = self.send("x@other.test", message("a@sender.test", "forged sender"))
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith("5.7.1 "), text)
        self.assertIn("DMARC", text)
        self.assertEqual(self.count(), before)

    def test_dmarc_reject_tampered_signature(self):
        """A signature broken in transit does not pass: p=reject applies."""
        msg = self.sign(message("a@sender.test", "tampered")).replace(b"Hello", b"Jello")
        code, _ = self.send("x@other.test", msg)
        self.assertEqual(code, 550)

    def test_dmarc_length_limited_signature_not_trusted(self):
        """l=: content added after the signed length; the signature does
        not count for DMARC."""
        msg = self.sign(message("a@sender.test", "l tag"), length=True)
        msg += b"Appended by somebody else\r\n"
        code, _ = self.send("x@other.test", msg)
        self.assertEqual(code, 550)

    def test_dmarc_quarantine_goes_to_junk(self):
        inbox, junk = self.count(), self.count("Junk")
        code, _ = self.send("x@other.test", message("a@quar.test", "quarantined"))
        self.assertEqual(code, 250)
        self.assertEqual(self.count(), inbox)
        self.assertEqual(self.count("Junk"), junk + 1)
        ar = fields(self.delivered("Junk"), "Authentication-Results")[0]
        self.assertIn("dmarc=fail", ar)
        self.assertIn("p=quarantine", ar)

    def test_dmarc_pct_zero_is_quarantine(self):
        """RFC 7489 §6.6.4: out of the sample, reject becomes quarantine."""
        junk = self.count("Junk")
        code, _ = self.send("x@other.test", message("a@pct.test", "pct zero"))
        self.assertEqual(code, 250)
        self.assertEqual(self.count("Junk"), junk + 1)

    def test_dmarc_sp_for_subdomain(self):
        code, _ = self.send("x@other.test", message("a@mail.org.test", "subdomain"))
        self.assertEqual(code, 550)
        # the organisational domain itself has p=none: recorded, delivered
        before = self.count()
        code, _ = self.send("x@other.test", message("a@org.test", "org domain"))
        self.assertEqual(code, 250)
        self.assertEqual(self.count(), before + 1)
        self.assertIn("dmarc=fail", fields(self.delivered(), "Authentication-Results")[0])

    def test_null_sender_checks_helo(self):
        code, _ = self.send("", message("a@none.test", "bounce"), helo="helo.sender.test")
        self.assertEqual(code, 250)
        msg = self.delivered()
        ar = fields(msg, "Authentication-Results")[0]
        self.assertIn("spf=pass smtp.helo=helo.sender.test", ar)
        self.assertIn("dkim=none", ar)
        self.assertIn("identity=helo", fields(msg, "Received-SPF")[0])

    def test_spoofed_local_sender_refused(self):
        """Issue 15: an unauthenticated session claiming a local domain in
        MAIL FROM or From: is refused unless SPF or an aligned signature
        passes."""
        before = self.count()
        code, text = self.send(ALICE, message(ALICE, "spoof both"))
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)
        self.assertIn("submission", text)
        code, _ = self.send("a@sender.test", message(ALICE, "spoof from header"))
        self.assertEqual(code, 550)
        code, _ = self.send(ALICE, message("a@sender.test", "spoof envelope"))
        self.assertEqual(code, 550)
        self.assertEqual(self.count(), before)
        self.assertIn("spoofing=refused", self.mh.log())

    def test_own_users_submit(self):
        """The same message through submission with AUTH: delivered, and
        not checked (no Authentication-Results of ours)."""
        before = self.count()
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.login(ALICE, "alice-secret-password-4")
            s.sendmail(ALICE, [BOB], message(ALICE, "submitted"))
        self.assertEqual(self.count(), before + 1)
        self.assertEqual(fields(self.delivered(), "Authentication-Results"), [])

    def test_local_software_not_checked(self):
        before = self.count()
        code, _ = self.send(ALICE, message(ALICE, "from cron"), source="127.0.0.1")
        self.assertEqual(code, 250)
        self.assertEqual(self.count(), before + 1)
        self.assertEqual(fields(self.delivered(), "Authentication-Results"), [])

    def test_forged_authres_removed(self):
        """RFC 8601 §5: fields claiming our authserv-id go (in any case,
        folded or not); another host's stay."""
        forged = (f"Authentication-Results: {HOSTNAME.upper()}; dmarc=pass\r\n"
                  f"Authentication-Results:\r\n {HOSTNAME};\r\n spf=pass\r\n"
                  "Authentication-Results: mx.elsewhere.test; spf=pass\r\n").encode()
        code, _ = self.send("x@other.test", message("a@none.test", "forged ar", forged))
        self.assertEqual(code, 250)
        ar = fields(self.delivered(), "Authentication-Results")
        self.assertEqual(len(ar), 2, ar)
        self.assertTrue(ar[0].startswith(HOSTNAME + ";"))
        self.assertIn("dmarc=fail", ar[0])
        self.assertEqual(ar[1], "mx.elsewhere.test; spf=pass")
        self.assertIn("removed forged Authentication-Results", self.mh.log())

    def test_log_checks_as_fields(self):
        """GET /api/v1/log gives each checked message's verdicts as
        fields: accepted (all pass), refused (DMARC reject), and Junk."""
        api = Client(self.mh.port("admin"), self.token)

        def checks_of(mail_from, msg):
            code, _ = self.send(mail_from, msg)
            r = api.get("/log?q=" + urllib.parse.quote(f"from=<{mail_from}>"))
            self.assertEqual(r.status, 200, r)
            (e,) = [e for e in r.json["events"] if "checks" in e][-1:]
            return code, e["checks"], e["text"]

        code, c, text = checks_of("fields@sender.test",
                                  self.sign(message("fields@sender.test", "log fields")))
        self.assertEqual(code, 250)
        self.assertEqual(c["outcome"], "accepted")
        self.assertEqual(c["from"], "fields@sender.test")
        self.assertIn(f"id={c['id']} ", text)
        self.assertEqual((c["spf"], c["dkim"], c["dkim_domain"], c["dmarc"], c["header_from"]),
                         ("pass", "pass", "sender.test", "pass", "sender.test"))
        self.assertNotIn("folder", c)
        code, c, _ = checks_of("refused@other.test", message("a@sender.test", "log refused"))
        self.assertEqual(code, 550)
        self.assertEqual(c["outcome"], "refused")
        self.assertEqual((c["spf"], c["dkim"], c["dmarc"], c["dmarc_policy"]),
                         ("fail", "none", "fail", "reject"))
        self.assertTrue(c["reply"].startswith("550 5.7.1 "), c)
        code, c, _ = checks_of("junk@other.test", message("a@quar.test", "log junk"))
        self.assertEqual(code, 250)
        self.assertEqual((c["dmarc"], c["dmarc_policy"], c["folder"]),
                         ("fail", "quarantine", "Junk"))
        # only a message's lines have checks
        events = api.get("/log").json["events"]
        self.assertTrue(any("checks" not in e for e in events))
        for e in events:
            if "checks" in e:
                self.assertRegex(e["text"], r"\] (accepted|refused) id=")

    def via_list(self, sealer, subject):
        """A message of sender.test (p=reject) as a mailing list passes it
        on: its Subject changed (the author's signature broken), the list's
        Authentication-Results and ARC set added, sent from the list."""
        signed = self.sign(message("a@sender.test", subject))
        listed = signed.replace(f"Subject: {subject}".encode(),
                                f"Subject: [list] {subject}".encode())
        listed = (f"Authentication-Results: {sealer}; dkim=pass header.d=sender.test; "
                  "spf=pass smtp.mailfrom=sender.test\r\n").encode() + listed
        arc = dkim.arc_sign(listed, b"sel", sealer.encode(), self.key, sealer.encode(),
                            include_headers=[b"from", b"to", b"subject", b"message-id"])
        return self.send(f"list-bounces@{sealer}", b"".join(arc) + listed)

    def test_checked_and_forwarded(self):
        """A checked message that is also queued (an alias forwards it on):
        the local copy has the checks' fields, and the queued message,
        made durable as it was received, is on disk for the relay."""
        before = self.count()
        msg = self.sign(message("a@sender.test", "forwarded too"))
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30,
                          local_hostname="client.sender.test",
                          source_address=(CLIENT, 0)) as s:
            s.sendmail("a@sender.test", ["both@home.test"], msg)
        self.assertEqual(self.count(), before + 1)
        self.assertIn("dmarc=pass", fields(self.delivered(), "Authentication-Results")[0])
        self.assertRegex(self.mh.log(), r"accepted id=\S+ from=<a@sender\.test> rcpts=1 "
                         r"delivered=1 queued=1 .*dmarc=pass")
        self.assertNotIn("cannot store", self.mh.log())
        with sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db")) as db:
            queued = db.execute("SELECT blob FROM queue_messages").fetchall()
        for (digest,) in queued:
            body = blob_bytes(self.mh, digest)
            self.assertIn(b"Subject: forwarded too", body)
            self.assertEqual(fields(body, "Authentication-Results"), [])

    def test_arc_trusted_sealer_overrides_dmarc(self):
        """[trust] arc_sealers: a DMARC fail under p=reject of a message
        whose ARC chain passes and was sealed by a trusted list is
        delivered, and its Authentication-Results says why; another
        sealer's chain changes nothing."""
        before = self.count()
        self.assertEqual(self.via_list("lists.test", "list post")[0], 250)
        self.assertEqual(self.count(), before + 1)
        ar = fields(self.delivered(), "Authentication-Results")[0]
        self.assertTrue(ar.startswith(HOSTNAME + ";"), ar)
        self.assertIn("arc=pass", ar)
        self.assertRegex(ar, r"dkim=fail")
        self.assertIn("dmarc=fail (p=reject dis=none; overridden by the ARC chain of "
                      "lists.test) header.from=sender.test", ar)
        self.assertRegex(self.mh.log(), r"dmarc=fail header\.from=sender\.test "
                         r"dmarc\.override=arc arc\.d=lists\.test")
        code, text = self.via_list("evil.test", "evil post")
        self.assertEqual(code, 550, text)
        self.assertIn("DMARC policy of sender.test", text)
        self.assertEqual(self.count(), before + 1)

    def inbound(self):
        r = Client(self.mh.port("admin"), self.token).get("/domains")
        self.assertEqual(r.status, 200, r)
        (d,) = [d for d in r.json if d["name"] == "home.test"]
        return d["inbound"]

    def test_domain_summary(self):
        """GET /api/v1/domains: the last day's counts of the domain."""
        before = self.inbound()
        self.assertEqual(self.send("a@sender.test",
                                   self.sign(message("a@sender.test", "counted")))[0], 250)
        self.assertEqual(self.send("x@other.test", message("a@sender.test", "counted no"))[0],
                         550)
        self.assertEqual(self.send("x@other.test", message("a@quar.test", "counted q"))[0],
                         250)
        after = self.inbound()
        delta = {k: after[k] - before[k] for k in after}
        self.assertEqual(delta, {"messages": 3, "spf_pass": 1, "dkim_pass": 1,
                                 "dmarc_pass": 1, "dmarc_fail": 2, "refused": 1, "junk": 1})


@unittest.skipIf(SKIP, SKIP)
class ChecksOff(unittest.TestCase):
    """[trust] checks = no: port 25 as before; dmarc_policy = no: recorded,
    not applied."""

    def run_with(self, trust, mail_from, msg):
        dns = Unbound(records("AAAA"), zones=("test.",))
        dns.start()
        try:
            mh = Mailhub(listeners=("smtp",), config_extra=(
                f"\n[dns]\nresolver = {dns.resolver()}\n[trust]\n{trust}\n"))
            with mh:
                mh.cli("domain", "add", "home.test")
                mh.add_user(BOB, "bob-secret-password-4")
                mh.start()
                with smtplib.SMTP("127.0.0.1", mh.port("smtp"), timeout=30,
                                  source_address=(CLIENT, 0)) as s:
                    s.sendmail(mail_from, [BOB], msg)
                rows = inbox_rows(mh, BOB)
                self.assertEqual(len(rows), 1)
                return blob_bytes(mh, rows[0][1])
        finally:
            dns.stop()

    def test_checks_off(self):
        msg = self.run_with("checks = no", "x@other.test", message("a@sender.test", "off"))
        self.assertEqual(fields(msg, "Authentication-Results"), [])
        self.assertEqual(fields(msg, "Received-SPF"), [])

    def test_policy_not_applied(self):
        msg = self.run_with("dmarc_policy = no\nrefuse_spoofing = no", ALICE,
                            message("a@sender.test", "recorded"))
        ar = fields(msg, "Authentication-Results")[0]
        self.assertIn("spf=fail", ar)
        self.assertIn("dmarc=fail", ar)


if __name__ == "__main__":
    tap.main()
