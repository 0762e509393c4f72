/* record.c: the training record of `fastfnet train --record DIR` (format in record.h). */
#include "record.h"
#include "fastfnet_util.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int fastfnet_record_open(fastfnet_record *r, const char *dir, const fastfnet_model *m, const char *options_json, char *err, size_t n) {
    char p[4200];
    memset(r, 0, sizeof *r);
    struct stat sb;
    if (mkdir(dir, 0755) && errno != EEXIST) return fastfnet_err(err, n, "--record %s: cannot create (%s)", dir, strerror(errno));
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) return fastfnet_err(err, n, "--record %s: not a directory", dir);
    if (fastfnet_path(r->path, sizeof r->path, err, n, "%s/steps.bin", dir)) return -1;
    if (fastfnet_path(p, sizeof p, err, n, "%s/init.safetensors", dir) || fastfnet_model_save(m, p, err, n)) return -1;
    const char *opts = options_json ? options_json : "{}";
    if (fastfnet_path(p, sizeof p, err, n, "%s/options.json", dir) || fastfnet_write_file_atomic(p, opts, strlen(opts), err, n)) return -1;
    if (!(r->f = fopen(r->path, "wb"))) return fastfnet_err(err, n, "%s: cannot write (%s)", r->path, strerror(errno));
    return 0;
}

static int write_micro(FILE *f, const fastfnet_record_step *s, int a) {
    int B = s->B, T = s->Tb[a];
    int32_t h[12] = {FASTFNET_RECORD_MAGIC, (int32_t)s->step, a, s->accum, B, T, s->flags, s->mlm_denom, s->cls_denom};
    memcpy(h + 9, &s->lr, 4), memcpy(h + 10, &s->loss, 4), memcpy(h + 11, &s->grad_norm, 4);
    size_t o = (size_t)a * B * s->Tmax, BT = (size_t)B * T;
    int ok = fwrite(h, 4, 12, f) == 12 && fwrite(s->ids + o, 4, BT, f) == BT && fwrite(s->tt + o, 4, BT, f) == BT &&
             fwrite(s->lab + (size_t)a * B, 4, (size_t)B, f) == (size_t)B;
    if (ok && (s->flags & FASTFNET_RECORD_MLM)) ok = fwrite(s->mlm + o, 4, BT, f) == BT;
    return ok ? 0 : -1;
}

int fastfnet_record_write(fastfnet_record *r, const fastfnet_record_step *s, char *err, size_t n) {
    if (!r->f) return 0;
    for (int a = 0; a < s->accum; a++)
        if (write_micro(r->f, s, a)) return fastfnet_err(err, n, "%s: write failed (%s)", r->path, strerror(errno));
    if (fflush(r->f)) return fastfnet_err(err, n, "%s: write failed (%s)", r->path, strerror(errno));
    return 0;
}

int fastfnet_record_close(fastfnet_record *r, char *err, size_t n) {
    if (!r->f) return 0;
    int bad = fclose(r->f);
    r->f = NULL;
    return bad ? fastfnet_err(err, n, "%s: write failed (%s)", r->path, strerror(errno)) : 0;
}
