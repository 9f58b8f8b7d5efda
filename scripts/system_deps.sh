#!/usr/bin/env bash
# System packages the platform and its tests need: gettext (translation catalogues) and, for the browser
# tests, Debian's chromium. Installed with apt when missing and we are allowed to (root).
set -euo pipefail
need=()
command -v msgfmt >/dev/null 2>&1 || need+=(gettext)
# PDF reports (WeasyPrint): Pango and a font with Georgian and Cyrillic glyphs.
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
if [ "${1:-}" != "--runtime" ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${need[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "Please install: ${need[*]} (Debian packages)" >&2
  exit 1
fi
