/* embed.c: embed a sentence with libfastfnet: load a model and its tokenizer, encode the text, run the
 * encoder once in inference mode, print the pooled embedding (the [CLS] row through the pooler).
 *
 *   cc examples/embed.c $(pkg-config --cflags --libs fastfnet) -o embed
 *   ./embed model.safetensors tokenizer.json "the text to embed"
 *
 * Prints one line: H numbers, each with 9 significant digits (a float32 printed so reads back exactly). */
#include <fastfnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL TOKENIZER TEXT\n", argv[0]);
        return 2;
    }
    char err[512];
    /* Every function that can fail returns NULL (or -1) and writes a one-line message into err. */
    fastfnet_model *model = fastfnet_model_load(argv[1], err, sizeof err);
    if (!model) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    fastfnet_tokenizer *tok = fastfnet_tok_load(argv[2], err, sizeof err);
    if (!tok) {
        fprintf(stderr, "embed: %s\n", err);
        fastfnet_model_free(model);
        return 1;
    }
    const fastfnet_config *cfg = fastfnet_model_config(model);

    /* Encoding writes at most cap ids and returns how many the text has: ask once for the count, then
     * encode into [CLS] ... [SEP], the layout the model was trained on. */
    const char *text = argv[3];
    size_t n = fastfnet_tok_encode(tok, text, strlen(text), NULL, 0);
    if (n == FASTFNET_TOK_ERROR || n + 2 > (size_t)cfg->max_position) {
        fprintf(stderr, "embed: the text does not fit the model (%zu tokens, at most %d)\n", n, cfg->max_position - 2);
        return 1;
    }
    int T = (int)n + 2;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)T);
    if (!ids) return 1;
    ids[0] = fastfnet_tok_special(tok, FASTFNET_TOK_CLS);
    fastfnet_tok_encode(tok, text, strlen(text), ids + 1, n);
    ids[T - 1] = fastfnet_tok_special(tok, FASTFNET_TOK_SEP);

    /* Reserve the activations for the largest batch once (B = 1 sequence of T tokens here, inference only:
     * train = 0 allocates no gradients); forwards then never allocate. */
    if (fastfnet_model_reserve(model, 1, T, 0, err, sizeof err)) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    fastfnet_batch batch = {.B = 1, .T = T, .input_ids = ids};
    /* train = 0: no dropout, and the model's training state is left as it was. A refused batch (an id out
     * of the vocabulary, a shape larger than reserved) gives NaN and fastfnet_model_error says why. */
    fastfnet_model_forward(model, &batch, 0);
    if (*fastfnet_model_error(model)) {
        fprintf(stderr, "embed: %s\n", fastfnet_model_error(model));
        return 1;
    }
    const float *pooled = fastfnet_model_pooled(model); /* (B, H); NULL when the model has no pooler */
    if (!pooled) {
        fprintf(stderr, "embed: %s has no pooler\n", argv[1]);
        return 1;
    }
    int H = fastfnet_config_width(cfg, cfg->num_layers);
    for (int j = 0; j < H; j++) printf(j ? " %.9g" : "%.9g", pooled[j]);
    printf("\n");

    free(ids);
    fastfnet_tok_free(tok);
    fastfnet_model_free(model);
    return 0;
}
