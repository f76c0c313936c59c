// predict (Knot Resolver 5.6's module, built in): prefetching.
//
// Two parts, as in 5.6:
//  * Expiring answers: a client's question answered from the cache with an
//    RRset or negative answer about to expire (resolve::is_expiring: less
//    than 5 s + 1% of its TTL left) is asked upstream again at once, in the
//    background (Services::refresh: no cache read for the question, the
//    answer is cached), so that the next clients still hit the cache. One
//    refresh per name and type at a time, at most one a second.
//  * Prediction: time is cut into windows of `window` minutes; `period`
//    windows make one cycle (default 15 minutes x 24 = 6 hours). Questions
//    that needed upstream resolution are sampled (1 in 10) into a table of
//    frequent names, which is read into the current window's log every
//    window/5 to 2*window/5 minutes. When a new window begins, its names
//    are queued: those logged in the same window one period ago, and those
//    logged in both window E-i and window E-2i (i = 1 .. period/2 - 1);
//    the queue is resolved (refreshed) a fifth at a time, one batch every
//    3*window seconds.
//
// Predictor below is that bookkeeping without timers or I/O (unit-tested);
// the module (predict.cpp) drives it. Every table is bounded (kMax*).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dns/wire.hpp"

namespace kresd::modules {

// Knot Resolver's predict.epoch(): the window the local time `wall_s`
// falls in, 1 .. period; 0 when period <= 1 (no prediction).
int predict_epoch(uint64_t wall_s, double window_min, int period);

class Predictor {
  public:
    static constexpr size_t kMaxFrequent = 5000;  // as Knot Resolver's stats LRU
    static constexpr size_t kMaxPerWindow = 1000; // names logged per window
    static constexpr size_t kMaxQueue = 5000;     // names waiting to be resolved

    // A question: 2 bytes of type (big-endian), then the lower-cased wire name.
    static std::string key(const dns::Name& name, uint16_t type);
    static bool parse(std::string_view key, dns::Name& name, uint16_t& type);

    // Forgets everything (config(), unload) and sets the cycle.
    void reset(int period);
    // A sampled question that needed resolution (stats.frequent()).
    void note_frequent(std::string key);
    // predict.process(): at a new epoch, queues its predictions and starts
    // a fresh log for it; then moves the frequent table into the log.
    // Returns the number of names queued; `learned` gets those sampled.
    size_t process(int epoch_now, size_t* learned = nullptr);
    // Takes up to `max` queued names (all with 0).
    std::vector<std::string> take(size_t max);

    size_t queue_len() const { return queue_.size(); }
    size_t frequent_size() const { return frequent_.size(); }
    int current_epoch() const { return current_epoch_; }
    void set_current_epoch(int e) { current_epoch_ = e; }

  private:
    using Set = std::unordered_set<std::string>;
    size_t enqueue(const std::string& k);
    size_t generate(int epoch_now);
    Set* log_at(int epoch); // 1-based; null when out of range

    int period_ = 0;
    int current_epoch_ = 0;
    std::vector<Set> log_; // index epoch - 1
    std::unordered_map<std::string, unsigned> frequent_;
    std::vector<std::string> queue_;
    Set queued_;
};

} // namespace kresd::modules
