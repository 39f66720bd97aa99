"""Run the unittest cases of the calling module and report them as TAP.

Every integration test file ends with

    if __name__ == "__main__":
        tap.main()

so that the automake TAP driver counts each test method as one test.
"""

import sys
import time
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.count = 0
        self.started = 0.0

    def _name(self, test):
        return test.id().split(".", 1)[-1]

    def _line(self, ok, test, directive=""):
        self.count += 1
        status = "ok" if ok else "not ok"
        text = f"{status} {self.count} - {self._name(test)}"
        if directive:
            text += f" # {directive}"
        self.stream.write(text + "\n")
        self.stream.flush()

    def _diag(self, text):
        for line in text.rstrip().splitlines():
            self.stream.write(f"# {line}\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self.started = time.monotonic()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag("".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag("".join(traceback.format_exception(*err)))

    def addSubTest(self, test, subtest, err):
        # A failing subTest is its own failed test line; passing ones are
        # part of their test's line.
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._line(False, subtest)
            self._diag("".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f"SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, "TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, "unexpected success")


def main(module="__main__"):
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules[module])
    result = TapResult(sys.stdout)
    # A failing setUpClass/setUpModule reaches addError as an _ErrorHolder,
    # so it is counted as one failed test like any other.
    suite.run(result)
    sys.stdout.write(f"1..{result.count}\n")
    sys.stdout.flush()
    sys.exit(0 if result.wasSuccessful() else 1)
