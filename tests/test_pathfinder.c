/* test_pathfinder.c: the Pathfinder generator (src/pathfinder.c): determinism, label balance, markers on the
 * paths the generator built (one path when connected, two when not), path separation measured independently
 * by sampling, pixel values, IDX files, and bad parameters refused. */
#include "check.h"
#include "pathfinder.h"
#include "util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *gen_many(const ffn_pathfinder_config *c, uint64_t seed, int n, int *labels) {
    size_t px = (size_t)c->size * c->size;
    uint8_t *im = malloc(px * (size_t)n);
    ffn_rng r;
    ffn_rng_seed(&r, seed);
    char err[256];
    for (int i = 0; i < n; i++) {
        labels[i] = ffn_pathfinder_generate(c, &r, im + px * (size_t)i, NULL, err, sizeof err);
        if (labels[i] < 0) {
            check(0, "generate image %d: %s", i, err);
            break;
        }
    }
    return im;
}

static void test_determinism(int level) {
    ffn_pathfinder_config c;
    ffn_pathfinder_default(&c, level);
    int n = 50, la[50], lb[50], lc[50];
    uint8_t *a = gen_many(&c, 7, n, la), *b = gen_many(&c, 7, n, lb), *d = gen_many(&c, 8, n, lc);
    size_t bytes = (size_t)n * c.size * c.size;
    check(!memcmp(a, b, bytes) && !memcmp(la, lb, sizeof la), "%s: the same seed gives the same images and labels",
          ffn_pathfinder_levels[level]);
    check(memcmp(a, d, bytes) != 0, "%s: another seed gives other images", ffn_pathfinder_levels[level]);
    free(a), free(b), free(d);
}

/* Least distance between paddles of two paths, by sampling 21 points on each paddle (an upper bound of the
 * exact distance, computed without the generator's segment geometry). */
static float sampled_dist(const float *s, const float *t) {
    float best = 1e30f;
    for (int i = 0; i <= 20; i++)
        for (int j = 0; j <= 20; j++) {
            float ax = s[0] + (s[2] - s[0]) * i / 20.f, ay = s[1] + (s[3] - s[1]) * i / 20.f;
            float bx = t[0] + (t[2] - t[0]) * j / 20.f, by = t[1] + (t[3] - t[1]) * j / 20.f;
            float d = sqrtf((ax - bx) * (ax - bx) + (ay - by) * (ay - by));
            best = d < best ? d : best;
        }
    return best;
}

static float min_path_dist(const ffn_pathfinder_info *in) {
    float best = 1e30f;
    for (int p = 0; p < in->npaths; p++)
        for (int q = p + 1; q < in->npaths; q++)
            for (int i = 0; i < in->len[p]; i++)
                for (int j = 0; j < in->len[q]; j++) {
                    float d = sampled_dist(in->seg[p][i], in->seg[q][j]);
                    best = d < best ? d : best;
                }
    return best;
}

/* The markers of one image: on ends of the paths the label says, at those ends, and drawn at full value. */
static int markers_ok(const ffn_pathfinder_config *c, const ffn_pathfinder_info *in, const uint8_t *img) {
    if (in->label ? in->marker_path[0] != 0 || in->marker_path[1] != 0 || in->marker_end[0] == in->marker_end[1]
                  : in->marker_path[0] != 0 || in->marker_path[1] != 1)
        return 0;
    for (int m = 0; m < 2; m++) {
        int p = in->marker_path[m];
        const float *s = in->marker_end[m] ? in->seg[p][in->len[p] - 1] : in->seg[p][0];
        float ex = in->marker_end[m] ? s[2] : s[0], ey = in->marker_end[m] ? s[3] : s[1];
        if (fabsf(ex - in->marker_xy[m][0]) > 1e-6f || fabsf(ey - in->marker_xy[m][1]) > 1e-6f) return 0;
        float mk[4] = {ex, ey, ex, ey}; /* one dark pixel between a marker and any other path */
        for (int q = 0; q < in->npaths; q++)
            for (int k = 0; q != p && k < in->len[q]; k++)
                if (sampled_dist(mk, in->seg[q][k]) < c->marker_radius + c->thickness / 2 + 1 - 1e-3f) return 0;
        int x = (int)in->marker_xy[m][0], y = (int)in->marker_xy[m][1];
        if (img[y * c->size + x] < 200) return 0; /* the marker's own pixel is (nearly) full */
    }
    return 1;
}

/* Every paddle's midpoint pixel is inked; the path lengths are the config's. */
static int paths_drawn(const ffn_pathfinder_config *c, const ffn_pathfinder_info *in, const uint8_t *img) {
    if (in->npaths != 2 + c->num_distractors) return 0;
    for (int p = 0; p < in->npaths; p++) {
        if (in->len[p] != (p < 2 ? c->contour_length : c->distractor_length)) return 0;
        for (int k = 0; k < in->len[p]; k++) {
            const float *s = in->seg[p][k];
            int x = (int)((s[0] + s[2]) / 2), y = (int)((s[1] + s[3]) / 2);
            if (img[y * c->size + x] == 0) return 0;
        }
    }
    return 1;
}

static void test_construction(int level) {
    ffn_pathfinder_config c;
    ffn_pathfinder_default(&c, level);
    int n = 400, pos = 0, bad_markers = 0, bad_paths = 0, too_close = 0, tries = 0;
    long ink = 0, full = 0;
    float closest = 1e30f;
    uint8_t *img = malloc((size_t)c.size * c.size);
    ffn_pathfinder_info *in = malloc(sizeof *in);
    ffn_rng r;
    ffn_rng_seed(&r, 99);
    char err[256];
    for (int i = 0; i < n; i++) {
        int y = ffn_pathfinder_generate(&c, &r, img, in, err, sizeof err);
        if (y < 0 || y != in->label) {
            check(0, "%s: image %d: %s", ffn_pathfinder_levels[level], i, y < 0 ? err : "label differs from info");
            break;
        }
        pos += y, tries += in->tries;
        bad_markers += !markers_ok(&c, in, img);
        bad_paths += !paths_drawn(&c, in, img);
        float d = min_path_dist(in);
        closest = d < closest ? d : closest;
        too_close += d < c.separation - 1e-3f;
        for (int p = 0; p < c.size * c.size; p++) ink += img[p] > 0, full += img[p] == 255;
    }
    const char *lv = ffn_pathfinder_levels[level];
    check_detail(pos >= 160 && pos <= 240, "label balance", "%s: %d of %d connected", lv, pos, n);
    check_detail(bad_markers == 0, "markers on one path when connected, on the two targets when not, clear of other paths", "%s: %d of %d images wrong", lv, bad_markers, n);
    check_detail(bad_paths == 0, "every path has its length and is drawn", "%s: %d of %d images wrong", lv, bad_paths, n);
    check_detail(too_close == 0, "different paths stay apart", "%s: %d images with paths closer than %.2f (closest %.3f)", lv,
                 too_close, c.separation, closest);
    double frac = (double)ink / ((double)n * c.size * c.size);
    check_detail(frac > 0.03 && frac < 0.5 && full > 0, "ink fraction in a sane range", "%s: %.3f inked", lv, frac);
    printf("  %s: %d of %d connected, %.1f%% of pixels inked, %.2f images drawn per image kept, closest paths %.2f px\n",
           lv, pos, n, 100 * frac, (double)tries / n, closest);
    free(img), free(in);
}

static void test_bad_configs(void) {
    ffn_pathfinder_config c;
    char err[256];
    ffn_pathfinder_default(&c, 0), c.size = 4;
    check(ffn_pathfinder_check_config(&c, err, sizeof err) && strstr(err, "size"), "size 4 refused: %s", err);
    ffn_pathfinder_default(&c, 0), c.contour_length = 0;
    check(ffn_pathfinder_check_config(&c, err, sizeof err) && strstr(err, "contour_length"), "contour length 0 refused: %s", err);
    ffn_pathfinder_default(&c, 0), c.num_distractors = FFN_PF_MAX_PATHS;
    check(ffn_pathfinder_check_config(&c, err, sizeof err) && strstr(err, "num_distractors"), "too many distractors refused: %s", err);
    ffn_pathfinder_default(&c, 0), c.continuity = NAN;
    check(ffn_pathfinder_check_config(&c, err, sizeof err) && strstr(err, "continuity"), "NaN continuity refused: %s", err);
    ffn_pathfinder_default(&c, 0), c.thickness = -1;
    check(ffn_pathfinder_check_config(&c, err, sizeof err) && strstr(err, "thickness"), "negative thickness refused: %s", err);
    ffn_pathfinder_default(&c, 0);
    check(ffn_pathfinder_check_config(&c, err, sizeof err) == 0, "the defaults are accepted");
    check(ffn_pathfinder_level("hard") == 2 && ffn_pathfinder_level("easy") == 0 && ffn_pathfinder_level("Hard") == -1 &&
          ffn_pathfinder_level(NULL) == -1, "level names");
    /* a config that can never fit: 46 long paths in a small image; refused after the retries, not looping */
    ffn_pathfinder_default(&c, 2), c.size = 8, c.num_distractors = 46, c.distractor_length = 60;
    uint8_t img[64];
    ffn_rng r;
    ffn_rng_seed(&r, 1);
    check(ffn_pathfinder_generate(&c, &r, img, NULL, err, sizeof err) == -1 && strstr(err, "could not place"),
          "an impossible config fails with a message: %s", err);
}

static void test_idx(const char *dir) {
    ffn_pathfinder_config c;
    ffn_pathfinder_default(&c, 1);
    char ia[512], la[512], ib[512], lb[512], err[256];
    snprintf(ia, sizeof ia, "%s/a-images", dir), snprintf(la, sizeof la, "%s/a-labels", dir);
    snprintf(ib, sizeof ib, "%s/b-images", dir), snprintf(lb, sizeof lb, "%s/b-labels", dir);
    int rc = ffn_pathfinder_write_idx(ia, la, &c, 5, 30, err, sizeof err) | ffn_pathfinder_write_idx(ib, lb, &c, 5, 20, err, sizeof err);
    check(rc == 0, "IDX files written: %s", rc ? err : "ok");
    size_t na, nb, nl;
    char *a = read_file(ia, &na), *b = read_file(ib, &nb), *l = read_file(la, &nl);
    check(a && na == 16 + 30 * 1024 && (uint8_t)a[3] == 0x03 && (uint8_t)a[11] == 32 && (uint8_t)a[15] == 32,
          "images file: header 0x803, 30 x 32 x 32");
    check(l && nl == 8 + 30 && (uint8_t)l[3] == 0x01 && (uint8_t)l[7] == 30, "labels file: header 0x801, 30 labels");
    int lab_ok = 1;
    for (size_t i = 8; l && i < nl; i++) lab_ok &= (uint8_t)l[i] <= 1;
    check(lab_ok, "labels are 0 or 1");
    check(a && b && !memcmp(a + 16, b + 16, 20 * 1024), "the first 20 of 30 images are the 20-image file");
    free(a), free(b), free(l);
    ffn_pathfinder_default(&c, 0), c.size = 2;
    check(ffn_pathfinder_write_idx(ia, la, &c, 5, 3, err, sizeof err) == -1 && strstr(err, "size"), "bad config refused by the writer: %s", err);
}

int main(void) {
    for (int level = 0; level < 3; level++) {
        test_determinism(level);
        test_construction(level);
    }
    test_bad_configs();
    const char *dir = check_tmpdir("pathfinder");
    check(dir != NULL, "scratch directory");
    if (dir) test_idx(dir);
    check_tmpdir_remove();
    return check_summary();
}
