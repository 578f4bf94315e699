#!/usr/bin/env bash
# The README's picture of `check -o html`: the demo policy applied, then drifted out of band
# (logging off in us-east-1, SSE-S3 on the eu-west-1 bucket), checked, rendered by headless
# Chromium (Debian package `chromium`) into docs/images/check-report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BLO_BIN:-target/debug/bedrock-logging-operator}
command -v chromium >/dev/null || { echo "needs chromium (apt-get install chromium)" >&2; exit 2; }
URL=$(bash hack/moto.sh start)
trap 'bash hack/moto.sh stop' EXIT
export AWS_ENDPOINT_URL="$URL" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
       AWS_SESSION_TOKEN=testing AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
       AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
"$BIN" apply -f config/samples/demo.yaml >/dev/null
.venv/bin/python - <<'PY'
import os, boto3
from botocore.config import Config
ep = os.environ["AWS_ENDPOINT_URL"]
acct = boto3.client("sts", region_name="us-east-1", endpoint_url=ep).get_caller_identity()["Account"]
boto3.client("s3", region_name="eu-west-1", endpoint_url=ep,
             config=Config(s3={"addressing_style": "path"})).put_bucket_encryption(
    Bucket=f"demo-bedrock-logs-{acct}-eu-west-1",
    ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
boto3.client("bedrock", region_name="us-east-1", endpoint_url=ep).delete_model_invocation_logging_configuration()
PY
report=$(mktemp --suffix=.html)
"$BIN" check -f config/samples/demo.yaml -o html >"$report" || true
mkdir -p docs/images
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$(mktemp -d)" --hide-scrollbars --window-size=1400,1100 \
  --screenshot=docs/images/check-report.png "file://$report" 2>/dev/null
echo "docs/images/check-report.png (from $report)"
