#!/usr/bin/env bash
# The one set-up command (README "Set up"): Debian packages for the reference tools and the
# integration lab, then the npm dependencies exactly as locked.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reference clients and lab servers, all from Debian's packages (DESIGN.md "The integration lab").
# python3, make, g++: better-sqlite3 (the state store) compiles its native part at npm ci.
PACKAGES=(openssl iproute2 postfix ldnsutils gnutls-bin bind9 bind9-utils bind9-dnsutils unbound
  pdns-server pdns-backend-sqlite3 knot knot-dnsutils pebble python3 make g++)
# A real server for every STARTTLS dialogue the probe speaks (test/lab/starttls-daemons.test.ts).
PACKAGES+=(dovecot-imapd dovecot-pop3d dovecot-managesieved dovecot-lmtpd slapd prosody vsftpd
  inn2 postgresql)
# systemd-analyze checks the units in systemd/ (test/systemd.test.ts); nothing is started.
PACKAGES+=(systemd)
# The panel's browser tests (test/lab/panel-browser.test.ts) drive Debian's Chromium through
# playwright-core; no browser is ever downloaded. fonts-dejavu-core gives screenshots real text.
PACKAGES+=(chromium fonts-dejavu-core)

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
  # Likewise slapd: no system directory database (the lab's slapd has its own slapd.conf).
  echo "slapd slapd/no_configuration boolean true" | "${SUDO[@]}" debconf-set-selections
  "${SUDO[@]}" apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    # inn2's postinst sets up the system INN (never run by us: the lab's reads its own inn.conf)
    # and stops on what a lab machine lacks: a host name with a domain (innconfval), and a
    # configured Postfix for the newaliases it runs after adding a usenet alias. A placeholder
    # domain and the alias written here let it finish.
    if [[ -f /etc/news/inn.conf ]]; then
      "${SUDO[@]}" sed -i 's/^#domain:$/domain: lab.invalid/' /etc/news/inn.conf
      if [[ -f /etc/aliases ]] && ! grep -q '^usenet:' /etc/aliases; then
        echo 'usenet: root' | "${SUDO[@]}" tee -a /etc/aliases >/dev/null
      fi
    fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" dpkg --configure -a
  fi
fi

npm ci --no-audit --no-fund
