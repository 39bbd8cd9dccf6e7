"""Build driver: setuptools calls CMake to build runtime._core (pybind/cmake_example style) and
runtime.core._mqtt_fast (Cython, the core's lean MQTT ingest parser)."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        ext_fullpath = Path(self.get_ext_fullpath(ext.name)).resolve()
        # EMBER_PY_OUTPUT_DIR is the `runtime` package directory (runtime.core._mqtt_fast -> its core/).
        extdir = ext_fullpath.parents[len(ext.name.split(".")) - 2]
        target = ext.name.rsplit(".", 1)[-1]
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        cfg = os.environ.get("EMBER_BUILD_TYPE", "Release")
        cmake_args = [
            f"-DEMBER_PY_OUTPUT_DIR={extdir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_BUILD_TYPE={cfg}",
            "-DEMBER_BUILD_TESTS=OFF",
        ]
        try:
            import pybind11

            cmake_args.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass
        cmake_args += [a for a in os.environ.get("CMAKE_ARGS", "").split() if a]
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", str(ROOT), *cmake_args], cwd=build_temp, check=True)
        subprocess.run(["cmake", "--build", ".", "--target", target, "-j", jobs], cwd=build_temp, check=True)


class BuildPyWithFirmware(build_py):
    """Ship the MicroPython node firmware (canonical in firmware/) as
    runtime/firmware/ so `ember flash` and `ember demo` find it in a wheel
    (runtime/firmware_path.py)."""

    def run(self) -> None:
        super().run()
        src = ROOT / "firmware"
        if src.is_dir():
            dst = Path(self.build_lib) / "runtime" / "firmware"
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mpy"))


# runtime.core._mqtt_fast needs Cython at build time (a build requirement in pyproject.toml); a
# build without it (--no-build-isolation on a host without Cython) leaves it out and the core
# ingests node data through paho.
EXTENSIONS = [CMakeExtension("runtime._core")]
if importlib.util.find_spec("Cython") is not None:
    EXTENSIONS.append(CMakeExtension("runtime.core._mqtt_fast"))

setup(
    packages=find_packages(include=["runtime", "runtime.*"]),
    package_data={"runtime": ["*.pyi", "core/*.pyi", "py.typed", "data/*", "data/**/*", "firmware/**/*", "core/*.toml"]},
    ext_modules=EXTENSIONS,
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithFirmware},
    zip_safe=False,
)
