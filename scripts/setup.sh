#!/usr/bin/env bash
# The one set-up command (README "Set up"): Debian packages for the reference tools and the
# integration lab, then the npm dependencies exactly as locked.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reference clients and lab servers, all from Debian's packages (DESIGN.md "The integration lab").
# python3, make, g++: better-sqlite3 (the state store) compiles its native part at npm ci.
PACKAGES=(openssl iproute2 postfix ldnsutils gnutls-bin bind9 bind9-utils bind9-dnsutils unbound
  pdns-server pdns-backend-sqlite3 knot knot-dnsutils python3 make g++)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  SUDO=()
  [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
  # Postfix asks how to configure the system mailer; the lab runs its own throw-away
  # instances, so the system one gets no configuration and is never started by us.
  echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
