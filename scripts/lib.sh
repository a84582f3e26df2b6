# Shared set-up for scripts/lab and scripts/test: Debian packages, the Docker
# engine, the pinned controller tools and the collection link. Sourced, not run.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO/.venv"
ARTIFACTS="$REPO/.artifacts"
export SENTINEL_IMAGE=${SENTINEL_IMAGE:-sentinel/debian12-systemd:latest}
# Tools never fetch a browser of their own; Debian's chromium is the one used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export SENTINEL_CHROMIUM=${SENTINEL_CHROMIUM:-/usr/bin/chromium}
export ANSIBLE_CONFIG="$REPO/ansible.cfg"
mkdir -p "$ARTIFACTS"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_debian_packages THING:PACKAGE ... installs the packages whose thing
# is missing: a command, or a file when THING is an absolute path (apt needs
# root; otherwise say what to install).
ensure_debian_packages() {
    local pair thing missing=()
    for pair in "$@"; do
        thing=${pair%%:*}
        if [[ $thing == /* ]]; then
            [[ -e $thing ]] || missing+=("${pair#*:}")
        else
            command -v "$thing" >/dev/null 2>&1 || missing+=("${pair#*:}")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] || install_debian_packages "${missing[@]}"
}

install_debian_packages() {
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages: $* (install them as root)"
    say "installing Debian packages: $*"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "$@" >"$ARTIFACTS/apt.log" 2>&1 \
        || { tail -n 20 "$ARTIFACTS/apt.log" >&2; die "apt-get install failed"; }
}

# ensure_docker_engine [stop-on-exit] starts dockerd when none answers. With
# stop-on-exit, an engine started here is stopped when the script ends.
STARTED_DOCKERD_PID=
ensure_docker_engine() {
    docker info >/dev/null 2>&1 && return 0
    if [[ -d /run/systemd/system ]]; then
        say "starting the Docker service"
        systemctl start docker
    else
        say "starting dockerd in the background (log: $ARTIFACTS/dockerd.log)"
        dockerd >"$ARTIFACTS/dockerd.log" 2>&1 &
        STARTED_DOCKERD_PID=$!
        if [[ ${1:-} == stop-on-exit ]]; then
            trap stop_started_docker_engine EXIT
        else
            # Left running; scripts/lab down stops it once no container needs it.
            echo "$STARTED_DOCKERD_PID" >"$ARTIFACTS/dockerd.pid"
        fi
    fi
    local waited=0
    until docker info >/dev/null 2>&1; do
        (( waited++ < 60 )) || die "the Docker engine did not answer within 60 s"
        sleep 1
    done
}

stop_started_docker_engine() {
    [[ -n $STARTED_DOCKERD_PID ]] || return 0
    say "stopping the dockerd started for this run"
    kill "$STARTED_DOCKERD_PID" 2>/dev/null || true
    wait "$STARTED_DOCKERD_PID" 2>/dev/null || true
}

# stop_engine_left_running stops a dockerd that an earlier scripts/lab
# started and left running, unless containers still run in it.
stop_engine_left_running() {
    local pid_file="$ARTIFACTS/dockerd.pid" pid waited=0
    [[ -f $pid_file ]] || return 0
    pid=$(<"$pid_file")
    if [[ $(ps -o comm= -p "$pid" 2>/dev/null) != dockerd ]]; then
        rm -f "$pid_file"
        return 0
    fi
    if [[ -n $(docker ps -q 2>/dev/null) ]]; then
        say "leaving the Docker engine running: other containers run in it"
        return 0
    fi
    say "stopping the Docker engine that scripts/lab started"
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null && (( waited++ < 30 )); do sleep 1; done
    rm -f "$pid_file"
}

# free_local_port prints a TCP port that nothing on 127.0.0.1 listens on.
free_local_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ensure_tools installs the pinned controller tools and the dashboard package
# into .venv, again only when their pins change, and links this repository
# where Ansible looks for the collection sentinel.dashboard.
ensure_tools() {
    local stamp="$VENV/.sentinel-tools" want
    want=$(cat "$REPO/requirements-dev.txt" "$REPO/dashboard_app/pyproject.toml" \
        "$REPO/dashboard_app/requirements.lock" | sha256sum | cut -d' ' -f1)
    if [[ ! -x $VENV/bin/python || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
        say "installing the pinned controller tools into .venv"
        # Debian's python3 makes virtual environments only with python3-venv.
        python3 -m venv "$VENV" 2>/dev/null || {
            install_debian_packages python3-venv
            python3 -m venv "$VENV"
        }
        "$VENV/bin/pip" install -q --disable-pip-version-check \
            -r "$REPO/requirements-dev.txt" -c "$REPO/dashboard_app/requirements.lock" \
            -e "$REPO/dashboard_app[test]" \
            || die "pip install failed"
        echo "$want" >"$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
    local link="$REPO/.ansible/collections/ansible_collections/sentinel/dashboard"
    mkdir -p "$(dirname "$link")"
    [[ -L $link ]] || ln -sfn "$REPO" "$link"
}

ensure_image() {
    "$REPO/images/debian12-systemd/build.sh"
}
