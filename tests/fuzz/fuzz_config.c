/* fuzz_config.c - libFuzzer harness for the YAML reader (io/yaml.c) and the config loader (io/config.c).
 *
 * The input is a YAML file. It is walked once as it is (every leaf's path, values and lines are
 * read back, so a dangling pointer shows under ASan), then loaded against a key table with every
 * setting type. A config that loads must survive the round trip that config.yaml and the stage
 * cache keys rely on: ws_cfg_dump, then ws_cfg_load of the dump, gives back the same settings.
 * The input's first line is also tried as a `--set key=value` override. */
#include "fuzz_common.h"

#include <math.h>

#include "core/status.h"
#include "io/config.h"
#include "io/yaml.h"

typedef struct settings {
    char out_dir[WS_CFG_STR_MAX], run[WS_CFG_STR_MAX], root[WS_CFG_STR_MAX], split[WS_CFG_STR_MAX],
        init_seed[WS_CFG_STR_MAX], task[WS_CFG_STR_MAX];
    int n_ctx, scale_low, jitter, csc, max_iter;
    double lr, init_std, mcl;
    float mean[3];
} settings;

#define OFF(f) offsetof(settings, f)
static const ws_cfg_key KEYS[] = {
    {"out_dir", WS_CFG_STR, OFF(out_dir), "runs go to out_dir/<run>/"},
    {"run", WS_CFG_STR, OFF(run), NULL},
    {"task", WS_CFG_STR, OFF(task), "cls or seg"},
    {"data.root", WS_CFG_STR, OFF(root), "dataset folder"},
    {"data.split", WS_CFG_STR, OFF(split), NULL},
    {"prompt.n_ctx", WS_CFG_INT, OFF(n_ctx), "context tokens"},
    {"prompt.csc", WS_CFG_BOOL, OFF(csc), NULL},
    {"prompt.init_seed", WS_CFG_STR, OFF(init_seed), NULL},
    {"prompt.init_std", WS_CFG_FLOAT, OFF(init_std), NULL},
    {"aug.jitter", WS_CFG_BOOL, OFF(jitter), NULL},
    {"aug.scale_low", WS_CFG_INT, OFF(scale_low), NULL},
    {"aug.mean", WS_CFG_FLOAT3, OFF(mean), "a list of 3"},
    {"loss.mcl", WS_CFG_FLOAT, OFF(mcl), NULL},
    {"train.lr", WS_CFG_FLOAT, OFF(lr), NULL},
    {"train.max_iter", WS_CFG_INT, OFF(max_iter), NULL},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static int visit(void *ctx, const ws_yaml_leaf *l)
{
    size_t *sum = ctx;
    for (int i = 0; i < l->depth; i++) *sum += strlen(l->path[i]) + l->lines[i];
    for (int i = 0; i < l->n; i++) *sum += strlen(l->values[i]);
    *sum += strlen(l->where) + strlen(l->file);
    return 0;
}

static void defaults(settings *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->out_dir, "experiments");
    s->n_ctx = 16;
    s->lr = 0.001;
    s->mean[0] = 0.5f;
}

static int same(const settings *a, const settings *b)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *x = (const char *)a + KEYS[i].offset, *y = (const char *)b + KEYS[i].offset;
        switch (KEYS[i].type) {
        case WS_CFG_STR: case WS_CFG_STRLIST: if (strcmp(x, y)) return 0; break;
        case WS_CFG_INT: case WS_CFG_BOOL: if (memcmp(x, y, sizeof(int))) return 0; break;
        case WS_CFG_FLOAT: if (memcmp(x, y, sizeof(double))) return 0; break;
        case WS_CFG_FLOAT3: if (memcmp(x, y, 3 * sizeof(float))) return 0; break;
        }
    }
    return 1;
}

static void round_trip(const settings *s)
{
    char *text = ws_cfg_dump(KEYS, NKEYS, s);
    if (!text) return;
    const char *p = fuzz_file(1, "dump.yaml", (const uint8_t *)text, strlen(text));
    settings back;
    defaults(&back);
    int rc = ws_cfg_load(KEYS, NKEYS, &back, p);
    if (rc || !same(s, &back)) {
        fprintf(stderr, "config round trip broken (%s):\n%s", rc ? ws_last_error() : "values differ", text);
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "input.yaml", data, size);
    size_t sum = 0;
    ws_yaml_walk(path, visit, &sum);
    ws_clear_error();

    settings s;
    defaults(&s);
    if (ws_cfg_load(KEYS, NKEYS, &s, path) == 0) round_trip(&s);
    ws_clear_error();

    /* the first line as an override */
    char line[2048];
    size_t n = 0;
    while (n < size && n < sizeof line - 1 && data[n] != '\n' && data[n]) { line[n] = (char)data[n]; n++; }
    line[n] = '\0';
    defaults(&s);
    if (ws_cfg_set(KEYS, NKEYS, &s, line) == 0) round_trip(&s);
    ws_clear_error();
    return 0;
}
