#!/usr/bin/env bash
# Install what the project needs on a Debian machine: Python venv support and the apt packages
# listed in deploy/packages/apt-<profile>.txt (profile: test or demo). Idempotent; needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-test}
want=(python3 python3-venv make)
while read -r pkg; do [ -n "$pkg" ] && want+=("$pkg"); done < "deploy/packages/apt-${profile}.txt"
missing=()
for pkg in "${want[@]}"; do
  # npm: Debian packages it apart from nodejs; a Node.js from elsewhere (NodeSource) brings its own
  if [ "$pkg" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# pyenv and other non-Debian Pythons bring their own venv module
# (whole names only: python3-guestfs is still wanted)
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
  kept=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in python3|python3-venv) ;; *) kept+=("$pkg") ;; esac
  done
  missing=("${kept[@]}")
fi
pkgs=$(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
if [ -n "$pkgs" ]; then
  echo "bootstrap: installing $(echo $pkgs)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
