#!/usr/bin/env bash
# Builds the portwatch MSI from portwatch.wxs with wixl (msitools), then
# sets what wixl 0.101 cannot express: the configuration's component is
# NeverOverwrite (an upgrade or a reinstall never replaces an existing
# portwatch.ini) and Permanent (an uninstall leaves it), attributes 128 and
# 16 of its Component row. Used by build.sh; by hand:
#
#   packaging/windows/make-msi.sh STAGE VERSION OUT.msi
#
# STAGE holds portwatch.exe and portwatch.ini (the example configuration as
# installed: see build.sh); OUT.msi is written there unless it is a path.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: make-msi.sh STAGE VERSION OUT.msi (STAGE holds portwatch.exe and portwatch.ini)" >&2
    exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$1 version=$2 msi=$3
for f in portwatch.exe portwatch.ini; do
    [ -f "$stage/$f" ] || { echo "make-msi.sh: $stage/$f is missing" >&2; exit 1; }
done
cp "$HERE/portwatch.wxs" "$stage/"
cd "$stage"
# wixl wants source paths relative to the working directory.
wixl -a x64 -D Version="$version" -D Exe=portwatch.exe -D Config=portwatch.ini -o "$msi" portwatch.wxs

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
msiinfo export "$msi" Component >"$tmp/Component.idt"
awk -F'\t' 'BEGIN { OFS = "\t" }
    function set(v, bit) { return int(v / bit) % 2 ? v : v + bit }   # mawk has no or()
    $1 == "Configuration" { $4 = set(set($4, 128), 16); found = 1 }
    { print }
    END { if (!found) { print "make-msi.sh: no Configuration component" > "/dev/stderr"; exit 1 } }' \
    "$tmp/Component.idt" >"$tmp/Component.new"
mv "$tmp/Component.new" "$tmp/Component.idt"
msibuild "$msi" -i "$tmp/Component.idt"
