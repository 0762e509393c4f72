// spm.cpp: the C API of spm.h over libsentencepiece (Debian's libsentencepiece-dev). The only C++ file:
// it converts types and statuses and catches exceptions; normalisation and the model format are the library's.
#include "spm.h"
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v); // exported by the library, not declared in its public headers
}
} // namespace sentencepiece

struct fastfnet_spm {
    sentencepiece::SentencePieceProcessor sp;
};

static void spm_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' '; // the library's messages may span lines: keep one
}

int fastfnet_spm_available(void) { return 1; }
const char *fastfnet_spm_version(void) { return FASTFNET_SPM_VERSION[0] ? FASTFNET_SPM_VERSION : "unknown"; }

fastfnet_spm *fastfnet_spm_load(const void *data, size_t len, char *err, size_t errlen) {
    fastfnet_spm *s = nullptr;
    try {
        s = new fastfnet_spm;
        auto st = s->sp.LoadFromSerializedProto(std::string(static_cast<const char *>(data), len));
        if (!st.ok()) {
            spm_err(err, errlen, "not a SentencePiece model (the library says: %s); give a .model file written by spm_train "
                                 "or `fastfnet tokenizer train --kind unigram`", st.message());
        } else if (s->sp.GetPieceSize() < 1) {
            spm_err(err, errlen, "not a SentencePiece model (no pieces)");
        } else {
            return s;
        }
    } catch (const std::exception &e) {
        spm_err(err, errlen, "not a SentencePiece model (%s)", e.what());
    }
    delete s; // also when the library threw half-way through loading
    return nullptr;
}

void fastfnet_spm_free(fastfnet_spm *s) { delete s; }
int fastfnet_spm_size(const fastfnet_spm *s) { return s->sp.GetPieceSize(); }
int fastfnet_spm_unk_id(const fastfnet_spm *s) { return s->sp.unk_id(); }
int fastfnet_spm_pad_id(const fastfnet_spm *s) { return s->sp.pad_id(); }
int fastfnet_spm_is_control(const fastfnet_spm *s, int id) {
    return id >= 0 && id < s->sp.GetPieceSize() && (s->sp.IsControl(id) || s->sp.IsUnknown(id));
}

int fastfnet_spm_piece_id(const fastfnet_spm *s, const char *piece) {
    int id = s->sp.PieceToId(piece);
    return id >= 0 && id < s->sp.GetPieceSize() && s->sp.IdToPiece(id) == piece ? id : -1;
}

const char *fastfnet_spm_piece(const fastfnet_spm *s, int id) {
    if (id < 0 || id >= s->sp.GetPieceSize()) return nullptr;
    return s->sp.IdToPiece(id).c_str();
}

size_t fastfnet_spm_encode(const fastfnet_spm *s, const char *text, size_t len, int32_t *out, size_t cap) {
    try {
        std::vector<int> ids;
        if (!s->sp.Encode(std::string(text, len), &ids).ok()) return (size_t)-1;
        for (size_t i = 0; i < ids.size() && i < cap; i++) out[i] = ids[i];
        return ids.size();
    } catch (const std::exception &) {
        return (size_t)-1;
    }
}

size_t fastfnet_spm_decode(const fastfnet_spm *s, const int32_t *ids, size_t n, char *out, size_t cap) {
    try {
        std::vector<int> v(ids, ids + n);
        std::string text;
        if (!s->sp.Decode(v, &text).ok()) text.clear();
        if (cap) {
            size_t k = text.size() < cap - 1 ? text.size() : cap - 1;
            memcpy(out, text.data(), k);
            out[k] = 0;
        }
        return text.size();
    } catch (const std::exception &) {
        if (cap) out[0] = 0;
        return 0;
    }
}

namespace {
// The training sentences: the lines of one buffer (the trainer copies what it keeps).
class line_iterator : public sentencepiece::SentenceIterator {
  public:
    line_iterator(const char *text, size_t len) : p_(text), end_(text + len) { Next(); }
    bool done() const override { return done_; }
    void Next() override {
        if (p_ >= end_) {
            done_ = true;
            return;
        }
        const char *nl = static_cast<const char *>(memchr(p_, '\n', (size_t)(end_ - p_)));
        const char *e = nl ? nl : end_;
        line_.assign(p_, (size_t)(e - p_));
        p_ = nl ? nl + 1 : end_;
    }
    const std::string &value() const override { return line_; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

  private:
    const char *p_, *end_;
    std::string line_;
    bool done_ = false;
};
} // namespace

int fastfnet_spm_train(const char *args, const char *text, size_t len, char **model, size_t *model_len, char *err,
                  size_t errlen) {
    *model = nullptr;
    *model_len = 0;
    try {
        line_iterator it(text, len);
        std::string proto;
        sentencepiece::logging::SetMinLogLevel(2); // the trainer logs progress to stderr; the engine prints nothing
        auto st = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
        sentencepiece::logging::SetMinLogLevel(0);
        if (!st.ok()) {
            spm_err(err, errlen, "SentencePiece training failed: %s", st.ToString().c_str());
            return -1;
        }
        *model = static_cast<char *>(malloc(proto.size() ? proto.size() : 1));
        if (!*model) return spm_err(err, errlen, "out of memory"), -1;
        memcpy(*model, proto.data(), proto.size());
        *model_len = proto.size();
        return 0;
    } catch (const std::exception &e) {
        sentencepiece::logging::SetMinLogLevel(0);
        spm_err(err, errlen, "SentencePiece training failed: %s", e.what());
        return -1;
    }
}
