#!/usr/bin/env bash
# scripts/deps.sh: installs what fastfnet needs from Debian 12's packages, only those missing, then fetches
# and verifies the data sets (scripts/fetch_data.sh: pinned versions and sha256, nothing done when present).
# Build: gcc, make, FFTW 3 (single precision), OpenBLAS, Open MPI (data-parallel training; the build detects
# mpicc), SentencePiece (libsentencepiece-dev: .model tokenizers; the build detects it). Tests: PyTorch and
# NumPy for the reference twin, mpirun for the data-parallel suite, spm_train/spm_encode (sentencepiece) to
# check SentencePiece ids against the reference tools, clang with libFuzzer's runtime (libclang-rt-14-dev) for
# the fuzz harnesses.
set -euo pipefail
pkgs=(gcc make libc6-dev libfftw3-dev libopenblas-dev libopenblas0-openmp python3 python3-torch python3-numpy
    libopenmpi-dev openmpi-bin libsentencepiece-dev sentencepiece g++ clang libclang-rt-14-dev libomp-14-dev)
pkgs+=(python3-pip python3-setuptools python3-wheel) # the Python package: pip install ./python (docs/PYTHON.md)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: ok (gcc $(gcc -dumpversion), fftw $(dpkg-query -W -f='${Version}' libfftw3-dev), openblas $(dpkg-query -W -f='${Version}' libopenblas-dev), torch $(dpkg-query -W -f='${Version}' python3-torch), open mpi $(dpkg-query -W -f='${Version}' openmpi-bin), sentencepiece $(dpkg-query -W -f='${Version}' libsentencepiece-dev), clang $(clang -dumpversion))"
"$(dirname "$0")/fetch_data.sh"
