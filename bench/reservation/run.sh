#!/usr/bin/env bash
# Reservation benchmark (issue 6), on the embedded shape (SQLite + in-process) and on PostgreSQL
# (durable commits: fsync and synchronous_commit on) + Redis, one `tiketi serve --services all`
# process each, load from wrk on the same machine:
#
#  (a) seat holds: a 50,000-seat event, wrk -c2000 clients each holding 1-4 seats picked from a
#      random permutation of the map (pre-minted user tokens so the per-user limit never decides);
#      successful holds/s (201), conflicts (409), p99 of every POST, then 0 double-booked checked by
#      SQL in the reservation database;
#  (b) GA orders: one ticket type (quota 1,000,000, striped), one ticket per order, orders/s; then a
#      5,000 quota hammered by the same clients until sold out: exactly 5,000 held;
#  (c) GET /api/v1/events/{id}/seats (the 50,000-seat map) req/s and p99 while (a) runs.
#  Same-run baselines: wrk on GET /health/live of the same process, and (PostgreSQL) pgbench on one
#  hot row `UPDATE … SET sold = sold + 1 WHERE sold + 1 <= cap` with 16 clients, durable.
#
#   bench/reservation/run.sh [--bin PATH] [--shape sqlite|postgres|both] [--seats N]
#                            [--connections C] [--duration SECONDS] [--pool N] [--map-readers N]
#   bench/reservation/run.sh --smoke   (SQLite, 2,000 seats, 2 s runs; part of the test suite)
#
# Wrap full runs in `flock /tmp/tiketi-bench.lock …` on a shared machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/bench/reservation
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
shape=both
seats=50000
connections=2000
duration=10
pool=16
users=20000
quota=1000000
sold_out_quota=5000
map_conns=50
smoke=0
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --seats) seats=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --map-readers) map_conns=$2; shift 2 ;;
    --smoke) smoke=1; shape=sqlite; seats=2000; connections=100; duration=2; users=2000; quota=100000
      sold_out_quota=300; map_conns=4; shift ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (scripts/install-deps)" >&2; exit 1; }
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-resbench.XXXXXX)
chmod 755 "$work"
tiketi_pid=""
servers=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$tiketi_pid" ]] && tiketi_alive "$tiketi_pid"; then
    kill -TERM "$tiketi_pid" 2>/dev/null || true
    wait "$tiketi_pid" 2>/dev/null || true
  fi
  if ((servers)); then
    tiketi_servers_stop "$work/srv" --purge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
kid=bench1
export TIKETI_AUTH__JWT_SECRET=$secret TIKETI_AUTH__JWT_KID=$kid TIKETI_LOG_LEVEL=warn
export TIKETI_QUEUE__ADMISSION_SECRET="bench-admission-$secret"

wait_http() {
  local url=$1 pid=$2 _
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    tiketi_alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else { printf "%.2f", v } }'
}
field() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<"$2" | head -n1; }

declare -a rows=()
failures=0
check() {  # check <description> <condition as awk expression over nothing>
  if awk "BEGIN { exit !($2) }"; then
    echo "  ok: $1" >&2
  else
    echo "  NOT MET: $1" >&2
    failures=$((failures + 1))
  fi
}

run_shape() {
  local sh=$1 db_args=() mig_args=() db_url out port ids event ga ga_type so so_type
  mkdir -p "$work/$sh/data" "$work/$sh/run"
  if [[ $sh == postgres ]]; then
    mkdir -p "$work/srv"
    tiketi_servers_start "$work/srv" >/dev/null
    servers=1
    db_args=(--database-url "$TIKETI_PG_URL" --redis-url "$TIKETI_REDIS_URL" --db-pool-size "$pool")
    mig_args=(--database-url "$TIKETI_PG_URL")
    db_url=$TIKETI_PG_URL
  else
    db_args=()
    db_url="sqlite:$work/$sh/data"
  fi
  "$bin" migrate --data-dir "$work/$sh/data" "${mig_args[@]}" >"$work/$sh/migrate.log" 2>&1 || { cat "$work/$sh/migrate.log" >&2; return 1; }
  for attempt in 1 2 3; do
    port=$(tiketi_free_port)
    "$bin" serve --services all --listen "127.0.0.1:$port" --data-dir "$work/$sh/data" "${db_args[@]}" \
      </dev/null >/dev/null 2>"$work/$sh/tiketi.err" &
    tiketi_pid=$!
    wait_http "http://127.0.0.1:$port/health/ready" "$tiketi_pid" && break
    echo "bench: tiketi did not start (attempt $attempt)" >&2
    tail -n 5 "$work/$sh/tiketi.err" >&2
    kill -TERM "$tiketi_pid" 2>/dev/null || true
    tiketi_pid=""
    ((attempt < 3)) || return 1
  done
  echo "bench[$sh]: tiketi on 127.0.0.1:$port (pid $tiketi_pid); creating the events" >&2
  python3 "$here/setup.py" prepare --port "$port" --secret "$secret" --kid "$kid" --seats "$seats" \
    --quota "$quota" --sold-out-quota "$sold_out_quota" --users "$users" --out "$work/$sh/run" >/dev/null
  ids=$(cat "$work/$sh/run/ids.json")
  event=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["seated"])' <<<"$ids")
  ga=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ga"])' <<<"$ids")
  ga_type=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ga_type"])' <<<"$ids")
  so=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["soldout"])' <<<"$ids")
  so_type=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["soldout_type"])' <<<"$ids")
  local base="http://127.0.0.1:$port"

  # Baseline: a trivial route of the same process, same clients.
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$base/health/live" 2>&1)
  local b_rps b_p99
  b_rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  b_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  echo "  baseline GET /health/live: $b_rps req/s, p99 $b_p99 ms" >&2

  # (a) + (c): seat holds, with seat-map readers at the same time.
  local map_pid=""
  if ((map_conns > 0)); then
    wrk -t1 -c"$map_conns" -d"${duration}s" --latency "$base/api/v1/events/$event/seats" >"$work/$sh/map.out" 2>&1 &
    map_pid=$!
  else
    : >"$work/$sh/map.out"
  fi
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$here/hold.lua" "$base" -- seats "$event" "$work/$sh/run" 2>&1)
  [[ -z "$map_pid" ]] || wait "$map_pid" || true
  local r ok conflict other held dur p99 rate decided map_rps map_p99 map_bad
  r=$(grep '^RESULT' <<<"$out" || true)
  [[ -n "$r" ]] || { echo "$out" >&2; return 1; }
  ok=$(field ok "$r"); conflict=$(field conflict "$r"); other=$(field other "$r"); held=$(field held "$r")
  dur=$(field dur_us "$r"); p99=$(awk -v u="$(field p99_us "$r")" 'BEGIN { printf "%.2f", u / 1000 }')
  rate=$(awk -v n="$ok" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
  # Every answered hold request (201 + 409): the clients pick from their own random order, not from
  # the live map, so more and more picks collide as the map fills; a 409 is a decided hold too.
  decided=$(awk -v n="$ok" -v c="$conflict" -v d="$dur" 'BEGIN { printf "%.0f", (n + c) / (d / 1e6) }')
  map_rps=$(awk '/^Requests\/sec:/ {printf "%.1f", $2}' "$work/$sh/map.out")
  map_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/$sh/map.out")")
  map_bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/$sh/map.out")
  echo "  holds: $ok ok ($rate/s), $conflict conflicts, $other other ($decided decided/s); $held seats; p99 $p99 ms" >&2
  echo "  seat map under load: $map_rps req/s, p99 $map_p99 ms${map_bad:+, non-2xx $map_bad}" >&2

  # (b) GA throughput, then a sell-out.
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$here/hold.lua" "$base" -- ga "$ga" "$work/$sh/run" "$ga_type" 2>&1)
  r=$(grep '^RESULT' <<<"$out" || true)
  [[ -n "$r" ]] || { echo "$out" >&2; return 1; }
  local g_ok g_conf g_other g_rate g_p99
  g_ok=$(field ok "$r"); g_conf=$(field conflict "$r"); g_other=$(field other "$r")
  g_rate=$(awk -v n="$g_ok" -v d="$(field dur_us "$r")" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
  g_p99=$(awk -v u="$(field p99_us "$r")" 'BEGIN { printf "%.2f", u / 1000 }')
  echo "  GA orders: $g_ok ok ($g_rate/s), $g_conf 409, $g_other other; p99 $g_p99 ms" >&2
  # Until sold out: rounds of wrk until one sees refusals (at most 12 rounds).
  local s_ok=0 s_refused=0 round
  for round in $(seq 1 12); do
    out=$(wrk -t2 -c"$connections" -d"$((duration < 5 ? duration : 5))s" -s "$here/hold.lua" "$base" -- ga "$so" "$work/$sh/run" "$so_type" 2>&1)
    r=$(grep '^RESULT' <<<"$out" || true)
    s_ok=$((s_ok + $(field ok "$r")))
    s_refused=$((s_refused + $(field conflict "$r")))
    ((s_refused == 0)) || break
  done
  echo "  sell-out of $sold_out_quota: $s_ok orders counted in $round round(s), $s_refused refused (sold_out)" >&2

  # The end-of-run checks in the database.
  local v
  v=$(python3 "$here/setup.py" verify --db "$db_url" --event "$event" --ga-event "$ga" --sold-out-event "$so")
  echo "  verify: $v" >&2

  jv() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$v" "$1"; }
  check "no seat double-booked" "$(jv double_booked) == 0 && $(jv orphan_holds) == 0"
  # wrk stops counting at the deadline while the last requests may still commit: >= for the counts.
  check "held seats = live reservation items >= seats in counted 201 answers" \
    "$(jv seats_held) == $(jv seat_items_live) && $(jv seats_held) >= $held"
  check "GA units used = units in live orders >= counted orders" \
    "$(jv ga_used) == $(jv ga_reserved) && $(jv ga_used) >= $g_ok"
  check "sell-out: exactly the quota held, the rest refused" \
    "$(jv soldout_used) == $sold_out_quota && $(jv soldout_reserved) == $sold_out_quota && $s_ok <= $sold_out_quota && $s_refused > 0"
  check "no unexpected answers" "$other == 0 && $g_other == 0"
  if ((!smoke)); then
    check "holds >= 3,000/s" "$rate >= 3000"
    check "hold p99 < 50 ms" "$p99 < 50"
    check "GA orders >= 2,000/s" "$g_rate >= 2000"
  fi

  # PostgreSQL baseline: one hot row, durable commits, 16 clients.
  local pg_tps="n/a"
  if [[ $sh == postgres ]]; then
    psql "$TIKETI_PG_URL" -Xq -c "DROP TABLE IF EXISTS bench_hot; CREATE TABLE bench_hot (id int PRIMARY KEY, sold bigint, cap bigint); INSERT INTO bench_hot VALUES (1, 0, 1000000000)" >/dev/null
    echo 'UPDATE bench_hot SET sold = sold + 1 WHERE id = 1 AND sold + 1 <= cap;' >"$work/hot.sql"
    pg_tps=$(pgbench -n -c16 -j2 -T"$duration" -f "$work/hot.sql" "$TIKETI_PG_URL" 2>/dev/null |
      awk '/^tps/ {printf "%.0f", $3}')
    echo "  pgbench one hot row, 16 clients: $pg_tps tx/s" >&2
  fi

  kill -TERM "$tiketi_pid" 2>/dev/null || true
  wait "$tiketi_pid" 2>/dev/null || true
  tiketi_pid=""
  if ((servers)); then
    tiketi_servers_stop "$work/srv" --purge >/dev/null 2>&1 || true
    servers=0
  fi
  local label="embedded (SQLite)"
  [[ $sh == postgres ]] && label="PostgreSQL (durable) + Redis, pool $pool"
  rows+=("| $label | $rate holds/s ($decided/s answered 201+409), p99 $p99 ms ($conflict × 409) | $g_rate orders/s, p99 $g_p99 ms | $map_rps req/s, p99 $map_p99 ms | $b_rps req/s, p99 $b_p99 ms | $pg_tps | $(jv double_booked) double-booked; sell-out: $(jv soldout_reserved) held of $sold_out_quota, $s_refused refused |")
}

shapes=()
case "$shape" in
  both) shapes=(sqlite postgres) ;;
  sqlite | postgres) shapes=("$shape") ;;
  *) echo "bench: --shape sqlite|postgres|both" >&2; exit 2 ;;
esac
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for sh in "${shapes[@]}"; do
  echo "bench[$sh]: $seats seats, wrk -t2 -c$connections -d${duration}s" >&2
  run_shape "$sh"
done
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "<!-- bench/reservation/run.sh --shape $shape --seats $seats --connections $connections --duration $duration --pool $pool; $(date -u +%Y-%m-%d) commit $commit; 2 cores, load before: $load_before -->"
echo "| shape | (a) seat holds, $seats seats, $connections clients | (b) GA orders, 1 ticket type | (c) GET seat map ($map_conns readers) during (a) | baseline GET /health/live | pgbench 1 hot row | checks |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if ((failures)); then
  echo "bench: $failures check(s) not met" >&2
  exit 1
fi
((smoke)) && echo "bench-smoke: ok"
exit 0
