"""setup.py: the fastfnet Python package: the ctypes binding in fastfnet/ and the shared libraries, built from
the repository this folder sits in (`make shared`) and copied into the package, which loads them from there.

    pip install --no-build-isolation ./python            (docs/PYTHON.md: --target DIR, venvs, Debian's pip)
"""
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIBS = ("libfastfnet.so.0", "libfastfnet_train.so.0")  # the engine, then the trainer (optional) that links it


def make_env(**extra):
    """The environment for make without what an enclosing make (`make test`) passes down, its variables and its
    jobserver, and without SAN: sanitized libraries cannot be loaded into Python."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "SAN")}
    env.update(extra)
    return env


def make(*args, env=None):
    jobs = os.environ.get("FASTFNET_JOBS", str(os.cpu_count() or 1))
    subprocess.run(["make", "-C", ROOT, "-j" + jobs, *args], check=True, env=env or make_env())


def make_value(name, *args):
    """A variable of the Makefile as it expands with these arguments."""
    rule = "print-var: ; @echo $(%s)" % name
    r = subprocess.run(["make", "-s", "-C", ROOT, "--eval", rule, *args, "print-var"], check=True,
                       capture_output=True, text=True, env=make_env())
    return r.stdout.split()


def build_libraries():
    """Build the shared libraries with the repository's Makefile; returns the folder that holds them."""
    make("shared")
    return os.path.join(ROOT, make_value("BUILD")[0])


class BuildWithLibraries(build_py):
    def run(self):
        super().run()
        src, dst = build_libraries(), os.path.join(self.build_lib, "fastfnet")
        if not os.path.isfile(os.path.join(src, LIBS[0])):
            raise RuntimeError("%s/%s was not built" % (src, LIBS[0]))
        with open(os.path.join(dst, "_version.py"), "w") as f:
            f.write('"""_version.py: written by setup.py from the Makefile\'s VERSION."""\n__version__ = "%s"\n' % version())
        for name in LIBS:
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))  # follows the .so.0 link


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # the wheel holds shared libraries: tag it for this platform
        return True


def version():
    """The library's version: FASTFNET_VERSION_MAJOR.MINOR.PATCH of include/fastfnet.h."""
    with open(os.path.join(ROOT, "include", "fastfnet.h")) as f:
        h = f.read()
    return ".".join(re.search(r"^#define FASTFNET_VERSION_%s (\d+)" % p, h, re.M).group(1) for p in ("MAJOR", "MINOR", "PATCH"))


setup(
    name="fastfnet",
    version=version(),
    description="FNet, Fast-FNet and attention encoders: load, embed, predict, tokenize and train (libfastfnet)",
    packages=["fastfnet"],
    python_requires=">=3.9",
    # numpy is required but not declared: pip --target would then fetch a copy instead of Debian's python3-numpy
    cmdclass={"build_py": BuildWithLibraries},
    distclass=BinaryDistribution,
    zip_safe=False,
)
