#!/usr/bin/env bash
# Same-run A/B comparison of two tiketi binaries on the open-loop hold benchmark (issue 6), with the
# CPU each side spends per successful hold: the reservation process and (PostgreSQL shape) every
# PostgreSQL backend, read from /proc before and after each load run.
#
#   bench/reservation/ab.sh --a OLD_BIN --b NEW_BIN [--shape sqlite|postgres] [--rate HOLDS_PER_S]
#                           [--ga-rate ORDERS_PER_S] [--seats N] [--connections C] [--duration S]
#                           [--rounds R] [--pool N] [--map-readers N] [--perf a|b]
#
# Each round runs A then B (then B then A in the next round, so drift on a shared machine evens
# out), each on a fresh server and a fresh database (PostgreSQL: one cluster for the whole run, a
# new database per server), each with its own fresh 50,000-seat event: open-loop holds at --rate
# for --duration s (tiketi_reservation_load, latency from the scheduled send time), then GA orders
# at --ga-rate. --map-readers N adds N wrk clients reading the whole map (GET /seats of the same
# event, ~4.5 MB, no If-None-Match) in a loop during the hold run and reports their req/s and p99. --perf a|b records `perf record -g` of that binary's server during its hold run
# (report in the work dir, kept with --keep). Prints one markdown table.
# Wrap in `flock /tmp/tiketi-bench.lock …` on a shared machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/bench/reservation
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"
# shellcheck source=bench/lib/common.sh
source "$root/bench/lib/common.sh"

bin_a="" bin_b="" load="" shape=sqlite rate=3100 ga_rate=0 seats=50000 connections=2000 duration=5
rounds=2 pool=16 users=20000 map_readers=0 perf_side="" keep=0
while (($#)); do
  case "$1" in
    --a) bin_a=$2; shift 2 ;;
    --b) bin_b=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --ga-rate) ga_rate=$2; shift 2 ;;
    --seats) seats=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --map-readers) map_readers=$2; shift 2 ;;
    --perf) perf_side=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ab: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin_a" && -x "$bin_b" ]] || { echo "ab: --a and --b must be tiketi binaries" >&2; exit 2; }
[[ -n "$load" ]] || load=$(dirname "$(dirname "$(dirname "$bin_b")")")/bench/reservation/tiketi_reservation_load
[[ -x "$load" ]] || { echo "ab: no load client at $load" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-resab.XXXXXX)
chmod 755 "$work"
tiketi_pid="" servers=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$tiketi_pid" ]] && tiketi_alive "$tiketi_pid"; then
    kill -TERM "$tiketi_pid" 2>/dev/null || true
    wait "$tiketi_pid" 2>/dev/null || true
  fi
  ((servers)) && { tiketi_servers_stop "$work/srv" --purge >/dev/null 2>&1 || true; }
  ((keep)) || rm -rf "$work"
}
trap cleanup EXIT

secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
kid=bench1
export TIKETI_AUTH__JWT_SECRET=$secret TIKETI_AUTH__JWT_KID=$kid TIKETI_LOG_LEVEL=warn
export TIKETI_QUEUE__ADMISSION_SECRET="bench-admission-$secret"
field() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<"$2" | head -n1; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# CPU ticks (utime + stime) of one process, and of every process of the PostgreSQL cluster.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local pm total=0 p
  pm=$(head -n1 "$pg_data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  for p in $pm $(pgrep -P "$pm" || true); do
    total=$((total + $(ticks "$p")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

pg_data=""
if [[ $shape == postgres ]]; then
  mkdir -p "$work/srv"
  tiketi_servers_start "$work/srv" >/dev/null
  servers=1
  pg_data=$(cat "$work/srv/postgres/home")/data
fi

declare -a rows=()
run_one() {  # run_one LABEL BIN RUN_ID
  local label=$1 bin=$2 id=$3 dir=$work/$3 db_args=() mig_args=() port
  mkdir -p "$dir/data" "$dir/run"
  if [[ $shape == postgres ]]; then
    local url=${TIKETI_PG_URL%/*}/ab_$id
    psql "$TIKETI_PG_URL" -Xq -c "CREATE DATABASE ab_$id" >/dev/null
    db_args=(--database-url "$url" --redis-url "$TIKETI_REDIS_URL" --db-pool-size "$pool")
    mig_args=(--database-url "$url")
    redis-cli -u "$TIKETI_REDIS_URL" FLUSHALL >/dev/null 2>&1 || true
  fi
  "$bin" migrate --data-dir "$dir/data" "${mig_args[@]}" >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; return 1; }
  port=$(tiketi_free_port)
  "$bin" serve --services all --listen "127.0.0.1:$port" --data-dir "$dir/data" "${db_args[@]}" \
    </dev/null >/dev/null 2>"$dir/tiketi.err" &
  tiketi_pid=$!
  wait_http "http://127.0.0.1:$port/health/ready" "$tiketi_pid" 60 || { tail -n 5 "$dir/tiketi.err" >&2; return 1; }
  python3 "$here/setup.py" prepare --port "$port" --secret "$secret" --kid "$kid" --seats "$seats" \
    --quota 1000000 --sold-out-quota 10 --users "$users" --seated-events 1 --out "$dir/run" >/dev/null
  local ids event ga ga_type
  ids=$(cat "$dir/run/ids.json")
  event=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["seated"])' <<<"$ids")
  ga=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ga"])' <<<"$ids")
  ga_type=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ga_type"])' <<<"$ids")
  sleep 1
  local t0 p0 perf_pid="" map_pid="" out r
  t0=$(ticks "$tiketi_pid"); p0=$(pg_ticks)
  if [[ -n "$perf_side" && $label == "$perf_side" ]]; then
    perf record -g -o "$dir/perf.data" -p "$tiketi_pid" -- sleep "$duration" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if ((map_readers > 0)); then
    wrk -t1 -c"$map_readers" -d"${duration}s" --latency \
      "http://127.0.0.1:$port/api/v1/events/$event/seats" >"$dir/map.out" 2>&1 &
    map_pid=$!
  fi
  out=$("$load" --port "$port" --event "$event" --dir "$dir/run" --mode seats --rate "$rate" \
    --duration "$duration" --connections "$connections" 2>&1) || { echo "$out" >&2; return 1; }
  [[ -z "$map_pid" ]] || wait "$map_pid" || true
  [[ -z "$perf_pid" ]] || wait "$perf_pid" || true
  local t1 p1
  t1=$(ticks "$tiketi_pid"); p1=$(pg_ticks)
  r=$(grep '^RESULT' <<<"$out")
  local ok p50 p99 span achieved cpu_srv cpu_pg map=""
  local late
  late=$(field late "$r")
  ok=$(field ok "$r"); p50=$(ms "$(field p50_us "$r")"); p99=$(ms "$(field p99_us "$r")")
  span=$(field span_us "$r")
  achieved=$(awk -v n="$ok" -v d="$span" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
  cpu_srv=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$ok" 'BEGIN { printf "%.0f", n ? t / hz * 1e6 / n : 0 }')
  cpu_pg=$(awk -v t="$((p1 - p0))" -v hz="$hz" -v n="$ok" 'BEGIN { printf "%.0f", n ? t / hz * 1e6 / n : 0 }')
  if ((map_readers > 0)); then
    map="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$dir/map.out") req/s, p99 $(to_ms "$(awk '$1 == "99%" {print $2}' "$dir/map.out")" 1) ms"
  fi
  local ga_cell="—"
  if ((ga_rate > 0)); then
    out=$("$load" --port "$port" --event "$ga" --dir "$dir/run" --mode ga --ticket-type "$ga_type" \
      --rate "$ga_rate" --duration "$duration" --connections "$connections" 2>&1) || { echo "$out" >&2; return 1; }
    r=$(grep '^RESULT' <<<"$out")
    ga_cell="$(awk -v n="$(field ok "$r")" -v d="$(field span_us "$r")" 'BEGIN { printf "%.0f", n / (d / 1e6) }')/s, p50 $(ms "$(field p50_us "$r")"), p99 $(ms "$(field p99_us "$r")") ms"
  fi
  # Checked with the server stopped (SIGTERM drains the requests still in flight).
  kill -TERM "$tiketi_pid" 2>/dev/null || true
  wait "$tiketi_pid" 2>/dev/null || true
  tiketi_pid=""
  local v
  v=$(python3 "$here/setup.py" verify --db "${url:-sqlite:$dir/data}" --event "$event" --ga-event "$ga" --sold-out-event "$ga")
  local dbl
  dbl=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['double_booked'] + d['orphan_holds'] + abs(d['seats_held'] - d['seat_items_live']))" "$v")
  echo "  $label ($id): $ok ok, $achieved/s, p50 $p50 ms, p99 $p99 ms; server ${cpu_srv} µs CPU/hold, PostgreSQL ${cpu_pg} µs/hold; map: ${map:-off}; GA: $ga_cell; bad=$dbl" >&2
  if [[ -n "$perf_pid" ]]; then
    perf report -i "$dir/perf.data" --no-children --percent-limit 0.7 --stdio >"$dir/perf.txt" 2>/dev/null || true
    perf report -i "$dir/perf.data" --children --percent-limit 2 --stdio -g none >"$dir/perf-children.txt" 2>/dev/null || true
    echo "  perf report: $dir/perf.txt" >&2
  fi
  rows+=("| $label | $achieved/s | $p50 | **$p99** | $late | $cpu_srv | $cpu_pg | ${map:-—} | $ga_cell | $dbl |")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
  if ((round % 2)); then order=(a b); else order=(b a); fi
  for side in "${order[@]}"; do
    if [[ $side == a ]]; then run_one a "$bin_a" "r${round}a"; else run_one b "$bin_b" "r${round}b"; fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "<!-- bench/reservation/ab.sh --shape $shape --rate $rate --ga-rate $ga_rate --seats $seats --connections $connections --duration $duration --rounds $rounds --pool $pool --map-readers $map_readers; $(date -u +%Y-%m-%d\ %H:%M) UTC; 2 cores; load before: $load_before, after: $load_after -->"
echo "| binary | holds achieved ($rate/s offered) | p50 ms | p99 ms | late | server CPU µs/hold | PostgreSQL CPU µs/hold | seat map ($map_readers readers, full map) | GA orders ($ga_rate/s offered) | double-booked/orphans |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
((keep)) && echo "work dir kept: $work" >&2
exit 0
