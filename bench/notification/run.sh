#!/usr/bin/env bash
# Notification benchmark: emails/s from `reservation.confirmed` events to a local SMTP sink through
# the whole notification service (stream -> consumer -> delivery log -> render -> libcurl SMTP) with
# 4 workers, beside two baselines in the same run against the same sink: a raw SMTP client (one
# persistent connection per worker, no MIME, no database) and the bare libcurl mailer. Then the
# end-to-end lag, event published -> SMTP server accepted, at a steady rate (p50/p95/p99/max).
#
#   bench/notification/run.sh [--bench PATH] [--emails N] [--lag-emails M] [--rate R] [--workers W]
#                             [--runs N] [--embedded-only]
#
# Rows: embedded (SQLite + in-process stream, 1 × W workers); scaled (PostgreSQL + Redis, 1 × W);
# scaled with 4 replicas × 1 worker (4 notification services in one bench process, each with its own
# database pool, Redis connection and consumer in the group, as 4 processes would have).
#   bench/notification/run.sh --smoke   (seconds, embedded shape only; part of the test suite)
#
# Shapes: embedded (SQLite + in-process stream) always; scaled (PostgreSQL + Redis streams, servers
# started here by scripts/lib/servers.sh and purged afterwards) unless --embedded-only or --smoke.
# Full runs take the median of --runs (default 3) per shape. Wrap full runs in
# `flock /tmp/tiketi-bench.lock …` on a shared machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bench=$root/build/release/bench/notification/tiketi_notification_bench
emails=3000
lag_emails=600
rate=100
workers=4
runs=3
smoke=0
scaled=1
while (($#)); do
  case "$1" in
    --bench) bench=$2; shift 2 ;;
    --emails) emails=$2; shift 2 ;;
    --lag-emails) lag_emails=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --embedded-only) scaled=0; shift ;;
    --smoke) smoke=1; emails=300; lag_emails=60; rate=60; runs=1; scaled=0; shift ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bench" ]] || { echo "bench: no benchmark binary at $bench (target tiketi_notification_bench)" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-notification-bench.XXXXXX)
servers_started=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if ((servers_started)); then
    tiketi_servers_stop "$work/srv" --purge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# run_shape NAME [extra args…] -> one JSON line per run in $work/NAME.jsonl
run_shape() {
  local name=$1 i
  shift
  for ((i = 1; i <= runs; i++)); do
    if ! "$bench" --emails "$emails" --lag-emails "$lag_emails" --rate "$rate" --workers "$workers" \
      --json "$work/$name.$i.json" "$@" >/dev/null 2>"$work/$name.$i.log"; then
      echo "bench: $name run $i failed:" >&2
      cat "$work/$name.$i.log" >&2
      exit 1
    fi
    cat "$work/$name.$i.json" >>"$work/$name.jsonl"
    sed 's/^/  /' "$work/$name.$i.log" >&2
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run_shape embedded
if ((scaled)); then
  mkdir -p "$work/srv"
  tiketi_servers_start "$work/srv" >/dev/null
  servers_started=1
  run_shape scaled --database-url "$TIKETI_PG_URL" --redis-url "$TIKETI_REDIS_URL"
  # The same number of SMTP senders as 4 processes with one worker each (consumers scale out too).
  workers_saved=$workers
  workers=1
  run_shape scaled-replicas --database-url "$TIKETI_PG_URL" --redis-url "$TIKETI_REDIS_URL" --replicas 4
  workers=$workers_saved
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Medians per shape, as markdown.
cmd="bench/notification/run.sh --emails $emails --lag-emails $lag_emails --rate $rate --workers $workers --runs $runs"
((smoke)) && cmd="bench/notification/run.sh --smoke"
((scaled)) || [[ $smoke == 1 ]] || cmd+=" --embedded-only"
/usr/bin/python3 - "$work" "$cmd" "$load_before" "$load_after" "$smoke" <<'PY'
import json, pathlib, statistics, sys
work, cmd, load_before, load_after, smoke = sys.argv[1:6]
rows = []
ok = True
for shape in ("embedded", "scaled", "scaled-replicas"):
    f = pathlib.Path(work) / f"{shape}.jsonl"
    if not f.exists():
        continue
    runs = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    med = lambda k: statistics.median(r[k] for r in runs)
    lag = lambda k: statistics.median(r["lag_ms"][k] for r in runs)
    svc, raw, curl = med("service_per_s"), med("raw_smtp_per_s"), med("curl_mailer_per_s")
    ok &= all(r["duplicates_or_missing"] == 0 for r in runs)
    label = f'{runs[0]["shape"]}, {runs[0]["replicas"]} × {runs[0]["workers"]} worker(s)'
    rows.append((label, svc, raw, curl, lag("p50"), lag("p95"), lag("p99"), lag("max"),
                 runs[0]["workers"], runs[0]["emails"], runs[0]["lag_emails"], runs[0]["lag_rate_per_s"],
                 len(runs), med("smtp_connections")))
print("### Notification: emails/s and lag (bench/notification/run.sh)\n")
print(f"Command: `{cmd}` (machine: 2 cores shared; load before {load_before}, after {load_after})\n")
print("| shape, replicas × workers | service emails/s | raw SMTP client | libcurl mailer alone | service / raw | lag p50 | p95 | p99 | max | target ≥ 200/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (shape, svc, raw, curl, p50, p95, p99, mx, w, n, m, rate, nruns, conns) in rows:
    met = "met" if svc >= 200 else "NOT met"
    print(f"| {shape} | {svc:.0f} | {raw:.0f} | {curl:.0f} | {svc / raw:.2f} | {p50:.0f} ms | {p95:.0f} ms | {p99:.0f} ms | {mx:.0f} ms | {met} |")
if rows:
    w, n, m, rate, nruns, conns = rows[0][8], rows[0][9], rows[0][10], rows[0][11], rows[0][12], rows[0][13]
    print(f"\n{n} events per throughput run (a burst appended to the stream; emails/s = N / (last accepted - "
          f"first published)), lag over {m} events at {rate:g} events/s; medians of {nruns} run(s). Baselines use "
          "as many concurrent SMTP senders as the service row (replicas × workers). One SMTP connection per worker, "
          "reused across messages. Every run checks each recipient got exactly one email.")
sys.exit(0 if ok and rows else 1)
PY
