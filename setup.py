"""Build the ``musicedge._native`` extension through CMake (see CMakeLists.txt).

Metadata lives in pyproject.toml; this file only teaches setuptools to run CMake.
``MUSICEDGE_BUILD_TYPE`` (default Release) and ``MUSICEDGE_NATIVE_ARCH`` (default ON: tune for the
building CPU; set OFF for wheels that must run on other machines) are passed through.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_type = os.environ.get("MUSICEDGE_BUILD_TYPE", "Release")
        native_arch = os.environ.get("MUSICEDGE_NATIVE_ARCH", "ON")
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake",
            str(ROOT),
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DMUSICEDGE_NATIVE_ARCH={native_arch}",
            "-DMUSICEDGE_BUILD_PYTHON=ON",
        ]
        try:
            import ninja  # noqa: F401

            configure += ["-G", "Ninja"]
        except ImportError:
            pass
        subprocess.run(configure, cwd=build_dir, check=True)
        jobs = str(os.cpu_count() or 2)
        subprocess.run(
            ["cmake", "--build", ".", "--target", "_native", "-j", jobs], cwd=build_dir, check=True
        )


setup(ext_modules=[CMakeExtension("musicedge._native")], cmdclass={"build_ext": CMakeBuild})
