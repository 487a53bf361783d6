#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-stream-sift with
# `dpkg-buildpackage -us -uc -b` and runs lintian on it (errors fail the
# build, warnings are listed).
#
#   scripts/build-deb.sh trixie     # in target/rootfs/trixie: Debian 13's nginx-dev,
#                                   # Debian's own cargo/rustc 1.85, offline
#                                   # -> target/deb/trixie/..._0.1.0-1~deb13u1_amd64.deb
#   scripts/build-deb.sh bookworm   # in target/rootfs/bookworm: nginx 1.22.1, rustup's
#                                   # cargo (bookworm's 1.63 is too old), offline
#                                   # -> target/deb/bookworm/..._0.1.0-1~deb12u1_amd64.deb
#   scripts/build-deb.sh            # on this machine, for its own nginx-dev, as
#                                   # debian/changelog says (0.1.0-1) -> target/deb/
#
# With a DIST, the build runs in that release's root filesystem
# (scripts/rootfs.sh DIST setup deb: debootstrapped once, then its build
# dependencies), on crates vendored here first (scripts/vendor-crates.sh),
# so cargo needs no network there. The version gets the release's suffix
# (~deb12u1, ~deb13u1: a changelog entry added to the build's copy), and
# dh_nginx makes the package depend on that release's nginx-abi.
#
# Without a DIST, missing build dependencies are installed (as root) with
# scripts/install-deps.sh deb; the Rust toolchain is cargo from PATH
# (rustup's) on bookworm, Debian's own on later releases.
#
# The package is built in a copy of the source tree (OUT/src/) so the
# checkout gets no build products and dpkg-buildpackage's ../ outputs stay
# under OUT. The configured nginx tree and cargo's target directory are
# kept in OUT between runs, so rebuilding is incremental. It also checks
# that debian/copyright lists exactly the crates cargo links in.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

trap 'echo "build-deb: error: failed at line $LINENO" >&2' ERR
say() { printf 'build-deb: %s\n' "$*"; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

dist=${1:-}
if [ -n "$dist" ] && [ "${SIFT_ROOTFS:-}" != "$dist" ]; then
    # On the host: into DIST's root filesystem.
    [ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot)"
    t=$SECONDS
    scripts/rootfs.sh "$dist" setup deb
    say "root filesystem $dist ready in $((SECONDS - t))s"
    exec scripts/rootfs.sh "$dist" run scripts/build-deb.sh "$dist"
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
tools=(debhelper dpkg-dev fakeroot lintian)
missing=()
for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
# The toolchain: Debian's cargo/rustc from Build-Depends, except on
# bookworm (1.63, too old), where the build profile drops them and
# debian/rules uses rustup's from PATH.
# shellcheck disable=SC1091 # the running system's file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
profiles=()
if [ "$codename" = bookworm ]; then profiles=(-Ppkg.libnginx-mod-stream-sift.rustup); fi
if [ ${#missing[@]} -gt 0 ] || ! dpkg-checkbuilddeps "${profiles[@]}" debian/control >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "build dependencies missing (dpkg-checkbuilddeps; ${missing[*]}): run as root to install them"
    scripts/install-deps.sh deb
    dpkg-checkbuilddeps "${profiles[@]}" debian/control || die "build dependencies still missing"
fi
for cmd in dpkg-buildpackage dh lintian; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: run as root or install ${tools[*]}"
done
if [ ${#profiles[@]} -gt 0 ]; then
    command -v cargo >/dev/null 2>&1 \
        || die "cargo not found in PATH: sift needs Rust >= 1.82 (rustup: https://rustup.rs); Debian bookworm's cargo is too old"
fi

# debian/copyright lists the crates linked into the module; keep it honest
# when Cargo.lock changes.
linked=$(cargo tree -p ngx-stream-sift -e normal,no-proc-macro --prefix none --format '{p}' --locked 2>/dev/null \
    | awk '$2 ~ /^v/ && $3 !~ /^\(\// { sub(/^v/, "", $2); print $1, $2 }' | sort -u) \
    || die "cargo tree failed (is Cargo.lock up to date?)"
listed=$(awk '/^   crate +version +license/ { on = 1; next } on && /^ \.$/ { on = 0 } on { print $1, $2 }' \
    debian/copyright | sort -u)
if [ "$linked" != "$listed" ]; then
    { diff <(echo "$listed") <(echo "$linked") || true; } | sed -n 's/^</  only in debian\/copyright:/p; s/^>/  linked, not in debian\/copyright:/p' >&2
    die "the crates in debian/copyright's Comment table differ from what cargo links (cargo tree -e normal,no-proc-macro -p ngx-stream-sift): update it"
fi

package=$(dpkg-parsechangelog -l debian/changelog -S Source)
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
out=$top/target/deb
suffix=
if [ -n "$dist" ]; then
    out=$top/target/deb/$dist
    # ~deb12u1 for Debian 12, ~deb13u1 for 13: sorts before the plain
    # version, and a later release's build sorts after an earlier one's.
    major=$(cut -d. -f1 /etc/debian_version)
    case "$major" in
        [0-9]*) suffix="~deb${major}u1" ;;
        *) suffix= ;;   # sid: the version as it is
    esac
fi
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
rm -rf "$build/debian/build" "$build/debian/cargo-target" "$build/debian/cargo-home"
if [ -n "$suffix" ]; then
    # This release's version: a changelog entry on top, in the build's copy.
    nginx_version=$(dpkg-query -W -f='${Version}' nginx-dev)
    {
        printf '%s (%s) %s; urgency=medium\n\n' "$package" "$version$suffix" "$codename"
        printf '  * Build for Debian %s %s, against its nginx %s.\n\n' "$major" "$codename" "$nginx_version"
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l debian/changelog -S Maintainer)" "$(date -u -R)"
        cat debian/changelog
    } > "$build/debian/changelog"
    version=$version$suffix
fi
vendor_env=()
if [ -d "$top/target/vendor" ] && [ -n "$dist" ]; then vendor_env=(SIFT_DEB_VENDOR="$top/target/vendor"); fi

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo "$out"/lintian.txt
say "dpkg-buildpackage -us -uc -b ${profiles[*]} for $package $version ($arch) in ${build#"$top"/}"
t=$SECONDS
if ! (cd "$build" && \
      env SIFT_DEB_NGINX_DIR="$out/nginx" SIFT_DEB_CARGO_TARGET="$out/cargo-target" "${vendor_env[@]}" \
      dpkg-buildpackage -us -uc -b "${profiles[@]}") > "$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    die "dpkg-buildpackage failed (full log: ${out#"$top"/}/build.log)"
fi
say "dpkg-buildpackage took $((SECONDS - t))s; $(grep -E '^(cargo|rustc) [0-9]' "$out/build.log" | tr '\n' ' ')"
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
if [ "$lintian_rc" -ne 0 ] || [ "$errors" -ne 0 ]; then die "lintian reported errors (exit $lintian_rc)"; fi

for f in "$out"/*_"${version}"_*; do say "built ${f#"$top"/}"; done
