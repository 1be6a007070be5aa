#!/usr/bin/env bash
# Payment benchmark: confirmed card payments per second through the payment service, with the
# gateway simulator answering every call after 100 ms (its latency knob), in the scaled shape:
# `tiketi serve --services event|reservation|payment` as separate processes on PostgreSQL + Redis
# started here, `tiketi pg-sim --latency-ms 100` as the gateway over HTTP on 127.0.0.1.
#
# The client (tiketi_payment_bench) first holds N PENDING reservations of one ticket on a
# general-admission event with a 1,000,000 quota (not measured), then C concurrent clients each run
# create payment -> hosted checkout at the simulator -> confirm, for the duration. Same run, as the
# comparison: the same C clients straight at the simulator (checkout + confirm, no payment service),
# and the Little's-law bound C / 0.1 s. Prints a markdown block for BENCHMARKS.md.
#
#   bench/payment/run.sh [--bin PATH] [--client PATH] [--concurrency 256] [--duration 15] [--holds 24000]
#                        [--latency-ms 100] [--transport native|curl]
#   bench/payment/run.sh --smoke   (a few seconds, small numbers: checks the harness; part of the tests)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
client=$root/build/release/bench/payment/tiketi_payment_bench
concurrency=256
duration=15
raw_duration=5
holds=24000
latency=100
transport=native
smoke=0
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --client) client=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --holds) holds=$2; shift 2 ;;
    --latency-ms) latency=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --smoke) smoke=1; concurrency=16; duration=2; raw_duration=1; holds=300; shift ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }
[[ -x "$client" ]] || { echo "bench: no load client at $client (target tiketi_payment_bench)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-bench-payment.XXXXXX)
pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    if tiketi_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  tiketi_servers_stop "$work" --purge >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() {
  local url=$1 pid=$2 _
  for _ in $(seq 1 300); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    tiketi_alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

tiketi_servers_start "$work" >"$work/servers.log" 2>&1 || { cat "$work/servers.log" >&2; exit 1; }
pg_url=$TIKETI_PG_URL
redis_url=$TIKETI_REDIS_URL
export TIKETI_AUTH__JWT_SECRET="bench-payment-secret-0123456789abcdef-0123"
sim_secret=test_sk_bench
"$bin" migrate --database-url "$pg_url" --services event,reservation,payment >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; exit 1; }

# The gateway simulator.
sim_port=$(tiketi_free_port)
"$bin" pg-sim --listen "127.0.0.1:$sim_port" --latency-ms "$latency" --secret-key "$sim_secret" --threads 1 \
  </dev/null >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/sim.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$work/sim.log" || { cat "$work/sim.log" >&2; exit 1; }

declare -A port
for svc in auth event queue reservation payment notification; do port[$svc]=$(tiketi_free_port); done
peers=()
for svc in auth event queue reservation payment notification; do peers+=(--peer "$svc=http://127.0.0.1:${port[$svc]}"); done
for svc in event reservation payment; do
  extra=()
  if [[ $svc == payment ]]; then
    extra=(--set "payment.gateway_url=http://127.0.0.1:$sim_port" --set "payment.gateway_secret=$sim_secret"
      --set "payment.gateway_transport=$transport" --set "payment.gateway_max_connections=1024")
  fi
  mkdir -p "$work/data/$svc"
  # Access log on, as in production, into /dev/null.
  "$bin" serve --services "$svc" --listen "127.0.0.1:${port[$svc]}" --database-url "$pg_url" \
    --redis-url "$redis_url" --data-dir "$work/data/$svc" --db-pool-size 32 "${peers[@]}" "${extra[@]}" \
    </dev/null >/dev/null 2>"$work/$svc.err" &
  pids+=($!)
  wait_http "http://127.0.0.1:${port[$svc]}/health/ready" "$!" ||
    { echo "bench: $svc did not start" >&2; tail -n 20 "$work/$svc.err" >&2; exit 1; }
done

# CPU seconds used so far by each process (services, simulator, PostgreSQL backends, Redis).
ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
cpu_of() {
  local pid t=0 x
  for pid in "$@"; do
    x=$(ticks "$pid") && t=$((t + ${x:-0}))
  done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
pg_cpu() {
  local home pm
  home=$(cat "$work/postgres/home" 2>/dev/null) || { echo 0; return; }
  pm=$(head -n 1 "$home/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  # shellcheck disable=SC2046  # one PID per word
  cpu_of "$pm" $(ps -o pid= --ppid "$pm" 2>/dev/null)
}
cpu_snapshot() {
  local i=0 svc
  for svc in sim event reservation payment; do printf '%s=%s ' "$svc" "$(cpu_of "${pids[$i]}")"; i=$((i + 1)); done
  printf 'postgres=%s redis=%s\n' "$(pg_cpu)" "$(cpu_of "$(cat "$work/redis/redis.pid" 2>/dev/null)")"
}
cpu_before=$(cpu_snapshot)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$client" --payment "http://127.0.0.1:${port[payment]}" --reservation "http://127.0.0.1:${port[reservation]}" \
  --event "http://127.0.0.1:${port[event]}" --sim "http://127.0.0.1:$sim_port" \
  --jwt-secret "$TIKETI_AUTH__JWT_SECRET" --sim-secret "$sim_secret" --holds "$holds" \
  --concurrency "$concurrency" --duration "$duration" --raw-duration "$raw_duration" >"$work/result.json" ||
  { echo "bench: load client failed" >&2; for s in event reservation payment; do tail -n 5 "$work/$s.err" >&2; done; exit 1; }

cpu_after=$(cpu_snapshot)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Reservations confirm asynchronously (payment.completed -> reservation service): how many did.
confirmed=$(curl -s "http://127.0.0.1:${port[reservation]}/metrics" |
  awk '/^reservation_transitions_total\{.*to="CONFIRMED"/ {s += $2} END {print s + 0}')

python3 - "$work/result.json" "$concurrency" "$latency" "$duration" "$load_before" "$confirmed" "$transport" "$smoke" \
  "$cpu_before" "$cpu_after" "$load_after" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
conc, lat, dur, load, confirmed, transport, smoke = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8] == "1"
f, raw = r["flow"], r["raw_sim"]
bound = conc / (lat / 1000.0)
print(json.dumps(r), file=sys.stderr)
print(f"### Payments: confirmed card payments/s, gateway simulator at {lat} ms\n")
print(f"`bench/payment/run.sh --concurrency {conc} --duration {dur} --transport {transport}` — 2 cores shared by "
      f"client, PostgreSQL, Redis, pg-sim and the event/reservation/payment processes; load before: {load}.\n")
print("| measured | per second | p50 | p99 | errors | client CPU |")
print("|---|---|---|---|---|---|")
print(f"| payment service: create + checkout + confirm (scaled shape) | **{f['per_second']:.0f}** | "
      f"{f['p50_ms']:.0f} ms | {f['p99_ms']:.0f} ms | {f['errors']} | {f['client_cpu_percent']:.0f} % |")
print(f"| confirm call alone (gateway wait included) | | {f['confirm_p50_ms']:.0f} ms | {f['confirm_p99_ms']:.0f} ms | | |")
print(f"| simulator alone: checkout + confirm, same {conc} clients | {raw['per_second']:.0f} | {raw['p50_ms']:.0f} ms | "
      f"{raw['p99_ms']:.0f} ms | {raw['errors']} | {raw['client_cpu_percent']:.0f} % |")
print(f"| Little's-law bound {conc} / {lat / 1000:.1f} s | {bound:.0f} | | | | |")
print()
print(f"Payment service vs the simulator alone: {f['per_second'] / max(raw['per_second'], 1e-9):.2f}x; "
      f"vs the bound: {f['per_second'] / bound:.2f}x. Reservations confirmed by the saga at the end: {confirmed} "
      f"(payments confirmed: {f['ok']}, holds prepared: {r['holds']} at {r['setup_holds_per_second']:.0f}/s). "
      f"Target >= 1,000 payments/s: {'met' if f['per_second'] >= 1000 else 'NOT met'}.")
def snap(text):
    return {k: float(v) for k, v in (kv.split("=") for kv in text.split())}
before, after = snap(sys.argv[9]), snap(sys.argv[10])
used = {k: after[k] - before.get(k, 0) for k in after}
print(f"\nCPU seconds used during the whole client run (setup holds + both phases; load after: {sys.argv[11]}): "
      + ", ".join(f"{k} {v:.1f}" for k, v in used.items()) + f"; total {sum(used.values()):.1f}.")
if f["errors"] or raw["errors"]:
    print("\nErrors:", json.dumps(f.get("error_kinds")), json.dumps(raw.get("error_kinds")))
if smoke:
    ok = f["ok"] > 0 and raw["ok"] > 0 and f["errors"] == 0
    sys.exit(0 if ok else 1)
EOF
