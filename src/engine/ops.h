/* ops.h: the encoder's operations as forward/backward pairs (llm.c convention).
 * Signatures list outputs, then inputs, then weights, then sizes. Every backward ADDS into its parameter
 * gradients, and into its input gradient unless its comment says it writes it (LayerNorm, dropout, and
 * gelu_backward_deriv write theirs: each caller's buffer was fresh, and a zeroing pass over it is saved).
 * Shapes in comments. */
#ifndef FASTFNET_OPS_H
#define FASTFNET_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "gemm.h"

/* out (B,T,C) = wte[ids] + wpe[t] + wtt[tt]; ids, tt (B,T); wte (V,C), wpe (P,C), wtt (TV,C) */
void fastfnet_embed_forward(float *out, const int *ids, const int *tt, const float *wte, const float *wpe,
                       const float *wtt, int B, int T, int C);
void fastfnet_embed_backward(float *dwte, float *dwpe, float *dwtt, const float *dout, const int *ids,
                        const int *tt, int B, int T, int C);

/* LayerNorm over C for N rows; keeps mean, rstd (N) for backward, which writes dinp (N,C) and adds into dw, db. */
void fastfnet_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, int N, int C, float eps);
void fastfnet_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C);

/* out (N,OC) = inp (N,C) @ w^T + b, w stored (OC,C) as in PyTorch; b may be NULL. */
void fastfnet_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC);
/* the same with wp, w packed beforehand for inference (gemm.h; NULL, or a pack the kernel declines: w itself) */
void fastfnet_linear_forward_pk(float *out, const float *inp, const float *w, const fastfnet_gemm_wpack *wp, const float *b,
                                int N, int C, int OC);
/* dinp may be NULL (input needs no gradient); db may be NULL when there is no bias. */
void fastfnet_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC);
/* the same with dinp overwritten instead of added to (dw and db still accumulate) */
void fastfnet_linear_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                  int N, int C, int OC);

/* The backward of out = gelu(a) W^T + b through the linear and the gelu, with d = gelu'(a) (N,C) in dA: dw (OC,C)
 * += dout^T g, db (OC) += dout's column sums, and dA = (dout W) * d, the gradient of a, overwritten, with da_b (C;
 * NULL: none) += its column sums. g (N,C) is gelu(a); dG (N,C) is scratch for dout W, used only where the product
 * and the multiplication are not fused (fastfnet_sgemm_mul declines). */
void fastfnet_linear_gelu_backward(float *dA, float *da_b, float *dw, float *db, float *dG, const float *dout,
                                   const float *g, const float *w, int N, int C, int OC);
/* gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise over n. out may alias inp. */
void fastfnet_gelu_forward(float *out, const float *inp, size_t n);
void fastfnet_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* The backward's recompute: g (n) = gelu_new(inp) and d (n) = gelu_new'(inp), one pass. */
void fastfnet_gelu_forward_deriv(float *g, float *d, const float *inp, size_t n);
/* With d from fastfnet_gelu_forward_deriv in dinp (N,OC): dinp = d * dout, the gradient of gelu's input, and
 * db (OC) += its column sums, the bias gradient of the linear before the gelu (db may be NULL). dinp is
 * overwritten (d is not a gradient until then), db added into. */
void fastfnet_gelu_backward_deriv(float *dinp, float *db, const float *dout, int N, int OC);
/* Linear then gelu_new: a (N,OC) = inp @ w^T + b (kept for backward), g = gelu_new(a); the bias is added in
 * the gelu's pass. g == a computes in place (a is not kept: no backward follows). */
void fastfnet_linear_gelu_forward(float *g, float *a, const float *inp, const float *w, const float *b, int N, int C, int OC);
/* the same with w's packed copy wp, as fastfnet_linear_forward_pk */
void fastfnet_linear_gelu_forward_pk(float *g, float *a, const float *inp, const float *w, const fastfnet_gemm_wpack *wp,
                                     const float *b, int N, int C, int OC);
/* tanh, elementwise; backward uses the output. */
void fastfnet_tanh_forward(float *out, const float *inp, size_t n);
void fastfnet_tanh_backward(float *dinp, const float *out, const float *dout, size_t n);

/* Inverted dropout with a counter-based RNG: the mask of element i depends only on (seed, first + i), never
 * on thread count; `first` places this buffer in a larger one (a slice of a batch gets the whole batch's masks).
 * mask (n) records kept elements; p == 0 copies. out may alias inp. */
void fastfnet_dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, uint64_t seed, size_t first);
/* The backward writes dinp (n). */
void fastfnet_dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p);
/* Residual with dropout: out (n) = dropout(inp) + resid, the mask drawn as fastfnet_dropout_forward draws it
 * (mask may be NULL when p == 0). out may alias inp or resid. */
void fastfnet_residual_forward(float *out, uint8_t *mask, const float *inp, const float *resid, size_t n, float p,
                          uint64_t seed, size_t first);
/* The same fused with the LayerNorm that follows it, row by row: sum (N,C) = dropout(inp) + resid,
 * out = LayerNorm(sum), keeping mean, rstd (N). sum may alias inp. */
void fastfnet_residual_layernorm_forward(float *out, float *sum, float *mean, float *rstd, uint8_t *mask, const float *inp,
                                    const float *resid, const float *w, const float *b, int N, int C, float eps,
                                    float p, uint64_t seed, size_t first);

/* Elementwise passes over n floats, split between the threads: p = 0, dst = src, dst += src. */
void fastfnet_zero(float *p, size_t n);
void fastfnet_copy(float *dst, const float *src, size_t n);
void fastfnet_add(float *dst, const float *src, size_t n);

/* AdamW on n parameters: p -= lr wd p, then the moment step with bias corrections bc1, bc2 (torch.optim.AdamW). */
void fastfnet_adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float wd, float beta1,
                      float beta2, float bc1, float bc2, float eps);

/* Fast-FNet residual reduction along the hidden axis, (N,C) -> (N,C/2), C even. mode: 1 maxpool,
 * 2 avgpool, 3 slice (the dense mode is a linear layer). */
void fastfnet_reduce_forward(float *out, const float *inp, int N, int C, int mode);
void fastfnet_reduce_backward(float *dinp, const float *dout, const float *inp, int N, int C, int mode);

/* Multi-head self-attention core, tiled with an online softmax, so no (T,T) matrix is kept. q, k, v, ctx
 * (B,T,C) with NH heads of C/NH columns; keymask (B,T) is 1 for keys that may be attended (a row with none
 * attends to all); lse (B,NH,T) receives each score row's log-sum-exp, from which backward recomputes the
 * probabilities. scratch holds nslots x fastfnet_attention_scratch_floats(T) floats (one slot per thread; at
 * most nslots threads run). Dropout p on the probabilities draws from the counter-based stream keyed by
 * (seed, b0 + b, head, i T + j), b0 being the first row's index in the whole batch; backward redraws it. */
size_t fastfnet_attention_scratch_floats(int T);
void fastfnet_attention_forward(float *ctx, float *lse, float *scratch, int nslots, const float *q, const float *k,
                           const float *v, const uint8_t *keymask, int B, int T, int C, int NH, float p,
                           uint64_t seed, int b0);
/* ctx and lse as the forward left them; seed and b0 as given to it. */
void fastfnet_attention_backward(float *dq, float *dk, float *dv, float *scratch, int nslots, const float *dctx,
                            const float *ctx, const float *lse, const float *q, const float *k, const float *v,
                            const uint8_t *keymask, int B, int T, int C, int NH, float p, uint64_t seed, int b0);
/* Whether attention dropout keeps probability (i, j) of head h of batch row brow (1 when p == 0). */
int fastfnet_attention_kept(uint64_t seed, int brow, int h, int NH, int T, int i, int j, float p);

/* Mean cross-entropy over targets != -100. probs (N,V) receives softmax(logits). Returns the mean loss
 * (0 when no target counts) and writes the number of counted targets to *count. */
float fastfnet_crossentropy_forward(float *probs, const float *logits, const int *targets, int N, int V,
                               int *count);
/* dlogits (N,V) += (probs - onehot) * dloss / count, zero for ignored rows. */
void fastfnet_crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V,
                               int count, float dloss);
#endif
