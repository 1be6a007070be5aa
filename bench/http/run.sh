#!/usr/bin/env bash
# HTTP benchmark: the embedded `tiketi serve` (release build, access log on as in production) on a
# trivial JSON route vs nginx (Debian, 2 workers) serving a static file with the same body and vs a
# bare Boost.Beast server with the same body (bench/http/bare_beast.cpp: what tiketi's router,
# middleware, metrics and logging add), same machine, same run. wrk -t2 -c256 -d10s --latency, 5 runs alternating the two; prints the medians
# of req/s and p99, their ratio, and the idle RSS of tiketi, as markdown rows for BENCHMARKS.md.
#
#   bench/http/run.sh [--bin PATH] [--bare PATH] [--runs N] [--duration 10s] [--connections 256] [--threads 2]
#                     [--compare PATH]   (a second tiketi binary, e.g. before a change, measured in the same run)
#   bench/http/run.sh --smoke      (2 s, 1 run: checks the harness works; part of the test suite)
#
# Both servers log every request: tiketi its JSON line to stdout, nginx its access_log, both into
# /dev/null so neither pays for disk the other does not.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"
# shellcheck source=bench/lib/common.sh
source "$root/bench/lib/common.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
bare=$root/build/release/bench/tiketi_bare_beast
runs=5
duration=10s
connections=256
threads=2
smoke=0
compare=""
route=/health/live
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --bare) bare=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --smoke) smoke=1; runs=1; duration=2s; shift ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (scripts/install-deps)" >&2; exit 1; }
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }
[[ -x "$bare" ]] || { echo "bench: no bare Beast baseline at $bare (target tiketi_bare_beast)" >&2; exit 1; }
[[ -z "$compare" || -x "$compare" ]] || { echo "bench: no tiketi binary at $compare (--compare)" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-bench.XXXXXX)
tiketi_pid=""
compare_pid=""
bare_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$bare_pid" ]] && kill -0 "$bare_pid" 2>/dev/null; then
    kill -TERM "$bare_pid" 2>/dev/null || true
    wait "$bare_pid" 2>/dev/null || true
  fi
  local p
  for p in "$tiketi_pid" "$compare_pid"; do
    if [[ -n "$p" ]] && tiketi_alive "$p"; then
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  if [[ -s "$work/nginx/nginx.pid" ]]; then
    local pid
    pid=$(cat "$work/nginx/nginx.pid")
    grep -q nginx "/proc/$pid/cmdline" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- tiketi, embedded shape --------------------------------------------------------------------
mkdir -p "$work/data"
"$bin" migrate --data-dir "$work/data" >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
for attempt in 1 2 3; do
  tiketi_port=$(tiketi_free_port)
  "$bin" serve --listen "127.0.0.1:$tiketi_port" --data-dir "$work/data" </dev/null >/dev/null 2>"$work/tiketi.err" &
  tiketi_pid=$!
  wait_http "http://127.0.0.1:$tiketi_port/health/ready" "$tiketi_pid" && break
  echo "bench: tiketi did not start on port $tiketi_port (attempt $attempt)" >&2
  tail -n 5 "$work/tiketi.err" >&2
  kill -TERM "$tiketi_pid" 2>/dev/null || true
  tiketi_pid=""
  ((attempt < 3)) || exit 1
done
sleep 1  # let start-up allocations settle before reading the idle footprint
idle_rss_kb=$(ps -o rss= -p "$tiketi_pid" | tr -d ' ')

# --- the comparison binary (optional), same shape, its own data directory -----------------------
if [[ -n "$compare" ]]; then
  mkdir -p "$work/data-compare"
  "$compare" migrate --data-dir "$work/data-compare" >"$work/migrate-compare.log" 2>&1 ||
    { cat "$work/migrate-compare.log" >&2; exit 1; }
  for attempt in 1 2 3; do
    compare_port=$(tiketi_free_port)
    "$compare" serve --listen "127.0.0.1:$compare_port" --data-dir "$work/data-compare" </dev/null >/dev/null 2>"$work/compare.err" &
    compare_pid=$!
    wait_http "http://127.0.0.1:$compare_port/health/ready" "$compare_pid" && break
    echo "bench: comparison tiketi did not start on port $compare_port (attempt $attempt)" >&2
    kill -TERM "$compare_pid" 2>/dev/null || true
    compare_pid=""
    ((attempt < 3)) || exit 1
  done
fi

# --- nginx, static file with the same body -----------------------------------------------------
mkdir -p "$work/nginx/html"
curl -s "http://127.0.0.1:$tiketi_port$route" >"$work/nginx/html/live.json"
bench_nginx_static "$work" live.json || exit 1

# --- bare Beast, same body -------------------------------------------------------------------------
for attempt in 1 2 3; do
  bare_port=$(tiketi_free_port)
  "$bare" "$bare_port" 2 </dev/null >/dev/null 2>&1 &
  bare_pid=$!
  wait_http "http://127.0.0.1:$bare_port/" "$bare_pid" && break
  echo "bench: bare Beast did not start on port $bare_port (attempt $attempt)" >&2
  kill -TERM "$bare_pid" 2>/dev/null || true
  bare_pid=""
  ((attempt < 3)) || exit 1
done

# --- wrk ---------------------------------------------------------------------------------------
declare -a t_rps=() t_p99=() n_rps=() n_p99=() b_rps=() b_p99=() c_rps=() c_p99=() t_cpu=() c_cpu=()
errors=0

echo "bench: wrk -t$threads -c$connections -d$duration --latency, $runs run(s) each, alternating" >&2
echo "bench: tiketi http://127.0.0.1:$tiketi_port$route (pid $tiketi_pid), nginx http://127.0.0.1:$nginx_port/live.json" >&2
for ((i = 1; i <= runs; i++)); do
  echo "run $i/$runs" >&2
  bench_wrk tiketi "http://127.0.0.1:$tiketi_port$route" "$tiketi_pid"
  t_rps+=("$RPS")
  t_p99+=("$P99")
  t_cpu+=("${CPU_US:-0}")
  bench_wrk nginx "http://127.0.0.1:$nginx_port/live.json"
  n_rps+=("$RPS")
  n_p99+=("$P99")
  bench_wrk beast "http://127.0.0.1:$bare_port/"
  b_rps+=("$RPS")
  b_p99+=("$P99")
  if [[ -n "$compare" ]]; then
    bench_wrk compare "http://127.0.0.1:$compare_port$route" "$compare_pid"
    c_rps+=("$RPS")
    c_p99+=("$P99")
    c_cpu+=("${CPU_US:-0}")
  fi
done

tr=$(median "${t_rps[@]}")
tp=$(median "${t_p99[@]}")
nr=$(median "${n_rps[@]}")
np=$(median "${n_p99[@]}")
br=$(median "${b_rps[@]}")
bp=$(median "${b_p99[@]}")
bratio=$(awk -v a="$tr" -v b="$br" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
ratio=$(awk -v a="$tr" -v b="$nr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
nginx_version=$(nginx -v 2>&1 | sed 's|.*nginx/||')

bt='`'
echo
echo "<!-- bench/http/run.sh $(date -u +%Y-%m-%d) commit $commit: wrk -t$threads -c$connections -d$duration, median of $runs -->"
echo "| what | req/s | p99 |"
echo "|---|---:|---:|"
printf '| tiketi %sGET %s%s (embedded, release, access log on) | %.0f | %.2f ms |\n' "$bt" "$route" "$bt" "$tr" "$tp"
printf '| tiketi server CPU per request (user + system) | %s µs | |\n' "$(median "${t_cpu[@]}")"
printf '| nginx %s static file, 2 workers | %.0f | %.2f ms |\n' "$nginx_version" "$nr" "$np"
printf '| bare Boost.Beast, same body, 2 threads (no router/middleware/logging) | %.0f | %.2f ms |\n' "$br" "$bp"
printf '| ratio tiketi / nginx | %s× | |\n' "$ratio"
printf '| ratio tiketi / bare Beast | %s× | |\n' "$bratio"
if [[ -n "$compare" ]]; then
  cr=$(median "${c_rps[@]}")
  cp=$(median "${c_p99[@]}")
  printf '| comparison tiketi (%s), same route | %.0f | %.2f ms |\n' "$compare" "$cr" "$cp"
  printf '| ratio tiketi / comparison | %s× | |\n' "$(awk -v a="$tr" -v b="$cr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
  printf '| comparison server CPU per request | %s µs | |\n' "$(median "${c_cpu[@]}")"
fi
printf '| idle RSS of %stiketi serve%s | %.1f MiB | |\n' "$bt" "$bt" "$(awk -v k="$idle_rss_kb" 'BEGIN { print k / 1024 }')"
echo "<!-- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) -->"

if ((errors)); then
  echo "bench: $errors run(s) had errors (non-2xx answers or no result)" >&2
  exit 1
fi
if ((smoke)); then
  echo "bench-smoke: ok (both servers answered, no errors)"
fi
