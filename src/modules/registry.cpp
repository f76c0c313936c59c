#include <algorithm>
#include <stdexcept>

#include "modules/module.hpp"

namespace kresd::modules {

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

} // namespace

bool is_core_part(std::string_view name)
{
    // Parts of Knot Resolver that are modules there and built into the
    // daemon here: loading them (or placing others next to them) is a no-op.
    // ta_update: RFC 5011 runs for every key file added without readonly
    // (app/ta_update.hpp), as Knot Resolver's default-loaded module does.
    for (const char* n : {"iterate", "validate", "cache", "policy", "hints", "ta_update"})
        if (name == n) return true;
    return false;
}

Module* Registry::load(std::string_view spec, lua_State* L)
{
    std::string_view name = spec, anchor;
    char where = 0;
    if (auto p = spec.find_first_of("<>"); p != std::string_view::npos) {
        where = spec[p];
        name = trim(spec.substr(0, p));
        anchor = trim(spec.substr(p + 1));
        if (anchor.empty())
            throw std::runtime_error("modules.load('" + std::string(spec) +
                                     "'): no module named after '" + where + "'");
    }
    name = trim(name);
    if (is_core_part(name)) return nullptr;
    if (Module* m = find(name)) return m;
    auto mod = create(name);
    if (!mod) {
        std::string known;
        for (const auto& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
        throw std::runtime_error("modules.load('" + std::string(name) +
                                 "'): no such module (built in: " + known + ")");
    }
    auto pos = loaded_.end();
    if (where) {
        auto it = std::find_if(loaded_.begin(), loaded_.end(),
                               [&](const auto& m) { return anchor == m->name(); });
        if (it == loaded_.end() && is_core_part(anchor))
            it = where == '>' ? loaded_.end() : loaded_.begin();
        else if (it == loaded_.end())
            throw std::runtime_error("modules.load('" + std::string(spec) + "'): module '" +
                                     std::string(anchor) + "' is not loaded");
        pos = (where == '>' && it != loaded_.end()) ? it + 1 : it;
    }
    mod->bind_lua(L);
    Module* m = loaded_.insert(pos, std::move(mod))->get();
    note_follow_ups();
    if (services_) m->start(*services_);
    return m;
}

bool Registry::unload(std::string_view name)
{
    auto it = std::find_if(loaded_.begin(), loaded_.end(),
                           [&](const auto& m) { return name == m->name(); });
    if (it == loaded_.end()) return false;
    (*it)->stop();
    retired_.push_back(std::move(*it));
    loaded_.erase(it);
    note_follow_ups();
    return true;
}

void Registry::note_follow_ups()
{
    follow_ups_ = std::any_of(loaded_.begin(), loaded_.end(),
                              [](const auto& m) { return m->has_follow_ups(); });
}

std::unique_ptr<FollowUp> Registry::redirect(const dns::Query& q,
                                             const resolve::RequestOptions& opts) const
{
    for (const auto& m : loaded_)
        if (auto f = m->redirect(q, opts)) return f;
    return nullptr;
}

std::unique_ptr<FollowUp> Registry::follow_up(const dns::Query& q,
                                              const resolve::RequestOptions& opts,
                                              const dns::ResponseBuilder& answer) const
{
    for (const auto& m : loaded_)
        if (auto f = m->follow_up(q, opts, answer)) return f;
    return nullptr;
}

std::vector<std::string> Registry::list() const
{
    std::vector<std::string> out;
    for (const auto& m : loaded_) out.emplace_back(m->name());
    return out;
}

Module* Registry::find(std::string_view name) const
{
    for (const auto& m : loaded_)
        if (name == m->name()) return m.get();
    return nullptr;
}

void Registry::load_defaults(lua_State* L)
{
    for (const auto& n : default_names()) load(n, L);
}

void Registry::start(Services& services)
{
    services_ = &services;
    for (const auto& m : loaded_) m->start(services);
}

void Registry::adjust_request(resolve::RequestOptions& opts) const
{
    for (const auto& m : loaded_) m->adjust_request(opts);
}

void Registry::on_resolved(const dns::Query& q, const resolve::Request& req) const
{
    for (const auto& m : loaded_) m->on_resolved(q, req);
}

size_t Registry::option_reserve(const dns::Query& q) const
{
    size_t n = 0;
    for (const auto& m : loaded_) n += m->option_reserve(q);
    return n;
}

void Registry::on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                         dns::ResponseBuilder& out, bool stream) const
{
    for (const auto& m : loaded_) m->on_answer_to(q, query_ok, rcode, stream, out);
}

bool Registry::answer_early(const dns::Query& q, dns::ResponseBuilder& out) const
{
    for (const auto& m : loaded_)
        if (m->answer_early(q, out)) return true;
    return false;
}

} // namespace kresd::modules
