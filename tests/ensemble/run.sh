#!/usr/bin/env bash
# The replicated-ensemble tests (issue 5) against real Quorum servers: setup (tests/compat/setup.sh),
# then pytest on tests/ensemble (test_ensemble.py, and tests/compat's kazoo and CLI tests against
# a 3-server ensemble). QUORUM_BIN picks the binary (default target/ci/quorum, then
# target/release/quorum); PYTEST_ARGS adds pytest arguments. Prints a summary, exits 1 on failure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
PY="${PYTHON:-python3}"
export COMPAT_TARGET=quorum-ensemble
start=$(date +%s)

echo "== ensemble: setup =="
bash "$here/../compat/setup.sh" || { echo "ensemble: setup failed"; exit 1; }
bin=$("$PY" -c "import sys; sys.path.insert(0, '$here/../compat'); import zk; print(zk.quorum_bin())") \
    || { echo "ensemble: no quorum binary to test (build it or set QUORUM_BIN)"; exit 1; }
[ -x "$bin" ] || { echo "ensemble: $bin is not an executable"; exit 1; }
echo "ensemble: quorum binary $bin"

echo "== ensemble: pytest =="
out=$(mktemp)
timeout 900 "$PY" -m pytest -q -rsxX -s -p no:cacheprovider ${PYTEST_ARGS:-} \
    "$here/test_ensemble.py" "$here/test_compat_kazoo.py" "$here/test_compat_pipelined.py" \
    "$here/test_compat_cli.py" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

echo "== ensemble: differential zookeeper vs a 3-server ensemble (clients on a follower), pipelined =="
diff_out=$(mktemp)
QUORUM_BIN="$bin" timeout 900 "$PY" "$here/../compat/differential.py" --ops "${DIFF_OPS:-5000}" \
    --seed "${DIFF_SEED:-3}" --other quorum-ensemble --pipeline 64 2>&1 | tee "$diff_out"
diff_rc=${PIPESTATUS[0]}
diff_line=$(grep -E "^differential: [0-9]+ ops" "$diff_out" | tail -1)
rm -f "$diff_out"

echo "== ensemble summary ($(( $(date +%s) - start ))s) =="
grep -E "^(failover|DIFF|SNAP|TRUNC|session|expiry|silent client)" "$out" | sed 's/^/  /'
grep -E "^(XFAIL|XPASS|FAILED|ERROR) " "$out" | sed 's/^/  /'
line=$(grep -E "[0-9]+ (passed|failed|error)" "$out" | tail -1)
rm -f "$out"
echo "  pytest: ${line:-no result line} (exit $rc)"
echo "  differential: ${diff_line:-no result line} (exit $diff_rc)"
if [ "$rc" -eq 0 ] && [ "$diff_rc" -eq 0 ]; then
    echo "ensemble: PASS"
    exit 0
fi
echo "ensemble: FAIL"
exit 1
