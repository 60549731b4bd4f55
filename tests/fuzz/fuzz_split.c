/* fuzz_split.c - libFuzzer harness for the split-file reader (ws_split_read), the labels file
 * and the {split} folder patterns of data/dataset.c.
 *
 * The input is read as a split file (both as ids and as paths) and checked against the contract of
 * dataset.h: no empty entry, no blank inside one, no comment, no duplicate, increasing line numbers.
 * Then a dataset is opened whose split file and labels file are both the input, and whose split
 * name is the input's first line (a config string can be that long), so the labels parser and the
 * path patterns see it too. */
#include "fuzz_common.h"

#include "core/status.h"
#include "data/dataset.h"

static void check_entries(char **e, const int *lines, int n, int ids_of_paths)
{
    for (int i = 0; i < n; i++) {
        if (!e[i] || strpbrk(e[i], " \t\r\n") || (i && lines[i] <= lines[i - 1]) || (ids_of_paths && strchr(e[i], '/')))
            abort();
        if (!ids_of_paths && (!e[i][0] || e[i][0] == '#')) abort();
        for (int j = 0; j < i; j++)
            if (!strcmp(e[i], e[j])) abort();
    }
}

static void read_split(const char *path, int ids_of_paths)
{
    char **e = NULL;
    int *lines = NULL, n = -1;
    int rc = ws_split_read(path, ids_of_paths, &e, &lines, &n);
    if (rc && (e || lines || n)) abort();
    if (!rc) {
        if (n < 1) abort();
        if (n < 2000) check_entries(e, lines, n, ids_of_paths);
        for (int i = 0; i < n; i++) free(e[i]);
    }
    free(e);
    free(lines);
    ws_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, "split.txt", data, size);
    read_split(path, 0);
    read_split(path, 1);

    char split[1024];
    size_t n = 0;
    while (n < size && n < sizeof split - 1 && data[n] != '\n' && data[n]) { split[n] = (char)data[n]; n++; }
    split[n] = '\0';
    ws_dataset_spec s = {.root = fuzz_dir(), .split = split, .image_dir = "JPEGImages/{split}", .label_dir = "",
                         .split_file = path, .labels_file = path, .seed_dir = "", .image_ext = ".jpg", .n_fg = 20};
    ws_dataset d;
    if (ws_dataset_open(&d, &s) == 0) {
        for (int i = 0; i < d.n; i++)
            for (int c = 0; c < d.n_fg; c++)
                if (d.labels[(size_t)i * d.n_fg + c] > 1) abort();
        ws_dataset_close(&d);
    }
    ws_clear_error();
    return 0;
}
