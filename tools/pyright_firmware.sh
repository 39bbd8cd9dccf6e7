#!/usr/bin/env bash
# Type-check firmware/src against the MicroPython stubs of each board family
# (micropython-esp32-stubs, micropython-stm32-stubs): 0 errors required.
# Stubs are installed with pip into the git-ignored typings/<board>/ once.
# Usage: tools/pyright_firmware.sh [esp32|stm32 ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
PYRIGHT=${PYRIGHT:-pyright}
boards=("$@")
[ ${#boards[@]} -eq 0 ] && boards=(esp32 stm32)
for board in "${boards[@]}"; do
  case "$board" in
    esp32) other=stm32 ;;
    stm32) other=esp32 ;;
    *) echo "unknown board $board (esp32, stm32)" >&2; exit 2 ;;
  esac
  stubs="typings/$board"
  if [ ! -f "$stubs/machine.pyi" ] || [ ! -d "$stubs/stdlib" ]; then
    rm -rf "$stubs"
    if ! python -m pip install --quiet --disable-pip-version-check --target "$stubs" "micropython-$board-stubs" >&2; then
      echo "cannot install micropython-$board-stubs" >&2
      rm -rf "$stubs"
      exit 3
    fi
  fi
  cfg="typings/pyright-$board.json"
  cat > "$cfg" <<JSON
{
  "include": ["../firmware/src"],
  "exclude": ["../firmware/src/boards/$other.py"],
  "extraPaths": ["../firmware/src"],
  "stubPath": "$board",
  "typeshedPath": "$board",
  "pythonVersion": "3.8",
  "typeCheckingMode": "basic",
  "reportMissingModuleSource": "none"
}
JSON
  echo "== pyright firmware/src against micropython-$board-stubs"
  "$PYRIGHT" -p "$cfg"
done
