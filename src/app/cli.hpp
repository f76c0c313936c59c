// Command line of kresd.
//
//   kresd [options] [rundir]
//
// parse_cli() is a pure function over argv so that tests can drive it; it
// never exits and never prints. Errors are returned as one line of text, and
// the caller prints it and exits with status 2.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "activation/activation.hpp"

namespace kresd::app {

struct ListenSpec {
    std::string addr;   // IPv4 or IPv6 literal, or an interface name
    uint16_t port = 0;  // 0: the default for the kind
};

struct Options {
    std::vector<std::string> configs;        // -c, in order
    bool noninteractive = false;             // -n
    bool quiet = false;                      // -q
    int verbosity = 0;                       // each -v adds one
    std::vector<ListenSpec> addrs;           // -a
    std::vector<ListenSpec> tls_addrs;       // -t
    std::vector<std::pair<int, activation::Kind>> fds; // -S
    std::optional<std::string> instance;     // --instance
    int notify_fd = -1;                      // --notify-fd
    std::optional<std::string> rundir;       // positional
    bool show_help = false;                  // -h
    bool show_version = false;               // -V
};

struct CliResult {
    Options options;
    std::string error; // empty when parsing succeeded
    bool ok() const { return error.empty(); }
};

// argv[0] is the program name and is skipped.
CliResult parse_cli(const std::vector<std::string>& argv);

// "ADDR", "ADDR@PORT", "ADDR#PORT", "[v6]:PORT"-free: kresd's forms only.
// Returns nullopt when the port is not a number in 1..65535 or ADDR is empty.
std::optional<ListenSpec> parse_listen_spec(const std::string& text);

std::string usage_text();

} // namespace kresd::app
