#!/bin/sh
# Proves the README's Quick start on a machine that has never seen the
# project: debootstraps a minimal Debian 12 (the base system plus git,
# ca-certificates and sudo, nothing else), clones this repository's HEAD
# into it and runs one Quick start command there as root, in a chroot.
#
#   packaging/pristine.sh [--again] [DIR] [-- COMMAND...]
#
# DIR (default /var/tmp/portwatch-pristine) holds a cached tarball of the
# fresh root (remove it to debootstrap again) and the root of this run,
# which is made anew from the tarball each time (with --again, the last
# run's root is kept, with what that run installed, and only its clone is
# brought to HEAD: quicker, for a second look). COMMAND defaults to
# `packaging/dev.sh test`; CI=true is passed through. Needs root,
# debootstrap, and a network path to Debian's archive. The host's apt
# sources and settings, CA certificates, DNS and npm settings are copied in,
# so that the chroot reaches the same package registries as the host; no
# package is.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "pristine.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null ||
    { echo "pristine.sh: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
again=0
[ "${1:-}" != --again ] || { again=1; shift; }
dir=/var/tmp/portwatch-pristine
if [ $# -gt 0 ] && [ "$1" != -- ]; then dir=$1; shift; fi
[ "${1:-}" != -- ] || shift
[ $# -gt 0 ] || set -- packaging/dev.sh test
mkdir -p "$dir"
root=$dir/root

unmount() {
    for m in run dev/pts dev sys proc ""; do umount -l "$root/$m" 2>/dev/null || true; done
}
trap unmount EXIT

if [ ! -f "$dir/base.tar" ]; then
    echo "== debootstrap: Debian 12 minbase + git, ca-certificates, sudo"
    rm -rf "$dir/base"
    debootstrap --variant=minbase --include=git,ca-certificates,sudo bookworm "$dir/base" \
        http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1 ||
        { tail -20 "$dir/debootstrap.log"; exit 1; }
    tar -C "$dir/base" -cf "$dir/base.tar" . && rm -rf "$dir/base"
fi

unmount
if [ "$again" -eq 1 ] && [ -d "$root/src/.git" ]; then
    git -C "$root/src" fetch -q "$src" HEAD && git -C "$root/src" reset -q --hard FETCH_HEAD
else
    again=0
    rm -rf "$root" && mkdir -p "$root" && tar -C "$root" -xf "$dir/base.tar"
fi
# Reach the registries the way the host does; install nothing.
cp /etc/resolv.conf "$root/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
rm -f "$root/etc/apt/sources.list"
cp -r /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/"
find "$root/etc/apt/sources.list.d" -name '*.disabled*' -delete
[ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$root/etc/apt/"
for f in /etc/apt/apt.conf.d/*; do
    case $(basename "$f") in docker-*|20packagekit|50appstream) ;; *) cp "$f" "$root/etc/apt/apt.conf.d/" ;; esac
done
for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
    [ ! -f "$f" ] || { mkdir -p "$root$(dirname "$f")"; cp "$f" "$root$f"; }
done

# The root must be a mount point: `ip netns exec` makes / a slave mount.
mount --bind "$root" "$root"
mount --make-private "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
[ "$again" -eq 1 ] || git clone -q "$src" "$root/src"
echo "== in a pristine Debian 12 root ($root): $*"
rc=0
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'cd /src && "$@"' sh "$@" || rc=$?
echo "== pristine: exit $rc"
exit "$rc"
