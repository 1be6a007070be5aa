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
#                        [--latency-ms 100] [--transport native|curl] [--warmup 2]
#   bench/payment/run.sh --smoke   (a few seconds, small numbers: checks the harness; part of the tests)
#   bench/payment/run.sh --trace-sql ...   (diagnostic, NOT a figure: logs every statement of the measured
#                          phase and prints commits and statements per payment, per service)
#   bench/payment/run.sh --pool N ...     (PostgreSQL pool per service process; default 32)
#   bench/payment/run.sh --preload LIB ... (experiment: LD_PRELOAD LIB, e.g. an allocator such as
#                          /usr/lib/x86_64-linux-gnu/libjemalloc.so.2, into the three service processes)
#   bench/payment/run.sh --pg-stats ...    (diagnostic, NOT a figure: loads pg_stat_statements into the
#                          scratch PostgreSQL and prints, from the start of the measured phase until the
#                          saga caught up, the top statements by total execution time, calls and ms per
#                          payment, plus commits, WAL fsyncs and autovacuum runs per table)
#
# CPU is snapshotted between the phases, so the measured phase is reported without the setup. Before
# the measured phase the client runs the same flow for --warmup seconds (not measured), so every pool
# connection, prepared statement and keep-alive connection exists, as in a service at steady state.
# The reservations' confirmation (payment.completed -> outbox relay -> Redis stream -> reservation
# consumer) follows asynchronously: its rate during the measured phase and the time it needs to
# catch up afterwards are reported too.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
client=$root/build/release/bench/payment/tiketi_payment_bench
concurrency=256
duration=15
raw_duration=5
warmup=2
holds=24000
latency=100
transport=native
smoke=0
trace_sql=0
pg_stats=0
preload=""
pool=32  # as in every figure so far (the services' own default is 8); --pool to compare
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --client) client=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --holds) holds=$2; shift 2 ;;
    --latency-ms) latency=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --trace-sql) trace_sql=1; shift ;;
    --pg-stats) pg_stats=1; shift ;;
    --preload) preload=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --smoke) smoke=1; concurrency=16; duration=2; raw_duration=1; warmup=0.5; holds=450; shift ;;
    -h | --help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
if ((pg_stats)); then
  # pg_stat_statements must be preloaded: add it to the scratch cluster and restart it (diagnostic only).
  "$TIKETI_PG_BIN/psql" -h 127.0.0.1 -p "$TIKETI_PG_PORT" -U postgres -d tiketi -qAtX \
    -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
  tiketi_pg_stop "$work" >/dev/null 2>&1
  tiketi_pg_start "$work" >>"$work/servers.log" 2>&1 || { cat "$work/servers.log" >&2; exit 1; }
  "$TIKETI_PG_BIN/psql" -h 127.0.0.1 -p "$TIKETI_PG_PORT" -U postgres -d tiketi -qAtX \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
fi
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
  env ${preload:+LD_PRELOAD="$preload"} "$bin" serve --services "$svc" --listen "127.0.0.1:${port[$svc]}" --database-url "$pg_url" \
    --redis-url "$redis_url" --data-dir "$work/data/$svc" --db-pool-size "$pool" "${peers[@]}" "${extra[@]}" \
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
confirmed_now() {
  curl -s -m 5 "http://127.0.0.1:${port[reservation]}/metrics" |
    awk '/^reservation_transitions_total\{.*to="CONFIRMED"/ {s += $2} END {print s + 0}'
}
pg_port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$pg_url")
psql_admin() { "$TIKETI_PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d tiketi -qAtX "$@"; }
# Work counters of the database: commits, and rows written per schema (= per service).
pg_counters() {
  psql_admin -c "SELECT 'commits', xact_commit FROM pg_stat_database WHERE datname = 'tiketi'" \
    -c "SELECT 'wal_syncs', wal_sync FROM pg_stat_wal" -c "SELECT 'wal_bytes', wal_bytes::bigint FROM pg_stat_wal" \
    -c "SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables" \
    2>/dev/null | tr '|' ' '
}
# Called by the client between phases: "<phase>" -> $work/phase.<phase> (CPU, saga count, time).
phase_hook() {
  local name=$1
  {
    echo "cpu $(cpu_snapshot)"
    echo "confirmed $(confirmed_now)"
    echo "time $(date +%s.%N)"
  } >"$work/phase.$name"
  if ((pg_stats)) && [[ $name == setup_done ]]; then
    psql_admin -c "SELECT pg_stat_statements_reset()" >/dev/null
    pg_counters >"$work/counters.$name"
    psql_admin -c "SELECT relname, autovacuum_count + vacuum_count, autoanalyze_count FROM pg_stat_user_tables" \
      | tr '|' ' ' >"$work/vacuum.$name"
  fi
  if ((trace_sql)); then
    pg_counters >"$work/counters.$name"
    if [[ $name == setup_done ]]; then
      psql_admin -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
    else
      psql_admin -c "ALTER SYSTEM SET log_min_duration_statement = -1" -c "SELECT pg_reload_conf()" >/dev/null
      # Which service owns which backend: client ports of the backends vs the services' sockets.
      psql_admin -c "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL" |
        tr '|' ' ' >"$work/backends"
      local i=1 svc
      for svc in event reservation payment; do
        ss -tnpH state established "( dport = :$pg_port )" 2>/dev/null |
          awk -v svc="$svc" -v pid="${pids[$i]}" '$0 ~ "pid=" pid "," {split($3, a, ":"); print a[2], svc}'
        i=$((i + 1))
      done >"$work/ports"
    fi
  fi
}
# The client runs "$work/phase.sh <phase>" through /bin/sh: a standalone script with the functions
# and variables it needs (/bin/sh does not pass exported bash functions on).
{
  echo '#!/usr/bin/env bash'
  declare -p work trace_sql pg_stats pg_port pg_url pids port TIKETI_PG_BIN | sed 's/^declare -\(a\|A\)/declare -g\1/'
  declare -f phase_hook cpu_snapshot cpu_of ticks pg_cpu confirmed_now pg_counters psql_admin
  echo 'phase_hook "$1"'
} >"$work/phase.sh"
phase_cmd="bash $work/phase.sh"

cpu_before=$(cpu_snapshot)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$client" --phase-cmd "$phase_cmd" --payment "http://127.0.0.1:${port[payment]}" --reservation "http://127.0.0.1:${port[reservation]}" \
  --event "http://127.0.0.1:${port[event]}" --sim "http://127.0.0.1:$sim_port" \
  --jwt-secret "$TIKETI_AUTH__JWT_SECRET" --sim-secret "$sim_secret" --holds "$holds" \
  --concurrency "$concurrency" --duration "$duration" --raw-duration "$raw_duration" --warmup "$warmup" \
  >"$work/result.json" ||
  { echo "bench: load client failed" >&2; for s in event reservation payment; do tail -n 5 "$work/$s.err" >&2; done; exit 1; }

cpu_after=$(cpu_snapshot)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Reservations confirm asynchronously (payment.completed -> reservation service): how many had at
# the end of the client run, then wait (bounded) until the saga has caught up with every payment.
confirmed=$(confirmed_now)
paid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flow"]["ok"])' "$work/result.json")
# The saga counter also counts the warm-up's payments: wait for those too.
paid_all=$(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(r["flow"]["ok"] + r.get("warmup", {}).get("ok", 0))' "$work/result.json")
drain_start=$(date +%s.%N)
drain_limit=$((smoke ? 30 : 180))
caught_up=$confirmed
for _ in $(seq 1 $((drain_limit * 5))); do
  caught_up=$(confirmed_now)
  ((caught_up >= paid_all)) && break
  sleep 0.2
done
drain_end=$(date +%s.%N)
# CPU from the start of the measured phase until the saga caught up: the whole cost of the measured
# payments on both sides (the simulator-alone phase in between adds only pg-sim and client work).
cpu_drained=$(cpu_snapshot)

stats_report=""
if ((pg_stats)); then
  stats_report="$work/pg_stats.txt"
  pg_counters >"$work/counters.drained"
  psql_admin -c "SELECT relname, autovacuum_count + vacuum_count, autoanalyze_count FROM pg_stat_user_tables" |
    tr '|' ' ' >"$work/vacuum.drained"
  psql_admin -F $'\t' -c "SELECT calls, total_exec_time, rows, wal_records, regexp_replace(query, '\s+', ' ', 'g')
      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30" >"$work/statements.tsv"
  python3 - "$work" "$paid" >"$stats_report" <<'PYEOF' || true
import sys
work, paid = sys.argv[1], max(int(sys.argv[2]), 1)
def counters(name):
    out = {}
    for l in open(f"{work}/counters.{name}"):
        k, v = l.rsplit(" ", 1)
        out[k] = int(v)
    return out
a, b = counters("setup_done"), counters("drained")
d = lambda k: b.get(k, 0) - a.get(k, 0)
print(f"From the start of the measured phase until the saga caught up; {paid} payments.")
print(f"commits {d('commits') / paid:.2f}, WAL fsyncs {d('wal_syncs') / paid:.2f}, WAL {d('wal_bytes') / paid:.0f} bytes per payment")
for k in sorted(b):
    if k not in ("commits", "wal_syncs", "wal_bytes") and d(k) > 0:
        print(f"  rows written {k}: {d(k) / paid:.2f}/payment")
def vac(name):
    out = {}
    for l in open(f"{work}/vacuum.{name}"):
        parts = l.split()
        if len(parts) == 3:
            out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out
va, vb = vac("setup_done"), vac("drained")
runs = [f"{t} {vb[t][0] - va.get(t, (0, 0))[0]} vacuum / {vb[t][1] - va.get(t, (0, 0))[1]} analyze"
        for t in sorted(vb) if vb[t] != va.get(t, (0, 0))]
print("autovacuum runs in the window: " + (", ".join(runs) if runs else "none"))
total = 0.0
rows = []
for line in open(f"{work}/statements.tsv"):
    parts = line.rstrip("\n").split("\t", 4)
    if len(parts) < 5:
        continue
    calls, ms, nrows, wal, q = int(parts[0]), float(parts[1]), int(parts[2]), int(parts[3]), parts[4]
    rows.append((calls, ms, nrows, wal, q))
print("\ntop statements by total execution time (exec time includes lock and fsync waits, not only CPU):")
print("  ms/payment  calls/payment  rows/call  statement")
for calls, ms, nrows, wal, q in rows:
    print(f"  {ms / paid:9.3f}  {calls / paid:13.3f}  {nrows / max(calls, 1):9.1f}  {q[:150]}")
PYEOF
fi

trace_report=""
if ((trace_sql)); then
  home=$(cat "$work/postgres/home")
  trace_report="$work/trace.txt"
  python3 - "$home/data/log" "$home" "$work" "$paid" >"$trace_report" <<'PYEOF' || true
import collections, glob, os, re, sys
logdir, home, work, paid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
backend_port = dict(l.split() for l in open(f"{work}/backends") if l.strip())
port_svc = dict(l.split() for l in open(f"{work}/ports") if l.strip())
svc_of = {pid: port_svc.get(port, "other") for pid, port in backend_port.items()}
logs = sorted(glob.glob(f"{home}/data/log/*")) + sorted(glob.glob(f"{home}/*.log"))
stmt = re.compile(r"\[(\d+)\] .*duration: [0-9.]+ ms  (?:execute [^:]*|statement): (.*)")
per = collections.defaultdict(collections.Counter)
for path in logs:
    try:
        text = open(path, errors="replace").read()
    except OSError:
        continue
    for line in text.splitlines():
        m = stmt.search(line)
        if not m:
            continue
        pid, sql = m.group(1), " ".join(m.group(2).split())
        per[svc_of.get(pid, "other")][sql[:110]] += 1
def counters(name):
    out = {}
    for l in open(f"{work}/counters.{name}"):
        k, v = l.rsplit(" ", 1)
        out[k] = int(v)
    return out
a, b = counters("setup_done"), counters("flow_done")
print(f"Measured phase only (statement log on from setup_done to flow_done); {paid} payments confirmed.")
def d(k):
    return b[k] - a.get(k, 0)
print(f"transactions (pg_stat_database xact_commit: every autocommit statement counts, reads too): {d('commits')}"
      f" = {d('commits') / max(paid, 1):.2f} per payment")
print(f"WAL fsyncs (pg_stat_wal.wal_sync; group commit merges concurrent commits): {d('wal_syncs')}"
      f" = {d('wal_syncs') / max(paid, 1):.2f} per payment; WAL {d('wal_bytes') / max(paid, 1):.0f} bytes per payment")
print("(pg_stat counters reach the view up to ~1 s late: treat the row counts as approximate)")
for k in sorted(b):
    if k not in ("commits", "wal_syncs", "wal_bytes") and b[k] - a.get(k, 0) > 0:
        print(f"  rows written {k}: {b[k] - a.get(k, 0)} ({(b[k] - a.get(k, 0)) / max(paid, 1):.2f}/payment)")
for svc in sorted(per):
    total = sum(per[svc].values())
    print(f"\n{svc}: {total} statements = {total / max(paid, 1):.2f} per payment")
    for sql, n in per[svc].most_common(25):
        print(f"  {n / max(paid, 1):6.2f}  {n:7d}  {sql}")
PYEOF
fi

[[ -z $preload ]] || printf 'Experiment: the three service processes ran with LD_PRELOAD=%s.\n\n' "$preload"
python3 - "$work/result.json" "$concurrency" "$latency" "$duration" "$load_before" "$confirmed" "$transport" "$smoke" \
  "$cpu_before" "$cpu_after" "$load_after" "$work" "$caught_up" "$drain_start" "$drain_end" "$trace_report" \
  "$cpu_drained" "$paid_all" "$stats_report" "$pool" "$holds" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
conc, lat, dur, load, confirmed, transport, smoke = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8] == "1"
f, raw = r["flow"], r["raw_sim"]
bound = conc / (lat / 1000.0)
print(json.dumps(r), file=sys.stderr)
print(f"### Payments: confirmed card payments/s, gateway simulator at {lat} ms\n")
print(f"`bench/payment/run.sh --holds {sys.argv[21]} --concurrency {conc} --duration {dur} --transport {transport} "
      f"--pool {sys.argv[20]}` (PostgreSQL pool per service process) — 2 cores shared by "
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
work, caught_up, drain_start, drain_end, trace = sys.argv[12], int(sys.argv[13]), float(sys.argv[14]), float(sys.argv[15]), sys.argv[16]
paid_all = int(sys.argv[18])
def phase(name):
    out = {}
    for line in open(f"{work}/phase.{name}"):
        k, v = line.split(" ", 1)
        out[k] = snap(v) if k == "cpu" else float(v)
    return out
s0, s1 = phase("setup_done"), phase("flow_done")
flow_secs = s1["time"] - s0["time"]
if flow_secs < float(dur) - 1:
    print(f"\n**Note:** the measured phase lasted {flow_secs:.1f} s, not {dur} s: the prepared holds ran out "
          f"(warm-up + measured payments = {paid_all} of {r['holds']}); run again with a larger --holds.")
print(f"\nCPU seconds of the MEASURED phase only (create + checkout + confirm, {flow_secs:.1f} s wall, "
      f"{f['ok']} payments; setup and the simulator-alone phase excluded): "
      + ", ".join(f"{k} {s1['cpu'][k] - s0['cpu'].get(k, 0):.1f}" for k in s1["cpu"])
      + f"; total {sum(s1['cpu'].values()) - sum(s0['cpu'].values()):.1f} of {2 * flow_secs:.0f} core-seconds. "
      + "Per payment: " + ", ".join(f"{k} {1000 * (s1['cpu'][k] - s0['cpu'].get(k, 0)) / max(f['ok'], 1):.2f} ms"
                                    for k in ("postgres", "reservation", "payment")) + ".")
print(f"CPU seconds of the whole client run (setup holds + both phases; load after: {sys.argv[11]}): "
      + ", ".join(f"{k} {v:.1f}" for k, v in used.items()) + f"; total {sum(used.values()):.1f}.")
saga_in_phase = s1["confirmed"] - s0["confirmed"]
print(f"\nReservations confirmed by the saga (payment.completed -> relay -> stream -> reservation consumer): "
      f"{saga_in_phase:.0f} during the measured phase = **{saga_in_phase / max(flow_secs, 1e-9):.0f}/s** "
      f"(payments confirmed: {f['per_second']:.0f}/s); {caught_up} of {paid_all} (warm-up included) after the run "
      f"+ {drain_end - drain_start:.1f} s of waiting"
      + (" (caught up)" if caught_up >= paid_all else " (NOT caught up within the limit)")
      + (f"; while catching up, with no payment traffic: {(caught_up - int(confirmed)) / (drain_end - drain_start):.0f}/s."
         if drain_end - drain_start >= 1 else "."))
drained = snap(sys.argv[17])
complete = {k: drained[k] - s0["cpu"].get(k, 0) for k in ("postgres", "reservation", "payment", "redis", "event")}
if caught_up >= paid_all:
    print(f"\nCPU per COMPLETE payment (payment confirmed and its reservation confirmed by the saga; from the "
          f"start of the measured phase until the saga caught up, pg-sim excluded): "
          + ", ".join(f"{k} {1000 * v / max(f['ok'], 1):.2f} ms" for k, v in complete.items())
          + f"; total **{1000 * sum(complete.values()) / max(f['ok'], 1):.2f} ms** "
          f"(+ pg-sim and the client). Two cores at 100 % would sustain at most "
          f"~{2000 / max(1000 * sum(complete.values()) / max(f['ok'], 1) + 0.3, 1e-9):.0f} complete payments/s "
          f"(0.3 ms added for pg-sim and the client).")
if trace:
    print("\nStatement trace (diagnostic run, the statement log slows PostgreSQL: not a figure):\n")
    print("```")
    print(open(trace).read().rstrip())
    print("```")
if len(sys.argv) > 19 and sys.argv[19]:
    print("\npg_stat_statements (diagnostic run, not a figure):\n")
    print("```")
    print(open(sys.argv[19]).read().rstrip())
    print("```")
if f["errors"] or raw["errors"]:
    print("\nErrors:", json.dumps(f.get("error_kinds")), json.dumps(raw.get("error_kinds")))
if smoke:
    ok = f["ok"] > 0 and raw["ok"] > 0 and f["errors"] == 0 and caught_up >= paid_all
    sys.exit(0 if ok else 1)
EOF
