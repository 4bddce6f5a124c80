#!/bin/sh
# Developer entry point, the two Quick start commands of the README:
#   packaging/dev.sh run    install what is missing, build, run the daemon
#                           in the foreground on packaging/portwatch.ini
#   packaging/dev.sh test   install what is missing, build with ASan and
#                           UBSan, and run every test suite and fuzzer
# Both work on a fresh Debian 12 machine as root (or with sudo).
set -eu
cd "$(dirname "$0")/.."

# Debian packages: to build, and the real peers the tests start.
build_pkgs="build-essential meson ninja-build pkg-config libuv1-dev libmicrohttpd-dev
libsqlite3-dev libjansson-dev zlib1g-dev check"
test_pkgs="clang python3 curl libcurl4-openssl-dev iproute2 nftables sqlite3 prometheus openssl chromium
samba freetds-bin nginx"

install_missing() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
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
    # shellcheck disable=SC2086
    install_missing $build_pkgs
    [ -d build ] || meson setup build --buildtype=release -Dtests=false
    ninja -C build
    mkdir -p state
    exec build/daemon/portwatch run -c packaging/portwatch.ini
    ;;
test)
    # shellcheck disable=SC2086
    install_missing $build_pkgs $test_pkgs
    command -v npm >/dev/null || install_missing nodejs npm
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    [ -d build-test ] || meson setup build-test -Db_sanitize=address,undefined -Dwerror=true
    ninja -C build-test
    rc=0
    meson test -C build-test --print-errorlogs --num-processes 2 || rc=$?
    echo "== check summaries"
    grep -h -E "^[0-9]+%: Checks: |^[a-z]+: [0-9]+ passed, [0-9]+ failed" \
        build-test/meson-logs/testlog.txt || true
    [ "$rc" -eq 0 ] || exit "$rc"
    [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzzers=true \
        -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-fuzz
    tests/fuzz/run.sh build-fuzz "${PW_FUZZ_SECONDS:-30}"
    ;;
*)
    echo "usage: packaging/dev.sh run|test" >&2
    exit 2
    ;;
esac
