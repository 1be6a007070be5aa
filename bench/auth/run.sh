#!/usr/bin/env bash
# Auth benchmark: login throughput at the documented argon2id parameters (opslimit 2, 64 MiB), and
# the p99 latency of a cheap authenticated route (GET /api/v1/auth/me: token check + one indexed
# read) at a moderate steady load, measured WITHOUT login load and WHILE logins run flat out, in
# the same run against the same server. Target: the cheap route's p99 stays < 10 ms under login load.
#
#   bench/auth/run.sh [--bin PATH] [--duration SECONDS] [--users N] [--login-connections N]
#                     [--me-connections N] [--me-delay-ms N] [--hash-threads N] [--hash-nice N]
#                     [--server-threads N] [--server-cpus LIST]
#   bench/auth/run.sh --smoke   (a few seconds, cheap argon2 parameters: checks the harness works)
#
# The server is `tiketi serve --services auth` (embedded shape: SQLite, in-process coordination),
# access log on. wrk #1 logs in round robin as a pool of pre-created users (login.lua); wrk #2
# sends GET /auth/me on --me-connections connections, each pausing --me-delay-ms between requests
# (me.lua). Both load generators run on the same machine as the server. --server-cpus 0,1 pins the
# server to those CPUs (taskset) so that "2 cores" holds on a bigger machine; by default it is
# unpinned (on the 2-core reference machine that is the same thing).
#
# Login throttling is per account and per IP; every login here comes from 127.0.0.1, so the run
# raises the limits through settings (TIKETI_AUTH__LOGIN_MAX_ATTEMPTS_PER_IP,
# TIKETI_AUTH__LOGIN_MAX_FAILURES) — production keeps the defaults (100 per 5 min per IP).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/bench/auth"
# shellcheck source=scripts/lib/servers.sh
source "$root/scripts/lib/servers.sh"

bin=${TIKETI_BIN:-$root/build/release/src/app/tiketi}
duration=20
users=64
login_conns=16
me_conns=8
me_delay=2
hash_threads=""
hash_nice=""
server_threads=""
server_cpus=""
smoke=0
args_text="$*"
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --login-connections) login_conns=$2; shift 2 ;;
    --me-connections) me_conns=$2; shift 2 ;;
    --me-delay-ms) me_delay=$2; shift 2 ;;
    --hash-threads) hash_threads=$2; shift 2 ;;
    --hash-nice) hash_nice=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --server-cpus) server_cpus=$2; shift 2 ;;
    --smoke) smoke=1; duration=3; users=8; login_conns=4; me_conns=2; shift ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (scripts/install-deps)" >&2; exit 1; }
done
[[ -x "$bin" ]] || { echo "bench: no tiketi binary at $bin" >&2; exit 1; }

work=$(mktemp -d /tmp/tiketi-bench-auth.XXXXXX)
tiketi_pid=""
login_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$login_pid" ]] && kill -0 "$login_pid" 2>/dev/null; then
    kill -TERM "$login_pid" 2>/dev/null || true
    wait "$login_pid" 2>/dev/null || true
  fi
  if [[ -n "$tiketi_pid" ]] && tiketi_alive "$tiketi_pid"; then
    kill -TERM "$tiketi_pid" 2>/dev/null || true
    wait "$tiketi_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- server --------------------------------------------------------------------------------------
export TIKETI_AUTH__LOGIN_MAX_ATTEMPTS_PER_IP=1000000
export TIKETI_AUTH__LOGIN_MAX_FAILURES=1000000
export TIKETI_AUTH__HASH_QUEUE_LIMIT=100000
if ((smoke)); then
  export TIKETI_AUTH__ARGON2_OPSLIMIT=1 TIKETI_AUTH__ARGON2_MEMLIMIT_KIB=8192
fi
[[ -n "$hash_threads" ]] && export TIKETI_AUTH__HASH_THREADS=$hash_threads
[[ -n "$hash_nice" ]] && export TIKETI_AUTH__HASH_NICE=$hash_nice
serve_extra=()
[[ -n "$server_threads" ]] && serve_extra+=(--threads "$server_threads")

mkdir -p "$work/data"
"$bin" migrate --services auth --data-dir "$work/data" >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
wait_ready() {
  local url=$1 pid=$2 _
  for _ in $(seq 1 300); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    tiketi_alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}
pin=()
if [[ -n "$server_cpus" ]]; then
  command -v taskset >/dev/null || { echo "bench: --server-cpus needs taskset (util-linux)" >&2; exit 1; }
  pin=(taskset -c "$server_cpus")
fi
for attempt in 1 2 3; do
  port=$(tiketi_free_port)
  "${pin[@]}" "$bin" serve --services auth --listen "127.0.0.1:$port" --data-dir "$work/data" "${serve_extra[@]}" \
    </dev/null >"$work/tiketi.out" 2>"$work/tiketi.err" &
  tiketi_pid=$!
  wait_ready "http://127.0.0.1:$port/health/ready" "$tiketi_pid" && break
  echo "bench: tiketi did not start on port $port (attempt $attempt)" >&2
  grep -v http_request "$work/tiketi.out" | tail -n 5 >&2 || true
  tail -n 5 "$work/tiketi.err" >&2 || true
  kill -TERM "$tiketi_pid" 2>/dev/null || true
  tiketi_pid=""
  ((attempt < 3)) || exit 1
done
base="http://127.0.0.1:$port"
started_line=$(grep -m1 '"auth started"' "$work/tiketi.out" || true)
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); print(d.get(sys.argv[2], "?"))' "$started_line" "$1"; }
opslimit=$(field argon2_opslimit)
memlimit_kib=$(field argon2_memlimit_kib)
threads_used=$(field hash_threads)

# --- users ----------------------------------------------------------------------------------------
prefix="b$RANDOM"
password="bench-password-$RANDOM$RANDOM"
echo "bench: creating $users users (argon2id opslimit $opslimit, ${memlimit_kib} KiB, $threads_used hash thread(s))" >&2
seq 0 $((users - 1)) | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
  -H 'Content-Type: application/json' \
  -d "{\"email\":\"$prefix-{}@bench.example.com\",\"password\":\"$password\",\"name\":\"Bench {}\"}" \
  "$base/api/v1/auth/signup" >"$work/signup.codes"
created=$(grep -c '^201$' "$work/signup.codes" || true)
if ((created != users)); then
  echo "bench: only $created of $users signups answered 201:" >&2
  sort "$work/signup.codes" | uniq -c >&2
  exit 1
fi
token=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d "{\"email\":\"$prefix-0@bench.example.com\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
[[ -n "$token" ]] || { echo "bench: could not log in" >&2; exit 1; }

# --- runs -----------------------------------------------------------------------------------------
export BENCH_USERS=$users BENCH_PREFIX=$prefix BENCH_PASSWORD=$password BENCH_TOKEN=$token BENCH_DELAY_MS=$me_delay
errors=0
# "RESULT me requests=… p99_ms=…" -> value of key
kv() { sed -E "s/.* $2=([^ ]+).*/\1/" <<<"$1"; }
check() {
  local label=$1 line=$2
  if [[ -z "$line" ]]; then
    echo "bench: no result from $label" >&2
    errors=$((errors + 1))
    return
  fi
  if [[ "$(kv "$line" non2xx)" != 0 || "$(kv "$line" socket_errors)" != 0 || "$(kv "$line" requests)" == 0 ]]; then
    echo "bench: $label had errors: $line" >&2
    errors=$((errors + 1))
  fi
}
run_me() {
  local out
  out=$(wrk -t1 -c"$me_conns" -d"${duration}s" --timeout 5s -s "$here/me.lua" "$base" 2>&1)
  grep -m1 '^RESULT me' <<<"$out" || true
}

echo "bench: phase 1/3 — GET /auth/me alone (${duration}s, $me_conns connections, ${me_delay} ms pause)" >&2
idle1=$(run_me)
check "me (idle, before)" "$idle1"

echo "bench: phase 2/3 — the same while logins run flat out ($login_conns connections)" >&2
wrk -t1 -c"$login_conns" -d"$((duration + 4))s" --timeout 30s -s "$here/login.lua" "$base" >"$work/login.out" 2>&1 &
login_pid=$!
sleep 2
loaded=$(run_me)
wait "$login_pid" || true
login_pid=""
login=$(grep -m1 '^RESULT login' "$work/login.out" || true)
check "me (under login load)" "$loaded"
check "login" "$login"

echo "bench: phase 3/3 — GET /auth/me alone again" >&2
idle2=$(run_me)
check "me (idle, after)" "$idle2"

if ((errors)); then
  cat "$work/login.out" >&2
  echo "bench: $errors phase(s) had errors" >&2
  exit 1
fi

rate() { awk -v n="$(kv "$1" requests)" -v us="$(kv "$1" duration_us)" 'BEGIN { printf "%.1f", n / (us / 1e6) }'; }
idle_p99=$(awk -v a="$(kv "$idle1" p99_ms)" -v b="$(kv "$idle2" p99_ms)" 'BEGIN { printf "%.2f", (a > b) ? a : b }')
loaded_p99=$(awk -v a="$(kv "$loaded" p99_ms)" 'BEGIN { printf "%.2f", a }')
met=$(awk -v p="$loaded_p99" 'BEGIN { print (p < 10) ? "met" : "NOT met" }')
ratio=$(awk -v a="$loaded_p99" -v b="$idle_p99" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
load=$(uptime | sed 's/.*load average: //')

echo
echo "<!-- bench/auth/run.sh $args_text — $(date -u +%Y-%m-%d) commit $commit, $(nproc) cores, server CPUs: ${server_cpus:-all}, load average before: $load -->"
echo "| what | figure |"
echo "|---|---:|"
printf '| logins/s, argon2id opslimit %s / %s MiB, %s hash thread(s), %s connections | %s |\n' \
  "$opslimit" "$((memlimit_kib / 1024))" "$threads_used" "$login_conns" "$(rate "$login")"
printf '| login p50 / p99 under that load | %s / %s ms |\n' "$(kv "$login" p50_ms)" "$(kv "$login" p99_ms)"
printf '| GET /auth/me p99 alone (%s conns, %s ms pause; worse of before/after) | %s ms (%s req/s) |\n' \
  "$me_conns" "$me_delay" "$idle_p99" "$(rate "$idle1")"
printf '| GET /auth/me p99 while logins run flat out | %s ms (%s req/s) |\n' "$loaded_p99" "$(rate "$loaded")"
printf '| ratio loaded / alone | %s× |\n' "$ratio"
printf '| target: /auth/me p99 < 10 ms under login load | %s |\n' "$met"
if ((smoke)); then
  echo "bench-smoke: ok (logins and /auth/me answered without errors in all three phases)"
fi
