#!/usr/bin/env bash
# Builds the five libraries portwatch links (libuv, libmicrohttpd, SQLite,
# jansson, check) as static x86_64-w64-mingw32 libraries from Debian's own
# source packages, so the Windows build carries the same versions and the
# same Debian security patches as the Linux build.
#
# Used by packaging/windows/build.sh (and by anyone cross-building by hand).
# The result is a prefix outside the repository, shared by every clone on
# the machine:
#     ${PW_WIN_CACHE:-$HOME/.cache/portwatch-win}/prefix
# with corrected .pc files in prefix/lib/pkgconfig and a meson machine file
# prefix/deps.ini that tells the cross file where the prefix is.
#
# Idempotent: the prefix is rebuilt only when its key changes. The key is the
# versions of the five source packages, the cross compiler's version line and
# a hash of this script; a warm run only computes the key and exits.
#
# Needs root only for the first run (apt-get install / deb-src entry).
set -euo pipefail

HOST=x86_64-w64-mingw32
SRC_PKGS=(libuv1 libmicrohttpd sqlite3 check jansson)
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
           make gcc xz-utils python3)
missing=()
for p in "${need_pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
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
declare -A DSC
for p in "${SRC_PKGS[@]}"; do
    d=$(apt-get --print-uris source --only-source "$p" 2>/dev/null |
        awk '/^'"'"'.*\.dsc'"'"' /{print $2; exit}')
    if [ -z "$d" ]; then
        # deb-src present but lists never fetched (e.g. added by hand)
        log "no source record for $p; running apt-get update"
        as_root apt-get update -q </dev/null >&2
        d=$(apt-get --print-uris source --only-source "$p" 2>/dev/null |
            awk '/^'"'"'.*\.dsc'"'"' /{print $2; exit}')
        [ -n "$d" ] || die "apt cannot find source package $p"
    fi
    DSC[$p]=$d
done
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

# --- download and unpack -------------------------------------------------
mkdir -p "$DOWNLOADS"
(
    cd "$DOWNLOADS"
    # apt skips files it already has with the right hash.
    sandbox=()
    [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
    apt-get "${sandbox[@]}" source -q --download-only "${SRC_PKGS[@]}" </dev/null >&2
    # Drop files of versions no longer wanted so the cache does not grow.
    keep=$(for p in "${SRC_PKGS[@]}"; do
               echo "${DSC[$p]}"
               awk '/^Files:/{f=1; next} /^[^ ]/{f=0} f{print $3}' "${DSC[$p]}"
           done)
    for f in *; do
        grep -qxF -- "$f" <<<"$keep" || rm -f -- "$f"
    done
)
rm -rf "$WORK" "$PREFIX"
mkdir -p "$WORK" "$PREFIX"/{lib/pkgconfig,include}
declare -A SRCDIR VERSION
for p in "${SRC_PKGS[@]}"; do
    dsc=$DOWNLOADS/${DSC[$p]}
    [ -f "$dsc" ] || die "missing $dsc after download"
    ver=$(sed -n 's/^Version: //p' "$dsc" | head -n1)
    upstream=${ver#*:}; upstream=${upstream%-*}
    VERSION[$p]=$upstream
    SRCDIR[$p]=$WORK/$p-src
    dpkg-source -x --no-check "$dsc" "${SRCDIR[$p]}" >/dev/null
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
cmake_common=(-G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"
              -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX")
# Keep autoconf's pkg-config probes away from the Linux libraries.
export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig
unset PKG_CONFIG_PATH

step() { log "--- $1 ($(( $(date +%s) - t_start )) s)"; }

# --- libuv: static target only; the shared one is not wanted -----------
step "libuv ${VERSION[libuv1]}"
cmake -S "${SRCDIR[libuv1]}" -B "$WORK/libuv-build" "${cmake_common[@]}" \
      -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF >/dev/null
cmake --build "$WORK/libuv-build" --target uv_a -j "$JOBS" >/dev/null
uv_lib=$(find "$WORK/libuv-build" -maxdepth 1 -name '*.a' | head -n1)
[ -n "$uv_lib" ] || die "libuv static library not produced"
cp "$uv_lib" "$PREFIX/lib/libuv.a"
cp -r "${SRCDIR[libuv1]}/include/." "$PREFIX/include/"

# --- check: static target only -----------------------------------------
step "check ${VERSION[check]}"
cmake -S "${SRCDIR[check]}" -B "$WORK/check-build" "${cmake_common[@]}" \
      -DBUILD_TESTING=OFF -DCHECK_ENABLE_TESTS=OFF >/dev/null
cmake --build "$WORK/check-build" --target check -j "$JOBS" >/dev/null
cp "$WORK/check-build/src/libcheck.a" "$PREFIX/lib/libcheck.a"
cp "$WORK/check-build/src/check.h" "$PREFIX/include/check.h"
cp "$WORK/check-build/check_stdint.h" "$PREFIX/include/check_stdint.h"

# --- jansson ------------------------------------------------------------
step "jansson ${VERSION[jansson]}"
cmake -S "${SRCDIR[jansson]}" -B "$WORK/jansson-build" "${cmake_common[@]}" \
      -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON \
      -DJANSSON_BUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$WORK/jansson-build" -j "$JOBS" >/dev/null
cmake --install "$WORK/jansson-build" >/dev/null

# --- libmicrohttpd: autotools, out of tree ------------------------------
# Out of tree so make does not try to rerun automake on the patched sources;
# the AUTO* overrides make sure that even a skewed timestamp cannot.
step "libmicrohttpd ${VERSION[libmicrohttpd]}"
mkdir -p "$WORK/mhd-build"
(
    cd "$WORK/mhd-build"
    "${SRCDIR[libmicrohttpd]}/configure" --host=$HOST --prefix="$PREFIX" \
        --enable-static --disable-shared --disable-doc --disable-examples \
        --disable-curl --disable-nls --disable-https \
        CFLAGS="-O2" >configure.out 2>&1 || { tail -n 40 configure.out >&2; exit 1; }
    noauto=(ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true)
    make -j "$JOBS" "${noauto[@]}" >make.out 2>&1 || { tail -n 40 make.out >&2; exit 1; }
    make "${noauto[@]}" install >install.out 2>&1 || { tail -n 40 install.out >&2; exit 1; }
)

# --- SQLite: amalgamation generated natively, compiled by the cross gcc ---
step "sqlite3 ${VERSION[sqlite3]}"
mkdir -p "$WORK/sqlite-native"
(
    cd "$WORK/sqlite-native"
    "${SRCDIR[sqlite3]}/configure" --disable-tcl >configure.out 2>&1 \
        || { tail -n 40 configure.out >&2; exit 1; }
    make -j "$JOBS" sqlite3.c >make.out 2>&1 || { tail -n 40 make.out >&2; exit 1; }
    $HOST-gcc -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION \
        -c sqlite3.c -o sqlite3.o
    $HOST-ar rcs "$PREFIX/lib/libsqlite3.a" sqlite3.o
    cp sqlite3.h sqlite3ext.h "$PREFIX/include/"
)

# --- pkg-config files ---------------------------------------------------
# Written here rather than taken from the builds: check's names the wrong
# libraries for mingw, libmicrohttpd's omits ws2_32, libuv's static variant
# is called libuv-static. Only static libraries exist, so the system
# libraries go in Libs (a plain `pkg-config --libs` must already list them
# after the archive). Paths are relative to the .pc file so the prefix can be
# copied elsewhere.
step "pkg-config files"
rm -f "$PREFIX"/lib/*.la "$PREFIX"/lib/pkgconfig/*.pc
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
write_pc libmicrohttpd "${VERSION[libmicrohttpd]}" "Embedded HTTP server library" \
    "-lmicrohttpd -lws2_32"
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
