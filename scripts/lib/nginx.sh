# Sourced by bash scripts (bench/http.sh, tests/cli/bench_http.sh, tests/cli/tls_http.sh):
# start_nginx FOLDER [CERT KEY] starts Debian's nginx (one worker, keep-alive without a request
# cap, no access log) serving FOLDER/www/small.txt on a free 127.0.0.1 port, over TLS (1.2 and
# 1.3) with that certificate and key when they are given. Sets nginx_port, nginx_pid; stop_nginx
# ends it. bash can't ask the kernel for a free port, so it picks one at random and tries another
# when nginx can't bind it.

nginx_pid=
nginx_port=

start_nginx() {
  local dir=$1 cert=${2:-} key=${3:-} nginx listen_tls=""
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx" ] || { echo "nginx not found: run scripts/install-deps" >&2; return 1; }
  mkdir -p "$dir/www" "$dir/tmp"
  chmod 755 "$dir"  # workers started by root run unprivileged
  echo "hello from nginx" >"$dir/www/small.txt"
  if [ -n "$cert" ]; then
    listen_tls=" ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $cert; ssl_certificate_key $key"
  fi
  for _ in 1 2 3 4 5; do
    nginx_port=$((20000 + RANDOM % 30000))
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp;
  scgi_temp_path $dir/tmp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nginx_port$listen_tls; root $dir/www; }
}
CONF
    "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
      >/dev/null 2>&1 &
    nginx_pid=$!
    for _ in $(seq 1 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && return 0
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_nginx
  done
  echo "nginx did not start; see $dir/error.log" >&2
  return 1
}

stop_nginx() {
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  nginx_pid=
}
