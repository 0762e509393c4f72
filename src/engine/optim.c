/* optim.c: AdamW with its moments kept apart from the model, optionally for one shard [lo, hi) of the
 * flat parameter buffer only (ZeRO-1: each process keeps and updates 1/nproc of the state). */
#include "model.h"
#include "ops.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fastfnet_optimizer {
    fastfnet_model *model;
    fastfnet_adamw hp;
    size_t lo, hi; /* the parameters whose moments this optimizer keeps and updates */
    float *m, *v;  /* (hi - lo) each */
};

/* n floats, zeroed and 64-byte aligned; NULL when out of memory. */
static float *zeroed_floats(size_t n) {
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (n > SIZE_MAX / sizeof(float) || posix_memalign(&p, 64, bytes) != 0) return NULL;
    return memset(p, 0, bytes);
}

fastfnet_optimizer *fastfnet_optimizer_create(fastfnet_model *m, const fastfnet_adamw *hp, size_t lo, size_t hi, char *err,
                                              size_t errlen) {
    if (lo == 0 && hi == 0) hi = m->num_params;
    if (lo > hi || hi > m->num_params) {
        fastfnet_err(err, errlen, "optimizer: shard [%zu, %zu) outside the model's %zu parameters", lo, hi, m->num_params);
        return NULL;
    }
    fastfnet_optimizer *o = calloc(1, sizeof *o);
    if (o) o->m = zeroed_floats(hi - lo), o->v = zeroed_floats(hi - lo);
    if (!o || !o->m || !o->v) {
        fastfnet_optimizer_free(o);
        fastfnet_err(err, errlen, "optimizer: out of memory for the AdamW moments of %zu parameters", hi - lo);
        return NULL;
    }
    o->model = m, o->hp = *hp, o->lo = lo, o->hi = hi;
    return o;
}

void fastfnet_optimizer_free(fastfnet_optimizer *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

/* torch.optim.AdamW semantics; no decay on 1-D tensors (biases, LayerNorm); only the kept shard moves. */
int fastfnet_optimizer_step(fastfnet_optimizer *o, float lr, long step) {
    fastfnet_threads_apply();
    fastfnet_model *m = o->model;
    if (step < 1 || !m->grads) return -1;
    fastfnet_model_unpack_weights(m); /* the packed copy would be stale */
    const fastfnet_adamw *h = &o->hp;
    float bc1 = 1.0f - powf(h->beta1, (float)step), bc2 = 1.0f - powf(h->beta2, (float)step);
    for (int ti = 0; ti < m->num_tensors; ti++) {
        const fastfnet_tensor_info *t = &m->tensors[ti];
        size_t a = t->offset > o->lo ? t->offset : o->lo, e = t->offset + t->numel < o->hi ? t->offset + t->numel : o->hi;
        if (a >= e) continue;
        float wd = t->ndim >= 2 ? h->weight_decay : 0.0f;
        fastfnet_adamw_update(m->params + a, m->grads + a, o->m + (a - o->lo), o->v + (a - o->lo), e - a, lr, wd, h->beta1,
                              h->beta2, bc1, bc2, h->eps);
    }
    return 0;
}

fastfnet_optimizer_state fastfnet_optimizer_get_state(fastfnet_optimizer *o) {
    return (fastfnet_optimizer_state){o->m, o->v, o->lo, o->hi};
}
