#!/usr/bin/env bash
# Build the omnimigrate image on a machine that reaches no container registry, then run it as
# production does: read-only root filesystem, uid 10001, no capabilities, and only the
# documented writable mounts. Exits 0 only when `--help` and `demo` (Omni's and Lightdash's)
# all work in it.
#
#   bash deploy/container/smoke.sh
#
# The base is bootstrapped from Debian's own mirror (mmdebstrap, bookworm, minbase with
# python3, python3-venv, ca-certificates and passwd), imported, and given a
# `python3 -m venv /usr/local` layer, so that python, pip and site-packages sit where the
# official python:3.11-slim-bookworm image has them and the Dockerfile runs unchanged on it.
# Podman needs runc and explicit nofile/nproc ulimits on these machines: both go into a
# containers.conf of this run's own (CONTAINERS_CONF), and nothing under /etc is changed.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), HOST_CA_BUNDLE (the CA
# bundle pip uses during the build only; default /etc/ssl/certs/ca-certificates.crt),
# SMOKE_KEEP_BASE=1 reuses an already bootstrapped base image.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
BASE=localhost/omnimigrate-base:bookworm
IMAGE=localhost/omnimigrate:smoke
WORK=$(mktemp -d "${TMPDIR:-/tmp}/omnimigrate-smoke.XXXXXX")
CACHE_VOLUME=omnimigrate-smoke-cache-$$
cleanup() {
    podman volume rm --force "$CACHE_VOLUME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf 'smoke: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

install_tools() {
    local missing=()
    for tool in podman runc mmdebstrap; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        say "error: ${missing[*]} not installed: run 'apt-get install podman runc mmdebstrap' as root"
        exit 2
    fi
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
}

configure_podman() {
    # runc refuses limits above what this process may set (and crun is not installed here).
    local nofile nproc
    nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] || [ "$nofile" -gt 4096 ] && nofile=4096
    [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
    cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
    export CONTAINERS_CONF="$WORK/containers.conf"
}

bootstrap_base() {
    if [ "${SMOKE_KEEP_BASE:-0}" = 1 ] && podman image exists "$BASE"; then
        say "reusing $BASE"
        return
    fi
    say "bootstrapping Debian bookworm from $MIRROR"
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$WORK/rootfs.tar" "$MIRROR"
    podman import --quiet "$WORK/rootfs.tar" localhost/omnimigrate-rootfs:bookworm >/dev/null
    printf '%s\n' 'FROM localhost/omnimigrate-rootfs:bookworm' \
        'RUN python3 -m venv /usr/local && /usr/local/bin/python --version' \
        'ENV LANG=C.UTF-8' >"$WORK/Containerfile.base"
    podman build --quiet --pull=never -f "$WORK/Containerfile.base" -t "$BASE" "$WORK" >/dev/null
}

build_image() {
    say "building $IMAGE from $ROOT/Dockerfile on $BASE"
    local start=$SECONDS
    podman build --quiet --pull=never --format docker --build-arg "BASE_IMAGE=$BASE" \
        --secret "id=pip-ca,src=$CA_BUNDLE" -t "$IMAGE" "$ROOT" >/dev/null
    BUILD_SECONDS=$((SECONDS - start))
}

# The production posture: nothing writable but what a mount below adds.
run_locked_down() {
    podman run --rm --pull=never --no-healthcheck --network=none --read-only \
        --read-only-tmpfs=false --user 10001:10001 --cap-drop=ALL \
        --security-opt=no-new-privileges "$@"
}

check_help() {
    run_locked_down "$IMAGE" --help >"$WORK/help.txt" || fail "--help exited $?"
    grep -q 'Back up, restore and migrate' "$WORK/help.txt" || fail "--help printed no usage"
    say "--help: ok"
}

# demo NAME ARGS...: run `demo ARGS` locked down; its report and log are kept for a failure.
demo() {
    local name=$1; shift
    local file=$WORK/${name// /_}
    run_locked_down "$@" >"$file.out" 2>"$file.log" || {
        tail -n 20 "$file.log" "$file.out" >&2
        fail "$name exited non-zero"
    }
    grep -q verify "$file.out" || fail "$name printed no verify report"
    say "$name: ok"
}

check_demo() {
    # A fresh volume takes the image's ownership of /var/cache/omnimigrate (uid 10001), as an
    # emptyDir with fsGroup does on Kubernetes.
    local cache="$CACHE_VOLUME:/var/cache/omnimigrate"
    podman volume create "$CACHE_VOLUME" >/dev/null
    # With --store, the only writable mount is the cache: no $TMPDIR is needed.
    demo "demo --store" -v "$cache" "$IMAGE" demo --documents 20 \
        --store /var/cache/omnimigrate/demo
    # Without --store, the documented second mount: $TMPDIR (/tmp) for the throwaway store.
    demo "demo" -v "$cache" --tmpfs /tmp:rw,mode=1777 "$IMAGE" demo --documents 20
    # Lightdash's fake needs its spec from the installed package, not the source tree.
    demo "demo --platform lightdash" -v "$cache" --tmpfs /tmp:rw,mode=1777 "$IMAGE" demo \
        --platform lightdash --documents 20
}

install_tools
configure_podman
start=$SECONDS
bootstrap_base
say "base ready in $((SECONDS - start)) s"
build_image
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image built in ${BUILD_SECONDS} s, $((size / 1000000)) MB"
check_help
check_demo
say "passed in $((SECONDS - start)) s"
