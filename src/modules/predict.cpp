// predict: prefetching of expiring answers and of predicted names (see
// predict.hpp for what Knot Resolver 5.6 does and what is kept of it).
//
// Lua (as 5.6's predict table): predict.config({window = 15, period = 24})
// (nil or a table; every call forgets what was learned and restarts the
// timers), predict.epoch(), predict.process(), predict.drain(); the fields
// window, period, queue_len, batch and current_epoch read live values.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <ctime>
#include <lua.hpp>

#include "modules/lua_table.hpp"
#include "modules/builtin.hpp"
#include "modules/predict.hpp"
#include "resolve/resolve.hpp"
#include "util/random.hpp"

namespace kresd::modules {

int predict_epoch(uint64_t wall_s, double window_min, int period) {
    if (period <= 1 || !(window_min > 0)) return 0;
    const std::time_t t = static_cast<std::time_t>(wall_s);
    std::tm tm{};
    localtime_r(&t, &tm);
    // (hour * (60 / window) + floor(minute / window)) % period + 1
    const double slot = tm.tm_hour * (60.0 / window_min) + std::floor(tm.tm_min / window_min);
    return static_cast<int>(std::fmod(std::floor(slot), period)) + 1;
}

std::string Predictor::key(const dns::Name& name, uint16_t type) {
    dns::Name lower = name;
    dns::name_lower(lower);
    std::string k(2 + lower.len, '\0');
    k[0] = static_cast<char>(type >> 8);
    k[1] = static_cast<char>(type & 0xff);
    std::memcpy(k.data() + 2, lower.wire.data(), lower.len);
    return k;
}

bool Predictor::parse(std::string_view k, dns::Name& name, uint16_t& type) {
    if (k.size() < 3 || k.size() - 2 > dns::kMaxNameWire) return false;
    type = static_cast<uint16_t>((static_cast<uint8_t>(k[0]) << 8) | static_cast<uint8_t>(k[1]));
    name.len = static_cast<uint8_t>(k.size() - 2);
    std::memcpy(name.wire.data(), k.data() + 2, name.len);
    return true;
}

void Predictor::reset(int period) {
    period_ = std::max(period, 0);
    current_epoch_ = 0;
    log_.assign(static_cast<size_t>(period_), {});
    frequent_.clear();
    queue_.clear();
    queued_.clear();
}

void Predictor::note_frequent(std::string k) {
    if (frequent_.size() >= kMaxFrequent && !frequent_.contains(k)) return;
    ++frequent_[std::move(k)];
}

Predictor::Set* Predictor::log_at(int epoch) {
    if (epoch < 1 || epoch > period_) return nullptr;
    return &log_[static_cast<size_t>(epoch - 1)];
}

size_t Predictor::enqueue(const std::string& k) {
    if (queue_.size() >= kMaxQueue || queued_.contains(k)) return 0;
    queued_.insert(k);
    queue_.push_back(k);
    return 1;
}

// Names asked in both of the windows i and 2i before this one (i from 1 to
// period/2 - 1) are likely to be asked again in it.
size_t Predictor::generate(int epoch_now) {
    size_t queued = 0;
    const int p = period_;
    auto wrap = [p](int x) { return ((x % p) + p) % p + 1; };
    for (int i = 1; i <= p / 2 - 1; ++i) {
        const Set* current = log_at(wrap(epoch_now - i - 1));
        const Set* past = log_at(wrap(epoch_now - 2 * i - 1));
        if (!current || !past) continue;
        for (const auto& k : *current)
            if (past->contains(k)) queued += enqueue(k);
    }
    return queued;
}

size_t Predictor::process(int epoch_now, size_t* learned) {
    size_t queued = 0;
    if (epoch_now != current_epoch_) {
        current_epoch_ = epoch_now;
        if (Set* same = log_at(epoch_now)) {
            // What was asked in this window one period ago.
            for (const auto& k : *same)
                queued += enqueue(k);
            queued += generate(epoch_now);
            same->clear();
        }
    }
    size_t n = 0;
    if (Set* current = log_at(epoch_now)) {
        for (auto& [k, count] : frequent_) {
            if (current->size() >= kMaxPerWindow) break;
            current->insert(k);
            ++n;
        }
        frequent_.clear();
    }
    if (learned) *learned = n;
    return queued;
}

std::vector<std::string> Predictor::take(size_t max) {
    const size_t n = max == 0 ? queue_.size() : std::min(max, queue_.size());
    std::vector<std::string> out(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    for (const auto& k : out)
        queued_.erase(k);
    return out;
}

namespace {

constexpr unsigned kSampleOneIn = 10; // Knot Resolver's stats: 1 in 10 resolved questions
constexpr size_t kRecentSlots = 1024; // expiring refreshes: one per name and second

class Predict final : public Module {
  public:
    const char* name() const override { return "predict"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}

    void bind_lua(lua_State* L) override {
        publish_table(L, "predict", this,
                      {{"config", l_config}, {"epoch", l_epoch}, {"process", l_process},
                       {"drain", l_drain}},
                      l_index); // live fields
    }

    void start(Services& s) override {
        services_ = &s;
        s.resolver_config().on_expiring = [this](const dns::Name& n, uint16_t t) {
            expiring(n, t);
        };
        init();
    }

    void stop() override {
        deinit();
        if (services_) services_->resolver_config().on_expiring = nullptr;
        services_ = nullptr;
        ++generation_;
    }

    // Sampling for prediction: questions the core resolved upstream.
    void on_resolved(const dns::Query& q, const resolve::Request& req) override {
        if (predict_.current_epoch() == 0 || req.from_cache() || ++sample_ % kSampleOneIn != 0)
            return;
        predict_.note_frequent(Predictor::key(q.qname, q.qtype));
    }

    // For tests: the bookkeeping.
    Predictor& predictor() { return predict_; }

  private:
    struct Recent {
        uint64_t hash = 0;
        uint64_t second = 0;
        bool in_flight = false;
    };

    static Predict* self(lua_State* L) {
        return static_cast<Predict*>(lua_touserdata(L, lua_upvalueindex(1)));
    }

    // A cache hit found (name, t) about to expire: refresh it, unless
    // it is being refreshed or was this second. No allocation until a
    // refresh starts.
    void expiring(const dns::Name& name, uint16_t t) {
        if (!services_) return;
        dns::Name n = name; // the question's case, from a Request
        dns::name_lower(n);
        const uint64_t h = std::hash<std::string_view>{}(std::string_view(
                               reinterpret_cast<const char*>(n.wire.data()), n.len)) *
                               31 +
                           t;
        Recent& r = recent_[h % kRecentSlots];
        const uint64_t now = services_->wall_s();
        if (r.hash == h && (r.in_flight || r.second == now)) return;
        r = {h, now, true};
        const size_t slot = h % kRecentSlots;
        const unsigned gen = generation_;
        const bool ok = services_->refresh(n, t, [this, slot, h, gen](const resolve::Request&) {
            if (gen == generation_ && recent_[slot].hash == h) recent_[slot].in_flight = false;
        });
        if (!ok) r.in_flight = false;
        refreshed_ += ok ? 1 : 0;
    }

    // Knot Resolver: the next sample in window/5 .. 2*window/5 minutes.
    uint64_t next_event_ms() const {
        const uint64_t jitter = static_cast<uint64_t>(window_ * 60000.0 / 5);
        return jitter + (jitter ? util::random_u32() % (jitter + 1) : 0);
    }

    int epoch() const {
        return services_ ? predict_epoch(services_->wall_s(), window_, period_) : 0;
    }

    void init() {
        predict_.reset(period_);
        if (services_ && window_ > 0 && period_ > 0) {
            predict_.set_current_epoch(epoch());
            sample_timer_ = services_->after(next_event_ms(), [this] { process(); });
        }
    }

    void deinit() {
        sample_timer_.reset();
        drain_timer_.reset();
        predict_.reset(period_);
        batch_ = 0;
    }

    void process() {
        if (!services_) return;
        size_t learned = 0;
        const size_t queued = predict_.process(epoch(), &learned);
        learned_ = learned;
        if (queued > 0) {
            batch_ = static_cast<double>(predict_.queue_len()) / 5;
            if (!drain_timer_) drain_timer_ = services_->after(0, [this] { drain(); });
        }
        sample_timer_ = services_->after(next_event_ms(), [this] { process(); });
    }

    // Resolves a batch of the queue (Knot Resolver: `batch` = a fifth of the
    // queue when it was filled, at least one), the next after 3*window s.
    size_t drain() {
        drain_timer_.reset();
        if (!services_) return 0;
        const size_t max = batch_ > 0 ? static_cast<size_t>(std::ceil(batch_)) : 0;
        const auto keys = predict_.take(max);
        for (const auto& k : keys) {
            dns::Name n;
            uint16_t t = 0;
            if (Predictor::parse(k, n, t)) services_->refresh(n, t, [](const resolve::Request&) {});
        }
        if (!keys.empty())
            drain_timer_ =
                services_->after(static_cast<uint64_t>(window_ * 3 * 1000), [this] { drain(); });
        return keys.size();
    }

    static int l_config(lua_State* L) {
        Predict* p = self(L);
        if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1))
            return luaL_error(L, "[predict] configuration must be a table or nil");
        double window = p->window_;
        int period = p->period_;
        if (lua_istable(L, 1)) {
            lua_getfield(L, 1, "window");
            if (!lua_isnil(L, -1)) {
                if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0)
                    return luaL_error(L, "[predict] window must be a number of minutes");
                window = lua_tonumber(L, -1);
            }
            lua_pop(L, 1);
            lua_getfield(L, 1, "period");
            if (!lua_isnil(L, -1)) {
                if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0 || lua_tonumber(L, -1) > 100000)
                    return luaL_error(L, "[predict] period must be a number of windows");
                period = static_cast<int>(lua_tonumber(L, -1));
            }
            lua_pop(L, 1);
        }
        p->window_ = window;
        p->period_ = period;
        p->deinit();
        p->init();
        return 0;
    }

    static int l_epoch(lua_State* L) {
        const int e = self(L)->epoch();
        if (e == 0)
            lua_pushnil(L);
        else
            lua_pushinteger(L, e);
        return 1;
    }

    static int l_process(lua_State* L) {
        self(L)->process();
        return 0;
    }

    static int l_drain(lua_State* L) {
        self(L)->drain();
        lua_pushinteger(L, 0);
        return 1;
    }

    static int l_index(lua_State* L) {
        Predict* p = self(L);
        const char* k = lua_tostring(L, 2);
        if (!k) return 0;
        const std::string_view key = k;
        if (key == "window")
            lua_pushnumber(L, p->window_);
        else if (key == "period")
            lua_pushinteger(L, p->period_);
        else if (key == "queue_len")
            lua_pushinteger(L, static_cast<lua_Integer>(p->predict_.queue_len()));
        else if (key == "batch")
            lua_pushnumber(L, p->batch_);
        else if (key == "current_epoch" && p->predict_.current_epoch() != 0)
            lua_pushinteger(L, p->predict_.current_epoch());
        else if (key == "learned")
            lua_pushinteger(L, static_cast<lua_Integer>(p->learned_));
        else if (key == "refreshed")
            lua_pushinteger(L, static_cast<lua_Integer>(p->refreshed_));
        else
            return 0;
        return 1;
    }

    Services* services_ = nullptr;
    double window_ = 15; // minutes
    int period_ = 24;    // windows
    Predictor predict_;
    double batch_ = 0;
    size_t learned_ = 0;
    uint64_t refreshed_ = 0;
    unsigned sample_ = 0;
    unsigned generation_ = 0;
    std::unique_ptr<Services::Timer> sample_timer_, drain_timer_;
    std::array<Recent, kRecentSlots> recent_{};
};

} // namespace

std::unique_ptr<Module> make_predict() {
    return std::make_unique<Predict>();
}

} // namespace kresd::modules
