#!/usr/bin/env bash
# Make sure what the test suite talks to is running: PostgreSQL on 127.0.0.1:5432.
set -euo pipefail

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if command -v pg_isready >/dev/null && pg_ready; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -n "${version}" ]; then
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
  fi
elif ! command -v pg_ctl >/dev/null; then
  echo "installing PostgreSQL (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "${version}" main start
fi
for _ in $(seq 1 30); do
  if pg_ready; then exit 0; fi
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
