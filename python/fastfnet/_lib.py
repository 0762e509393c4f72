"""_lib.py: loads the shared libraries that ship inside this package (libfastfnet.so.0, and
libfastfnet_train.so.0 when training is asked for) and declares the C functions and structs of
include/fastfnet.h and include/fastfnet_train.h that the package calls."""
import contextlib
import ctypes
import os
import re
import threading
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_long, c_size_t, c_void_p

HERE = os.path.dirname(os.path.abspath(__file__))
ERRLEN = 1024


class Error(Exception):
    """A failure: the library's one-line message, or bad input refused before it reached the library."""


class Owned:
    """A library object owned by this Python object: close(), the end of a `with` block or garbage collection
    frees it, once. Subclasses name the attribute that holds the pointer (_field) and free it (_free). One whose
    C calls share working memory (a model's activations, a trainer) sets self._lock = threading.RLock() and
    makes those calls inside `with self._serial(what):`; close() takes the lock too. It cannot be copied or
    pickled: a copy would hold the same pointer and free it a second time."""
    _field = None

    def _free(self, ptr):
        raise NotImplementedError

    @contextlib.contextmanager
    def _serial(self, what):
        """Calls on one object from several threads run one at a time (ctypes releases the GIL); a call made
        from inside another on the same thread (a training callback) is refused rather than deadlocking."""
        with self._lock:
            if getattr(self, "_busy", False):
                raise Error("%s: called while another call on the same object runs (from its callback)" % what)
            self._busy = True
            try:
                yield
            finally:
                self._busy = False

    def close(self):
        if self.__dict__.get("_lock") is None:
            self._close()
        else:
            with self._serial("close"):
                self._close()

    def _close(self):
        ptr = getattr(self, self._field, None)
        if ptr:
            setattr(self, self._field, None)
            self._free(ptr)

    def _no_copy(self, *args):
        raise Error("%s owns C memory and cannot be copied or pickled: load it again instead" % type(self).__name__)

    __copy__ = __deepcopy__ = __reduce__ = __reduce_ex__ = _no_copy

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Batch(ctypes.Structure):  # fastfnet_batch
    _fields_ = [("B", c_int), ("T", c_int), ("input_ids", POINTER(c_int)), ("token_type_ids", POINTER(c_int)),
                ("mlm_labels", POINTER(c_int)), ("nsp_labels", POINTER(c_int)), ("cls_labels", POINTER(c_int)),
                ("row0", c_int), ("cls_denom", c_int), ("mlm_denom", c_int), ("nsp_denom", c_int),
                ("pooled_only", c_int)]


class Tensor(ctypes.Structure):  # fastfnet_tensor
    _fields_ = [("name", c_char_p), ("ndim", c_int), ("shape", c_int * 2), ("numel", c_size_t),
                ("data", POINTER(c_float)), ("grad", POINTER(c_float))]


class Progress(ctypes.Structure):  # fastfnet_train_progress
    _fields_ = [("step", c_long), ("steps", c_long), ("loss", c_float), ("lr", c_float), ("grad_norm", c_float),
                ("elapsed", c_double), ("evaluated", c_int), ("eval_loss", c_float), ("eval_accuracy", c_float),
                ("logged", c_int), ("mean_loss", c_float), ("tokens_per_s", c_double), ("mlm", c_int), ("lead", c_int)]


TRAIN_CALLBACK = ctypes.CFUNCTYPE(c_int, POINTER(Progress), c_void_p)
_E = (c_char_p, c_size_t)  # the err, errlen pair every fallible function ends with

# name: (restype, argtypes); the functions the engine must have
ENGINE = {
    "fastfnet_model_load": (c_void_p, (c_char_p, *_E)),
    "fastfnet_model_free": (None, (c_void_p,)),
    "fastfnet_model_pack_weights": (c_int, (c_void_p,)),
    "fastfnet_model_config": (c_void_p, (c_void_p,)),
    "fastfnet_config_to_json": (c_int, (c_void_p, c_char_p, c_size_t)),
    "fastfnet_config_width": (c_int, (c_void_p, c_int)),
    "fastfnet_model_reserve": (c_int, (c_void_p, c_int, c_int, c_int, *_E)),
    "fastfnet_model_check_batch": (c_int, (c_void_p, POINTER(Batch), *_E)),
    "fastfnet_model_forward": (c_float, (c_void_p, POINTER(Batch), c_int)),
    "fastfnet_model_error": (c_char_p, (c_void_p,)),
    "fastfnet_model_hidden": (c_void_p, (c_void_p,)),
    "fastfnet_model_pooled": (c_void_p, (c_void_p,)),
    "fastfnet_model_logits_cls": (c_void_p, (c_void_p,)),
    "fastfnet_model_num_tensors": (c_int, (c_void_p,)),
    "fastfnet_model_tensor": (Tensor, (c_void_p, c_int)),
    "fastfnet_model_num_params": (c_size_t, (c_void_p,)),
    "fastfnet_set_threads": (None, (c_int,)),
    "fastfnet_tok_load": (c_void_p, (c_char_p, *_E)),
    "fastfnet_tok_byte": (c_void_p, ()),
    "fastfnet_tok_free": (None, (c_void_p,)),
    "fastfnet_tok_vocab_size": (c_int, (c_void_p,)),
    "fastfnet_tok_kind_of": (c_int, (c_void_p,)),
    "fastfnet_tok_kind_name": (c_char_p, (c_int,)),
    "fastfnet_tok_special": (c_int32, (c_void_p, c_int)),
    "fastfnet_tok_encode": (c_size_t, (c_void_p, c_char_p, c_size_t, POINTER(c_int32), c_size_t)),
    "fastfnet_tok_decode": (c_size_t, (c_void_p, POINTER(c_int32), c_size_t, c_char_p, c_size_t)),
    "fastfnet_sizeof_batch": (c_size_t, ()),
    "fastfnet_sizeof_tensor": (c_size_t, ()),
    "omp_get_max_threads": (c_int, ()),  # libgomp, a dependency of the engine: the CLI's default thread count
}
ENGINE_OPTIONAL = {"fastfnet_version": (c_char_p, ()), "fastfnet_blas_core": (c_char_p, ())}
TRAINER = {
    "fastfnet_trainer_create": (c_void_p, (c_int, POINTER(c_char_p), *_E)),
    "fastfnet_trainer_setup": (c_int, (c_void_p, *_E)),
    "fastfnet_trainer_resume": (c_int, (c_void_p, *_E)),
    "fastfnet_trainer_step": (c_int, (c_void_p, POINTER(Progress), *_E)),
    "fastfnet_trainer_evaluate": (c_int, (c_void_p, c_char_p, POINTER(c_float), POINTER(c_float), *_E)),
    "fastfnet_trainer_checkpoint": (c_int, (c_void_p, *_E)),
    "fastfnet_trainer_run": (c_int, (c_void_p, TRAIN_CALLBACK, c_void_p, *_E)),
    "fastfnet_trainer_model": (c_void_p, (c_void_p,)),
    "fastfnet_trainer_free": (None, (c_void_p,)),
    "fastfnet_sizeof_train_progress": (c_size_t, ()),
}


def _atoi(s):
    """C's atoi, as the CLI reads FASTFNET_THREADS: leading white space, a sign, ASCII digits; 0 without any"""
    m = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", s)
    return max(-2**31, min(2**31 - 1, int(m.group(1)))) if m else 0


def _declare(lib, table, path, required=True):
    for name, (res, args) in table.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            if required:
                raise ImportError("%s has no function %s: rebuild the package (pip install ./python)" % (path, name))
            continue
        f.restype, f.argtypes = res, args


def _open(name):
    path = os.path.join(HERE, name)
    if not os.path.isfile(path):
        raise ImportError("%s is missing: install the package with pip (pip install ./python), which builds it" % path)
    return ctypes.CDLL(path), path


def _check_size(struct, size, path):
    """A mirrored struct must have the library's size, or calls would read and write past it."""
    if ctypes.sizeof(struct) != size:
        raise ImportError("%s: %s is %d bytes in the library, %d in this package: the package and the library differ"
                          % (path, struct.__name__, size, ctypes.sizeof(struct)))


def _load_engine():
    lib, path = _open("libfastfnet.so.0")
    _declare(lib, ENGINE, path)
    _check_size(Batch, lib.fastfnet_sizeof_batch(), path)
    _check_size(Tensor, lib.fastfnet_sizeof_tensor(), path)
    _declare(lib, ENGINE_OPTIONAL, path, required=False)
    n = _atoi(os.environ.get("FASTFNET_THREADS", ""))
    lib.fastfnet_set_threads(n if n > 0 else lib.omp_get_max_threads())
    return lib


lib = _load_engine()
_trainer_lib = None


def trainer_lib():
    """libfastfnet_train, opened on first use (its NEEDED libfastfnet.so.0 is the engine already loaded)."""
    global _trainer_lib
    if _trainer_lib is None:
        if not os.path.isfile(os.path.join(HERE, "libfastfnet_train.so.0")):
            raise Error("%s/libfastfnet_train.so.0 is missing: this build of the package has no trainer" % HERE)
        tl, path = _open("libfastfnet_train.so.0")
        try:
            _declare(tl, TRAINER, path)
            _check_size(Progress, tl.fastfnet_sizeof_train_progress(), path)
        except ImportError as e:
            raise Error(str(e)) from None
        _trainer_lib = tl
    return _trainer_lib


def errbuf():
    return ctypes.create_string_buffer(ERRLEN)


def fail(buf, what=None):
    """Raise Error with the message the library wrote into buf (or what, when it wrote none)."""
    msg = buf.value.decode("utf-8", "replace") if buf is not None else ""
    raise Error(msg or what or "libfastfnet reported a failure without a message")


def fspath(path):
    """A path (str, bytes or os.PathLike) as bytes for the library; Error for anything else or a NUL byte
    (ctypes would cut the path there)."""
    try:
        b = os.fsencode(os.fspath(path))
    except (TypeError, ValueError) as e:
        raise Error("path: expected a str, bytes or os.PathLike, got %s (%s)" % (type(path).__name__, e)) from None
    if b"\0" in b:
        raise Error("path %r contains a NUL byte" % (path,))
    return b
