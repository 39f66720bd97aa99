#!/bin/sh
# The panel's browser test (TAP).  Needs node, npm and Debian's chromium;
# without them it reports SKIP.  playwright-core is installed into the build
# folder (never the source tree) from the npm cache or registry, and never
# downloads a browser.
set -u
srcdir=${MAILHUB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${MAILHUB_BUILDDIR:-$(pwd)}
chromium=${CHROMIUM:-/usr/bin/chromium}

skip() {
	echo "1..0 # SKIP $1"
	exit 0
}
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
[ -x "$chromium" ] || skip "chromium is not installed ($chromium)"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

work="$builddir/tests/browser"
mkdir -p "$work" "$builddir/tests/output"
cp "$srcdir/tests/browser/package.json" "$srcdir/tests/browser/panel.mjs" "$work/"
if [ ! -f "$work/node_modules/playwright-core/package.json" ] || \
   [ "$srcdir/tests/browser/package.json" -nt "$work/node_modules/playwright-core/package.json" ]; then
	if ! (cd "$work" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit \
			--no-fund --prefer-offline --loglevel=error) >"$work/npm.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - npm install playwright-core"
		sed 's/^/# /' "$work/npm.log" | tail -n 30
		exit 0
	fi
fi
export CHROMIUM="$chromium"
export MAILHUB_TEST_OUTPUT="${MAILHUB_TEST_OUTPUT:-$builddir/tests/output}"
PYTHONPATH="$srcdir/tests/integration${PYTHONPATH:+:$PYTHONPATH}" \
	exec python3 "$srcdir/tests/browser/run_panel.py" "$work"
