#!/usr/bin/env bash
# Event catalogue benchmark: the cached public reads `GET /api/v1/events` (the list) and
# `GET /api/v1/events/{id}` (one event with ticket types) of `tiketi serve --services event` on the
# demo catalogue (tiketi seed --demo), at 256 connections, in both shapes:
#   embedded: SQLite + in-process coordination;
#   scaled:   PostgreSQL + Redis (the cache lives in-process, its version in Redis);
# and nginx (Debian, 2 workers) serving a static file holding the same JSON as the list, as the
# same-run comparison. wrk -t2 -c256 -d10s --latency, alternating, median of N runs.
# Target (issue 4): >= 30,000 req/s for the cached list, p99 < 10 ms.
#
#   bench/event/run.sh [--bin PATH] [--runs N] [--duration 10s] [--connections 256] [--threads 2]
#                      [--shapes embedded,scaled] [--pg-url URL --redis-url URL]
#   bench/event/run.sh --smoke     (1 run of 2 s at 64 connections per target: checks the harness;
#                                   part of the test suite, label bench-smoke)
#
# PostgreSQL and Redis: --pg-url/--redis-url, else TIKETI_TEST_POSTGRES_URL/TIKETI_TEST_REDIS_URL,
# else started here from Debian packages (scripts/lib/servers.sh) and stopped at the end. The scaled
# shape gets a database of its own (CREATE DATABASE, dropped at the end) when the role may create one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"
# shellcheck source=bench/lib/common.sh
source "$root/bench/lib/common.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
runs=3
duration=10s
connections=256
threads=2
smoke=0
shapes=embedded,scaled
pg_url=${TIKETI_TEST_POSTGRES_URL:-}
redis_url=${TIKETI_TEST_REDIS_URL:-}
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --pg-url) pg_url=$2; shift 2 ;;
    --redis-url) redis_url=$2; shift 2 ;;
    --smoke) smoke=1; runs=1; duration=2s; connections=64; shift ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (scripts/install-deps)" >&2; exit 1; }
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }

# A process running only some services needs the shared JWT secret (nothing here signs tokens).
export TIKETI_AUTH__JWT_SECRET=${TIKETI_AUTH__JWT_SECRET:-bench-event-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}

work=$(mktemp -d /tmp/tiketi-bench-event.XXXXXX)
pids=()
own_servers=0
drop_db=""
psql=/usr/lib/postgresql/15/bin/psql
[[ -x "$psql" ]] || psql=$(command -v psql || true)

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if tiketi_alive "$p"; then
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  if [[ -s "$work/nginx/nginx.pid" ]]; then
    local pid
    pid=$(cat "$work/nginx/nginx.pid")
    grep -q nginx "/proc/$pid/cmdline" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  fi
  if [[ -n "$drop_db" && -n "$psql" ]]; then
    "$psql" "$drop_db" -qAtX -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if ((own_servers)); then
    tiketi_servers_stop "$work/srv" --purge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_tiketi NAME [DATABASE_URL REDIS_URL] : migrate + seed the demo catalogue, serve only the
# event service. Sets PORT and PID.
start_tiketi() {
  local name=$1 attempt pid port
  local -a db_args=() serve_args=()
  if (($# >= 3)); then
    db_args=(--database-url "$2")
    serve_args=(--database-url "$2" --redis-url "$3")
  fi
  mkdir -p "$work/$name"
  "$bin" seed --demo --data-dir "$work/$name" "${db_args[@]}" >"$work/$name/seed.log" 2>&1 ||
    { echo "bench: seed failed for $name" >&2; cat "$work/$name/seed.log" >&2; exit 1; }
  for attempt in 1 2 3; do
    port=$(tiketi_free_port)
    "$bin" serve --services event --listen "127.0.0.1:$port" --data-dir "$work/$name" "${serve_args[@]}" \
      </dev/null >/dev/null 2>"$work/$name/serve.err" &
    pid=$!
    if wait_http "http://127.0.0.1:$port/health/ready" "$pid"; then
      pids+=("$pid")
      PORT=$port
      PID=$pid
      return 0
    fi
    echo "bench: tiketi ($name) did not start on port $port (attempt $attempt)" >&2
    tail -n 5 "$work/$name/serve.err" >&2
    kill -TERM "$pid" 2>/dev/null || true
  done
  exit 1
}

# --- the shapes ----------------------------------------------------------------------------------
declare -A port_of=() pid_of=()
event_id=demo-event-live
if [[ ",$shapes," == *,embedded,* ]]; then
  start_tiketi embedded
  port_of[embedded]=$PORT
  pid_of[embedded]=$PID
fi
if [[ ",$shapes," == *,scaled,* ]]; then
  if [[ -z "$pg_url" || -z "$redis_url" ]]; then
    mkdir -p "$work/srv"
    tiketi_servers_start "$work/srv" >"$work/srv.log" 2>&1 || { cat "$work/srv.log" >&2; exit 1; }
    own_servers=1
    pg_url=$TIKETI_PG_URL
    redis_url=$TIKETI_REDIS_URL
  fi
  db_url=$pg_url
  db_name="tiketi_bench_event_$$"
  if [[ -n "$psql" ]] && "$psql" "$pg_url" -qAtX -c "CREATE DATABASE $db_name" >/dev/null 2>&1; then
    drop_db=$pg_url
    db_url="${pg_url%/*}/$db_name"
  fi
  start_tiketi scaled "$db_url" "$redis_url"
  port_of[scaled]=$PORT
  pid_of[scaled]=$PID
fi

# --- nginx: a static file with the same JSON as the cached list ---------------------------------
first_shape=${shapes%%,*}
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
curl -sf "http://127.0.0.1:${port_of[$first_shape]}/api/v1/events" >"$work/nginx/html/events.json"
list_bytes=$(wc -c <"$work/nginx/html/events.json")
curl -sf "http://127.0.0.1:${port_of[$first_shape]}/api/v1/events/$event_id" >/dev/null ||
  { echo "bench: the demo event $event_id is not served" >&2; exit 1; }
bench_nginx_static "$work" events.json || exit 1

# --- wrk -------------------------------------------------------------------------------------------
errors=0

declare -A rps_runs=() p99_runs=() cpu_runs=() pid_of_label=()
targets=()
for shape in embedded scaled; do
  [[ -n "${port_of[$shape]:-}" ]] || continue
  targets+=("$shape-list=http://127.0.0.1:${port_of[$shape]}/api/v1/events")
  targets+=("$shape-detail=http://127.0.0.1:${port_of[$shape]}/api/v1/events/$event_id")
  pid_of_label[$shape-list]=${pid_of[$shape]}
  pid_of_label[$shape-detail]=${pid_of[$shape]}
done
targets+=("nginx-static=http://127.0.0.1:$nginx_port/events.json")

echo "bench: wrk -t$threads -c$connections -d$duration --latency, $runs run(s) each, alternating; list body $list_bytes bytes" >&2
for ((i = 1; i <= runs; i++)); do
  echo "run $i/$runs" >&2
  for t in "${targets[@]}"; do
    label=${t%%=*}
    bench_wrk "$label" "${t#*=}" "${pid_of_label[$label]:-}"
    rps_runs[$label]="${rps_runs[$label]:-} $RPS"
    p99_runs[$label]="${p99_runs[$label]:-} $P99"
    cpu_runs[$label]="${cpu_runs[$label]:-} ${CPU_US:-0}"
  done
done

# shellcheck disable=SC2086  # word splitting of the run lists is intended
med_rps() { median ${rps_runs[$1]}; }
# shellcheck disable=SC2086
med_p99() { median ${p99_runs[$1]}; }
# shellcheck disable=SC2086
med_cpu() { median ${cpu_runs[$1]}; }
nr=$(med_rps nginx-static)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
nginx_version=$(nginx -v 2>&1 | sed 's|.*nginx/||')
cmd="bench/event/run.sh --runs $runs --duration $duration --connections $connections --threads $threads --shapes $shapes"

echo
echo "<!-- $cmd; $(date -u +%Y-%m-%d) commit $commit; median of $runs; machine: $(nproc) cores, load generator on the same cores -->"
echo "| what (cached, \`wrk -t$threads -c$connections -d$duration\`) | req/s | p99 | vs nginx | server CPU/req |"
echo "|---|---:|---:|---:|---:|"
for shape in embedded scaled; do
  [[ -n "${port_of[$shape]:-}" ]] || continue
  what="SQLite + in-process"
  [[ $shape == scaled ]] && what="PostgreSQL + Redis"
  for kind in list detail; do
    r=$(med_rps "$shape-$kind")
    p=$(med_p99 "$shape-$kind")
    route="GET /api/v1/events"
    [[ $kind == detail ]] && route="GET /api/v1/events/{id}"
    printf '| tiketi %s%s%s, %s (%s) | %.0f | %.2f ms | %s× | %.1f µs |\n' '`' "$route" '`' "$shape" "$what" "$r" "$p" \
      "$(awk -v a="$r" -v b="$nr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')" "$(med_cpu "$shape-$kind")"
  done
done
printf '| nginx %s, static file with the same JSON (%s bytes), 2 workers | %.0f | %.2f ms | 1.00× | |\n' \
  "$nginx_version" "$list_bytes" "$nr" "$(med_p99 nginx-static)"
echo "<!-- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) -->"
for shape in embedded scaled; do
  [[ -n "${port_of[$shape]:-}" ]] || continue
  r=$(med_rps "$shape-list")
  p=$(med_p99 "$shape-list")
  if awk -v r="$r" -v p="$p" 'BEGIN { exit !(r >= 30000 && p < 10) }'; then
    echo "target (list >= 30,000 req/s, p99 < 10 ms), $shape: met"
  else
    echo "target (list >= 30,000 req/s, p99 < 10 ms), $shape: NOT met"
  fi
done

if ((errors)); then
  echo "bench: $errors run(s) had errors (non-2xx answers or no result)" >&2
  exit 1
fi
if ((smoke)); then
  echo "bench-smoke: ok (every target answered 2xx)"
fi
