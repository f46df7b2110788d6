#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# On a bare Debian 12 (a fresh `debootstrap --variant=minbase bookworm` root), the README's
# setup must make every module buildable: scripts/setup, then a build of this tree in the
# root, then scripts/check-modules must list every module. Then libzydis-dev is removed and
# the same check must fail with a line naming the rewrite module.
#
# usage: check_bare_root.sh SOURCE_ROOT
# Needs root, debootstrap and Debian's mirror; exits 77 (skip) saying which is missing.
set -uo pipefail
src=$1
me="bare-root"
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/setup installs it)"
mirror=${VC_DEBIAN_MIRROR:-http://deb.debian.org/debian}

root=$(mktemp -d /var/tmp/vc-bare-XXXXXX)
cleanup() {
	for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null; done
	rm -rf --one-file-system "$root"
}
trap cleanup EXIT

t0=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
	grep -qiE "resolve|connect|download|release" "$root.log" &&
		{ tail -3 "$root.log"; rm -f "$root.log"; skip "Debian's mirror ($mirror) is not reachable"; }
	tail -20 "$root.log"; rm -f "$root.log"
	echo "$me: debootstrap failed"; exit 1
fi
rm -f "$root.log"
t1=$(date +%s)
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount --bind /dev "$root/dev" && mount --bind /dev/pts "$root/dev/pts" &&
	mount -t proc proc "$root/proc" && mount --bind /sys "$root/sys" ||
	{ echo "$me: cannot mount /dev, /proc, /sys in the root"; exit 1; }
# The tree as committed plus the working changes, without build directories.
mkdir "$root/src"
tar -C "$src" --exclude=./build --exclude=./build-san --exclude='./build*' --exclude=.git \
	-cf - . | tar -C "$root/src" -xf - || { echo "$me: cannot copy the tree"; exit 1; }

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

in_root /src/scripts/setup || { echo "$me: scripts/setup failed in a bare root"; exit 1; }
t2=$(date +%s)
opts=(-Dtests=false -Dbench=false -Dexamples=false)
in_root sh -c "cd /src && meson setup /tmp/b ${opts[*]} >/tmp/setup.log 2>&1" ||
	{ in_root cat /tmp/setup.log; echo "$me: meson setup failed in a bare root"; exit 1; }
if ! in_root sh -c "cd /src && scripts/check-modules /tmp/b $me"; then
	echo "$me: FAIL: after scripts/setup, a bare Debian 12 does not build every module"
	exit 1
fi
in_root sh -c "meson compile -C /tmp/b >/tmp/build.log 2>&1" ||
	{ in_root tail -30 /tmp/build.log; echo "$me: the build failed in a bare root"; exit 1; }
t3=$(date +%s)

# Take a module's dependency away: the check must name the module.
in_root dpkg -r --force-depends libzydis-dev >/dev/null 2>&1 ||
	{ echo "$me: cannot remove libzydis-dev"; exit 1; }
in_root sh -c "cd /src && meson setup --reconfigure /tmp/b ${opts[*]} >/tmp/setup.log 2>&1" ||
	{ in_root cat /tmp/setup.log; echo "$me: reconfigure failed"; exit 1; }
out=$(in_root sh -c "cd /src && scripts/check-modules /tmp/b $me" 2>&1)
rc=$?
echo "$out"
if [ $rc -eq 0 ] || ! grep -q "module rewrite was not built" <<<"$out"; then
	echo "$me: FAIL: without libzydis-dev the check did not fail naming the rewrite module"
	exit 1
fi
echo "$me: ok: bare root $((t1 - t0))s debootstrap, $((t2 - t1))s scripts/setup, $((t3 - t2))s configure+build; every module built; a missing Zydis is named"
