#!/usr/bin/env bash
# Regenerate the policy block of docs/iam.md from `bedrock-logging-operator iam-policy`
# (tests/packaging/test_iam_doc.py checks that they match).
#   BLO_BIN=target/debug/bedrock-logging-operator bash hack/gen-iam-doc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BLO_BIN:-target/debug/bedrock-logging-operator}"
policy="$("$bin" iam-policy)"
python3 - "$policy" <<'PY'
import re, sys
path = "docs/iam.md"
text = open(path).read()
block = "<!-- iam-policy:begin -->\n```json\n" + sys.argv[1].strip() + "\n```\n<!-- iam-policy:end -->"
new, n = re.subn(r"<!-- iam-policy:begin -->.*?<!-- iam-policy:end -->", lambda m: block, text, flags=re.S)
if n != 1:
    sys.exit("docs/iam.md: no iam-policy:begin/end markers")
open(path, "w").write(new)
PY
echo "docs/iam.md updated"
