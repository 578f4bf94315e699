#!/usr/bin/env bash
# Organization bench without a cluster: the `run` controller against hack/fake-apiserver.py (a fake
# Kubernetes API server) and moto (the AWS emulator), with one cluster-scoped organization policy
# (spec.accounts.organization) over BENCH_ACCOUNTS member accounts in an OU.
#
#   bash hack/bench-org.sh                    # 500 accounts x 4 regions
#   BENCH_ACCOUNTS=20 bash hack/bench-org.sh  # a quick run
#   BLO_BIN=target/release/bedrock-logging-operator bash hack/bench-org.sh
#
# moto: an organization, an OU "bench" under the root and BENCH_ACCOUNTS accounts moved into it
# (boto3 from .venv). The policy (bench-org) governs the OU, assumes
# arn:aws:iam::<acct>:role/BedrockLoggingOperator in each account (plain moto admits any
# AssumeRole), S3 only (bucket bench-{accountId}-{region}), a KMS key per region, resyncInterval
# BENCH_RESYNC=60s (so that one steady-state pass comes quickly).
#
# Phases and their `key=value` lines:
#   org (1 replica; --organizations-call-interval-ms BENCH_ORG_CALL_INTERVAL_MS=50 instead of the
#   default 1000, --account-concurrency 16, --concurrency 4):
#     org_idle_rss_mib / org_idle_peak_rss_mib   controller with no policy, after BENCH_IDLE_SECONDS
#     org_time_to_all_compliant_s                policy created -> Ready True and
#                                                status.accounts.total == BENCH_ACCOUNTS
#     org_ready_reason / org_ready_message / org_status_accounts / org_status_regions
#     org_loaded_rss_mib (VmRSS) / org_peak_rss_mib (VmHWM, at the end of the phase)
#     org_discovery_calls                        ListAccountsForParent + ListOrganizationalUnitsForParent
#     org_region_compliant_series                bedrock_logging_region_compliant series at 1
#     org_aws_calls_to_converge / org_aws_write_calls_to_converge
#     org_steady_*: one resync pass after Ready (see "steady state" below):
#       org_steady_passes / org_steady_window_s / org_steady_aws_calls / org_steady_calls_by_operation
#       org_aws_calls_per_region_per_resync = calls / (accounts x regions)
#       org_aws_write_calls_in_resync (not Get/List/Describe/Head/Lookup, not AssumeRole /
#       GetCallerIdentity) / org_status_patches_in_resync
#   sharded (moto reset, the organization created again; replicas --shard-index 0|1 --shard-count 2):
#     sharded_time_to_all_compliant_s            controllers started (the policy served from the
#                                                start, --policy-file) -> Ready True on the totals
#     sharded_replica{0,1}_rss_mib / _peak_rss_mib / _accounts (distinct `account` labels of
#     bedrock_logging_region_compliant at 1) / _expected_accounts (fnv1a32(id) % 2 == index)
#     accounts_reconciled_by_both / accounts_reconciled_by_neither / accounts_on_the_wrong_shard
#     sharded_status_shards (index, count, accounts) / sharded_status_accounts / sharded_ready_*
#   allregions (moto reset; one policy `allRegions: {}`, the operator's own account, S3 only):
#     allregions_regions_governed (status.totalRegions) / allregions_time_to_all_compliant_s
#     allregions_rss_mib / allregions_steady_* / allregions_aws_calls_per_region_per_resync
#   then controller_warnings_<phase>. A controller still running 5 s after SIGTERM (at the end of
#   a phase) is killed and said on stderr ("... still running 5 s after SIGTERM: SIGKILL").
#
# Steady state: right after Ready the bench waits until the controller's AWS calls are quiet for
# 3 s, records bedrock_logging_aws_calls_total and the number of finished passes, then waits for
# the next pass to finish and takes the difference, which covers exactly one pass. A "pass" is a
# reconcile longer than 40 ms in bedrock_logging_reconcile_duration_seconds (the not-yet-due
# wake-ups from watch events return at once); bedrock_logging_reconciles_total is not used: the
# organization path does not count its passes there.
#
# Knobs (env): BENCH_ACCOUNTS=500 BENCH_REGIONS=4 (1-16, taken from us-east-1, eu-west-1,
# us-west-2, ap-northeast-1, ...) BENCH_ACCOUNT_CONCURRENCY=16 BENCH_CONCURRENCY=4
# BENCH_ORG_CALL_INTERVAL_MS=50 BENCH_RESYNC=60s BENCH_IDLE_SECONDS=5 BENCH_CONVERGE_SECONDS=900
# (per phase) BENCH_STEADY=1 (0: skip the steady-state passes) BENCH_PHASES="org sharded allregions"
# BENCH_TIMEOUT=1800 (whole run) BENCH_KEEP=1 (keep the logs)
#
# Exit code: 0; 1 when a phase did not reach Ready, an account was reconciled by both replicas or
# by neither, or a controller died; 124 on the time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The whole bench is bounded in time (default 30 minutes).
if [ -z "${BLO_BENCH_UNDER_TIMEOUT:-}" ]; then
  export BLO_BENCH_UNDER_TIMEOUT=1
  set +e
  timeout -k 20 "${BENCH_TIMEOUT:-1800}" bash "$0" "$@"
  rc=$?
  [ "$rc" = 124 ] && echo "bench: FAILED: time limit of ${BENCH_TIMEOUT:-1800}s reached" >&2
  exit "$rc"
fi

ACCOUNTS=${BENCH_ACCOUNTS:-500}
REGIONS=${BENCH_REGIONS:-4}
ACCOUNT_CONCURRENCY=${BENCH_ACCOUNT_CONCURRENCY:-16}
CONCURRENCY=${BENCH_CONCURRENCY:-4}
ORG_CALL_INTERVAL_MS=${BENCH_ORG_CALL_INTERVAL_MS:-50}
RESYNC=${BENCH_RESYNC:-60s}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-5}
CONVERGE_LIMIT=${BENCH_CONVERGE_SECONDS:-900}
PHASES=${BENCH_PHASES:-org sharded allregions}
POLICY=bench-org
BIN=${BLO_BIN:-$ROOT/target/debug/bedrock-logging-operator}
PY=python3
VPY=$ROOT/.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/blo-bench-org.XXXXXX")
MOTO_PID= FAKE_PID= FAKE_URL= MOTO_URL=
CTL_PIDS=() CTL_NAMES=() # every controller started (for the cleanup)
CTL_PID= CTL_URL= # the last one started
FAILED=0

log() { echo "bench: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
fail() { log "FAILED: $*"; FAILED=1; }

stop_pid() { # stop_pid PID [NAME]: TERM, then KILL after 5 s (said when NAME is given)
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  [ -z "${2:-}" ] || log "$2 (pid $pid) still running 5 s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_controllers() { # in the order started; a controller still running 5 s after SIGTERM is said
  local i
  for i in "${!CTL_PIDS[@]}"; do stop_pid "${CTL_PIDS[$i]}" "controller ${CTL_NAMES[$i]}"; done
  CTL_PIDS=() CTL_NAMES=()
}

cleanup() {
  local rc=$?
  stop_controllers; stop_pid "$FAKE_PID"; stop_pid "$MOTO_PID"
  if [ "$rc" != 0 ] || [ -n "${BENCH_KEEP:-}" ]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 124' TERM INT

case "$ACCOUNTS" in ''|*[!0-9]*) die "BENCH_ACCOUNTS must be a number";; esac
[ "$ACCOUNTS" -ge 1 ] || die "BENCH_ACCOUNTS must be at least 1"
{ [ "$REGIONS" -ge 1 ] && [ "$REGIONS" -le 16 ]; } 2>/dev/null || die "BENCH_REGIONS must be 1-16"

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

http_ok() { # http_ok URL: 0 if it answers 2xx within 2 s
  $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

http_post() { # http_post URL [JSON-FILE]: POST (the file as a JSON body), fail on an error
  $PY - "$@" <<'EOF'
import sys, urllib.request
data = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else b""
req = urllib.request.Request(sys.argv[1], data=data, method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=30).read()
EOF
}

json_get() { # json_get URL EXPR: print eval(EXPR) over the JSON answer `d`
  $PY - "$1" "$2" <<'EOF'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
v = eval(sys.argv[2], {"json": json}, {"d": d})
print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) or v is None else v)
EOF
}

mib() { # mib PID FIELD: VmRSS / VmHWM in MiB, one decimal
  awk -v f="$2:" '$1 == f { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

now() { date +%s.%N; }
elapsed() { $PY -c "print(f'{$(now) - $1:.2f}')"; }

# The controller's /metrics, summarized: bench_prom.py URL WHAT
#   calls       "total writes discovery" of bedrock_logging_aws_calls_total
#   ops         {operation: calls} (JSON)
#   passes      reconciles longer than 40 ms (bedrock_logging_reconcile_duration_seconds)
#   accounts    the distinct `account` labels of bedrock_logging_region_compliant at 1 (JSON list)
#   compliant   the number of bedrock_logging_region_compliant series at 1
cat >"$WORK/bench_prom.py" <<'EOF'
import json, re, sys, urllib.request
url, what = sys.argv[1], sys.argv[2]
text = urllib.request.urlopen(url, timeout=10).read().decode()
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
def labels(s):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', s or ""))
series = []
for line in text.splitlines():
    m = LINE.match(line)
    if m:
        series.append((m.group(1), labels(m.group(2)), float(m.group(3))))
READ = re.compile(r"^(Get|List|Describe|Head|Lookup)")
if what in ("calls", "ops"):
    total = writes = discovery = 0
    ops = {}
    for name, l, v in series:
        if name != "bedrock_logging_aws_calls_total":
            continue
        op = l.get("operation", "")
        total += v
        ops[op] = ops.get(op, 0) + int(v)
        if not READ.match(op) and op not in ("AssumeRole", "GetCallerIdentity"):
            writes += v
        if op in ("ListAccountsForParent", "ListOrganizationalUnitsForParent"):
            discovery += v
    if what == "calls":
        print(int(total), int(writes), int(discovery))
    else:
        print(json.dumps(dict(sorted(ops.items())), separators=(",", ":")))
elif what == "passes":
    count, fast = 0, None
    buckets = []
    for name, l, v in series:
        if name == "bedrock_logging_reconcile_duration_seconds_count":
            count = v
        elif name == "bedrock_logging_reconcile_duration_seconds_bucket" and l.get("le") != "+Inf":
            buckets.append((float(l["le"]), v))
    for le, v in sorted(buckets):
        if le >= 0.04 - 1e-9:
            fast = v
            break
    print(int(count - (fast or 0)))
elif what in ("accounts", "compliant"):
    on = [l for name, l, v in series if name == "bedrock_logging_region_compliant" and v == 1]
    if what == "compliant":
        print(len(on))
    else:
        print(json.dumps(sorted({l.get("account", "") for l in on})))
else:
    sys.exit(f"bench_prom.py: unknown {what}")
EOF
prom() { $PY "$WORK/bench_prom.py" "$1/metrics" "$2"; }

# moto's side (boto3 from the venv): bench_org_setup.py N OUT -> an organization, an OU
# "bench", N accounts in it
cat >"$WORK/bench_org_setup.py" <<'EOF'
import json, os, sys, time
import boto3
n, out = int(sys.argv[1]), sys.argv[2]
org = boto3.client("organizations", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
t = time.monotonic()
org.create_organization(FeatureSet="ALL")
root = org.list_roots()["Roots"][0]["Id"]
ou = org.create_organizational_unit(ParentId=root, Name="bench")["OrganizationalUnit"]["Id"]
accounts = []
for i in range(n):
    st = org.create_account(Email=f"bench-{i}@example.com", AccountName=f"bench-{i}")
    aid = st["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=aid, SourceParentId=root, DestinationParentId=ou)
    accounts.append(aid)
if len(set(accounts)) != n:
    sys.exit(f"moto gave {len(set(accounts))} distinct account ids for {n} accounts")
with open(out, "w") as f:
    json.dump({"root": root, "ou": ou, "accounts": accounts}, f)
print(f"bench: organization {root} / {ou}: {n} accounts in {time.monotonic() - t:.1f}s",
      file=sys.stderr)
EOF

# The policy: bench_policy.py KIND OUT [OU]; KIND org (spec.accounts over OU) or allregions
cat >"$WORK/bench_policy.py" <<'EOF'
import json, os, sys
kind, out = sys.argv[1], sys.argv[2]
all_regions = ["us-east-1", "eu-west-1", "us-west-2", "ap-northeast-1", "eu-central-1",
               "us-east-2", "ap-southeast-1", "ap-southeast-2", "eu-west-2", "eu-west-3",
               "ca-central-1", "ap-south-1", "sa-east-1", "eu-north-1", "ap-northeast-2",
               "us-west-1"]
spec = {
    "kmsKey": {"create": {"alias": "alias/bench"}},
    "s3": {"bucketName": "bench-{accountId}-{region}"},
    "resyncInterval": os.environ["RESYNC"],
}
if kind == "org":
    spec["regions"] = all_regions[:int(os.environ["REGIONS"])]
    spec["accounts"] = {
        "organization": {"organizationalUnits": [sys.argv[3]], "excludeAccounts": [],
                         "discoveryInterval": "10m"},
        "roleName": "BedrockLoggingOperator",
    }
else:
    spec["allRegions"] = {}
with open(out, "w") as f:
    json.dump({"apiVersion": "bedrocklogging.io/v1alpha1", "kind": "BedrockLoggingPolicy",
               "metadata": {"name": os.environ["POLICY"],
                            "labels": {"app.kubernetes.io/part-of": "blo-bench"}},
               "spec": spec}, f, indent=2)
EOF

# ---------------------------------------------------------------- prerequisites
for _ in $(seq 1 60); do [ -x "$BIN" ] && break; log "waiting for $BIN (being rebuilt?)"; sleep 2; done
[ -x "$BIN" ] || die "no controller binary at $BIN (set BLO_BIN or build it)"
"$BIN" run --help | grep -q -- '--shard-count' || die "$BIN has no --shard-count (an older build?)"
log "binary: $BIN"
log "work dir: $WORK"

# moto: installed by hack/moto.sh; started here on our own port with our own pid, so that a
# concurrent `hack/moto.sh start/stop` (demo, another bench) never stops or resets ours.
bash hack/moto.sh install
"$VPY" -c 'import boto3' || die "boto3 missing from .venv (it comes with moto[server])"
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
export MOTO_URL POLICY RESYNC REGIONS

moto_reset() { http_post "$MOTO_URL/moto-api/reset" || die "cannot reset moto"; }

make_org() { # make_org PHASE: the organization in moto; sets OU and writes $WORK/org-PHASE.json
  "$VPY" "$WORK/bench_org_setup.py" "$ACCOUNTS" "$WORK/org-$1.json" 2>>"$WORK/org-$1.log" \
    || { cat "$WORK/org-$1.log" >&2; die "cannot create the organization in moto"; }
  tail -1 "$WORK/org-$1.log" >&2
  OU=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["ou"])' "$WORK/org-$1.json")
}

start_fake() { # start_fake PHASE [fake-apiserver args...]
  local phase=$1; shift
  rm -f "$WORK/fake.port"
  $PY "$ROOT/hack/fake-apiserver.py" --port 0 "$@" --port-file "$WORK/fake.port" \
    --kubeconfig "$WORK/kubeconfig" >"$WORK/fake-$phase.log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 1 100); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
  [ -s "$WORK/fake.port" ] || die "fake API server did not start (see $WORK/fake-$phase.log)"
  FAKE_URL="http://127.0.0.1:$(cat "$WORK/fake.port")"
}

start_controller() { # start_controller NAME [extra run args...]: sets CTL_PID / CTL_URL
  local name=$1; shift
  local port; port=$(free_port)
  CTL_URL="http://127.0.0.1:$port"
  KUBECONFIG="$WORK/kubeconfig" "$BIN" run --http-addr "127.0.0.1:$port" \
    --concurrency "$CONCURRENCY" --account-concurrency "$ACCOUNT_CONCURRENCY" \
    --organizations-call-interval-ms "$ORG_CALL_INTERVAL_MS" \
    --log-format text --log-level info "$@" \
    >"$WORK/controller-$name.log" 2>&1 &
  CTL_PID=$!
  CTL_PIDS+=("$CTL_PID") CTL_NAMES+=("$name")
  for _ in $(seq 1 600); do
    if ! kill -0 "$CTL_PID" 2>/dev/null; then
      local rc=0
      wait "$CTL_PID" || rc=$?
      log "controller $name exited with code $rc during start-up; its log:"
      sed 's/^/  | /' "$WORK/controller-$name.log" | head -40 >&2
      die "controller $name did not start"
    fi
    http_ok "$CTL_URL/readyz" && return 0
    sleep 0.1
  done
  die "controller $name not ready within 60 s (see $WORK/controller-$name.log)"
}

check_alive() { # check_alive PID NAME
  kill -0 "$1" 2>/dev/null && return 0
  log "controller $2 died; last lines of its log:"
  tail -40 "$WORK/controller-$2.log" | sed 's/^/  | /' >&2
  die "controller $2 died"
}

policy_json() { json_get "$FAKE_URL/debug/policy?name=$POLICY" "$1"; }

# wait_ready PHASE T0 WANT_ACCOUNTS PID:NAME...: until Ready True (and status.accounts.total ==
# WANT_ACCOUNTS unless it is 0); sets T_READY (seconds since T0, or empty on the limit)
wait_ready() {
  local phase=$1 t0=$2 want=$3; shift 3
  local last_report=0 t state pn
  T_READY=
  while :; do
    for pn in "$@"; do check_alive "${pn%%:*}" "${pn#*:}"; done
    state=$(policy_json '"%s %s %s %s %s %s" % (int(d["ready"]), ((d["status"] or {}).get("accounts") or {}).get("total", -1), ((d["status"] or {}).get("accounts") or {}).get("compliant", -1), next((c.get("reason") for c in (d["status"] or {}).get("conditions") or [] if c.get("type") == "Ready"), "-"), next((c.get("reason") for c in (d["status"] or {}).get("conditions") or [] if c.get("type") == "Reconciling" and c.get("status") == "True"), "-"), ",".join("%s:%s/%s" % (e.get("index"), (e.get("accounts") or {}).get("compliant"), (e.get("accounts") or {}).get("total")) for e in (d["status"] or {}).get("shards") or []) or "-")')
    read -r ready total compliant reason reconciling shards <<<"$state"
    t=$(elapsed "$t0")
    if [ "$ready" = 1 ] && { [ "$want" = 0 ] || [ "$total" = "$want" ]; }; then T_READY=$t; return 0; fi
    if [ "${t%.*}" -ge "$CONVERGE_LIMIT" ]; then
      fail "$phase: not Ready after ${CONVERGE_LIMIT}s (accounts $compliant/$total, Ready reason $reason)"
      return 0
    fi
    if [ "${t%.*}" -ge $((last_report + 15)) ]; then
      last_report=${t%.*}
      local rss=""
      for pn in "$@"; do rss+=" ${pn#*:}=$(mib "${pn%%:*}" VmRSS)MiB"; done
      log "t=${t}s: accounts $compliant/$total compliant, Ready reason $reason, Reconciling $reconciling, shards $shards, RSS$rss"
    fi
    sleep 1
  done
}

print_status() { # print_status PREFIX: the Ready condition and the totals of status
  $PY - "$FAKE_URL/debug/policy?name=$POLICY" "$1" <<'EOF'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
p, s = sys.argv[2], d["status"] or {}
c = lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True)
ready = next((x for x in s.get("conditions") or [] if x.get("type") == "Ready"), {})
print(f"{p}_ready_reason={ready.get('reason')}")
print(f"{p}_ready_message={ready.get('message')}")
others = {x.get("type"): f"{x.get('status')}/{x.get('reason')}" for x in s.get("conditions") or []
          if x.get("type") != "Ready"}
print(f"{p}_other_conditions={c(others)}")
if "accounts" in s:
    print(f"{p}_status_accounts={c(s['accounts'])}")
print(f"{p}_status_regions={s.get('compliantRegions')}/{s.get('totalRegions')}")
print(f"{p}_status_non_compliant_accounts={len(s.get('nonCompliantAccounts') or [])}")
print(f"{p}_finalizers={c(d['finalizers'])}")
EOF
}

# steady PREFIX URL PID NAME UNITS: one resync pass after Ready (see the header); UNITS =
# accounts x regions
steady() {
  local p=$1 url=$2 pid=$3 name=$4 units=$5
  [ "${BENCH_STEADY:-1}" = 1 ] || return 0
  local last="" same=0 cur
  for _ in $(seq 1 120); do  # quiet: no AWS call for 3 s
    cur=$(prom "$url" calls)
    if [ "$cur" = "$last" ]; then same=$((same + 1)); [ "$same" -ge 3 ] && break; else same=0; fi
    last=$cur
    sleep 1
  done
  local a0 w0 d0 p0 s0 t0 ops0
  read -r a0 w0 d0 <<<"$(prom "$url" calls)"
  ops0=$(prom "$url" ops)
  p0=$(prom "$url" passes)
  s0=$(json_get "$FAKE_URL/debug/stats" 'd["status_patches_total"]')
  t0=$(now)
  log "$p: waiting for one resync pass (resyncInterval $RESYNC; passes so far $p0)"
  local limit=$(( CONVERGE_LIMIT + 120 )) pn a1 w1 d1 s1
  while :; do
    check_alive "$pid" "$name"
    pn=$(prom "$url" passes)
    if [ "$pn" -gt "$p0" ]; then
      read -r a1 w1 d1 <<<"$(prom "$url" calls)"
      if [ "$a1" = "$a0" ]; then  # the Ready pass itself finished only now: wait for the next
        p0=$pn; t0=$(now); s0=$(json_get "$FAKE_URL/debug/stats" 'd["status_patches_total"]')
        continue
      fi
      break
    fi
    if [ "$(elapsed "$t0" | cut -d. -f1)" -ge "$limit" ]; then
      fail "$p: no resync pass within ${limit}s"
      return 0
    fi
    sleep 0.5
  done
  s1=$(json_get "$FAKE_URL/debug/stats" 'd["status_patches_total"]')
  echo "${p}_steady_passes=$((pn - p0))"
  echo "${p}_steady_window_s=$(elapsed "$t0")"
  echo "${p}_steady_aws_calls=$((a1 - a0))"
  echo "${p}_steady_discovery_calls=$((d1 - d0))"
  $PY - "$ops0" "$(prom "$url" ops)" "$((pn - p0))" "$units" "$p" "$((w1 - w0))" <<'EOF'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
passes, units, p, writes = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
delta = {k: b[k] - a.get(k, 0) for k in sorted(b) if b[k] - a.get(k, 0)}
print(f"{p}_steady_calls_by_operation={json.dumps(delta, separators=(',', ':'))}")
print(f"{p}_aws_calls_per_region_per_resync={sum(delta.values()) / passes / units:.2f}")
print(f"{p}_aws_write_calls_in_resync={writes}")
EOF
  echo "${p}_status_patches_in_resync=$((s1 - s0))"
}

warnings() { # warnings NAME: count WARN/ERROR lines of a controller log, show the distinct ones
  local f="$WORK/controller-$1.log" n
  n=$(grep -c -E ' WARN | ERROR ' "$f" || true)
  echo "controller_warnings_$1=$n"
  if [ "$n" -gt 0 ]; then
    log "distinct warnings/errors in the $1 controller log (first 10):"
    grep -E ' WARN | ERROR ' "$f" | sed -E 's/^[^ ]+ +//; s/[0-9]{12}/<acct>/g' \
      | sort | uniq -c | sort -rn | head -10 | cut -c1-400 >&2
  fi
}

phase_on() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }

echo "accounts=$ACCOUNTS"
echo "regions_per_account=$REGIONS"
echo "organizations_call_interval_ms=$ORG_CALL_INTERVAL_MS"
echo "account_concurrency=$ACCOUNT_CONCURRENCY"
log "controllers run with --organizations-call-interval-ms $ORG_CALL_INTERVAL_MS (default 1000)" \
  "--account-concurrency $ACCOUNT_CONCURRENCY --concurrency $CONCURRENCY; resyncInterval $RESYNC"

# ---------------------------------------------------------------- phase org: 1 replica
if phase_on org; then
  log "phase org: $ACCOUNTS accounts x $REGIONS regions, 1 replica"
  make_org org
  $PY "$WORK/bench_policy.py" org "$WORK/policy-org.json" "$OU"
  start_fake org
  start_controller org
  C0=$CTL_PID U0=$CTL_URL
  sleep "$IDLE_SECONDS"
  check_alive "$C0" org
  echo "org_idle_rss_mib=$(mib "$C0" VmRSS)"
  echo "org_idle_peak_rss_mib=$(mib "$C0" VmHWM)"
  # The policy is created as a client would (POST), so that the time counts from its creation.
  T0=$(now)
  http_post "$FAKE_URL/apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies" "$WORK/policy-org.json" \
    || die "cannot create the policy"
  wait_ready org "$T0" "$ACCOUNTS" "$C0:org"
  echo "org_time_to_all_compliant_s=${T_READY:-timeout}"
  print_status org
  echo "org_loaded_rss_mib=$(mib "$C0" VmRSS)"
  read -r A W D <<<"$(prom "$U0" calls)"
  echo "org_discovery_calls=$D"
  echo "org_aws_calls_to_converge=$A"
  echo "org_aws_write_calls_to_converge=$W"
  echo "org_region_compliant_series=$(prom "$U0" compliant)"
  if [ -n "$T_READY" ]; then
    steady org "$U0" "$C0" org "$((ACCOUNTS * REGIONS))"
  fi
  echo "org_peak_rss_mib=$(mib "$C0" VmHWM)"
  echo "org_final_rss_mib=$(mib "$C0" VmRSS)"
  check_alive "$C0" org
  warnings org
  stop_controllers
  stop_pid "$FAKE_PID"; FAKE_PID=
fi

# ---------------------------------------------------------------- phase sharded: 2 replicas
if phase_on sharded; then
  log "phase sharded: $ACCOUNTS accounts x $REGIONS regions, 2 replicas (--shard-count 2)"
  moto_reset
  make_org sharded
  $PY "$WORK/bench_policy.py" org "$WORK/policy-sharded.json" "$OU"
  start_fake sharded --policy-file "$WORK/policy-sharded.json"
  T0=$(now)
  start_controller shard0 --shard-index 0 --shard-count 2
  C0=$CTL_PID U0=$CTL_URL
  start_controller shard1 --shard-index 1 --shard-count 2
  C1=$CTL_PID U1=$CTL_URL
  wait_ready sharded "$T0" "$ACCOUNTS" "$C0:shard0" "$C1:shard1"
  echo "sharded_time_to_all_compliant_s=${T_READY:-timeout}"
  print_status sharded
  json_get "$FAKE_URL/debug/policy?name=$POLICY" \
    '"sharded_status_shards=" + json.dumps([{"index": e.get("index"), "count": e.get("count"), "accounts": e.get("accounts"), "regions": "%s/%s" % (e.get("compliantRegions"), e.get("totalRegions"))} for e in (d["status"] or {}).get("shards") or []], separators=(",", ":"))'
  json_get "$FAKE_URL/debug/policy?name=$POLICY" \
    '"sharded_status_owners=" + json.dumps(d["status_owners"], separators=(",", ":"))'
  for i in 0 1; do
    pid_var=C$i; url_var=U$i
    echo "sharded_replica${i}_rss_mib=$(mib "${!pid_var}" VmRSS)"
    echo "sharded_replica${i}_peak_rss_mib=$(mib "${!pid_var}" VmHWM)"
    prom "${!url_var}" accounts >"$WORK/accounts-shard$i.json"
    read -r A W D <<<"$(prom "${!url_var}" calls)"
    echo "sharded_replica${i}_aws_calls=$A"
    echo "sharded_replica${i}_discovery_calls=$D"
  done
  $PY - "$WORK/org-sharded.json" "$WORK/accounts-shard0.json" "$WORK/accounts-shard1.json" \
    >"$WORK/sharded.out" <<'EOF'
import json, sys
def fnv1a32(s):
    h = 2166136261
    for b in s.encode("ascii"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h
org = set(json.load(open(sys.argv[1]))["accounts"])
got = [set(json.load(open(f))) for f in sys.argv[2:4]]
want = [{a for a in org if fnv1a32(a) % 2 == i} for i in (0, 1)]
for i in (0, 1):
    print(f"sharded_replica{i}_accounts={len(got[i])}")
    print(f"sharded_replica{i}_expected_accounts={len(want[i])}")
print(f"accounts_reconciled_by_both={len(got[0] & got[1])}")
print(f"accounts_reconciled_by_neither={len(org - (got[0] | got[1]))}")
wrong = (got[0] - want[0]) | (got[1] - want[1])
print(f"accounts_on_the_wrong_shard={len(wrong)}")
print(f"accounts_not_in_the_organization={len((got[0] | got[1]) - org)}")
EOF
  cat "$WORK/sharded.out"
  by_both=$(sed -n 's/^accounts_reconciled_by_both=//p' "$WORK/sharded.out")
  by_neither=$(sed -n 's/^accounts_reconciled_by_neither=//p' "$WORK/sharded.out")
  [ "$by_both" = 0 ] || fail "sharded: $by_both accounts reconciled by both replicas"
  [ "$by_neither" = 0 ] || fail "sharded: $by_neither accounts reconciled by neither replica"
  check_alive "$C0" shard0
  check_alive "$C1" shard1
  warnings shard0
  warnings shard1
  stop_controllers
  stop_pid "$FAKE_PID"; FAKE_PID=
fi

# ---------------------------------------------------------------- phase allregions: 1 account
if phase_on allregions; then
  log "phase allregions: 1 account (the operator's own), allRegions: {}"
  moto_reset
  $PY "$WORK/bench_policy.py" allregions "$WORK/policy-allregions.json"
  start_fake allregions --policy-file "$WORK/policy-allregions.json"
  T0=$(now)
  start_controller allregions
  C0=$CTL_PID U0=$CTL_URL
  wait_ready allregions "$T0" 0 "$C0:allregions"
  echo "allregions_time_to_all_compliant_s=${T_READY:-timeout}"
  n_regions=$(policy_json '(d["status"] or {}).get("totalRegions", 0)')
  echo "allregions_regions_governed=$n_regions"
  print_status allregions
  echo "allregions_rss_mib=$(mib "$C0" VmRSS)"
  read -r A W D <<<"$(prom "$U0" calls)"
  echo "allregions_aws_calls_to_converge=$A"
  echo "allregions_aws_write_calls_to_converge=$W"
  if [ -n "$T_READY" ] && [ "$n_regions" -gt 0 ]; then
    steady allregions "$U0" "$C0" allregions "$n_regions"
  fi
  echo "allregions_peak_rss_mib=$(mib "$C0" VmHWM)"
  check_alive "$C0" allregions
  warnings allregions
  stop_controllers
  stop_pid "$FAKE_PID"; FAKE_PID=
fi

[ "$FAILED" = 0 ] || die "see the figures above (logs in $WORK)"
log "done"
