"""tokenizer.py: byte, word, BPE (HF tokenizer.json) and SentencePiece (.model) tokenizers: encode text to
ids and decode ids to text, as `fastfnet tokenizer encode|decode` do."""
import ctypes

from ._lib import Error, Owned, errbuf, fail, fspath, lib

_ROLES = {"cls": 0, "sep": 1, "mask": 2, "pad": 3, "unk": 4}  # FASTFNET_TOK_CLS .. FASTFNET_TOK_UNK


class Tokenizer(Owned):
    """Load with Tokenizer.load(path) (tokenizer.json or a SentencePiece .model) or Tokenizer.byte().
    Not thread-safe: encode uses the tokenizer's cache."""

    def __init__(self, handle, name):
        self._t, self.name = handle, name

    @classmethod
    def load(cls, path):
        err = errbuf()
        t = lib.fastfnet_tok_load(fspath(path), err, len(err))
        if not t:
            fail(err, "%s: cannot load the tokenizer" % path)
        return cls(t, str(path))

    @classmethod
    def byte(cls):
        """The byte tokenizer: byte b is id 5 + b (vocabulary 261)."""
        return cls(lib.fastfnet_tok_byte(), "byte")

    def _handle(self):
        if not self._t:
            raise Error("%s: the tokenizer is closed" % self.name)
        return self._t

    @property
    def vocab_size(self):
        return lib.fastfnet_tok_vocab_size(self._handle())

    @property
    def kind(self):
        """"byte", "word", "bpe" or "sentencepiece"."""
        return lib.fastfnet_tok_kind_name(lib.fastfnet_tok_kind_of(self._handle())).decode()

    def special(self, role):
        """The id of a special role: "cls", "sep", "mask", "pad" or "unk"; None when the tokenizer has none."""
        if role not in _ROLES:
            raise Error("special: role %r is not one of %s" % (role, ", ".join(_ROLES)))
        i = lib.fastfnet_tok_special(self._handle(), _ROLES[role])
        return None if i < 0 else i

    def encode(self, text):
        """Token ids of text (str, encoded as UTF-8, or bytes); no specials are added."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        t, cap = self._handle(), max(16, len(data) + 1)
        while True:
            out = (ctypes.c_int32 * cap)()
            n = lib.fastfnet_tok_encode(t, data, len(data), out, cap)
            if n <= cap:
                return list(out[:n])
            cap = n

    def decode_bytes(self, ids):
        """The bytes ids decode to (specials skipped). An id outside 0..vocab_size-1 raises Error."""
        ids = [int(i) for i in ids]
        V = self.vocab_size
        for k, i in enumerate(ids):
            if not 0 <= i < V:
                raise Error("decode: id %d at position %d is not a token id of this tokenizer (0..%d)" % (i, k, V - 1))
        arr = (ctypes.c_int32 * len(ids))(*ids)
        n = lib.fastfnet_tok_decode(self._handle(), arr, len(ids), None, 0)
        buf = ctypes.create_string_buffer(n + 1)
        lib.fastfnet_tok_decode(self._t, arr, len(ids), buf, n + 1)
        return buf.raw[:n]

    def decode(self, ids):
        """The text ids decode to; bytes that are not UTF-8 (a partial BPE piece) become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    _field = "_t"

    def _free(self, ptr):
        lib.fastfnet_tok_free(ptr)

    def __repr__(self):
        return "<fastfnet.Tokenizer %s: %s, %d tokens>" % (self.name, self.kind, self.vocab_size) if self._t else "<closed>"
