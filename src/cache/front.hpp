// A per-process table of recently read RRsets in front of LMDB, and the
// shared generations that keep it exact (private to src/cache).
//
// Why: a cache hit that walks LMDB's B-tree costs about 1,100 instructions
// and a few cache misses on pages other instances may have moved; the same
// hit from a small process-local table costs a hash, one table line, one
// entry and its generation. The table must never answer what the database
// no longer holds, and other processes write the database. So:
//
// Generations, the file <dir>/front-2.gen, shared by every process of the
// cache (MAP_SHARED): kBuckets 64-bit generations, one per bucket of keys
// (by key_hash()), and `all`, a generation for every key at once. Before a
// write transaction commits, it stores its own LMDB transaction id (which
// only grows) into the bucket of every key it puts or deletes (mark()), or
// into `all` when it empties the database (mark_all()). A key's generation
// is max(bucket, all).
//
// FrontTable, per process: a copy of an RRset read from LMDB, tagged with
// the key's generation g, read at the fill (before or after the lookup: the
// read snapshot is fixed before both). It is filled only when g <= the id
// of that snapshot (no write to the bucket the snapshot does not contain
// had begun: such a write stores its larger id before it commits, so either
// g shows it, or it comes after the read of g and changes the generation),
// and used only while the key's generation is still g. So a stale copy is
// never used once the write is visible. Expiry is checked on every use, as
// for LMDB data.
//
// Writers that do not know about front-2.gen (an older kresd, a tool) would
// not mark. Each aware writer also publishes the id it committed
// (committed(): `covered`); a reader that sees the database's last
// transaction id beyond `covered` (check_covered(), once per batch) drops
// its whole table.
//
// front-2.gen outlives the database it was made for: data.mdb deleted and
// created anew starts its transaction ids from 1 again, and generations of
// the old ids would keep copies from being made for a long time. An opener
// that finds `covered` beyond the database's last transaction id starts
// the file from zero. It reads `covered` first and the database's id after
// it, so a write committed and published meanwhile by another instance of
// the same database can never look like that.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace kresd::cache {

// Hash of some bytes: of an LMDB key for its generation bucket, of an owner
// name for the table's slot (FrontTable::hash()).
uint64_t key_hash(std::span<const uint8_t> key);

class Generations {
  public:
    static constexpr size_t kBuckets = 16384;
    // In the cache directory. The number is the file's layout: a kresd
    // with another layout uses another file, never this one (the two
    // would take each other's generations for garbage and zero them).
    static constexpr const char* kFile = "front-2.gen";

    Generations() = default;
    ~Generations();
    Generations(const Generations&) = delete;
    Generations& operator=(const Generations&) = delete;

    // Maps <dir>/front-2.gen, creating it (mode 0660 minus the umask), or
    // starting it afresh when it is not ours or belongs to an older
    // database (see above): `last_txnid` returns the id of the database's
    // last committed transaction. False with `error` set when it cannot.
    bool open(const std::string& dir, const std::function<uint64_t()>& last_txnid,
              std::string& error);
    bool ok() const { return map_ != nullptr; }

    uint64_t current(uint64_t hash) const; // max(bucket, all)
    void prefetch(uint64_t hash) const { __builtin_prefetch(bucket(hash)); }
    void mark(uint64_t hash, uint64_t txnid);
    void mark_all(uint64_t txnid);
    void committed(uint64_t txnid);
    uint64_t covered() const;

  private:
    uint64_t* word(size_t i) const { return static_cast<uint64_t*>(map_) + i; }
    uint64_t* bucket(uint64_t hash) const;

    void* map_ = nullptr; // the whole file
};

class FrontTable {
  public:
    static constexpr size_t kSlots = 65536;       // in 8-way sets
    // Entries, oldest overwritten: 10,000 signed RRsets with their RRSIGs
    // (~200 bytes each) fit; at 1 MiB one hit in seven of such names went
    // to LMDB (docs/performance.rst, DNSSEC).
    static constexpr size_t kRingBytes = (size_t{7} << 20) / 2;
    static constexpr size_t kMaxEntry = 1024;     // larger RRsets stay in LMDB only

    // What an entry holds: an RRset read from LMDB, or a client's negative
    // answer (cache.cpp: a NXDOMAIN or NODATA entry, with the generations
    // of every key that decided it).
    enum Kind : uint8_t { kRRset = 0, kNegative = 1 };

    // An entry is keyed by the owner name exactly as looked up (its bytes,
    // case included; LMDB keys are lower-cased, so two spellings are two
    // entries of the same data), the type and the kind: a hit needs no
    // LMDB key.
    struct Entry {
        uint64_t gen;      // the key's generation at the fill
        uint64_t key_hash; // key_hash() of the LMDB key: where the generation is
        uint64_t expire;
        uint32_t ttl;
        uint16_t type;
        uint16_t list_len; // bytes of the rdata list
        uint16_t count;
        uint8_t owner_len;
        uint8_t rank;
        uint8_t kind; // Kind
        uint8_t security; // dns::Security of a kRRset entry
        uint8_t pad_[2];
        // then the owner, then the rdata list (codec's (length, rdata)
        // pairs; for kNegative, what cache.cpp stores there)
        std::span<const uint8_t> owner() const {
            return {reinterpret_cast<const uint8_t*>(this + 1), owner_len};
        }
        std::span<const uint8_t> rdata_list() const {
            return {reinterpret_cast<const uint8_t*>(this + 1) + owner_len, list_len};
        }
    };

    static uint64_t hash(std::span<const uint8_t> owner, uint16_t type, Kind kind = kRRset) {
        return hash_of(key_hash(owner), type, kind);
    }
    // The same from key_hash(owner), for more than one (type, kind).
    static uint64_t hash_of(uint64_t owner_hash, uint16_t type, Kind kind) {
        return owner_hash + type * 0x9e3779b97f4a7c15ull + kind * 0xc2b2ae3d27d4eb4full;
    }
    // The entry of (owner, type, kind), or null; `hash` is hash(owner,
    // type, kind). The caller checks its generation.
    const Entry* find(std::span<const uint8_t> owner, uint16_t type, uint64_t hash,
                      Kind kind = kRRset) const;
    // Starts loading the slots find(.., hash) will read.
    void prefetch(uint64_t hash) const {
        if (mem_) __builtin_prefetch(set_of(hash));
    }
    // Stores `head` (its owner_len and list_len are set here), the owner and
    // the rdata list, replacing an older entry of the same (owner, type,
    // kind); `hash` is hash(owner, head.type, head.kind).
    // Entries over kMaxEntry bytes are not stored.
    void insert(std::span<const uint8_t> owner, uint64_t hash, Entry head,
                std::span<const uint8_t> rdata_list);
    // Forgets everything: moving the head a whole ring on makes every
    // entry count as overwritten.
    void clear() { head_ += kRingBytes + 8; }

  private:
    // A slot: the high bits of the entry's hash, then the entry's
    // absolute ring position + 1 (0: empty). Positions restart (and the
    // slots are emptied) before they would need more bits.
    static constexpr unsigned kPosBits = 44;
    static constexpr uint64_t kPosMask = (uint64_t{1} << kPosBits) - 1;
    // A set of 8 slots is one 64-byte cache line (the mapping is aligned),
    // the one line a lookup reads, as half of it was with 4 ways; 4-way sets
    // overflowed for about 3 % of 10,000 names, which then took turns
    // pushing each other out to LMDB.
    static constexpr size_t kWays = 8;
    static uint64_t tag_of(uint64_t hash) { return hash >> kPosBits << kPosBits; }
    const uint64_t* set_of(uint64_t hash) const {
        return &slots()[(hash & (kSlots / kWays - 1)) * kWays];
    }
    // The entry a slot holds for `tag`, or null (other tag, empty, or
    // overwritten since).
    const Entry* at(uint64_t slot, uint64_t tag) const;
    // The entry a slot holds for (owner, type, kind), or null.
    const Entry* same(uint64_t slot, uint64_t tag, std::span<const uint8_t> owner, uint16_t type,
                      uint8_t kind) const;
    bool live(uint64_t slot) const {
        return (slot & kPosMask) != 0 && head_ - ((slot & kPosMask) - 1) <= kRingBytes;
    }

    // Slots and ring in one mapping, made on the first insert: anonymous
    // memory reads as zero (empty slots) and the ring needs no zeroing (a
    // slot never points at bytes not written since). Where the system has
    // transparent huge pages the mapping is one 2 MiB page: every hit
    // touches a random slot and a random entry, and with 4 KiB pages each
    // of those was also a TLB miss (see docs/performance.rst).
    struct Unmap {
        void operator()(uint8_t* p) const;
    };
    static constexpr size_t kMapBytes = size_t{4} << 20; // two 2 MiB huge pages
    static_assert(kSlots * sizeof(uint64_t) + kRingBytes <= kMapBytes);
    bool allocate();
    uint64_t* slots() const { return reinterpret_cast<uint64_t*>(mem_.get()); }
    uint8_t* ring() const { return mem_.get() + kSlots * sizeof(uint64_t); }
    std::unique_ptr<uint8_t, Unmap> mem_;
    uint64_t head_ = 0; // absolute position of the next entry
};

} // namespace kresd::cache
