#!/usr/bin/env bash
# Cross-compile the C library and its C tests for aarch64 and armv7 and run
# them under qemu-user (CTest uses CMAKE_CROSSCOMPILING_EMULATOR from the
# toolchain files; `-cpu max` exposes SDOT on aarch64 and NEON on armv7).
#
#   tools/cross_test.sh [aarch64|armv7 ...]     (default: both)
#
# Needs gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf, qemu-user-static,
# cmake (+ ninja if present). Build trees: build/cross-<arch>. Exits non-zero
# when a build or a test fails; prints what is missing when a tool is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHES=("$@")
[ ${#ARCHES[@]} -eq 0 ] && ARCHES=(aarch64 armv7)
JOBS=${EMBER_JOBS:-2}
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)

for arch in "${ARCHES[@]}"; do
  case "$arch" in
    aarch64) tc=cmake/toolchains/aarch64-linux-gnu.cmake; cc=aarch64-linux-gnu-gcc; qemu=qemu-aarch64-static ;;
    armv7) tc=cmake/toolchains/armv7-linux-gnueabihf.cmake; cc=arm-linux-gnueabihf-gcc; qemu=qemu-arm-static ;;
    *) echo "cross_test.sh: unknown architecture '$arch' (use aarch64 or armv7)" >&2; exit 2 ;;
  esac
  for tool in "$cc" "$qemu" cmake; do
    command -v "$tool" >/dev/null 2>&1 || { echo "cross_test.sh: missing tool '$tool' for $arch" >&2; exit 3; }
  done
  build="build/cross-$arch"
  echo "== $arch: configure + build ($build)"
  cmake -S . -B "$build" "${GEN[@]}" -DCMAKE_TOOLCHAIN_FILE="$tc" -DCMAKE_BUILD_TYPE=Release \
        -DEMBER_BUILD_PYTHON=OFF -DEMBER_BUILD_TESTS=ON >/dev/null
  cmake --build "$build" -j"$JOBS"
  echo "== $arch: ctest under $qemu -cpu max"
  ctest --test-dir "$build" --output-on-failure -j"$JOBS" --timeout 600
  # The default CPU model too (aarch64: no SDOT -> the neon variants are chosen).
  if [ "$arch" = aarch64 ]; then
    for t in "$build"/test_isa_dispatch "$build"/test_simd_conv; do
      [ -x "$t" ] || continue
      echo "== $arch: $(basename "$t") under $qemu -cpu cortex-a53 (no dotprod)"
      "$qemu" -cpu cortex-a53 -L /usr/aarch64-linux-gnu "$t" | tail -n 2
    done
  fi
done
echo "cross_test.sh: all passed (${ARCHES[*]})"
