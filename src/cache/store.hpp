// The LMDB store behind Cache (private to src/cache): transactions, making
// room when the map is full, range deletes.
//
// One Store per (cache directory, process). acquire() hands out the same
// Store to every Cache opened on one directory in one process, because
// LMDB forbids opening one environment twice in a process. The registry
// behind it is the one piece of process-wide state in the cache; entries
// are keyed by the directory's device and inode and by the PID, so a
// fork()ed child opening the directory gets its own environment.
//
// Single-threaded use only. Calls do not nest: a read or write callback
// must not call back into the Store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "cache/front.hpp"
#include "cache/lmdb.hpp"

namespace kresd::cache {

class Store {
  public:
    // Throws CacheError. The map grows to `map_size` if it is smaller.
    static std::shared_ptr<Store> acquire(const std::string& dir, uint64_t map_size);

    Store(const std::string& dir, uint64_t map_size); // use acquire()
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    lmdb::Env& env() { return env_; }
    MDB_dbi dbi() const { return env_.dbi(); }

    // Runs fn(MDB_txn*) -> int on a read snapshot (one reader slot kept per
    // Store, reset between reads unless reads are held). Returns fn's result
    // or the begin error.
    template <class F> int read(F&& fn) {
        int rc = begin_read();
        if (rc != MDB_SUCCESS) return rc;
        rc = fn(reader_.get());
        if (!hold_) reader_.reset();
        return rc;
    }

    // A cursor on the snapshot of the read() callback that calls it, or
    // null when LMDB cannot make one: the one cursor is kept and renewed
    // with each snapshot, which saves opening and freeing one per lookup.
    MDB_cursor* read_cursor();

    // While held, reads share one snapshot instead of renewing and
    // resetting it around each (a batch of queries from one wake-up costs
    // one renew). Any write ends the snapshot first, so the next read sees
    // it; so does hold_reads(false), which the holder must call before
    // going back to the event loop: a kept snapshot would miss other
    // processes' writes and pin pages they free.
    void hold_reads(bool on) {
        hold_ = on;
        covered_checked_ = false;
        if (!on) reader_.reset();
    }

    // The process's front table (front.hpp), or null when the generations
    // file could not be opened. Checks first (once per held batch, else
    // every call) that no writer unaware of the file has committed; if one
    // has, the table is emptied.
    FrontTable* front() {
        if (!gens_.ok()) return nullptr;
        if (!covered_checked_) check_covered();
        return &front_;
    }
    // The same table without the check, for prefetching only (a table
    // about to be emptied is harmless to load).
    const FrontTable* front_unchecked() const { return gens_.ok() ? &front_ : nullptr; }
    const Generations& generations() const { return gens_; }

    // Every write transaction calls changed() for each key it puts or
    // deletes, or changed_all() when it empties the database, before it
    // commits (front.hpp).
    void changed(MDB_txn* txn, std::span<const uint8_t> key) {
        if (gens_.ok()) gens_.mark(key_hash(key), mdb_txn_id(txn));
    }
    void changed_all(MDB_txn* txn) {
        if (gens_.ok()) gens_.mark_all(mdb_txn_id(txn));
    }

    // Runs fn(MDB_txn*) -> int in a write transaction and commits when it
    // returns MDB_SUCCESS. On MDB_MAP_FULL (from fn or the commit) it makes
    // room (make_room) and runs fn again, at most kMaxRetries times; fn must
    // therefore decide from what it reads in the transaction. `evicted`
    // (optional) gets the number of entries evicted on the way.
    //
    // With `adds` > 0 (the bytes the write adds), the write first checks
    // the headroom: when the pages holding data plus those `adds` bytes
    // leave less than a reserve of the map free (1/16, at least 32 pages,
    // at most a quarter of a small map), it makes room before writing. LMDB
    // cannot even delete once every page is taken (a delete copies pages
    // too), so eviction must start before the map is truly full. The last
    // attempt skips the check.
    static constexpr int kMaxRetries = 3;
    template <class F>
    int write(uint64_t now, F&& fn, uint64_t* evicted = nullptr, size_t adds = 0) {
        for (int attempt = 0;; ++attempt) {
            lmdb::Txn txn;
            int rc = begin_write(txn);
            if (rc == MDB_SUCCESS && adds > 0 && attempt < kMaxRetries &&
                !has_headroom(txn.get(), adds))
                rc = MDB_MAP_FULL;
            if (rc == MDB_SUCCESS) rc = fn(txn.get());
            if (rc == MDB_SUCCESS) rc = commit(txn);
            txn.abort();
            if (rc != MDB_MAP_FULL || attempt == kMaxRetries) return rc;
            const uint64_t n = make_room(now);
            if (evicted != nullptr) *evicted += n;
        }
    }

    // MDB_MAP_FULL: first adopt a larger map another process may have set;
    // if there is none, evict(now). Then two small commits, so that pages
    // freed by the last eviction commit become reusable (LMDB reuses pages
    // freed by transactions older than the previous one). Returns evictions.
    uint64_t make_room(uint64_t now);

    // Eviction, never of everything: deletes expired and corrupt entries;
    // when those are fewer than a quarter of all entries, also the live
    // entries closest to expiry until about a quarter is gone (the cut is
    // estimated from a reservoir sample of expiry times taken in a read
    // scan). Deletes in small committed chunks. Returns the count deleted.
    uint64_t evict(uint64_t now);

    using Pred = std::function<bool(std::span<const uint8_t> key, std::span<const uint8_t> val)>;
    // Deletes entries whose key starts with `prefix` (empty: all) and for
    // which pred holds (null: all), in committed chunks; never the format
    // marker. On MDB_MAP_FULL the chunk is halved and tried again. Returns
    // how many went.
    uint64_t delete_where(std::span<const uint8_t> prefix, const Pred& pred);

    // Empties the database (mdb_drop) and writes the format marker back in
    // the same transaction. Returns the number of entries removed.
    uint64_t drop_all();

    // Entries, the format marker not counted.
    uint64_t entries();
    // Bytes in pages holding the database (branch + leaf + overflow).
    uint64_t used_bytes();

    // Whether `adds` more bytes leave more free pages than the reserve
    // (see write()).
    bool has_headroom(MDB_txn* txn, size_t adds);

  private:
    int begin_read();
    // Every write transaction begins here: it ends a held read snapshot
    // first (see hold_reads()), so the reads after the write see it.
    int begin_write(lmdb::Txn& txn) {
        reader_.reset();
        return txn.begin(env_, false);
    }
    // Commits and publishes the id (Generations::committed()).
    int commit(lmdb::Txn& txn);
    void check_covered();
    // Writes the format marker; a database without it (or with another
    // version) is from another format and is emptied first.
    void ensure_format(uint64_t now);
    // Rewrites the format marker: a small commit (persists our map size;
    // moves LMDB's page-reuse horizon on).
    void touch();

    lmdb::Env env_;
    lmdb::Txn reader_;
    MDB_cursor* read_cursor_ = nullptr;
    bool read_cursor_bound_ = false; // to reader_'s current snapshot
    bool hold_ = false;
    Generations gens_;
    FrontTable front_;
    bool covered_checked_ = false;
};

} // namespace kresd::cache
