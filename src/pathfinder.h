/* pathfinder.h: the Pathfinder task of the Long Range Arena (Tay et al. 2020; the task is from Linsley et al.
 * 2018, "Learning long-range spatial dependencies with horizontal gated-recurrent units"), generated in C.
 *
 * An image (size x size grey pixels, LRA: 32 x 32) shows curved dashed paths: two target paths of
 * contour_length paddles each and num_distractors shorter paths of distractor_length paddles. Two markers
 * (filled discs) sit on path ends. Label 1 (connected): both markers are on the two ends of target path 0.
 * Label 0 (disconnected): one marker on an end of target path 0, the other on an end of target path 1. Both
 * labels draw the same paths (two targets, the same distractors), so ink and marker counts say nothing.
 *
 * A path is a chain of paddles (straight dashes): paddle k+1 starts paddle_gap pixels after paddle k ends, in
 * a direction turned by a uniform angle in [-continuity, continuity]. Geometry is exact: a paddle is kept only
 * if every point of it is at least `separation` pixels from every paddle of every other path (and from its own
 * path's paddles other than the previous one), and at least `edge` pixels inside the image; a path that cannot
 * grow is redrawn from a new start, an image whose paths cannot all be placed, or whose markers come within one
 * pixel of another path's paddles (marker_radius + thickness/2 + 1), is redrawn from scratch. Pixel
 * (x, y) covers [x, x+1) x [y, y+1); its value is 255 x the largest coverage of any paddle (a capsule of width
 * `thickness`, anti-aliased over one pixel: clamp(thickness/2 + 0.5 - distance, 0, 1)) or marker (disc of
 * marker_radius, the same rule), rounded.
 * Difficulty levels as LRA's three Pathfinder-32 sets: easy = contour length 6 (LRA's "baseline"), medium = 9,
 * hard = 14; distractor_length = contour_length / 3 (rounded up), about 20 distractor paddles per image.
 * Not a pixel-exact copy of the original generator (its renderer and RNG are Python's and OpenCV's). */
#ifndef FFN_PATHFINDER_H
#define FFN_PATHFINDER_H
#include "util.h"
#include <stddef.h>
#include <stdint.h>

#define FFN_PF_MAX_PATHS 48   /* 2 targets + distractors */
#define FFN_PF_MAX_PADDLES 64 /* paddles per path */

typedef struct {
    int size;              /* image side, pixels: 8..256; LRA 32 */
    int contour_length;    /* paddles per target path: 1..FFN_PF_MAX_PADDLES */
    int distractor_length; /* paddles per distractor path: 1..FFN_PF_MAX_PADDLES */
    int num_distractors;   /* 0..FFN_PF_MAX_PATHS-2 */
    float paddle_length;   /* pixels, (0, size] */
    float paddle_gap;      /* pixels between consecutive paddles of a path, [0, size] */
    float thickness;       /* paddle width, pixels, (0, 4] */
    float continuity;      /* largest turn between paddles, radians, [0, pi] */
    float separation;      /* least distance between different paths, pixels, [0, size] */
    float marker_radius;   /* pixels, (0, 4] */
    float edge;            /* least distance of a paddle from the image border, pixels, [0, size/4] */
} ffn_pathfinder_config;

/* A generated image's construction: every path as its paddles' end points, and where the markers are. */
typedef struct {
    int label;            /* 1 connected, 0 not */
    int npaths;           /* paths 0 and 1 are the targets, the rest distractors */
    int len[FFN_PF_MAX_PATHS];
    float seg[FFN_PF_MAX_PATHS][FFN_PF_MAX_PADDLES][4]; /* x0, y0, x1, y1 of each paddle, in pixels */
    int marker_path[2];   /* the path each marker sits on (0 or 1) */
    int marker_end[2];    /* 0: the path's start (seg[p][0] x0,y0), 1: its end (seg[p][len-1] x1,y1) */
    float marker_xy[2][2];
    int tries;            /* images drawn before this one fitted (1 = the first) */
} ffn_pathfinder_info;

/* The difficulty level by name: "easy" 0, "medium" 1, "hard" 2; -1 for anything else. */
int ffn_pathfinder_level(const char *name);
extern const char *const ffn_pathfinder_levels[3];
/* Defaults for a level (0..2) at LRA's 32 x 32. */
void ffn_pathfinder_default(ffn_pathfinder_config *c, int level);
/* 0 if usable, else -1 and a message naming the field and its range. */
int ffn_pathfinder_check_config(const ffn_pathfinder_config *c, char *err, size_t errlen);

/* One image into img (size*size bytes, row-major) and its label (0/1, from the rng); info (may be NULL) gets
 * the construction. Deterministic given the rng state, which it advances. -1 with a message when the config is
 * invalid or 10000 images in a row could not place every path (too many or too long paths for the size). */
int ffn_pathfinder_generate(const ffn_pathfinder_config *c, ffn_rng *rng, uint8_t *img, ffn_pathfinder_info *info,
                            char *err, size_t errlen);

/* Write n images drawn in order from one rng seeded with seed as IDX files (images: magic 0x803, n x size x
 * size ubyte; labels: magic 0x801, n ubyte), each atomically (temporary file, fsync, rename). The same
 * (config, seed, n) always gives the same bytes. 0 ok, -1 and a message naming the file on failure. */
int ffn_pathfinder_write_idx(const char *images_path, const char *labels_path, const ffn_pathfinder_config *c,
                             uint64_t seed, int n, char *err, size_t errlen);
#endif
