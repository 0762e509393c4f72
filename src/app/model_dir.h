/* model_dir.h: what a trained model directory holds beside the weights, in HF's layout (config.json,
 * model.safetensors, and spiece.model or tokenizer.json), so that fastfnet and HF both load it. */
#ifndef FASTFNET_MODEL_DIR_H
#define FASTFNET_MODEL_DIR_H
#include "data.h"
#include "fastfnet.h"
#include "train.h"
#include <stddef.h>

/* The file a tokenizer of this kind is saved as in a model directory (HF's names); NULL for byte (no file). */
const char *fastfnet_dir_tokenizer_file(fastfnet_tok_kind kind);
/* The tokenizer of model directory dir: the one its metadata names (kind: "byte", "sentencepiece", or another
 * kind: tokenizer.json); with no metadata (an HF directory) spiece.model, else tokenizer.json, else byte.
 * path receives the file read ("" for byte). NULL with a message naming the file. */
fastfnet_tokenizer *fastfnet_dir_tokenizer(const char *dir, const char *kind, char *path, size_t pcap, char *err, size_t errlen);
/* The tokenizer must fit the model: the same vocabulary size and, when it has a pad piece, the config's
 * pad_token_id. -1 with a message naming both files. */
int fastfnet_dir_check_tokenizer(const fastfnet_tokenizer *t, const char *tok_path, const fastfnet_config *c, const char *dir,
                            char *err, size_t errlen);
/* config.json: the config (fastfnet_config_to_json) plus HF's "architectures" and, for a classifier, "id2label"
 * and "label2id" from the label names (so HF builds the head with the right size and names). -1 if cap is
 * too small. */
int fastfnet_dir_config_json(const fastfnet_config *c, const fastfnet_labels *labels, char *buf, size_t cap);
/* The sequence length a trained model was made for: its fastfnet_max_len metadata (ml, NULL when absent: then
 * max_position), which must be a whole number in 1..max_position. -1 with a message naming path otherwise. */
int fastfnet_dir_max_len(const char *ml, const fastfnet_config *c, const char *path, int *out, char *err, size_t errlen);
/* eval and predict take tokenizer, length and labels from the model: -1 with a message naming the flag when
 * o's max_len, tokenizer or tokenizer_file (those set) contradict the model in model_dir. */
int fastfnet_check_model_opts(const char *model_dir, const fastfnet_train_opts *o, char *err, size_t errlen);
#endif
