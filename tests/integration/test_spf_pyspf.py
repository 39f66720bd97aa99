#!/usr/bin/env python3
"""SPF verdicts of mailhub against pyspf's (Debian's python3-spf, the
reference implementation of RFC 7208) on the corpus of spf_corpus.py.

unbound serves every case's records on loopback (each case under its own
domain; "." is a static zone, so nothing leaves the machine; fail.test and
203.0.113.0/24's reverse zone answer REFUSED, a server failure).  mailhub's
verdict comes from `mailhub check-spf IP SENDER HELO` with [dns] resolver
pointing at unbound, pyspf's from spf.query().check() with dnspython
pointing at the same server.  The results must be equal for every case
(and the explanation of a fail, where the case says so); for the cases of
spf_corpus.DIVERGENT, mailhub must give RFC 7208's answer and pyspf its
own."""

import re
import unittest

import spf_corpus
import tap
from mailhub_fixture import Mailhub
from relay_util import Unbound, have_unbound

RECEIVER = "mx.receiver.test"
ZONES = ((".", "static"), ("fail.test.", "refuse"), ("113.0.203.in-addr.arpa.", "refuse"),
         ("ex-ample.", "static"))

try:
    import dns.resolver
    import spf
except ImportError:
    spf = None

SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif spf is None:
    SKIP = "pyspf is not installed (Debian package python3-spf)"


def txt_data(strings):
    """TXT rdata for unbound: each string quoted, longer ones split at 255."""
    out = []
    for s in strings:
        chunks = [s[i:i + 255] for i in range(0, len(s), 255)] or [""]
        out += ['"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks]
    return " ".join(out)


def case_domain(tag):
    return f"{tag}.test"


def subst(text, tag):
    return text.replace("$D", case_domain(tag)).replace("{ID}", tag)


def zone_records(case, tag):
    lines = []
    for owner, rtype, data in case.records:
        owner = subst(owner, tag).rstrip(".") + "."
        if rtype == "TXT":
            strings = data if isinstance(data, tuple) else (data,)
            data = txt_data([subst(s, tag) for s in strings])
        elif rtype == "MX":
            pref, host = data.split(" ", 1)
            host = subst(host, tag)
            data = f"{pref} {host.rstrip('.')}."
        elif rtype == "PTR":
            data = subst(data, tag).rstrip(".") + "."
        lines.append(f"{owner} {rtype} {data}")
    return lines


def all_cases():
    """(tag, case) for the equal cases, then the divergent ones."""
    tagged = [(f"c{i:03d}", c) for i, c in enumerate(spf_corpus.CASES)]
    tagged += [(f"d{i:03d}", c) for i, (c, _, _, _) in enumerate(spf_corpus.DIVERGENT)]
    return tagged


def parse_cli(out):
    fields = {}
    for line in out.splitlines():
        m = re.match(r"^([a-z-]+): (.*)$", line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2)
    return fields


@unittest.skipIf(SKIP, SKIP)
class SpfAgainstPyspf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        records = []
        for tag, case in all_cases():
            records += zone_records(case, tag)
        cls.dns = Unbound(records, zones=ZONES)
        cls.dns.start()
        cls.mh = Mailhub(listeners=(), init=False,
                         config_extra=f"\n[dns]\nresolver = {cls.dns.resolver()}\n")
        # the config's hostname is the receiver of %{r}
        with open(cls.mh.config_path) as f:
            conf = f.read()
        with open(cls.mh.config_path, "w") as f:
            f.write(re.sub(r"(?m)^hostname = .*$", f"hostname = {RECEIVER}", conf))
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = cls.dns.port
        r.lifetime = 10
        dns.resolver.default_resolver = r

    @classmethod
    def tearDownClass(cls):
        cls.mh.cleanup()
        cls.dns.stop()

    def verdicts(self, tag, case):
        sender = subst(case.sender, tag)
        helo = subst(case.helo, tag)
        out = self.mh.cli("check-spf", case.ip, sender, helo).stdout
        ours = parse_cli(out)
        q = spf.query(i=case.ip, s=sender, h=helo, receiver=RECEIVER)
        result, _, explanation = q.check()
        return ours, result, explanation, out

    def test_corpus_equal(self):
        """Every case of the corpus: mailhub's verdict is pyspf's."""
        self.assertGreaterEqual(len(spf_corpus.CASES), 150)
        equal = 0
        for tag, case in all_cases()[:len(spf_corpus.CASES)]:
            with self.subTest(case=case.name):
                ours, theirs, explanation, out = self.verdicts(tag, case)
                self.assertEqual(ours.get("result"), theirs,
                                 f"{case.name} ({tag}): mailhub said\n{out}"
                                 f"pyspf: {theirs} {explanation!r}")
                if case.exp:
                    self.assertEqual(theirs, "fail")
                    self.assertEqual(ours.get("explanation"), explanation,
                                     f"{case.name}: explanation")
                equal += 1
        self.assertEqual(equal, len(spf_corpus.CASES))

    def test_corpus_divergent(self):
        """Where pyspf departs from RFC 7208, mailhub gives the RFC's answer."""
        tags = all_cases()[len(spf_corpus.CASES):]
        for (tag, case), (_, rfc, pyspf_says, why) in zip(tags, spf_corpus.DIVERGENT):
            with self.subTest(case=case.name):
                ours, theirs, _, out = self.verdicts(tag, case)
                self.assertEqual(ours.get("result"), rfc, f"{case.name}: {why}\n{out}")
                self.assertEqual(theirs, pyspf_says, f"{case.name}: pyspf changed: {why}")

    def test_cli_output(self):
        """check-spf prints the verdict, what decided, and the Received-SPF
        header field; the null sender is checked by HELO."""
        tag = "c000"
        out = self.mh.cli("check-spf", spf_corpus.V4, f"user@{case_domain(tag)}",
                          f"helo.{case_domain(tag)}").stdout
        f = parse_cli(out)
        self.assertEqual(f["result"], "pass")
        self.assertEqual(f["mechanism"], "ip4:192.0.2.10")
        self.assertEqual(f["identity"], f"mailfrom user@{tag}.test")
        self.assertIn(f"Received-SPF: pass ({RECEIVER}: domain of user@{tag}.test "
                      f"designates 192.0.2.10 as permitted sender)", out)
        self.assertIn("identity=mailfrom; mechanism=\"ip4:192.0.2.10\"", out)
        out = self.mh.cli("check-spf", "192.0.2.1", "<>", "helo.example.test").stdout
        self.assertIn("identity: helo postmaster@helo.example.test", out)
        r = self.mh.cli("check-spf", "not-an-ip", "a@b.test", check=False)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    tap.main()
