#include "app/daemon.hpp"

#include <cerrno>
#include <chrono>
#include <ctime>
#include <map>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <event2/event.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "activation/activation.hpp"
#include "app/cli.hpp"
#include "app/instance.hpp"
#include "app/notify.hpp"
#include "app/repl.hpp"
#include "app/ta_update.hpp"
#include "app/worker.hpp"
#include "cache/cache.hpp"
#include "lua/engine.hpp"
#include "modules/module.hpp"
#include "net/endpoints.hpp"
#include "net/event.hpp"
#include "util/log.hpp"
#include "util/random.hpp"

namespace kresd::app {

namespace {

struct StartError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

const char* env(const char* name) { return std::getenv(name); }

// Lua files: the source tree's lua/ when running from a build tree (where
// CMake left CMakeCache.txt next to the binary), else the installed data dir.
std::string find_luadir()
{
    if (const char* over = env("KRESD_LUA_DIR"); over && *over) return over;
    char exe[PATH_MAX] = "";
#if defined(__linux__)
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) exe[n] = 0;
#endif
    std::string dir = exe;
    if (auto slash = dir.rfind('/'); slash != std::string::npos) {
        dir.resize(slash);
        if (access((dir + "/CMakeCache.txt").c_str(), F_OK) == 0 &&
            access(KRESD_SOURCE_LUADIR "/prelude.lua", R_OK) == 0)
            return KRESD_SOURCE_LUADIR;
    }
    // Installed: <prefix>/sbin/kresd finds <prefix>/<datadir>/kresd, wherever
    // the tree was installed; then the configured absolute path.
    if (!dir.empty()) {
        std::string rel = dir + "/../" KRESD_DATADIR_REL;
        if (access((rel + "/prelude.lua").c_str(), R_OK) == 0) return rel;
    }
    if (access(KRESD_DATADIR "/prelude.lua", R_OK) == 0) return KRESD_DATADIR;
    return KRESD_SOURCE_LUADIR;
}

struct Daemon {
    Options opts;
    Identity id;
    Notifier notifier;
    net::EventBasePtr base;
    net::NetStats net_stats;
    net::ServeContext serve;
    modules::Registry mods;
    policy::Policy policy;
    resolve::LocalHints hints;
    resolve::Config resolve_config = resolve::default_config();
    std::unique_ptr<cache::Cache> cache;
    std::unique_ptr<resolve::Resolver> resolver;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<net::Endpoints> endpoints;
    std::unique_ptr<net::Handoff> handoff;
    std::unique_ptr<lua::Engine> engine;
    std::unique_ptr<lua::ControlEval> control;
    std::unique_ptr<Repl> repl;
    std::unique_ptr<TaUpdater> ta_update; // RFC 5011; before the worker goes
    net::EventPtr sigterm, sigint, sighup, watchdog, drain;
    bool stopping = false;

    void collect_sockets()
    {
        auto take = [&](activation::Collected c) {
            for (const auto& w : c.warnings) KR_LOG(warning, "system", "%s", w.c_str());
            for (const auto& s : c.sockets) endpoints->adopt(s);
        };
        take(activation::from_listen_fds(getpid(), env, true));
        take(activation::from_launchd());
        for (const auto& [fd, kind] : opts.fds) endpoints->adopt(activation::from_fd(fd, kind));
        int control = 0;
        for (const auto& ep : endpoints->list()) control += ep.kind == activation::Kind::control;
        if (control > 1) throw StartError("more than one control socket was handed over");
    }

    void listen_flags()
    {
        for (const auto& a : opts.addrs) endpoints->listen(a.addr, a.port, activation::Kind::dns, false);
        for (const auto& a : opts.tls_addrs)
            endpoints->listen(a.addr, a.port, activation::Kind::tls, false);
    }

    void run_configs()
    {
        std::vector<std::string> files = opts.configs;
        if (files.empty() && access("config", F_OK) == 0) files.push_back("config");
        for (const auto& f : files) {
            if (access(f.c_str(), R_OK) != 0)
                throw StartError("cannot read config file " + f + ": " + std::strerror(errno));
            KR_LOG(info, "system", "loading config %s", f.c_str());
            engine->run_config(f);
        }
    }

    void default_listeners()
    {
        if (endpoints->has_kind(activation::Kind::dns) || endpoints->has_kind(activation::Kind::tls) ||
            endpoints->has_kind(activation::Kind::doh2))
            return;
        KR_LOG(notice, "system", "no listener configured, listening on 127.0.0.1@53 and ::1@53");
        endpoints->listen("127.0.0.1", 53, activation::Kind::dns, false);
        try {
            endpoints->listen("::1", 53, activation::Kind::dns, false);
        } catch (const std::exception& e) {
            KR_LOG(warning, "system", "%s (IPv6 unavailable?)", e.what());
        }
    }

    void control_socket()
    {
        if (endpoints->has_kind(activation::Kind::control)) return;
        if (mkdir("control", 0750) != 0 && errno != EEXIST)
            throw StartError(std::string("cannot create control/ in the rundir: ") +
                             std::strerror(errno));
        std::string path = "control/" + id.name;
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) && std::strlen(cwd) + path.size() + 2 < 104)
            path = std::string(cwd) + "/" + path;
        endpoints->listen_control(path);
    }

    void begin_stop()
    {
        if (stopping) {
            KR_LOG(notice, "system", "second signal, exiting now");
            std::_Exit(0);
        }
        stopping = true;
        watchdog.reset();
        notifier.stopping();
        KR_LOG(info, "system", "stopping: finishing open connections");
        // Siblings get our listening sockets, so what the kernel queued in
        // them is answered by them instead of dropped when we exit.
        handoff->close();
        endpoints->stop();
        auto shared = endpoints->shareable();
        if (!shared.empty() && !handoff->give(shared))
            KR_LOG(info, "system", "no sibling instance to hand the listening sockets to");
        if (repl) repl.reset();
        ta_update.reset();
        auto cb = [](evutil_socket_t, short, void* arg) {
            auto* d = static_cast<Daemon*>(arg);
            event_base_loopexit(d->base.get(), nullptr);
        };
        // Plain-DNS TCP answers are written synchronously, so what is left is
        // output in socket buffers; a short bounded wait lets it drain.
        drain.reset(evtimer_new(base.get(), cb, this));
        timeval tv{0, serve.connections.empty() ? 0 : 200 * 1000};
        event_add(drain.get(), &tv);
    }

    // Knot Resolver's default modules (modules::default_names()), loaded
    // before the config so that it can unload them.
    void load_default_modules() { mods.load_defaults(engine->state()); }

    // Modules that act on their own (priming, ta_signal_query,
    // detect_time_skew) start once the resolver runs.
    void start_modules() { mods.start(*worker); }

    // RFC 5011 for the anchors of trust_anchors.add_file(path) (Knot
    // Resolver's ta_update), once the resolver runs.
    void start_ta_update()
    {
        ta_update = std::make_unique<TaUpdater>(base.get(), *worker, resolver->config().anchors,
                                                engine->settings().trust_anchors);
        ta_update->sync();
    }

    // The cache opens after the config (which may have chosen its size and
    // place); the resolver then takes the config's settings.
    void start_resolver()
    {
        lua::Settings& s = engine->settings();
        if (!cache) cache = cache::Cache::open(s.cache_dir, s.cache_size);
        cache->set_ttl_bounds(s.cache_min_ttl, s.cache_max_ttl);
        resolve::Clock clock;
        clock.mono_ms = [] {
            return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch())
                                             .count());
        };
        clock.wall_s = [] { return static_cast<uint64_t>(std::time(nullptr)); };
        // IDs must be unpredictable (RFC 5452 9.2): the system's CSPRNG.
        resolver = std::make_unique<resolve::Resolver>(resolve_config, cache.get(), clock,
                                                       [] { return util::random_u32(); });
        worker->set_resolver(resolver.get(), base.get());
        // From now on hints.root() edits the running resolver's config.
        engine->host().resolve_config = &resolver->config();
        sync_settings();
    }

    // Pushes what the config model says into the running parts; called once
    // at start and after every control line.
    void sync_settings()
    {
        lua::Settings& s = engine->settings();
        worker->set_edns_size(s.edns_bufsize);
        worker->set_padding(s.tls_padding);
        if (!resolver) return;
        resolve::Config& c = resolver->config();
        c.ipv4 = s.ipv4;
        c.ipv6 = s.ipv6;
        c.edns_size = s.edns_bufsize;
        c.minimize = !s.options["NO_MINIMIZE"];
        c.allow_local = s.options["ALLOW_LOCAL"];
        c.glue = s.mode == "strict"       ? resolve::GlueMode::strict
                 : s.mode == "permissive" ? resolve::GlueMode::permissive
                                          : resolve::GlueMode::normal;
        resolve::RequestOptions defaults;
        for (const auto& [name, on] : s.options) policy::apply_flag(defaults, name, on);
        worker->set_request_defaults(defaults, {s.outgoing_v4, s.outgoing_v6});
        if (ta_update) ta_update->sync();
    }

    void install_events()
    {
        auto on_signal = [](evutil_socket_t, short, void* arg) {
            static_cast<Daemon*>(arg)->begin_stop();
        };
        sigterm.reset(evsignal_new(base.get(), SIGTERM, on_signal, this));
        sigint.reset(evsignal_new(base.get(), SIGINT, on_signal, this));
        // A closed terminal (SIGHUP) stops an instance as cleanly as SIGTERM.
        sighup.reset(evsignal_new(base.get(), SIGHUP, on_signal, this));
        event_add(sigterm.get(), nullptr);
        event_add(sigint.get(), nullptr);
        event_add(sighup.get(), nullptr);
        if (auto iv = notifier.watchdog_interval()) {
            auto on_watchdog = [](evutil_socket_t, short, void* arg) {
                static_cast<Daemon*>(arg)->notifier.watchdog();
            };
            watchdog.reset(event_new(base.get(), -1, EV_PERSIST, on_watchdog, this));
            timeval tv{static_cast<time_t>(iv->count() / 1000000),
                       static_cast<suseconds_t>(iv->count() % 1000000)};
            event_add(watchdog.get(), &tv);
        }
    }

    int start()
    {
        base.reset(event_base_new());
        if (!base) throw StartError("cannot create the event loop");
        serve.base = base.get();
        serve.stats = &net_stats;
        worker = std::make_unique<Worker>(mods, policy, hints);
        serve.queries = worker.get();
        endpoints = std::make_unique<net::Endpoints>(serve);
        handoff = std::make_unique<net::Handoff>(base.get(), "handoff", id.name);
        handoff->open(*endpoints);
        endpoints->reclaim = [this](activation::Kind k, int t, const net::SockAddr& a) {
            return handoff->reclaim(k, t, a);
        };

        collect_sockets();
        listen_flags();

        lua::Host host;
        host.instance = id.name;
        host.base = base.get();
        host.endpoints = endpoints.get();
        host.serve = &serve;
        host.modules = &mods;
        host.net_stats = &net_stats;
        host.policy = &policy;
        host.resolve_config = &resolve_config;
        host.hints = &hints;
        host.cache_open = [this](uint64_t size, const std::string& dir) {
            cache.reset(); // one environment per process: close before reopening
            cache = cache::Cache::open(dir, size);
        };
        host.cache_get = [this] { return cache.get(); };
        host.queries = &worker->stats().queries;
        host.concurrent = &worker->stats().concurrent;
        host.timeouts = &worker->stats().timeouts;
        host.settings_changed = [this] { sync_settings(); };
        host.dropped = &worker->stats().dropped;
        host.before_user_switch = [this](uid_t uid, gid_t gid) {
            handoff->chown_to(uid, gid);
            if (::chown("control", uid, gid) != 0 && errno != ENOENT)
                KR_LOG(warning, "system", "cannot hand control/ to the new user: %s",
                       std::strerror(errno));
        };
        engine = std::make_unique<lua::Engine>(host, find_luadir());
        control = std::make_unique<lua::ControlEval>(*engine);
        serve.control = control.get();

        load_default_modules();
        run_configs();
        default_listeners();
        control_socket();
        start_resolver();
        start_modules();
        start_ta_update();

        install_events();
        endpoints->start();
        if (!opts.noninteractive && isatty(STDIN_FILENO))
            repl = std::make_unique<Repl>(base.get(), *engine, opts.quiet, [this] { begin_stop(); });

        size_t n = endpoints->list().size();
        std::string status = "serving " + std::to_string(n) + " sockets as instance " + id.name;
        KR_LOG(notice, "system", "%s", status.c_str());
        notifier.ready(status);

        event_base_dispatch(base.get());
        net::close_connections(serve);
        KR_LOG(info, "system", "stopped");
        return 0;
    }
};

} // namespace

int run(const std::vector<std::string>& argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    CliResult cli = parse_cli(argv);
    if (!cli.ok()) {
        std::fprintf(stderr, "kresd: %s\n", cli.error.c_str());
        return 2;
    }
    Daemon d;
    d.opts = cli.options;
    if (d.opts.show_help) {
        std::fputs(usage_text().c_str(), stdout);
        return 0;
    }
    if (d.opts.show_version) {
        std::printf("kresd (portable), version %s\n", KRESD_VERSION);
        return 0;
    }
    if (d.opts.verbosity > 0) util::set_log_level(util::Level::debug);
    else if (d.opts.quiet) util::set_log_level(util::Level::warning);

    try {
        d.id = resolve_identity(d.opts.instance, env("SYSTEMD_INSTANCE"), getpid());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kresd: %s\n", e.what());
        return 2;
    }
    if (d.opts.instance) setenv("SYSTEMD_INSTANCE", d.id.name.c_str(), 1);
    if (d.opts.rundir && chdir(d.opts.rundir->c_str()) != 0) {
        std::fprintf(stderr, "kresd: cannot use rundir %s: %s\n", d.opts.rundir->c_str(),
                     std::strerror(errno));
        return 1;
    }

    try {
        d.notifier = Notifier::from_env(getpid(), env, d.opts.notify_fd);
        for (const auto& w : d.notifier.warnings()) KR_LOG(warning, "system", "%s", w.c_str());
        // Our own copy is kept; programs the config may start must not notify for us.
        unsetenv("NOTIFY_SOCKET");
        return d.start();
    } catch (const lua::ConfigError& e) {
        std::fprintf(stderr, "kresd: config error: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kresd: %s\n", e.what());
    }
    d.notifier.status("failed to start");
    return 1;
}

} // namespace kresd::app
