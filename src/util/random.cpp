#include "util/random.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

namespace kresd::util {

namespace {

constexpr size_t kBlock = 256;

struct Pool {
    std::array<uint8_t, kBlock> bytes;
    size_t used = kBlock; // empty
};

thread_local Pool pool;

// In a fork()ed child (which has only the forking thread) the pool is the
// parent's: drop it. getpid() is a system call in glibc, so no PID check.
void forget_in_child()
{
    pool.used = kBlock;
}

const bool atfork_registered = pthread_atfork(nullptr, nullptr, forget_in_child) == 0;

void refill(Pool& p)
{
#if defined(__linux__)
    size_t got = 0;
    while (got < p.bytes.size()) {
        const ssize_t n = getrandom(p.bytes.data() + got, p.bytes.size() - got, 0);
        if (n > 0) {
            got += static_cast<size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            // No getrandom() (pre-3.17 kernel, seccomp): the C library's.
            arc4random_buf(p.bytes.data() + got, p.bytes.size() - got);
            break;
        }
    }
#else
    arc4random_buf(p.bytes.data(), p.bytes.size());
#endif
    p.used = 0;
}

} // namespace

uint32_t random_u32()
{
    (void)atfork_registered;
    Pool& p = pool;
    if (p.used + sizeof(uint32_t) > p.bytes.size())
        refill(p);
    uint32_t v;
    std::memcpy(&v, p.bytes.data() + p.used, sizeof(v));
    // Each byte is handed out once.
    std::memset(p.bytes.data() + p.used, 0, sizeof(v));
    p.used += sizeof(v);
    return v;
}

} // namespace kresd::util
