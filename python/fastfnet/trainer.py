"""trainer.py: training through libfastfnet_train's trainer object, with exactly the options of
`fastfnet train` (steps=100 is --steps 100, init_from="dir" is --init-from dir, nsp=True is --nsp)."""
import ctypes
import os
import signal
import threading

from ._lib import TRAIN_CALLBACK, Error, Owned, Progress, errbuf, fail, trainer_lib
from .model import Model, tensors_of

_FIELDS = [f for f, _ in Progress._fields_]


def options_to_argv(options):
    """Keyword options as the argv of `fastfnet train` (bytes, as the CLI's argv: a str is encoded as the OS
    encodes file names, so a name that is not UTF-8 passes through): True gives a bare flag, False and None leave
    it out. A NUL byte is refused: C would cut the value there."""
    argv = []
    for key, v in options.items():
        flag = "--" + key.replace("_", "-")
        if v is True:
            argv.append(os.fsencode(flag))
        elif v is not False and v is not None:
            if isinstance(v, os.PathLike):
                v = os.fspath(v)
            if not isinstance(v, (str, bytes, int, float)):
                raise Error("%s: expected a string, number or bool, got %s" % (flag, type(v).__name__))
            b = v if isinstance(v, bytes) else os.fsencode(str(v))
            if b"\0" in b or "\0" in flag:
                raise Error("%s: the value contains a NUL byte" % flag)
            argv += [os.fsencode(flag), b]
    return argv


def _progress(p):
    d = {f: getattr(p, f) for f in _FIELDS}
    d["evaluated"] = bool(d["evaluated"])
    return d


class Trainer(Owned):
    """A training run: Trainer(**options), then run(callback) for the whole run as `fastfnet train` runs it, or
    setup() (or resume()) and step() / evaluate() / checkpoint() one at a time. Free it with close() or `with`."""

    def __init__(self, **options):
        self._lock = threading.RLock()  # one call at a time: step, run, evaluate, ... share the trainer's memory
        self.out = options.get("out") or options.get("resume")
        self._argv_bytes = options_to_argv(options)
        self.argv = [os.fsdecode(a) for a in self._argv_bytes]
        self._tl = trainer_lib()
        # the trainer may keep pointers into argv (as the CLI's options do): they live as long as it does
        self._argv_c = (ctypes.c_char_p * (len(self.argv) + 1))(*self._argv_bytes, None)
        err = errbuf()
        self._t = self._tl.fastfnet_trainer_create(len(self.argv), self._argv_c, err, len(err))
        if not self._t:
            fail(err, "fastfnet train %s: refused" % " ".join(self.argv))

    def _call(self, fn, *args):
        with self._serial(fn.__name__.replace("fastfnet_trainer_", "")):
            if not self._t:
                raise Error("the trainer is closed")
            err = errbuf()
            rc = fn(self._t, *args, err, len(err))
        if rc < 0:
            fail(err)
        return rc

    def setup(self):
        """Read the data, build the tokenizer, the model and the optimizer (resumes when resume= was given)."""
        self._call(self._tl.fastfnet_trainer_setup)

    def resume(self):
        """Continue from the run directory's latest checkpoint."""
        self._call(self._tl.fastfnet_trainer_resume)

    def step(self):
        """One optimizer step (with its scheduled evaluation and checkpoint). Returns the progress fields as a
        dict, with "done": True once the run is complete."""
        p = Progress()
        done = self._call(self._tl.fastfnet_trainer_step, ctypes.byref(p))
        d = _progress(p)
        d["done"] = done == 1
        return d

    def evaluate(self, split="valid"):
        """Loss and accuracy on "valid" or "test"."""
        if split not in ("valid", "test"):
            raise Error('evaluate: the split is "valid" or "test", not %r' % (split,))
        loss, acc = ctypes.c_float(), ctypes.c_float()
        self._call(self._tl.fastfnet_trainer_evaluate, split.encode(), ctypes.byref(loss), ctypes.byref(acc))
        return {"loss": loss.value, "accuracy": acc.value}

    def checkpoint(self):
        self._call(self._tl.fastfnet_trainer_checkpoint)

    def run(self, callback=None):
        """The whole run, final save included. callback(progress: dict) is called after every optimizer step;
        a true return value stops the run (a checkpoint is saved first). An exception in the callback stops the
        run the same way and is raised again here."""
        raised, interrupted = [], []

        def hook(p, user):
            if interrupted:  # Ctrl-C: stop after this step (checkpoint saved), then raise KeyboardInterrupt
                return 1
            try:
                return 1 if callback and callback(_progress(p.contents)) else 0
            except BaseException as e:  # KeyboardInterrupt too: stop cleanly, then raise it
                raised.append(e)
                return 1

        # SIGINT while C code runs would wait for the whole run (and could arrive inside the ctypes callback,
        # where Python drops it): in the main thread, a handler that only notes it; the hook then stops the run.
        # Only where Ctrl-C means KeyboardInterrupt: an ignored SIGINT (nohup, a background job) or the
        # program's own handler is left alone.
        main = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        old = signal.signal(signal.SIGINT, lambda *a: interrupted.append(1)) if main else None
        try:
            self._call(self._tl.fastfnet_trainer_run, TRAIN_CALLBACK(hook), None)
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        if raised:
            raise raised[0]
        if interrupted:
            raise KeyboardInterrupt("training interrupted: checkpoint saved, continue with resume=%r" % self.out)

    def weights(self):
        """The model's parameters now, by HF name, as float32 numpy copies."""
        with self._lock:  # not _serial: a run's callback may read the weights (the run waits for it)
            if not self._t:
                raise Error("the trainer is closed")
            m = self._tl.fastfnet_trainer_model(self._t)
            if not m:  # no model until setup() (or resume()) has succeeded
                raise Error("weights: set the trainer up first")
            return tensors_of(m)

    _field = "_t"

    def _free(self, ptr):
        self._tl.fastfnet_trainer_free(ptr)


def train(callback=None, **options):
    """Train as `fastfnet train` with these options would (out= names the run directory); returns the trained
    model loaded from it. callback(progress) as in Trainer.run."""
    if not (options.get("out") or options.get("resume")):
        raise Error("train: out= (or resume=) names the run directory the model is saved in")
    with Trainer(**options) as t:
        t.run(callback)
        return Model(t.out)
