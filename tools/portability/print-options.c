/* print-options: prints the kernel build options libclnet would use on a
 * device with the given capabilities, by calling the library's own
 * clnet__build_options(). tools/check-kernels runs it for each offline GPU
 * target, so the portability matrix compiles exactly the options the runtime
 * passes to clBuildProgram, never a hand-kept copy.
 *
 * usage: print-options [KEY=VALUE ...]     one capability set from argv
 *        print-options -                   one set per stdin line, one
 *                                          option string per output line
 * keys:  cl=MAJOR.MINOR fp16=0|1 fp64=0|1 vec=N wg=N lmem=BYTES cpu=0|1
 * Keys left out keep a zero capability (the library picks its defaults). */
#include "ocl/ocl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Applies one KEY=VALUE word to caps; returns 0, or -1 for an unknown key. */
static int set_cap(clnet__device_caps *caps, const char *word)
{
    const char *eq = strchr(word, '=');
    if (!eq)
        return -1;
    size_t klen = (size_t)(eq - word);
    const char *v = eq + 1;
    if (klen == 2 && strncmp(word, "cl", 2) == 0)
        return sscanf(v, "%d.%d", &caps->opencl_c_major,
                      &caps->opencl_c_minor) == 2 ? 0 : -1;
    unsigned long long n = strtoull(v, NULL, 10);
    if (klen == 4 && strncmp(word, "fp16", 4) == 0)
        caps->fp16 = n != 0;
    else if (klen == 4 && strncmp(word, "fp64", 4) == 0)
        caps->fp64 = n != 0;
    else if (klen == 3 && strncmp(word, "vec", 3) == 0)
        caps->vec_float = (unsigned)n;
    else if (klen == 2 && strncmp(word, "wg", 2) == 0)
        caps->max_wg = (size_t)n;
    else if (klen == 4 && strncmp(word, "lmem", 4) == 0)
        caps->local_mem = (uint64_t)n;
    else if (klen == 3 && strncmp(word, "cpu", 3) == 0)
        caps->is_cpu = n != 0;
    else
        return -1;
    return 0;
}

static int print_one(clnet__device_caps *caps)
{
    char buf[1024];
    clnet__build_options(caps, buf, sizeof buf);
    return printf("%s\n", buf) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "-") == 0) {
        char line[1024];
        while (fgets(line, sizeof line, stdin)) {
            clnet__device_caps caps = {0};
            for (char *w = strtok(line, " \t\r\n"); w;
                 w = strtok(NULL, " \t\r\n")) {
                if (set_cap(&caps, w) != 0) {
                    fprintf(stderr, "print-options: bad capability '%s'\n", w);
                    return 2;
                }
            }
            if (print_one(&caps) != 0)
                return 1;
        }
        return 0;
    }
    clnet__device_caps caps = {0};
    for (int i = 1; i < argc; i++) {
        if (set_cap(&caps, argv[i]) != 0) {
            fprintf(stderr, "print-options: bad capability '%s'\n"
                    "keys: cl=1.2 fp16=0|1 fp64=0|1 vec=N wg=N lmem=BYTES cpu=0|1\n",
                    argv[i]);
            return 2;
        }
    }
    return print_one(&caps) != 0;
}
