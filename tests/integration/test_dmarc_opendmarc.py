#!/usr/bin/env python3
"""DMARC verdicts of mailhub against OpenDMARC's (Debian's opendmarc, the
milter most Postfix installations run) on the corpus of dmarc_corpus.py.

unbound serves every case's _dmarc records ("." is a static zone, so
nothing leaves the machine; fail.test answers REFUSED).  OpenDMARC runs as
the milter it is, driven over its socket by milter_client.py as an MTA
would: the SPF and DKIM results reach it in an Authentication-Results
field of an authserv-id it trusts, and its verdict is the
Authentication-Results field it adds ("dmarc=fail (p=reject dis=...)"),
or its rejection.  OpenDMARC resolves through /etc/resolv.conf, which
cannot name a port: it runs in a mount namespace whose resolv.conf names
unbound on 127.0.53.1 port 53 (so the test needs root).  mailhub's verdict
comes from `mailhub check-dmarc` with [dns] resolver pointing at the same
unbound.  Result, policy and disposition must be equal for every case;
for the cases of dmarc_corpus.DIVERGENT, mailhub must give RFC 7489's
answer and OpenDMARC its own."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import dmarc_corpus
import tap
from mailhub_fixture import Mailhub
from milter_client import MilterClient
from relay_util import Unbound, have_unbound

RECEIVER = "mx.receiver.test"
TRUSTED = "trusted.test"
DNS_ADDR = "127.0.53.1"
OPENDMARC = shutil.which("opendmarc") or "/usr/sbin/opendmarc"
PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"
ZONES = ((".", "static"), ("fail.test.", "refuse"))
AR_RE = re.compile(r"dmarc=(\w+)(?: \(p=(\w+) dis=(\w+)\))? header\.from=")

SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif not os.path.exists(OPENDMARC):
    SKIP = "OpenDMARC is not installed (Debian package opendmarc)"
elif not os.path.exists(PSL_FILE):
    SKIP = "the Public Suffix List is not installed (Debian package publicsuffix)"
elif os.geteuid() != 0 or shutil.which("unshare") is None:
    SKIP = "needs root and unshare(1) to give OpenDMARC its own resolv.conf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def org_of(tag, case):
    return f"{tag}.{case.suffix}"


def subst(text, org):
    return text.replace("$O", org).replace("$U", org.upper())


def txt_data(strings):
    return " ".join('"' + s.replace('"', '\\"') + '"' for s in strings)


def all_cases():
    tagged = [(f"dm{i:03d}", c) for i, c in enumerate(dmarc_corpus.CASES)]
    tagged += [(f"dv{i:03d}", c) for i, (c, _, _, _) in enumerate(dmarc_corpus.DIVERGENT)]
    return tagged


def zone_records():
    lines = []
    for tag, case in all_cases():
        org = org_of(tag, case)
        for owner, data in case.records:
            strings = data if isinstance(data, tuple) else (data,)
            lines.append(f"{subst(owner, org)}. TXT {txt_data([subst(s, org) for s in strings])}")
    return lines


def parse_ar(text):
    m = AR_RE.search(text)
    if m is None:
        return None
    return (m.group(1), m.group(2), m.group(3))


@unittest.skipIf(SKIP, SKIP)
class DmarcAgainstOpenDmarc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mailhub-dmarc.")
        cls.dns = Unbound(zone_records(), zones=ZONES, interface=DNS_ADDR, port=53)
        cls.dns.start()
        cls.milter_port = free_port()
        resolv = os.path.join(cls.dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write(f"nameserver {DNS_ADDR}\noptions timeout:2 attempts:1\n")
        conf = os.path.join(cls.dir, "opendmarc.conf")
        with open(conf, "w") as f:
            f.write(f"AuthservID {RECEIVER}\n"
                    f"TrustedAuthservIDs {TRUSTED}\n"
                    f"PublicSuffixList {PSL_FILE}\n"
                    "RejectFailures true\n"
                    "HoldQuarantinedMessages true\n"
                    "Syslog false\n"
                    "SPFIgnoreResults false\n"
                    "SPFSelfValidate false\n"
                    f"Socket inet:{cls.milter_port}@127.0.0.1\n")
        cls.log = open(os.path.join(cls.dir, "opendmarc.log"), "wb")
        cls.milter = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount --bind "$1" /etc/resolv.conf && exec "$2" -f -c "$3"',
             "sh", resolv, OPENDMARC, conf],
            stdout=cls.log, stderr=cls.log)
        deadline = time.monotonic() + 20
        while True:
            if cls.milter.poll() is not None:
                raise AssertionError("opendmarc exited: " + cls.read_log())
            try:
                with socket.create_connection(("127.0.0.1", cls.milter_port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("opendmarc did not come up: " + cls.read_log())
                time.sleep(0.05)
        cls.mh = Mailhub(listeners=(), init=False,
                         config_extra=f"\n[dns]\nresolver = {DNS_ADDR}:53\n")

    @classmethod
    def read_log(cls):
        with open(os.path.join(cls.dir, "opendmarc.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def tearDownClass(cls):
        cls.milter.terminate()
        try:
            cls.milter.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.milter.kill()
            cls.milter.wait(timeout=10)
        cls.log.close()
        cls.mh.cleanup()
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def opendmarc(self, case, org):
        from_domain = subst(case.from_domain, org)
        ar = [TRUSTED]
        mail_from = f"sender@{from_domain}"
        if case.spf is not None:
            result, domain = case.spf[0], subst(case.spf[1], org)
            ar.append(f"spf={result} smtp.mailfrom={domain}")
            mail_from = f"bounce@{domain}"
        for i, (result, d) in enumerate(case.dkim):
            ar.append(f"dkim={result} header.d={subst(d, org)} header.s=sel{i}")
        headers = [("Authentication-Results", "; ".join(ar) if len(ar) > 1 else
                    f"{TRUSTED}; none"),
                   ("From", f"Sender <user@{from_domain}>"),
                   ("To", "rcpt@example.net"),
                   ("Subject", case.name),
                   ("Date", "Mon, 1 Jan 2024 00:00:00 +0000"),
                   ("Message-ID", f"<{case.name}@{from_domain}>")]
        out = MilterClient("127.0.0.1", self.milter_port).message(
            client_ip="192.0.2.1", helo="client.example", mail_from=mail_from,
            rcpts=["rcpt@example.net"], headers=headers, body=b"hello\r\n",
            macros={b"C": {"j": RECEIVER}, b"E": {"i": "QUEUEID1"}})
        if out.verdict == "reject" and "DMARC" in (out.reply or ""):
            return ("fail", "reject", "reject"), out
        for name, value in out.inserted_headers:
            if name.lower() == "authentication-results" and value.startswith(RECEIVER):
                return parse_ar(value), out
        return None, out

    def mailhub(self, case, org):
        args = ["check-dmarc", f"user@{subst(case.from_domain, org)}", "--sample", "50"]
        if case.spf is not None:
            args += ["--spf", f"{case.spf[0]}:{subst(case.spf[1], org)}"]
        if case.dkim:
            args += ["--dkim", ",".join(f"{r}:{subst(d, org)}" for r, d in case.dkim)]
        out = self.mh.cli(*args).stdout
        return parse_ar(out), out

    def test_corpus_equal(self):
        """Every case: mailhub's result, policy and disposition are
        OpenDMARC's."""
        self.assertGreaterEqual(len(dmarc_corpus.CASES), 60)
        results = set()
        for tag, case in all_cases()[:len(dmarc_corpus.CASES)]:
            with self.subTest(case=case.name):
                org = org_of(tag, case)
                theirs, raw = self.opendmarc(case, org)
                ours, out = self.mailhub(case, org)
                self.assertIsNotNone(theirs, f"{case.name}: no verdict from OpenDMARC: "
                                     f"{raw.__dict__}")
                self.assertEqual(ours, theirs, f"{case.name} ({org}): mailhub said\n{out}")
                results.add(ours)
        # the corpus reaches every result and disposition OpenDMARC has
        self.assertTrue({r[0] for r in results} >= {"pass", "fail", "none", "permerror"})
        self.assertTrue({r[2] for r in results if r[2]} >= {"none", "quarantine", "reject"})

    def test_corpus_divergent(self):
        """Where OpenDMARC departs from RFC 7489, mailhub gives the RFC's
        answer."""
        tags = all_cases()[len(dmarc_corpus.CASES):]
        for (tag, case), (_, rfc, od, why) in zip(tags, dmarc_corpus.DIVERGENT):
            with self.subTest(case=case.name):
                org = org_of(tag, case)
                ours, out = self.mailhub(case, org)
                self.assertEqual(ours, rfc, f"{case.name}: {why}\n{out}")
                if od is not None:
                    theirs, raw = self.opendmarc(case, org)
                    self.assertEqual(theirs, od, f"{case.name}: OpenDMARC changed: {why}")


if __name__ == "__main__":
    tap.main()
