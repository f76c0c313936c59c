// The modules predict and serve_stale: predict's window bookkeeping
// (Predictor), its timers and refreshes through fake Services with a
// simulated clock, its Lua table; serve_stale's request flag.
#include <ctime>
#include <lua.hpp>

#include "catch.hpp"
#include "clock_services.hpp"
#include "modules/module.hpp"
#include "modules/predict.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;
using namespace kresd::modules;

namespace {

dns::Name name(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

std::string text(const std::string& key) {
    dns::Name n;
    uint16_t t = 0;
    REQUIRE(Predictor::parse(key, n, t));
    return dns::name_to_text(n.view()) + " " + std::to_string(t);
}

// Services with a simulated clock; refreshes are recorded and completed
// by the test.
class FakeServices final : public test::ClockServices {
  public:
    bool resolve(const dns::Name&, uint16_t, bool, Done) override { return true; }
    bool refresh(const dns::Name& n, uint16_t type, Done done) override {
        refreshed.push_back(dns::name_to_text(n.view()) + " " + std::to_string(type));
        dones.push_back(std::move(done));
        return true;
    }
    resolve::Config& resolver_config() override { return config; }

    resolve::Config config = resolve::default_config();
    std::vector<std::string> refreshed;
    std::vector<Done> dones;
};

struct Lua {
    lua_State* L = luaL_newstate();
    Lua() { luaL_openlibs(L); }
    ~Lua() { lua_close(L); }
    void run(const char* code) {
        if (luaL_dostring(L, code) != 0) {
            const std::string err = lua_tostring(L, -1);
            lua_pop(L, 1);
            FAIL(err);
        }
    }
    std::string eval(const char* expr) {
        const std::string code = std::string("return tostring(") + expr + ")";
        run_ret(code.c_str());
        std::string out = lua_tostring(L, -1);
        lua_pop(L, 1);
        return out;
    }
    void run_ret(const char* code) {
        if (luaL_dostring(L, code) != 0) {
            const std::string err = lua_tostring(L, -1);
            lua_pop(L, 1);
            FAIL(err);
        }
    }
};

// The local time of `hour`:`minute` today (predict's windows are local).
uint64_t local_time(int hour, int minute) {
    std::time_t t = 1700000000;
    std::tm tm{};
    localtime_r(&t, &tm);
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return static_cast<uint64_t>(std::mktime(&tm));
}

} // namespace

TEST_CASE("predict: the epoch of a local time", "[modules][predict]") {
    CHECK(predict_epoch(local_time(0, 0), 15, 24) == 1);
    CHECK(predict_epoch(local_time(0, 14), 15, 24) == 1);
    CHECK(predict_epoch(local_time(0, 15), 15, 24) == 2);
    CHECK(predict_epoch(local_time(5, 59), 15, 24) == 24);
    CHECK(predict_epoch(local_time(6, 0), 15, 24) == 1); // the cycle is 6 hours
    CHECK(predict_epoch(local_time(13, 30), 30, 48) == 28);
    CHECK(predict_epoch(local_time(10, 0), 15, 1) == 0); // period 1: no prediction
    CHECK(predict_epoch(local_time(10, 0), 15, 0) == 0);
}

TEST_CASE("predict: names of the windows before are queued", "[modules][predict]") {
    Predictor p;
    p.reset(24);
    const auto a = Predictor::key(name("A.example."), 1);
    const auto b = Predictor::key(name("b.example."), 28);
    CHECK(text(a) == "a.example. 1");

    // Window 3: a and b asked; window 4: a only.
    p.set_current_epoch(3);
    p.note_frequent(a);
    p.note_frequent(b);
    CHECK(p.process(3) == 0);
    CHECK(p.frequent_size() == 0); // moved into window 3's log
    p.note_frequent(a);
    CHECK(p.process(4) == 0);
    // Window 5 begins: a was in windows 4 and 3 (i = 1), b only in 3.
    p.note_frequent(b);
    CHECK(p.process(5) == 1);
    auto q = p.take(0);
    REQUIRE(q.size() == 1);
    CHECK(q[0] == a);
    CHECK(p.queue_len() == 0);

    SECTION("one period later, the same window's names come back") {
        Predictor c;
        c.reset(4);
        c.set_current_epoch(1);
        c.note_frequent(a);
        CHECK(c.process(1) == 0);
        CHECK(c.process(2) == 0);
        CHECK(c.process(3) == 0);
        CHECK(c.process(4) == 0);
        CHECK(c.process(1) == 1);
        CHECK(c.take(1) == std::vector<std::string>{a});
    }
    SECTION("the tables are bounded") {
        for (size_t i = 0; i < Predictor::kMaxFrequent + 10; ++i) {
            dns::Name n = name(("n" + std::to_string(i) + ".example.").c_str());
            p.note_frequent(Predictor::key(n, 1));
        }
        CHECK(p.frequent_size() == Predictor::kMaxFrequent);
        size_t learned = 0;
        p.process(5, &learned);
        CHECK(learned <= Predictor::kMaxPerWindow);
    }
}

TEST_CASE("predict: expiring answers are refreshed once at a time", "[modules][predict]") {
    Lua lua;
    Registry r;
    FakeServices s;
    s.wall0 = local_time(10, 0);
    r.load("predict", lua.L);
    r.start(s);
    REQUIRE(s.config.on_expiring);
    const dns::Name www = name("www.example.");
    s.config.on_expiring(www, 1);
    s.config.on_expiring(www, 1); // in flight: not again
    CHECK(s.refreshed == std::vector<std::string>{"www.example. 1"});
    s.config.on_expiring(www, 28); // another type
    CHECK(s.refreshed.size() == 2);
    // Done, but still in the same second: not again; a second later: again.
    resolve::Resolver res(resolve::default_config(), nullptr, {}, [] { return 1u; });
    dns::Query q;
    q.qname = www;
    q.qname_lower = www;
    q.qtype = 1;
    q.qclass = 1;
    resolve::Request done(res, q, {});
    s.dones[0](done);
    s.config.on_expiring(www, 1);
    CHECK(s.refreshed.size() == 2);
    s.run(1000);
    s.config.on_expiring(www, 1);
    CHECK(s.refreshed.size() == 3);

    CHECK(r.unload("predict"));
    CHECK_FALSE(s.config.on_expiring);
    CHECK(s.live_timers() == 0);
}

TEST_CASE("predict: Lua table, config and timers", "[modules][predict]") {
    Lua lua;
    Registry r;
    FakeServices s;
    s.wall0 = local_time(10, 0);
    r.load("predict", lua.L);
    CHECK(lua.eval("predict.window") == "15");
    CHECK(lua.eval("predict.period") == "24");
    r.start(s);
    CHECK(s.live_timers() == 1);                // the first sample, in 3 to 6 minutes
    CHECK(lua.eval("predict.epoch()") == "17"); // 10:00 -> (40 + 0) % 24 + 1
    lua.run("predict.config({window = 30, period = 48})");
    CHECK(lua.eval("predict.window") == "30");
    CHECK(lua.eval("predict.period") == "48");
    CHECK(s.live_timers() == 1);
    CHECK(lua.eval("predict.epoch()") == "21");
    lua.run("predict.config({period = 0})"); // prediction off; prefetch stays
    CHECK(s.live_timers() == 0);
    CHECK(lua.eval("predict.epoch()") == "nil");
    CHECK(s.config.on_expiring);
    lua.run("predict.config()");
    CHECK(s.live_timers() == 0); // period stays 0
    CHECK(luaL_dostring(lua.L, "predict.config('x')") != 0);
    CHECK(std::string(lua_tostring(lua.L, -1)).find("must be a table or nil") != std::string::npos);
    lua_pop(lua.L, 1);
    lua.run("predict.config({window = 15, period = 6*(60/15)})");
    CHECK(lua.eval("predict.period") == "24");
    CHECK(s.live_timers() == 1);
    // Sampling runs and re-arms itself; an empty queue drains nothing.
    s.run(6 * 60 * 1000);
    CHECK(s.live_timers() == 1);
    CHECK(lua.eval("predict.queue_len") == "0");
    CHECK(lua.eval("predict.drain()") == "0");
}

TEST_CASE("serve_stale: the request flag follows load and unload", "[modules][stale]") {
    Lua lua;
    Registry r;
    resolve::RequestOptions o;
    r.adjust_request(o);
    CHECK(o.serve_stale_s == 0);
    r.load("serve_stale < cache", lua.L);
    r.adjust_request(o);
    CHECK(o.serve_stale_s == 86400);
    CHECK(lua.eval("serve_stale.timeout") == "3000");
    CHECK(o.stale_after_ms == 3000);
    lua.run("serve_stale.timeout = 1000");
    CHECK(lua.eval("serve_stale.timeout") == "1000");
    r.adjust_request(o);
    CHECK(o.stale_after_ms == 1000);
    CHECK(luaL_dostring(lua.L, "serve_stale.timeout = 'soon'") != 0);
    lua_pop(lua.L, 1);
    CHECK(r.unload("serve_stale"));
    resolve::RequestOptions fresh;
    r.adjust_request(fresh);
    CHECK(fresh.serve_stale_s == 0);
}
