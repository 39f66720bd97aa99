"""mailhub(8) against the binary: every command that `mailhub --help` lists
has a section (.SS) of its own in packaging/man/mailhub.8, and in it every
subcommand and every option that `mailhub COMMAND --help` prints, so the
page cannot drift from the command table (issue 22).  The config keys are
checked against mailhub.conf(5) by tests/unit/check_man.
"""

import os
import re
import subprocess
import unittest

import tap
from mailhub_fixture import mailhub_bin, source_dir


def run(*args):
    r = subprocess.run([mailhub_bin(), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def plain(troff):
    """The page's text as a reader sees it (roughly): no font changes, no
    quotes, '\\-' as '-', macro names dropped."""
    out = []
    for line in troff.splitlines():
        if line.startswith("."):
            line = line.split(" ", 1)[1] if " " in line else ""
        line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace('"', "")
        out.append(line)
    return " ".join(" ".join(out).split())


def man_sections(troff):
    """{command: plain text of its .SS section} of the COMMANDS part."""
    sections, name, lines = {}, None, []
    for line in troff.splitlines():
        if line.startswith(".SS ") or line.startswith(".SH "):
            if name is not None:
                sections[name] = plain("\n".join(lines))
            name = line[4:].strip().replace("\\-", "-") if line.startswith(".SS ") else None
            lines = []
        elif name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = plain("\n".join(lines))
    return sections


def commands():
    """The command names `mailhub --help` lists."""
    out = run("--help")
    block = out.split("Commands:", 1)[1]
    return re.findall(r"(?m)^  ([a-z][a-z-]*) ", block)


def usage(command):
    """(subcommands, options) of `mailhub COMMAND --help`'s usage lines."""
    out = run(command, "--help")
    forms = out.split("\n\n", 1)[0]
    subs, opts = set(), set(re.findall(r"--[a-z][a-z-]*", forms))
    for line in forms.splitlines():
        m = re.match(rf"^(?:usage:)?\s+mailhub {re.escape(command)} ([a-z][a-z|-]*)(\s|$)", line)
        if m:
            subs.update(m.group(1).split("|"))
    return subs, opts


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(source_dir(), "packaging", "man", "mailhub.8")) as f:
            cls.troff = f.read()
        cls.sections = man_sections(cls.troff)

    def test_the_help_is_read(self):
        cmds = commands()
        self.assertIn("upstream", cmds)
        self.assertIn("domain", cmds)
        self.assertEqual(usage("domain")[0], {"add", "del", "show", "list"})
        self.assertIn("--tls-verify", usage("upstream")[1])

    def test_every_command_subcommand_and_option(self):
        missing = []
        for cmd in commands():
            text = self.sections.get(cmd)
            if text is None:
                missing.append(f"{cmd}: no section '.SS {cmd}'")
                continue
            subs, opts = usage(cmd)
            if not subs and f"mailhub {cmd}" not in text:
                missing.append(f"{cmd}: 'mailhub {cmd}' is not in its section")
            for sub in sorted(subs):
                if f"mailhub {cmd} {sub}" not in text:
                    missing.append(f"{cmd}: 'mailhub {cmd} {sub}' is not in its section")
            for opt in sorted(opts):
                if not re.search(rf"{re.escape(opt)}(?![a-z-])", text):
                    missing.append(f"{cmd}: option {opt} is not in its section")
        self.assertEqual(missing, [], "packaging/man/mailhub.8 disagrees with "
                         "`mailhub --help`:\n" + "\n".join(missing))

    def test_global_options(self):
        top = run("--help").split("Commands:", 1)[0]
        options = plain(self.troff.split(".SH OPTIONS", 1)[1].split(".SH ", 1)[0])
        for opt in sorted(set(re.findall(r"--[a-z][a-z-]*", top))):
            self.assertIn(opt, options)


if __name__ == "__main__":
    tap.main()
