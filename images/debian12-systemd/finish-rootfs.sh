#!/bin/sh
# Last touches shared by both ways of building the image, run against a root
# file system (/ inside docker build, the debootstrap folder otherwise).
set -eu
root=$1

# Containers have no consoles or clocks of their own to manage.
find "$root/etc/systemd/system" "$root/lib/systemd/system" -path '*.wants/*' \
    \( -name 'getty*' -o -name 'systemd-timesyncd*' -o -name 'console-getty*' \) \
    -exec rm -f {} +

# An empty machine-id makes systemd give every container its own.
: > "$root/etc/machine-id"

# Trust the same extra certificate authorities as the machine that built it,
# so HTTPS from inside the container works behind an inspecting proxy.
chroot "$root" update-ca-certificates --fresh >/dev/null 2>&1

# No package lists in the image, and their folder dated 1970: apt's
# cache_valid_time looks at that date, and a fresh date on an empty folder
# would make Ansible skip the first `apt-get update`.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/*
touch -d @0 "$root/var/lib/apt/lists"
