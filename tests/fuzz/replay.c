/*
 * Replays a fuzzer's corpus directory as an ordinary test, on any compiler:
 *   fuzz_parse_replay DIR
 * Each file is one input; a broken invariant aborts. Prints
 * "N inputs replayed" and fails if the directory holds none.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

static int replay_file(const char *path)
{
    static uint8_t buf[1 << 17];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: read error\n", path);
        return -1;
    }
    /* A fresh heap copy of exactly n bytes, so ASan sees any over-read. */
    uint8_t *input = malloc(n > 0 ? n : 1);
    if (input == NULL)
        return -1;
    memcpy(input, buf, n);
    LLVMFuzzerTestOneInput(input, n);
    free(input);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        perror(argv[1]);
        return 1;
    }
    int replayed = 0, failed = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        if (replay_file(path) == 0)
            replayed++;
        else
            failed++;
    }
    closedir(dir);
    printf("%d inputs replayed, %d unreadable\n", replayed, failed);
    return replayed > 0 && failed == 0 ? 0 : 1;
}
