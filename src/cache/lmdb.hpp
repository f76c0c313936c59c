// RAII over LMDB's handles (private to src/cache): one type per handle.
//
//  * Env owns an MDB_env and the handle of its unnamed database. A process
//    must not open one environment twice (closing either copy would drop
//    the other's POSIX locks), so Envs are shared through Store's registry.
//    After fork() the child must not use or close the parent's Env: the
//    destructor does nothing in a process other than the one that opened it.
//  * Txn aborts unless committed. A read-only Txn can be reset (keeps its
//    reader slot, pins no pages) and renewed for the next read. In a
//    fork()ed child an inherited Txn is forgotten, not aborted: aborting
//    would free the parent's reader slot in the shared lock file.
//  * Cursor closes itself. Close it (or let it go out of scope) before its
//    Txn commits or aborts: LMDB frees a write transaction's cursors itself.
//
// Map size across processes: LMDB persists the largest map size any writer
// used in the meta page. Another process that grew the map makes our
// mdb_txn_begin()/renew() fail with MDB_MAP_RESIZED once the data outgrows
// our mapping; Txn handles that by adopting the persisted size
// (mdb_env_set_mapsize(env, 0)) and trying again.
#pragma once

#include <lmdb.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

namespace kresd::cache::lmdb {

std::string error_text(int rc);

inline MDB_val to_val(std::span<const uint8_t> s) {
    return MDB_val{s.size(), const_cast<uint8_t*>(s.data())};
}
inline std::span<const uint8_t> to_span(const MDB_val& v) {
    return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

// LMDB's default key order (memcmp() over the shorter length, then the
// shorter key first), compared 8 bytes a step without a call to memcmp():
// a lookup compares some 14 keys on its way down the tree. The order is
// the default one exactly, so the database stays what LMDB's own tools
// (mdb_dump, mdb_stat) and a process without it expect.
int compare_keys(const MDB_val* a, const MDB_val* b);

class Env {
  public:
    // Opens <dir>/data.mdb and <dir>/lock.mdb, creating the directory and
    // the files when missing (files mode 0660, minus the umask), with
    // MDB_NOTLS, MDB_WRITEMAP (writes go into the shared map, no pwrite()
    // per commit, which took a tenth of the CPU time of a cache miss;
    // the file is sized to the map, sparse) and MDB_NOSYNC (commits are not
    // fsync'ed, as Knot Resolver's MDB_WRITEMAP|MDB_MAPASYNC: a killed
    // process loses nothing committed, a power cut may lose the last
    // commits; sync() and the destructor flush).
    // A new environment gets `map_size` (page-rounded, at least 1 MiB); an
    // existing one keeps its map when that is larger and grows to
    // `map_size` otherwise. Stale reader slots
    // of dead processes are cleared. Throws CacheError naming `dir`.
    Env(const std::string& dir, uint64_t map_size);
    ~Env();
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    MDB_env* get() const { return env_; }
    MDB_dbi dbi() const { return dbi_; }
    // False in a fork()ed child: the handle is the parent's.
    bool owned() const;
    const std::string& dir() const { return dir_; }

    uint64_t map_size() const; // the current mapping, bytes
    uint64_t page_size() const;
    // The id of the last committed write transaction (any process's).
    uint64_t last_txnid() const;

    // mdb_env_set_mapsize(env, 0): adopt the map size persisted by other
    // processes (never smaller than the data). No write Txn of this Env may
    // be open; reset read Txns are fine. Returns an LMDB code.
    int adopt_map_size();
    // Grows the map to at least `bytes` (page-rounded). Same precondition.
    int grow_map(uint64_t bytes);
    // mdb_reader_check(): frees reader slots of dead processes.
    int reader_check();
    void sync();

  private:
    MDB_env* env_ = nullptr;
    MDB_dbi dbi_ = 0;
    pid_t owner_ = 0;
    std::string dir_;
};

class Txn {
  public:
    Txn() = default;
    ~Txn() { abort(); }
    Txn(Txn&& o) noexcept;
    Txn& operator=(Txn&& o) noexcept;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;

    // Begins a transaction. Retries after MDB_MAP_RESIZED (adopting the
    // map size) and MDB_READERS_FULL (clearing stale readers).
    int begin(Env& env, bool read_only);
    // Commits; afterwards the Txn is empty whatever the result.
    int commit();
    void abort();
    // Read-only transactions only.
    void reset();
    int renew();

    MDB_txn* get() const { return txn_; }
    bool live() const { return txn_ != nullptr && !reset_; }
    bool is_reset() const { return txn_ != nullptr && reset_; }

  private:
    MDB_txn* txn_ = nullptr;
    Env* env_ = nullptr;
    bool reset_ = false;
};

class Cursor {
  public:
    Cursor() = default;
    ~Cursor() { close(); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    int open(MDB_txn* txn, MDB_dbi dbi);
    int get(MDB_val& key, MDB_val& val, MDB_cursor_op op) {
        return mdb_cursor_get(c_, &key, &val, op);
    }
    int put(MDB_val& key, MDB_val& val, unsigned flags) {
        return mdb_cursor_put(c_, &key, &val, flags);
    }
    int del() { return mdb_cursor_del(c_, 0); }
    void close();

  private:
    MDB_cursor* c_ = nullptr;
};

} // namespace kresd::cache::lmdb
