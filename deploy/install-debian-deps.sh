#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing:
#   mosquitto (a second real MQTT broker), mosquitto-clients, chromium (console browser tests),
#   mbpoll (libmodbus client: an independent Modbus peer for the profile tests),
#   postgresql (the tests start their own throw-away cluster; the system one is disabled),
#   gcc, libc6-dev, python3-dev (pip builds the envelope's optional C payload code, which the
#   tests check against the Python code; without them the install still works, only slower).
#   openssl, xxd (the SM2 interoperability tests and docs/envelope.md's commands run them),
#   shellcheck: the gateway installer (deploy/install-edge.sh) is checked with it,
#   fonts-noto-cjk: Chinese text drawn with real glyphs, as users see it; without a CJK font Chromium
#   draws it as narrow boxes and a page that overflows a phone's width still passes its test.
# The demo itself needs none of them. Without root (or sudo) it only says what is missing.
set -euo pipefail
packages=(mosquitto mosquitto-clients chromium mbpoll postgresql gcc libc6-dev python3-dev openssl xxd shellcheck fonts-noto-cjk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# the Debian mosquitto package starts a system broker on port 1883; the tests start their own
$sudo systemctl disable --now mosquitto postgresql >/dev/null 2>&1 || true
