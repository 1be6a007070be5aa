# shellcheck shell=bash
# Render deploy/nginx/tiketi.conf.tmpl into a runnable nginx.conf and start/stop that nginx.
# Sourced, not run. Used by scripts/stack (the WEB tier of the local scaled shape) and
# scripts/check-deploy (nginx -t on the rendered file).
#
# Before tiketi_nginx_render, fill these global associative arrays:
#   TIKETI_NGINX_UPSTREAMS[service]="127.0.0.1:3001 127.0.0.1:3011"   (one entry per replica)
#   TIKETI_NGINX_LB_PORTS[service]=3101   (optional: an internal load-balancing port per service,
#                                          the local stand-in for a Kubernetes Service)

TIKETI_SERVICES_ALL=(auth event queue reservation payment notification)
declare -gA TIKETI_NGINX_UPSTREAMS=()
declare -gA TIKETI_NGINX_LB_PORTS=()

# tiketi_nginx_render TEMPLATE PREFIX LISTEN WEB_ROOT [WORKERS]
# Writes PREFIX/nginx.conf; everything nginx writes stays under PREFIX.
tiketi_nginx_render() {
  local template=$1 prefix=$2 listen=$3 web_root=$4 workers=${5:-2}
  local text svc upper lines addr internal="" user_directive mime
  mkdir -p "$prefix/tmp"
  text=$(<"$template")
  for svc in "${TIKETI_SERVICES_ALL[@]}"; do
    upper=${svc^^}
    lines=""
    if [[ -n "${TIKETI_NGINX_UPSTREAMS[$svc]:-}" ]]; then
      for addr in ${TIKETI_NGINX_UPSTREAMS[$svc]}; do
        lines+="    server $addr max_fails=3 fail_timeout=5s;"$'\n'
      done
    else
      # A service that is not running: nginx needs a server line, so point at a closed port and
      # mark it down; requests get the JSON 502.
      lines+="    server 127.0.0.1:9 down;"$'\n'
    fi
    lines=${lines%$'\n'}
    # Quoted replacements: bash 5.2 would otherwise expand `&` in them.
    text=${text//"@UPSTREAM_${upper}@"/"$lines"}
    if [[ -n "${TIKETI_NGINX_LB_PORTS[$svc]:-}" ]]; then
      internal+="  # Internal address of the $svc service (what --peer $svc=... points at)."$'\n'
      internal+="  server {"$'\n'
      internal+="    listen 127.0.0.1:${TIKETI_NGINX_LB_PORTS[$svc]};"$'\n'
      internal+="    access_log off;"$'\n'
      internal+="    error_page 502 = @bad_gateway;"$'\n'
      internal+="    location / { proxy_pass http://tiketi_$svc; }"$'\n'
      internal+="    location @bad_gateway {"$'\n'
      internal+="      default_type application/json;"$'\n'
      internal+="      return 502 '{\"error\":{\"code\":\"bad_gateway\",\"message\":\"$svc is unreachable\"}}';"$'\n'
      internal+="    }"$'\n'
      internal+="  }"$'\n'
    fi
  done
  if [[ $(id -u) -eq 0 ]]; then
    # As root, workers would run as `nobody` and could not read a checkout under /root.
    user_directive="user root root;"
  else
    user_directive="# user: inherited from the invoking user"
  fi
  mime=/etc/nginx/mime.types
  if [[ ! -f "$mime" ]]; then
    printf 'types { text/html html; application/javascript js; text/css css; application/json json; image/svg+xml svg; image/png png; }\n' >"$prefix/mime.types"
    mime="$prefix/mime.types"
  fi
  lines=${internal%$'\n'}
  text=${text//"@INTERNAL_SERVERS@"/"$lines"}
  text=${text//"@USER_DIRECTIVE@"/"$user_directive"}
  text=${text//"@WORKERS@"/"$workers"}
  text=${text//"@DAEMON@"/on}
  text=${text//"@MIME_TYPES@"/"$mime"}
  text=${text//"@ACCESS_LOG@"/"$prefix/access.log"}
  text=${text//"@LISTEN@"/"$listen"}
  text=${text//"@WEB_ROOT@"/"$web_root"}
  text=${text//"@PREFIX@"/"$prefix"}
  if grep -q '@[A-Z_]*@' <<<"$text"; then
    tiketi_log "nginx: unrendered placeholders: $(grep -o '@[A-Z_]*@' <<<"$text" | sort -u | tr '\n' ' ')"
    return 1
  fi
  printf '%s\n' "$text" >"$prefix/nginx.conf"
}

tiketi_nginx_check() {
  local prefix=$1
  nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
}

tiketi_nginx_start() {
  local prefix=$1 _
  rm -f "$prefix/nginx.pid"
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" || return 1
  for _ in $(seq 1 50); do
    [[ -s "$prefix/nginx.pid" ]] && return 0
    sleep 0.1
  done
  tiketi_log "nginx: no pid file after start, see $prefix/error.log"
  return 1
}

tiketi_nginx_stop() {
  local prefix=$1 pid _
  [[ -s "$prefix/nginx.pid" ]] || return 0
  pid=$(cat "$prefix/nginx.pid")
  if grep -q nginx "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      tiketi_alive "$pid" || break
      sleep 0.1
    done
    tiketi_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$prefix/nginx.pid"
  return 0
}
