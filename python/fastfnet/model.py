"""model.py: a loaded model: its config, embeddings (last_hidden_state, pooler_output) and classifier logits,
computed as `fastfnet embed` and `fastfnet predict` compute them."""
import ctypes
import json
import os
import struct
import threading

import numpy as np

from ._lib import Batch, Error, Owned, errbuf, fail, fspath, lib

_INT32 = np.iinfo(np.int32)


def _as_ids(name, a, shape=None):
    """a as a C-contiguous int32 array of shape (B, T) (or `shape`), or Error saying what is wrong with it."""
    try:
        a = np.asarray(a)
    except (ValueError, TypeError) as e:  # ragged rows, or values numpy cannot hold
        raise Error("%s: expected a 2-D integer array (B, T) of equal-length rows (%s)" % (name, e)) from None
    if a.dtype.kind not in "iu":
        raise Error("%s: expected an integer array, got dtype %s" % (name, a.dtype))
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise Error("%s: expected a 2-D array (B, T) with B, T >= 1, got shape %s" % (name, a.shape))
    if shape is not None and a.shape != shape:
        raise Error("%s: shape %s differs from input_ids' %s" % (name, a.shape, shape))
    lo, hi = int(a.min()), int(a.max())
    if lo < _INT32.min or hi > _INT32.max:
        raise Error("%s: value %d does not fit a token id (int32)" % (name, lo if lo < _INT32.min else hi))
    return np.ascontiguousarray(a, dtype=np.int32)


def _inputs(ids, token_type_ids, batch):
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or not 1 <= batch <= _INT32.max:
        raise Error("batch: expected an integer 1..%d, got %r" % (_INT32.max, batch))
    ids = _as_ids("input_ids", ids)
    tt = None if token_type_ids is None else _as_ids("token_type_ids", token_type_ids, ids.shape)
    return ids, tt, int(batch)


def _ptr(a):
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctypes.c_int))


def _read_metadata(path):
    """The __metadata__ of the .safetensors file the model came from (the library has validated the file)."""
    f = os.path.join(path, "model.safetensors") if os.path.isdir(path) else path
    with open(f, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return json.loads(fh.read(n)).get("__metadata__", {})


def _labels(meta, path):
    """The class names in the metadata's fastfnet_labels (a JSON list of strings), None without one."""
    lj = meta.get("fastfnet_labels")
    if not lj:
        return None
    try:
        labels = json.loads(lj) if isinstance(lj, str) else None
    except ValueError:
        labels = None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise Error("%s: fastfnet_labels: label map is not a JSON list of strings" % path)
    return labels


class Model(Owned):
    """A model loaded from a .safetensors file (fastfnet's) or a directory (fastfnet train's output, or HF's
    layout: config.json + model.safetensors). Free it with close() or a `with` block."""

    def __init__(self, path):
        # embed and predict use the model's working memory (activations): one call at a time (docs/PYTHON.md)
        self._lock = threading.RLock()
        err = errbuf()
        self._m = lib.fastfnet_model_load(fspath(path), err, len(err))
        if not self._m:
            fail(err, "%s: cannot load" % path)
        # inference only (state_dict copies): the FFN weights packed once for the matrix kernel (docs/API.md);
        # where it cannot pack, forwards run unpacked
        lib.fastfnet_model_pack_weights(self._m)
        self.path = os.fsdecode(path)
        cfg = lib.fastfnet_model_config(self._m)
        buf = ctypes.create_string_buffer(1 << 16)
        if lib.fastfnet_config_to_json(cfg, buf, len(buf)) < 0:
            raise Error("%s: the config does not fit in %d bytes of JSON" % (path, len(buf)))
        self.config = json.loads(buf.value.decode())
        self.hidden_width = lib.fastfnet_config_width(cfg, self.config["num_hidden_layers"])
        self.metadata = _read_metadata(self.path)
        self.labels = _labels(self.metadata, self.path)  # class names of a trained classifier, by logit index

    def _handle(self):
        if not self._m:
            raise Error("%s: the model is closed" % self.path)
        return self._m

    _field = "_m"

    def _free(self, ptr):
        lib.fastfnet_model_free(ptr)

    def __repr__(self):
        c = self.config
        return "<fastfnet.Model %s: %d layers, width %d, vocab %d>" % (self.path, c["num_hidden_layers"], c["hidden_size"],
                                                                      c["vocab_size"])

    @property
    def num_params(self):
        return lib.fastfnet_model_num_params(self._handle())

    def _run(self, ids, tt, b0, nb, T, pooled_only=0):
        """Forward (inference) over rows b0..b0+nb of ids/tt (pooled_only: the pooler and heads only, as
        fastfnet predict runs); Error with the library's message on a bad batch."""
        m = self._handle()
        batch = Batch(B=nb, T=T, input_ids=_ptr(ids[b0:b0 + nb]), token_type_ids=_ptr(None if tt is None else tt[b0:b0 + nb]),
                      pooled_only=pooled_only)
        err = errbuf()
        if lib.fastfnet_model_check_batch(m, ctypes.byref(batch), err, len(err)):
            fail(err)
        lib.fastfnet_model_forward(m, ctypes.byref(batch), 0)
        msg = lib.fastfnet_model_error(m)
        if msg:
            raise Error(msg.decode("utf-8", "replace"))

    def _reserve(self, rows, T):
        err = errbuf()
        if lib.fastfnet_model_reserve(self._handle(), rows, T, 0, err, len(err)):
            fail(err)

    def embed(self, ids, token_type_ids=None, batch=16):
        """Run the encoder over ids (B, T) in chunks of `batch` sequences, as `fastfnet embed --batch` does.
        Returns {"last_hidden_state": (B, T, H) float32, "pooler_output": (B, H) float32 (with a pooler)}."""
        ids, tt, batch = _inputs(ids, token_type_ids, batch)
        B, T = ids.shape
        chunk = min(batch, B)
        H, pool = self.hidden_width, "pooler" in self.config["fastfnet_heads"]
        out = {"last_hidden_state": np.empty((B, T, H), np.float32)}
        if pool:
            out["pooler_output"] = np.empty((B, H), np.float32)
        with self._serial("embed"):
            self._reserve(chunk, T)
            for b0 in range(0, B, chunk):
                nb = min(chunk, B - b0)
                self._run(ids, tt, b0, nb, T)
                ctypes.memmove(out["last_hidden_state"][b0:].ctypes.data, lib.fastfnet_model_hidden(self._m), 4 * nb * T * H)
                if pool:
                    ctypes.memmove(out["pooler_output"][b0:].ctypes.data, lib.fastfnet_model_pooled(self._m), 4 * nb * H)
        return out

    def predict(self, ids, token_type_ids=None, batch=32):
        """Classifier logits (B, num_labels) float32 for ids (B, T), in batches of `batch` as `fastfnet predict`
        runs them (the pooler and classifier only: the last layer works on the [CLS] row alone).
        model.labels names the classes of a model trained by fastfnet train."""
        if "classifier" not in self.config["fastfnet_heads"]:
            raise Error("%s: predict needs a classifier head (this model has %s)" % (self.path, self.config["fastfnet_heads"]))
        ids, tt, batch = _inputs(ids, token_type_ids, batch)
        B, T = ids.shape
        chunk = min(batch, B)  # as embed: memory for the sequences there are, not for `batch` of them
        L = self.config["num_labels"]
        logits = np.empty((B, L), np.float32)
        with self._serial("predict"):
            self._reserve(chunk, T)
            for b0 in range(0, B, chunk):
                nb = min(chunk, B - b0)
                self._run(ids, tt, b0, nb, T, pooled_only=1)
                ctypes.memmove(logits[b0:].ctypes.data, lib.fastfnet_model_logits_cls(self._m), 4 * nb * L)
        return logits

    def state_dict(self):
        """Every parameter, by its HF name, as a float32 numpy copy."""
        with self._lock:  # not freed by a close() in another thread meanwhile
            return tensors_of(self._handle())


def tensors_of(m):
    """The parameters of a model handle (a loaded model's or a trainer's), copied."""
    out = {}
    for i in range(lib.fastfnet_model_num_tensors(m)):
        t = lib.fastfnet_model_tensor(m, i)
        shape = tuple(t.shape[d] for d in range(t.ndim))
        a = np.empty(shape, np.float32)
        ctypes.memmove(a.ctypes.data, t.data, 4 * t.numel)
        out[t.name.decode()] = a
    return out


def load(path):
    """Load a model: a .safetensors file or a model directory. Raises fastfnet.Error on any problem."""
    return Model(path)
