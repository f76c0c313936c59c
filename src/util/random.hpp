// Unpredictable numbers for the wire (query IDs, server-selection dice).
//
// The bytes come from the kernel's CSPRNG (getrandom(), or arc4random_buf()
// where there is no getrandom) in blocks of kBlock bytes, handed out four at
// a time: glibc's arc4random() made one system call per number, three per
// upstream query. A block is never shared with a fork()ed child: the child
// drops it (pthread_atfork). Each byte is handed out once.
#pragma once

#include <cstdint>

namespace kresd::util {

uint32_t random_u32();

} // namespace kresd::util
