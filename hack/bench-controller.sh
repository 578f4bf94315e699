#!/usr/bin/env bash
# Controller bench without a cluster: the `run` controller against hack/fake-apiserver.py (a fake
# Kubernetes API server) and moto (the AWS emulator).
#
#   bash hack/bench-controller.sh            # 100 policies x 4 regions, --concurrency 8
#   BLO_BIN=target/release/bedrock-logging-operator bash hack/bench-controller.sh
#
# Prints plain `key=value` lines:
#   idle_rss_mib / idle_peak_rss_mib    controller with no policy, after ~5 s
#   time_to_all_status_s / time_to_all_ready_s / ready_policies=N/100
#   loaded_rss_mib                      RSS once every policy has been reconciled
#   loaded_rss_anon_mib / _file_mib     the same split into anonymous (heap, stacks) and file
#                                       pages (the binary and its libraries)
#   status_patches_after_settle_30s     status writes while nothing changes (should be 0)
#   apply_to_ready_s                    one more policy added while 100 are loaded
#   peak_rss_mib                        VmHWM of the loaded controller at the end
# then the controller's bedrock_logging_reconciles_total lines.
#
# Each policy assumes a role in its own fake account (arn:aws:iam::<100000000000+i>:role/blo);
# moto's AssumeRole answers with credentials acting in that account, so the 100 policies do not
# conflict (two policies on the same account+region conflict by design).
#
# Knobs (env): BENCH_POLICIES=100 BENCH_REGIONS=4 BENCH_CONCURRENCY=8 BENCH_IDLE_SECONDS=5
# BENCH_SETTLE_SECONDS=30 BENCH_CLOUDWATCH=0 (1: CloudWatch destination + role per policy too)
# BENCH_RESYNC=5m (spec.resyncInterval; below BENCH_SETTLE_SECONDS the settle window covers a
# resync) BENCH_CONVERGE_SECONDS=360 BENCH_TIMEOUT=600 (whole run) BENCH_KEEP=1 (keep the logs)
#
# Exit code: 0; 1 when not every policy got Ready, the controller died, or it kept patching
# status while nothing changed; 124 on the time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The whole bench is bounded in time (default 10 minutes).
if [ -z "${BLO_BENCH_UNDER_TIMEOUT:-}" ]; then
  export BLO_BENCH_UNDER_TIMEOUT=1
  set +e
  timeout -k 20 "${BENCH_TIMEOUT:-600}" bash "$0" "$@"
  rc=$?
  [ "$rc" = 124 ] && echo "bench: FAILED: time limit of ${BENCH_TIMEOUT:-600}s reached" >&2
  exit "$rc"
fi

POLICIES=${BENCH_POLICIES:-100}
REGIONS=${BENCH_REGIONS:-4}
CONCURRENCY=${BENCH_CONCURRENCY:-8}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-5}
SETTLE_SECONDS=${BENCH_SETTLE_SECONDS:-30}
BIN=${BLO_BIN:-$ROOT/target/debug/bedrock-logging-operator}
PY=python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/blo-bench.XXXXXX")
MOTO_PID= FAKE_PID= CTL_PID= FAKE_URL= CTL_URL=
FAILED=0

log() { echo "bench: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

stop_pid() { # stop_pid PID: TERM, then KILL after BENCH_STOP_SECONDS (5)
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((${BENCH_STOP_SECONDS:-5} * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$CTL_PID"; stop_pid "$FAKE_PID"; stop_pid "$MOTO_PID"
  if [ "$rc" != 0 ] || [ -n "${BENCH_KEEP:-}" ]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 124' TERM INT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

http_ok() { # http_ok URL: 0 if it answers 2xx within 2 s
  $PY - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
EOF
}

json_get() { # json_get URL EXPR [METHOD]: print eval(EXPR) over the JSON answer `d`
  $PY - "$1" "$2" "${3:-GET}" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], method=sys.argv[3], data=b"" if sys.argv[3] == "POST" else None)
d = json.load(urllib.request.urlopen(req, timeout=5))
v = eval(sys.argv[2], {"json": json}, {"d": d})
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)
EOF
}

mib() { # mib PID FIELD: VmRSS / VmHWM in MiB, one decimal
  awk -v f="$2:" '$1 == f { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

now() { date +%s.%N; }
elapsed() { $PY -c "print(f'{$(now) - $1:.2f}')"; }

# ---------------------------------------------------------------- prerequisites
for _ in $(seq 1 60); do [ -x "$BIN" ] && break; log "waiting for $BIN (being rebuilt?)"; sleep 2; done
[ -x "$BIN" ] || die "no controller binary at $BIN (set BLO_BIN or build it)"
log "binary: $BIN"
log "work dir: $WORK"

# moto: installed by hack/moto.sh; started here on our own port with our own pid, so that a
# concurrent `hack/moto.sh start/stop` (demo, another bench) never stops or resets ours.
bash hack/moto.sh install
MOTO_PORT=$(free_port)
"$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
for _ in $(seq 1 100); do http_ok "$MOTO_URL/moto-api/data.json" && break; sleep 0.1; done
http_ok "$MOTO_URL/moto-api/data.json" || die "moto did not start (see $WORK/moto.log)"
log "moto at $MOTO_URL"

export AWS_ENDPOINT_URL=$MOTO_URL AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE 2>/dev/null || true

start_fake() { # start_fake PHASE N
  local cw=()
  [ "${BENCH_CLOUDWATCH:-0}" = 1 ] && cw=(--cloudwatch)
  rm -f "$WORK/fake.port"
  $PY "$ROOT/hack/fake-apiserver.py" --port 0 --policies "$2" --regions "$REGIONS" "${cw[@]}" \
    --resync "${BENCH_RESYNC:-5m}" --port-file "$WORK/fake.port" --kubeconfig "$WORK/kubeconfig" \
    >"$WORK/fake-$1.log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 1 100); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
  [ -s "$WORK/fake.port" ] || die "fake API server did not start (see $WORK/fake-$1.log)"
  FAKE_URL="http://127.0.0.1:$(cat "$WORK/fake.port")"
}

start_controller() { # start_controller PHASE
  local port; port=$(free_port)
  CTL_URL="http://127.0.0.1:$port"
  KUBECONFIG="$WORK/kubeconfig" "$BIN" run --http-addr "127.0.0.1:$port" \
    --concurrency "$CONCURRENCY" --log-format text --log-level info \
    >"$WORK/controller-$1.log" 2>&1 &
  CTL_PID=$!
  for _ in $(seq 1 600); do
    if ! kill -0 "$CTL_PID" 2>/dev/null; then
      wait "$CTL_PID" && rc=0 || rc=$?
      CTL_PID=
      log "controller exited with code $rc during start-up; its log:"
      sed 's/^/  | /' "$WORK/controller-$1.log" | head -40 >&2
      die "controller did not start"
    fi
    http_ok "$CTL_URL/readyz" && return 0
    sleep 0.1
  done
  die "controller not ready within 60 s (see $WORK/controller-$1.log)"
}

check_alive() {
  kill -0 "$CTL_PID" 2>/dev/null && return 0
  log "controller died; last lines of its log:"
  tail -40 "$WORK/controller-$1.log" | sed 's/^/  | /' >&2
  CTL_PID=
  die "controller died during the $1 phase"
}

# ---------------------------------------------------------------- phase 1: idle
log "phase idle: 0 policies for ${IDLE_SECONDS}s"
start_fake idle 0
start_controller idle
sleep "$IDLE_SECONDS"
check_alive idle
echo "idle_rss_mib=$(mib "$CTL_PID" VmRSS)"
echo "idle_peak_rss_mib=$(mib "$CTL_PID" VmHWM)"
stop_pid "$CTL_PID"; CTL_PID=
stop_pid "$FAKE_PID"; FAKE_PID=

# ---------------------------------------------------------------- phase 2: loaded
$PY -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$MOTO_URL/moto-api/reset', method='POST'), timeout=5)"
log "phase loaded: $POLICIES policies x $REGIONS regions, --concurrency $CONCURRENCY"
start_fake loaded "$POLICIES"
T0=$(now)
start_controller loaded
log "controller ready after $(elapsed "$T0")s; waiting for every policy to be Ready"
T_STATUS= T_READY=
CONVERGE_LIMIT=${BENCH_CONVERGE_SECONDS:-360}
last_report=0
while :; do
  check_alive loaded
  read -r with_status ready <<<"$(json_get "$FAKE_URL/debug/stats" '"%d %d" % (d["policies_with_status"], d["ready_policies"])')"
  t=$(elapsed "$T0")
  [ -z "$T_STATUS" ] && [ "$with_status" -ge "$POLICIES" ] && T_STATUS=$t
  if [ "$ready" -ge "$POLICIES" ]; then T_READY=$t; break; fi
  if [ "${t%.*}" -ge "$CONVERGE_LIMIT" ]; then
    log "not every policy Ready after ${CONVERGE_LIMIT}s"
    FAILED=1
    break
  fi
  if [ "${t%.*}" -ge $((last_report + 15)) ]; then
    last_report=${t%.*}
    log "t=${t}s: $with_status/$POLICIES with a status, $ready/$POLICIES Ready, RSS $(mib "$CTL_PID" VmRSS) MiB"
  fi
  sleep 0.5
done
echo "time_to_all_status_s=${T_STATUS:-timeout}"
echo "time_to_all_ready_s=${T_READY:-timeout}"
echo "ready_policies=$ready/$POLICIES"
echo "loaded_rss_mib=$(mib "$CTL_PID" VmRSS)"
# RssAnon: heap, stacks (the controller's own); RssFile: pages of the binary and libraries
# (shared, reclaimable; far larger for a debug build than for the release build).
echo "loaded_rss_anon_mib=$(mib "$CTL_PID" RssAnon) loaded_rss_file_mib=$(mib "$CTL_PID" RssFile)"
$PY - "$FAKE_URL/debug/stats" <<'EOF' || true
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
c = lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True)
print(f"loaded_status_account_ids={d['distinct_status_account_ids']}")
print(f"loaded_region_states={c(d['region_states'])}")
print(f"loaded_ready_reasons={c(d['ready_reasons'])}")
print(f"loaded_status_patches={d['status_patches_total']} (changing the object: {d['status_changes_total']})")
print(f"loaded_finalizer_patches={d['finalizer_patches_total']}")
print(f"loaded_events={d['events_total']}")
EOF

aws_calls() { # aws_calls: "total writes" from the controller's /metrics
  $PY - "$CTL_URL/metrics" <<'EOF'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
total = writes = 0
for line in text.splitlines():
    m = re.match(r'bedrock_logging_aws_calls_total\{(.*)\} (\S+)', line)
    if not m:
        continue
    n = float(m.group(2))
    op = re.search(r'operation="([^"]*)"', m.group(1)).group(1)
    total += n
    if not re.match(r"(Get|List|Describe|Head|Lookup)", op) and op != "AssumeRole":
        writes += n
print(int(total), int(writes))
EOF
}

# ---------------------------------------------------------------- settle: nothing changes
log "settling ${SETTLE_SECONDS}s (no status patch, event or AWS write is expected)"
read -r P0 E0 <<<"$(json_get "$FAKE_URL/debug/stats" '"%d %d" % (d["status_patches_total"], d["events_total"])')"
read -r A0 W0 <<<"$(aws_calls)"
sleep "$SETTLE_SECONDS"
check_alive loaded
read -r P1 E1 <<<"$(json_get "$FAKE_URL/debug/stats" '"%d %d" % (d["status_patches_total"], d["events_total"])')"
read -r A1 W1 <<<"$(aws_calls)"
echo "status_patches_after_settle_${SETTLE_SECONDS}s=$((P1 - P0))"
echo "events_after_settle_${SETTLE_SECONDS}s=$((E1 - E0))"
echo "aws_calls_after_settle_${SETTLE_SECONDS}s=$((A1 - A0))"
echo "aws_write_calls_after_settle_${SETTLE_SECONDS}s=$((W1 - W0))"
if [ $((P1 - P0)) -gt 0 ]; then
  FAILED=1
  log "status was patched $((P1 - P0)) times while nothing changed; busiest policies:"
  json_get "$FAKE_URL/debug/stats" 'sorted(d["status_patches_by_policy"].items(), key=lambda kv: -kv[1])[:5]' >&2
fi

# ---------------------------------------------------------------- one more policy: apply -> Ready
NEW=bench-apply
json_get "$FAKE_URL/debug/add?name=$NEW" 'd["metadata"]["name"]' POST >/dev/null
APPLY_T0=$(now)
apply_to_ready=
while :; do
  check_alive loaded
  apply_to_ready=$(json_get "$FAKE_URL/debug/stats?policy=$NEW" 'd["policy"]["apply_to_ready_s"]')
  [ "$apply_to_ready" != null ] && break
  if [ "$(elapsed "$APPLY_T0" | cut -d. -f1)" -ge 120 ]; then apply_to_ready=timeout; FAILED=1; break; fi
  sleep 0.2
done
echo "apply_to_ready_s=$apply_to_ready"

# ---------------------------------------------------------------- totals
echo "peak_rss_mib=$(mib "$CTL_PID" VmHWM)"
echo "final_rss_mib=$(mib "$CTL_PID" VmRSS)"
$PY - "$CTL_URL/metrics" <<'EOF'
import sys, urllib.request
for line in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if line.startswith("bedrock_logging_reconciles_total"):
        print(line)
EOF
warn=$(grep -c -E ' WARN | ERROR |"level":"(WARN|ERROR)"' "$WORK/controller-loaded.log" || true)
echo "controller_warnings=$warn"
if [ "$warn" -gt 0 ]; then
  log "distinct warnings/errors in the controller log (first 10):"
  grep -E ' WARN | ERROR ' "$WORK/controller-loaded.log" | sed -E 's/^[^ ]+ +//; s/policy=[^ ]+/policy=…/' \
    | sort | uniq -c | sort -rn | head -10 | cut -c1-300 >&2
fi
[ "$FAILED" = 0 ] || die "see the figures above (logs in $WORK)"
log "done"
