#!/usr/bin/env bash
# Builds the image `rinit-stack`: Debian 12, PostgreSQL 15 and a small application, with
# rinit as the ENTRYPOINT. No image registry is used: the base image is made here with
# debootstrap from this machine's Debian mirror and `docker import`ed.
#
#   bash stack/build.sh [STATIC_RINIT]     (default target/static/rinit; run from the repo root)
#
# Cached in target/stack/: bookworm-minbase.tar (debootstrap is skipped when it exists) and
# the image rinit-debian-base:bookworm (the import is skipped when it exists), so a rebuild
# only runs the Docker build, whose apt layer is cached too. `rm -rf target/stack &&
# docker rmi rinit-debian-base:bookworm` starts from scratch.
set -euo pipefail

RINIT=${1:-target/static/rinit}
SUITE=bookworm
BASE_IMAGE=rinit-debian-base:$SUITE
IMAGE=${RINIT_STACK_IMAGE:-rinit-stack}
OUT=target/stack
TARBALL=$OUT/$SUITE-minbase.tar
CONTEXT=$OUT/context

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -f stack/Dockerfile ] || die "run from the repository root (no stack/Dockerfile here)"
[ -x "$RINIT" ] || die "no static rinit at $RINIT (make static)"
if command -v file >/dev/null 2>&1 && ! file -L "$RINIT" | grep -q 'static'; then
    die "$RINIT is not statically linked (make static)"
fi
docker info >/dev/null 2>&1 || die "needs a Docker engine (docker info failed)"
mkdir -p "$OUT"

# The mirrors this machine's apt uses: "URI SUITE" for every enabled `deb` entry, from
# one-line *.list files and deb822 *.sources files (the only two kinds apt reads).
apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }   # [arch=... signed-by=...]
                print $i, $(i + 1)
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"; key = ""
                for (l = 1; l <= NF; l++) {
                    line = $l
                    if (line ~ /^#/) continue
                    if (line ~ /^[ \t]/) { val = line }             # continuation line
                    else {
                        key = tolower(substr(line, 1, index(line, ":") - 1))
                        val = substr(line, index(line, ":") + 1)
                    }
                    if (key == "types") types = types " " val
                    else if (key == "uris") uris = uris " " val
                    else if (key == "suites") suites = suites " " val
                    else if (key == "enabled") enabled = tolower(val)
                }
                gsub(/[ \t]/, "", enabled)
                if (enabled == "no" || (" " types " ") !~ /[ \t]deb[ \t]/) next
                nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
                for (a = 1; a <= nu; a++) if (u[a] != "")
                    for (b = 1; b <= ns; b++) if (s[b] != "") print u[a], s[b]
            }' "$f"
    done
}
mirror_for() {   # the first URI serving suite $1
    apt_entries | awk -v s="$1" '$2 == s { sub(/\/+$/, "", $1); print $1; exit }'
}

MIRROR=$(mirror_for "$SUITE")
[ -n "$MIRROR" ] || die "no '$SUITE' entry in /etc/apt/sources.list or /etc/apt/sources.list.d/ (needed for debootstrap)"
UPDATES_MIRROR=$(mirror_for "$SUITE-updates")
SECURITY_MIRROR=$(mirror_for "$SUITE-security")

# 1. The base: debootstrap --variant=minbase, cached as a tarball.
if [ ! -s "$TARBALL" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        apt-get install -y -qq debootstrap >/dev/null \
            || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    fi
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    ROOTFS=$OUT/rootfs
    # What an interrupted debootstrap left: its mounts first (proc, sys), then the files.
    if [ -d "$ROOTFS" ]; then
        root=$(realpath "$ROOTFS")
        awk -v r="$root/" 'index($2 "/", r) == 1 { print $2 }' /proc/mounts | sort -r \
            | while read -r m; do umount -l "$m"; done
        rm -rf --one-file-system "$ROOTFS"
    fi
    log "debootstrap --variant=minbase $SUITE from $MIRROR"
    start=$(date +%s)
    debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 \
        || { tail -n 30 "$OUT/debootstrap.log" >&2; die "debootstrap failed (log: $OUT/debootstrap.log)"; }
    log "debootstrap took $(( $(date +%s) - start )) s"
    # The image's apt uses the same mirrors as this machine.
    {
        echo "deb $MIRROR $SUITE main"
        [ -z "$UPDATES_MIRROR" ] || echo "deb $UPDATES_MIRROR $SUITE-updates main"
        [ -z "$SECURITY_MIRROR" ] || echo "deb $SECURITY_MIRROR $SUITE-security main"
    } >"$ROOTFS/etc/apt/sources.list"
    # Nothing machine-specific or cached in the image.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
        "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/dev/* "$ROOTFS"/run/* \
        "$ROOTFS"/tmp/* "$ROOTFS"/etc/hostname "$ROOTFS"/etc/resolv.conf
    tar --numeric-owner --xattrs -C "$ROOTFS" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf --one-file-system "$ROOTFS"
    log "base tarball: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
else
    log "base tarball cached: $TARBALL"
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "docker import $TARBALL as $BASE_IMAGE"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $SUITE" \
        "$TARBALL" "$BASE_IMAGE" >/dev/null
else
    log "base image cached: $BASE_IMAGE"
fi

# 2. The image. The build context holds only what the Dockerfile copies.
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT"
cp "$RINIT" "$CONTEXT/rinit"
cp stack/rinit.toml "$CONTEXT/rinit.toml"
cp stack/app.py "$CONTEXT/app"
log "docker build -t $IMAGE"
docker build -t "$IMAGE" -f stack/Dockerfile "$CONTEXT"
# The configuration, checked where its users (postgres, app) exist: in the image.
docker run --rm "$IMAGE" check >/dev/null \
    || { docker run --rm "$IMAGE" check; die "rinit check failed in $IMAGE"; }
log "built $IMAGE: docker run -d --name stack -p 8080:8080 $IMAGE"
