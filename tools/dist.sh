#!/usr/bin/env bash
# Release artifacts for servers without Rust (README "Install"): a binary that runs on glibc
# 2.17+, a tarball, a .deb and SHA256SUMS under dist/, then the checks on them.
#   tools/dist.sh dist     `make dist`: install the tools, build, package, check
#   tools/dist.sh check    `make dist-check`: check what dist/ holds
#   tools/dist.sh binary   only the portable binary
#   tools/dist.sh package  package and check the binary already built (for iterating)
#   tools/dist.sh paths    print where the binary goes ($CARGO_TARGET_DIR is honoured)
# Nothing here is part of `make test` or .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd -P)"

JOBS="${JOBS:-2}"
TRIPLE=x86_64-unknown-linux-gnu
GLIBC_FLOOR=2.17
DIST="${DIST_DIR:-dist}"
# Where cargo writes its output: $CARGO_TARGET_DIR, a cargo config's build.target-dir, or
# target/ (cargo metadata knows which); a relative answer is taken from the checkout.
target_dir() {
  local dir
  dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  [ -n "$dir" ] || dir="${CARGO_TARGET_DIR:-target}"
  case "$dir" in /*) ;; *) dir="$ROOT/$dir" ;; esac
  echo "$dir"
}
TARGET="$(target_dir)"
VENV="$TARGET/dist-venv"
# Pinned so a rebuild months later uses the same linker and glibc stubs.
ZIGBUILD_VERSION=0.24.1
ZIG_VERSION=0.17.1
BIN="$TARGET/$TRIPLE/release/tinkex"
MAX_BYTES=$((12 * 1024 * 1024))
# The .deb's Maintainer field (Cargo.toml names no authors); set DEB_MAINTAINER to override.
MAINTAINER="${DEB_MAINTAINER:-tinkex developers <tinkex@localhost>}"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
DESCRIPTION="$(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
NAME="tinkex-$VERSION-x86_64-linux-gnu"
TARBALL="$DIST/$NAME.tar.gz"
DEB="$DIST/tinkex_${VERSION}_amd64.deb"
# Files the tarball holds, in the order tar stores them (sorted by name).
TAR_FILES="CHANGELOG.md LICENSE README.md tinkex tinkex.1"

say() { echo "dist: $*" >&2; }
die() {
  echo "dist: error: $*" >&2
  exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tinkex-dist.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# The commit time fixes every mtime, so two runs from one commit give identical bytes.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || stat -c %Y Cargo.toml)"
fi
export SOURCE_DATE_EPOCH

APT_UPDATED=""
# Installs Debian package $2 when command $1 is missing (root on a fresh machine).
need() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$1" "$2"
}

# Installs Debian package $2, which provides $1, with apt-get.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing: install it (Debian package $2)"
  [ "$(id -u)" = 0 ] || die "$1 is missing: run 'sudo apt-get install $2'"
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  say "apt-get install $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

# cargo-zigbuild and zig (PyPI packages) in a virtualenv under target/, when missing.
ensure_zigbuild() {
  if "$VENV/bin/cargo-zigbuild" --version 2>/dev/null | grep -qx "cargo-zigbuild $ZIGBUILD_VERSION" &&
    "$VENV/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIG_VERSION"; then
    return 0
  fi
  need python3 python3
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    apt_install "python3 -m venv" python3-venv
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian package python3-venv)"
  fi
  say "pip install cargo-zigbuild==$ZIGBUILD_VERSION ziglang==$ZIG_VERSION into $VENV"
  "$VENV/bin/pip" install -q "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIG_VERSION"
}

# The release binary, linked against glibc 2.17 symbol versions; reports the build time.
build_binary() {
  ensure_zigbuild
  local commit start
  commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  if [ "$commit" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then
    commit="$commit-dirty"
  fi
  # Paths of this checkout and of the cargo registry would end up in panic messages; map
  # them to fixed names so a rebuild elsewhere gives the same bytes.
  local cargo_home="${CARGO_HOME:-$HOME/.cargo}"
  start="$(date +%s)"
  say "building $BIN for $TRIPLE with glibc $GLIBC_FLOOR (commit $commit)"
  PATH="$VENV/bin:$PATH" TINKEX_GLIBC_FLOOR="$GLIBC_FLOOR" TINKEX_GIT_COMMIT="$commit" \
    RUSTFLAGS="--remap-path-prefix=$ROOT=/build/tinkex --remap-path-prefix=$cargo_home=/cargo" \
    nice -n 19 cargo zigbuild --release --locked -j"$JOBS" --bin tinkex \
    --target "$TRIPLE.$GLIBC_FLOOR"
  say "build took $(($(date +%s) - start)) s; $(stat -c %s "$BIN") bytes"
}

# Writes tar.gz $2 from directory $1's files (named in TAR_FILES) under the top folder
# $NAME: sorted, mtimes = SOURCE_DATE_EPOCH, owner root, no gzip timestamp.
pack() {
  local dir="$1" out="$2" f
  for f in $TAR_FILES; do touch -h -d "@$SOURCE_DATE_EPOCH" "$dir/$NAME/$f"; done
  touch -h -d "@$SOURCE_DATE_EPOCH" "$dir/$NAME"
  tar -C "$dir" --format=gnu --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" -cf - "$NAME" | gzip -n -9 >"$out"
}

# Stages the tarball's files under $WORK/stage/$NAME with fixed modes.
stage() {
  [ -f CHANGELOG.md ] || die "CHANGELOG.md is missing; it ships in the tarball and the .deb"
  [ -x "$BIN" ] || die "$BIN is missing; run 'make dist'"
  local dir="$WORK/stage/$NAME"
  mkdir -p "$dir"
  install -m 0755 "$BIN" "$dir/tinkex"
  install -m 0644 README.md LICENSE CHANGELOG.md "$dir/"
  python3 tools/gen_man.py "$dir/tinkex" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" \
    >"$dir/tinkex.1"
  chmod 0644 "$dir/tinkex.1"
  chmod 0755 "$dir"
}

# Does the binary need libgcc_s (Rust's unwinder)? Then the .deb depends on it too.
needs_libgcc() { readelf -d "$1" | grep -q 'Shared library: \[libgcc_s\.so'; }

# Hand-assembles the .deb from the staged files with dpkg-deb (no cargo-deb build needed).
build_deb() {
  local src="$WORK/stage/$NAME" root="$WORK/deb" depends="libc6 (>= $GLIBC_FLOOR)" size
  needs_libgcc "$src/tinkex" && depends="$depends, libgcc-s1 | libgcc1"
  mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/doc/tinkex"
  install -m 0755 "$src/tinkex" "$root/usr/bin/tinkex"
  gzip -n -9 <"$src/tinkex.1" >"$root/usr/share/man/man1/tinkex.1.gz"
  gzip -n -9 <"$src/README.md" >"$root/usr/share/doc/tinkex/README.md.gz"
  gzip -n -9 <"$src/CHANGELOG.md" >"$root/usr/share/doc/tinkex/changelog.gz"
  cat >"$root/usr/share/doc/tinkex/copyright" <<END_COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tinkex

Files: *
Copyright: the tinkex developers
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0; tinkex's tarball ships it as LICENSE.
END_COPYRIGHT
  # Installed-Size in KiB per file, so it does not depend on the file system's block size.
  size="$(find "$root/usr" -type f -printf '%s\n' | awk '{k += int(($1 + 1023) / 1024)} END {print k}')"
  cat >"$root/DEBIAN/control" <<END_CONTROL
Package: tinkex
Version: $VERSION
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: $depends
Section: utils
Priority: optional
Description: $DESCRIPTION
 One binary, built for x86_64 Linux with glibc $GLIBC_FLOOR or newer; no Rust
 toolchain needed. Run 'tinkex run --help' or see man tinkex.
END_CONTROL
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f ! -path "$root/usr/bin/*" -exec chmod 0644 {} +
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$DEB" >/dev/null
}

ok() { echo "dist-check: ok: $*"; }
bad() {
  echo "dist-check: FAILED: $*" >&2
  exit 1
}

# The shipped binary: glibc symbol versions, libraries, stripped, size.
check_binary() {
  local bin="$1" max lib size notes=""
  max="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n 1)"
  [ -n "$max" ] || bad "no GLIBC_ symbol versions found in $bin"
  [ "$(printf '%s\n%s\n' "$max" "$GLIBC_FLOOR" | sort -V | tail -n 1)" = "$GLIBC_FLOOR" ] ||
    bad "$bin needs GLIBC_$max, newer than the $GLIBC_FLOOR floor"
  ok "highest glibc symbol version GLIBC_$max (floor $GLIBC_FLOOR)"
  for lib in $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    case "$lib" in
    libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-x86-64.so.2) ;;
    # Rust's unwinder; part of every glibc system's base (Debian: libgcc-s1, Essential).
    libgcc_s.so.1) notes=" (libgcc_s.so.1: Rust's unwinder, in every base system)" ;;
    *) bad "$bin needs $lib, beyond libc/libm/libpthread/libdl/ld-linux" ;;
    esac
  done
  ok "needs only: $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | xargs)$notes"
  if readelf -S --wide "$bin" | grep -qE ' \.(symtab|debug_[a-z]+) '; then
    bad "$bin is not stripped"
  fi
  size="$(stat -c %s "$bin")"
  [ "$size" -le "$MAX_BYTES" ] || bad "$bin is $size bytes, over 12 MiB"
  ok "stripped, $size bytes ($((size * 100 / 1048576 / 100)).$((size * 100 / 1048576 % 100)) MiB ≤ 12 MiB)"
}

# The tarball: its file list and owners, the binary, --version, the demo, a repack.
check_tarball() {
  local x="$WORK/extract" expected listing f out
  mkdir -p "$x"
  tar -C "$x" -xzf "$TARBALL"
  expected="$NAME/$(for f in $TAR_FILES; do printf ' %s/%s' "$NAME" "$f"; done)"
  listing="$(tar -tzf "$TARBALL" | xargs)"
  [ "$listing" = "$expected" ] || bad "tarball holds '$listing', expected '$expected'"
  tar -tzvf "$TARBALL" | awk '$2 != "0/0" {exit 1}' || bad "tarball entries not owned by 0/0"
  ok "tarball holds $TAR_FILES, owned 0/0, sorted"
  check_binary "$x/$NAME/tinkex"
  out="$("$x/$NAME/tinkex" --version)"
  [ "$out" = "tinkex $VERSION" ] || bad "extracted tinkex --version printed '$out'"
  ok "extracted tinkex --version: $out"
  out="$("$x/$NAME/tinkex" version --json)"
  case "$out" in
  *"\"glibc_floor\":\"$GLIBC_FLOOR\""*) ;;
  *) bad "tinkex version --json does not state glibc floor $GLIBC_FLOOR: $out" ;;
  esac
  ok "tinkex version --json: $out"
  pack "$x" "$WORK/repack.tar.gz"
  cmp -s "$TARBALL" "$WORK/repack.tar.gz" || bad "repacking the extracted files changes the bytes"
  ok "repacking the extracted files gives the same bytes"
  if command -v groff >/dev/null 2>&1; then
    out="$(groff -man -Tutf8 -ww -z "$x/$NAME/tinkex.1" 2>&1)"
    [ -z "$out" ] || bad "groff warns about tinkex.1: $out"
    ok "tinkex.1 renders without groff warnings"
  fi
  check_demo "$x/$NAME/tinkex"
}

# The packaged binary runs the offline demo (make demo: the demo server, text then JSON).
check_demo() {
  local bin="$1" out="$WORK/demo.out"
  nice -n 19 cargo build -q -j"$JOBS" --example demo_server
  CARGO_TARGET_DIR="$TARGET" TINKEX_BIN="$bin" ./examples/demo_server/demo.sh >"$out" 2>&1 || {
    cat "$out" >&2
    bad "the demo failed with the packaged binary"
  }
  # The demo server's fixed sentence, once as text and once inside the JSON document.
  if [ "$(grep -c "offline demo server. Your prompt had 1 token" "$out")" -ne 2 ] ||
    ! grep -q '^  "sequences": \[' "$out"; then
    cat "$out" >&2
    bad "the demo did not print the demo sentence as text and as JSON"
  fi
  sed -n '1,4s/^/  | /p' "$out"
  ok "the packaged binary runs the demo against the demo server (text and JSON)"
}

# The .deb: control fields, file list, same binary, and an install into a temporary root.
check_deb() {
  local info contents field path x="$WORK/deb-x" root="$WORK/root" out
  info="$(dpkg-deb --info "$DEB")"
  for field in "Package: tinkex" "Version: $VERSION" "Architecture: amd64" \
    "Depends: libc6 (>= $GLIBC_FLOOR)" "Description: $DESCRIPTION"; do
    grep -qF " $field" <<<"$info" || bad "dpkg-deb --info lacks '$field'"
  done
  ok "dpkg-deb --info: $(grep -E '^ (Package|Version|Architecture|Depends|Installed-Size):' <<<"$info" | xargs)"
  contents="$(dpkg-deb --contents "$DEB")"
  for path in ./usr/bin/tinkex ./usr/share/man/man1/tinkex.1.gz \
    ./usr/share/doc/tinkex/copyright ./usr/share/doc/tinkex/changelog.gz \
    ./usr/share/doc/tinkex/README.md.gz; do
    grep -qE " $path\$" <<<"$contents" || bad "dpkg-deb --contents lacks $path"
  done
  awk '$2 != "root/root" {exit 1}' <<<"$contents" || bad ".deb entries not owned by root/root"
  ok "dpkg-deb --contents: $(awk '$1 ~ /^-/ {print $6}' <<<"$contents" | xargs)"
  dpkg-deb -x "$DEB" "$x"
  cmp -s "$x/usr/bin/tinkex" "$WORK/extract/$NAME/tinkex" || bad "the .deb's binary differs from the tarball's"
  ok "the .deb's /usr/bin/tinkex is the tarball's binary"
  install_deb "$root"
}

# dpkg -i into a temporary root (its database knows only this machine's libc6/libgcc),
# tinkex --version from there, then dpkg -r. Without root, dpkg -x stands in.
install_deb() {
  local root="$1" out pkg
  if [ "$(id -u)" != 0 ]; then
    dpkg-deb -x "$DEB" "$root"
    out="$("$root/usr/bin/tinkex" --version)"
    [ "$out" = "tinkex $VERSION" ] || bad "tinkex from dpkg -x printed '$out'"
    ok "not root, so dpkg -x instead of dpkg -i; tinkex --version from there: $out"
    return 0
  fi
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
  : >"$root/var/lib/dpkg/status"
  for pkg in libc6 libgcc-s1 libgcc1; do
    dpkg-query -s "$pkg" >>"$root/var/lib/dpkg/status" 2>/dev/null || continue
    echo >>"$root/var/lib/dpkg/status"
    # An empty file list, or dpkg warns that it is missing.
    : >"$root/var/lib/dpkg/info/$(dpkg-query -W -f='${binary:Package}' "$pkg").list"
  done
  : >"$root/var/lib/dpkg/available"
  dpkg --root="$root" --log=/dev/null -i "$DEB" >"$WORK/dpkg.out" 2>&1 || {
    cat "$WORK/dpkg.out" >&2
    bad "dpkg --root -i failed"
  }
  if grep -qi 'warning' "$WORK/dpkg.out"; then
    cat "$WORK/dpkg.out" >&2
    bad "dpkg --root -i warned"
  fi
  out="$("$root/usr/bin/tinkex" --version)"
  [ "$out" = "tinkex $VERSION" ] || bad "tinkex installed by dpkg printed '$out'"
  dpkg --root="$root" -s tinkex | grep -qx 'Status: install ok installed' || bad "dpkg -s tinkex: not installed"
  ok "dpkg --root=TMP -i: installed; TMP/usr/bin/tinkex --version: $out"
  dpkg --root="$root" --log=/dev/null -r tinkex >"$WORK/dpkg.out" 2>&1 || {
    cat "$WORK/dpkg.out" >&2
    bad "dpkg --root -r failed"
  }
  [ ! -e "$root/usr/bin/tinkex" ] || bad "dpkg -r left /usr/bin/tinkex behind"
  ok "dpkg --root=TMP -r: removed cleanly"
}

# `make dist-check`: checks the artifacts in dist/.
check() {
  need readelf binutils
  need objdump binutils
  need dpkg-deb dpkg
  for f in "$TARBALL" "$DEB" "$DIST/SHA256SUMS"; do
    [ -f "$f" ] || die "$f is missing; run 'make dist'"
  done
  (cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || bad "dist/SHA256SUMS does not match"
  ok "SHA256SUMS matches $(basename "$TARBALL") and $(basename "$DEB")"
  check_tarball
  check_deb
  echo "dist-check: all checks passed"
}

# Stages, packs, builds the .deb and SHA256SUMS from the built binary, then checks.
package() {
  need python3 python3
  need readelf binutils
  need dpkg-deb dpkg
  stage
  mkdir -p "$DIST"
  rm -f "$DIST/SHA256SUMS" "$TARBALL" "$DEB"
  pack "$WORK/stage" "$TARBALL"
  build_deb
  (cd "$DIST" && sha256sum "$(basename "$TARBALL")" "$(basename "$DEB")" >SHA256SUMS)
  say "wrote $TARBALL, $DEB, $DIST/SHA256SUMS:"
  sed 's/^/  /' "$DIST/SHA256SUMS" >&2
  check
}

# `make dist`: tools, binary, tarball, .deb, SHA256SUMS, then `make dist-check`.
dist() {
  need readelf binutils
  need dpkg-deb dpkg
  build_binary
  package
}

case "${1:-}" in
binary) build_binary ;;
# Where the binary and the tool venv go (the target folder cargo uses), for checking.
paths) printf 'target %s\nbinary %s\nvenv %s\n' "$TARGET" "$BIN" "$VENV" ;;
dist) dist ;;
package) package ;;
check) check ;;
*) die "usage: tools/dist.sh dist|check|binary|package|paths" ;;
esac
