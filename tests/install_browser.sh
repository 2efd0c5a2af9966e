#!/usr/bin/env bash
# Installs Debian's Chromium for the Playwright tests when this user can; otherwise says why.
# Playwright's own browser download cannot work offline, so the tests use /usr/bin/chromium.
# Also a CJK font (WenQuanYi Zen Hei, else Noto CJK), so Chinese text in the browser tests and in
# the screenshots of docs/ shows as characters, not boxes; without it the tests still run.
set -u
can_install() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
updated=""
apt_install() {
  [ -n "$updated" ] || { apt-get update -qq && updated=1; } || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if [ -x /usr/bin/chromium ]; then
  echo "browser: /usr/bin/chromium present"
elif ! can_install; then
  echo "browser: /usr/bin/chromium missing and cannot install it (need root and apt-get); browser tests will be skipped"
else
  echo "browser: installing Debian's chromium (one time)"
  apt_install chromium || echo "browser: apt-get install chromium failed; browser tests will be skipped"
fi
if command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; then
  echo "browser: a CJK font is present"
elif ! can_install; then
  echo "browser: no CJK font and cannot install one (need root and apt-get); Chinese shows as boxes in screenshots"
else
  echo "browser: installing a CJK font (one time)"
  apt_install fonts-wqy-zenhei || apt_install fonts-noto-cjk \
    || echo "browser: no CJK font could be installed; Chinese shows as boxes in screenshots"
fi
exit 0
