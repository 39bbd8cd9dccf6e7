# Cross-compile for 64-bit ARM Linux (Debian gcc-aarch64-linux-gnu).
# Tests run under qemu-aarch64-static with `-cpu max` (has SDOT, so the
# neondot variants run too). Override EMBER_QEMU to use another emulator.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
if(NOT DEFINED EMBER_QEMU)
  set(EMBER_QEMU qemu-aarch64-static)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${EMBER_QEMU};-cpu;max;-L;/usr/aarch64-linux-gnu)
