#!/bin/sh
# Developer entry point, the two Quick start commands of the README:
#   packaging/dev.sh run    install what running needs, build a release
#                           binary, run the daemon in the foreground on
#                           packaging/portwatch.ini
#   packaging/dev.sh test   install what the tests need, build with ASan and
#                           UBSan, and run every test suite and fuzzer
#   packaging/dev.sh bench  install what the benchmarks under bench/ need
# Both work on a fresh Debian 12 machine as root (or with sudo). What they
# install is packaging/packages.txt. With CI=true a skipped test fails: CI
# runs as root with every peer installed, so nothing has a reason to skip.
set -eu
cd "$(dirname "$0")/.."

# The words of one [set] of packaging/packages.txt, comments dropped.
packages() {
    awk -v want="[$1]" '
        /^\[/ { on = ($1 == want); next }
        on { sub(/#.*/, ""); for (i = 1; i <= NF; i++) print $i }
    ' packaging/packages.txt
}

# Installs the packages not installed yet. A word ending in '?' names a
# package installed only when no command of that name exists.
install_missing() {
    missing=""
    for p in "$@"; do
        case $p in
        *\?) command -v "${p%\?}" >/dev/null 2>&1 || missing="$missing ${p%\?}" ;;
        *) dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p" ;;
        esac
    done
    [ -z "$missing" ] && return 0
    echo "== installing:$missing"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
}

case "${1:-}" in
run)
    # shellcheck disable=SC2046
    install_missing $(packages run)
    [ -d build ] || meson setup build --buildtype=release -Dtests=false -Dbenchmarks=false
    ninja -C build
    mkdir -p state
    exec build/daemon/portwatch run -c packaging/portwatch.ini
    ;;
test)
    # shellcheck disable=SC2046
    install_missing $(packages run) $(packages test)
    no_skip=""
    [ "${CI:-}" != true ] || no_skip=--no-skip
    tests/programs.py
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    (cd tests/api && npm ci --no-audit --no-fund --loglevel=error)
    [ -d build-test ] || meson setup build-test -Db_sanitize=address,undefined -Dwerror=true
    ninja -C build-test
    rc=0
    meson test -C build-test --print-errorlogs --num-processes 2 || rc=$?
    echo "== test summary"
    tests/testlog.py build-test $no_skip || rc=1
    [ "$rc" -eq 0 ] || exit "$rc"
    [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzzers=true \
        -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-fuzz
    tests/fuzz/selftest.sh build-fuzz
    tests/fuzz/run.sh build-fuzz "${PW_FUZZ_SECONDS:-30}"
    ;;
bench)
    # What bench/*/run.sh need besides a build (they are run by hand).
    # shellcheck disable=SC2046
    install_missing $(packages run) $(packages bench)
    ;;
*)
    echo "usage: packaging/dev.sh run|test|bench" >&2
    exit 2
    ;;
esac
