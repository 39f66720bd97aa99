#!/bin/sh
# Run a benchmark with its temporary files (both sides' data: mailhub's and
# its peer's) on a freshly made, journalled ext4 filesystem: what a
# household's disk has.
#
# Why: the disk a benchmark happens to run on may not be one.  On ext4
# without a journal, the inode allocator walks past every inode of a block
# group deleted in the last minutes (fs/ext4/ialloc.c, recently_deleted(),
# checked only when the filesystem has no journal), so a peer that writes a
# file per message (Dovecot's Maildir, mbsync) slows down round after round
# as earlier rounds' files are deleted, and the figures say more about the
# machine than about either program.  A new filesystem also starts every
# run from the same empty state.
#
# Usage: on_ext4.sh COMMAND [ARG...]
#
# Run as root with losetup and mkfs.ext4 present: a sparse image of
# BENCH_DISK_SIZE (default 16G) in BENCH_DISK_DIR (default /var/tmp) is
# made, formatted ext4 with mkfs's defaults (journal, ordered data), loop
# mounted, and COMMAND runs with TMPDIR on it; the image is removed after.
# Otherwise, or with BENCH_DISK=here, COMMAND runs on TMPDIR as it is.
# Either way the first line printed says which disk the figures are from.

set -u

as_it_is() {
	fs=$(stat -f -c %T "${TMPDIR:-/tmp}" 2>/dev/null || echo unknown)
	echo "bench disk: ${TMPDIR:-/tmp} as it is ($fs; $reason)"
}

[ $# -ge 1 ] || { echo "usage: on_ext4.sh COMMAND [ARG...]" >&2; exit 2; }

reason=
if [ "${BENCH_DISK:-ext4}" = here ]; then
	reason="BENCH_DISK=here"
elif [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null 2>&1 ||
     ! command -v mkfs.ext4 >/dev/null 2>&1; then
	reason="not root, or no losetup/mkfs.ext4"
fi
if [ -n "$reason" ]; then
	as_it_is
	exec "$@"
fi

dir=${BENCH_DISK_DIR:-/var/tmp}
image=$(mktemp "$dir/mailhub-bench-disk.XXXXXX") || exit 1
mnt=$(mktemp -d "$dir/mailhub-bench-mnt.XXXXXX") || { rm -f "$image"; exit 1; }
cleanup() {
	cd /
	umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	rmdir "$mnt" 2>/dev/null
	rm -f "$image"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! truncate -s "${BENCH_DISK_SIZE:-16G}" "$image" ||
   ! mkfs.ext4 -q -F "$image" ||
   ! mount -o loop "$image" "$mnt"; then
	echo "on_ext4.sh: could not make and mount an ext4 image in $dir;" \
	     "running on ${TMPDIR:-/tmp} as it is" >&2
	cleanup
	trap - EXIT INT TERM
	reason="the ext4 image failed"
	as_it_is
	exec "$@"
fi
chmod 1777 "$mnt"
echo "bench disk: a new journalled ext4 (loop image, mkfs.ext4 defaults)"
TMPDIR=$mnt "$@"
