"""fastfnet: FNet, Fast-FNet and attention encoders through libfastfnet (ctypes; docs/PYTHON.md).

    import fastfnet, numpy as np
    model = fastfnet.load("model.safetensors")          # or a model directory
    out = model.embed(np.array([[0, 7, 8, 1]]))          # last_hidden_state (B,T,H), pooler_output (B,H)
    tok = fastfnet.Tokenizer.load("tokenizer.json"); ids = tok.encode("some text")
"""
from ._lib import Error, lib as _lib
from ._version import __version__
from .model import Model, load
from .tokenizer import Tokenizer
from .trainer import Trainer, train

__all__ = ["Error", "Model", "Tokenizer", "Trainer", "blas_core", "load", "set_threads", "train", "version"]


def version():
    """The library's version string (fastfnet_version(); the package's own before the library had one)."""
    f = getattr(_lib, "fastfnet_version", None)
    return f().decode() if f is not None else __version__


def blas_core():
    """The matrix-product kernels in use (fastfnet_blas_core(): OpenBLAS's core name, e.g. "Haswell" or
    "SkylakeX", or "cblas"); None from a library older than the call."""
    f = getattr(_lib, "fastfnet_blas_core", None)
    return f().decode() if f is not None else None


def set_threads(n):
    """Threads the library uses (default: FASTFNET_THREADS, or all cores, as the CLI)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024:
        raise Error("set_threads: expected an integer from 1 to 1024 (as the CLI's --threads), got %r" % (n,))
    _lib.fastfnet_set_threads(n)
