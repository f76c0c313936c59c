// Cache on LMDB: keys in keys.hpp, values in codec.hpp, transactions and
// room-making in store.hpp.
#include "cache/cache.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "cache/codec.hpp"
#include "cache/keys.hpp"
#include "cache/store.hpp"
#include "dns/wire.hpp"

namespace kresd::cache {

namespace {

using keys::Kind;
using lmdb::to_span;
using lmdb::to_val;

// No RRset from a DNS message (at most 65535 bytes) comes near this; larger
// values would need long runs of contiguous free pages in the map.
constexpr size_t kMaxValue = 128 * 1024;

// Length of the wire name at the start of `s`, or 0 when there is none.
size_t name_len(std::span<const uint8_t> s) {
    size_t pos = 0;
    while (pos < s.size() && pos <= 255) {
        const uint8_t len = s[pos];
        if (len == 0) return pos + 1;
        if (len > 63) return 0;
        pos += 1 + len;
    }
    return 0;
}

// MINIMUM of an SOA rdata (MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM),
// or nothing when the rdata is not exactly that.
std::optional<uint32_t> soa_minimum(std::span<const uint8_t> rdata) {
    const size_t m = name_len(rdata);
    if (m == 0) return std::nullopt;
    const size_t r = name_len(rdata.subspan(m));
    if (r == 0 || rdata.size() != m + r + 20) return std::nullopt;
    const auto p = rdata.last(4);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Remaining TTL of a live entry; never above the TTL it was stored with
// (the wall clock may have gone back).
uint32_t remaining(uint64_t expire, uint32_t ttl, uint64_t now) {
    return static_cast<uint32_t>(std::min<uint64_t>(expire - now, ttl));
}
uint32_t remaining(const codec::Header& h, uint64_t now) {
    return remaining(h.expire, h.ttl, now);
}

// Hands an RRset to `v`; true when it took all of it.
// `rdata_list` is the codec's rdata pairs followed by the RRSIG section
// (u16 count, pairs): tail() of a decoded value, as the front table keeps it.
bool deliver(RRsetVisitor& v, uint32_t ttl, uint32_t stored_ttl, uint8_t rank, uint8_t security,
             uint16_t count, std::span<const uint8_t> rdata_list) {
    v.stored_ttl = stored_ttl;
    if (!v.begin(ttl, static_cast<Rank>(rank), static_cast<Security>(security), count))
        return false;
    codec::RdataIter it(rdata_list, count);
    for (std::span<const uint8_t> rd; it.next(rd);)
        if (!v.rdata(rd)) return false;
    if (!v.wants_sigs()) return true;
    // The RRSIG section after the rdatas (bounds-checked like the rdatas).
    size_t pos = 0;
    for (uint16_t i = 0; i < count; ++i) {
        if (pos + 2 > rdata_list.size()) return false;
        pos += 2 + codec::load_le<uint16_t>(rdata_list.data() + pos);
    }
    if (pos + 2 > rdata_list.size()) return true; // kept without its RRSIG section
    const uint16_t sigs = codec::load_le<uint16_t>(rdata_list.data() + pos);
    codec::RdataIter sit(rdata_list.subspan(pos + 2), sigs);
    for (std::span<const uint8_t> rd; sit.next(rd);)
        if (!v.sig(rd)) return false;
    return true;
}

// The rdata pairs and the RRSIG section of a decoded 'R' value, as one span.
std::span<const uint8_t> tail(const codec::Decoded& d) {
    const uint8_t* end = d.sig_list.data() + d.sig_list.size();
    return {d.rdata_list.data(), static_cast<size_t>(end - d.rdata_list.data())};
}

// What a lookup of one key found.
enum class Found { none, live, expired, corrupt };

// A client's negative answer in the front table (FrontTable::kNegative),
// after the entry's owner: the generations of the NXDOMAIN and NODATA
// keys (the entry's own gen and key_hash are those of the RRset key: a
// write to any of the three may change the answer), then the SOA owner
// and rdata. Unaligned in the ring: copied out with memcpy.
struct NegativeTail {
    uint64_t nx_hash, nx_gen, nd_hash, nd_gen;
    uint8_t nxdomain;
    uint8_t soa_owner_len;
    uint16_t soa_rdata_len;
    uint8_t security;
};

NegativeTail negative_tail(const FrontTable::Entry& e) {
    NegativeTail t;
    std::memcpy(&t, e.rdata_list().data(), sizeof t); // fill_negative wrote at least that
    return t;
}

class LmdbCache final : public Cache {
  public:
    LmdbCache(std::string dir, std::shared_ptr<Store> store)
        : dir_(std::move(dir)), store_(std::move(store)) {}

    const std::string& dir() const override { return dir_; }
    uint64_t map_size() const override { return store_->env().map_size(); }

    void set_ttl_bounds(uint32_t min_ttl, uint32_t max_ttl) override {
        min_ttl_ = min_ttl;
        max_ttl_ = max_ttl;
    }
    uint32_t min_ttl() const override { return min_ttl_; }
    uint32_t max_ttl() const override { return max_ttl_; }

    bool put_rrset(std::span<const uint8_t> owner, uint16_t type, uint32_t ttl,
                   const std::vector<std::span<const uint8_t>>& rdatas, Rank rank, uint64_t now,
                   Security security, const std::vector<std::span<const uint8_t>>& sigs) override;
    std::optional<RRset> get_rrset(std::span<const uint8_t> owner, uint16_t type,
                                   uint64_t now) override;
    void prefetch_rrset(std::span<const uint8_t> owner, uint16_t type) const override;
    bool visit_rrset(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                     RRsetVisitor& v) override;
    Answer visit_answer(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                        RRsetVisitor& v, NegativeVisitor& n) override;
    bool put_negative(std::span<const uint8_t> owner, uint16_t type, bool nxdomain,
                      std::span<const uint8_t> soa_owner, std::span<const uint8_t> soa_rdata,
                      uint32_t ttl, uint64_t now, Security security,
                      std::span<const dns::Record> proof) override;
    std::optional<Negative> get_negative(std::span<const uint8_t> owner, uint16_t type,
                                         uint64_t now) override;
    bool put_nsec(std::span<const uint8_t> zone, const dns::Record& nsec,
                  const std::vector<std::span<const uint8_t>>& sigs, uint64_t now) override;
    std::optional<Nsec> find_nsec(std::span<const uint8_t> zone, std::span<const uint8_t> name,
                                  uint64_t now) override;
    uint64_t clear(std::span<const uint8_t> name) override;
    uint64_t count() override { return store_->entries(); }
    void hold_reads(bool on) override { store_->hold_reads(on); }
    Stats stats() override;

  private:
    uint32_t bound(uint32_t ttl) const { return std::min(std::max(ttl, min_ttl_), max_ttl_); }
    // The front table's entry of (owner, type) when it is unexpired and its
    // key's generation has not moved, else null; `hash` is
    // FrontTable::hash(owner, type). The hit path: kept small and inline.
    const FrontTable::Entry* rrset_hit(const FrontTable& front, std::span<const uint8_t> owner,
                                       uint16_t type, uint64_t hash, uint64_t now) const {
        const auto* e = front.find(owner, type, hash);
        if (e == nullptr || e->expire <= now ||
            e->gen != store_->generations().current(e->key_hash))
            return nullptr;
        return e;
    }
    // The same for a client's negative answer (FrontTable::kNegative): all
    // three generations it keeps must be current; `t` gets its tail.
    const FrontTable::Entry* negative_hit(const FrontTable& front, std::span<const uint8_t> owner,
                                          uint16_t type, uint64_t hash, uint64_t now,
                                          NegativeTail& t) const;
    // Copy a live RRset (d) just read in `txn` under `key` into the front
    // table, when no write to the key had begun that the snapshot does not
    // contain. `hash` is FrontTable::hash(owner, type).
    void fill_rrset(FrontTable& front, MDB_txn* txn, std::span<const uint8_t> owner, uint64_t hash,
                    const keys::Key& key, const codec::Decoded& d);
    // visit_answer() past the front table, in one read snapshot, with the
    // hashes visit_answer() made (unset without a front table). The RRset
    // is copied into the table unless `copy_rrset` is false (the table
    // already holds it, and the client refused it). Out of line: the hits
    // need none of its stack.
    [[gnu::noinline]] Answer answer_from_lmdb(std::span<const uint8_t> owner, uint16_t type,
                                              uint64_t now, RRsetVisitor& v, NegativeVisitor& n,
                                              FrontTable* front, bool copy_rrset, uint64_t hash,
                                              uint64_t negative_hash);
    // The same for a client's negative answer (visit_answer), found under
    // keys {RRset, NXDOMAIN, NODATA} of (owner, type); d is the negative
    // entry, `hash` FrontTable::hash(owner, type, kNegative).
    void fill_negative(FrontTable& front, MDB_txn* txn, uint64_t hash,
                       std::span<const uint8_t> owner, uint16_t type,
                       std::array<const keys::Key*, 3> keys, bool nxdomain,
                       const codec::Decoded& d);
    // Looks `key` up in `txn`; on Found::live, `d` views the value.
    Found lookup(MDB_txn* txn, const keys::Key& key, Kind kind, uint16_t type, uint64_t now,
                 codec::Decoded& d);
    // lookup() for read snapshots (Store::read() callbacks only), which
    // also notes an owner that has no entry at all in the snapshot: the
    // other lookups of that owner in the same snapshot (the types, kinds
    // and negative entries resolving one new name asks for) then need no
    // B-tree search. A snapshot is fixed by its transaction id: any commit
    // makes a new one, so a note never outlives what it describes.
    Found lookup_read(MDB_txn* txn, const keys::Key& key, Kind kind, uint16_t type, uint64_t now,
                      codec::Decoded& d);
    // Deletes the value under `key` if it is (still) corrupt.
    void drop_corrupt(const keys::Key& key, Kind kind, uint16_t type, uint64_t now);
    // Stores buf_ under `key` (write path shared by the puts).
    bool write_value(const keys::Key& key, uint64_t now, Rank rank, Security security,
                     bool check_rank, bool clear_negatives, uint16_t type);

    std::string dir_;
    std::shared_ptr<Store> store_;
    uint32_t min_ttl_ = kDefaultMinTtl, max_ttl_ = kDefaultMaxTtl;
    Stats counters_;
    std::vector<uint8_t> buf_; // encoded value, reused
    struct Absent {
        uint64_t snapshot = 0;
        size_t len = 0; // 0: none noted
        std::array<uint8_t, keys::kMaxKey> prefix;
    } absent_; // the owner lookup_read() last found nothing under
};

Found classify(const MDB_val& v, Kind kind, uint16_t type, uint64_t now, codec::Decoded& d) {
    if (!codec::decode(to_span(v), d) || d.h.kind != kind || d.h.type != type)
        return Found::corrupt;
    return d.h.expire > now ? Found::live : Found::expired;
}

Found LmdbCache::lookup(MDB_txn* txn, const keys::Key& key, Kind kind, uint16_t type, uint64_t now,
                        codec::Decoded& d) {
    MDB_val k = to_val(key.view()), v{};
    if (mdb_get(txn, store_->dbi(), &k, &v) != MDB_SUCCESS) return Found::none;
    return classify(v, kind, type, now, d);
}

Found LmdbCache::lookup_read(MDB_txn* txn, const keys::Key& key, Kind kind, uint16_t type,
                             uint64_t now, codec::Decoded& d) {
    // Every entry of an owner starts with lf(owner) and the separator; the
    // kind and the two type bytes follow (keys.hpp).
    const size_t plen = key.len - 3;
    const auto owner_of = [&](const MDB_val& k) {
        return k.mv_size > plen && std::memcmp(k.mv_data, key.buf.data(), plen) == 0;
    };
    const uint64_t snapshot = mdb_txn_id(txn);
    if (absent_.len == plen && absent_.snapshot == snapshot &&
        std::memcmp(absent_.prefix.data(), key.buf.data(), plen) == 0)
        return Found::none;
    MDB_cursor* cur = store_->read_cursor();
    if (cur == nullptr) return lookup(txn, key, kind, type, now, d);
    // One descent: the key itself, else the first key after it. The
    // owner's keys are adjacent, so it has one iff that key or the one
    // before is the owner's.
    MDB_val k = to_val(key.view()), v{};
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && k.mv_size == key.len &&
        std::memcmp(k.mv_data, key.buf.data(), key.len) == 0)
        return classify(v, kind, type, now, d);
    if (rc == MDB_SUCCESS && owner_of(k)) return Found::none;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return Found::none;
    rc = mdb_cursor_get(cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    if (rc == MDB_SUCCESS && owner_of(k)) return Found::none;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return Found::none;
    absent_.snapshot = snapshot;
    absent_.len = plen;
    std::memcpy(absent_.prefix.data(), key.buf.data(), plen);
    return Found::none;
}

void LmdbCache::drop_corrupt(const keys::Key& key, Kind kind, uint16_t type, uint64_t now) {
    store_->write(now, [&](MDB_txn* txn) {
        codec::Decoded d;
        if (lookup(txn, key, kind, type, now, d) != Found::corrupt) return MDB_SUCCESS;
        MDB_val k = to_val(key.view());
        store_->changed(txn, key.view());
        const int rc = mdb_del(txn, store_->dbi(), &k, nullptr);
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    });
}

// Does live data of (rank, security) `old` outrank new data? Validated
// data is replaced only by validated data (RFC 4035 4.2, RFC 2181 5.4.1
// for the ranks); otherwise the higher rank stays.
bool outranks(uint8_t old_rank, uint8_t old_sec, Rank rank, Security security) {
    const bool old_secure = old_sec == static_cast<uint8_t>(Security::secure);
    const bool new_secure = security == Security::secure;
    if (old_secure != new_secure) return old_secure;
    return old_rank > static_cast<uint8_t>(rank);
}

bool LmdbCache::write_value(const keys::Key& key, uint64_t now, Rank rank, Security security,
                            bool check_rank, bool clear_negatives, uint16_t type) {
    bool stored = false;
    const int rc = store_->write(
        now,
        [&](MDB_txn* txn) {
            stored = false;
            // One cursor for all of it: the first search descends the tree,
            // the rest find the owner's other entries (adjacent keys, see
            // keys.hpp) on the same leaf page without a descent.
            lmdb::Cursor cur;
            int r = cur.open(txn, store_->dbi());
            if (r != MDB_SUCCESS) return r;
            MDB_val k = to_val(key.view()), v{};
            if (check_rank) {
                r = cur.get(k, v, MDB_SET_KEY);
                if (r != MDB_SUCCESS && r != MDB_NOTFOUND) return r;
                codec::Decoded d;
                if (r == MDB_SUCCESS && classify(v, Kind::rrset, type, now, d) == Found::live &&
                    outranks(d.h.rank, d.h.security, rank, security))
                    return MDB_SUCCESS; // keep the better data
                k = to_val(key.view());
            }
            v = to_val(buf_);
            store_->changed(txn, key.view());
            r = cur.put(k, v, 0);
            if (r != MDB_SUCCESS) return r;
            if (clear_negatives) {
                for (auto [kind, t] : {std::pair{Kind::nodata, type}, {Kind::nxdomain, 0}}) {
                    keys::Key neg = key;
                    keys::retag(neg, kind, static_cast<uint16_t>(t));
                    MDB_val nk = to_val(neg.view()), nv{};
                    r = cur.get(nk, nv, MDB_SET);
                    if (r == MDB_SUCCESS) store_->changed(txn, neg.view());
                    if (r == MDB_SUCCESS) r = cur.del();
                    if (r != MDB_SUCCESS && r != MDB_NOTFOUND) return r;
                }
            }
            stored = true;
            return MDB_SUCCESS;
        },
        &counters_.evictions, key.len + buf_.size());
    if (rc != MDB_SUCCESS) return false;
    if (stored) ++counters_.inserts;
    return stored;
}

bool LmdbCache::put_rrset(std::span<const uint8_t> owner, uint16_t type, uint32_t ttl,
                          const std::vector<std::span<const uint8_t>>& rdatas, Rank rank,
                          uint64_t now, Security security,
                          const std::vector<std::span<const uint8_t>>& sigs) {
    keys::Key key;
    if (!keys::make_key(owner, Kind::rrset, type, key)) return false;
    const uint8_t r = static_cast<uint8_t>(rank);
    if (r < static_cast<uint8_t>(Rank::glue) || r > static_cast<uint8_t>(Rank::auth_answer))
        return false;
    ttl = bound(ttl);
    const codec::Header h{Kind::rrset, r, now + ttl, ttl, type, static_cast<uint8_t>(security)};
    if (!codec::encode_rrset(h, rdatas, buf_, sigs) || buf_.size() > kMaxValue) return false;
    return write_value(key, now, rank, security, true, rank >= Rank::auth_authority, type);
}

std::optional<RRset> LmdbCache::get_rrset(std::span<const uint8_t> owner, uint16_t type,
                                          uint64_t now) {
    // The Request's reader: the whole value, RRSIGs included, which the
    // front table does not keep; so from LMDB.
    keys::Key key;
    if (!keys::make_key(owner, Kind::rrset, type, key)) {
        ++counters_.misses;
        return std::nullopt;
    }
    std::optional<RRset> out;
    Found found = Found::none;
    store_->read([&](MDB_txn* txn) {
        codec::Decoded d;
        found = lookup_read(txn, key, Kind::rrset, type, now, d);
        if (found != Found::live) return MDB_SUCCESS;
        RRset rr;
        rr.type = type;
        rr.ttl = remaining(d.h, now);
        rr.stored_ttl = d.h.ttl;
        rr.rank = static_cast<Rank>(d.h.rank);
        rr.security = static_cast<Security>(d.h.security);
        rr.rdatas.reserve(d.rdata_count);
        codec::RdataIter it(d);
        for (std::span<const uint8_t> rd; it.next(rd);) rr.rdatas.emplace_back(rd.begin(), rd.end());
        codec::RdataIter sit(d.sig_list, d.sig_count);
        for (std::span<const uint8_t> rd; sit.next(rd);) rr.sigs.emplace_back(rd.begin(), rd.end());
        out = std::move(rr);
        return MDB_SUCCESS;
    });
    if (found == Found::corrupt) drop_corrupt(key, Kind::rrset, type, now);
    ++(out ? counters_.hits : counters_.misses);
    return out;
}

void LmdbCache::prefetch_rrset(std::span<const uint8_t> owner, uint16_t type) const {
    // A front table hit reads the slots, then the entry they point at, then
    // the generation of the entry's LMDB key: three cache misses in a row
    // when the table is large and the process has slept since (each query
    // at a moderate rate). The slots and the generation need only the
    // name, so both are started here; the entry follows the slots.
    const FrontTable* front = store_->front_unchecked();
    if (front == nullptr) return;
    front->prefetch(FrontTable::hash(owner, type));
    keys::Key key;
    if (keys::make_key(owner, Kind::rrset, type, key))
        store_->generations().prefetch(key_hash(key.view()));
}

bool LmdbCache::visit_rrset(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                            RRsetVisitor& v) {
    // The front table first (front.hpp): an unexpired copy whose key's
    // generation has not moved is what LMDB holds.
    FrontTable* front = store_->front();
    uint64_t hash = 0;
    if (front != nullptr) {
        hash = FrontTable::hash(owner, type);
        if (const auto* e = rrset_hit(*front, owner, type, hash, now)) {
            ++counters_.hits;
            return deliver(v, remaining(e->expire, e->ttl, now), e->ttl, e->rank, e->security,
                           e->count, e->rdata_list());
        }
    }
    keys::Key key;
    if (!keys::make_key(owner, Kind::rrset, type, key)) {
        ++counters_.misses;
        return false;
    }
    bool taken = false;
    Found found = Found::none;
    store_->read([&](MDB_txn* txn) {
        codec::Decoded d;
        found = lookup_read(txn, key, Kind::rrset, type, now, d);
        if (found != Found::live) return MDB_SUCCESS;
        if (front != nullptr) fill_rrset(*front, txn, owner, hash, key, d);
        taken = deliver(v, remaining(d.h, now), d.h.ttl, d.h.rank, d.h.security, d.rdata_count,
                        tail(d));
        return MDB_SUCCESS;
    });
    if (found == Found::corrupt) drop_corrupt(key, Kind::rrset, type, now);
    ++(found == Found::live ? counters_.hits : counters_.misses);
    return taken;
}

const FrontTable::Entry* LmdbCache::negative_hit(const FrontTable& front,
                                                 std::span<const uint8_t> owner, uint16_t type,
                                                 uint64_t hash, uint64_t now,
                                                 NegativeTail& t) const {
    const auto* e = front.find(owner, type, hash, FrontTable::kNegative);
    if (e == nullptr || e->expire <= now) return nullptr;
    const Generations& gens = store_->generations();
    t = negative_tail(*e);
    if (e->gen != gens.current(e->key_hash) || t.nx_gen != gens.current(t.nx_hash) ||
        t.nd_gen != gens.current(t.nd_hash))
        return nullptr;
    return e;
}

void LmdbCache::fill_rrset(FrontTable& front, MDB_txn* txn, std::span<const uint8_t> owner,
                           uint64_t hash, const keys::Key& key, const codec::Decoded& d) {
    // A copy only when no write to the key's bucket had begun that this
    // snapshot does not contain. The generation may be read after the
    // lookup (the snapshot was fixed before either), so a lookup that
    // finds nothing costs no generation line.
    FrontTable::Entry fill{};
    fill.key_hash = key_hash(key.view());
    fill.gen = store_->generations().current(fill.key_hash);
    if (fill.gen > mdb_txn_id(txn)) return;
    fill.expire = d.h.expire;
    fill.ttl = d.h.ttl;
    fill.type = d.h.type;
    fill.count = d.rdata_count;
    fill.rank = d.h.rank;
    fill.security = d.h.security;
    fill.kind = FrontTable::kRRset;
    front.insert(owner, hash, fill, tail(d));
}

Answer LmdbCache::visit_answer(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                               RRsetVisitor& v, NegativeVisitor& n) {
    // The order of Request's cache step: the RRset, then NXDOMAIN, then
    // NODATA. A negative answer depends on all three keys (an RRset the
    // client may not see, such as glue, does not hide it), so its front
    // entry keeps the three generations and is used only while none moved.
    FrontTable* front = store_->front();
    uint64_t hash = 0, negative_hash = 0;
    bool copy_rrset = true;
    if (front != nullptr) {
        const uint64_t owner_hash = key_hash(owner);
        hash = FrontTable::hash_of(owner_hash, type, FrontTable::kRRset);
        negative_hash = FrontTable::hash_of(owner_hash, type, FrontTable::kNegative);
        if (const auto* e = rrset_hit(*front, owner, type, hash, now)) {
            if (deliver(v, remaining(e->expire, e->ttl, now), e->ttl, e->rank, e->security,
                        e->count, e->rdata_list())) {
                ++counters_.hits;
                return Answer::positive;
            }
            copy_rrset = false; // refused (glue): no second copy of it below
        }
        NegativeTail t;
        if (const auto* e = negative_hit(*front, owner, type, negative_hash, now, t)) {
            const auto rest = e->rdata_list().subspan(sizeof t);
            if (!n.negative({t.nxdomain != 0, static_cast<Security>(t.security),
                             remaining(e->expire, e->ttl, now), rest.first(t.soa_owner_len),
                             rest.subspan(t.soa_owner_len, t.soa_rdata_len), e->ttl})) {
                ++counters_.misses;
                return Answer::none;
            }
            ++counters_.hits;
            return Answer::negative;
        }
    }
    return answer_from_lmdb(owner, type, now, v, n, front, copy_rrset, hash, negative_hash);
}

Answer LmdbCache::answer_from_lmdb(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                                   RRsetVisitor& v, NegativeVisitor& n, FrontTable* front,
                                   bool copy_rrset, uint64_t hash, uint64_t negative_hash) {
    keys::Key key;
    if (!keys::make_key(owner, Kind::rrset, type, key)) {
        ++counters_.misses;
        return Answer::none;
    }
    keys::Key nx = key, nd = key;
    keys::retag(nx, Kind::nxdomain, 0);
    keys::retag(nd, Kind::nodata, type);
    Answer out = Answer::none;
    Found f_rr = Found::none, f_nx = Found::none, f_nd = Found::none;
    store_->read([&](MDB_txn* txn) {
        codec::Decoded d;
        f_rr = lookup_read(txn, key, Kind::rrset, type, now, d);
        if (f_rr == Found::live) {
            if (front != nullptr && copy_rrset) fill_rrset(*front, txn, owner, hash, key, d);
            if (deliver(v, remaining(d.h, now), d.h.ttl, d.h.rank, d.h.security, d.rdata_count,
                        tail(d))) {
                out = Answer::positive;
                return MDB_SUCCESS;
            }
        }
        f_nx = lookup_read(txn, nx, Kind::nxdomain, 0, now, d);
        if (f_nx != Found::live) {
            f_nd = lookup_read(txn, nd, Kind::nodata, type, now, d);
            if (f_nd != Found::live) return MDB_SUCCESS;
        }
        const bool nxdomain = f_nx == Found::live;
        if (front != nullptr)
            fill_negative(*front, txn, negative_hash, owner, type, {&key, &nx, &nd}, nxdomain, d);
        if (n.negative({nxdomain, static_cast<Security>(d.h.security), remaining(d.h, now),
                        d.soa_owner, d.soa_rdata, d.h.ttl}))
            out = Answer::negative;
        return MDB_SUCCESS;
    });
    if (f_rr == Found::corrupt) drop_corrupt(key, Kind::rrset, type, now);
    if (f_nx == Found::corrupt) drop_corrupt(nx, Kind::nxdomain, 0, now);
    if (f_nd == Found::corrupt) drop_corrupt(nd, Kind::nodata, type, now);
    ++(out != Answer::none ? counters_.hits : counters_.misses);
    return out;
}

void LmdbCache::fill_negative(FrontTable& front, MDB_txn* txn, uint64_t hash,
                              std::span<const uint8_t> owner, uint16_t type,
                              std::array<const keys::Key*, 3> keys, bool nxdomain,
                              const codec::Decoded& d) {
    // As fill_rrset(), for each of the three keys the answer depends on.
    const Generations& gens = store_->generations();
    FrontTable::Entry fill{};
    fill.key_hash = key_hash(keys[0]->view());
    fill.gen = gens.current(fill.key_hash);
    NegativeTail t{};
    t.nx_hash = key_hash(keys[1]->view());
    t.nx_gen = gens.current(t.nx_hash);
    t.nd_hash = key_hash(keys[2]->view());
    t.nd_gen = gens.current(t.nd_hash);
    const uint64_t snapshot = mdb_txn_id(txn);
    if (std::max({fill.gen, t.nx_gen, t.nd_gen}) > snapshot) return;
    std::array<uint8_t, FrontTable::kMaxEntry> list;
    const size_t len = sizeof t + d.soa_owner.size() + d.soa_rdata.size();
    if (len > list.size()) return; // too large for the table anyway
    t.nxdomain = nxdomain ? 1 : 0;
    t.security = d.h.security;
    t.soa_owner_len = static_cast<uint8_t>(d.soa_owner.size()); // a wire name: <= 255
    t.soa_rdata_len = static_cast<uint16_t>(d.soa_rdata.size());
    std::memcpy(list.data(), &t, sizeof t);
    if (!d.soa_owner.empty())
        std::memcpy(list.data() + sizeof t, d.soa_owner.data(), d.soa_owner.size());
    if (!d.soa_rdata.empty())
        std::memcpy(list.data() + sizeof t + d.soa_owner.size(), d.soa_rdata.data(),
                    d.soa_rdata.size());
    fill.expire = d.h.expire;
    fill.ttl = d.h.ttl;
    fill.type = type;
    fill.kind = FrontTable::kNegative;
    front.insert(owner, hash, fill, std::span<const uint8_t>(list.data(), len));
}

bool LmdbCache::put_negative(std::span<const uint8_t> owner, uint16_t type, bool nxdomain,
                             std::span<const uint8_t> soa_owner, std::span<const uint8_t> soa_rdata,
                             uint32_t ttl, uint64_t now, Security security,
                             std::span<const dns::Record> proof) {
    const Kind kind = nxdomain ? Kind::nxdomain : Kind::nodata;
    const uint16_t ktype = nxdomain ? 0 : type;
    keys::Key key;
    if (!keys::make_key(owner, kind, ktype, key)) return false;
    std::array<uint8_t, 255> lowered{};
    std::span<const uint8_t> soa_lc;
    if (!soa_owner.empty()) {
        if (!keys::valid_name(soa_owner)) return false;
        keys::lower_name(soa_owner, lowered);
        soa_lc = std::span<const uint8_t>(lowered.data(), soa_owner.size());
    }
    if (const auto minimum = soa_minimum(soa_rdata)) ttl = std::min(ttl, *minimum);
    ttl = bound(ttl);
    const codec::Header h{kind, 0, now + ttl, ttl, ktype, static_cast<uint8_t>(security)};
    if (!codec::encode_negative(h, soa_lc, soa_rdata, buf_, proof) || buf_.size() > kMaxValue)
        return false;
    return write_value(key, now, Rank::glue, security, false, false, ktype);
}

std::optional<Negative> LmdbCache::get_negative(std::span<const uint8_t> owner, uint16_t type,
                                                uint64_t now) {
    keys::Key nx;
    if (!keys::make_key(owner, Kind::nxdomain, 0, nx)) {
        ++counters_.misses;
        return std::nullopt;
    }
    keys::Key nodata = nx;
    keys::retag(nodata, Kind::nodata, type);
    std::optional<Negative> out;
    Found f_nx = Found::none, f_nd = Found::none;
    store_->read([&](MDB_txn* txn) {
        codec::Decoded d;
        f_nx = lookup_read(txn, nx, Kind::nxdomain, 0, now, d);
        if (f_nx != Found::live) {
            f_nd = lookup_read(txn, nodata, Kind::nodata, type, now, d);
            if (f_nd != Found::live) return MDB_SUCCESS;
        }
        Negative n;
        n.nxdomain = f_nx == Found::live;
        n.ttl = remaining(d.h, now);
        n.stored_ttl = d.h.ttl;
        n.soa_owner.assign(d.soa_owner.begin(), d.soa_owner.end());
        n.soa_rdata.assign(d.soa_rdata.begin(), d.soa_rdata.end());
        n.security = static_cast<Security>(d.h.security);
        codec::ProofIter it(d);
        for (dns::Record rr; it.next(rr);) n.proof.push_back(rr);
        out = std::move(n);
        return MDB_SUCCESS;
    });
    if (f_nx == Found::corrupt) drop_corrupt(nx, Kind::nxdomain, 0, now);
    if (f_nd == Found::corrupt) drop_corrupt(nodata, Kind::nodata, type, now);
    ++(out ? counters_.hits : counters_.misses);
    return out;
}

// The NSEC key space of a zone (RFC 8198): lf(zone) 0x00 'S' lf(owner).
// lf() keeps canonical order, so the NSECs of one zone are adjacent and
// sorted; the 'S' after the separator keeps them apart from the zone's own
// entries (kinds 'R', 'N', 'X') and its children (a label byte follows
// lf(zone) there), and clear(name) still removes them with the subtree.
constexpr uint8_t kNsecTag = 'S';

bool nsec_prefix(std::span<const uint8_t> zone, keys::Key& out) {
    if (!keys::name_prefix(zone, out) || out.len + 2 > keys::kMaxKey) return false;
    out.buf[out.len++] = 0;
    out.buf[out.len++] = kNsecTag;
    return true;
}

bool nsec_key(std::span<const uint8_t> zone, std::span<const uint8_t> owner, keys::Key& out) {
    keys::Key o;
    if (!nsec_prefix(zone, out) || !keys::name_prefix(owner, o) || out.len + o.len > keys::kMaxKey)
        return false;
    std::memcpy(out.buf.data() + out.len, o.buf.data(), o.len);
    out.len += o.len;
    return true;
}

bool LmdbCache::put_nsec(std::span<const uint8_t> zone, const dns::Record& nsec,
                         const std::vector<std::span<const uint8_t>>& sigs, uint64_t now) {
    keys::Key key;
    if (!nsec_key(zone, nsec.owner.view(), key) || !dns::name_in_zone(nsec.owner.view(), zone))
        return false;
    const uint32_t ttl = bound(nsec.ttl);
    // The owner rides in the value as the first "rdata" (the key holds it
    // lower-cased and escaped), the NSEC rdata second.
    const codec::Header h{Kind::rrset, static_cast<uint8_t>(Rank::auth_authority), now + ttl, ttl,
                          47, static_cast<uint8_t>(Security::secure)};
    if (!codec::encode_rrset(h, {nsec.owner.view(), nsec.rdata}, buf_, sigs) ||
        buf_.size() > kMaxValue)
        return false;
    return write_value(key, now, Rank::auth_authority, Security::secure, false, false, 47);
}

std::optional<Cache::Nsec> LmdbCache::find_nsec(std::span<const uint8_t> zone,
                                                std::span<const uint8_t> name, uint64_t now) {
    keys::Key prefix, key;
    if (!nsec_prefix(zone, prefix) || !nsec_key(zone, name, key)) return std::nullopt;
    std::optional<Nsec> out;
    store_->read([&](MDB_txn* txn) {
        lmdb::Cursor cur;
        if (cur.open(txn, store_->dbi()) != MDB_SUCCESS) return MDB_SUCCESS;
        MDB_val k = to_val(key.view()), v{};
        int rc = cur.get(k, v, MDB_SET_RANGE);
        const bool exact = rc == MDB_SUCCESS && k.mv_size == key.len &&
                           std::memcmp(k.mv_data, key.buf.data(), key.len) == 0;
        if (!exact) {
            rc = cur.get(k, v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
            if (rc != MDB_SUCCESS) return MDB_SUCCESS;
        }
        if (k.mv_size < prefix.len || std::memcmp(k.mv_data, prefix.buf.data(), prefix.len) != 0)
            return MDB_SUCCESS;
        codec::Decoded d;
        if (classify(v, Kind::rrset, 47, now, d) != Found::live || d.rdata_count != 2)
            return MDB_SUCCESS;
        codec::RdataIter it(d);
        std::span<const uint8_t> owner, rdata;
        if (!it.next(owner) || !it.next(rdata) || !keys::valid_name(owner)) return MDB_SUCCESS;
        Nsec n;
        std::memcpy(n.rr.owner.wire.data(), owner.data(), owner.size());
        n.rr.owner.len = static_cast<uint8_t>(owner.size());
        n.rr.type = 47;
        n.rr.klass = 1;
        n.rr.ttl = remaining(d.h, now);
        n.rr.rdata.assign(rdata.begin(), rdata.end());
        codec::RdataIter sit(d.sig_list, d.sig_count);
        for (std::span<const uint8_t> rd; sit.next(rd);) n.sigs.emplace_back(rd.begin(), rd.end());
        out = std::move(n);
        return MDB_SUCCESS;
    });
    return out;
}

uint64_t LmdbCache::clear(std::span<const uint8_t> name) {
    ++counters_.clears;
    if (name.empty() || (name.size() == 1 && name[0] == 0)) return store_->drop_all();
    keys::Key prefix;
    if (!keys::name_prefix(name, prefix)) return 0;
    return store_->delete_where(prefix.view(), nullptr);
}

Stats LmdbCache::stats() {
    Stats s = counters_;
    s.entries = store_->entries();
    s.map_size = store_->env().map_size();
    s.used = store_->used_bytes();
    return s;
}

} // namespace

std::unique_ptr<Cache> Cache::open(const std::string& dir, uint64_t map_size) {
    return std::make_unique<LmdbCache>(dir, Store::acquire(dir, map_size));
}

} // namespace kresd::cache
