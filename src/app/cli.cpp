#include "app/cli.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace kresd::app {

std::optional<ListenSpec> parse_listen_spec(const std::string& text)
{
    ListenSpec spec;
    auto sep = text.find_last_of("@#");
    spec.addr = text.substr(0, sep);
    if (sep != std::string::npos) {
        std::string_view port(text);
        port.remove_prefix(sep + 1);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            return std::nullopt;
        spec.port = static_cast<uint16_t>(value);
    }
    if (spec.addr.empty()) return std::nullopt;
    // Only IP literals: names would need resolving before we can resolve.
    in6_addr buf;
    std::string host = spec.addr.substr(0, spec.addr.find('%'));
    if (inet_pton(AF_INET, host.c_str(), &buf) != 1 && inet_pton(AF_INET6, host.c_str(), &buf) != 1)
        return std::nullopt;
    return spec;
}

namespace {

struct OptDef {
    char short_name;
    const char* long_name;
    bool takes_value;
};

constexpr OptDef kOpts[] = {
    {'c', "config", true},   {'n', "noninteractive", false}, {'q', "quiet", false},
    {'v', "verbose", false}, {'a', "addr", true},            {'t', "tls", true},
    {'S', "fd", true},       {'V', "version", false},        {'h', "help", false},
    {0, "instance", true},   {0, "notify-fd", true},
};

const OptDef* find_long(std::string_view name)
{
    for (const auto& o : kOpts)
        if (name == o.long_name) return &o;
    return nullptr;
}

const OptDef* find_short(char c)
{
    for (const auto& o : kOpts)
        if (o.short_name == c) return &o;
    return nullptr;
}

// Applies one option; returns an error line or "".
std::string apply(Options& opts, const OptDef& def, const std::string& value)
{
    std::string label = def.short_name ? std::string("-") + def.short_name
                                       : std::string("--") + def.long_name;
    std::string_view name = def.long_name;
    if (name == "config") {
        if (value.empty()) return label + ": empty config path";
        opts.configs.push_back(value);
    } else if (name == "noninteractive") {
        opts.noninteractive = true;
    } else if (name == "quiet") {
        opts.quiet = true;
    } else if (name == "verbose") {
        ++opts.verbosity;
    } else if (name == "addr" || name == "tls") {
        auto spec = parse_listen_spec(value);
        if (!spec) return label + ": '" + value + "' is not IP or IP@PORT (port 1-65535)";
        (name == "addr" ? opts.addrs : opts.tls_addrs).push_back(*spec);
    } else if (name == "fd") {
        try {
            opts.fds.push_back(activation::parse_fd_spec(value));
        } catch (const activation::ActivationError& e) {
            return label + ": " + e.what();
        }
    } else if (name == "instance") {
        opts.instance = value;
    } else if (name == "notify-fd") {
        int fd = -1;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fd);
        if (ec != std::errc{} || end != value.data() + value.size() || fd < 3)
            return label + ": '" + value + "' is not a file descriptor number >= 3";
        opts.notify_fd = fd;
    } else if (name == "version") {
        opts.show_version = true;
    } else if (name == "help") {
        opts.show_help = true;
    }
    return {};
}

} // namespace

CliResult parse_cli(const std::vector<std::string>& argv)
{
    CliResult r;
    bool only_positional = false;
    for (size_t i = 1; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (only_positional || arg.size() < 2 || arg[0] != '-') {
            if (r.options.rundir) {
                r.error = "unexpected argument '" + arg + "' (only one rundir may be given)";
                return r;
            }
            if (arg.empty()) {
                r.error = "empty rundir argument";
                return r;
            }
            r.options.rundir = arg;
            continue;
        }
        if (arg == "--") {
            only_positional = true;
            continue;
        }
        if (arg[1] == '-') { // --long or --long=value
            std::string name = arg.substr(2);
            std::optional<std::string> value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
            }
            const OptDef* def = find_long(name);
            if (!def) {
                r.error = "unknown option '--" + name + "' (see kresd --help)";
                return r;
            }
            if (def->takes_value && !value) {
                if (i + 1 >= argv.size()) {
                    r.error = "option '--" + name + "' needs a value";
                    return r;
                }
                value = argv[++i];
            } else if (!def->takes_value && value) {
                r.error = "option '--" + name + "' takes no value";
                return r;
            }
            r.error = apply(r.options, *def, value.value_or(""));
            if (!r.ok()) return r;
            continue;
        }
        // -abc clusters; a value-taking option eats the rest or the next argument
        for (size_t j = 1; j < arg.size(); ++j) {
            const OptDef* def = find_short(arg[j]);
            if (!def) {
                r.error = std::string("unknown option '-") + arg[j] + "' (see kresd --help)";
                return r;
            }
            std::string value;
            if (def->takes_value) {
                if (j + 1 < arg.size()) {
                    value = arg.substr(j + 1);
                } else if (i + 1 < argv.size()) {
                    value = argv[++i];
                } else {
                    r.error = std::string("option '-") + arg[j] + "' needs a value";
                    return r;
                }
                j = arg.size();
            }
            r.error = apply(r.options, *def, value);
            if (!r.ok()) return r;
        }
    }
    return r;
}

std::string usage_text()
{
    return "Usage: kresd [options] [rundir]\n"
           "\n"
           "  -c, --config FILE      Lua config file, relative to rundir (repeatable;\n"
           "                         default: ./config when it exists)\n"
           "  -n, --noninteractive   no interactive prompt on a terminal stdin\n"
           "  -q, --quiet            no prompt in interactive mode, less logging\n"
           "  -v, --verbose          debug logging\n"
           "  -a, --addr ADDR[@PORT] listen for plain DNS, UDP and TCP (port 53)\n"
           "  -t, --tls ADDR[@PORT]  listen for DNS-over-TLS (port 853)\n"
           "  -S, --fd FD[:KIND]     serve an inherited socket; KIND is dns (default),\n"
           "                         tls, doh2 or control\n"
           "      --instance NAME    instance name (default: $SYSTEMD_INSTANCE, else PID)\n"
           "      --notify-fd FD     write a line to FD once ready (OpenRC notify=fd:FD)\n"
           "  -V, --version          print the version\n"
           "  -h, --help             print this help\n"
           "\n"
           "  rundir                 working directory: control/ sockets and the cache\n"
           "                         (default: the current directory)\n";
}

} // namespace kresd::app
