# Local stand-ins for AWS that the Rust tests use: moto's server (SQS, SES v2, DynamoDB) and
# cfn-lint for the SAM template. Installed into the current Python when it allows it, otherwise
# into a virtual environment at $MAILROOM_TOOLS/python, which the tests put first on PATH.
set -euo pipefail
venv="$MAILROOM_TOOLS/python"
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "$venv/bin/$1" ]]; }
if have moto_server && have cfn-lint && { python3 -c 'import boto3' 2>/dev/null || [[ -x "$venv/bin/python3" ]]; }; then
  exit 0
fi
if ! python3 -m pip install --quiet 'moto[server]' boto3 cfn-lint 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'moto[server]' boto3 cfn-lint
fi
