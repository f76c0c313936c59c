// Response Policy Zone files: the reader (Loader, one record at a time)
// and the lookup; the contract is in rpz.hpp.
#include "policy/rpz.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <bitset>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/ldns.hpp"
#include "util/log.hpp"

namespace kresd::policy {

namespace {

struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
// Lower-case relative wire name (ending with the root label) -> action index.
using NameMap = std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>>;

// Indexes of the fixed actions in Zone::actions; local data follows them.
enum : uint32_t { kGiven = 0, kNodata, kPass, kDrop, kTc, kFirstData };

std::string_view as_text(std::span<const uint8_t> s) {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Record types 5.6 refuses in an RPZ (NS only below the apex).
bool bad_type(uint16_t t) {
    switch (t) {
    case 39: // DNAME
    case 48: // DNSKEY
    case 43: // DS
    case 46: // RRSIG
    case 47: // NSEC
    case 50: // NSEC3
        return true;
    default:
        return false;
    }
}

std::string type_name(uint16_t t) {
    return dns::ldns::take_text(ldns_rr_type2str(static_cast<ldns_rr_type>(t)));
}

struct Token {
    std::string_view text;
    bool quoted = false;
};

bool parse_ttl(std::string_view s, uint32_t& out) {
    // Digits, or BIND units: 1h30m, 2d, 1w.
    if (s.empty() || s[0] < '0' || s[0] > '9') return false;
    uint64_t total = 0, cur = 0;
    bool digits = false;
    for (char c : s) {
        if (c >= '0' && c <= '9') {
            cur = cur * 10 + static_cast<uint64_t>(c - '0');
            digits = true;
            if (cur > 0xffffffffull) return false;
            continue;
        }
        uint64_t mul = 0;
        switch (c | 0x20) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        case 'w':
            mul = 604800;
            break;
        default:
            return false;
        }
        if (!digits) return false;
        total += cur * mul;
        cur = 0;
        digits = false;
    }
    total += cur;
    if (total > 0xffffffffull) return false;
    out = static_cast<uint32_t>(total);
    return true;
}

bool is_class(std::string_view s) {
    auto eq = [&](const char* c) {
        return s.size() == std::strlen(c) &&
               std::equal(s.begin(), s.end(), c, [](char a, char b) { return (a | 0x20) == b; });
    };
    return eq("in") || eq("ch") || eq("hs") || eq("cs");
}

// Reads the zone text into a Zone, one record at a time.
class Loader {
  public:
    Loader(const std::string& path, const Rpz::Warn& warn, Rpz::Zone& z)
        : path_(path), warn_(warn), z_(z) {
        origin_.len = 1;
        origin_.wire[0] = 0;
    }
    void run(std::string_view text);

  private:
    void warn(size_t line, const std::string& why, bool plain = false) {
        warn_("RPZ " + path_ + ":" + std::to_string(line) + (plain ? " warning: " : ": ") + why);
    }
    bool to_name(std::string_view t, dns::Name& out) const;
    void record(const std::vector<Token>& toks, bool blank_owner, size_t line);
    void data(const std::string& key, uint16_t type, uint32_t ttl, std::vector<uint8_t> rdata,
              size_t line);
    bool rdata_of(uint16_t type, const std::vector<Token>& toks, size_t from,
                  const dns::Name& owner, uint32_t ttl, std::vector<uint8_t>& out,
                  std::string& why) const;

    const std::string& path_;
    const Rpz::Warn& warn_;
    Rpz::Zone& z_;
    dns::Name origin_;     // $ORIGIN (the root until set)
    dns::Name soa_origin_; // the first SOA's owner (len 0: none yet)
    dns::Name prev_owner_; // for records that start with a blank
    bool have_prev_ = false;
    uint32_t default_ttl_ = 3600;
    bool warned_soa_ = false, warned_bailiwick_ = false;
    // Local data: name -> its sets, in the order met.
    std::map<std::string, std::vector<AnswerData::Set>> data_;

    friend class kresd::policy::Rpz;
};

} // namespace

struct Rpz::Zone {
    NameMap exact;
    NameMap wild; // keyed by the name under "*."
    std::vector<Action> actions;
    size_t names = 0;
    // Label counts that occur among the keys: names of other depths are
    // not looked up (a wire name has at most 127 labels).
    std::bitset<128> exact_depth, wild_depth;
};

namespace {

size_t labels_of(std::string_view wire) {
    size_t n = 0, pos = 0;
    while (pos < wire.size() && wire[pos] != 0) {
        pos += 1 + static_cast<uint8_t>(wire[pos]);
        ++n;
    }
    return n;
}

} // namespace

namespace {

bool Loader::to_name(std::string_view t, dns::Name& out) const {
    if (t == "@") {
        out = origin_;
        return true;
    }
    if (t.find('\\') != std::string_view::npos) return false; // escapes: not supported
    if (t.empty() || !dns::name_from_text(t, out)) return false;
    if (t.back() == '.') return true;
    // Relative: append the origin in place of the root label.
    if (origin_.len == 1) return true;
    const size_t n = static_cast<size_t>(out.len) - 1 + origin_.len;
    if (n > dns::kMaxNameWire) return false;
    std::copy_n(origin_.wire.begin(), origin_.len, out.wire.begin() + out.len - 1);
    out.len = static_cast<uint8_t>(n);
    return true;
}

bool Loader::rdata_of(uint16_t type, const std::vector<Token>& toks, size_t from,
                      const dns::Name& owner, uint32_t ttl, std::vector<uint8_t>& out,
                      std::string& why) const {
    const size_t n = toks.size() - from;
    if (type == dns::type::A || type == dns::type::AAAA) {
        const bool v4 = type == dns::type::A;
        std::string s(n == 1 ? toks[from].text : std::string_view());
        out.resize(v4 ? 4 : 16);
        if (n != 1 || inet_pton(v4 ? AF_INET : AF_INET6, s.c_str(), out.data()) != 1) {
            why = v4 ? "invalid IPv4 address" : "invalid IPv6 address";
            return false;
        }
        return true;
    }
    if (type == dns::type::TXT) {
        if (n == 0) {
            why = "missing TXT data";
            return false;
        }
        out.clear();
        for (size_t i = from; i < toks.size(); ++i) {
            const auto t = toks[i].text;
            if (t.size() > 255 || t.find('\\') != std::string_view::npos) {
                why = t.size() > 255 ? "TXT string over 255 bytes"
                                     : "escapes in TXT are not supported";
                return false;
            }
            out.push_back(static_cast<uint8_t>(t.size()));
            out.insert(out.end(), t.begin(), t.end());
        }
        return true;
    }
    // Any other type: through ldns, relative names against the origin.
    std::string text =
        dns::name_to_text(owner.view()) + " " + std::to_string(ttl) + " IN " + type_name(type);
    for (size_t i = from; i < toks.size(); ++i) {
        text += ' ';
        if (toks[i].quoted) text += '"';
        text += toks[i].text;
        if (toks[i].quoted) text += '"';
    }
    const dns::ldns::Rdf origin(ldns_dname_new_frm_data(origin_.len, origin_.wire.data()));
    ldns_rr* raw = nullptr;
    const ldns_status st = ldns_rr_new_frm_str(&raw, text.c_str(), ttl, origin.get(), nullptr);
    const dns::ldns::Rr rr(raw);
    if (st != LDNS_STATUS_OK || !rr) {
        why = std::string("cannot read the record data: ") + ldns_get_errorstr_by_id(st);
        return false;
    }
    auto wire = dns::ldns::rdata_wire(rr.get());
    if (!wire) {
        why = "cannot read the record data";
        return false;
    }
    out = std::move(*wire);
    return true;
}

void Loader::data(const std::string& key, uint16_t type, uint32_t ttl, std::vector<uint8_t> rdata,
                  size_t line) {
    auto& sets = data_[key];
    for (auto& s : sets) {
        if (s.type != type) continue;
        s.rdata.push_back(std::move(rdata)); // no reordering or deduplication
        if (s.ttl != ttl) {
            warn(line, "different TTLs in a set (minimum taken)", true);
            s.ttl = std::min(s.ttl, ttl);
        }
        return;
    }
    AnswerData::Set s;
    s.type = type;
    s.ttl = ttl;
    s.rdata.push_back(std::move(rdata));
    sets.push_back(std::move(s));
}

void Loader::record(const std::vector<Token>& toks, bool blank_owner, size_t line) {
    size_t i = 0;
    if (!blank_owner && !toks[0].quoted && toks[0].text.starts_with('$')) {
        const auto d = toks[0].text;
        auto is = [&](const char* w) {
            return d.size() == std::strlen(w) &&
                   std::equal(d.begin(), d.end(), w,
                              [](char a, char b) { return std::toupper(a) == b; });
        };
        if (is("$ORIGIN")) {
            dns::Name n;
            if (toks.size() != 2 || !to_name(toks[1].text, n)) return warn(line, "invalid $ORIGIN");
            dns::name_lower(n);
            origin_ = n;
        } else if (is("$TTL")) {
            uint32_t t = 0;
            if (toks.size() != 2 || !parse_ttl(toks[1].text, t)) return warn(line, "invalid $TTL");
            default_ttl_ = t;
        } else if (is("$INCLUDE")) {
            warn(line, "$INCLUDE is not supported (ignored)");
        } else {
            warn(line, "unknown directive " + std::string(d));
        }
        return;
    }
    dns::Name owner;
    if (blank_owner) {
        if (!have_prev_) return warn(line, "record without an owner");
        owner = prev_owner_;
    } else {
        if (toks[0].quoted || !to_name(toks[0].text, owner))
            return warn(line, "invalid owner name '" + std::string(toks[0].text) + "'");
        i = 1;
        prev_owner_ = owner;
        have_prev_ = true;
    }
    uint32_t ttl = default_ttl_;
    for (int k = 0; k < 2 && i < toks.size() && !toks[i].quoted; ++k) {
        if (parse_ttl(toks[i].text, ttl) || is_class(toks[i].text))
            ++i;
        else
            break;
    }
    if (i >= toks.size()) return warn(line, "missing record type");
    const std::string tname(toks[i].text);
    const uint16_t type =
        toks[i].quoted ? 0 : static_cast<uint16_t>(ldns_get_rr_type_by_name(tname.c_str()));
    if (type == 0) return warn(line, "unsupported record type '" + tname + "'");
    ++i;

    dns::Name lower = owner;
    dns::name_lower(lower);
    const dns::Name& origin = soa_origin_.len ? soa_origin_ : origin_;
    if (!dns::name_in_zone(lower.view(), origin.view())) {
        if (!warned_bailiwick_) {
            warned_bailiwick_ = true;
            warn(line, "RR owner \"" + dns::name_to_text(lower.view()) +
                           "\" outside the zone (ignored; reported once per file)");
        }
        return;
    }
    std::string key(as_text(lower.view().first(lower.len - origin.len)));
    key.push_back('\0');

    if (type == dns::type::CNAME) {
        dns::Name target;
        if (toks.size() - i != 1 || toks[i].quoted || !to_name(toks[i].text, target))
            return warn(line, "invalid CNAME target");
        dns::name_lower(target);
        const auto t = as_text(target.view());
        uint32_t idx = 0;
        if (t == std::string_view("\0", 1))
            idx = kGiven;
        else if (t == std::string_view("\1*\0", 3))
            idx = kNodata;
        else if (t == std::string_view("\014rpz-passthru\0", 14))
            idx = kPass;
        else if (t == std::string_view("\010rpz-drop\0", 10))
            idx = kDrop;
        else if (t == std::string_view("\014rpz-tcp-only\0", 14))
            idx = kTc;
        else
            return warn(line, "CNAME with custom target in RPZ is not supported yet (ignored)");
        const bool wildcard = key.size() >= 3 && key[0] == 1 && key[1] == '*';
        if (wildcard)
            z_.wild.insert_or_assign(key.substr(2), idx);
        else
            z_.exact.insert_or_assign(std::move(key), idx);
        return;
    }
    const bool apex = key.size() == 1;
    if (type == dns::type::SOA) {
        if (soa_origin_.len == 0) {
            soa_origin_ = lower;
            return;
        }
        return warn(line, "RR type SOA is not allowed in RPZ (ignored)", true);
    }
    if (soa_origin_.len == 0 && !warned_soa_) {
        warned_soa_ = true;
        warn(line, "SOA missing as the first record", true);
    }
    if (bad_type(type) || (type == dns::type::NS && !apex))
        return warn(line, "RR type " + type_name(type) + " is not allowed in RPZ (ignored)", true);
    if (type == dns::type::NS) return; // at the apex: silently
    std::vector<uint8_t> rd;
    std::string why;
    if (!rdata_of(type, toks, i, owner, ttl, rd, why)) return warn(line, why);
    data(key, type, ttl, std::move(rd), line);
}

void Loader::run(std::string_view text) {
    std::vector<Token> toks;
    size_t line = 0, start_line = 0;
    int depth = 0;
    bool blank_owner = false;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const std::string_view l = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++line;
        if (depth == 0) {
            toks.clear();
            start_line = line;
            blank_owner = !l.empty() && (l[0] == ' ' || l[0] == '\t');
        }
        bool bad = false;
        size_t k = 0;
        while (k < l.size()) {
            const char c = l[k];
            if (c == ' ' || c == '\t' || c == '\r') {
                ++k;
            } else if (c == ';') {
                break;
            } else if (c == '(') {
                ++depth;
                ++k;
            } else if (c == ')') {
                if (--depth < 0) bad = true;
                ++k;
            } else if (c == '"') {
                size_t e = k + 1;
                while (e < l.size() && l[e] != '"')
                    e += l[e] == '\\' ? 2 : 1;
                if (e >= l.size()) {
                    bad = true;
                    break;
                }
                toks.push_back({l.substr(k + 1, e - k - 1), true});
                k = e + 1;
            } else {
                size_t e = k;
                while (e < l.size() && l[e] != ' ' && l[e] != '\t' && l[e] != '\r' && l[e] != ';' &&
                       l[e] != '(' && l[e] != ')' && l[e] != '"')
                    ++e;
                toks.push_back({l.substr(k, e - k), false});
                k = e;
            }
        }
        if (bad) {
            warn(line, "unbalanced parentheses or quotes (line skipped)");
            depth = 0;
            continue;
        }
        if (depth > 0) continue;
        if (!toks.empty()) record(toks, blank_owner, start_line);
    }
    if (depth > 0) warn(start_line, "unterminated parentheses at the end of the file");
}

} // namespace

Rpz::Rpz(std::string path, Warn warn) : path_(std::move(path)), warn_(std::move(warn)) {
    if (!warn_) warn_ = [](const std::string& s) { KR_LOG(warning, "policy", "%s", s.c_str()); };
    reload_if_changed(); // throws when the file cannot be read
}

Rpz::~Rpz() = default;

size_t Rpz::size() const {
    return zone_ ? zone_->names : 0;
}

const Action* Rpz::lookup(std::span<const uint8_t> qname, const Action& given) const {
    const Zone& z = *zone_;
    const std::string_view s = as_text(qname);
    auto pick = [&](uint32_t idx) { return idx == kGiven ? &given : &z.actions[idx]; };
    size_t depth = labels_of(s);
    if (depth < 128 && z.exact_depth[depth])
        if (auto it = z.exact.find(s); it != z.exact.end()) return pick(it->second);
    if (z.wild.empty()) return nullptr;
    // `*.` + each ancestor, nearest first (5.6's order).
    size_t pos = 0;
    while (pos < s.size() && s[pos] != 0) {
        pos += 1 + static_cast<uint8_t>(s[pos]);
        --depth;
        if (pos >= s.size()) break;
        if (depth >= 128 || !z.wild_depth[depth]) continue;
        if (auto it = z.wild.find(s.substr(pos)); it != z.wild.end()) return pick(it->second);
    }
    return nullptr;
}

bool Rpz::reload_if_changed() {
    struct stat st {};
    std::string err;
    if (::stat(path_.c_str(), &st) != 0) err = std::strerror(errno);
    Stamp now;
    if (err.empty()) {
        now.size = static_cast<long long>(st.st_size);
        now.ino = static_cast<unsigned long long>(st.st_ino);
#if defined(__APPLE__)
        now.sec = st.st_mtimespec.tv_sec;
        now.nsec = st.st_mtimespec.tv_nsec;
#else
        now.sec = st.st_mtim.tv_sec;
        now.nsec = st.st_mtim.tv_nsec;
#endif
        if (zone_ && now == stamp_) return false;
    }
    std::string text;
    if (err.empty()) {
        const dns::ldns::File f(std::fopen(path_.c_str(), "rb"));
        if (!f) {
            err = std::strerror(errno);
        } else {
            text.resize(static_cast<size_t>(st.st_size));
            const size_t got = std::fread(text.data(), 1, text.size(), f.get());
            text.resize(got);
            char more[65536];
            size_t n;
            while ((n = std::fread(more, 1, sizeof more, f.get())) > 0)
                text.append(more, n);
            if (std::ferror(f.get())) err = "read error";
        }
    }
    if (!err.empty()) {
        if (!zone_) throw RpzError("failed to parse \"" + path_ + "\": " + err);
        if (!(stamp_.size == -2)) // say it once per failure streak
            warn_("RPZ " + path_ +
                  ": cannot re-read the file (keeping the rules loaded before): " + err);
        stamp_.size = -2;
        return false;
    }
    if (zone_) KR_LOG(info, "policy", "RPZ reloading: %s", path_.c_str());
    auto z = std::make_shared<Zone>();
    z->actions.resize(kFirstData);
    z->actions[kNodata].kind = ActionKind::answer;
    auto nodata = std::make_shared<AnswerData>();
    nodata->nodata = true;
    z->actions[kNodata].answer = std::move(nodata);
    z->actions[kPass].kind = ActionKind::pass;
    z->actions[kDrop].kind = ActionKind::drop;
    z->actions[kTc].kind = ActionKind::tc;
    {
        Loader ld(path_, warn_, *z);
        ld.run(text);
        z->actions.reserve(kFirstData + ld.data_.size());
        for (auto& [key, sets] : ld.data_) {
            Action a;
            a.kind = ActionKind::answer;
            auto d = std::make_shared<AnswerData>();
            d->nodata = true;
            d->sets = std::move(sets);
            a.answer = std::move(d);
            const auto idx = static_cast<uint32_t>(z->actions.size());
            z->actions.push_back(std::move(a));
            const bool wildcard = key.size() >= 3 && key[0] == 1 && key[1] == '*';
            if (wildcard)
                z->wild.insert_or_assign(key.substr(2), idx);
            else
                z->exact.insert_or_assign(key, idx);
        }
    }
    z->names = z->exact.size() + z->wild.size();
    for (const auto& [key, idx] : z->exact)
        z->exact_depth.set(std::min<size_t>(labels_of(key), 127));
    for (const auto& [key, idx] : z->wild)
        z->wild_depth.set(std::min<size_t>(labels_of(key), 127));
    zone_ = std::move(z);
    stamp_ = now;
    return true;
}

} // namespace kresd::policy
