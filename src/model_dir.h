/* model_dir.h: what a trained model directory holds beside the weights, in HF's layout (config.json,
 * model.safetensors, and spiece.model or tokenizer.json), so that fastfnet and HF both load it. */
#ifndef FFN_MODEL_DIR_H
#define FFN_MODEL_DIR_H
#include "data.h"
#include "fastfnet.h"
#include "tokenizer.h"
#include "train.h"
#include <stddef.h>

/* The file a tokenizer of this kind is saved as in a model directory (HF's names); NULL for byte (no file). */
const char *ffn_dir_tokenizer_file(ffn_tok_kind kind);
/* The tokenizer of model directory dir: the one its metadata names (kind: "byte", "sentencepiece", or another
 * kind: tokenizer.json); with no metadata (an HF directory) spiece.model, else tokenizer.json, else byte.
 * path receives the file read ("" for byte). NULL with a message naming the file. */
ffn_tokenizer *ffn_dir_tokenizer(const char *dir, const char *kind, char *path, size_t pcap, char *err, size_t errlen);
/* The tokenizer must fit the model: the same vocabulary size and, when it has a pad piece, the config's
 * pad_token_id. -1 with a message naming both files. */
int ffn_dir_check_tokenizer(const ffn_tokenizer *t, const char *tok_path, const ffn_config *c, const char *dir,
                            char *err, size_t errlen);
/* config.json: the config (ffn_config_to_json) plus HF's "architectures" and, for a classifier, "id2label"
 * and "label2id" from the label names (so HF builds the head with the right size and names). -1 if cap is
 * too small. */
int ffn_dir_config_json(const ffn_config *c, const ffn_labels *labels, char *buf, size_t cap);
/* eval and predict take tokenizer, length and labels from the model: -1 with a message naming the flag when
 * o's max_len, tokenizer or tokenizer_file (those set) contradict the model in model_dir. */
int ffn_check_model_opts(const char *model_dir, const ffn_train_opts *o, char *err, size_t errlen);
#endif
