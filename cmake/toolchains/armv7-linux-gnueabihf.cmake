# Cross-compile for 32-bit ARMv7 Linux with hard float (Raspberry Pi OS
# 32-bit; Debian gcc-arm-linux-gnueabihf). NEON flags are added per file by
# cmake/EmberArch.cmake (-mfpu=neon on *neon*.c only), so the binary still
# runs on a VFP-only core, which takes the scalar path.
# Tests run under qemu-arm-static (`-cpu max` reports NEON in HWCAP).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfloat-abi=hard -mfpu=vfpv3-d16")
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
if(NOT DEFINED EMBER_QEMU)
  set(EMBER_QEMU qemu-arm-static)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${EMBER_QEMU};-cpu;max;-L;/usr/arm-linux-gnueabihf)
