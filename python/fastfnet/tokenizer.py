"""tokenizer.py: byte, word, BPE (HF tokenizer.json) and SentencePiece (.model) tokenizers: encode text to
ids and decode ids to text, as `fastfnet tokenizer encode|decode` do."""
import ctypes
import operator

from ._lib import Error, Owned, errbuf, fail, fspath, lib

_TOK_ERROR = ctypes.c_size_t(-1).value  # FASTFNET_TOK_ERROR: encode or decode ran out of memory
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
        t = lib.fastfnet_tok_byte()
        if not t:
            raise Error("byte tokenizer: out of memory")
        return cls(t, "byte")

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
        if not isinstance(role, str) or role not in _ROLES:
            raise Error("special: role %r is not one of %s" % (role, ", ".join(_ROLES)))
        i = lib.fastfnet_tok_special(self._handle(), _ROLES[role])
        return None if i < 0 else i

    def encode(self, text):
        """Token ids of text (str, encoded as UTF-8, or bytes); no specials are added."""
        if isinstance(text, str):
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise Error("encode: the text is not encodable as UTF-8 (%s)" % e) from None
        elif isinstance(text, (bytes, bytearray)):
            data = bytes(text)
        else:
            raise Error("encode: expected str, bytes or bytearray, got %s" % type(text).__name__)
        t, cap = self._handle(), max(16, len(data) + 1)
        while True:
            out = (ctypes.c_int32 * cap)()
            n = lib.fastfnet_tok_encode(t, data, len(data), out, cap)
            if n == _TOK_ERROR:
                raise Error("%s: encode: out of memory (or the SentencePiece library failed)" % self.name)
            if n <= cap:
                return list(out[:n])
            cap = n

    def decode_bytes(self, ids):
        """The bytes ids decode to (specials skipped; a SentencePiece model decodes exactly as spm_decode, its [CLS] as text). An id outside 0..vocab_size-1 raises Error."""
        try:
            ids = [operator.index(i) for i in ids]
        except TypeError as e:
            raise Error("decode: expected a sequence of integer ids (%s)" % e) from None
        V = self.vocab_size
        for k, i in enumerate(ids):
            if not 0 <= i < V:
                raise Error("decode: id %d at position %d is not a token id of this tokenizer (0..%d)" % (i, k, V - 1))
        arr = (ctypes.c_int32 * len(ids))(*ids)
        n = lib.fastfnet_tok_decode(self._handle(), arr, len(ids), None, 0)
        if n != _TOK_ERROR:
            buf = ctypes.create_string_buffer(n + 1)
            if lib.fastfnet_tok_decode(self._t, arr, len(ids), buf, n + 1) != _TOK_ERROR:
                return buf.raw[:n]
        raise Error("%s: decode: out of memory" % self.name)

    def decode(self, ids):
        """The text ids decode to; bytes that are not UTF-8 (a partial BPE piece) become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    _field = "_t"

    def _free(self, ptr):
        lib.fastfnet_tok_free(ptr)

    def __repr__(self):
        return "<fastfnet.Tokenizer %s: %s, %d tokens>" % (self.name, self.kind, self.vocab_size) if self._t else "<closed>"
