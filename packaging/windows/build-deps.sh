#!/usr/bin/env bash
# Builds the libraries portwatch links (libuv, libmicrohttpd with HTTPS and
# the GnuTLS under it: gmp, nettle, libtasn1, gnutls28; SQLite, jansson,
# check) as static x86_64-w64-mingw32 libraries from Debian's own source
# packages, so the Windows build carries the same versions and the same
# Debian security patches as the Linux build.
#
# Used by packaging/windows/build.sh (and by anyone cross-building by hand).
# The result is a prefix outside the repository, shared by every clone on
# the machine:
#     ${PW_WIN_CACHE:-$HOME/.cache/portwatch-win}/prefix
# with corrected .pc files in prefix/lib/pkgconfig and a meson machine file
# prefix/deps.ini that tells the cross file where the prefix is.
#
# Idempotent: the prefix is rebuilt only when its key changes. The key is the
# versions of the source packages, the cross compiler's version line and
# a hash of this script; a warm run only computes the key and exits.
#
# Needs root only for the first run (apt-get install / deb-src entry).
set -euo pipefail

HOST=x86_64-w64-mingw32
SRC_PKGS=(libuv1 libmicrohttpd sqlite3 check jansson gmp nettle libtasn1-6 gnutls28)
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE=${PW_WIN_CACHE:-$HOME/.cache/portwatch-win}
PREFIX=$CACHE/prefix
DOWNLOADS=$CACHE/downloads
WORK=$CACHE/work
JOBS=${PW_JOBS:-2}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
DEBSRC_FILE=/etc/apt/sources.list.d/portwatch-bookworm-src.sources

log() { printf '[build-deps] %s\n' "$*" >&2; }
die() { printf '[build-deps] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root for: $*"; fi
}

export DEBIAN_FRONTEND=noninteractive

# --- host packages -------------------------------------------------------
# The wine package carries /usr/bin/wine; wine64 the 64-bit loader it picks.
need_pkgs=(mingw-w64 wine wine64 cmake meson ninja-build pkg-config tcl dpkg-dev
           make gcc xz-utils python3 libz-mingw-w64-dev m4 autoconf automake libtool autopoint
           openssl)
missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${need_pkgs[@]}" 2>/dev/null |
            awk '$NF == "installed" {print $1}' || true)
for p in "${need_pkgs[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root apt-get install -y -q "${missing[@]}" </dev/null >&2 \
        || { as_root apt-get update -q </dev/null >&2 &&
             as_root apt-get install -y -q "${missing[@]}" </dev/null >&2; }
fi

# --- deb-src entry ------------------------------------------------------
# Only added when no deb-src line for bookworm main exists yet; apt-get update
# runs only then, so warm runs never touch the network.
have_debsrc() {
    # one-line format
    grep -hsE '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm[[:space:]].*\bmain\b' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
    # deb822 format: a stanza with Types containing deb-src and Suites bookworm
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN{RS=""; found=0}
             /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:[^\n]*bookworm([ \t\n]|$)/ &&
             /(^|\n)Components:[^\n]*main/ {found=1}
             END{exit !found}' "$f" && return 0
    done
    return 1
}
if ! have_debsrc >/dev/null; then
    log "adding deb-src entry $DEBSRC_FILE"
    as_root tee "$DEBSRC_FILE" >/dev/null <<'EOF'
# Added by portwatch packaging/windows/build-deps.sh: Debian sources of the
# libraries cross-built for the Windows port.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root apt-get update -q </dev/null >&2
fi

# --- cache key -----------------------------------------------------------
# The .dsc name apt would fetch pins the exact source version (with Debian
# revision, so a security upload changes the key).
dsc_names() {
    apt-get --print-uris source --only-source "${SRC_PKGS[@]}" 2>/dev/null |
        awk '$2 ~ /\.dsc$/ {print $2}'
}
declare -A DSC
read_dsc_names() {
    local d p
    DSC=()
    for d in $(dsc_names); do
        for p in "${SRC_PKGS[@]}"; do
            [[ $d == "${p}_"* ]] && DSC[$p]=$d
        done
    done
    for p in "${SRC_PKGS[@]}"; do [ -n "${DSC[$p]:-}" ] || return 1; done
}
if ! read_dsc_names; then
    # deb-src present but its lists never fetched (e.g. added by hand)
    log "source records missing; running apt-get update"
    as_root apt-get update -q </dev/null >&2
    read_dsc_names || die "apt cannot find all of: ${SRC_PKGS[*]}"
fi
cc_version=$($HOST-gcc --version | head -n1)
script_hash=$(sha256sum "$SELF" | cut -d' ' -f1)
KEY=$(for p in "${SRC_PKGS[@]}"; do echo "${DSC[$p]}"; done
      echo "$cc_version"
      echo "script $script_hash")

mkdir -p "$CACHE"
# Two clones building at once must not interleave in the shared prefix.
exec 9>"$CACHE/.lock"
flock 9

if [ -f "$PREFIX/.cache-key" ] && [ "$(cat "$PREFIX/.cache-key")" = "$KEY" ]; then
    log "cache hit: $PREFIX"
    exit 0
fi

log "cache miss: building into $PREFIX"
printf '%s\n' "$KEY" | sed 's/^/[build-deps]   key: /' >&2
t_start=$(date +%s)

# Every step logs to $WORK/logs/<name>.log and shows only a failure's tail.
# Steps run as background jobs launched unconditionally: bash ignores
# `set -e` inside anything called from an `if` or `||`, which would let a
# failed configure roll on into make.
CURRENT_LOG=
declare -A PIDS
on_exit() {
    local rc=$?
    local pids
    pids=$(jobs -p)
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
    if [ "$rc" -ne 0 ] && [ -n "$CURRENT_LOG" ] && [ -f "$CURRENT_LOG" ]; then
        log "FAILED (last lines of $CURRENT_LOG):"
        tail -n 40 "$CURRENT_LOG" >&2
    fi
}
trap on_exit EXIT
launch() {  # name function
    "$2" >"$WORK/logs/$1.log" 2>&1 &
    PIDS[$1]=$!
}
collect() {  # name
    if wait "${PIDS[$1]}"; then
        step "$1 done"
    else
        CURRENT_LOG=$WORK/logs/$1.log
        die "$1 failed"
    fi
}
step() { log "--- $1 ($(( $(date +%s) - t_start )) s)"; }

# --- download and unpack -------------------------------------------------
rm -rf "$WORK" "$PREFIX"
mkdir -p "$WORK/logs" "$PREFIX"/{lib/pkgconfig,include} "$DOWNLOADS"
step "download sources"
download() {
    cd "$DOWNLOADS"
    # apt skips files it already has with the right hash; as root it would
    # warn that _apt cannot write here, so it fetches as root directly.
    local sandbox=()
    [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
    apt-get "${sandbox[@]}" source -q --download-only "${SRC_PKGS[@]}" </dev/null
    # Drop files of versions no longer wanted so the cache does not grow.
    local keep f p
    keep=$(for p in "${SRC_PKGS[@]}"; do
               echo "${DSC[$p]}"
               awk '/^Files:/{f=1; next} /^[^ ]/{f=0} f{print $3}' "${DSC[$p]}"
           done)
    for f in *; do
        grep -qxF -- "$f" <<<"$keep" || rm -f -- "$f"
    done
}
CURRENT_LOG=$WORK/logs/download.log
download >"$CURRENT_LOG" 2>&1
declare -A SRCDIR VERSION
for p in "${SRC_PKGS[@]}"; do
    dsc=$DOWNLOADS/${DSC[$p]}
    [ -f "$dsc" ] || die "missing $dsc after download"
    ver=$(sed -n 's/^Version: //p' "$dsc" | head -n1)
    upstream=${ver#*:}; upstream=${upstream%-*}
    VERSION[$p]=$upstream
    SRCDIR[$p]=$WORK/$p-src
    # Applies Debian's patches (including security fixes).
    CURRENT_LOG=$WORK/logs/extract-$p.log
    dpkg-source -x --no-check "$dsc" "${SRCDIR[$p]}" >"$CURRENT_LOG" 2>&1
done

# Everything a CMake project needs to target mingw-w64.
TOOLCHAIN=$WORK/mingw.cmake
cat >"$TOOLCHAIN" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $HOST-gcc)
set(CMAKE_CXX_COMPILER $HOST-g++)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_AR /usr/bin/$HOST-ar CACHE FILEPATH "")
set(CMAKE_RANLIB /usr/bin/$HOST-ranlib CACHE FILEPATH "")
set(CMAKE_FIND_ROOT_PATH /usr/$HOST $PREFIX)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
cmake_common=(-G Ninja -Wno-dev -Wno-deprecated -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"
              -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX")
# Keep pkg-config probes (autoconf's too) away from the Linux libraries, and
# keep the environment's library/include paths out of the cross compiler.
export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig
unset PKG_CONFIG_PATH LIBRARY_PATH CPATH C_INCLUDE_PATH

# --- libuv: static target only; the shared one is not wanted -----------
build_libuv() {
    local b=$WORK/libuv-build lib
    cmake -S "${SRCDIR[libuv1]}" -B "$b" "${cmake_common[@]}" \
          -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
    cmake --build "$b" --target uv_a -j "$JOBS"
    lib=$(find "$b" -maxdepth 1 -name '*.a' | head -n1)
    [ -n "$lib" ] || { echo "no static libuv produced"; return 1; }
    cp "$lib" "$PREFIX/lib/libuv.a"
    cp -r "${SRCDIR[libuv1]}/include/." "$PREFIX/include/"
}

# --- check: static target only (its install rule wants the DLL too) -----
# check formats assertion messages with %jd and friends, which msvcrt's
# printf lacks: the library is built against mingw's C99 printf, and the
# header's format attribute says gnu_printf (plain `printf` means ms_printf
# to mingw gcc, so every ck_assert_int_eq would warn, fatally under
# -Dwerror=true).
build_check() {
    local b=$WORK/check-build
    cmake -S "${SRCDIR[check]}" -B "$b" "${cmake_common[@]}" -DBUILD_TESTING=OFF \
          -DCMAKE_C_FLAGS=-D__USE_MINGW_ANSI_STDIO=1
    cmake --build "$b" --target check -j "$JOBS"
    cp "$b/src/libcheck.a" "$PREFIX/lib/libcheck.a"
    cp "$b/check_stdint.h" "$PREFIX/include/"
    sed 's/__attribute__ ((format (a, b, c)))/__attribute__ ((format (gnu_printf, b, c)))/' \
        "$b/src/check.h" >"$PREFIX/include/check.h"
    grep -q 'format (gnu_printf, b, c)' "$PREFIX/include/check.h"
}

# --- jansson ------------------------------------------------------------
build_jansson() {
    local b=$WORK/jansson-build
    cmake -S "${SRCDIR[jansson]}" -B "$b" "${cmake_common[@]}" \
          -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON \
          -DJANSSON_BUILD_SHARED_LIBS=OFF
    cmake --build "$b" -j "$JOBS"
    cmake --install "$b"
}

# --- GnuTLS and what it needs: autotools ---------------------------------
# Debian's patches leave some generated files older than their sources;
# the AUTO* overrides keep make from rerunning the autotools on them.
NOAUTO=(ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true)
# What GnuTLS needs from Windows (the system store, CNG, sockets) and from
# mingw (winpthreads, atomics), after the static libraries, in link order.
GNUTLS_LIBS="-lgnutls -lhogweed -lnettle -ltasn1 -lgmp -lcrypt32 -lncrypt -lbcrypt -ladvapi32 -lws2_32 -lpthread -latomic"
build_gmp() {
    cd "${SRCDIR[gmp]}"
    # The DFSG tarball drops doc/, which configure still lists.
    mkdir -p doc && printf 'all install install-strip check clean distclean:\n\t@:\n' >doc/Makefile.in
    ./configure --host=$HOST --prefix="$PREFIX" --enable-static --disable-shared --disable-cxx
    make -j "$JOBS" "${NOAUTO[@]}"
    make "${NOAUTO[@]}" install
}
build_nettle() {
    cd "${SRCDIR[nettle]}"
    touch config.h.in stamp-h.in
    ./configure --host=$HOST --prefix="$PREFIX" --libdir="$PREFIX/lib" --enable-static \
        --disable-shared --disable-documentation --disable-openssl --disable-fat \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib"
    make -j "$JOBS" "${NOAUTO[@]}"
    make "${NOAUTO[@]}" install
}
build_tasn1() {
    cd "${SRCDIR[libtasn1-6]}"
    ./configure --host=$HOST --prefix="$PREFIX" --enable-static --disable-shared --disable-doc \
        --disable-valgrind-tests
    make -j "$JOBS" -C lib "${NOAUTO[@]}"
    make -C lib "${NOAUTO[@]}" install
}
# The library only (no tools, tests, docs, C++, p11-kit, TPM, DANE, IDN,
# compression, SRP, anonymous or GOST suites, SSL 2/3): what libmicrohttpd
# calls stays (it uses the PSK and DH parameter functions).
build_gnutls() {
    cd "${SRCDIR[gnutls28]}"
    # Debian's patches change gnulib's module list (gl/Makefile.am), so the
    # build system is regenerated as Debian's own build does (debian/rules,
    # override_dh_autoreconf).
    rm -f $(grep -rl gettext-0.20 m4/)
    GTKDOCIZE=true autoreconf -fi
    ./configure --host=$HOST --prefix="$PREFIX" --enable-static --disable-shared \
        --disable-doc --disable-manpages --disable-tools --disable-cxx --disable-tests \
        --disable-nls --without-p11-kit --with-included-unistring --without-idn \
        --without-tpm --without-tpm2 --disable-libdane --without-zlib --without-brotli \
        --without-zstd --disable-guile --disable-hardware-acceleration \
        --disable-srp-authentication --disable-anon-authentication \
        --disable-gost --disable-ssl3-support --disable-ssl2-support \
        --disable-heartbeat-support --disable-rpath \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib"
    # gnulib's replacement headers (sys/socket.h for mingw) come first.
    make -j "$JOBS" -C gl "${NOAUTO[@]}"
    make -j "$JOBS" -C lib "${NOAUTO[@]}"
    make -C lib "${NOAUTO[@]}" install
    # gnutls.h marks its variables (gnutls_malloc, ...) dllimport on
    # Windows; this prefix has only the static library, nothing to import.
    sed -i 's|^#if !defined(GNUTLS_INTERNAL_BUILD) && defined(_WIN32)$|#if 0 /* static only (build-deps.sh) */|' \
        "$PREFIX/include/gnutls/gnutls.h"
    grep -q '^#if 0 /\* static only' "$PREFIX/include/gnutls/gnutls.h"
}
build_tls() { build_gmp; build_nettle; build_tasn1; build_gnutls; }

# --- libmicrohttpd: autotools, out of tree, with HTTPS ---------------------
# Out of tree so make does not try to rerun automake on the patched sources;
# the AUTO* overrides make sure that even a skewed timestamp cannot. Built
# after GnuTLS; LIBS lets configure's link tests find its static archives.
build_mhd() {
    local b=$WORK/mhd-build
    mkdir -p "$b" && cd "$b"
    "${SRCDIR[libmicrohttpd]}/configure" --host=$HOST --prefix="$PREFIX" \
        --enable-static --disable-shared --disable-doc --disable-examples \
        --disable-curl --disable-nls --enable-https --with-gnutls="$PREFIX" CFLAGS=-O2 \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" LIBS="$GNUTLS_LIBS"
    grep -q '^#define HTTPS_SUPPORT 1' MHD_config.h || { echo "libmicrohttpd configured without HTTPS"; return 1; }
    make -j "$JOBS" "${NOAUTO[@]}"
    make "${NOAUTO[@]}" install
}

# --- SQLite: amalgamation generated natively, compiled by the cross gcc ---
# The Debian source has no sqlite3.c; generating it needs tclsh and a native
# compiler (for lemon and friends), hence the native configure.
build_sqlite() {
    local b=$WORK/sqlite-build
    mkdir -p "$b" && cd "$b"
    "${SRCDIR[sqlite3]}/configure" --disable-tcl
    make -j "$JOBS" sqlite3.c
    $HOST-gcc -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION \
        -c sqlite3.c -o sqlite3.o
    $HOST-ar rcs "$PREFIX/lib/libsqlite3.a" sqlite3.o
    cp sqlite3.h sqlite3ext.h "$PREFIX/include/"
}

# GnuTLS's chain is the long pole (mostly serial configure scripts and
# GnuTLS's own compile); the CMake builds and SQLite run beside it, then
# libmicrohttpd on top of GnuTLS.
build_cmake_libs() { build_libuv; build_check; build_jansson; }
step "building gmp, nettle, libtasn1, gnutls; libuv, check, jansson and sqlite3 beside them"
launch tls build_tls
launch cmake-libs build_cmake_libs
launch sqlite3 build_sqlite
collect cmake-libs
collect sqlite3
collect tls
step "building libmicrohttpd with HTTPS"
launch libmicrohttpd build_mhd
collect libmicrohttpd
CURRENT_LOG=

# --- pkg-config files ---------------------------------------------------
# Written here rather than taken from the builds: check's names the wrong
# libraries for mingw, libmicrohttpd's omits ws2_32, libuv's static variant
# is called libuv-static. Only static libraries exist, so the system
# libraries go in Libs (a plain `pkg-config --libs` must already list them
# after the archive). Paths are relative to the .pc file so the prefix can be
# copied elsewhere.
# jansson's CMake package files hold absolute paths and nothing here uses them.
rm -rf "$PREFIX"/lib/*.la "$PREFIX"/lib/pkgconfig/*.pc "$PREFIX"/cmake "$PREFIX"/lib/cmake
# The autotools builds compile with -g: without this, GnuTLS's, nettle's and
# gmp's debug information would make portwatch.exe (and the MSI) seven
# times larger.
$HOST-strip --strip-debug "$PREFIX"/lib/*.a
write_pc() {  # name version description libs
    cat >"$PREFIX/lib/pkgconfig/$1.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: $3 (static, $HOST)
Version: $2
Libs: -L\${libdir} $4
Cflags: -I\${includedir}
EOF
}
write_pc libuv "${VERSION[libuv1]}" "Cross-platform asynchronous I/O" \
    "-luv -lpsapi -luser32 -ladvapi32 -liphlpapi -luserenv -lws2_32 -ldbghelp -lole32 -lshell32"
write_pc libmicrohttpd "${VERSION[libmicrohttpd]}" "Embedded HTTP server library, HTTPS by GnuTLS" \
    "-lmicrohttpd $GNUTLS_LIBS"
write_pc sqlite3 "${VERSION[sqlite3]}" "SQL database engine" "-lsqlite3"
write_pc jansson "${VERSION[jansson]}" "Library for encoding, decoding and manipulating JSON data" \
    "-ljansson"
write_pc check "${VERSION[check]}" "A unit test framework for C" "-lcheck -lpthread"

# Meson machine file naming the prefix; the cross file's
# pkg_config_libdir is built from this constant.
cat >"$PREFIX/deps.ini" <<EOF
# Generated by packaging/windows/build-deps.sh; pass after the cross file:
#   --cross-file packaging/windows/x86_64-w64-mingw32.ini --cross-file $PREFIX/deps.ini
[constants]
deps_prefix = '$PREFIX'
EOF

rm -rf "$WORK"
# Written last: an interrupted build leaves no key and is redone next time.
printf '%s\n' "$KEY" >"$PREFIX/.cache-key"
log "done in $(( $(date +%s) - t_start )) s: $PREFIX ($(du -sh "$PREFIX" | cut -f1))"
