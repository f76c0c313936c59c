// RFC 5011 key states and Knot Resolver 5's key file (see rfc5011.hpp).
// Records are read with ldns's zone-file parser, as anchors.cpp does;
// signatures are checked with verify_rrset()/verify_dnskeys().
#include "dnssec/rfc5011.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/ldns.hpp"
#include "dnssec/dnssec.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec {

namespace {

constexpr uint16_t kFlagZone = 0x0100, kFlagSep = 0x0001, kFlagRevoke = 0x0080;
constexpr uint64_t kHour = 3600, kDay = 24 * kHour;
// Knot Resolver's ad-hoc rule: a Missing key goes after 4 hold-downs.
constexpr uint64_t kMissingFactor = 4;

bool trusted_state(KeyState s) {
    return s == KeyState::valid || s == KeyState::missing;
}

bool same_record(const dns::Record& a, const dns::Record& b) {
    return detail::name_equal(a.owner, b.owner) && a.type == b.type && a.klass == b.klass &&
           a.ttl == b.ttl && a.rdata == b.rdata;
}

std::vector<uint8_t> without_revoke(std::span<const uint8_t> rdata) {
    std::vector<uint8_t> out(rdata.begin(), rdata.end());
    if (out.size() >= 2) out[1] &= static_cast<uint8_t>(~kFlagRevoke);
    return out;
}

// Is the DNSKEY `seen` the key `held` names? DNSKEYs: same protocol,
// algorithm and public key, whatever the flags (a revoked key is still the
// key). A DS: its digest matches the key without the REVOKE bit.
bool same_key(const dns::Name& zone, const dns::Record& held, const dns::Record& seen) {
    if (held.type == dns::type::DNSKEY)
        return held.rdata.size() >= 4 && seen.rdata.size() >= 4 &&
               std::equal(held.rdata.begin() + 2, held.rdata.end(), seen.rdata.begin() + 2,
                          seen.rdata.end());
    if (held.type == dns::type::DS) return ds_matches(zone, held.rdata, without_revoke(seen.rdata));
    return false;
}

uint16_t tag_of(const dns::Record& rr) {
    if (rr.type == dns::type::DS && rr.rdata.size() >= 2)
        return static_cast<uint16_t>(rr.rdata[0] << 8 | rr.rdata[1]);
    return key_tag(rr.rdata);
}

std::string key_name(const dns::Record& rr) {
    return std::string("key ") + std::to_string(tag_of(rr)) +
           (rr.type == dns::type::DS ? " (DS)" : "");
}

int64_t serial_diff(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b);
}

// The zone's DNSKEY records and the RRSIGs covering them, from `answer`.
RRsetRef dnskey_set(const dns::Name& zone, std::span<const dns::Record> answer) {
    RRsetRef set;
    for (const dns::Record& r : answer) {
        if (r.klass != dns::klass::IN || !detail::name_equal(r.owner, zone)) continue;
        if (r.type == dns::type::DNSKEY) {
            set.rrs.push_back(&r);
        } else if (r.type == dns::type::RRSIG) {
            const auto info = parse_rrsig(r.rdata);
            if (info && info->type_covered == dns::type::DNSKEY) set.sigs.push_back(&r);
        }
    }
    return set;
}

// ---- text of records ----

// ---- reading ----



// Knot Resolver's "^%s*(%a+):(%d*)" over a record's comment: the state
// word and the timer. nullopt when the comment names no state.
std::optional<std::pair<KeyState, uint64_t>> state_comment(std::string_view comment) {
    size_t i = 0;
    while (i < comment.size() && (comment[i] == ' ' || comment[i] == '\t'))
        ++i;
    size_t w = i;
    while (w < comment.size() && std::isalpha(static_cast<unsigned char>(comment[w])))
        ++w;
    if (w == i || w >= comment.size() || comment[w] != ':') return std::nullopt;
    const auto state = key_state_from_text(comment.substr(i, w - i));
    if (!state) return std::nullopt;
    uint64_t timer = 0;
    for (size_t d = w + 1;
         d < comment.size() && std::isdigit(static_cast<unsigned char>(comment[d])); ++d) {
        if (timer > (UINT64_MAX - 9) / 10) return std::nullopt;
        timer = timer * 10 + static_cast<uint64_t>(comment[d] - '0');
    }
    return std::make_pair(*state, timer);
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            if (start < text.size()) lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}


// ---- writing ----

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

std::string errno_text(const std::string& path, const char* what) {
    return path + ": " + what + ": " + std::strerror(errno);
}

} // namespace

// ---- states ----

const char* to_text(KeyState s) {
    switch (s) {
    case KeyState::start:
        return "Start";
    case KeyState::add_pend:
        return "AddPend";
    case KeyState::valid:
        return "Valid";
    case KeyState::missing:
        return "Missing";
    case KeyState::revoked:
        return "Revoked";
    case KeyState::removed:
        return "Removed";
    }
    return "Start";
}

std::optional<KeyState> key_state_from_text(std::string_view word) {
    for (KeyState s : {KeyState::start, KeyState::add_pend, KeyState::valid, KeyState::missing,
                       KeyState::revoked, KeyState::removed})
        if (word == to_text(s)) return s;
    return std::nullopt;
}

bool ManagedKey::operator==(const ManagedKey& o) const {
    return state == o.state && timer == o.timer && same_record(rr, o.rr);
}

KeySet::KeySet(const dns::Name& zone) : zone_(detail::name_lowered(zone)) {}

bool KeySet::operator==(const KeySet& o) const {
    return detail::name_equal(zone_, o.zone_) && keys_ == o.keys_;
}

std::vector<dns::Record> KeySet::trusted_keys() const {
    std::vector<dns::Record> out;
    for (const ManagedKey& k : keys_)
        if (trusted_state(k.state)) out.push_back(k.rr);
    return out;
}

// ---- RFC 5011 4: one active refresh ----

Observation KeySet::observe(std::span<const dns::Record> answer, uint64_t now,
                            const Rfc5011Params& params) {
    Observation o;
    const RRsetRef set = dnskey_set(zone_, answer);
    if (set.rrs.empty()) {
        o.why = "no DNSKEY record of the zone in the answer";
        return o;
    }
    // RFC 5011 2.2: only a DNSKEY RRset signed by a key trusted now counts.
    const std::vector<dns::Record> trusted = trusted_keys();
    if (trusted.empty()) {
        o.why = "no trusted key left to check the DNSKEY RRset with";
        return o;
    }
    Budget budget{64};
    const Judgement j = verify_dnskeys(zone_, set, trusted, trusted, now, budget);
    if (!j.ok()) {
        o.why = "the DNSKEY RRset does not verify with a trusted key: " + j.why;
        return o;
    }
    o.ok = true;

    // The TTL the keys are kept with: the RRSIG's original TTL (stable,
    // unlike an aged TTL from a cache), else the records'.
    uint32_t ttl = set.rrs.front()->ttl;
    for (const dns::Record* sig : set.sigs)
        if (const auto info = parse_rrsig(sig->rdata)) {
            ttl = info->original_ttl;
            break;
        }

    // The zone keys published now; a revoked one only when it signs the
    // RRset itself (RFC 5011 2.1). A key we hold is present whatever its
    // SEP bit (an anchor may be a key without it); only SEP keys are new
    // candidates (as in Knot Resolver).
    struct Seen {
        const dns::Record* rr;
        bool revoked;
        bool sep;
    };
    std::vector<Seen> seen;
    for (const dns::Record* rr : set.rrs) {
        if (rr->rdata.size() < 5 || rr->rdata[2] != 3) continue;
        const uint16_t flags = dnskey_flags(rr->rdata);
        if ((flags & kFlagZone) == 0) continue;
        const bool revoked = (flags & kFlagRevoke) != 0;
        if (revoked) {
            Budget one{4};
            const Verified v = verify_rrset(set, zone_, std::span(rr, 1), now, one);
            if (!v.j.ok()) {
                o.events.push_back(key_name(*rr) + ": REVOKE bit without a valid self-signature, "
                                                   "ignored");
                continue;
            }
        }
        seen.push_back({rr, revoked, (flags & kFlagSep) != 0});
    }

    const std::vector<ManagedKey> before = keys_;
    const std::vector<dns::Record> trusted_before = trusted;
    auto event = [&](const dns::Record& rr, KeyState from, const std::string& to) {
        o.events.push_back(key_name(rr) + ": " + dnssec::to_text(from) + " -> " + to);
    };
    std::vector<bool> drop(keys_.size(), false);
    std::vector<bool> missing_expired(keys_.size(), false);
    std::vector<bool> matched(keys_.size(), false);

    // Keys we hold that the zone publishes (again).
    for (const Seen& s : seen) {
        size_t i = 0;
        while (i < keys_.size() && !same_key(zone_, keys_[i].rr, *s.rr))
            ++i;
        if (i == keys_.size()) {
            // NewKey: Start -> AddPend. A key first seen revoked is never added.
            if (s.revoked || !s.sep) continue;
            ManagedKey k;
            k.rr = *s.rr;
            k.rr.owner = zone_;
            k.rr.ttl = ttl;
            k.state = KeyState::add_pend;
            k.timer = now + params.hold_down_s;
            o.events.push_back(key_name(k.rr) + ": new, AddPend until " + std::to_string(k.timer));
            keys_.push_back(std::move(k));
            drop.push_back(false);
            missing_expired.push_back(false);
            matched.push_back(true);
            continue;
        }
        matched[i] = true;
        ManagedKey& k = keys_[i];
        const KeyState from = k.state;
        if (k.rr.type == dns::type::DS && !s.revoked) {
            // The DNSKEY supersedes the DS that named it (state kept).
            k.rr = *s.rr;
            k.rr.owner = zone_;
        }
        if (k.rr.type == dns::type::DNSKEY) k.rr.ttl = ttl;
        if (k.state == KeyState::missing) { // KeyPres
            k.state = KeyState::valid;
            k.timer = 0;
        }
        if (s.revoked) {
            if (trusted_state(k.state)) { // RevBit
                k.state = KeyState::revoked;
                k.timer = now + params.hold_down_s;
            } else if (k.state == KeyState::add_pend) {
                drop[i] = true; // a revoked key is never to be trusted
                event(k.rr, from, "forgotten (revoked while pending)");
                continue;
            }
        }
        if (k.state == KeyState::add_pend) { // AddTime
            if (k.timer == 0)
                k.timer = now + params.hold_down_s;
            else if (now >= k.timer) {
                k.state = KeyState::valid;
                k.timer = 0;
            }
        }
        if (k.state != from) event(k.rr, from, dnssec::to_text(k.state));
    }

    // Keys we hold that the zone no longer publishes.
    for (size_t i = 0; i < keys_.size(); ++i) {
        if (matched[i]) continue;
        ManagedKey& k = keys_[i];
        switch (k.state) {
        case KeyState::valid: // KeyRem
            k.state = KeyState::missing;
            k.timer = now + kMissingFactor * params.hold_down_s;
            event(k.rr, KeyState::valid, "Missing");
            break;
        case KeyState::missing:
            if (k.timer == 0)
                k.timer = now + kMissingFactor * params.hold_down_s;
            else if (now >= k.timer)
                missing_expired[i] = true;
            break;
        case KeyState::add_pend: // KeyRem: back to Start
        case KeyState::start:
            drop[i] = true;
            event(k.rr, k.state, "forgotten (no longer published)");
            break;
        case KeyState::revoked:
        case KeyState::removed:
            break;
        }
    }

    // RemTime, seen or not.
    for (size_t i = 0; i < keys_.size(); ++i) {
        ManagedKey& k = keys_[i];
        if (drop[i] || k.state != KeyState::revoked) continue;
        if (k.timer == 0)
            k.timer = now + params.hold_down_s;
        else if (now >= k.timer) {
            k.state = KeyState::removed;
            k.timer = 0;
            event(k.rr, KeyState::revoked, "Removed");
        }
    }

    // A key missing for too long goes, unless no other key would be trusted.
    auto trusted_left = [&](size_t except) {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (i != except && !drop[i] && trusted_state(keys_[i].state)) return true;
        return false;
    };
    for (size_t i = 0; i < keys_.size(); ++i) {
        if (!missing_expired[i]) continue;
        if (trusted_left(i)) {
            drop[i] = true;
            event(keys_[i].rr, KeyState::missing, "forgotten (missing for too long)");
        } else {
            o.events.push_back(key_name(keys_[i].rr) +
                               ": missing for too long, kept: it is the last trusted key");
        }
    }

    // Removed keys beyond keep_removed are forgotten.
    unsigned removed_kept = 0;
    std::vector<ManagedKey> kept;
    for (size_t i = 0; i < keys_.size(); ++i) {
        if (drop[i]) continue;
        if (keys_[i].state == KeyState::removed && removed_kept++ >= params.keep_removed) continue;
        kept.push_back(std::move(keys_[i]));
    }
    keys_ = std::move(kept);

    o.changed = keys_ != before;
    const std::vector<dns::Record> trusted_after = trusted_keys();
    o.trust_changed = trusted_after.size() != trusted_before.size() ||
                      !std::equal(trusted_after.begin(), trusted_after.end(),
                                  trusted_before.begin(), same_record);
    if (trusted_after.empty()) o.events.push_back("no key of the zone is trusted any more");
    return o;
}

// ---- RFC 5011 2.3 ----

uint64_t KeySet::refresh_interval_s(std::span<const dns::Record> answer, uint64_t now) const {
    uint64_t t = 15 * kDay;
    bool any_sig = false;
    const RRsetRef set = dnskey_set(zone_, answer);
    for (const dns::Record* sig : set.sigs) {
        const auto info = parse_rrsig(sig->rdata);
        if (!info) continue;
        any_sig = true;
        t = std::min<uint64_t>(t, info->original_ttl / 2);
        const int64_t left = serial_diff(info->expiration, static_cast<uint32_t>(now));
        t = std::min<uint64_t>(t, left > 0 ? static_cast<uint64_t>(left) / 2 : 0);
    }
    if (!any_sig) {
        for (const dns::Record* rr : set.rrs)
            t = std::min<uint64_t>(t, rr->ttl / 2);
        if (set.rrs.empty())
            for (const ManagedKey& k : keys_)
                t = std::min<uint64_t>(t, k.rr.ttl / 2);
    }
    return std::max(kHour, t);
}

uint64_t KeySet::retry_interval_s() const {
    uint64_t t = kDay;
    for (const ManagedKey& k : keys_)
        t = std::min<uint64_t>(t, k.rr.ttl / 10);
    return std::max(kHour, t);
}

// ---- the key file ----

std::string KeySet::to_text() const {
    std::string out;
    for (const ManagedKey& k : keys_) {
        if (!trusted_state(k.state))
            out += "; "; // Knot Resolver: invisible to readers without RFC 5011
        out += anchor_text(k.rr);
        out += " ; ";
        out += dnssec::to_text(k.state);
        out += ':';
        if (k.timer != 0) out += std::to_string(k.timer);
        out += " ; KeyTag:" + std::to_string(tag_of(k.rr)) + "\n";
    }
    return out;
}

std::optional<std::string> KeySet::parse(std::string_view text, const std::string& path,
                                         KeySet& out) {
    const std::vector<std::string_view> lines = split_lines(text);
    std::vector<std::pair<size_t, ManagedKey>> found; // (line, key)
    auto at = [&](size_t line) { return path + ":" + std::to_string(line) + ": "; };

    dns::ldns::ParserNames names; // $ORIGIN and the previous owner, as ldns keeps them
    names.origin = ldns_dname_new_frm_str(".");
    uint32_t default_ttl = 3600;
    for (size_t i = 0; i < lines.size(); ++i) {
        const size_t first = i + 1;
        std::string_view l = lines[i];
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        // A key commented out with "; " (not trusted): only when it parses
        // and names a state; any other comment is just a comment.
        if (l.substr(0, 2) == "; ") {
            const std::string_view body = l.substr(2);
            const size_t semi = body.find(';');
            const auto st_timer = semi == std::string_view::npos
                                      ? std::nullopt
                                      : state_comment(body.substr(semi + 1));
            if (!st_timer) continue;
            const auto rr = dns::ldns::rr_from_text(std::string(body.substr(0, semi)));
            if (!rr) continue;
            auto rec = detail::record_from_ldns(rr.get());
            if (!rec || detail::check_key_record(*rec) != nullptr) continue;
            ManagedKey k;
            k.rr = std::move(*rec);
            k.state = st_timer->first;
            k.timer = st_timer->second;
            found.emplace_back(first, std::move(k));
            continue;
        }
        // One record: its lines up to the balancing ")", comments cut off
        // (the first one may carry the state).
        std::string record;
        std::optional<std::string_view> comment;
        int depth = 0;
        for (;;) {
            const size_t semi = l.find(';');
            std::string_view body = l.substr(0, semi);
            if (semi != std::string_view::npos && !comment) comment = l.substr(semi + 1);
            for (char c : body) {
                if (c == '(')
                    ++depth;
                else if (c == ')')
                    --depth;
                record += (c == '(' || c == ')') ? ' ' : c;
            }
            if (depth < 0) return at(first) + "unbalanced parentheses";
            if (depth == 0) break;
            if (++i >= lines.size()) return at(first) + "unbalanced parentheses";
            record += ' ';
            l = lines[i];
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        }
        if (record.find_first_not_of(" \t") == std::string::npos) continue;
        if (record[0] == '$') {
            std::istringstream words(record);
            std::string directive, arg;
            words >> directive >> arg;
            if (directive == "$ORIGIN" && !arg.empty()) {
                ldns_rdf* o = ldns_dname_new_frm_str(arg.c_str());
                if (o == nullptr || arg.back() != '.') {
                    const dns::ldns::Rdf bad(o);
                    return at(first) + "$ORIGIN needs an absolute name";
                }
                const dns::ldns::Rdf old(names.origin);
                names.origin = o;
            } else if (directive == "$TTL" && !arg.empty()) {
                const char* end = nullptr;
                default_ttl = ldns_str2period(arg.c_str(), &end);
                if (end == nullptr || *end != '\0') return at(first) + "bad $TTL";
            } else if (directive == "$INCLUDE") {
                return at(first) + "$INCLUDE is not supported";
            } else {
                return at(first) + "unknown directive " + directive;
            }
            continue;
        }
        ldns_rr* raw = nullptr;
        const ldns_status st =
            ldns_rr_new_frm_str(&raw, record.c_str(), default_ttl, names.origin, &names.prev);
        const dns::ldns::Rr rr(raw);
        if (st != LDNS_STATUS_OK || !rr) return at(first) + ldns_get_errorstr_by_id(st);
        auto rec = detail::record_from_ldns(rr.get());
        if (!rec) return at(first) + "cannot read the record";
        if (const char* why = detail::check_key_record(*rec)) return at(first) + why;
        ManagedKey k;
        k.rr = std::move(*rec);
        k.state = KeyState::valid;
        if (comment)
            if (const auto st_timer = state_comment(*comment)) {
                k.state = st_timer->first;
                k.timer = st_timer->second;
            }
        found.emplace_back(first, std::move(k));
    }

    if (found.empty()) return at(lines.size()) + "no DS or DNSKEY records";
    KeySet ks(found.front().second.rr.owner);
    for (auto& [line, k] : found) {
        if (!detail::name_equal(k.rr.owner, ks.zone_))
            return at(line) + "do not mix " + dns::name_to_text(ks.zone_.view()) + " and " +
                   dns::name_to_text(k.rr.owner.view()) + " anchors in one file";
        k.rr.owner = ks.zone_;
        const bool dup = std::any_of(ks.keys_.begin(), ks.keys_.end(), [&](const ManagedKey& o) {
            return o.rr.type == k.rr.type && o.rr.rdata == k.rr.rdata;
        });
        if (!dup) ks.keys_.push_back(std::move(k));
    }
    out = std::move(ks);
    return std::nullopt;
}

std::optional<std::string> KeySet::read_file(const std::string& path, KeySet& out) {
    const dns::ldns::File f(std::fopen(path.c_str(), "r"));
    if (!f) return path + ":0: cannot open: " + std::strerror(errno);
    std::string text;
    char chunk[4096];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) {
        text.append(chunk, n);
        if (text.size() > (1u << 20)) return path + ":0: too large for a key file";
    }
    if (std::ferror(f.get())) return path + ":0: read error";
    return parse(text, path, out);
}

std::optional<std::string> KeySet::write_file(const std::string& path) const {
    const std::string text = to_text();
    std::string tmpl = path + ".tmp.XXXXXX";
    const Fd fd(::mkstemp(tmpl.data()));
    if (fd.fd < 0) return errno_text(path, "cannot create a temporary file beside it");
    auto fail = [&](const char* what) {
        std::string msg = errno_text(path, what);
        ::unlink(tmpl.c_str());
        return msg;
    };
    struct stat old {};
    const mode_t mode = ::stat(path.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644;
    if (::fchmod(fd.fd, mode) != 0) return fail("chmod");
    for (size_t done = 0; done < text.size();) {
        const ssize_t w = ::write(fd.fd, text.data() + done, text.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail("write");
        done += static_cast<size_t>(w);
    }
    if (::fsync(fd.fd) != 0) return fail("fsync");
    if (::rename(tmpl.c_str(), path.c_str()) != 0) return fail("rename");
    // The rename itself reaches the disk with the directory.
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path.substr(0, slash);
    const Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY));
    if (dfd.fd >= 0) ::fsync(dfd.fd);
    return std::nullopt;
}

} // namespace kresd::dnssec
