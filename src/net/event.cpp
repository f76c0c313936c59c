#include "net/event.hpp"

#include <unistd.h>

namespace kresd::net {

void Fd::reset(int fd)
{
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

} // namespace kresd::net
