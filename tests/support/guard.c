#include "tests/support/guard.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guard_init(struct guard *g, size_t max_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g->usable = (max_len + page - 1) / page * page;
    if (g->usable == 0)
        g->usable = page;
    g->map_len = g->usable + page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(g->map != MAP_FAILED, "mmap guard");
    cr_assert(mprotect(g->map + g->usable, page, PROT_NONE) == 0, "mprotect guard page");
}

void guard_fini(struct guard *g) { munmap(g->map, g->map_len); }

const uint8_t *guard_place(struct guard *g, const void *data, size_t len)
{
    cr_assert(len <= g->usable, "input of %zu bytes exceeds the guard buffer", len);
    uint8_t *dst = g->map + g->usable - len;
    if (len > 0)
        memcpy(dst, data, len);
    return dst;
}
