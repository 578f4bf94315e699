#!/usr/bin/env bash
# The demo: against a local AWS emulator, check (red) -> apply -> check (green).
set -uo pipefail
cd "$(dirname "$0")/.."
POLICY=${1:-config/samples/demo.yaml}
BIN=${BLO_BIN:-target/debug/bedrock-logging-operator}

URL=$(bash hack/moto.sh start) || exit 2
trap 'bash hack/moto.sh stop' EXIT
export AWS_ENDPOINT_URL="$URL" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
       AWS_SESSION_TOKEN=testing AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
       AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
echo "AWS emulator (moto) at $URL; policy $POLICY"
echo

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "1. check: a fresh account is not compliant (expect exit 1)"
"$BIN" check -f "$POLICY"; before=$?
echo "exit code: $before"

step "2. apply --dry-run: the plan (expect exit 1, nothing written)"
"$BIN" apply --dry-run -f "$POLICY"; plan=$?
echo "exit code: $plan"

step "3. apply: converge (expect exit 0)"
start=$(date +%s.%N)
"$BIN" apply -f "$POLICY"; applied=$?
end=$(date +%s.%N)
echo "exit code: $applied (took $(python3 -c "print(f'{$end-$start:.2f}')") s)"

step "4. check again: compliant (expect exit 0)"
"$BIN" check -f "$POLICY"; after=$?
echo "exit code: $after"

step "5. apply again: idempotent, nothing to change (expect exit 0)"
"$BIN" apply -f "$POLICY" >/dev/null; again=$?
echo "exit code: $again"

echo
if [ "$before" = 1 ] && [ "$plan" = 1 ] && [ "$applied" = 0 ] && [ "$after" = 0 ] && [ "$again" = 0 ]; then
  printf '\033[32mdemo OK: check went from non-compliant (1) to compliant (0)\033[0m\n'
else
  printf '\033[31mdemo FAILED: check %s -> %s, dry-run %s, apply %s, re-apply %s\033[0m\n' "$before" "$after" "$plan" "$applied" "$again"
  exit 1
fi
