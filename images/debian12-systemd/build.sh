#!/usr/bin/env bash
# Builds the Debian 12 systemd image that the lab and Molecule share. An image
# already present is reused unless SENTINEL_IMAGE_REBUILD=1.
#   SENTINEL_IMAGE         tag to build (default sentinel/debian12-systemd:latest)
#   SENTINEL_IMAGE_SOURCE  auto (default), registry or debootstrap
set -euo pipefail

image=${SENTINEL_IMAGE:-sentinel/debian12-systemd:latest}
source_kind=${SENTINEL_IMAGE_SOURCE:-auto}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${SENTINEL_IMAGE_REBUILD:-0} != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "image $image is present"
    exit 0
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" "$here/packages.txt" "$here/finish-rootfs.sh" "$context/"
mkdir "$context/extra-ca"
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' \
    -exec cp {} "$context/extra-ca/" \; 2>/dev/null || true

build_from_registry() {
    timeout 120 docker pull -q debian:12 >/dev/null 2>&1 || return 1
    docker build -t "$image" "$context"
}

build_with_debootstrap() {
    local rootfs="$context/rootfs"
    local include
    include=$(paste -sd, "$here/packages.txt")
    echo "building $image with debootstrap (a few minutes)"
    debootstrap --variant=minbase --include="$include" bookworm "$rootfs" \
        >"$context/debootstrap.log" 2>&1 || { tail -n 30 "$context/debootstrap.log"; return 1; }
    # Same suites as the official image, so security updates reach the hosts.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    cp "$context"/extra-ca/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
    sh "$here/finish-rootfs.sh" "$rootfs"
    tar -C "$rootfs" -c . | docker import - "$image-rootfs" >/dev/null
    # docker import cannot set a stop signal; a local build on top of the
    # imported root file system can, without reaching any registry.
    docker build -t "$image" - >/dev/null <<DOCKERFILE
FROM $image-rootfs
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
DOCKERFILE
    docker image rm "$image-rootfs" >/dev/null
}

case $source_kind in
    registry) build_from_registry ;;
    debootstrap) build_with_debootstrap ;;
    auto) build_from_registry || build_with_debootstrap ;;
    *) echo "SENTINEL_IMAGE_SOURCE must be auto, registry or debootstrap" >&2; exit 2 ;;
esac
echo "built $image"
