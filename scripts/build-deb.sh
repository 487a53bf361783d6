#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-stream-sift for this machine's nginx
# (Debian bookworm, nginx 1.22.1) with `dpkg-buildpackage -us -uc -b`, puts
# the .deb (and its -dbgsym, .buildinfo, .changes, build log) in target/deb/
# and runs lintian on them: errors fail the build, warnings are listed.
#
#   scripts/build-deb.sh
#
# When a build dependency or packaging tool is missing it installs them (as
# root): scripts/install-deps.sh, then debhelper, dpkg-dev, fakeroot and
# lintian. The Rust toolchain is cargo from PATH (rustup's): Debian
# bookworm's is too old, so it is no Build-Depends.
#
# The package is built in a copy of the source tree (target/deb/src/) so the
# checkout gets no build products and dpkg-buildpackage's ../ outputs stay
# under target/deb/. The configured nginx tree and cargo's target directory
# are kept in target/deb/ between runs, so rebuilding is incremental. It
# also checks that debian/copyright lists exactly the crates cargo links in.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

trap 'echo "build-deb: error: failed at line $LINENO" >&2' ERR
say() { printf 'build-deb: %s\n' "$*"; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
tools=(debhelper dpkg-dev fakeroot lintian)
missing=()
for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
# Only when something is missing: install-deps.sh also stops running nginx
# processes, which a fully set-up machine may be using.
if [ ${#missing[@]} -gt 0 ] || ! dpkg-checkbuilddeps debian/control >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "build dependencies missing (dpkg-checkbuilddeps; ${missing[*]}): run as root to install them"
    scripts/install-deps.sh
    missing=()
    for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    dpkg-checkbuilddeps debian/control || die "build dependencies still missing"
fi
for cmd in dpkg-buildpackage dh lintian; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: run as root or install ${tools[*]}"
done
command -v cargo >/dev/null 2>&1 \
    || die "cargo not found in PATH: sift needs Rust >= 1.81 (rustup: https://rustup.rs); Debian bookworm's cargo is too old"

# debian/copyright lists the crates linked into the module; keep it honest
# when Cargo.lock changes.
linked=$(cargo tree -p ngx-stream-sift -e normal --prefix none --format '{p}' --locked 2>/dev/null \
    | awk '$2 ~ /^v/ && $3 !~ /^\(\// { sub(/^v/, "", $2); print $1, $2 }' | sort -u) \
    || die "cargo tree failed (is Cargo.lock up to date?)"
listed=$(awk '/^   crate +version +license/ { on = 1; next } on && /^ \.$/ { on = 0 } on { print $1, $2 }' \
    debian/copyright | sort -u)
if [ "$linked" != "$listed" ]; then
    diff <(echo "$listed") <(echo "$linked") | sed -n 's/^</  only in debian\/copyright:/p; s/^>/  linked, not in debian\/copyright:/p' >&2
    die "the crates in debian/copyright's Comment table differ from what cargo links (cargo tree -e normal -p ngx-stream-sift): update it"
fi

package=$(dpkg-parsechangelog -l debian/changelog -S Source)
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
out=$top/target/deb
build=$out/src/$package-${version%-*}

# A copy of the source: git's tracked and untracked-but-not-ignored files,
# as they are in the working tree (or everything but target/ outside git).
rm -rf "$out/src"
mkdir -p "$build"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$top" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done \
        | tar --null -T - -cf - | tar -xf - -C "$build"
else
    tar --exclude=./target --exclude=./.git -cf - . | tar -xf - -C "$build"
fi
rm -rf "$build/debian/build" "$build/debian/cargo-target"

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo "$out"/lintian.txt
say "dpkg-buildpackage -us -uc -b for $package $version ($arch) in ${build#"$top"/}"
if ! (cd "$build" && \
      SIFT_DEB_NGINX_DIR="$out/nginx" SIFT_DEB_CARGO_TARGET="$out/cargo-target" \
      dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    die "dpkg-buildpackage failed (full log: ${out#"$top"/}/build.log)"
fi
shopt -s nullglob
artifacts=("$out/src/${package}"*_"${version}"_*)
shopt -u nullglob
[ ${#artifacts[@]} -gt 0 ] || die "dpkg-buildpackage produced nothing"
mv "${artifacts[@]}" "$out/"
deb=$out/${package}_${version}_${arch}.deb
changes=$out/${package}_${version}_${arch}.changes
[ -f "$deb" ] || die "missing $deb"

say "lintian (errors fail the build; see debian/NOTES-lintian.md for the warnings)"
lintian_rc=0
lintian --fail-on error --display-level '>=warning' "$changes" > "$out/lintian.txt" 2>&1 || lintian_rc=$?
grep -v '^running with root privileges' "$out/lintian.txt" | sed 's/^/  /' || true
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
say "lintian: $errors error(s), $warnings warning(s)"
[ "$lintian_rc" -eq 0 ] && [ "$errors" -eq 0 ] || die "lintian reported errors (exit $lintian_rc)"

for f in "$out"/*_"${version}"_*; do say "built ${f#"$top"/}"; done
