#!/usr/bin/env bash
# Installs Debian's Chromium for the Playwright tests when this user can; otherwise says why.
# Playwright's own browser download cannot work offline, so the tests use /usr/bin/chromium.
set -u
if [ -x /usr/bin/chromium ]; then
  echo "browser: /usr/bin/chromium present"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: /usr/bin/chromium missing and cannot install it (need root and apt-get); browser tests will be skipped"
  exit 0
fi
echo "browser: installing Debian's chromium (one time)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
  echo "browser: apt-get install chromium failed; browser tests will be skipped"
fi
exit 0
