#!/usr/bin/env bash
# Build a local Python 3.11 base image from Debian packages, for hosts that cannot pull
# python:3.11-slim from a registry (the Dockerfile takes it as --build-arg BASE_IMAGE=...).
#
#   tests/container_base.sh [IMAGE]          # default IMAGE: localhost/demandcast-base:py311
#
# Debian bookworm's python3 is 3.11, like the project. The debootstrap root file system
# (minbase + python3, python3-venv, ca-certificates) is cached as a tarball under
# $DEMANDCAST_CONTAINER_CACHE (default ~/.cache/demandcast/container-base/<version>/), so
# only the first run pays for debootstrap; later runs only import it into buildah's
# storage. The host's local CA certificates (/usr/local/share/ca-certificates) are added to
# the image, so pip in the image trusts what the host trusts (a TLS-intercepting proxy).
#
# Needs root, buildah and debootstrap (Debian: apt-get install buildah debootstrap).
# buildah's storage and isolation come from the environment (CONTAINERS_STORAGE_CONF,
# BUILDAH_ISOLATION=chroot where no OCI runtime can run), as for any buildah command.
set -euo pipefail

IMAGE=${1:-localhost/demandcast-base:py311}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
# Bump when the recipe changes: the cached root file system is keyed by it.
BASE_VERSION="${SUITE}-minbase-py3-v1"
CACHE_ROOT=${DEMANDCAST_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/demandcast/container-base}
CACHE_DIR="$CACHE_ROOT/$BASE_VERSION"
ROOTFS_TAR="$CACHE_DIR/rootfs.tar"

log() { echo "container_base: $*" >&2; }

if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already in buildah's storage"
    exit 0
fi

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), so the
# base comes from the same place as the host's packages; DEBIAN_MIRROR overrides it.
debian_mirror() {
    local uri
    uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
              | grep -E '/debian/?$' | head -n 1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if [ ! -s "$ROOTFS_TAR" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is not installed"; exit 1; }
    mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
    mkdir -p "$CACHE_DIR"
    work=$(mktemp -d "$CACHE_DIR/debootstrap.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    log "debootstrap $SUITE from $mirror (once; cached in $CACHE_DIR)"
    start=$(date +%s)
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$mirror" \
        >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    # Downloaded .debs and package lists are not needed in an image.
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
           "$work/rootfs/debootstrap"
    tar -C "$work/rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' \
        --exclude='./sys/*' -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$ROOTFS_TAR"   # atomic: a cut-short run leaves no half tarball
    log "root file system cached ($(( $(date +%s) - start )) s): $ROOTFS_TAR"
fi

ctr=$(buildah from scratch)
cleanup_ctr() { buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
trap 'cleanup_ctr; rm -rf "${work:-/nonexistent}"' EXIT
mnt=$(buildah mount "$ctr")
tar -C "$mnt" --numeric-owner -xf "$ROOTFS_TAR"
shopt -s nullglob
local_cas=(/usr/local/share/ca-certificates/*.crt)
if [ ${#local_cas[@]} -gt 0 ]; then
    cp "${local_cas[@]}" "$mnt/usr/local/share/ca-certificates/"
    # TMPDIR is the host's (maybe a path the new root lacks); the output only on failure.
    out=$(TMPDIR=/tmp chroot "$mnt" update-ca-certificates 2>&1) || { echo "$out" >&2; exit 1; }
    log "added ${#local_cas[@]} local CA certificate(s) from the host"
fi
buildah umount "$ctr" >/dev/null
buildah config --env LANG=C.UTF-8 --env LC_ALL=C.UTF-8 --cmd python3 \
    --label org.opencontainers.image.description="Debian $SUITE minbase + python3 (local demandcast base)" \
    "$ctr"
buildah commit --quiet --format docker "$ctr" "$IMAGE" >/dev/null
log "committed $IMAGE"
