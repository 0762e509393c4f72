/* pathfinder.c: the LRA Pathfinder generator (rules and parameters in pathfinder.h): paths of paddles placed
 * with exact segment distances, markers on path ends, anti-aliased rendering, IDX files. */
#include "pathfinder.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PF_PI 3.14159265358979f
enum { PF_IMAGE_TRIES = 10000, PF_PATH_TRIES = 40, PF_TURN_TRIES = 10 };

const char *const ffn_pathfinder_levels[3] = {"easy", "medium", "hard"};

int ffn_pathfinder_level(const char *name) {
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, ffn_pathfinder_levels[i])) return i;
    return -1;
}

void ffn_pathfinder_default(ffn_pathfinder_config *c, int level) {
    static const int contour[3] = {6, 9, 14}, distractors[3] = {10, 7, 5};
    if (level < 0 || level > 2) level = 0;
    memset(c, 0, sizeof *c);
    c->size = 32;
    c->contour_length = contour[level];
    c->distractor_length = (contour[level] + 2) / 3;
    c->num_distractors = distractors[level];
    c->paddle_length = 1.5f;
    c->paddle_gap = 1.0f;
    c->thickness = 1.0f;
    c->continuity = 0.7f;
    c->separation = 2.5f;
    c->marker_radius = 1.5f;
    c->edge = 1.0f;
}

static int bad_range(char *err, size_t n, const char *what, double v, double lo, double hi) {
    return ffn_err(err, n, "pathfinder: %s is %g, must be in [%g, %g]", what, v, lo, hi);
}

int ffn_pathfinder_check_config(const ffn_pathfinder_config *c, char *err, size_t n) {
    float s = (float)c->size;
    if (c->size < 8 || c->size > 256) return bad_range(err, n, "size", c->size, 8, 256);
    if (c->contour_length < 1 || c->contour_length > FFN_PF_MAX_PADDLES)
        return bad_range(err, n, "contour_length", c->contour_length, 1, FFN_PF_MAX_PADDLES);
    if (c->distractor_length < 1 || c->distractor_length > FFN_PF_MAX_PADDLES)
        return bad_range(err, n, "distractor_length", c->distractor_length, 1, FFN_PF_MAX_PADDLES);
    if (c->num_distractors < 0 || c->num_distractors > FFN_PF_MAX_PATHS - 2)
        return bad_range(err, n, "num_distractors", c->num_distractors, 0, FFN_PF_MAX_PATHS - 2);
    /* written so that NaN fails too */
    if (!(c->paddle_length > 0 && c->paddle_length <= s)) return bad_range(err, n, "paddle_length", c->paddle_length, 0, s);
    if (!(c->paddle_gap >= 0 && c->paddle_gap <= s)) return bad_range(err, n, "paddle_gap", c->paddle_gap, 0, s);
    if (!(c->thickness > 0 && c->thickness <= 4)) return bad_range(err, n, "thickness", c->thickness, 0, 4);
    if (!(c->continuity >= 0 && c->continuity <= PF_PI)) return bad_range(err, n, "continuity", c->continuity, 0, PF_PI);
    if (!(c->separation >= 0 && c->separation <= s)) return bad_range(err, n, "separation", c->separation, 0, s);
    if (!(c->marker_radius > 0 && c->marker_radius <= 4)) return bad_range(err, n, "marker_radius", c->marker_radius, 0, 4);
    if (!(c->edge >= 0 && c->edge <= s / 4)) return bad_range(err, n, "edge", c->edge, 0, s / 4);
    return 0;
}

/* ---------- geometry ---------- */

static float point_seg_dist(float px, float py, const float *s) {
    float dx = s[2] - s[0], dy = s[3] - s[1], l2 = dx * dx + dy * dy;
    float t = l2 > 0 ? ((px - s[0]) * dx + (py - s[1]) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float ex = s[0] + t * dx - px, ey = s[1] + t * dy - py;
    return sqrtf(ex * ex + ey * ey);
}

static float cross(float ax, float ay, float bx, float by) { return ax * by - ay * bx; }

/* Do the closed segments a and b cross (proper crossing; touching is caught by the distances)? */
static int segs_cross(const float *a, const float *b) {
    float d1 = cross(a[2] - a[0], a[3] - a[1], b[0] - a[0], b[1] - a[1]);
    float d2 = cross(a[2] - a[0], a[3] - a[1], b[2] - a[0], b[3] - a[1]);
    float d3 = cross(b[2] - b[0], b[3] - b[1], a[0] - b[0], a[1] - b[1]);
    float d4 = cross(b[2] - b[0], b[3] - b[1], a[2] - b[0], a[3] - b[1]);
    return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}

static float seg_seg_dist(const float *a, const float *b) {
    if (segs_cross(a, b)) return 0;
    float d = point_seg_dist(a[0], a[1], b), e = point_seg_dist(a[2], a[3], b);
    float f = point_seg_dist(b[0], b[1], a), g = point_seg_dist(b[2], b[3], a);
    d = e < d ? e : d, d = f < d ? f : d;
    return g < d ? g : d;
}

/* May paddle s join path p, given the paths placed so far (info) and p's own first k paddles? */
static int paddle_fits(const ffn_pathfinder_config *c, const ffn_pathfinder_info *in, int p, int k, const float *s) {
    float lo = c->edge, hi = (float)c->size - c->edge;
    for (int i = 0; i < 4; i++)
        if (s[i] < lo || s[i] > hi) return 0;
    for (int q = 0; q <= p; q++) {
        int m = q == p ? k - 1 : in->len[q]; /* its own path: all but the paddle it continues */
        for (int j = 0; j < m; j++)
            if (seg_seg_dist(s, in->seg[q][j]) < c->separation) return 0;
    }
    return 1;
}

static float uniform(ffn_rng *r, float lo, float hi) { return lo + (hi - lo) * ffn_rng_uniform(r); }

/* Grow path p of len paddles from a random start; 1 if it fitted (in->len[p] = len), else 0. */
static int grow_path(const ffn_pathfinder_config *c, ffn_rng *r, ffn_pathfinder_info *in, int p, int len) {
    float x = uniform(r, c->edge, (float)c->size - c->edge), y = uniform(r, c->edge, (float)c->size - c->edge);
    float dir = uniform(r, 0, 2 * PF_PI);
    in->len[p] = 0;
    for (int k = 0; k < len; k++) {
        int ok = 0;
        for (int t = 0; t < PF_TURN_TRIES && !ok; t++) {
            float d = k == 0 ? dir : dir + uniform(r, -c->continuity, c->continuity);
            float gap = k == 0 ? 0 : c->paddle_gap, *s = in->seg[p][k];
            s[0] = x + gap * cosf(d), s[1] = y + gap * sinf(d);
            s[2] = s[0] + c->paddle_length * cosf(d), s[3] = s[1] + c->paddle_length * sinf(d);
            if (paddle_fits(c, in, p, k, s)) ok = 1, dir = d;
        }
        if (!ok) return 0;
        x = in->seg[p][k][2], y = in->seg[p][k][3];
    }
    in->len[p] = len;
    return 1;
}

static int place_path(const ffn_pathfinder_config *c, ffn_rng *r, ffn_pathfinder_info *in, int p, int len) {
    for (int t = 0; t < PF_PATH_TRIES; t++)
        if (grow_path(c, r, in, p, len)) return 1;
    return 0;
}

/* ---------- markers and rendering ---------- */

static void put_marker(ffn_pathfinder_info *in, int m, int path, int end) {
    const float *s = end ? in->seg[path][in->len[path] - 1] : in->seg[path][0];
    in->marker_path[m] = path, in->marker_end[m] = end;
    in->marker_xy[m][0] = end ? s[2] : s[0];
    in->marker_xy[m][1] = end ? s[3] : s[1];
}

/* Is marker m at least one dark pixel away from every paddle of the other paths? */
static int marker_clear(const ffn_pathfinder_config *c, const ffn_pathfinder_info *in, int m) {
    float need = c->marker_radius + c->thickness / 2 + 1;
    for (int p = 0; p < in->npaths; p++)
        for (int k = 0; p != in->marker_path[m] && k < in->len[p]; k++)
            if (point_seg_dist(in->marker_xy[m][0], in->marker_xy[m][1], in->seg[p][k]) < need) return 0;
    return 1;
}

static void choose_markers(ffn_pathfinder_info *in, ffn_rng *r) {
    if (in->label) {
        put_marker(in, 0, 0, 0), put_marker(in, 1, 0, 1);
    } else {
        put_marker(in, 0, 0, (int)(ffn_rng_u64(r) & 1));
        put_marker(in, 1, 1, (int)(ffn_rng_u64(r) & 1));
    }
}

static float coverage(float half_width, float dist) {
    float v = half_width + 0.5f - dist;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void render(const ffn_pathfinder_config *c, const ffn_pathfinder_info *in, uint8_t *img) {
    for (int y = 0; y < c->size; y++)
        for (int x = 0; x < c->size; x++) {
            float px = x + 0.5f, py = y + 0.5f, v = 0;
            for (int p = 0; p < in->npaths; p++)
                for (int k = 0; k < in->len[p]; k++) {
                    float cv = coverage(c->thickness / 2, point_seg_dist(px, py, in->seg[p][k]));
                    v = cv > v ? cv : v;
                }
            for (int m = 0; m < 2; m++) {
                float dx = px - in->marker_xy[m][0], dy = py - in->marker_xy[m][1];
                float cv = coverage(c->marker_radius, sqrtf(dx * dx + dy * dy));
                v = cv > v ? cv : v;
            }
            img[(size_t)y * c->size + x] = (uint8_t)lrintf(255 * v);
        }
}

/* ---------- images and files ---------- */

static int place_all(const ffn_pathfinder_config *c, ffn_rng *r, ffn_pathfinder_info *in) {
    in->npaths = 2 + c->num_distractors;
    memset(in->len, 0, sizeof in->len);
    for (int p = 0; p < in->npaths; p++)
        if (!place_path(c, r, in, p, p < 2 ? c->contour_length : c->distractor_length)) return 0;
    return 1;
}

int ffn_pathfinder_generate(const ffn_pathfinder_config *c, ffn_rng *rng, uint8_t *img, ffn_pathfinder_info *info,
                            char *err, size_t errlen) {
    if (ffn_pathfinder_check_config(c, err, errlen)) return -1;
    ffn_pathfinder_info *in = info ? info : malloc(sizeof *in); /* ~50 KB: not on the stack */
    if (!in) return ffn_err(err, errlen, "pathfinder: out of memory");
    int rc = -1;
    in->label = (int)(ffn_rng_u64(rng) & 1); /* drawn once: a retry redraws the paths, not the label */
    for (int t = 1; t <= PF_IMAGE_TRIES; t++)
        if (place_all(c, rng, in)) {
            choose_markers(in, rng);
            if (!marker_clear(c, in, 0) || !marker_clear(c, in, 1)) continue;
            in->tries = t;
            render(c, in, img);
            rc = in->label;
            break;
        }
    if (rc < 0)
        ffn_err(err, errlen, "pathfinder: %d images in a row could not place all %d paths: fewer or shorter paths, or a larger size",
                PF_IMAGE_TRIES, 2 + c->num_distractors);
    if (!info) free(in);
    return rc;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

int ffn_pathfinder_write_idx(const char *images_path, const char *labels_path, const ffn_pathfinder_config *c,
                             uint64_t seed, int n, char *err, size_t errlen) {
    if (ffn_pathfinder_check_config(c, err, errlen)) return -1;
    if (n < 0) return ffn_err(err, errlen, "pathfinder: %d images asked for (must be >= 0)", n);
    size_t px = (size_t)c->size * c->size;
    uint8_t *im = malloc(16 + px * (size_t)n), *lab = malloc(8 + (size_t)n);
    if (!im || !lab) return free(im), free(lab), ffn_err(err, errlen, "pathfinder: out of memory for %d images", n);
    put_be32(im, 0x803), put_be32(im + 4, (uint32_t)n), put_be32(im + 8, (uint32_t)c->size), put_be32(im + 12, (uint32_t)c->size);
    put_be32(lab, 0x801), put_be32(lab + 4, (uint32_t)n);
    ffn_rng r;
    ffn_rng_seed(&r, seed);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int y = ffn_pathfinder_generate(c, &r, im + 16 + px * (size_t)i, NULL, err, errlen);
        if (y < 0) rc = -1;
        else lab[8 + i] = (uint8_t)y;
    }
    if (rc == 0) rc = ffn_write_file_atomic(images_path, im, 16 + px * (size_t)n, err, errlen);
    if (rc == 0) rc = ffn_write_file_atomic(labels_path, lab, 8 + (size_t)n, err, errlen);
    free(im), free(lab);
    return rc;
}
