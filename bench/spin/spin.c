/* A diagnostic for scripts/bench-amplification.sh: preloaded into nginx,
 * it adds SPIN_NS nanoseconds of pure user-space work (a loop on the time
 * stamp counter: no memory touched, no system call) before each writev,
 * which nginx's `return` calls once per connection. It measures how much
 * connection rate a fixed amount of user-space work costs on this machine
 * in the connection-rate benchmark's set-up (see BENCHMARKS.md). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>
#include <x86intrin.h>

static ssize_t (*real_writev)(int, const struct iovec *, int);
static unsigned long long spin_cycles;

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long) ts.tv_sec * 1000000000ull + (unsigned long long) ts.tv_nsec;
}

__attribute__((constructor)) static void spin_init(void)
{
    real_writev = (ssize_t (*)(int, const struct iovec *, int)) dlsym(RTLD_NEXT, "writev");
    const char *ns = getenv("SPIN_NS");
    if (ns == NULL || atoll(ns) <= 0) {
        return;
    }
    /* Time stamp counter ticks per nanosecond, over 20 ms. */
    unsigned long long t0 = now_ns(), c0 = __rdtsc();
    while (now_ns() - t0 < 20000000ull) {
    }
    unsigned long long t1 = now_ns(), c1 = __rdtsc();
    spin_cycles = (unsigned long long) ((double) (c1 - c0) / (double) (t1 - t0) * (double) atoll(ns));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (spin_cycles) {
        unsigned long long end = __rdtsc() + spin_cycles;
        while (__rdtsc() < end) {
        }
    }
    return real_writev(fd, iov, iovcnt);
}
