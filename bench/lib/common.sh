# shellcheck shell=bash
# Shared by the benchmark scripts that compare a tiketi route with nginx serving the same bytes
# (bench/http/run.sh, bench/event/run.sh) and the reservation benchmark. Sourced after scripts/lib/servers.sh (tiketi_free_port,
# tiketi_alive).
#
#   wait_http URL [PID] [SECONDS] -> 0 once URL answers 200 (gives up after SECONDS, default 30,
#                                    or when PID dies)
#   to_ms 8.50ms|950.00us|1.20s [DECIMALS] -> milliseconds (default 3 decimals)
#   median N...                   -> the median
#   bench_wrk LABEL URL [PID]     -> one `wrk -t$threads -c$connections -d$duration --latency` run;
#                                    sets RPS, P99 (ms) and, when PID is given, CPU_US (that
#                                    process's CPU microseconds per request: robust on a busy
#                                    machine, where req/s and p99 mostly measure the neighbours);
#                                    counts failed or unparsable runs and non-2xx answers in `errors`
#   bench_nginx_static DIR FILE   -> nginx (2 workers, access log to /dev/null, like production)
#                                    serving DIR/nginx/html/FILE at /FILE; sets nginx_port. The
#                                    caller stops it from DIR/nginx/nginx.pid.

wait_http() {
  local url=$1 pid=${2:-} secs=${3:-30} _
  for _ in $(seq 1 $((secs * 10))); do
    [[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]] && return 0
    if [[ -n "$pid" ]] && ! tiketi_alive "$pid"; then return 1; fi
    sleep 0.1
  done
  return 1
}

to_ms() {
  awk -v v="$1" -v f="%.${2:-3}f" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf f, v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf f, v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf f, v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf f, v * 1000 }
    else { printf f, v }
  }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# threads/connections/duration come from the calling script; RPS/P99/CPU_US/errors are its results.
# shellcheck disable=SC2154,SC2034
bench_wrk() {
  local label=$1 url=$2 pid=${3:-} out rps p99 bad c0 c1 total
  CPU_US=""
  [[ -n "$pid" ]] && c0=$(cpu_ticks "$pid")
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url" 2>&1)
  if [[ -n "$pid" ]]; then
    c1=$(cpu_ticks "$pid")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="${total:-0}" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { if (n > 0) printf "%.2f", (b - a) / hz * 1e6 / n; else print "" }')
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  if [[ -z "$rps" || -z "$p99" ]]; then
    echo "bench: could not parse wrk output for $label:" >&2
    echo "$out" >&2
    errors=$((errors + 1))
    rps=0
    p99=0
  fi
  p99=$(to_ms "$p99")
  printf '  %-18s %10.0f req/s  p99 %8.2f ms%s%s\n' "$label" "$rps" "$p99" "${CPU_US:+  server CPU $CPU_US us/req}" \
    "${bad:+  non-2xx: $bad}" >&2
  if grep -q 'Socket errors' <<<"$out"; then
    printf '          %s\n' "$(grep 'Socket errors' <<<"$out")" >&2
  fi
  if [[ -n "$bad" && "$bad" != 0 ]] || ! awk -v v="$rps" 'BEGIN { exit !(v > 0) }'; then
    errors=$((errors + 1))
  fi
  RPS=$rps
  P99=$p99
}

bench_nginx_static() {
  local dir=$1 file=$2 user_line="" attempt
  mkdir -p "$dir/nginx/html" "$dir/nginx/tmp"
  [[ $(id -u) -eq 0 ]] && user_line="user root root;"
  for attempt in 1 2 3; do
    nginx_port=$(tiketi_free_port)
    cat >"$dir/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 2;
daemon on;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  client_body_temp_path $dir/nginx/tmp/body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  access_log /dev/null combined;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location = /$file { root $dir/nginx/html; default_type application/json; }
  }
}
NGINX
    if nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" </dev/null >/dev/null 2>&1 &&
      wait_http "http://127.0.0.1:$nginx_port/$file"; then
      return 0
    fi
    echo "bench: nginx did not start on port $nginx_port (attempt $attempt)" >&2
  done
  return 1
}
