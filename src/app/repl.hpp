// The interactive prompt on a terminal's stdin (off with -n): each line is
// evaluated like a control socket line; end of input stops the instance.
#pragma once

#include <functional>
#include <string>

#include "lua/engine.hpp"
#include "net/event.hpp"

namespace kresd::app {

class Repl {
public:
    Repl(event_base* base, lua::Engine& engine, bool quiet, std::function<void()> on_eof);

private:
    static void on_read(evutil_socket_t fd, short, void* arg);
    void prompt();

    lua::Engine& engine_;
    bool quiet_;
    std::function<void()> on_eof_;
    std::string pending_;
    net::EventPtr ev_;
};

} // namespace kresd::app
