#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests (tests/console) when it is not
# there yet. Playwright's own browser downloads are not used: the tests launch this binary.
# Safe to run any number of times; does nothing once /usr/bin/chromium exists.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: /usr/bin/chromium is missing and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
echo "==> installing chromium (for the console's browser tests)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: apt-get installed chromium but /usr/bin/chromium is still missing" >&2
  exit 1
fi
