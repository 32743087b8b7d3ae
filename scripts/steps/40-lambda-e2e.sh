# The Lambda's SAM template passes cfn-lint. The Lambda end-to-end suite (tests/lambda-e2e/, the
# real bootstrap against moto) runs in 20-rust as hosts/lambda/tests/lambda_e2e.rs, with moto
# and cfn-lint installed by 15-services.
set -euo pipefail
export PATH="$MAILROOM_TOOLS/python/bin:$PATH"
cfn-lint deploy/template.yaml
echo "cfn-lint: deploy/template.yaml is clean"
