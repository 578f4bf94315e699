#!/usr/bin/env bash
# Tamper-response bench without a cluster: how fast the `run` controller puts Bedrock logging back
# after an out-of-band DeleteModelInvocationLoggingConfiguration, against hack/fake-apiserver.py
# (1 policy, 1 region, resyncInterval 24h, tamperResponse.queueName blo-tamper) and moto. The
# CloudTrail event is sent by hand (events.put_events on the default bus; moto routes it through
# the controller's EventBridge rule into its SQS queue): only the event path can repair in time.
#
#   bash hack/bench-tamper.sh
#   BLO_BIN=target/release/bedrock-logging-operator bash hack/bench-tamper.sh
#
# Prints plain `key=value` lines:
#   time_to_ready_s / time_to_tamper_setup_s   policy Ready; queue + rule with a target in moto
#   control_restored_without_event=0           logging deleted, no event, BENCH_CONTROL_SECONDS
#   tamper_round_N_restored_s                  put_events -> loggingConfig back (or `timeout`)
#   tamper_rounds_restored=K/N tamper_restored_median_s tamper_restored_max_s
#   tamper_detected_events (TamperDetected Events: POSTs + series PATCHes) / last_tamper=<json>
#   then the bedrock_logging_tamper_events_total and bedrock_logging_reconciles_total lines
#   burst_events=100 burst_restored_s burst_passes      100 events at once (reconcile passes)
#   own_principal_arn own_principal_events_passes       3 events by the controller itself (0)
#   queue_messages_left controller_warnings
#
# AWS calls are made in the policy's account (the generated policy assumes
# arn:aws:iam::100000000000:role/blo; moto keeps that account apart from its default one). The
# controller's own principal is its role session there (session blo-<policy>, as GetCallerIdentity
# reports it: arn:aws:sts::100000000000:assumed-role/blo/blo-bench-000); BENCH_OWN_ARN overrides.
#
# Knobs (env): BENCH_TAMPER_ROUNDS=5 BENCH_ROUND_TIMEOUT=30 (also the burst's) BENCH_CONTROL_SECONDS=5
# BENCH_CONVERGE_SECONDS=120 BENCH_SETUP_SECONDS=60 BENCH_CONCURRENCY=4 BENCH_TIMEOUT=600 (whole
# run) BENCH_KEEP=1 (keep the logs)
#
# Exit code: 0; 1 when a round (or the burst) was not restored in time or the controller died;
# 124 on the time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${BLO_BENCH_UNDER_TIMEOUT:-}" ]; then
  export BLO_BENCH_UNDER_TIMEOUT=1
  set +e
  timeout -k 20 "${BENCH_TIMEOUT:-600}" bash "$0" "$@"
  rc=$?
  [ "$rc" = 124 ] && echo "bench: FAILED: time limit of ${BENCH_TIMEOUT:-600}s reached" >&2
  exit "$rc"
fi

ROUNDS=${BENCH_TAMPER_ROUNDS:-5}
QUEUE=blo-tamper
POLICY=bench-000
BIN=${BLO_BIN:-$ROOT/target/debug/bedrock-logging-operator}
PY=python3
VPY=$ROOT/.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/blo-bench-tamper.XXXXXX")
MOTO_PID= FAKE_PID= CTL_PID= FAKE_URL= CTL_URL=
FAILED=0

log() { echo "bench: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

stop_pid() { # stop_pid PID: TERM, then KILL after 5 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$CTL_PID"; stop_pid "$FAKE_PID"; stop_pid "$MOTO_PID"
  if [ "$rc" != 0 ] || [ -n "${BENCH_KEEP:-}" ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 124' TERM INT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
http_ok() { $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }
now() { date +%s.%N; }
elapsed() { $PY -c "print(f'{$(now) - $1:.2f}')"; }

json_get() { # json_get URL EXPR: print eval(EXPR) over the JSON answer `d`
  $PY - "$1" "$2" <<'EOF'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
v = eval(sys.argv[2], {"json": json}, {"d": d})
print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) or v is None else v)
EOF
}

metric_lines() { # metric_lines PREFIX: the controller's /metrics lines starting with PREFIX
  $PY -c 'import sys, urllib.request
for l in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if l.startswith(sys.argv[2]): print(l)' "$CTL_URL/metrics" "$1"
}
reconciles() { # the sum of every bedrock_logging_reconciles_total series
  metric_lines bedrock_logging_reconciles_total | awk '$1 ~ /^bedrock_logging_reconciles_total($|\{)/ { s += $NF }
    END { printf "%d\n", s }'
}
tamper_events() { json_get "$FAKE_URL/debug/stats" 'd.get("event_occurrences_by_reason", {}).get("TamperDetected", 0)'; }

check_alive() {
  kill -0 "$CTL_PID" 2>/dev/null && return 0
  log "controller died; last lines of its log:"
  tail -40 "$WORK/controller.log" | sed 's/^/  | /' >&2
  CTL_PID=
  die "controller died ($1)"
}

# The AWS side (boto3 from the venv, straight at moto, in the policy's account): tamper.py CMD ARG
cat >"$WORK/tamper.py" <<'EOF'
import datetime, json, os, sys, time, urllib.request
import boto3
from botocore.config import Config

cmd, arg = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0
moto, fake, policy, queue = (os.environ[k] for k in ("MOTO_URL", "FAKE_URL", "POLICY", "QUEUE"))
spec = json.load(urllib.request.urlopen(
    f"{fake}/apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies/{policy}", timeout=5))["spec"]
region, role = spec["regions"][0], (spec.get("account") or {}).get("roleArn")
kw = dict(endpoint_url=moto, region_name=region, aws_access_key_id="testing",
          aws_secret_access_key="testing", config=Config(retries={"max_attempts": 2}))
if role:  # assume the policy's role as the controller does (same session name)
    session = "".join(c for c in f"blo-{policy}" if c.isalnum() or c in "=,.@-")[:64]
    c = boto3.client("sts", **kw).assume_role(RoleArn=role, RoleSessionName=session)["Credentials"]
    kw.update(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
              aws_session_token=c["SessionToken"])
me = boto3.client("sts", **kw).get_caller_identity()
account, own_arn = me["Account"], os.environ.get("BENCH_OWN_ARN") or me["Arn"]
bedrock, events, sqs = (boto3.client(s, **kw) for s in ("bedrock", "events", "sqs"))
queue_url = lambda: sqs.get_queue_url(QueueName=queue)["QueueUrl"]  # noqa: E731

def logging_on():
    cfg = bedrock.get_model_invocation_logging_configuration().get("loggingConfig") or {}
    return bool(cfg.get("s3Config") or cfg.get("cloudWatchConfig"))

def wait_on(limit):  # poll every 20 ms until logging is back
    t = time.monotonic()
    while time.monotonic() - t < limit:
        if logging_on():
            return True
        time.sleep(0.02)
    return False

def tamper():
    try:
        bedrock.delete_model_invocation_logging_configuration()
    except Exception as e:  # already gone
        print(f"bench: delete: {e}", file=sys.stderr)

def put(n, arn=f"arn:aws:iam::{account}:user/intruder"):
    t = "AssumedRole" if ":assumed-role/" in arn else "IAMUser"
    d = {"eventVersion": "1.09", "userIdentity": {"type": t, "arn": arn, "accountId": account},
         "eventTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "eventSource": "bedrock.amazonaws.com",
         "eventName": "DeleteModelInvocationLoggingConfiguration", "awsRegion": region,
         "requestParameters": None, "responseElements": None, "readOnly": False,
         "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account}
    e = {"Source": "aws.bedrock", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(d)}
    r = events.put_events(Entries=[e] * n)
    if r.get("FailedEntryCount"):
        sys.exit(f"bench: put_events failed: {r['Entries']}")

def backlog():
    a = sqs.get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

if cmd == "info":
    print(region, account, own_arn)
elif cmd == "setup":  # the queue exists and the rule has it as a target
    t, last = time.monotonic(), None
    while time.monotonic() - t < arg:
        try:
            attrs = sqs.get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["QueueArn"])
            targets = [x["Arn"] for x in events.list_targets_by_rule(Rule=queue)["Targets"]]
            if attrs["Attributes"]["QueueArn"] in targets:
                print(f"bench: rule {queue}: {events.describe_rule(Name=queue)['EventPattern']}",
                      file=sys.stderr)
                print(f"{time.monotonic() - t:.2f}")
                sys.exit(0)
            last = f"rule targets {targets}"
        except Exception as e:
            last = repr(e)
        time.sleep(0.25)
    sys.exit(f"bench: no queue + rule {queue} in {account}/{region} after {arg:.0f}s: {last}")
elif cmd == "control":  # delete, no event, wait ARG s: logging should stay off
    if not wait_on(30):
        sys.exit("bench: logging not on before the control")
    tamper()
    time.sleep(arg)
    print(int(logging_on()))
elif cmd in ("round", "burst"):  # delete, then 1 (100 in 10 calls) event(s); time to repair
    tamper()
    t0 = time.monotonic()
    for _ in range(1 if cmd == "round" else 10):
        put(1 if cmd == "round" else 10)
    if wait_on(arg):
        print(f"{time.monotonic() - t0:.3f}")
    else:
        print("timeout")
        v, f = backlog()
        print(f"bench:   queue {queue}: {v} messages visible, {f} in flight", file=sys.stderr)
elif cmd == "own":  # ARG events by the controller's own principal
    put(int(arg), own_arn)
elif cmd == "backlog":
    print(sum(backlog()))
EOF
on_moto() { "$VPY" "$WORK/tamper.py" "$@"; }

# ---------------------------------------------------------------- start-up
for _ in $(seq 1 60); do [ -x "$BIN" ] && break; log "waiting for $BIN (being rebuilt?)"; sleep 2; done
[ -x "$BIN" ] || die "no controller binary at $BIN (set BLO_BIN or build it)"
log "binary: $BIN"
log "work dir: $WORK"
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

$PY "$ROOT/hack/fake-apiserver.py" --port 0 --policies 1 --regions 1 --resync 24h --tamper "$QUEUE" \
  --port-file "$WORK/fake.port" --kubeconfig "$WORK/kubeconfig" >"$WORK/fake.log" 2>&1 &
FAKE_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
[ -s "$WORK/fake.port" ] || die "fake API server did not start (see $WORK/fake.log)"
FAKE_URL="http://127.0.0.1:$(cat "$WORK/fake.port")"
export MOTO_URL FAKE_URL POLICY QUEUE

port=$(free_port)
CTL_URL="http://127.0.0.1:$port"
T0=$(now)
KUBECONFIG="$WORK/kubeconfig" "$BIN" run --http-addr "127.0.0.1:$port" \
  --concurrency "${BENCH_CONCURRENCY:-4}" --log-format text --log-level info \
  >"$WORK/controller.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 1 600); do
  check_alive start-up
  http_ok "$CTL_URL/readyz" && break
  sleep 0.1
done
http_ok "$CTL_URL/readyz" || die "controller not ready within 60 s (see $WORK/controller.log)"

ready() { json_get "$FAKE_URL/debug/stats" 'd["ready_policies"]' 2>/dev/null || echo 0; }
while [ "$(ready)" -lt 1 ]; do
  check_alive converge
  [ "$(elapsed "$T0" | cut -d. -f1)" -lt "${BENCH_CONVERGE_SECONDS:-120}" ] || {
    log "status: $(json_get "$FAKE_URL/apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies/$POLICY" 'd.get("status")')"
    die "policy not Ready after ${BENCH_CONVERGE_SECONDS:-120}s"; }
  sleep 0.25
done
echo "time_to_ready_s=$(elapsed "$T0")"
info=$(on_moto info) || die "cannot reach moto as the policy's account"
read -r REGION ACCOUNT OWN_ARN <<<"$info"
log "policy $POLICY: account $ACCOUNT, region $REGION; waiting for queue and rule $QUEUE"
t=$(on_moto setup "${BENCH_SETUP_SECONDS:-60}") || { check_alive setup; die "no tamper queue/rule"; }
echo "time_to_tamper_setup_s=$t"
check_alive setup

# ---------------------------------------------------------------- control: no event, no repair
t=$(on_moto control "${BENCH_CONTROL_SECONDS:-5}") || die "control step failed"
echo "control_restored_without_event=$t"
[ "$t" = 0 ] || log "WARNING: logging came back without any event (not the event path)"

# ---------------------------------------------------------------- rounds
times=()
for n in $(seq 1 "$ROUNDS"); do
  t=$(on_moto round "${BENCH_ROUND_TIMEOUT:-30}") || t=error
  echo "tamper_round_${n}_restored_s=$t"
  case $t in timeout | error) FAILED=1 ;; *) times+=("$t") ;; esac
  check_alive "round $n"
  [ "$n" = "$ROUNDS" ] || sleep 1
done
echo "tamper_rounds_restored=${#times[@]}/$ROUNDS"
$PY -c 'import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print(f"tamper_restored_median_s={statistics.median(v):.3f}" if v else "tamper_restored_median_s=timeout")
print(f"tamper_restored_max_s={v[-1]:.3f}" if v else "tamper_restored_max_s=timeout")' ${times[@]+"${times[@]}"}

sleep 1 # the Event and the status patch follow the repair
echo "tamper_detected_events=$(tamper_events)"
echo "tamper_detected_event_objects=$(json_get "$FAKE_URL/debug/stats" 'd.get("events_by_reason", {}).get("TamperDetected", 0)')"
echo "last_tamper=$(json_get "$FAKE_URL/apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies/$POLICY" \
  '((d.get("status") or {}).get("regions") or [{}])[0].get("lastTamper")')"
m=$(metric_lines bedrock_logging_tamper_events_total)
[ -n "$m" ] && echo "$m" || log "no bedrock_logging_tamper_events_total series on /metrics"
metric_lines bedrock_logging_reconciles_total

# ---------------------------------------------------------------- burst: 100 events at once
R0=$(reconciles)
t=$(on_moto burst "${BENCH_ROUND_TIMEOUT:-30}") || t=error
case $t in timeout | error) FAILED=1 ;; esac
sleep 10
check_alive burst
echo "burst_events=100"
echo "burst_restored_s=$t"
echo "burst_passes=$(($(reconciles) - R0))"

# ---------------------------------------------------------------- the controller's own calls
R0=$(reconciles) E0=$(tamper_events)
on_moto own 3 || die "put_events failed"
sleep 10
check_alive own
echo "own_principal_arn=$OWN_ARN"
own=$(($(reconciles) - R0))
echo "own_principal_events_passes=$own"
echo "own_principal_tamper_events=$(($(tamper_events) - E0))"
[ "$own" = 0 ] || log "WARNING: events by the controller's own principal caused $own reconcile passes"

# ---------------------------------------------------------------- totals
echo "queue_messages_left=$(on_moto backlog || echo error)"
warn=$(grep -c -E ' WARN | ERROR |"level":"(WARN|ERROR)"' "$WORK/controller.log" || true)
echo "controller_warnings=$warn"
[ "$warn" = 0 ] || grep -E ' WARN | ERROR ' "$WORK/controller.log" | sed -E 's/^[^ ]+ +//' \
  | sort | uniq -c | sort -rn | head -10 | cut -c1-300 >&2
check_alive end
[ "$FAILED" = 0 ] || die "a tamper was not repaired in time (logs in $WORK)"
log "done"
