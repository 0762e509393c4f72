/* test_trainer.c: the library trainer (fastfnet_train.h) against the tool: N steps through create / setup /
 * step give the weights `fastfnet train` gives for the same options, bit for bit; the callback runs once per
 * step and can stop the run (with a checkpoint); resuming, from a new trainer or in place, retraces the
 * uninterrupted run; bad options and bad data fail with a message naming the flag or file, and the process
 * goes on. usage: test_trainer BUILD/fastfnet */
#include "check.h"
#include "fastfnet_train.h"
#include <limits.h>
#include <omp.h>
#include <unistd.h>

#define STEPS 12
static char g_tool[PATH_MAX];

/* A small text task: is the number word about a small or a large number. */
static void write_data(void) {
    static const char *words[2][5] = {{"zero", "one", "two", "three", "four"}, {"five", "six", "seven", "eight", "nine"}};
    FILE *f = fopen("train.jsonl", "w");
    unsigned s = 5;
    for (int i = 0; i < 120; i++) {
        int y = (s = s * 1103515245u + 12345u) >> 16 & 1, len = 3 + (int)((s >> 8) % 6);
        fprintf(f, "{\"text\": \"");
        for (int k = 0; k < len; k++) fprintf(f, "%s%s", k ? " " : "", words[y][(s = s * 1103515245u + 12345u) >> 16 & 3]);
        fprintf(f, "\", \"label\": \"%s\"}\n", y ? "large" : "small");
    }
    fclose(f);
}

/* The options of every run here, then --out DIR and extra ones. */
static int make_argv(const char **argv, const char *out, const char *const *extra) {
    static const char *base[] = {"--train", "train.jsonl", "--max-len", "32", "--hidden", "32", "--layers", "2", "--intermediate", "64",
                                 "--dropout", "0.1", "--threads", "1", "--batch", "4", "--steps", "12", "--save-every", "5",
                                 "--eval-every", "6", "--log-every", "3", "--seed", "7"};
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof *base; i++) argv[n++] = base[i];
    argv[n++] = "--out", argv[n++] = out;
    for (; extra && *extra; extra++) argv[n++] = *extra;
    return n;
}

/* Whether the parameters of m equal those of the model file at path, bit for bit. */
static int same_weights(const fastfnet_model *m, const char *path) {
    char err[512];
    fastfnet_model *r = fastfnet_model_load(path, err, sizeof err);
    if (!r) return printf("  %s\n", err), 0;
    int same = fastfnet_model_num_tensors(r) == fastfnet_model_num_tensors(m);
    for (int i = 0; same && i < fastfnet_model_num_tensors(m); i++) {
        fastfnet_tensor a = fastfnet_model_tensor(m, i), b = fastfnet_model_tensor(r, i);
        same = a.numel == b.numel && !memcmp(a.data, b.data, sizeof(float) * a.numel);
    }
    fastfnet_model_free(r);
    return same;
}

typedef struct {
    int calls, stop_at;
    long last_step;
    int in_order;
} counter;

static int count_steps(const fastfnet_train_progress *p, void *user) {
    counter *c = user;
    c->calls++;
    c->in_order &= p->step == c->last_step + 1 && p->steps == STEPS && isfinite(p->loss) && p->lr >= 0;
    c->last_step = p->step;
    return c->stop_at > 0 && p->step >= c->stop_at;
}

static fastfnet_trainer *new_trainer(const char *out, const char *const *extra, char *err, size_t n) {
    const char *argv[64];
    int argc = make_argv(argv, out, extra);
    fastfnet_trainer *t = fastfnet_trainer_create(argc, argv, err, n);
    if (t && fastfnet_trainer_setup(t, err, n)) {
        fastfnet_trainer_free(t);
        return NULL;
    }
    return t;
}

/* The tool's run: the reference weights in cli/model.safetensors. */
static void test_cli_reference(void) {
    const char *argv[64];
    int argc = make_argv(argv, "cli", NULL);
    char cmd[8192];
    int k = snprintf(cmd, sizeof cmd, "%s train", g_tool);
    for (int i = 0; i < argc; i++) k += snprintf(cmd + k, sizeof cmd - k, " %s", argv[i]);
    snprintf(cmd + k, sizeof cmd - k, " >cli.json 2>cli.log");
    int rc = system(cmd);
    check_detail(rc == 0 && access("cli/model.safetensors", F_OK) == 0, "fastfnet train ran (the reference)", "status %d", rc);
}

static void test_steps_equal_cli(void) {
    char err[1024];
    fastfnet_trainer *t = new_trainer("api", NULL, err, sizeof err);
    check_detail(t != NULL, "create + setup", "%s", err);
    if (!t) return;
    int rc = 0, steps = 0;
    fastfnet_train_progress p;
    while ((rc = fastfnet_trainer_step(t, &p, err, sizeof err)) == 0) steps++;
    check_detail(rc == 1 && steps + 1 == STEPS && p.step == STEPS, "step returns 1 at the last step", "rc %d after %d steps (%s)", rc, steps, err);
    check(same_weights(fastfnet_trainer_model(t), "cli/model.safetensors"), "%d steps through the API: weights bit-identical to fastfnet train's", STEPS);
    check(same_weights(fastfnet_trainer_model(t), "api/model.safetensors"), "the last step's checkpoint saved the top-level model");
    check(fastfnet_trainer_step(t, &p, err, sizeof err) == 1 && p.step == STEPS, "a step after the end does nothing and returns 1");
    float loss = -1, acc = -1;
    rc = fastfnet_trainer_evaluate(t, "valid", &loss, &acc, err, sizeof err);
    check_detail(rc == 0 && loss > 0 && acc >= 0 && acc <= 1, "evaluate valid", "rc %d loss %g accuracy %g (%s)", rc, loss, acc, err);
    rc = fastfnet_trainer_evaluate(t, "test", &loss, &acc, err, sizeof err);
    check_detail(rc == -1 && strstr(err, "test"), "evaluate test without a test split fails with a message", "rc %d: %s", rc, err);
    rc = fastfnet_trainer_evaluate(t, "bogus", &loss, &acc, err, sizeof err);
    check_detail(rc == -1 && strstr(err, "bogus"), "evaluate names a bad split", "rc %d: %s", rc, err);
    fastfnet_trainer_free(t);
}

static void test_callback_stops(void) {
    char err[1024];
    const char *argv[64];
    int argc = make_argv(argv, "cb", NULL);
    fastfnet_trainer *t = fastfnet_trainer_create(argc, argv, err, sizeof err);
    counter c = {0, 7, 0, 1};
    int rc = t ? fastfnet_trainer_run(t, count_steps, &c, err, sizeof err) : -1;
    check_detail(rc == 1 && c.calls == 7 && c.in_order, "the callback runs once per step; nonzero stops the run (run returns 1)",
                 "rc %d, %d calls, in order %d (%s)", rc, c.calls, c.in_order, err);
    size_t n;
    char *latest = read_file("cb/checkpoints/LATEST", &n);
    check_detail(latest && !strncmp(latest, "step-000000007", 14), "a stopped run saved its step's checkpoint", "LATEST %s", latest ? latest : "missing");
    free(latest);
    check(t && !same_weights(fastfnet_trainer_model(t), "cli/model.safetensors"), "the comparison sees 7 steps' weights differ from 12 steps'");
    fastfnet_trainer_free(t);
    /* a new trainer with --resume continues the stopped run to the uninterrupted run's weights */
    const char *res[] = {"--resume", "cb", NULL};
    t = fastfnet_trainer_create(make_argv(argv, "cb", res), argv, err, sizeof err);
    counter c2 = {0, 0, 7, 1};
    rc = t ? fastfnet_trainer_run(t, count_steps, &c2, err, sizeof err) : -1;
    check_detail(rc == 0 && c2.calls == STEPS - 7 && c2.in_order, "--resume through the API runs the remaining steps", "rc %d, %d calls (%s)", rc, c2.calls, err);
    check(t && same_weights(fastfnet_trainer_model(t), "cli/model.safetensors"), "stop at 7 + resume: weights bit-identical to the uninterrupted run");
    check(t && *fastfnet_trainer_summary(t) == '{', "run leaves its summary: %.60s", t ? fastfnet_trainer_summary(t) : "");
    rc = t ? fastfnet_trainer_run(t, NULL, NULL, err, sizeof err) : 0; /* it returned 0 and wrote a second final line */
    check_detail(rc == -1 && strstr(err, "has finished"), "run again after a finished run is refused", "rc %d: %s", rc, err);
    fastfnet_trainer_free(t);
}

/* Lines of the file at path that start with prefix. */
static int count_lines(const char *path, const char *prefix) {
    size_t n;
    char *text = read_file(path, &n);
    int k = 0;
    for (char *q = text; q && *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q)) k += !strncmp(q, prefix, strlen(prefix));
    free(text);
    return k;
}

/* fastfnet_trainer_resume in place: steps past the last checkpoint are undone and retraced. */
static void test_resume_in_place(void) {
    char err[1024];
    fastfnet_trainer *t = new_trainer("inplace", NULL, err, sizeof err);
    fastfnet_train_progress p;
    for (int i = 0; t && i < 8; i++) fastfnet_trainer_step(t, &p, err, sizeof err); /* checkpoint at 5; 6..8 beyond it */
    int rc = t ? fastfnet_trainer_resume(t, err, sizeof err) : -1;
    check_detail(rc == 0, "fastfnet_trainer_resume after 8 steps", "%s", err);
    rc = t ? fastfnet_trainer_step(t, &p, err, sizeof err) : -1;
    check_detail(rc == 0 && p.step == 6, "the next step after the resume is step 6", "rc %d step %ld", rc, p.step);
    while (t && (rc = fastfnet_trainer_step(t, &p, err, sizeof err)) == 0) {}
    check(t && rc == 1 && same_weights(fastfnet_trainer_model(t), "cli/model.safetensors"), "resume in place, then to the end: weights bit-identical to the uninterrupted run");
    int mine = count_lines("inplace/metrics.jsonl", "{\"step\": 6,"), ref = count_lines("cli/metrics.jsonl", "{\"step\": 6,");
    check_detail(t && mine == ref && ref > 0, "the metrics of the retraced steps appear once, as in the uninterrupted run", "%d lines of step 6, %d there", mine, ref);
    fastfnet_trainer_free(t);
}

/* A failure names its flag or file and leaves the process running. */
static void expect_create_fail(const char *const *argv, int argc, const char *what, const char *want) {
    char err[1024] = "";
    fastfnet_trainer *t = fastfnet_trainer_create(argc, argv, err, sizeof err);
    check_detail(!t && strstr(err, want), what, "got %s: \"%s\"", t ? "a trainer" : "NULL", err);
    fastfnet_trainer_free(t);
}

static void expect_setup_fail(const char *out, const char *const *extra, const char *what, const char *want) {
    char err[1024] = "";
    const char *argv[64];
    int argc = make_argv(argv, out, extra);
    fastfnet_trainer *t = fastfnet_trainer_create(argc, argv, err, sizeof err);
    int rc = t ? fastfnet_trainer_setup(t, err, sizeof err) : 0;
    check_detail(t && rc == -1 && strstr(err, want), what, "rc %d: \"%s\"", rc, err);
    fastfnet_trainer_free(t);
}

static void test_bad_input(void) {
    const char *a1[] = {"--bogus", "1"}, *a2[] = {"--batch", "many"}, *a3[] = {"--lr"}, *a4[] = {"--config", "nowhere.json"};
    expect_create_fail(a1, 2, "an unknown option is named", "--bogus");
    expect_create_fail(a2, 2, "a bad value names its flag", "--batch");
    expect_create_fail(a3, 1, "a flag without its value is named", "--lr");
    expect_create_fail(a4, 2, "a missing --config file is named", "nowhere.json");
    write_text("broken.jsonl", "{\"text\": \"one\", \"label\": \"small\"}\n{\"text\": \n");
    const char *s1[] = {"--train", "missing.jsonl", NULL}, *s2[] = {"--train", "broken.jsonl", NULL}, *s3[] = {"--schedule", "zigzag", NULL};
    const char *s4[] = {"--task", "dance", NULL}, *s5[] = {"--init-from", "nomodel", NULL};
    expect_setup_fail("bad", s1, "a missing training file is named", "missing.jsonl");
    expect_setup_fail("bad", s2, "a malformed training file is named", "broken.jsonl");
    expect_setup_fail("bad", s3, "a bad --schedule is named", "--schedule");
    expect_setup_fail("bad", s4, "a bad --task is named", "--task");
    expect_setup_fail("bad", s5, "a missing --init-from model is named", "nomodel");
    const char *again[] = {NULL};
    expect_setup_fail("cli", again, "an existing run is not overwritten without --force", "--force");
    char err[256];
    fastfnet_train_progress p;
    const char *argv[64];
    int argc = make_argv(argv, "notset", NULL);
    fastfnet_trainer *t = fastfnet_trainer_create(argc, argv, err, sizeof err);
    check(t && fastfnet_trainer_step(t, &p, err, sizeof err) == -1 && fastfnet_trainer_model(t) == NULL, "step before setup fails: %s", err);
    fastfnet_trainer_free(t);
}

/* --threads is the run's: after the trainer is freed the process has the thread count it had before (a
 * Python program's later embed calls ran on one thread after a threads=1 run) */
static void test_threads_restored(void) {
    fastfnet_set_threads(3);
    char err[256];
    fastfnet_trainer *t = new_trainer("threads", NULL, err, sizeof err); /* the base options have --threads 1 */
    int during = omp_get_max_threads();
    fastfnet_trainer_free(t);
    check(t && during == 1 && omp_get_max_threads() == 3, "--threads 1 during the run (%d), the 3 before it after (%d)", during, omp_get_max_threads());
}

/* Under mpirun (test_mpi.sh): a second trainer in the same process is refused with a message, not an MPI abort
 * (MPI cannot be initialised again after the first trainer's MPI_Finalize). */
static int mpi_twice(void) {
    char err[512];
    fastfnet_trainer *t = new_trainer("mpi1", NULL, err, sizeof err);
    check(t != NULL, "the first trainer under mpirun sets up: %s", t ? "ok" : err);
    fastfnet_trainer_free(t);
    t = new_trainer("mpi2", NULL, err, sizeof err);
    check(!t && strstr(err, "MPI cannot be started twice"), "a second trainer in the process is refused: %s", t ? "it set up" : err);
    fastfnet_trainer_free(t);
    return check_summary();
}

int main(int argc, char **argv) {
    if (argc < 2 || !realpath(argv[1], g_tool)) {
        fprintf(stderr, "usage: test_trainer BUILD/fastfnet\n");
        return 2;
    }
    if (!check_tmpdir("fastfnet-trainer-") || chdir(g_check_dir)) return 2;
    write_data();
    if (argc > 2 && !strcmp(argv[2], "--mpi-twice")) return mpi_twice(); /* each rank in its own directory */
    test_cli_reference();
    test_steps_equal_cli();
    test_callback_stops();
    test_resume_in_place();
    test_bad_input();
    test_threads_restored();
    if (!getenv("KEEP")) check_tmpdir_remove();
    return check_summary();
}
