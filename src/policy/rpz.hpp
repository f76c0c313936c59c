// Response Policy Zones: policy.rpz(action, path, watch) of Knot Resolver 5.6.
//
// An RPZ is a zone file whose owner names (relative to the zone: the SOA's
// owner, else $ORIGIN) are QNAME triggers and whose records say what to do:
//
//   name CNAME .               `action` (the one given to policy.rpz)
//   name CNAME *.              NODATA (policy.ANSWER({}, true))
//   name CNAME rpz-passthru.   PASS
//   name CNAME rpz-drop.       DROP (SERVFAIL + EDE 18, as policy.DROP)
//   name CNAME rpz-tcp-only.   TC
//   name A 192.0.2.1 (any other type but those below)
//                              local data: those records for their type,
//                              NODATA for the others (policy.ANSWER(.., true))
//
// `*.name` triggers for every name below `name` (not `name` itself). An
// exact trigger wins over wildcards, a longer wildcard over a shorter one.
// Local data beats a CNAME action for the same name. Other CNAME targets,
// DNAME, DNSKEY, DS, RRSIG, NSEC, NSEC3, a second SOA and NS below the apex
// are ignored with a warning; so is any line that cannot be read (5.6 stops
// reading the file at the first such line; we skip just that record).
// Warnings read "RPZ PATH:LINE: why" (log group policy).
//
// Lifetime: a policy Rule holds the Rpz; lookup() returns pointers into the
// rules loaded last, valid until the next reload_if_changed() that reloads
// (the daemon calls it from its event loop, between queries).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "policy/policy.hpp"

namespace kresd::policy {

struct RpzError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Rpz {
  public:
    // Receives each warning ("RPZ PATH:LINE: why"); the default logs it.
    using Warn = std::function<void(const std::string&)>;

    // Reads `path`. Throws RpzError `failed to parse "PATH": why` when the
    // file cannot be opened or read; malformed records only warn.
    explicit Rpz(std::string path, Warn warn = {});
    ~Rpz();
    Rpz(const Rpz&) = delete;
    Rpz& operator=(const Rpz&) = delete;

    // The action for a lower-cased wire query name: `given` for `CNAME .`,
    // the zone's own action otherwise; nullptr when no trigger matches.
    // At most a hash lookup for the name, then one per label for the
    // wildcards, skipped for label counts no trigger has.
    const Action* lookup(std::span<const uint8_t> qname_lower, const Action& given) const;

    // Re-reads the file when its modification time, size or inode changed
    // since the last read. True when new rules were loaded; on an error the
    // rules stay as they were (a warning says why) and false is returned.
    bool reload_if_changed();

    const std::string& path() const { return path_; }
    size_t size() const; // trigger names loaded

    struct Zone; // rpz.cpp

  private:
    std::string path_;
    Warn warn_;
    std::shared_ptr<const Zone> zone_;
    struct Stamp {
        long long sec = 0, nsec = 0, size = -1;
        unsigned long long ino = 0;
        bool operator==(const Stamp&) const = default;
    } stamp_;
};

} // namespace kresd::policy
