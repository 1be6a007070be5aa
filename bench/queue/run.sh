#!/usr/bin/env bash
# Waiting-room benchmark: concurrent waiting WebSockets, server memory per socket, tick fan-out lag,
# join throughput and admission throughput with the order checked — measured with queue_load
# (bench/queue/queue_load.cpp), the load client, on the same machine.
#
#   bench/queue/run.sh [--shape scaled|embedded|both] [--conns N] [--embedded-conns N] [--procs P]
#                      [--hold-s S] [--admit-rate R] [--join-conns C] [--bin PATH] [--load PATH]
#   bench/queue/run.sh --smoke     (embedded, 2,000 sockets, ~30 s; part of the test suite)
#
# scaled:   Redis 7 (own, AOF everysec) + 3 × `tiketi serve --services queue` + 1 × auth,event;
#           N (default 50,000) users join over keep-alive HTTP (join throughput), then each opens a
#           WebSocket (spread over the replicas, over P client processes, each with 3 source addresses from 127.0.0.2 up).
# embedded: one `tiketi serve` (all services, SQLite, in-process coordination), default 19,700
#           (the process has 20,000 fds; the HTTP server budgets 19,872 connections).
# Per shape: server RSS per socket ((RSS with sockets − RSS before) / sockets), p99 delivery lag of
# the ticks every socket receives while admission is paused (one per second) and while it runs
# (every tick), then admission at R/s (default 2,500) until every user is admitted; the order is
# checked from what each socket was told (admitted tick time, from sessionExpiresAt, must not
# decrease along the join sequence), nobody twice, nobody missing.
# Exit status 1 when a check fails (a socket without its update, a wrong order, a failed join).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
load=$root/build/release/bench/queue/tiketi_queue_load
shape=both
conns=50000
emb_conns=19700
procs=3
hold_s=10
admit_rate=2500
join_conns=64
smoke=0
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --embedded-conns) emb_conns=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    --hold-s) hold_s=$2; shift 2 ;;
    --admit-rate) admit_rate=$2; shift 2 ;;
    --join-conns) join_conns=$2; shift 2 ;;
    --smoke) smoke=1; shape=embedded; emb_conns=2000; procs=1; hold_s=3; admit_rate=1000; join_conns=16; shift ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }
[[ -x "$load" ]] || { echo "bench: no load client at $load (target tiketi_queue_load)" >&2; exit 1; }
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tiketi-bench-queue.XXXXXX)
secret="bench-queue-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
kid=benchq
export TIKETI_AUTH__JWT_SECRET=$secret TIKETI_AUTH__JWT_KID=$kid
# Users join first and open their sockets afterwards; on a loaded 2-core machine opening 50,000
# sockets has taken over 60 s, and a place with no heartbeat for queue.abandon_seconds (default 60)
# is swept — correct behaviour, but not what this benchmark measures. The sweep still runs.
export TIKETI_QUEUE__ABANDON_SECONDS=${TIKETI_QUEUE__ABANDON_SECONDS:-600}
declare -a server_pids=() client_pids=()
redis_started=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid
  for pid in "${client_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    if tiketi_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${server_pids[@]}" "${client_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if ((redis_started)); then
    tiketi_redis_stop "$work" --purge
  fi
  if [[ -n "${KEEP_BENCH_DIR:-}" ]]; then
    echo "bench: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

log() { printf 'bench: %s\n' "$*" >&2; }

wait_ready() {
  local port=$1 pid=$2 _
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/health/ready" 2>/dev/null)" == 200 ]] && return 0
    tiketi_alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

# migrate_dir NAME PORT ARGS… — the schema of a data directory for `serve`.
migrate_dir() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$work/$name"
  "$bin" migrate --data-dir "$work/$name" "$@" >"$work/$name/migrate.log" 2>&1 || {
    cat "$work/$name/migrate.log" >&2
    return 1
  }
}

# serve NAME PORT ARGS… — a `tiketi serve` on 127.0.0.1:PORT; sets STARTED_PID and STARTED_PORT.
# The port comes from tiketi_free_port, which only sees listening sockets: when another process
# holds it anyway ("Address already in use"), the server is started again on a fresh port.
serve() {
  local name=$1 port=$2 attempt
  shift 2
  for attempt in 1 2 3 4 5; do
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" --log-level warn "$@" \
      </dev/null >"$work/$name/out.log" 2>&1 &
    STARTED_PID=$!
    STARTED_PORT=$port
    if wait_ready "$port" "$STARTED_PID"; then
      server_pids+=("$STARTED_PID")
      return 0
    fi
    kill -TERM "$STARTED_PID" 2>/dev/null || true
    wait "$STARTED_PID" 2>/dev/null || true
    grep -q "Address already in use" "$work/$name/out.log" || break
    log "$name: port $port was taken (attempt $attempt), trying another"
    port=$(tiketi_free_port)
  done
  log "$name did not become ready on port $port"
  tail -n 20 "$work/$name/out.log" >&2
  return 1
}

rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

# cpu_ms PID… — user + system CPU time of the processes so far, in ms (0 for a gone process).
cpu_ms() {
  local p total=0 f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    [[ -n "$f" ]] || continue
    total=$((total + ${f% *} + ${f#* }))
  done
  echo $((total * 1000 / $(getconf CLK_TCK)))
}
# cpu_mark NAME — appends "NAME wall_ms server_ms client_ms redis_ms" to $dir/cpu (phase accounting).
cpu_mark() {
  local rp=""
  [[ -s "$work/redis/redis.pid" ]] && rp=$(cat "$work/redis/redis.pid")
  local cmds=0
  if [[ -n "$rp" && -s "$work/redis/port" ]]; then
    # EVALSHA calls (each queue operation is one script; the commands inside it are not counted).
    cmds=$(redis-cli -p "$(cat "$work/redis/port")" info commandstats 2>/dev/null | tr -d '\r' |
      sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
  fi
  printf '%s %s %s %s %s %s\n' "$1" "$(date +%s%3N)" "$(cpu_ms $pids)" "$(cpu_ms "${client_pids[@]}")" \
    "$(if [[ -n "$rp" ]]; then cpu_ms "$rp"; else echo 0; fi)" "${cmds:-0}" >>"$dir/cpu"
}

api() {  # api METHOD PORT PATH [BODY] — prints the body; fails on a non-2xx answer
  local method=$1 port=$2 path=$3 body=${4:-} out code
  out=$(curl -s -m 10 -w '\n%{http_code}' -X "$method" -H "Authorization: Bearer $admin_token" \
    -H 'Content-Type: application/json' ${body:+--data "$body"} "http://127.0.0.1:$port$path")
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [[ "$code" != 2?? ]]; then
    log "$method $path -> $code $out"
    return 1
  fi
  printf '%s' "$out"
}

jfield() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

admin_token=$("$load" mint --secret "$secret" --kid "$kid" --sub bench-admin --role admin --ttl-s 7200)

# make_event EVENT_PORT QUEUE_PORT — an on-sale event with a waiting room, paused, FIFO, rate set.
make_event() {
  local eport=$1 qport=$2 now ev id i venue
  now=$(($(date +%s) * 1000))
  venue=$(api POST "$eport" /api/v1/admin/venues '{"name":"Bench Hall","city":"Seoul"}')
  venue=$(jfield id <<<"$venue")
  ev=$(api POST "$eport" /api/v1/admin/events "{\"title\":\"Queue bench $(date +%s%N)\",\"category\":\"concert\",\"venue_id\":\"$venue\",
    \"sale_start\":$((now - 60000)),\"sale_end\":$((now + 86400000)),\"performance_start\":$((now + 2 * 86400000)),
    \"performance_end\":$((now + 2 * 86400000 + 7200000)),\"hold_minutes\":10,
    \"waiting_room\":{\"enabled\":true,\"admission_per_minute\":60,\"max_active\":1000}}")
  id=$(jfield id <<<"$ev")
  api POST "$eport" "/api/v1/admin/events/$id/ticket-types" \
    '{"name":"GA","kind":"general_admission","quota":100000,"price":10000}' >/dev/null
  api POST "$eport" "/api/v1/admin/events/$id/publish" '{}' >/dev/null
  # The queue learns the settings from event.published.
  for i in $(seq 1 300); do
    if api GET "$qport" "/api/v1/admin/queues/$id" >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
    ((i < 300)) || { log "the queue never saw event $id"; return 1; }
  done
  api POST "$qport" "/api/v1/admin/queues/$id/pause" >/dev/null
  api PATCH "$qport" "/api/v1/admin/queues/$id" \
    "{\"order\":\"fifo\",\"rate\":$admit_rate,\"maxActive\":10000000}" >/dev/null
  EVENT_ID=$id
}

# run_shape LABEL N PORTS(comma) EVENT PIDS(space) QUEUE_PORT — drives the clients; prints a result JSON path.
run_shape() {
  local label=$1 n=$2 ports=$3 event=$4 pids=$5 qport=$6 dir per i first count src_lo src_hi
  dir="$work/$label-clients"
  mkdir -p "$dir"
  per=$(((n + procs - 1) / procs))
  client_pids=()
  for ((i = 0; i < procs; i++)); do
    first=$((i * per))
    count=$((n - first < per ? n - first : per))
    ((count > 0)) || break
    # Each process gets its own source addresses: 127.0.0.(2+…)
    src_lo=$((2 + i * 3))
    src_hi=$((src_lo + 2))
    "$load" run --ports "$ports" --event "$event" --secret "$secret" --kid "$kid" \
      --prefix "bench-$label-" --first "$first" --count "$count" --src-lo "$src_lo" --src-hi "$src_hi" \
      --join-conns "$join_conns" --batch 300 --hold-s "$hold_s" --admit-wait-s 180 --heartbeat-s 20 --connect-timeout-s 300 \
      --joined-file "$dir/joined.$i" --ws-go-file "$dir/ws-go" \
      --ready-file "$dir/ready.$i" --go-file "$dir/go" \
      --out "$dir/result.$i.json" --records "$dir/records.$i" 2>"$dir/client.$i.log" &
    client_pids+=($!)
  done
  local nproc=${#client_pids[@]} t alive_n
  cpu_mark start
  wait_files() {  # wait_files PATTERN — until nproc files exist (or a client died)
    local _ k
    for _ in $(seq 1 6000); do
      k=$(find "$dir" -maxdepth 1 -name "$1" | wc -l)
      ((k >= nproc)) && return 0
      alive_n=0
      for t in "${client_pids[@]}"; do
        kill -0 "$t" 2>/dev/null && alive_n=$((alive_n + 1))
      done
      ((alive_n > 0)) || return 1  # every client exited before writing its file
      sleep 0.1
    done
    return 1
  }
  wait_files 'joined.*' || { log "$label: the join phase did not finish"; cat "$dir"/client.*.log >&2; return 1; }
  cpu_mark joined
  sleep 1
  local rss_before=0 rss_after=0 p
  for p in $pids; do rss_before=$((rss_before + $(rss_kb "$p"))); done
  touch "$dir/ws-go"
  wait_files 'ready.*' || { log "$label: the WebSockets did not open"; cat "$dir"/client.*.log >&2; return 1; }
  sleep 2  # let the allocator settle before reading RSS
  for p in $pids; do rss_after=$((rss_after + $(rss_kb "$p"))); done
  printf '%s %s\n' "$rss_before" "$rss_after" >"$dir/rss"
  local ws_metric
  ws_metric=$(curl -s "http://127.0.0.1:$qport/metrics" | awk '/^queue_live_clients\{transport="websocket"\}/ {print $2}')
  printf '%s\n' "${ws_metric:-?}" >"$dir/live_metric"
  touch "$dir/go"
  cpu_mark hold
  sleep "$hold_s"
  cpu_mark resume
  api POST "$qport" "/api/v1/admin/queues/$event/resume" >/dev/null
  date +%s%3N >"$dir/resumed_at"
  # The clients exit once everyone is admitted: sample their CPU just before (they are gone after).
  while :; do
    cpu_mark admitting
    alive_n=0
    for t in "${client_pids[@]}"; do kill -0 "$t" 2>/dev/null && alive_n=$((alive_n + 1)); done
    ((alive_n == nproc)) || break
    sleep 0.5
  done
  for t in "${client_pids[@]}"; do wait "$t" || true; done
  client_pids=()
  api GET "$qport" "/api/v1/admin/queues/$event" >"$dir/queue_view.json" || true
  # The replicas' own view of the first leg: leader publish (ts) -> tick arrival on the replica.
  local qp
  for qp in ${ports//,/ }; do
    curl -s "http://127.0.0.1:$qp/metrics" | grep '^queue_broadcast_lag_seconds_bucket' >>"$dir/pubsub" || true
  done
  SHAPE_DIR=$dir
}

# analyse LABEL DIR N — merges the clients' results; prints markdown rows; returns 1 on a failed check.
analyse() {
  python3 - "$1" "$2" "$3" "$admit_rate" "$smoke" <<'PY'
import glob, json, os, sys
label, d, n, rate, smoke = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"
res = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, "result.*.json")))]
def total(k): return sum(r[k] for r in res)
def merged(key):
    h = {}
    for r in res:
        for k, v in r[key].items():
            h[int(k)] = h.get(int(k), 0) + v
    return h
def pct(h, q):
    n = sum(h.values())
    if n == 0: return None
    want, acc = min(n - 1, int(q * n)), 0
    for k in sorted(h):
        acc += h[k]
        if acc > want: return k
rss_before, rss_after = (int(x) for x in open(os.path.join(d, "rss")).read().split())
ready = total("ws_with_status")
per_conn = (rss_after - rss_before) * 1024 / ready if ready else 0
joins_ok = total("join_ok")
j0 = min(r["join_start_ms"] for r in res); j1 = max(r["join_end_ms"] for r in res)
join_rate = joins_ok / ((j1 - j0) / 1000) if j1 > j0 else 0
hold, adm = merged("lag_hist"), merged("lag_hist2")
view = {}
try: view = json.load(open(os.path.join(d, "queue_view.json")))
except Exception: pass
session_ms = int(view.get("sessionSeconds", 600)) * 1000
# Order: every user's admission tick time (sessionExpiresAt - session) along the join sequence.
recs = []
for f in glob.glob(os.path.join(d, "records.*")):
    for line in open(f):
        u, seq, exp, cnt = line.split()
        recs.append((int(seq), int(exp), int(cnt), u))
recs.sort()
admitted = [r for r in recs if r[2] > 0]
twice = sum(1 for r in recs if r[2] > 1)
missing = sum(1 for r in recs if r[2] == 0)
no_seq = sum(1 for r in recs if r[0] == 0)
inversions = sum(1 for a, b in zip(admitted, admitted[1:]) if b[1] < a[1])
seqs = [r[0] for r in recs]
dup_seq = len(seqs) - len(set(seqs))
ticks = sorted({r[1] - session_ms for r in admitted})
# Sustained rate: the users admitted after the first tick over the time from the first to the last.
after_first = sum(1 for r in admitted if r[1] - session_ms > ticks[0]) if ticks else 0
adm_rate = after_first / ((ticks[-1] - ticks[0]) / 1000) if len(ticks) > 1 else 0
no_tick = total("conns_without_tick_in_window")
checks = {
    "every join answered 200/201": joins_ok == n,
    "every socket opened with a status": ready == n,
    "every socket got a position update in the hold window": no_tick == 0 and ready == n,
    "every user admitted exactly once": missing == 0 and twice == 0,
    "admitted in join order (no inversions, distinct seqs)": inversions == 0 and dup_seq == 0 and no_seq == 0,
}
live = open(os.path.join(d, "live_metric")).read().strip()
# CPU per phase (ms of CPU per wall second = share of one core; the machine has 2): from run.sh marks.
marks = {}
adm_last = None
for line in open(os.path.join(d, "cpu")):
    name, wall, srv, cli, red, cmds = line.split()
    v = tuple(int(x) for x in (wall, srv, cli, red, cmds))
    if name == "admitting":
        # the last sample in which every client was still alive (the final one may miss an exited client)
        adm_last, adm_prev = v, adm_last
        continue
    marks[name] = v
if adm_last is not None and adm_prev is not None:
    marks["admitted"] = adm_prev
def cpu_row(a, b):
    if a not in marks or b not in marks: return None
    w = (marks[b][0] - marks[a][0]) / 1000
    if w <= 0: return None
    return tuple(f"{(marks[b][i] - marks[a][i]) / 1000 / w:.2f}" for i in (1, 2, 3)) + (f"{w:.1f}",)
print(f"\n### {label}: {n} waiting WebSockets over {len(res)} client process(es)\n")
print("| what | figure |\n|---|---:|")
print(f"| WebSockets open with a status | {ready} / {n} (queue_live_clients on one replica: {live}) |")
print(f"| server RSS before → with sockets (all queue processes) | {rss_before/1024:.1f} → {rss_after/1024:.1f} MiB |")
print(f"| server RSS per WebSocket | {per_conn/1024:.2f} KiB |")
print(f"| join throughput ({joins_ok} joins, {sum(1 for _ in res)}×{res[0].get('count',0) and ''}keep-alive clients) | {join_rate:,.0f} joins/s |")
print(f"| tick fan-out lag while paused (1 tick/s to every socket): p50 / p99 / max | {pct(hold,.5)} / {pct(hold,.99)} / {pct(hold,1.0)} ms ({sum(hold.values())} deliveries) |")
print(f"| tick fan-out lag while admitting: p50 / p99 / max | {pct(adm,.5)} / {pct(adm,.99)} / {pct(adm,1.0)} ms ({sum(adm.values())} deliveries) |")
print(f"| admission throughput (configured {rate:g}/s), from the admitted messages | {adm_rate:,.0f} admissions/s over {len(ticks)} ticks |")
print(f"| admitted / twice / missing / order inversions | {len(admitted)} / {twice} / {missing} / {inversions} |")
if "start" in marks and "joined" in marks and marks["joined"][4] > 0 and joins_ok:
    # Everything Redis executed in the join phase (the leader's ticks and lease renewals included).
    print(f"| Redis script calls (EVALSHA) per join, join phase (the leader's ticks included) | {(marks['joined'][4] - marks['start'][4]) / joins_ok:.3f} |")
for nm, a, b in (("join phase", "start", "joined"), ("hold (paused, 1 tick/s)", "hold", "resume"),
                 ("admitting", "resume", "admitted")):
    r = cpu_row(a, b)
    if r:
        print(f"| CPU during the {nm} ({r[3]} s), cores busy: servers / load clients / Redis | {r[0]} / {r[1]} / {r[2]} (of 2) |")
pub = {}
try:
    import re
    for line in open(os.path.join(d, "pubsub")):
        m = re.match(r'.*le="([^"]+)"\}\s+(\S+)', line)
        if m:
            pub[m.group(1)] = pub.get(m.group(1), 0) + float(m.group(2))
except Exception:
    pass
if pub.get("+Inf"):
    tot = pub["+Inf"]
    share = " / ".join(f"{100 * pub.get(le, 0) / tot:.0f} %" for le in ("0.1", "0.25", "1"))
    print(f"| ticks reaching a replica after the leader published them (all phases, {int(tot)} arrivals): within 0.1 / 0.25 / 1 s | {share} |")
for k, v in checks.items():
    print(f"| check: {k} | {'ok' if v else 'FAILED'} |")
bad = [k for k, v in checks.items() if not v]
if bad:
    sys.stderr.write(f"bench: {label}: failed checks: {bad}\n")
    for r in res:
        sys.stderr.write(json.dumps({k: v for k, v in r.items() if not k.startswith('lag_hist')}) + "\n")
    sys.exit(1)
PY
}

failed=0
report=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ "$shape" == scaled || "$shape" == both ]]; then
  tiketi_redis_start "$work" || { log "redis did not start"; exit 1; }
  redis_started=1
  redis_url=$TIKETI_REDIS_URL
  unset TIKETI_REDIS_URL TIKETI_REDIS_PORT  # exported by tiketi_redis_start: the embedded shape must not see it
  ctl_port=$(tiketi_free_port)
  migrate_dir control "$ctl_port" --services auth,event
  serve control "$ctl_port" --services auth,event --redis-url "$redis_url"
  ctl_port=$STARTED_PORT
  qports=() qpids=()
  for r in 1 2 3; do
    p=$(tiketi_free_port)
    migrate_dir "queue$r" "$p" --services queue
    serve "queue$r" "$p" --services queue --redis-url "$redis_url" --threads 1
    p=$STARTED_PORT
    qports+=("$p")
    qpids+=("$STARTED_PID")
  done
  make_event "$ctl_port" "${qports[0]}"
  log "scaled: event $EVENT_ID, queue replicas on ${qports[*]} (pids ${qpids[*]}), $conns users"
  run_shape scaled "$conns" "$(IFS=,; echo "${qports[*]}")" "$EVENT_ID" "${qpids[*]}" "${qports[0]}"
  if ! out=$(analyse scaled "$SHAPE_DIR" "$conns"); then failed=1; fi
  report+=$out$'\n'
  for p in "${server_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${server_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  server_pids=()
  tiketi_redis_stop "$work" --purge
  redis_started=0
fi

if [[ "$shape" == embedded || "$shape" == both ]]; then
  port=$(tiketi_free_port)
  migrate_dir embedded "$port"
  serve embedded "$port"
  port=$STARTED_PORT
  emb_pid=$STARTED_PID
  make_event "$port" "$port"
  eprocs=$procs
  ((smoke)) || eprocs=2
  log "embedded: event $EVENT_ID on port $port (pid $emb_pid), $emb_conns users"
  saved_procs=$procs
  procs=$eprocs
  run_shape embedded "$emb_conns" "$port" "$EVENT_ID" "$emb_pid" "$port"
  procs=$saved_procs
  if ! out=$(analyse embedded "$SHAPE_DIR" "$emb_conns"); then failed=1; fi
  report+=$out$'\n'
fi

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "<!-- bench/queue/run.sh $(date -u +%Y-%m-%d) commit $commit, load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) -->"
if ((smoke)); then
  echo "Command: \`bench/queue/run.sh --smoke\` (machine: 2 cores, load client on the same machine)"
else
  echo "Command: \`flock /tmp/tiketi-bench.lock bench/queue/run.sh --shape $shape --conns $conns --embedded-conns $emb_conns --procs $procs --hold-s $hold_s --admit-rate $admit_rate --join-conns $join_conns\` (machine: 2 cores, load client on the same machine)"
fi
printf '%s\n' "$report"
if ((failed)); then
  log "some checks failed (see above)"
  exit 1
fi
if ((smoke)); then
  echo "bench-smoke: ok (every socket got its position update and was admitted once, in join order)"
fi
