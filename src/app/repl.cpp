#include "app/repl.hpp"

#include <cstdio>
#include <unistd.h>

namespace kresd::app {

Repl::Repl(event_base* base, lua::Engine& engine, bool quiet, std::function<void()> on_eof)
    : engine_(engine), quiet_(quiet), on_eof_(std::move(on_eof))
{
    ev_.reset(event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, &Repl::on_read, this));
    event_add(ev_.get(), nullptr);
    prompt();
}

void Repl::prompt()
{
    if (!quiet_) {
        std::fputs("> ", stdout);
        std::fflush(stdout);
    }
}

void Repl::on_read(evutil_socket_t fd, short, void* arg)
{
    auto* self = static_cast<Repl*>(arg);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
        event_del(self->ev_.get());
        self->on_eof_(); // may destroy *self
        return;
    }
    self->pending_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = self->pending_.find('\n')) != std::string::npos) {
        std::string line = self->pending_.substr(0, nl);
        self->pending_.erase(0, nl + 1);
        std::string out = self->engine_.eval(line);
        if (!out.empty()) std::printf("%s\n", out.c_str());
        self->prompt();
    }
}

} // namespace kresd::app
