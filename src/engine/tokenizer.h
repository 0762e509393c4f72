/* tokenizer.h: byte, word and byte-level BPE tokenizers, trained from a corpus and saved/loaded as
 * HF `tokenizers` tokenizer.json files (ids 0..4 are always the specials below; regular tokens follow), and
 * SentencePiece models (.model files, through libsentencepiece: spm.h), whose specials are their own. */
#ifndef FASTFNET_TOKENIZER_H
#define FASTFNET_TOKENIZER_H

#include "fastfnet.h"
/* The tokenizer API is public: include/fastfnet.h. */
#endif
