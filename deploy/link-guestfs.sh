#!/usr/bin/env bash
# Expose Debian's libguestfs Python bindings to a venv: symlink only those modules from
# /usr/lib/python3/dist-packages into the venv's site-packages, for the venv's own CPython ABI.
# Usage: deploy/link-guestfs.sh VENV. Fails loudly when the bindings do not import.
set -euo pipefail
venv=${1:?usage: link-guestfs.sh VENV}
dist=/usr/lib/python3/dist-packages
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
tag=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
for mod in guestfs.py "libguestfsmod$tag"; do
  if [ -e "$dist/$mod" ]; then
    ln -sfn "$dist/$mod" "$site/$mod"
  elif [ "$mod" = guestfs.py ] || [ "$mod" = "libguestfsmod$tag" ]; then
    echo "link-guestfs: $dist/$mod is missing: install python3-guestfs (deploy/packages/apt-test.txt)" \
         "built for this Python ($tag)" >&2
    exit 1
  fi
done
"$venv/bin/python" -c 'import guestfs; guestfs.GuestFS(python_return_dict=True).close()'
