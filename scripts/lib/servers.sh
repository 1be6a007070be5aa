# shellcheck shell=bash
# Start and stop the servers the tests and the local scaled stack need: PostgreSQL 15 and Redis 7
# from Debian packages, on 127.0.0.1, on random uncommon ports, in a scratch directory.
#
# Sourced, not run. Every function keeps its state on disk under the directory it is given, so a
# later process (`scripts/stack down`) stops exactly what an earlier one (`scripts/stack up`)
# started, and nothing else.
#
#   tiketi_free_port                 -> prints a free TCP port below the ephemeral range
#   tiketi_pg_start DIR              -> PostgreSQL in DIR/postgres; sets TIKETI_PG_PORT, TIKETI_PG_URL
#   tiketi_pg_stop DIR [--purge]     -> pg_ctl stop -m fast (and delete the data with --purge)
#   tiketi_redis_start DIR           -> Redis in DIR/redis; sets TIKETI_REDIS_PORT, TIKETI_REDIS_URL
#   tiketi_redis_stop DIR [--purge]  -> kill the PID in DIR/redis/redis.pid
#   tiketi_servers_start DIR / tiketi_servers_stop DIR [--purge]  -> both of the above

TIKETI_PG_BIN=${TIKETI_PG_BIN:-/usr/lib/postgresql/15/bin}

tiketi_log() { printf '%s\n' "$*" >&2; }

# A port no socket uses now, below the kernel's ephemeral range. Ports handed out by the kernel
# (outgoing connections, listeners on port 0 — the test suite makes thousands of both) come from
# that range, so a port picked inside it can be taken between picking and binding; that is how a
# CI run once lost nginx's internal port. Other sessions on this machine use common ports, so pick
# at random in 10000..(ephemeral start - 1); callers still retry if they lose a race for it.
tiketi_free_port() {
  local port tries=0 used lo=32768 _hi span
  read -r lo _hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  ((lo > 12000)) || lo=32768
  span=$((lo - 10000))
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed -E 's/.*:([0-9]+)$/\1/' | sort -u)
  while ((tries < 200)); do
    port=$((10000 + (RANDOM * 32768 + RANDOM) % span))
    if ! grep -qx "$port" <<<"$used"; then
      printf '%s\n' "$port"
      return 0
    fi
    tries=$((tries + 1))
  done
  tiketi_log "servers: no free port found"
  return 1
}

# Alive and not a zombie: on these machines PID 1 reaps orphans late, and `kill -0` succeeds on a
# zombie, so a stopped daemon would look alive.
tiketi_alive() {
  local state
  [[ -n "$1" && -r "/proc/$1/stat" ]] || return 1
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# True when TCP port $1 on 127.0.0.1 has a listener.
tiketi_port_in_use() {
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user.
_tiketi_as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    su postgres -s /bin/bash -c "$1"
  else
    bash -c "$1"
  fi
}

# The data must live where the postgres user can reach it. DIR may sit under /root (mode 700), so
# fall back to a postgres-owned directory under /tmp and remember where it is.
_tiketi_pg_home() {
  local dir=$1 home
  if [[ -f "$dir/postgres/home" ]]; then
    cat "$dir/postgres/home"
    return 0
  fi
  mkdir -p "$dir/postgres"
  home="$dir/postgres/cluster"
  if [[ $(id -u) -eq 0 ]]; then
    mkdir -p "$home"
    chown postgres: "$home"
    if ! su postgres -s /bin/bash -c "test -w '$home'"; then
      rmdir "$home"
      home=$(mktemp -d /tmp/tiketi-pg.XXXXXX)
      chown postgres: "$home"
    fi
  else
    mkdir -p "$home"
  fi
  printf '%s\n' "$home" >"$dir/postgres/home"
  printf '%s\n' "$home"
}

# Start the postmaster on a free port (retrying when another process wins the port); prints it.
_tiketi_pg_launch() {
  local dir=$1 home=$2 q="'$2'" port attempt
  for attempt in 1 2 3; do
    if [[ -f "$dir/postgres/port" && $attempt -eq 1 ]]; then
      port=$(cat "$dir/postgres/port")  # restart on the port it had, when still free
      tiketi_port_in_use "$port" && port=$(tiketi_free_port)
    else
      port=$(tiketi_free_port) || return 1
    fi
    if _tiketi_as_pg "'$TIKETI_PG_BIN/pg_ctl' -D $q/data -l $q/postgres.log -w -t 60 \
          -o \"-p $port -k $q -c listen_addresses=127.0.0.1\" start" >/dev/null 2>&1; then
      printf '%s\n' "$port"
      return 0
    fi
    tiketi_log "servers: PostgreSQL did not start on port $port (attempt $attempt)"
    tail -n 5 "$home/postgres.log" >&2 || true
  done
  return 1
}

tiketi_pg_start() {
  local dir=$1 home port q
  # A missing DIR is created; never fall back to / (an empty $dir would put data in /postgres).
  if ! mkdir -p "$dir" || ! dir=$(cd "$dir" && pwd) || [[ -z "$dir" || "$dir" == / ]]; then
    tiketi_log "servers: bad directory '$1'"
    return 1
  fi
  home=$(_tiketi_pg_home "$dir") || return 1
  q="'$home'"
  if [[ ! -f "$home/data/PG_VERSION" ]]; then
    # --no-sync only skips the one-off flush of the fresh cluster; the running server keeps
    # fsync=on (durable commits, as in production).
    if ! _tiketi_as_pg "'$TIKETI_PG_BIN/initdb' -D $q/data -U postgres -E UTF8 --locale=C.UTF-8 \
          --auth-local=trust --auth-host=trust --no-sync" >"$dir/postgres/initdb.log" 2>&1; then
      tiketi_log "servers: initdb failed, see $dir/postgres/initdb.log"
      tail -n 20 "$dir/postgres/initdb.log" >&2
      return 1
    fi
    cat >"$dir/postgres/tiketi.conf" <<'EOF'
# Added by scripts/lib/servers.sh: durable like production, sized modestly for a shared machine.
listen_addresses = '127.0.0.1'
fsync = on
synchronous_commit = on
shared_buffers = 256MB
max_connections = 300
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %u@%d '
EOF
    _tiketi_as_pg "cat >> $q/data/postgresql.conf" <"$dir/postgres/tiketi.conf"
    _tiketi_as_pg "printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' > $q/data/pg_hba.conf"
  fi
  # Already running from an earlier start in this directory (a script that died before its stop)?
  # Use it rather than start a second postmaster on the same data.
  if [[ -f "$dir/postgres/port" && -f "$home/data/postmaster.pid" ]] &&
    "$TIKETI_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/postgres/port")"; then
    port=$(cat "$dir/postgres/port")
  else
    port=$(_tiketi_pg_launch "$dir" "$home") || return 1
  fi
  printf '%s\n' "$port" >"$dir/postgres/port"
  local i
  for i in $(seq 1 100); do
    "$TIKETI_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.1
  done
  if ! "$TIKETI_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    tiketi_log "servers: PostgreSQL on port $port is not ready"
    return 1
  fi
  # CREATEDB lets tests make a throw-away database of their own.
  "$TIKETI_PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAtX -v ON_ERROR_STOP=1 >/dev/null <<'EOF' || return 1
SELECT 'CREATE ROLE tiketi LOGIN CREATEDB'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tiketi') \gexec
SELECT 'CREATE DATABASE tiketi OWNER tiketi'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tiketi') \gexec
EOF
  TIKETI_PG_PORT=$port
  TIKETI_PG_URL="postgres://tiketi@127.0.0.1:$port/tiketi"
  export TIKETI_PG_PORT TIKETI_PG_URL
  printf '%s\n' "$TIKETI_PG_URL" >"$dir/postgres/url"
}

tiketi_pg_stop() {
  local dir=$1 purge=${2:-} home pid
  [[ -f "$dir/postgres/home" ]] || return 0
  home=$(cat "$dir/postgres/home")
  if [[ -f "$home/data/postmaster.pid" ]]; then
    if ! _tiketi_as_pg "'$TIKETI_PG_BIN/pg_ctl' -D '$home/data' -w -t 30 stop -m fast" >/dev/null 2>&1; then
      # pg_ctl failed (half-started server?): stop the postmaster it recorded, and only that one.
      pid=$(head -n 1 "$home/data/postmaster.pid" 2>/dev/null || true)
      if [[ -n "$pid" ]] && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
      fi
    fi
  fi
  if [[ "$purge" == "--purge" ]]; then
    rm -rf "$home" "$dir/postgres"
  fi
}

tiketi_redis_start() {
  local dir=$1 port attempt i
  # A missing DIR is created; never fall back to / (an empty $dir would put data in /redis).
  if ! mkdir -p "$dir" || ! dir=$(cd "$dir" && pwd) || [[ -z "$dir" || "$dir" == / ]]; then
    tiketi_log "servers: bad directory '$1'"
    return 1
  fi
  mkdir -p "$dir/redis"
  if [[ -s "$dir/redis/redis.pid" && -f "$dir/redis/port" ]] && tiketi_alive "$(cat "$dir/redis/redis.pid")" &&
    [[ "$(redis-cli -h 127.0.0.1 -p "$(cat "$dir/redis/port")" ping 2>/dev/null)" == "PONG" ]]; then
    TIKETI_REDIS_PORT=$(cat "$dir/redis/port")
    TIKETI_REDIS_URL="redis://127.0.0.1:$TIKETI_REDIS_PORT"
    export TIKETI_REDIS_PORT TIKETI_REDIS_URL
    return 0
  fi
  for attempt in 1 2 3; do
    if [[ -f "$dir/redis/port" && $attempt -eq 1 ]] && ! tiketi_port_in_use "$(cat "$dir/redis/port")"; then
      port=$(cat "$dir/redis/port")
    else
      port=$(tiketi_free_port) || return 1
    fi
    rm -f "$dir/redis/redis.pid"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" --save '' \
      --appendonly yes --appendfsync everysec --daemonize yes \
      --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null 2>&1 || true
    for i in $(seq 1 100); do
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" && -s "$dir/redis/redis.pid" ]]; then
        TIKETI_REDIS_PORT=$port
        TIKETI_REDIS_URL="redis://127.0.0.1:$port"
        export TIKETI_REDIS_PORT TIKETI_REDIS_URL
        printf '%s\n' "$port" >"$dir/redis/port"
        printf '%s\n' "$TIKETI_REDIS_URL" >"$dir/redis/url"
        return 0
      fi
      # A daemonized redis that lost the port race exits; stop waiting for it early.
      if ((i > 10)) && [[ ! -s "$dir/redis/redis.pid" ]]; then
        break
      fi
      sleep 0.1
    done
    tiketi_log "servers: Redis did not start on port $port (attempt $attempt)"
    tail -n 5 "$dir/redis/redis.log" >&2 2>/dev/null || true
    tiketi_redis_stop "$dir"
  done
  return 1
}

tiketi_redis_stop() {
  local dir=$1 purge=${2:-} pid i
  if [[ -s "$dir/redis/redis.pid" ]]; then
    pid=$(cat "$dir/redis/redis.pid")
    # Only our redis-server: the PID file may be stale and the PID reused.
    if grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do
        tiketi_alive "$pid" || break
        sleep 0.1
      done
      tiketi_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$dir/redis/redis.pid"
  fi
  if [[ "$purge" == "--purge" ]]; then
    rm -rf "$dir/redis"
  fi
  return 0
}

tiketi_servers_start() {
  tiketi_pg_start "$1" && tiketi_redis_start "$1"
}

tiketi_servers_stop() {
  tiketi_redis_stop "$1" "${2:-}"
  tiketi_pg_stop "$1" "${2:-}"
}
