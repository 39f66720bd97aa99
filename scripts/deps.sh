#!/bin/sh
# Installs the Debian packages mailhub needs, where missing.
#   scripts/deps.sh build   what building and running needs
#   scripts/deps.sh test    that, plus every tool the test suite drives
#   scripts/deps.sh deb     what `make deb` needs
# Run as root (or with sudo available) on Debian 12.
set -eu

BUILD_PKGS="build-essential autoconf automake pkg-config
	libmicrohttpd-dev libssl-dev libsqlite3-dev libcjson-dev libcrypt-dev
	zlib1g-dev libpsl-dev publicsuffix openssl ca-certificates"

# Tools the test suite and make bench drive, one package a line: Check for
# unit tests; real clients and peer servers for the integration tests and
# benchmarks (Cyrus SASL's sample client with its SCRAM plugin, pyOpenSSL
# for TLS channel bindings, pyspf and OpenDMARC as references, rspamd
# with a Redis for its statistics); clang for the libFuzzer targets.
TEST_PKGS="
	check
	python3
	clang
	libclang-rt-dev
	valgrind
	curl
	swaks
	fetchmail
	getmail6
	isync
	neomutt
	mailutils
	dovecot-imapd
	dovecot-pop3d
	dovecot-lmtpd
	postfix
	unbound
	ldnsutils
	python3-cryptography
	python3-jsonschema
	postsrsd
	opendmarc
	opendkim
	postfix-policyd-spf-python
	python3-aiosmtpd
	python3-dkim
	python3-dnspython
	python3-nacl
	python3-spf
	python3-openssl
	python3-oauthlib
	sasl2-bin
	libsasl2-modules
	rspamd
	redis-server
	chromium
	dovecot-sieve
	sieve-connect
"

# Building the Debian package (make deb) and checking it.
DEB_PKGS="debhelper dpkg-dev fakeroot lintian git"

case "${1:-build}" in
build) pkgs=$BUILD_PKGS ;;
test) pkgs="$BUILD_PKGS $TEST_PKGS $DEB_PKGS" ;;
deb) pkgs="$BUILD_PKGS $DEB_PKGS" ;;
*) echo "usage: $0 build|test|deb" >&2; exit 2 ;;
esac

# Node.js for the browser tests: Debian's, unless a node with npm is there
# already (its npm would conflict with Debian's npm package).
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
	pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Peer servers (Postfix, Dovecot) are run by the tests themselves on loopback
# ports; their packaged services must not start and take the standard ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	remove_policy=1
else
	remove_policy=0
fi
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ "$remove_policy" -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
