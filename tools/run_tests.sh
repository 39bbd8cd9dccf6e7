#!/usr/bin/env bash
# The project's test command (README): builds the C library and runtime._core
# in place, runs the C unit tests under CTest, then the Python suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${EMBER_SKIP_PIP:-}" ]; then
  python -m pip install -q -r tools/requirements-test.txt
fi
BUILD=${EMBER_BUILD_DIR:-build/test}
JOBS=$(nproc 2>/dev/null || echo 2)
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DEMBER_PY_OUTPUT_DIR="$PWD/runtime"
cmake --build "$BUILD" -j"$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS"
python -m pytest "$@"
