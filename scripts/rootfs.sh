#!/usr/bin/env bash
# Debian root filesystems for the version matrix: another release's nginx,
# its modules and the suite's peers, without touching this machine's.
#
#   scripts/rootfs.sh DIST setup             # debootstrap target/rootfs/DIST from
#                                            # deb.debian.org (once: a stamp), then
#                                            # install-deps.sh PROFILES inside (default: test)
#   scripts/rootfs.sh DIST setup test deb    # ... with these install-deps profiles
#   scripts/rootfs.sh DIST run CMD ...       # CMD inside, in the repository (/sift);
#                                            # cargo there is offline, on the crates
#                                            # scripts/vendor-crates.sh vendors
#   scripts/rootfs.sh DIST run-isolated CMD  # ... in its own network namespace:
#                                            # only its own loopback, no port of
#                                            # this machine's is visible or taken
#
# DIST is a Debian suite debootstrap knows (trixie, sid, bookworm). A finished
# root filesystem is reused across runs on the same checkout (its stamp is
# target/rootfs/DIST.stamp; delete the stamp to debootstrap again).
#
# Everything is mounted inside a private mount namespace (unshare --mount),
# so the bind mounts exist only for the command's lifetime: /proc, /sys,
# /dev, the repository at /sift (read-write: builds go to target/), and
# this machine's rustup toolchains read-only at /opt/rustup (PATH gets the
# active toolchain's bin/). A trap unmounts them as well (unless
# SIFT_ROOTFS_DAEMONS=1: daemons started inside keep their mounts, which
# still vanish with the namespace's last process). CARGO_HOME inside is
# target/rootfs-build/cargo-home, whose config makes cargo use target/vendor. Package scripts do not start services inside (a
# policy-rc.d that says no): a chroot shares this machine's network, and a
# postinst starting nginx or PostgreSQL there would take this machine's
# ports. The tests start their own servers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

die() { printf 'rootfs: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'rootfs: %s\n' "$*"; }

[ $# -ge 2 ] || die "usage: scripts/rootfs.sh DIST setup [PROFILE...] | run CMD... | run-isolated CMD..."
dist=$1 action=$2
shift 2
case "$dist" in
    *[!a-z0-9-]* | "") die "bad DIST '$dist'" ;;
esac
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot, mounts)"

# SIFT_ROOTFS_DIR: another directory (under target/) for a root filesystem
# of DIST, e.g. a throwaway copy (scripts/test-setup-safety.sh).
root=${SIFT_ROOTFS_DIR:-$top/target/rootfs/$dist}
case "$root" in
    "$top"/target/?*) ;;
    *) die "SIFT_ROOTFS_DIR must be under $top/target/" ;;
esac
root=${root%/}
stamp=$root.stamp
mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mounts_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1 || $0 == r'; }

# Runs "$@" chrooted in $root, with the mounts, in a private mount namespace.
# $1: "net" (this machine's network: apt, crates.io) or "isolated".
in_root() {
    local net=$1
    shift
    [ -f "$stamp" ] || die "$root is not set up (scripts/rootfs.sh $dist setup)"
    local sysroot tc
    sysroot=$(rustc --print sysroot 2>/dev/null || true)
    tc=${sysroot##*/}
    local unshare_args=(--mount --propagation private) enter=()
    # SIFT_ROOTFS_NETNS=/proc/PID/ns/net: run in that network namespace.
    if [ -n "${SIFT_ROOTFS_NETNS:-}" ]; then
        enter=(nsenter "--net=$SIFT_ROOTFS_NETNS")
        net=joined
    elif [ "$net" = isolated ]; then
        unshare_args+=(--net)
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mkdir -p "$root/sift" "$root/opt/rustup" "$top/target/rootfs-build/cargo-home"
    if [ "${1:-}" = --with-crates ]; then
        shift
        # Cargo inside is offline, on the crates vendored here.
        "$top/scripts/vendor-crates.sh" > /dev/null
        cat > "$top/target/rootfs-build/cargo-home/config.toml" <<'CARGO'
# Written by scripts/rootfs.sh: builds in the root filesystems are offline,
# on the crates scripts/vendor-crates.sh copied into target/vendor.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/sift/target/vendor"

[net]
offline = true
CARGO
    fi
    # The inner script is an argument, not stdin: the command keeps this
    # script's stdin (a command reading stdin, like ssh, must not eat the
    # inner script and with it its exit status).
    local inner
    inner=$(cat <<'INNER'
set -euo pipefail
root=$1 top=$2 rustup=$3 tc=$4 net=$5 daemons=$6
shift 6
mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
if [ "$daemons" != 1 ]; then trap unmount_all EXIT; fi
bind() {   # bind SRC DEST [ro]
    mount --rbind "$1" "$2"
    mounted+=("$2")
    if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
bind /sys "$root/sys"
bind /dev "$root/dev"
bind "$top" "$root/sift"
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ -n "$tc" ] && [ -d "$rustup/toolchains/$tc/bin" ]; then
    bind "$rustup" "$root/opt/rustup" ro
    path=/opt/rustup/toolchains/$tc/bin:$path
fi
if [ "$net" = isolated ]; then ip link set lo up; fi
rc=0
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" PATH="$path" \
    CARGO_HOME=/sift/target/rootfs-build/cargo-home DEBIAN_FRONTEND=noninteractive \
    SIFT_ROOTFS="${root##*/}" \
    /bin/bash -c 'cd /sift && exec "$@"' bash "$@" || rc=$?
exit "$rc"
INNER
)
    "${enter[@]}" unshare "${unshare_args[@]}" /bin/bash -c "$inner" rootfs-inner "$root" "$top" "${RUSTUP_HOME:-$HOME/.rustup}" "$tc" "$net" "${SIFT_ROOTFS_DAEMONS:-0}" "$@"
}

case "$action" in
    setup)
        profiles=("$@")
        [ ${#profiles[@]} -gt 0 ] || profiles=(test)
        [ "${profiles[*]}" != - ] || profiles=()
        if [ ! -f "$stamp" ]; then
            command -v debootstrap >/dev/null 2>&1 || "$top/scripts/install-deps.sh" matrix
            if [ -e "$root" ]; then
                [ -z "$(mounts_under "$root")" ] || die "something is mounted under $root: $(mounts_under "$root")"
                say "removing the unfinished $root"
                rm -rf --one-file-system "$root"
            fi
            mkdir -p "${root%/*}"
            say "debootstrap $dist into ${root#"$top"/} from $mirror (a few minutes)"
            started=$SECONDS
            if ! debootstrap --variant=minbase --keyring="$keyring" \
                    --include=ca-certificates,iproute2 "$dist" "$root" "$mirror" \
                    > "$root.debootstrap.log" 2>&1; then
                tail -n 30 "$root.debootstrap.log" >&2
                die "debootstrap $dist failed (log: $root.debootstrap.log)"
            fi
            # No service starts inside (see above).
            printf '#!/bin/sh\n# sift rootfs: services are not started in this chroot.\nexit 101\n' \
                > "$root/usr/sbin/policy-rc.d"
            chmod 0755 "$root/usr/sbin/policy-rc.d"
            date -u +%FT%TZ > "$stamp"
            say "debootstrap $dist done in $((SECONDS - started))s"
        else
            say "reusing ${root#"$top"/} (debootstrapped $(cat "$stamp"))"
        fi
        # apt inside fetches the way this machine's apt does: the settings
        # of this machine's apt configuration that decide whether an archive
        # is accepted or reached (a proxy; Valid-Until/Date checks, which a
        # machine pointed at an archive snapshot turns off) are copied in.
        apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
            > "$root/etc/apt/apt.conf.d/00sift-as-host" || true
        [ -s "$root/etc/apt/apt.conf.d/00sift-as-host" ] || rm -f "$root/etc/apt/apt.conf.d/00sift-as-host"
        if [ ${#profiles[@]} -gt 0 ]; then
            started=$SECONDS
            in_root net scripts/install-deps.sh "${profiles[@]}"
            say "install-deps ${profiles[*]} in $dist: $((SECONDS - started))s"
        fi
        ;;
    run) in_root net --with-crates "$@" ;;
    run-isolated) in_root isolated --with-crates "$@" ;;
    *) die "unknown action '$action' (setup, run, run-isolated)" ;;
esac
