#include "cache/lmdb.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "cache/cache.hpp"

namespace kresd::cache::lmdb {

namespace {

constexpr unsigned kMaxReaders = 512;
// Below this LMDB's own overhead (meta pages, free list, pages not yet
// reusable) leaves eviction too little room to work in.
constexpr uint64_t kMinMapSize = 1024 * 1024;

uint64_t os_page() {
    const long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<uint64_t>(p) : 4096;
}

uint64_t round_map(uint64_t bytes) {
    const uint64_t page = os_page();
    if (bytes < kMinMapSize) bytes = kMinMapSize;
    return (bytes + page - 1) / page * page;
}

[[noreturn]] void fail(const std::string& dir, const char* what, int rc) {
    throw CacheError("cache: " + std::string(what) + " '" + dir + "': " + error_text(rc));
}

} // namespace

int compare_keys(const MDB_val* a, const MDB_val* b) {
    const auto* pa = static_cast<const uint8_t*>(a->mv_data);
    const auto* pb = static_cast<const uint8_t*>(b->mv_data);
    const size_t n = std::min(a->mv_size, b->mv_size);
    // Words compared as big-endian numbers: the first byte decides first.
    auto word = [](const uint8_t* p) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
        return w;
    };
    if (n >= 8) {
        // Whole words, then the last 8 bytes of the common length: the
        // part they share with the word before is equal, so overlapping it
        // changes nothing.
        for (size_t i = 0; i + 8 < n; i += 8) {
            const uint64_t x = word(pa + i), y = word(pb + i);
            if (x != y) return x < y ? -1 : 1;
        }
        const uint64_t x = word(pa + n - 8), y = word(pb + n - 8);
        if (x != y) return x < y ? -1 : 1;
    } else {
        for (size_t i = 0; i < n; ++i) {
            if (pa[i] != pb[i]) return pa[i] < pb[i] ? -1 : 1;
        }
    }
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size ? 1 : 0;
}

std::string error_text(int rc) {
    return mdb_strerror(rc);
}

Env::Env(const std::string& dir, uint64_t map_size) : owner_(getpid()), dir_(dir) {
    if (dir.empty()) throw CacheError("cache: empty directory name");
    if (mkdir(dir.c_str(), 0770) != 0 && errno != EEXIST) fail(dir, "cannot create", errno);
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) fail(dir, "cannot open", errno);
    if (!S_ISDIR(st.st_mode)) fail(dir, "cannot open", ENOTDIR);
    const std::string data = dir + "/data.mdb";
    const bool existed = stat(data.c_str(), &st) == 0 && st.st_size > 0;

    int rc = mdb_env_create(&env_);
    if (rc != MDB_SUCCESS) fail(dir, "cannot create LMDB environment for", rc);
    rc = mdb_env_set_maxreaders(env_, kMaxReaders);
    // A new environment gets the requested size; an existing one opens with
    // the size persisted in its meta page (set 0 = adopt), compared below.
    if (rc == MDB_SUCCESS && !existed) rc = mdb_env_set_mapsize(env_, round_map(map_size));
    if (rc == MDB_SUCCESS) rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC | MDB_WRITEMAP, 0660);
    if (rc != MDB_SUCCESS) {
        mdb_env_close(env_);
        env_ = nullptr;
        fail(dir, "cannot open LMDB environment in", rc);
    }
    reader_check();
    if (map_size > this->map_size()) {
        rc = grow_map(map_size);
        if (rc != MDB_SUCCESS) {
            mdb_env_close(env_);
            env_ = nullptr;
            fail(dir, "cannot set the map size of", rc);
        }
    }
    Txn txn;
    rc = txn.begin(*this, false);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi_);
    if (rc == MDB_SUCCESS) rc = mdb_set_compare(txn.get(), dbi_, compare_keys);
    if (rc == MDB_SUCCESS) rc = txn.commit();
    if (rc != MDB_SUCCESS) {
        txn.abort();
        mdb_env_close(env_);
        env_ = nullptr;
        fail(dir, "cannot open the database in", rc);
    }
}

Env::~Env() {
    if (env_ == nullptr) return;
    // In a fork()ed child the handle belongs to the parent: closing it here
    // would release the parent's reader slots. Leave it alone.
    if (!owned()) return;
    mdb_env_sync(env_, 1);
    mdb_env_close(env_);
}

bool Env::owned() const {
    return getpid() == owner_;
}

uint64_t Env::map_size() const {
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    return info.me_mapsize;
}

uint64_t Env::last_txnid() const {
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    return info.me_last_txnid;
}

uint64_t Env::page_size() const {
    MDB_stat st{};
    mdb_env_stat(env_, &st);
    return st.ms_psize;
}

int Env::adopt_map_size() {
    return mdb_env_set_mapsize(env_, 0);
}

int Env::grow_map(uint64_t bytes) {
    bytes = round_map(bytes);
    if (bytes <= map_size()) return MDB_SUCCESS;
    return mdb_env_set_mapsize(env_, bytes);
}

int Env::reader_check() {
    int dead = 0;
    mdb_reader_check(env_, &dead);
    return dead;
}

void Env::sync() {
    if (env_ != nullptr && owned()) mdb_env_sync(env_, 1);
}

Txn::Txn(Txn&& o) noexcept : txn_(o.txn_), env_(o.env_), reset_(o.reset_) {
    o.txn_ = nullptr;
}

Txn& Txn::operator=(Txn&& o) noexcept {
    if (this != &o) {
        abort();
        txn_ = o.txn_;
        env_ = o.env_;
        reset_ = o.reset_;
        o.txn_ = nullptr;
    }
    return *this;
}

int Txn::begin(Env& env, bool read_only) {
    abort();
    env_ = &env;
    reset_ = false;
    int rc = MDB_SUCCESS;
    for (int attempt = 0; attempt < 3; ++attempt) {
        rc = mdb_txn_begin(env.get(), nullptr, read_only ? MDB_RDONLY : 0, &txn_);
        if (rc == MDB_SUCCESS) return rc;
        txn_ = nullptr;
        if (rc == MDB_MAP_RESIZED) {
            if (env.adopt_map_size() != MDB_SUCCESS) return rc;
        } else if (rc == MDB_READERS_FULL) {
            if (env.reader_check() == 0) return rc;
        } else {
            return rc;
        }
    }
    return rc;
}

int Txn::commit() {
    if (txn_ == nullptr || reset_) return EINVAL;
    MDB_txn* t = txn_;
    txn_ = nullptr;
    return mdb_txn_commit(t);
}

void Txn::abort() {
    if (txn_ != nullptr && (env_ == nullptr || env_->owned())) mdb_txn_abort(txn_);
    txn_ = nullptr;
    reset_ = false;
}

void Txn::reset() {
    if (txn_ != nullptr && !reset_) {
        mdb_txn_reset(txn_);
        reset_ = true;
    }
}

int Txn::renew() {
    if (txn_ == nullptr || !reset_) return EINVAL;
    const int rc = mdb_txn_renew(txn_);
    if (rc == MDB_SUCCESS) {
        reset_ = false;
        return rc;
    }
    // A failed renew leaves the handle finished: drop it and begin afresh
    // (begin() handles MDB_MAP_RESIZED).
    Env* env = env_;
    abort();
    return begin(*env, true);
}

int Cursor::open(MDB_txn* txn, MDB_dbi dbi) {
    close();
    const int rc = mdb_cursor_open(txn, dbi, &c_);
    if (rc != MDB_SUCCESS) c_ = nullptr;
    return rc;
}

void Cursor::close() {
    if (c_ != nullptr) mdb_cursor_close(c_);
    c_ = nullptr;
}

} // namespace kresd::cache::lmdb
