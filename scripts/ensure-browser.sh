#!/usr/bin/env bash
# Page tests drive Debian's Chromium through Playwright (which cannot download its own browser here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing and this user cannot install it; page tests will be skipped" >&2
  exit 0
fi
echo "installing chromium (Debian package) for the page tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
