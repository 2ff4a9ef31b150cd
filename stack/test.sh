#!/usr/bin/env bash
# End-to-end checks of the image rinit-stack (stack/build.sh builds it):
#   1. first start: the app answers over HTTP with the row its migration inserted
#   2. docker stop -t 40: exit 0, in order (app, then postgres), PostgreSQL shut down cleanly
#   3. docker start: no crash recovery ("database system was shut down at"), a second row
#   4. docker kill -s SIGPWR (lxc-stop, Incus): the same ordered stop, exit 0
#   5. an empty bind mount at /var/lib/postgresql: the initdb service makes a cluster
#   6. control: after docker kill -s KILL, PostgreSQL does report crash recovery (so the
#      check in 3 can fail)
#
#   bash stack/test.sh [IMAGE]      (default rinit-stack)
set -euo pipefail

IMAGE=${1:-rinit-stack}
NAME=rinit-stack-test-$$
VOLDIR=target/stack/test-volume-$$
created=()
cleanup() {
    local c
    for c in "${created[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    rm -rf "$VOLDIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -z "${CUR:-}" ] || docker logs "$CUR" 2>&1 | tail -n 60 >&2; exit 1; }
ok() { echo "ok   $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# GET / on the container's published port; prints the body.
http_get() {
    local port
    port=$(docker port "$1" 8080/tcp | head -n 1 | sed 's/.*://')
    [ -n "$port" ] || return 1
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 3 "http://127.0.0.1:$port/"
    else
        python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' \
            "http://127.0.0.1:$port/"
    fi
}
wait_http() {   # NAME PATTERN: until GET / matches, at most 120 s
    local t0 body
    t0=$(now)
    for _ in $(seq 1 480); do
        if body=$(http_get "$1" 2>/dev/null) && grep -q "$2" <<<"$body"; then
            ok "app answered after $(since "$t0") s: $(head -n 1 <<<"$body")"
            return 0
        fi
        [ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ] || fail "$1 exited while starting"
        sleep 0.25
    done
    fail "no answer matching '$2' from $1 within 120 s (last: ${body:-none})"
}
# The log since the container's last start (rinit's first line is "starting N service(s)").
last_run() { docker logs "$1" 2>&1 | awk '/^rinit: starting [0-9]+ service/ { n++; out = "" } { out = out $0 "\n" } END { printf "%s", out }'; }
expect_log() { last_run "$CUR" | grep -qE "$1" || fail "no line matching /$1/ in the last run's log"; }
refuse_log() { ! last_run "$CUR" | grep -qE "$1" || fail "a line matches /$1/: $(last_run "$CUR" | grep -E "$1" | head -n 1)"; }
exit_code() { docker inspect -f '{{.State.ExitCode}}' "$1"; }
clean_stop_log() {   # the ordered stop, as the last run's log shows it
    expect_log "^rinit: shutdown report \\($1 received\\)"
    expect_log '^postgres \| .*received fast shutdown request'
    expect_log '^postgres \| .*database system is shut down'
    expect_log '^rinit: +app +SIGTERM .* stopped'
    expect_log '^rinit: +postgres +SIGINT .* stopped'
    refuse_log '^rinit: +sweep'
    # app exits before postgres is asked to stop
    last_run "$CUR" | awk '/^rinit: app exited/ { a = NR } /^rinit: stopping postgres/ { p = NR }
        END { exit !(a && p && a < p) }' || fail "app did not exit before postgres was stopped"
}
clean_start_log() {
    expect_log '^postgres \| .*database system was shut down at'
    refuse_log 'database system was not properly shut down|automatic recovery|was interrupted'
    expect_log '^rinit: postgres is ready'
}

docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "no image $IMAGE (bash stack/build.sh)"

echo "== 1. first start"
CUR=$NAME; created+=("$CUR")
docker run -d --name "$CUR" -p 127.0.0.1::8080 "$IMAGE" >/dev/null
wait_http "$CUR" '^1 row(s) in starts'
expect_log '^postgres \| .*database system is ready to accept connections'
expect_log '^migrate \| migrated'
docker exec "$CUR" /sbin/rinit ctl health >/dev/null || fail "rinit ctl health: $(docker exec "$CUR" /sbin/rinit ctl health)"
ok "rinit ctl health: healthy"

echo "== 2. docker stop -t 40"
t0=$(now)
docker stop -t 40 "$CUR" >/dev/null || fail "docker stop failed"
took=$(since "$t0")
[ "$(exit_code "$CUR")" = 0 ] || fail "exit code $(exit_code "$CUR") after docker stop"
awk -v t="$took" 'BEGIN { exit !(t < 30) }' || fail "docker stop took $took s"
clean_stop_log SIGTERM
ok "stopped in $took s, exit 0, app before postgres, PostgreSQL shut down cleanly"

echo "== 3. docker start: no crash recovery"
docker start "$CUR" >/dev/null
wait_http "$CUR" '^2 row(s) in starts'
clean_start_log
ok "PostgreSQL started from a clean shutdown"

echo "== 4. docker kill -s SIGPWR"
t0=$(now)
docker kill -s SIGPWR "$CUR" >/dev/null
code=$(timeout 40 docker wait "$CUR") || fail "still running 40 s after SIGPWR"
took=$(since "$t0")
[ "$code" = 0 ] || fail "exit code $code after SIGPWR"
clean_stop_log SIGPWR
docker start "$CUR" >/dev/null
wait_http "$CUR" '^3 row(s) in starts'
clean_start_log
docker stop -t 40 "$CUR" >/dev/null
[ "$(exit_code "$CUR")" = 0 ] || fail "exit code $(exit_code "$CUR") after docker stop"
ok "stopped in $took s, exit 0; the next start was clean too"

echo "== 5. an empty volume: initdb makes the cluster"
CUR=$NAME-vol; created+=("$CUR")
mkdir -p "$VOLDIR"
docker run -d --name "$CUR" -p 127.0.0.1::8080 -v "$PWD/$VOLDIR:/var/lib/postgresql" "$IMAGE" >/dev/null
wait_http "$CUR" '^1 row(s) in starts'
expect_log '^initdb \| '
[ -s "$VOLDIR/15/main/PG_VERSION" ] || fail "no cluster in the volume"
docker stop -t 40 "$CUR" >/dev/null
[ "$(exit_code "$CUR")" = 0 ] || fail "exit code $(exit_code "$CUR") after docker stop"
clean_stop_log SIGTERM
docker start "$CUR" >/dev/null
wait_http "$CUR" '^2 row(s) in starts'
clean_start_log
refuse_log '^initdb \| '
ok "a new cluster in the volume, kept across a restart"

echo "== 6. control: SIGKILL does leave crash recovery to do"
docker kill -s KILL "$CUR" >/dev/null
docker wait "$CUR" >/dev/null
docker start "$CUR" >/dev/null
wait_http "$CUR" '^3 row(s) in starts'
expect_log 'database system was interrupted|not properly shut down'
ok "after SIGKILL PostgreSQL recovers (the check in 3 would see it)"
docker stop -t 40 "$CUR" >/dev/null

echo "all stack checks passed"
