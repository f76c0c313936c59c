// prefill: the module and its Lua table (the import itself is prefill.cpp).
//
// Lua, as Knot Resolver 5.6's prefill table:
//   prefill.config({['.'] = {file = '/var/lib/knot-resolver/root.zone',
//                            interval = 86400}})
// The zone may be named by `file` (a path) or by `url` = 'file:///path';
// 5.6's https:// URLs (downloads) are refused with a clear error: this
// kresd has no HTTPS client. `ca_file` is accepted (and unused). The file
// is read and checked at once (a missing or malformed file is a config
// error naming it and the line); the import into the cache runs when the
// resolver starts (or at once when config() is called on a running
// resolver), then every `interval` seconds (at least 3600, as in 5.6) the
// file is read again. A failed refresh logs a warning and keeps what the
// cache holds; it is tried again after 10 minutes (5.6's retry delay).
#include <lua.hpp>
#include <memory>
#include <string>

#include "cache/cache.hpp"
#include "modules/lua_table.hpp"
#include "modules/builtin.hpp"
#include "modules/prefill.hpp"
#include "resolve/resolve.hpp"
#include "util/log.hpp"

namespace kresd::modules {

namespace {

constexpr uint64_t kDefaultInterval = 86400; // seconds, as 5.6
constexpr uint64_t kMinInterval = 3600;      // 5.6 refuses shorter ones
constexpr uint64_t kRetryAfterError = 600;   // 5.6: after a failed import

class Prefill final : public Module {
  public:
    const char* name() const override { return "prefill"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}

    void bind_lua(lua_State* L) override {
        publish_table(L, "prefill", this, {{"config", l_config}, {"deinit", l_deinit}},
                      l_index); // live fields
    }

    void start(Services& s) override {
        services_ = &s;
        if (!path_.empty()) import_now(false);
    }

    void stop() override {
        timer_.reset();
        pending_.reset();
        services_ = nullptr;
    }

  private:
    static Prefill* self(lua_State* L) {
        return static_cast<Prefill*>(lua_touserdata(L, lua_upvalueindex(1)));
    }

    // Validates and stores the zone read last (pending_), else reads the
    // file again. `raise`: throw on failure (config() on a running
    // resolver) instead of logging. Arms the next refresh either way.
    void import_now(bool raise) {
        timer_.reset();
        if (!services_) return;
        uint64_t next = interval_;
        try {
            std::unique_ptr<prefill::Zone> zone = std::move(pending_);
            if (!zone) zone = std::make_unique<prefill::Zone>(prefill::read_zone(path_));
            cache::Cache* c = services_->cache();
            if (!c) throw prefill::PrefillError(path_ + ": the cache is off, nothing imported");
            const uint64_t now = services_->wall_s();
            uint64_t stamp = zone->mtime != 0 ? zone->mtime : now;
            if (stamp > now) {
                KR_LOG(warning, "prefil", "zone file %s comes from the future", path_.c_str());
                stamp = now;
            }
            const auto plan =
                prefill::plan_import(*zone, services_->resolver_config().anchors.get(), stamp);
            const size_t stored = prefill::store(*zone, plan, *c, stamp);
            imported_ = stored;
            security_ = plan.security;
            last_error_.clear();
            ++imports_;
            KR_LOG(info, "prefil",
                   "root zone from %s imported: %zu records, %zu RRsets cached (%s), refresh in "
                   "%llu s",
                   path_.c_str(), zone->records, stored, dnssec_text(plan.security),
                   static_cast<unsigned long long>(next));
        } catch (const std::exception& e) {
            last_error_ = e.what();
            next = std::min(interval_, kRetryAfterError);
            arm(next);
            if (raise) throw;
            KR_LOG(warning, "prefil",
                   "root zone import failed (%s), keeping the cached data, "
                   "retry in %llu s",
                   e.what(), static_cast<unsigned long long>(next));
            return;
        }
        arm(next);
    }

    static const char* dnssec_text(dns::Security s) {
        return s == dns::Security::secure ? "DNSSEC validated" : "not validated: no trust anchor";
    }

    void arm(uint64_t seconds) {
        if (!services_) return;
        timer_ = services_->after(seconds * 1000, [this] { import_now(false); });
    }

    // Reads one zone's table: sets path and interval, or raises.
    static void config_zone(lua_State* L, int t, std::string& path, uint64_t& interval) {
        lua_getfield(L, t, "interval");
        if (!lua_isnil(L, -1)) {
            if (!lua_isnumber(L, -1))
                luaL_error(L, "[prefill] interval must be a number of seconds");
            const double v = lua_tonumber(L, -1);
            if (v < static_cast<double>(kMinInterval))
                luaL_error(L,
                           "[prefill] refresh interval %d s is too short, minimal interval is %d s",
                           static_cast<int>(v), static_cast<int>(kMinInterval));
            interval = static_cast<uint64_t>(v);
        }
        lua_pop(L, 1);
        lua_getfield(L, t, "ca_file");
        if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
            luaL_error(L, "[prefill] ca_file must be a file name");
        lua_pop(L, 1);
        lua_getfield(L, t, "file");
        if (!lua_isnil(L, -1)) {
            if (!lua_isstring(L, -1)) luaL_error(L, "[prefill] file must be a file name");
            path = lua_tostring(L, -1);
        }
        lua_pop(L, 1);
        lua_getfield(L, t, "url");
        if (!lua_isnil(L, -1)) {
            if (!lua_isstring(L, -1)) luaL_error(L, "[prefill] url must be a string");
            const std::string url = lua_tostring(L, -1);
            if (url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0)
                luaL_error(L,
                           "[prefill] url '%s': downloading is not supported by this kresd (it "
                           "has no HTTPS client); fetch the root zone with another tool and give "
                           "the local copy as file = '/path/root.zone' (or url = "
                           "'file:///path/root.zone')",
                           url.c_str());
            if (url.rfind("file://", 0) != 0)
                luaL_error(L, "[prefill] url '%s': only file:// URLs (local files) are supported",
                           url.c_str());
            const std::string p = url.substr(7);
            if (p.empty() || p[0] != '/')
                luaL_error(L,
                           "[prefill] url '%s': a file:// URL needs an absolute path "
                           "(file:///path/root.zone)",
                           url.c_str());
            if (!path.empty() && path != p)
                luaL_error(L, "[prefill] give either file or url, not two different files");
            path = p;
        }
        lua_pop(L, 1);
        if (path.empty())
            luaL_error(L, "[prefill] option file (or url = 'file:///...') must name the zone "
                          "file; downloads (https://) are not supported");
    }

    static int l_config(lua_State* L) {
        Prefill* p = self(L);
        if (lua_isnoneornil(L, 1)) return 0; // modules = {'prefill'}: nothing yet, as 5.6
        if (!lua_istable(L, 1))
            return luaL_error(L, "[prefill] configuration must be in table "
                                 "{owner name = {per-zone config}}");
        std::string path;
        uint64_t interval = kDefaultInterval;
        bool root = false;
        lua_pushnil(L);
        while (lua_next(L, 1) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING || std::string(lua_tostring(L, -2)) != ".")
                return luaL_error(L, "[prefill] only root zone can be imported at the moment");
            if (!lua_istable(L, -1))
                return luaL_error(L, "[prefill] the configuration of '.' must be a table");
            config_zone(L, lua_gettop(L), path, interval);
            root = true;
            lua_pop(L, 1);
        }
        if (!root)
            return luaL_error(L, "[prefill] this module version requires configuration for root "
                                 "zone");
        std::unique_ptr<prefill::Zone> zone;
        try {
            zone = std::make_unique<prefill::Zone>(prefill::read_zone(path));
        } catch (const std::exception& e) {
            return luaL_error(L, "[prefill] %s", e.what());
        }
        p->path_ = path;
        p->interval_ = interval;
        p->pending_ = std::move(zone);
        if (p->services_) {
            try {
                p->import_now(true);
            } catch (const std::exception& e) {
                return luaL_error(L, "[prefill] %s", e.what());
            }
        }
        return 0;
    }

    static int l_deinit(lua_State* L) {
        Prefill* p = self(L);
        p->timer_.reset();
        p->pending_.reset();
        return 0;
    }

    // Read-only state, for operators and tests (not in 5.6).
    static int l_index(lua_State* L) {
        Prefill* p = self(L);
        const char* k = lua_tostring(L, 2);
        if (!k) return 0;
        const std::string_view key = k;
        if (key == "file" && !p->path_.empty())
            lua_pushstring(L, p->path_.c_str());
        else if (key == "interval")
            lua_pushinteger(L, static_cast<lua_Integer>(p->interval_));
        else if (key == "imports")
            lua_pushinteger(L, static_cast<lua_Integer>(p->imports_));
        else if (key == "cached")
            lua_pushinteger(L, static_cast<lua_Integer>(p->imported_));
        else if (key == "validated")
            lua_pushboolean(L, p->security_ == dns::Security::secure);
        else if (key == "last_error" && !p->last_error_.empty())
            lua_pushstring(L, p->last_error_.c_str());
        else
            return 0;
        return 1;
    }

    Services* services_ = nullptr;
    std::string path_;
    uint64_t interval_ = kDefaultInterval;
    std::unique_ptr<prefill::Zone> pending_; // read at config(), imported at start()
    std::unique_ptr<Services::Timer> timer_;
    size_t imported_ = 0;
    uint64_t imports_ = 0;
    dns::Security security_ = dns::Security::unknown;
    std::string last_error_;
};

} // namespace

std::unique_ptr<Module> make_prefill() {
    return std::make_unique<Prefill>();
}

} // namespace kresd::modules
