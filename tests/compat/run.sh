#!/usr/bin/env bash
# Real-client compatibility tests and the differential test against one target:
#   COMPAT_TARGET=zookeeper (default) - Apache ZooKeeper 3.8 from Debian
#   COMPAT_TARGET=quorum              - the Quorum binary (QUORUM_BIN, default target/ci/quorum
#                                       or target/release/quorum)
# Environment: DIFF_OPS (default 5000), DIFF_SEED (default 1), PYTEST_ARGS (extra pytest args).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
export COMPAT_TARGET="${COMPAT_TARGET:-zookeeper}"
PY="${PYTHON:-python3}"
start=$(date +%s)

echo "== compat: setup =="
bash "$here/setup.sh" || { echo "compat: setup failed"; exit 1; }

if [ "$COMPAT_TARGET" = quorum ]; then
    "$PY" -c "import sys; sys.path.insert(0, '$here'); import zk; print('compat: quorum binary', zk.quorum_bin())" \
        || { echo "compat: no quorum binary to test"; exit 1; }
fi

echo "== compat: pytest (kazoo, CLI, differential self-tests) against $COMPAT_TARGET =="
timeout 900 "$PY" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} \
    "$here/test_kazoo.py" "$here/test_pipelined.py" "$here/test_hostile.py" "$here/test_cli.py" "$here/test_four_letter_words.py" "$here/test_admin_server.py" "$here/test_tls.py" "$here/test_read_only.py" "$here/test_dynamic_config.py" "$here/test_reconfig.py" "$here/test_local_sessions.py" "$here/test_differential.py" 2>&1 | tee /tmp/compat-pytest.$$
pytest_rc=${PIPESTATUS[0]}
pytest_line=$(grep -E "^[0-9]+ (passed|failed)|^=+ .*(passed|failed)" /tmp/compat-pytest.$$ | tail -1)
rm -f /tmp/compat-pytest.$$

echo "== compat: differential zookeeper vs $COMPAT_TARGET =="
timeout 900 "$PY" "$here/differential.py" --ops "${DIFF_OPS:-5000}" --seed "${DIFF_SEED:-1}" \
    --other "$COMPAT_TARGET" 2>&1 | tee /tmp/compat-diff.$$
diff_rc=${PIPESTATUS[0]}
diff_line=$(grep -E "^differential: [0-9]+ ops" /tmp/compat-diff.$$ | tail -1)
rm -f /tmp/compat-diff.$$

echo "== compat: differential zookeeper vs $COMPAT_TARGET, pipelined (up to 64 requests in flight) =="
timeout 900 "$PY" "$here/differential.py" --ops "${DIFF_OPS:-5000}" --seed "$(( ${DIFF_SEED:-1} + 1 ))" \
    --other "$COMPAT_TARGET" --pipeline 64 2>&1 | tee /tmp/compat-diff.$$
pipe_rc=${PIPESTATUS[0]}
pipe_line=$(grep -E "^differential: [0-9]+ ops" /tmp/compat-diff.$$ | tail -1)
rm -f /tmp/compat-diff.$$

echo "== compat summary (target: $COMPAT_TARGET, $(( $(date +%s) - start ))s) =="
echo "  pytest:       ${pytest_line:-no result line} (exit $pytest_rc)"
echo "  differential: ${diff_line:-no result line} (exit $diff_rc)"
echo "  pipelined:    ${pipe_line:-no result line} (exit $pipe_rc)"
if [ "$pytest_rc" -eq 0 ] && [ "$diff_rc" -eq 0 ] && [ "$pipe_rc" -eq 0 ]; then
    echo "compat: PASS"
    exit 0
fi
echo "compat: FAIL"
exit 1
