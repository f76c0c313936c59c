#include "cache/front.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "cache/codec.hpp"

namespace kresd::cache {

namespace {

// The generations file: a 4 KiB header of 64-bit words, then the buckets.
constexpr uint64_t kMagic = 0x6e65672d7365726bull; // "kres-gen"
constexpr uint64_t kLayout = 2;                    // and Generations::kFile's number
enum HeaderWord : size_t { kWordMagic, kWordLayout, kWordAll, kWordCovered };
constexpr size_t kHeaderWords = 512;
constexpr size_t kFileBytes = (kHeaderWords + Generations::kBuckets) * sizeof(uint64_t);

uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t acquire_load(uint64_t* p) {
    return std::atomic_ref<uint64_t>(*p).load(std::memory_order_acquire);
}

void release_store(uint64_t* p, uint64_t v) {
    std::atomic_ref<uint64_t>(*p).store(v, std::memory_order_release);
}

} // namespace

uint64_t key_hash(std::span<const uint8_t> key) {
    const uint8_t* p = key.data();
    const size_t n = key.size();
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    if (n >= 8) {
        // Whole words, the last one ending at the last byte (it overlaps
        // the one before when n is not a multiple of 8).
        for (size_t i = 0; i + 8 < n; i += 8)
            h = (h ^ codec::load_le<uint64_t>(p + i)) * 0x100000001b3ull + (h >> 29);
        h ^= codec::load_le<uint64_t>(p + n - 8);
    } else {
        for (size_t i = 0; i < n; ++i)
            h ^= uint64_t{p[i]} << (8 * i);
    }
    return mix(h);
}

Generations::~Generations() {
    if (map_ != nullptr) munmap(map_, kFileBytes);
}

bool Generations::open(const std::string& dir, const std::function<uint64_t()>& last_txnid,
                       std::string& error) {
    const std::string path = dir + "/" + kFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    auto fail = [&](const char* what) {
        error = path + ": " + what + ": " + std::strerror(errno);
        close(fd);
        return false;
    };
    // One opener at a time checks and, if need be, starts the file afresh.
    if (flock(fd, LOCK_EX) != 0) return fail("cannot lock");
    struct stat st {};
    if (fstat(fd, &st) != 0) return fail("cannot stat");
    // Only ever grown: another process may have it mapped (a shrunk
    // mapping faults).
    if (static_cast<uint64_t>(st.st_size) < kFileBytes &&
        ftruncate(fd, static_cast<off_t>(kFileBytes)) != 0)
        return fail("cannot size");
    void* map = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return fail("cannot map");
    map_ = map;
    const bool ours = *word(kWordMagic) == kMagic && *word(kWordLayout) == kLayout;
    const uint64_t covered = acquire_load(word(kWordCovered)); // before the database's id
    if (!ours || covered > last_txnid()) {
        // New, or of another database (whose ids mean nothing here): zero,
        // then claim it.
        release_store(word(kWordMagic), 0);
        std::memset(word(kWordAll), 0, kFileBytes - kWordAll * sizeof(uint64_t));
        *word(kWordLayout) = kLayout;
        release_store(word(kWordMagic), kMagic);
    }
    flock(fd, LOCK_UN);
    close(fd); // the mapping stays
    return true;
}

uint64_t* Generations::bucket(uint64_t hash) const {
    return word(kHeaderWords + (hash & (kBuckets - 1)));
}

uint64_t Generations::current(uint64_t hash) const {
    return std::max(acquire_load(bucket(hash)), acquire_load(word(kWordAll)));
}

void Generations::mark(uint64_t hash, uint64_t txnid) {
    // Writers are serialised by LMDB and ids only grow (an aborted id is
    // reused, not lowered): a plain store never moves a bucket back.
    release_store(bucket(hash), txnid);
}

void Generations::mark_all(uint64_t txnid) {
    release_store(word(kWordAll), txnid);
}

void Generations::committed(uint64_t txnid) {
    // After the commit, outside LMDB's write lock: two writers may publish
    // out of order, so only ever raise it.
    std::atomic_ref<uint64_t> covered(*word(kWordCovered));
    uint64_t have = covered.load(std::memory_order_relaxed);
    while (have < txnid && !covered.compare_exchange_weak(have, txnid, std::memory_order_release,
                                                          std::memory_order_relaxed)) {
    }
}

uint64_t Generations::covered() const {
    return acquire_load(word(kWordCovered));
}

void FrontTable::Unmap::operator()(uint8_t* p) const {
    munmap(p, kMapBytes);
}

bool FrontTable::allocate() {
    // Twice the size, so that a stretch aligned to its size lies inside;
    // the rest is given back.
    void* raw =
        mmap(nullptr, 2 * kMapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return false;
    auto* base = static_cast<uint8_t*>(raw);
    const size_t lead = (kMapBytes - reinterpret_cast<uintptr_t>(base) % kMapBytes) % kMapBytes;
    if (lead != 0) munmap(base, lead);
    munmap(base + lead + kMapBytes, kMapBytes - lead);
    base += lead;
#ifdef MADV_HUGEPAGE
    madvise(base, kMapBytes, MADV_HUGEPAGE); // a hint: without it, 4 KiB pages
#endif
    mem_.reset(base);
    return true;
}

const FrontTable::Entry* FrontTable::at(uint64_t slot, uint64_t tag) const {
    if ((slot & ~kPosMask) != tag || !live(slot)) return nullptr;
    return reinterpret_cast<const Entry*>(ring() + ((slot & kPosMask) - 1) % kRingBytes);
}

const FrontTable::Entry* FrontTable::same(uint64_t slot, uint64_t tag,
                                          std::span<const uint8_t> owner, uint16_t type,
                                          uint8_t kind) const {
    const Entry* e = at(slot, tag);
    if (e == nullptr || e->type != type || e->kind != kind || e->owner_len != owner.size() ||
        std::memcmp(e + 1, owner.data(), owner.size()) != 0)
        return nullptr;
    return e;
}

const FrontTable::Entry* FrontTable::find(std::span<const uint8_t> owner, uint16_t type,
                                          uint64_t hash, Kind kind) const {
    if (!mem_) return nullptr;
    const uint64_t tag = tag_of(hash);
    const uint64_t* set = set_of(hash);
    for (size_t w = 0; w < kWays; ++w)
        if (const Entry* e = same(set[w], tag, owner, type, kind)) return e;
    return nullptr;
}

void FrontTable::insert(std::span<const uint8_t> owner, uint64_t hash, Entry head,
                        std::span<const uint8_t> rdata_list) {
    const size_t size = (sizeof(Entry) + owner.size() + rdata_list.size() + 7) & ~size_t{7};
    if (size > kMaxEntry || owner.size() > 255) return;
    if (!mem_ && !allocate()) return;
    if (head_ + 2 * kRingBytes >= kPosMask) { // positions restart
        std::fill_n(slots(), kSlots, 0);
        head_ = 0;
    }
    // An entry never wraps: when it does not fit before the end, the rest
    // of the ring is skipped (entries there count as overwritten).
    if (const uint64_t off = head_ % kRingBytes; off + size > kRingBytes) head_ += kRingBytes - off;
    const uint64_t pos = head_;
    head_ += size;

    head.owner_len = static_cast<uint8_t>(owner.size());
    head.list_len = static_cast<uint16_t>(rdata_list.size());
    uint8_t* dst = ring() + pos % kRingBytes;
    std::memcpy(dst, &head, sizeof(head));
    std::memcpy(dst + sizeof(head), owner.data(), owner.size());
    if (!rdata_list.empty())
        std::memcpy(dst + sizeof(head) + owner.size(), rdata_list.data(), rdata_list.size());

    // The slot: the one of the same (owner, type), else a free one, else
    // the oldest.
    const uint64_t tag = tag_of(hash);
    uint64_t* set = &slots()[(hash & (kSlots / kWays - 1)) * kWays];
    uint64_t* victim = nullptr;
    for (size_t w = 0; w < kWays; ++w) {
        uint64_t& s = set[w];
        if (!live(s)) {
            if (victim == nullptr || live(*victim)) victim = &s;
            continue;
        }
        if (same(s, tag, owner, head.type, head.kind) != nullptr) {
            victim = &s;
            break;
        }
        if (victim == nullptr || (live(*victim) && (s & kPosMask) < (*victim & kPosMask)))
            victim = &s;
    }
    *victim = tag | (pos + 1);
}

} // namespace kresd::cache
