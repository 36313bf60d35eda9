#!/usr/bin/env bash
# Installs what tests/compat needs on a Debian machine (run as root): Apache ZooKeeper 3.8 from
# Debian (zookeeper, zookeeper-bin) and the pinned Python packages in requirements.txt.
# Idempotent and quick when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"

need_debs=()
for p in zookeeper zookeeper-bin; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        need_debs+=("$p")
    fi
done
if [ "${#need_debs[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    as_root=()
    [ "$(id -u)" -ne 0 ] && as_root=(sudo)
    # Update the package lists only when the packages are unknown to apt.
    if ! apt-cache show "${need_debs[@]}" >/dev/null 2>&1; then
        "${as_root[@]}" apt-get update -qq
    fi
    echo "setup: installing ${need_debs[*]}"
    if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null; then
        # Stale lists (a package version gone from the mirror): refresh once and retry.
        "${as_root[@]}" apt-get update -qq
        "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
    fi
fi
command -v java >/dev/null || { echo "setup: java not found after installing zookeeper" >&2; exit 1; }

# Python packages: install only when a pinned version is missing.
if ! "$PY" - "$here/requirements.txt" <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        ok = False
sys.exit(0 if ok else 1)
PYEOF
then
    echo "setup: installing Python packages from requirements.txt"
    "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"
fi
echo "setup: ok (zookeeper $(dpkg-query -W -f='${Version}' zookeeper), $("$PY" -c 'import kazoo, pytest; from importlib.metadata import version; print("kazoo", version("kazoo"), "pytest", pytest.__version__)'))"
