#!/usr/bin/env bash
# The local AWS emulator (moto server from PyPI) for the demo and the tests.
#   hack/moto.sh install        install moto into .venv if missing
#   hack/moto.sh start          start it on a free loopback port; prints the URL
#   hack/moto.sh stop           stop the server started by `start`
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
MOTO_VERSION=5.2.5
STATE=.moto

install() {
  if [ ! -x "$VENV/bin/moto_server" ]; then
    echo "installing moto[server]==$MOTO_VERSION into $VENV ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  install
  mkdir -p "$STATE"
  local port; port=$(free_port)
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/pid"
  echo "$port" >"$STATE/port"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "moto did not start; see $STATE/moto.log" >&2
  stop
  return 1
}

stop() {
  if [ -f "$STATE/pid" ]; then
    kill "$(cat "$STATE/pid")" 2>/dev/null || true
    rm -f "$STATE/pid" "$STATE/port"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
