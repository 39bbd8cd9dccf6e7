#!/usr/bin/env bash
# Cross-build Ember wheels for aarch64 and armv7l with the Debian cross compilers, then install
# each into an ARM CPython 3.11 taken from Debian's packages (dpkg-extracted into a sysroot)
# and run tools/wheel_smoke.py in it under qemu-user-static. No Docker, no ARM machine.
#
#   tools/cross_wheel.sh [--no-test] [aarch64|armv7 ...]      (default: aarch64 armv7)
#
# Output: dist/cross/ember_runtime-*-cp311-cp311-linux_{aarch64,armv7l}.whl (plain linux_* tags:
# they are not auditwheel-repaired; the manylinux wheels come from cibuildwheel in CI, see
# .github/workflows/wheels.yml). Work trees: build/cross-wheel/<arch>/.
#
# Needs: g++-aarch64-linux-gnu / g++-arm-linux-gnueabihf (+ gcc), qemu-user-static, dpkg,
# apt-get, and the host CPython 3.11 with pip, setuptools, wheel, pybind11, cmake. The first run
# adds the dpkg foreign architecture and runs `apt-get update` (needs root); later runs reuse
# the sysroot. Exit codes: 0 ok, 1 build/test failure, 2 usage, 3 missing tool.
# The wheel's ABI must match the Debian Python (3.11): run it with a host Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TEST=1
ARCHES=()
for a in "$@"; do
  case "$a" in
    --no-test) TEST=0 ;;
    aarch64|armv7) ARCHES+=("$a") ;;
    *) echo "cross_wheel.sh: unknown argument '$a' (use --no-test, aarch64, armv7)" >&2; exit 2 ;;
  esac
done
[ ${#ARCHES[@]} -eq 0 ] && ARCHES=(aarch64 armv7)
PY=${PYTHON:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$PYVER" != "3.11" ]; then
  echo "cross_wheel.sh: host Python is $PYVER; the Debian bookworm target Python is 3.11 (set PYTHON=)" >&2
  exit 3
fi
JOBS=${EMBER_JOBS:-2}

# Debian packages for a CPython 3.11 that runs under qemu (+ headers for the build).
PY_DEBS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11-dev libc6 zlib1g
         libexpat1 libffi8 libssl3 libgcc-s1 libstdc++6 libbz2-1.0 liblzma5 libuuid1 libcrypt1
         libncursesw6 libtinfo6)
# numpy: PyPI has manylinux aarch64 wheels but no armv7l ones, so armv7 takes Debian's.
ARMHF_NUMPY_DEBS=(python3-numpy libblas3 liblapack3 libgfortran5)

need() { command -v "$1" >/dev/null 2>&1 || { echo "cross_wheel.sh: missing tool '$1' ($2)" >&2; exit 3; }; }

sysroot() {   # $1 deb arch, $2 dir, rest: packages
  local debarch=$1 dir=$2; shift 2
  local stamp="$dir/.complete-$(echo "$@" | md5sum | cut -c1-12)"
  [ -f "$stamp" ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
    if [ "$(id -u)" != 0 ]; then
      echo "cross_wheel.sh: run 'dpkg --add-architecture $debarch && apt-get update' as root first" >&2; exit 3
    fi
    dpkg --add-architecture "$debarch"
    apt-get update -qq || true       # a flaky mirror for one suite must not stop us
  fi
  mkdir -p "$dir/debs" "$dir/root"
  local pkgs=()
  for p in "$@"; do pkgs+=("$p:$debarch"); done
  if ! (cd "$dir/debs" && apt-get download -qq "${pkgs[@]}" 2>/dev/null); then
    [ "$(id -u)" = 0 ] && apt-get update -qq || true
    (cd "$dir/debs" && apt-get download -qq "${pkgs[@]}")
  fi
  for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$dir/root"; done
  [ -e "$dir/root/lib" ] || ln -s usr/lib "$dir/root/lib"
  touch "$stamp"
}

for arch in "${ARCHES[@]}"; do
  case "$arch" in
    aarch64) debarch=arm64; triple=aarch64-linux-gnu; plat=linux-aarch64; qemu=qemu-aarch64-static
             tc=cmake/toolchains/aarch64-linux-gnu.cmake; pipplat=manylinux2014_aarch64 ;;
    armv7)   debarch=armhf; triple=arm-linux-gnueabihf; plat=linux-armv7l; qemu=qemu-arm-static
             tc=cmake/toolchains/armv7-linux-gnueabihf.cmake; pipplat="" ;;
  esac
  need "$triple-gcc" "apt-get install gcc-$triple"
  need "$triple-g++" "apt-get install g++-$triple"
  need "$qemu" "apt-get install qemu-user-static"
  need dpkg "Debian/Ubuntu host"
  need apt-get "Debian/Ubuntu host"
  work="$ROOT/build/cross-wheel/$arch"
  SR="$work/sysroot/root"
  pkgs=("${PY_DEBS[@]}")
  [ "$arch" = armv7 ] && pkgs+=("${ARMHF_NUMPY_DEBS[@]}")
  echo "== $arch: sysroot ($work/sysroot)"
  sysroot "$debarch" "$work/sysroot" "${pkgs[@]}"
  # what the alternatives system (postinst, not run by dpkg -x) would link: libblas/liblapack
  for lib in "$SR"/usr/lib/"$triple"/{blas,lapack}/lib*.so.3; do
    [ -e "$lib" ] && [ ! -e "$SR/usr/lib/$triple/$(basename "$lib")" ] && \
      ln -s "$(basename "$(dirname "$lib")")/$(basename "$lib")" "$SR/usr/lib/$triple/$(basename "$lib")"
  done

  echo "== $arch: cross-build the wheel"
  suffix=".cpython-311-$triple.so"
  out="$ROOT/dist/cross"
  mkdir -p "$out"
  rm -f "$out"/ember_runtime-*-"${plat/-/_}".whl
  # stale setuptools trees of an earlier cross build can leave a second _core*.so in the wheel
  rm -rf build/lib."$plat"-* build/temp."$plat"-* build/bdist."$plat"
  env _PYTHON_HOST_PLATFORM="$plat" SETUPTOOLS_EXT_SUFFIX="$suffix" CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" \
      CMAKE_ARGS="-DCMAKE_TOOLCHAIN_FILE=$ROOT/$tc -DCMAKE_CXX_COMPILER=$triple-g++ \
-DPython_INCLUDE_DIR=$SR/usr/include/python3.11 -DCMAKE_CXX_FLAGS=-I$SR/usr/include -DCMAKE_C_FLAGS=-I$SR/usr/include \
-DPYTHON_MODULE_EXTENSION=$suffix -DPYTHON_IS_DEBUG=OFF -DPYTHON_MODULE_DEBUG_POSTFIX= -DCMAKE_BUILD_TYPE=Release" \
      "$PY" -m pip wheel . --no-build-isolation --no-deps --disable-pip-version-check -q -w "$out"
  wheel=$(ls "$out"/ember_runtime-*-"${plat/-/_}".whl)
  size=$(stat -c %s "$wheel")
  echo "   $wheel ($size bytes)"
  if [ "$size" -ge 1048576 ]; then echo "cross_wheel.sh: wheel is $size bytes (limit 1 MiB)" >&2; exit 1; fi
  "$PY" - "$wheel" "$suffix" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
cores = [n for n in names if n.startswith("runtime/_core") and n.endswith(".so")]
assert cores == ["runtime/_core" + sys.argv[2]], f"expected only runtime/_core{sys.argv[2]}, got {cores}"
assert any(n.endswith("data/vibration_anomaly.tflite") for n in names), "bundled model missing"
EOF
  [ "$TEST" = 1 ] || continue

  echo "== $arch: install into the Debian CPython under $qemu and run the smoke test"
  deps="$work/deps"
  mkdir -p "$deps"
  if [ -z "$(ls "$deps"/pip-*.whl 2>/dev/null)" ]; then
    "$PY" -m pip download -q --disable-pip-version-check --no-deps pip -d "$deps"
    "$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
        flatbuffers tflite paho-mqtt -d "$deps"
    if [ -n "$pipplat" ]; then
      "$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
          --platform "$pipplat" --python-version 3.11 --implementation cp --abi cp311 numpy -d "$deps"
    fi
  fi
  pipwhl=$(ls "$deps"/pip-*.whl | head -1)
  rm -rf "$SR/usr/local/lib/python3.11"
  qpy=("$qemu" -L "$SR" "$SR/usr/bin/python3.11")
  # the sysroot is ours alone: Debian's EXTERNALLY-MANAGED marker does not apply
  "${qpy[@]}" "$pipwhl/pip" install -q --no-index --find-links "$deps" --no-compile \
      --disable-pip-version-check --root-user-action=ignore --break-system-packages --no-warn-script-location "$wheel"
  (cd /tmp && "${qpy[@]}" "$ROOT/tools/wheel_smoke.py")
done
echo "cross_wheel.sh: ok (${ARCHES[*]})"
