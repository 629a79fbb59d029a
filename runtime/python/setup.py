# Builds zenith._zenith from the repository's own C++ sources (runtime/ and common/), so
# `pip install ./runtime/python` works from a fresh clone with only a C++20 compiler, yaml-cpp
# and nlohmann-json headers (scripts/setup.sh installs them); liburing is used when present.
import os
import shutil
import subprocess

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


# setuptools wants sources as paths relative to this directory, inside it (with "../.." it would
# write object files into the source tree). The repository's runtime/ and common/ are reached
# through symlinks in .zenith-src/, made here; the object files then land under build/.
LINKS = os.path.join(HERE, ".zenith-src")
os.makedirs(LINKS, exist_ok=True)
for component in ("runtime", "common"):
    link = os.path.join(LINKS, component)
    if not os.path.islink(link):
        os.symlink(os.path.join(ROOT, component), link)


def rel(*parts):
    return os.path.join(".zenith-src", *parts)


RUNTIME = [
    "crc32c.cc", "byte_source.cc", "record_reader.cc", "raw_format.cc", "tfrecord_format.cc",
    "npy_format.cc", "tar_format.cc", "dataset.cc", "batcher.cc", "channel_producer.cc",
    "producer_engine.cc", "options.cc", "file_reader.cc", "pread_reader.cc", "telemetry.cc",
    "futex.cc", "thread_pool.cc", "cpu_affinity.cc",
]
COMMON = ["status.cc", "log.cc", "config.cc", "clock.cc"]

sources = ["src/module.cc"]
sources += [rel("runtime", "src", f) for f in RUNTIME]
sources += [rel("common", "src", f) for f in COMMON]
macros = []
libraries = ["yaml-cpp", "pthread"]


def have_liburing():
    if shutil.which("pkg-config") is None:
        return False
    return subprocess.run(["pkg-config", "--exists", "liburing"]).returncode == 0


if os.environ.get("ZENITH_NO_URING") != "1" and have_liburing():
    sources.append(rel("runtime", "src", "uring_reader.cc"))
    macros.append(("ZENITH_HAVE_URING", "1"))
    libraries.append("uring")

ext = Pybind11Extension(
    "zenith._zenith",
    sources,
    include_dirs=[rel("runtime", "include"), rel("common", "include"), rel("runtime", "src")],
    define_macros=macros,
    libraries=libraries,
    cxx_std=20,
    extra_compile_args=["-O2", "-Wno-unused-parameter"],
)

# Two jobs by default (shared build machines); ZENITH_BUILD_JOBS overrides.
ParallelCompile("ZENITH_BUILD_JOBS", default=2).install()
setup(ext_modules=[ext], cmdclass={"build_ext": build_ext})
