#include "cache/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "cache/cache.hpp"
#include "cache/codec.hpp"
#include "cache/keys.hpp"
#include "util/log.hpp"

namespace kresd::cache {

namespace {

// The format marker's value: bump with codec::kVersion or the key layout.
constexpr uint8_t kFormat[] = {'k', 'r', 'e', 's', 'd', '-', 'c', 'a', 'c', 'h', 'e', '-', '3'};

constexpr size_t kSampleSize = 1024;
constexpr size_t kChunkDeletes = 64;  // deletions per committed chunk
constexpr size_t kChunkVisits = 4096; // entries looked at per chunk

bool has_prefix(std::span<const uint8_t> key, std::span<const uint8_t> prefix) {
    return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

MDB_val meta_key() {
    return lmdb::to_val(keys::kMetaKey);
}
MDB_val meta_val() {
    return lmdb::to_val(kFormat);
}

using RegistryKey = std::tuple<dev_t, ino_t, pid_t>;

} // namespace

std::shared_ptr<Store> Store::acquire(const std::string& dir, uint64_t map_size) {
    static std::mutex mutex;
    static std::map<RegistryKey, std::weak_ptr<Store>> registry;

    if (!dir.empty()) mkdir(dir.c_str(), 0770); // Env reports failures
    struct stat st {};
    const bool known = !dir.empty() && stat(dir.c_str(), &st) == 0;
    const RegistryKey key{st.st_dev, st.st_ino, getpid()};

    std::lock_guard<std::mutex> lock(mutex);
    std::erase_if(registry, [](const auto& kv) { return kv.second.expired(); });
    if (known) {
        if (auto it = registry.find(key); it != registry.end()) {
            if (auto store = it->second.lock()) {
                store->reader_.reset(); // no transaction may be live to grow
                if (map_size > store->env().map_size() &&
                    store->env().grow_map(map_size) == MDB_SUCCESS)
                    store->touch(); // persist the size for other processes
                return store;
            }
        }
    }
    auto store = std::make_shared<Store>(dir, map_size);
    if (known) registry[key] = store;
    return store;
}

Store::Store(const std::string& dir, uint64_t map_size) : env_(dir, map_size) {
    std::string error;
    gens_.open(
        dir, [this] { return env_.last_txnid(); }, error);
    if (!error.empty())
        KR_LOG(warning, "cache", "%s; cache hits go to LMDB every time", error.c_str());
    ensure_format(static_cast<uint64_t>(time(nullptr)));
}

int Store::commit(lmdb::Txn& txn) {
    const uint64_t id = mdb_txn_id(txn.get());
    // Every generation stored by changed() before the commit's own stores:
    // a reader that sees the commit sees the generations too.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const int rc = txn.commit();
    if (rc == MDB_SUCCESS && gens_.ok()) gens_.committed(id);
    return rc;
}

void Store::check_covered() {
    if (env_.last_txnid() > gens_.covered()) front_.clear();
    covered_checked_ = hold_;
}

Store::~Store() {
    if (read_cursor_ != nullptr) mdb_cursor_close(read_cursor_);
}

int Store::begin_read() {
    if (reader_.live()) return MDB_SUCCESS;
    read_cursor_bound_ = false; // a new snapshot
    if (reader_.is_reset()) return reader_.renew();
    return reader_.begin(env_, true);
}

MDB_cursor* Store::read_cursor() {
    if (read_cursor_bound_) return read_cursor_;
    // A read-only cursor may be renewed into any later read transaction,
    // whether the one it was made in was reset or aborted.
    const int rc = read_cursor_ == nullptr ? mdb_cursor_open(reader_.get(), dbi(), &read_cursor_)
                                           : mdb_cursor_renew(reader_.get(), read_cursor_);
    if (rc != MDB_SUCCESS) {
        if (read_cursor_ != nullptr) mdb_cursor_close(read_cursor_);
        read_cursor_ = nullptr;
        return nullptr;
    }
    read_cursor_bound_ = true;
    return read_cursor_;
}

void Store::ensure_format(uint64_t now) {
    const int rc = write(now, [&](MDB_txn* txn) {
        MDB_val k = meta_key(), v{};
        int r = mdb_get(txn, dbi(), &k, &v);
        const auto have = lmdb::to_span(v);
        const bool ours = r == MDB_SUCCESS && std::equal(have.begin(), have.end(),
                                                         std::begin(kFormat), std::end(kFormat));
        if (!ours) {
            MDB_stat st{};
            r = mdb_stat(txn, dbi(), &st);
            if (r != MDB_SUCCESS) return r;
            if (st.ms_entries > 0 && (r = mdb_drop(txn, dbi(), 0)) != MDB_SUCCESS) return r;
            changed_all(txn);
        }
        // Written even when present: the commit persists our map size in
        // the meta page, so other processes adopt it.
        MDB_val fv = meta_val();
        changed(txn, keys::kMetaKey);
        return mdb_put(txn, dbi(), &k, &fv, 0);
    });
    if (rc != MDB_SUCCESS)
        throw CacheError("cache: cannot initialise the database in '" + env_.dir() +
                         "': " + lmdb::error_text(rc));
}

void Store::touch() {
    lmdb::Txn txn;
    if (begin_write(txn) != MDB_SUCCESS) return;
    MDB_val k = meta_key(), v = meta_val();
    changed(txn.get(), keys::kMetaKey);
    if (mdb_put(txn.get(), dbi(), &k, &v, 0) == MDB_SUCCESS) commit(txn);
}

bool Store::has_headroom(MDB_txn* txn, size_t adds) {
    MDB_stat st{};
    if (mdb_stat(txn, dbi(), &st) != MDB_SUCCESS || st.ms_psize == 0) return true;
    const uint64_t pages = env_.map_size() / st.ms_psize;
    const uint64_t used = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages +
                          (adds + st.ms_psize - 1) / st.ms_psize;
    // 1/16 of the map, at least 32 pages (but at most 1/4 of a small map).
    const uint64_t reserve = std::max(pages / 16, std::min<uint64_t>(32, pages / 4));
    return used + reserve <= pages;
}

uint64_t Store::make_room(uint64_t now) {
    reader_.reset();     // adopting a map size needs every transaction ended
    env_.reader_check(); // a dead process's snapshot would pin freed pages
    const uint64_t before = env_.map_size();
    if (env_.adopt_map_size() == MDB_SUCCESS) {
        const uint64_t after = env_.map_size();
        if (after > before) return 0; // another process grew the map: retry
        // The persisted size can lag behind ours (grown, nothing written
        // since): keep ours.
        if (after < before) env_.grow_map(before);
    }
    const uint64_t n = evict(now);
    if (n > 0)
        KR_LOG(info, "cache", "'%s' is full: evicted %llu entries", env_.dir().c_str(),
               static_cast<unsigned long long>(n));
    else
        KR_LOG(warning, "cache", "'%s' is full and nothing could be evicted", env_.dir().c_str());
    touch();
    touch();
    return n;
}

uint64_t Store::evict(uint64_t now) {
    // Pass 1, on a read snapshot: count, and sample live expiry times.
    uint64_t total = 0, dead = 0, live = 0;
    std::vector<uint64_t> sample;
    sample.reserve(kSampleSize);
    uint64_t rng = (now * 0x9e3779b97f4a7c15ull) ^ static_cast<uint64_t>(getpid()) ^ 1;
    auto next_rand = [&rng] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    read([&](MDB_txn* txn) {
        lmdb::Cursor cur;
        int rc = cur.open(txn, dbi());
        if (rc != MDB_SUCCESS) return rc;
        MDB_val k{}, v{};
        for (rc = cur.get(k, v, MDB_FIRST); rc == MDB_SUCCESS; rc = cur.get(k, v, MDB_NEXT)) {
            if (keys::is_meta_key(lmdb::to_span(k))) continue;
            ++total;
            codec::Decoded d;
            if (!codec::decode(lmdb::to_span(v), d) || d.h.expire <= now) {
                ++dead;
                continue;
            }
            ++live;
            if (sample.size() < kSampleSize) {
                sample.push_back(d.h.expire);
            } else {
                const uint64_t j = next_rand() % live;
                if (j < kSampleSize) sample[j] = d.h.expire;
            }
        }
        return MDB_SUCCESS;
    });
    if (total == 0) return 0;

    // Where to cut: expiry <= now always goes; when that is not a quarter,
    // entries expiring before `cut` go too, and about `at_cut` of those
    // expiring exactly at `cut` (many entries can share one second).
    const uint64_t target = std::max<uint64_t>(1, total / 4);
    uint64_t cut = now;
    uint64_t at_cut = 0;
    if (dead < target && !sample.empty()) {
        std::sort(sample.begin(), sample.end());
        const uint64_t want = target - dead; // of `live`
        size_t idx = static_cast<size_t>((want * sample.size() + live - 1) / live);
        idx = std::clamp<size_t>(idx, 1, sample.size()) - 1;
        cut = sample[idx];
        const auto below = static_cast<uint64_t>(
            std::lower_bound(sample.begin(), sample.end(), cut) - sample.begin());
        const uint64_t est_below = below * live / sample.size();
        at_cut = want > est_below ? want - est_below : 0;
    }
    const uint64_t limit = cut; // strictly-below bound for live entries
    return delete_where({}, [&](std::span<const uint8_t>, std::span<const uint8_t> val) {
        codec::Decoded d;
        if (!codec::decode(val, d) || d.h.expire <= now) return true;
        if (d.h.expire < limit) return true;
        if (d.h.expire == limit && at_cut > 0) {
            --at_cut;
            return true;
        }
        return false;
    });
}

uint64_t Store::delete_where(std::span<const uint8_t> prefix, const Pred& pred) {
    std::vector<uint8_t> resume(prefix.begin(), prefix.end());
    size_t chunk = kChunkDeletes;
    uint64_t total = 0;
    while (true) {
        lmdb::Txn txn;
        int rc = begin_write(txn);
        if (rc != MDB_SUCCESS) return total;
        size_t deleted = 0, visited = 0;
        bool more = false;
        {
            lmdb::Cursor cur;
            rc = cur.open(txn.get(), dbi());
            if (rc != MDB_SUCCESS) return total;
            MDB_val k = lmdb::to_val(resume), v{};
            rc = cur.get(k, v, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
            while (rc == MDB_SUCCESS) {
                const auto key = lmdb::to_span(k);
                if (!has_prefix(key, prefix)) break;
                if (deleted >= chunk || visited >= kChunkVisits) {
                    resume.assign(key.begin(), key.end());
                    more = true;
                    break;
                }
                ++visited;
                if (!keys::is_meta_key(key) && (!pred || pred(key, lmdb::to_span(v)))) {
                    changed(txn.get(), key);
                    rc = cur.del();
                    if (rc != MDB_SUCCESS) break;
                    ++deleted;
                }
                rc = cur.get(k, v, MDB_NEXT);
            }
        }
        if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) rc = commit(txn);
        txn.abort();
        if (rc == MDB_SUCCESS) {
            total += deleted;
            if (!more) return total;
            continue;
        }
        if (rc == MDB_MAP_FULL && chunk > 1) {
            chunk /= 2; // fewer pages to copy; `resume` is unchanged
            continue;
        }
        return total;
    }
}

uint64_t Store::drop_all() {
    uint64_t dropped = 0;
    lmdb::Txn txn;
    int rc = begin_write(txn);
    if (rc == MDB_SUCCESS) {
        MDB_stat st{};
        MDB_val k = meta_key(), v = meta_val();
        rc = mdb_stat(txn.get(), dbi(), &st);
        if (rc == MDB_SUCCESS) rc = mdb_drop(txn.get(), dbi(), 0);
        if (rc == MDB_SUCCESS) changed_all(txn.get());
        if (rc == MDB_SUCCESS) rc = mdb_put(txn.get(), dbi(), &k, &v, 0);
        if (rc == MDB_SUCCESS) rc = commit(txn);
        // The marker is among the entries that were there.
        if (rc == MDB_SUCCESS) dropped = st.ms_entries > 0 ? st.ms_entries - 1 : 0;
    }
    txn.abort();
    if (rc == MDB_SUCCESS) return dropped;
    // Could not drop in one go (a full map cannot even hold the freed page
    // list): delete in chunks instead.
    return delete_where({}, nullptr);
}

uint64_t Store::entries() {
    uint64_t n = 0;
    read([&](MDB_txn* txn) {
        MDB_stat st{};
        int rc = mdb_stat(txn, dbi(), &st);
        if (rc != MDB_SUCCESS) return rc;
        MDB_val k = meta_key(), v{};
        const bool marker = mdb_get(txn, dbi(), &k, &v) == MDB_SUCCESS;
        n = st.ms_entries - (marker && st.ms_entries > 0 ? 1 : 0);
        return MDB_SUCCESS;
    });
    return n;
}

uint64_t Store::used_bytes() {
    uint64_t n = 0;
    read([&](MDB_txn* txn) {
        MDB_stat st{};
        int rc = mdb_stat(txn, dbi(), &st);
        if (rc == MDB_SUCCESS)
            n = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
        return rc;
    });
    return n;
}

} // namespace kresd::cache
