/*
 * replay.c - the main() of a fuzz target when libFuzzer is not linked in
 * (the ordinary gcc build with AddressSanitizer and UBSan).
 *
 *   fuzz_<name> SECONDS FILE_OR_DIR...
 *
 * Every file given, and every regular file of every directory given (the
 * target's committed corpus, crash reproducers included), is run through
 * LLVMFuzzerTestOneInput once; then, until SECONDS have passed, mutations
 * of them: bit flips, byte overwrites, insertions and deletions,
 * truncation, splices of two inputs.  The generator is seeded with a fixed
 * number (or $FUZZ_SEED), so a run is repeatable: the seed and the
 * mutation are printed with each report, and under a sanitizer a crash
 * leaves the input in ./fuzz-crash-<name>, for this program or libFuzzer to
 * replay; it belongs in the corpus once the bug is fixed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define INPUT_MAX (1u << 20)
#define INPUTS_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    uint8_t *data;
    size_t len;
} input;

static input inputs[INPUTS_MAX];
static size_t ninputs;
static const char *crash_name = "fuzz-crash";

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64: small, and the same sequence on every machine */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rng() % n);
}

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    if (ninputs == INPUTS_MAX) {
        fclose(f);
        return 0;
    }
    buf = malloc(INPUT_MAX);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, INPUT_MAX, f);
    fclose(f);
    /* the exact size, so that ASan sees reads past the end of a file too */
    uint8_t *exact = realloc(buf, n ? n : 1);
    if (exact != NULL)
        buf = exact;
    inputs[ninputs].data = buf;
    inputs[ninputs].len = n;
    ninputs++;
    return 0;
}

static int add_path(const char *path)
{
    struct stat st;
    struct dirent **names = NULL;
    int n, rc = 0;

    if (stat(path, &st) < 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    n = scandir(path, &names, NULL, alphasort);   /* sorted: the same order every run */
    if (n < 0) {
        perror(path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char full[4096];

        if (names[i]->d_name[0] != '.' &&
            snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name) < (int)sizeof(full) &&
            stat(full, &st) == 0 && S_ISREG(st.st_mode) && add_file(full) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The input running now, written out by the sanitizers' death callback. */
static const uint8_t *current;
static size_t current_len;
static unsigned long long iteration;

/* A target may offer a tool of its own, run for "TARGET --name ...". */
int fuzz_tool(int argc, char **argv) __attribute__((weak));

void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void on_death(void)
{
    FILE *f = fopen(crash_name, "wb");

    if (f != NULL) {
        fwrite(current, 1, current_len, f);
        fclose(f);
    }
    fprintf(stderr, "replay: the input (mutation %llu) is in ./%s\n", iteration, crash_name);
}

/* UBSan's reports do not call the death callback: the input is written
 * before it runs, into one file kept open. */
static int crash_fd = -1;

static void run(const uint8_t *data, size_t len)
{
    current = data;
    current_len = len;
    if (crash_fd >= 0 && (pwrite(crash_fd, data, len, 0) != (ssize_t)len ||
                          ftruncate(crash_fd, (off_t)len) < 0))
        perror(crash_name);
    LLVMFuzzerTestOneInput(data, len);
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    int rounds = 1 + (int)below(4);

    for (int r = 0; r < rounds; r++) {
        switch (below(7)) {
        case 0:     /* flip a bit */
            if (len > 0)
                buf[below(len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1:     /* overwrite a byte, often with an interesting one */
            if (len > 0) {
                static const uint8_t special[] = { 0, 0xff, 0x7f, 0x80, '"', '\\', '{', '[',
                                                   '/', '=', '\n', ':', '%', ',', '.' };
                buf[below(len)] = below(2) ? special[below(sizeof(special))]
                                           : (uint8_t)rng();
            }
            break;
        case 2:     /* insert a byte */
            if (len < cap) {
                size_t at = below(len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rng();
                len++;
            }
            break;
        case 3:     /* delete a run */
            if (len > 0) {
                size_t at = below(len), n = 1 + below(len - at < 16 ? len - at : 16);
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        case 4:     /* truncate */
            len = below(len + 1);
            break;
        case 5:     /* duplicate a run in place */
            if (len > 0) {
                size_t at = below(len), n = 1 + below(len - at < 64 ? len - at : 64);
                if (len + n <= cap) {
                    memmove(buf + at + n, buf + at, len - at);
                    len += n;
                }
            }
            break;
        default: {  /* splice in the tail of another input */
            const input *o = &inputs[below(ninputs)];
            size_t at = below(len + 1), from = below(o->len + 1), n = o->len - from;
            if (at + n > cap)
                n = cap - at;
            memcpy(buf + at, o->data + from, n);
            len = at + n;
            break;
        }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    char *end;
    double seconds;
    const char *seed_env = getenv("FUZZ_SEED");
    const char *slash;
    static char name_buf[300];
    struct timespec start, now;
    unsigned long long iterations = 0;
    uint8_t *buf;

    if (argc > 1 && strncmp(argv[1], "--", 2) == 0 && fuzz_tool != NULL)
        return fuzz_tool(argc, argv);
    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    seconds = strtod(argv[1], &end);
    if (*end != '\0' || seconds < 0) {
        fprintf(stderr, "%s: \"%s\" is not a number of seconds\n", argv[0], argv[1]);
        return 2;
    }
    slash = strrchr(argv[0], '/');
    snprintf(name_buf, sizeof(name_buf), "fuzz-crash-%s", slash ? slash + 1 : argv[0]);
    crash_name = name_buf;
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(on_death);
    crash_fd = open(crash_name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : 20240601;
    for (int i = 2; i < argc; i++)
        if (add_path(argv[i]) < 0)
            return 2;
    if (ninputs == 0) {
        fprintf(stderr, "%s: no inputs\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < ninputs; i++) {
        run(inputs[i].data, inputs[i].len);
    }
    buf = malloc(INPUT_MAX);
    if (buf == NULL)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) +
            (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
            break;
        const input *in = &inputs[below(ninputs)];
        size_t cap = in->len + 256 < INPUT_MAX ? in->len + 256 : INPUT_MAX;
        memcpy(buf, in->data, in->len);
        size_t len = mutate(buf, in->len, cap);
        /* an exact-size copy, so that ASan sees reads past the end */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL)
            return 2;
        memcpy(exact, buf, len);
        iteration = iterations + 1;
        run(exact, len);
        free(exact);
        iterations++;
    }
    printf("%s: %zu inputs replayed, %llu mutations in %.0f s (seed %llu)\n", argv[0], ninputs,
           iterations, seconds, (unsigned long long)(seed_env ? strtoull(seed_env, NULL, 10)
                                                               : 20240601));
    free(buf);
    if (crash_fd >= 0) {    /* no crash: nothing to keep */
        close(crash_fd);
        unlink(crash_name);
    }
    for (size_t i = 0; i < ninputs; i++)
        free(inputs[i].data);
    return 0;
}
