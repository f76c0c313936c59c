// RFC 5011 automated trust anchor updates in the daemon: Knot Resolver 5's
// ta_update module, for every anchor loaded with
// trust_anchors.add_file(path) (readonly false, the default).
//
// For each such zone: ask the zone's DNSKEY RRset (with DO) through the
// worker at once and then at the RFC 5011 2.3 interval (or
// trust_anchors.refresh_time); re-read the key file (another instance of
// the rundir may have moved on: the file is the shared truth); feed a
// secure answer to dnssec::KeySet::observe(); write the file when the
// state changed; and replace the zone's live anchors (the resolver's
// dnssec::TrustAnchors) with KeySet::trusted_keys() when those changed.
// A failed refresh is retried after KeySet::retry_interval_s().
//
// Owned by the daemon, single-threaded, on the worker's event loop; it must
// be destroyed before the worker. sync() (after the config and after every
// control line) starts tracking new managed files and forgets zones that
// trust_anchors.remove() or add_file(path, true) took away.
#pragma once

#include <memory>
#include <vector>

#include "dnssec/anchors.hpp"
#include "lua/engine.hpp"
#include "net/event.hpp"

namespace kresd::app {

class Worker;

class TaUpdater {
  public:
    TaUpdater(event_base* base, Worker& worker, std::shared_ptr<dnssec::TrustAnchors> anchors,
              const lua::TrustAnchorSettings& settings);
    ~TaUpdater();
    TaUpdater(const TaUpdater&) = delete;
    TaUpdater& operator=(const TaUpdater&) = delete;

    void sync();
    size_t tracked() const { return zones_.size(); }

    struct Zone; // one tracked anchor zone (ta_update.cpp)

  private:
    friend struct Zone;
    void refresh(Zone& z);
    void done(Zone& z, bool ok, const std::vector<dns::Record>& answer, const char* why);
    void schedule(Zone& z, uint64_t delay_ms);
    bool reload_file(Zone& z);
    void publish(Zone& z);

    event_base* base_;
    Worker& worker_;
    std::shared_ptr<dnssec::TrustAnchors> anchors_;
    const lua::TrustAnchorSettings& settings_;
    std::vector<std::shared_ptr<Zone>> zones_;
};

} // namespace kresd::app
