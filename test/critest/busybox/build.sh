#!/usr/bin/env bash
# build.sh OUT builds the busybox that critest's images are made from and
# writes it to OUT (e.g. bin/critest-busybox/busybox); a second run with the
# same configuration does nothing.
#
# Debian's busybox-static lacks pgrep and ipcs and runs applets such as ls
# inside the shell, so a masked /bin/ls would not be noticed. This builds
# Debian's own busybox source (bookworm) from the full default configuration,
# static, with every applet run as its own process. The work tree stays next
# to OUT (OUT.d) for the next run.
set -euo pipefail

out=${1:?usage: build.sh OUT}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$out.d

# The configuration, on top of `make defconfig`: static, no in-shell applets
# (FEATURE_SH_STANDALONE, PREFER_APPLETS, NOFORK), and no FEATURE_SUID, so a
# setuid copy of busybox keeps its effective uid, as nonewprivs's
# set-user-ID program does.
overrides='CONFIG_STATIC=y
# CONFIG_PIE is not set
# CONFIG_FEATURE_SH_STANDALONE is not set
# CONFIG_FEATURE_PREFER_APPLETS is not set
# CONFIG_FEATURE_SH_NOFORK is not set
# CONFIG_FEATURE_SUID is not set
# CONFIG_FEATURE_SUID_CONFIG is not set
# CONFIG_BUILD_LIBBUSYBOX is not set'
# The applets critest's specs run; the build fails if one is missing.
required='sh ls cat echo sleep id top pgrep pidof ipcs ping brctl netstat
hostname touch mkdir mount chmod grep dd wget httpd true env ps'

stamp=$(printf '%s\n%s\n' "$overrides" "$required" | sha256sum | cut -c1-16)
if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "build.sh: needs root for apt-get (deb-src entry, build dependencies)" >&2
	exit 1
fi

# Source of the busybox Debian ships, from a deb-src entry for bookworm.
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >/etc/apt/sources.list.d/criserver-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
elif ! apt-cache showsrc busybox >/dev/null 2>&1 || [ -z "$(apt-cache showsrc busybox 2>/dev/null)" ]; then
	apt-get update -qq
fi
export DEBIAN_FRONTEND=noninteractive
# busybox's own Build-Depends (debhelper, zip) plus the compiler and libc.
apt-get build-dep -y -qq busybox >/dev/null
apt-get install -y -qq --no-install-recommends build-essential dpkg-dev >/dev/null

rm -rf "$work"
mkdir -p "$work"
(cd "$work" && apt-get source -qq busybox 2>&1 | grep -v 'unsandboxed as root' || true)
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'busybox-*' | head -n1)
[ -n "$src" ] || { echo "build.sh: apt-get source busybox gave no source tree" >&2; exit 1; }

cd "$src"
make -s defconfig >/dev/null
while IFS= read -r line; do
	sym=$(printf '%s\n' "$line" | grep -oE 'CONFIG_[A-Z0-9_]+')
	sed -i -E "/^(# )?$sym[= ]/d" .config
	printf '%s\n' "$line" >>.config
done <<<"$overrides"
{ yes '' || true; } | make -s oldconfig >/dev/null
for a in $required; do
	sym=CONFIG_$(printf '%s' "$a" | tr 'a-z' 'A-Z')
	[ "$a" = sh ] && sym=CONFIG_SH_IS_ASH
	grep -qx "$sym=y" .config || { echo "build.sh: applet $a ($sym) is not enabled" >&2; exit 1; }
done
for off in $(printf '%s\n' "$overrides" | sed -nE 's/^# (CONFIG_[A-Z0-9_]+) is not set$/\1/p'); do
	if grep -qx "$off=y" .config; then echo "build.sh: $off is still on" >&2; exit 1; fi
done

start=$(date +%s)
make -s -j2 busybox >build.log 2>&1 || { tail -n 40 build.log >&2; exit 1; }
echo "build.sh: busybox built in $(($(date +%s) - start))s" >&2

if ! file -b busybox 2>/dev/null | grep -q 'statically linked' && ldd busybox >/dev/null 2>&1; then
	echo "build.sh: busybox is not static" >&2
	exit 1
fi
cp busybox "$out.tmp"
mv "$out.tmp" "$out"
echo "$stamp" >"$out.stamp"
