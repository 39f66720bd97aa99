#!/bin/sh
# Benchmark (not a test): messages per second accepted on the inbound SMTP
# port, from Postfix's smtp-source (10 sessions, 20 KiB messages, 5,000
# messages, one connection per message), against mailhub and against a
# private Debian Postfix instance on this machine, side by side as a ratio.
#
# mailhub stores each message durably (blob fsynced, SQLite transaction
# committed) and delivers it into the recipient's INBOX before its 250.
# Postfix's 250 means its queue file is fsynced; it delivers afterwards, by
# default into a Maildir (virtual(8)) as mailhub does, while it goes on
# accepting.  BENCH_POSTFIX_DISCARD=1 has Postfix throw the mail away
# instead (accepting only: Postfix at its fastest).
#
# Needs: postfix (smtp-source and postfix itself), python3, root (Postfix's
# daemons run as the postfix user).  Run through `make bench` (MAILHUB_BIN is
# set), on its own (`sh tests/bench/smtp_inbound.sh`: the binary built in the
# checkout's build/), or with MAILHUB_BIN=path/to/mailhub.  Environment: BENCH_SESSIONS,
# BENCH_MESSAGES, BENCH_SIZE, BENCH_REUSE=1 (smtp-source -d: many messages per
# connection), BENCH_POSTFIX_DISCARD=1, BENCH_KEEP=1 (keep the work folder).
set -eu

sessions=${BENCH_SESSIONS:-10}
messages=${BENCH_MESSAGES:-5000}
size=${BENCH_SIZE:-20480}
# runnable on its own: the binary built in the checkout unless MAILHUB_BIN
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
mailhub=${MAILHUB_BIN:-}
if [ -z "$mailhub" ]; then
	for mailhub in "$srcdir/build/mailhub" "$srcdir/mailhub"; do
		[ -x "$mailhub" ] && break
	done
fi
PATH=$PATH:/usr/sbin:/sbin
reuse=
[ "${BENCH_REUSE:-0}" = 1 ] && reuse=-d

for tool in smtp-source postfix python3; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "smtp_inbound: $tool not found (apt-get install postfix python3); skipped"
		exit 0
	fi
done
[ -x "$mailhub" ] || { echo "smtp_inbound: needs a built mailhub ($mailhub is not there; or set MAILHUB_BIN)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mailhub-bench.XXXXXX")
mh_pid=
pf_conf=
cleanup() {
	[ -n "$mh_pid" ] && kill "$mh_pid" 2>/dev/null && wait "$mh_pid" 2>/dev/null
	[ -n "$pf_conf" ] && postfix -c "$pf_conf" stop >/dev/null 2>&1
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	python3 - "$1" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

now() {
	python3 -c 'import time; print(f"{time.monotonic():.6f}")'
}

# Sends the load to 127.0.0.1:$1 and prints the seconds it took.
run_load() {
	t0=$(now)
	smtp-source $reuse -s "$sessions" -m "$messages" -l "$size" \
		-f sender@remote.example -t bob@example.org -M client.example \
		"127.0.0.1:$1" >"$work/load-$1.log" 2>&1 || {
		cat "$work/load-$1.log" >&2
		return 1
	}
	t1=$(now)
	python3 -c "print(f'{$t1 - $t0:.3f}')"
}

# ---- mailhub -------------------------------------------------------------
mh_port=$(free_port)
mkdir -p "$work/mailhub"
cat >"$work/mailhub/mailhub.conf" <<EOF
[server]
hostname = bench.test
data_dir = $work/mailhub/data
[listen]
smtp = 127.0.0.1:$mh_port
[limits]
connections_per_ip = 1000
EOF
mh() { "$mailhub" --config "$work/mailhub/mailhub.conf" "$@"; }
mh init --hostname bench.test >/dev/null
mh domain add example.org >/dev/null
echo "bench-password-1" | mh user add bob@example.org --password-stdin >/dev/null
# the daemon itself in the background (not a subshell running mh, whose
# death would leave the daemon behind)
"$mailhub" --config "$work/mailhub/mailhub.conf" serve >"$work/mailhub/serve.log" 2>&1 &
mh_pid=$!
wait_port "$mh_port" || { cat "$work/mailhub/serve.log" >&2; exit 1; }
mh_secs=$(run_load "$mh_port")
stored=$(python3 - "$work/mailhub/data/mailhub.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                 " JOIN users u ON u.id = b.user_id WHERE u.address = 'bob@example.org'"
                 " AND b.name = 'INBOX'").fetchone()[0])
EOF
)
kill "$mh_pid"
wait "$mh_pid" 2>/dev/null || true
mh_pid=
if [ "$stored" != "$messages" ]; then
	echo "smtp_inbound: mailhub stored $stored of $messages messages" >&2
	tail -n 20 "$work/mailhub/serve.log" >&2
	exit 1
fi

# ---- Postfix (a private instance: own config, queue and port) ----------------
pf_port=$(free_port)
pf=$work/postfix
mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
# Postfix's daemons run as the postfix user: they must reach their folders
chmod 755 "$work" "$pf"
chown postfix "$pf/data"
master=/etc/postfix/master.cf
[ -f "$master" ] || master=/usr/share/postfix/master.cf.dist
# no chroot; smtpd on our port instead of 25
awk -v port="$pf_port" '
	/^#/ || /^[ \t]/ || NF < 8 { print; next }
	$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
	{ $5 = "n"; print }
' "$master" >"$pf/conf/master.cf"
cat >"$pf/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
meta_directory = /etc/postfix
myhostname = bench.test
mydomain = bench.test
myorigin = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 1000
biff = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
EOF
if [ "${BENCH_POSTFIX_DISCARD:-0}" = 1 ]; then
	pf_mode="accepting only: discard"
	cat >>"$pf/conf/main.cf" <<EOF
mydestination = example.org
local_recipient_maps =
local_transport = discard
EOF
else
	pf_mode="delivering into a Maildir"
	mkdir -p "$pf/mail"
	chown nobody "$pf/mail"
	cat >>"$pf/conf/main.cf" <<EOF
mydestination =
virtual_mailbox_domains = example.org
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = inline:{ bob@example.org=bob/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
EOF
fi
pf_conf=$pf/conf
postfix -c "$pf_conf" check >"$pf/check.log" 2>&1 || true
if ! postfix -c "$pf_conf" start >"$pf/start.log" 2>&1; then
	echo "smtp_inbound: private Postfix did not start:" >&2
	cat "$pf/start.log" >&2
	exit 1
fi
wait_port "$pf_port" || { cat "$pf/maillog" >&2; exit 1; }
pf_t0=$(now)
pf_secs=$(run_load "$pf_port")
pf_done=-
if [ "${BENCH_POSTFIX_DISCARD:-0}" != 1 ]; then
	# how long until every message is in the Maildir (informational)
	pf_done=$(python3 - "$pf/mail/bob/new" "$messages" "$pf_t0" <<'EOF'
import os, sys, time
path, n, t0 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    try:
        have = len(os.listdir(path))
    except OSError:
        have = 0
    if have >= n:
        print(f"{time.monotonic() - t0:.2f}")
        sys.exit(0)
    time.sleep(0.05)
print("-")
EOF
)
fi
postfix -c "$pf_conf" stop >/dev/null 2>&1 || true
pf_conf=

python3 - "$mh_secs" "$pf_secs" "$messages" "$sessions" "$size" "${reuse:-}" \
	"$pf_mode" "$pf_done" <<'EOF'
import sys
mh, pf, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sessions, size, reuse, pf_mode, pf_done = sys.argv[4:9]
mode = "many messages per connection" if reuse else "one connection per message"
print(f"smtp-source: {sessions} sessions, {n} messages of {size} bytes, {mode}")
print(f"mailhub: {n / mh:8.1f} msg/s accepted ({mh:.2f} s; each in the INBOX before its 250)")
done = f"; all in the Maildir after {pf_done} s" if pf_done != "-" else ""
print(f"postfix: {n / pf:8.1f} msg/s accepted ({pf:.2f} s; {pf_mode}{done})")
print(f"ratio mailhub/postfix: {pf / mh:.2f}x")
EOF
