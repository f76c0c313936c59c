#include "app/worker.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include "policy/special_names.hpp"
#include "util/log.hpp"

namespace kresd::app {

namespace {

size_t udp_limit(const dns::Query& q, size_t transport_max)
{
    // RFC 6891 6.2.5: the client's EDNS buffer (512 without EDNS), within ours.
    size_t client = q.edns.present ? std::max<size_t>(q.edns.udp_size, dns::kMinUdpSize)
                                   : dns::kMinUdpSize;
    return std::min(transport_max, client);
}

net::SockAddr to_sockaddr(const resolve::Address& a)
{
    net::SockAddr s;
    std::memcpy(&s.ss, &a.ss, sizeof(a.ss));
    s.len = a.len;
    return s;
}

// What the policy sees of a client (policy::Client).
policy::Client policy_client(const net::ClientInfo& c)
{
    const bool tls = c.transport == net::Transport::tls || c.transport == net::Transport::https;
    return policy::Client{c.peer, c.local, c.transport != net::Transport::udp, tls,
                          c.transport == net::Transport::https, {}};
}

resolve::Address to_address(const net::SockAddr& s)
{
    resolve::Address a;
    std::memcpy(&a.ss, &s.ss, sizeof(s.ss));
    a.len = s.len;
    return a;
}

} // namespace

// One client request waiting for upstream answers.
struct Worker::Pending {
    Worker& w;
    dns::Query q;
    bool udp;
    uint16_t pad; // padding block of the answer (0: none)
    std::unique_ptr<resolve::Request> req;
    std::unique_ptr<net::DeferredReply> reply;
    net::UpstreamQuery upstream;
    resolve::Proto proto = resolve::Proto::udp;
    uint64_t tls_ticket = 0; // the query in flight in the TLS pool, if any
    resolve::Address tls_to;
    bool done = false; // answered (or given up): ignore late events
    // The client, for the postrules (kept only while there are some).
    sockaddr_storage peer{};
    bool stream = false;
    std::list<std::unique_ptr<Pending>>::iterator pos;
    InternalDone internal; // the daemon's own question: no client, this instead
    net::EventPtr kick;    // starts an internal question from the loop
    // A module's follow-up question (dns64): `q` is the follow-up's, the
    // answer goes to `client_q` and is written by follow->complete().
    std::unique_ptr<modules::FollowUp> follow;
    dns::Query client_q;
    // The request's options, kept only while a module may follow up.
    std::optional<resolve::RequestOptions> opts;

    Pending(Worker& worker, const dns::Query& query, bool over_udp, uint16_t padding,
            const resolve::RequestOptions& options)
        : w(worker), q(query), udp(over_udp), pad(padding),
          req(std::make_unique<resolve::Request>(*worker.resolver_, query, options)),
          upstream(worker.base_, worker.source_)
    {
        if (worker.mods_.follow_ups()) opts = options;
    }

    void send(const resolve::Outgoing& o)
    {
        proto = o.proto;
        if (o.proto == resolve::Proto::tls) return send_tls(o);
        upstream.start(
            to_sockaddr(o.to), o.proto == resolve::Proto::tcp, o.wire, o.timeout_ms,
            [this](std::span<const uint8_t> bytes, const net::SockAddr& from) {
                if (done) return true;
                if (!req->consume(bytes, to_address(from), proto)) return false; // keep waiting
                advance();
                return true;
            },
            [this]() {
                // A timer armed for a query that already got its reply may
                // still fire before the retired request is freed.
                if (done) return;
                ++w.stats_.timeouts;
                req->timeout();
                advance();
            });
    }

    // TLS_FORWARD: through the process's connection pool; never cleartext.
    void send_tls(const resolve::Outgoing& o)
    {
        upstream.cancel();
        tls_to = o.to;
        tls_ticket = w.tls_pool_->query(
            to_sockaddr(o.to), o.tls, o.wire, o.timeout_ms,
            [this](std::span<const uint8_t> bytes) {
                if (done) return true;
                if (!req->consume(bytes, tls_to, resolve::Proto::tls)) return false;
                tls_ticket = 0;
                advance();
                return true;
            },
            [this](bool timed_out, const char* why) {
                if (done) return;
                tls_ticket = 0;
                if (timed_out) {
                    ++w.stats_.timeouts;
                    req->timeout();
                } else {
                    req->transport_failed(why);
                }
                advance();
            });
    }

    void advance()
    {
        resolve::Outgoing o;
        if (req->produce(o) == resolve::Step::send) {
            send(o);
            return;
        }
        finish();
    }

    void finish()
    {
        done = true;
        if (internal) {
            InternalDone cb = std::move(internal);
            cb(*req);
        } else if (!follow) {
            w.mods_.on_resolved(q, *req);
        }
        if (reply) {
            const dns::Query& cq = follow ? client_q : q; // whom the answer is for
            size_t limit = udp ? udp_limit(cq, reply->limit()) : reply->limit();
            std::vector<uint8_t> buf(limit);
            dns::ResponseBuilder b(buf, limit);
            if (w.begin_answer(cq, b)) {
                if (follow) {
                    follow->complete(*req, b);
                } else {
                    req->write_answer(b);
                    if (opts && w.follow_up(q, *opts, udp, pad, b,
                                            [this] { return std::move(reply); }) ==
                                    Follow::deferred) {
                        w.retire(this);
                        return;
                    }
                }
                if (!w.policy_.postrules().empty()) {
                    policy::Client c;
                    c.src = peer.ss_family ? reinterpret_cast<const sockaddr*>(&peer) : nullptr;
                    c.tcp = stream;
                    w.apply_postrules(cq, c, b);
                }
                w.mods_.on_answer(cq, true, b.rcode(), b, !udp);
                b.set_padding(pad);
                size_t n = b.finish(w.edns_size_);
                reply->send({buf.data(), n});
            }
        }
        w.retire(this);
    }
};

Worker::Worker(const modules::Registry& mods, const policy::Policy& policy,
               const resolve::LocalHints& hints)
    : mods_(mods), policy_(policy), hints_(hints)
{
}

Worker::~Worker() = default;

void Worker::set_request_defaults(resolve::RequestOptions defaults, net::UpstreamSource src)
{
    defaults_ = std::move(defaults);
    mods_.adjust_request(defaults_); // flags of the loaded modules (ta_sentinel)
    source_ = std::move(src);
    if (tls_pool_) tls_pool_->set_source(source_);
}

void Worker::set_resolver(resolve::Resolver* r, event_base* base)
{
    resolver_ = r;
    base_ = base;
    if (!tls_pool_ || tls_base_ != base) {
        tls_pool_ = std::make_unique<net::TlsUpstreamPool>(base, source_);
        tls_base_ = base;
    }
    reaper_.reset(evtimer_new(
        base_, [](evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->retired_.clear(); },
        this));
}

bool Worker::answer_hinted_reverse(const dns::Query& q, dns::ResponseBuilder& b) const
{
    // The reverse name of a hinted address: its PTR is the name last given
    // that address; other types get NODATA, as for the names themselves.
    const auto name = q.qname_lower.view();
    const auto bytes = resolve::reverse_address(name);
    if (!bytes) return false;
    const auto* target = hints_.ptr_target(*bytes);
    if (target == nullptr) return false;
    if (q.qtype != dns::type::PTR) return hints_.use_nodata;
    if (!b.add_rr(dns::Section::answer, name, dns::type::PTR, dns::klass::IN, hints_.ttl, *target))
        b.set_tc(true);
    return true;
}

void Worker::apply_postrules(const dns::Query& q, const policy::Client& c,
                             dns::ResponseBuilder& b) const
{
    // Knot Resolver 5.6 runs them in its finish phase, not for a failed
    // request (here: SERVFAIL), on the client's question.
    if (b.rcode() == dns::rcode::SERVFAIL) return;
    const policy::Decision d = policy_.evaluate_post(q, defaults_, c);
    switch (d.final) {
    case policy::ActionKind::deny:
    case policy::ActionKind::drop:
    case policy::ActionKind::refuse:
    case policy::ActionKind::answer:
    case policy::ActionKind::done:
    case policy::ActionKind::fail:
        // The final action's answer replaces the one written.
        if (begin_answer(q, b)) policy::write_answer(d.final, d.action, q, b);
        return;
    case policy::ActionKind::reroute: // rewrites the answer written
        if (d.action && d.action->reroute) policy::reroute_answer(*d.action->reroute, b);
        return;
    default: return; // PASS, FORWARD, chain actions: too late to matter
    }
}

bool Worker::begin_answer(const dns::Query& q, dns::ResponseBuilder& b) const
{
    // Room for the modules' options (NSID) and an Extended DNS Error; a
    // small client buffer may not hold them too: then answer without them.
    if (b.begin(q, dns::rcode::NOERROR, mods_.option_reserve(q) + resolve::Request::ede_reserve()))
        return true;
    return b.begin(q, dns::rcode::NOERROR);
}

uint16_t Worker::padding_for(const dns::Query& q, net::Transport t) const
{
    // RFC 7830 3: a padded query gets a padded answer; never in the clear (6).
    const bool encrypted = t == net::Transport::tls || t == net::Transport::https;
    return encrypted && q.edns.padding ? padding_ : 0;
}

void Worker::retire(Pending* p)
{
    p->upstream.cancel(); // no more events for it; it is freed from the loop
    if (p->tls_ticket != 0 && tls_pool_) tls_pool_->cancel(p->tls_ticket);
    p->tls_ticket = 0;
    retired_.push_back(std::move(*p->pos));
    pending_.erase(p->pos);
    stats_.concurrent = pending_.size();
    // Activated, not re-added with a zero timeout: libevent takes a timer
    // that is due but not yet run off the active list when it is added
    // again, so under steady traffic (a retire in every loop pass) the
    // reaper never ran and every finished request stayed in memory.
    event_active(reaper_.get(), EV_TIMEOUT, 0);
}

namespace {

// Knot Resolver 5.6 resolves class IN questions of ordinary types only: other
// classes and libknot's meta types (SIG, OPT, TKEY, TSIG, IXFR, AXFR, ANY)
// get SERVFAIL before any policy rule, special name or hint is consulted.
bool resolvable(const dns::Query& q)
{
    if (q.qclass != dns::klass::IN) return false;
    switch (q.qtype) {
    case 24: // SIG
    case dns::type::OPT:
    case 249: // TKEY
    case 250: // TSIG
    case dns::type::IXFR:
    case dns::type::AXFR:
    case dns::type::ANY: return false;
    default: return true;
    }
}

} // namespace

bool Worker::answer_hints(const dns::Query& q, dns::ResponseBuilder& b) const
{
    if (hints_.empty() || q.qclass != dns::klass::IN) return false;
    auto name = q.qname_lower.view();
    // As Knot Resolver 5.6's hints: a name under arpa. is only ever a
    // reverse name, even when it was also given addresses.
    static const dns::Name arpa = [] {
        dns::Name n;
        dns::name_from_text("arpa.", n);
        return n;
    }();
    auto it = hints_.names.find(name);
    if (it == hints_.names.end() || dns::name_in_zone(name, arpa.view()))
        return answer_hinted_reverse(q, b);
    // A hinted name is answered here whatever the type (ANY and the other
    // meta types never get here): the addresses of the family asked for,
    // else NODATA (as Knot Resolver's hints do by default). Resolving the
    // other types would let an AAAA query get NXDOMAIN for a name whose A
    // the hints give. hints.use_nodata(false) resolves them instead.
    const int family = q.qtype == dns::type::A ? AF_INET : q.qtype == dns::type::AAAA ? AF_INET6 : 0;
    bool any = false;
    for (const auto& a : it->second) {
        if (a.family() != family) continue;
        any = true;
        if (!b.add_rr(dns::Section::answer, name, q.qtype, dns::klass::IN, hints_.ttl,
                      resolve::address_bytes(a)))
            b.set_tc(true);
    }
    return any || hints_.use_nodata;
}

bool Worker::resolve_internal(const dns::Name& name, uint16_t type, InternalFlags flags,
                              InternalDone done)
{
    if (!resolver_ || pending_.size() >= kMaxPending || !done) return false;
    dns::Query q;
    q.qname = name;
    q.qname_lower = name;
    dns::name_lower(q.qname_lower);
    q.qtype = type;
    q.qclass = dns::klass::IN;
    q.rd = true;
    q.cd = flags.cd;
    q.edns.present = true;
    q.edns.do_bit = true;
    q.edns.udp_size = dns::kDefaultEdnsSize;
    resolve::RequestOptions opts = defaults_;
    opts.no_cache = opts.no_cache || flags.no_cache;
    if (flags.refresh) {
        // A refresh goes where a client's question would (FORWARD, STUB),
        // as Knot Resolver's resolve() passes the policy; answered by a
        // rule (DENY...): nothing to refresh.
        const policy::Decision d = policy_.evaluate(q, defaults_);
        if (d.final != policy::ActionKind::pass && d.final != policy::ActionKind::forward &&
            d.final != policy::ActionKind::stub)
            return false;
        opts = d.options();
        opts.refresh = true;
    }
    auto p = std::make_unique<Pending>(*this, q, false, 0, opts);
    p->internal = std::move(done);
    Pending* raw = p.get();
    pending_.push_back(std::move(p));
    raw->pos = std::prev(pending_.end());
    stats_.concurrent = pending_.size();
    // Started from the loop, so that `done` never runs inside this call
    // (an answer from the cache would otherwise finish at once). The event
    // belongs to the Pending: freed with it, whenever that is.
    raw->kick.reset(evtimer_new(
        base_, [](evutil_socket_t, short, void* arg) { static_cast<Pending*>(arg)->advance(); },
        raw));
    event_active(raw->kick.get(), EV_TIMEOUT, 0);
    return true;
}

Worker::Follow Worker::follow_up(const dns::Query& q, const resolve::RequestOptions& opts, bool udp,
                                 uint16_t pad, dns::ResponseBuilder& b, const TakeReply& take)
{
    auto f = mods_.follow_up(q, opts, b);
    return f ? start_follow_up(q, std::move(f), opts, udp, pad, b, take) : Follow::skipped;
}

Worker::Follow Worker::start_follow_up(const dns::Query& q, std::unique_ptr<modules::FollowUp> f,
                                       const resolve::RequestOptions& opts, bool udp, uint16_t pad,
                                       dns::ResponseBuilder& b, const TakeReply& take)
{
    if (!f || !resolver_ || pending_.size() >= kMaxPending) return Follow::skipped;
    dns::Query fq = q; // the client's flags: RD, CD, DO, EDNS
    fq.qname = f->name;
    fq.qname_lower = f->name;
    dns::name_lower(fq.qname_lower);
    fq.qtype = f->type;
    fq.qclass = dns::klass::IN;
    auto p = std::make_unique<Pending>(*this, fq, udp, pad, opts);
    resolve::Outgoing o;
    if (p->req->produce(o) == resolve::Step::done) { // from the cache: answer now
        if (!begin_answer(q, b)) return Follow::skipped; // cannot happen: it fitted before
        f->complete(*p->req, b);
        return Follow::answered;
    }
    p->reply = take ? take() : nullptr;
    if (!p->reply) return Follow::skipped; // no way to answer later: `b` as it was
    p->follow = std::move(f);
    p->client_q = q;
    Pending* raw = p.get();
    pending_.push_back(std::move(p));
    raw->pos = std::prev(pending_.end());
    stats_.concurrent = pending_.size();
    raw->send(o);
    return Follow::deferred;
}

bool Worker::resolve(const dns::Name& name, uint16_t type, bool cd, Done done)
{
    return resolve_internal(name, type, {cd, false}, std::move(done));
}

bool Worker::refresh(const dns::Name& name, uint16_t type, Done done)
{
    return resolve_internal(name, type, {false, false, true}, std::move(done));
}

namespace {

// A module's one-shot timer on the worker's loop; freed = cancelled.
class LoopTimer final : public modules::Services::Timer {
public:
    LoopTimer(event_base* base, uint64_t ms, std::function<void()> fn) : fn_(std::move(fn))
    {
        ev_.reset(evtimer_new(base, &LoopTimer::fire, this));
        timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
        if (ev_) event_add(ev_.get(), &tv);
    }

private:
    static void fire(evutil_socket_t, short, void* arg)
    {
        // The callback may free this timer (a module re-arms its only
        // timer): nothing of `this` is touched after it starts.
        auto fn = std::move(static_cast<LoopTimer*>(arg)->fn_);
        if (fn) fn();
    }

    std::function<void()> fn_;
    net::EventPtr ev_;
};

} // namespace

std::unique_ptr<modules::Services::Timer> Worker::after(uint64_t ms, std::function<void()> fn)
{
    if (!base_) return nullptr;
    return std::make_unique<LoopTimer>(base_, ms, std::move(fn));
}

resolve::Config& Worker::resolver_config() { return resolver_->config(); }

cache::Cache* Worker::cache() { return resolver_ ? resolver_->cache() : nullptr; }

uint64_t Worker::wall_s() const
{
    const auto& clock = resolver_->clock();
    return clock.wall_s ? clock.wall_s() : static_cast<uint64_t>(std::time(nullptr));
}

void Worker::batch(bool on)
{
    if (cache::Cache* c = resolver_ ? resolver_->cache() : nullptr)
        c->hold_reads(on);
}

void Worker::mirror(std::span<const uint8_t> query, const policy::Decision& d)
{
    for (const policy::Action* a : d.mirrors) {
        for (const auto& t : a->targets) {
            net::Fd& fd = t.family() == AF_INET6 ? mirror6_ : mirror4_;
            if (!fd) {
                fd = net::Fd(::socket(t.family(), SOCK_DGRAM, 0));
                if (fd) {
                    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
                    ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
                }
            }
            if (!fd ||
                ::sendto(fd.get(), query.data(), query.size(), 0,
                         reinterpret_cast<const sockaddr*>(&t.ss), t.len) < 0)
                KR_LOG(debug, "policy", "MIRROR to %s: %s",
                       resolve::address_to_string(t).c_str(), std::strerror(errno));
        }
    }
}

size_t Worker::answer(std::span<const uint8_t> query, const net::ClientInfo& client,
                      std::span<uint8_t> out)
{
    dns::Query q;
    dns::ParseStatus st = dns::parse_query(query, q);
    if (st == dns::ParseStatus::drop) {
        ++stats_.dropped;
        return 0;
    }
    ++stats_.queries;
    const bool udp = client.transport == net::Transport::udp;
    size_t limit = udp ? udp_limit(q, out.size()) : out.size();

    dns::ResponseBuilder b(out, limit);
    const bool ok = st == dns::ParseStatus::ok;
    bool begun = false;
    switch (st) {
    case dns::ParseStatus::ok: {
        if (resolver_) resolver_->prefetch(q);
        begun = begin_answer(q, b);
        if (!begun) break;
        if (mods_.answer_early(q, b)) break; // refuse_nord: RD=0 is refused first
        if (!resolvable(q)) { // as Knot Resolver 5.6, before any policy rule
            b.set_rcode(dns::rcode::SERVFAIL);
            break;
        }

        // Knot Resolver 5.6's order: the policy rules; when none decided, the
        // special-use names (policy.special_names); then the hints (even after
        // PASS or FORWARD); then the cache and resolution. The view rules
        // (view:addr, view:tsig) come after the rules and the special names,
        // when neither finished the query, as 5.6's view module does.
        policy::Client pc = policy_client(client);
        policy::Decision d = policy_.evaluate(q, defaults_, pc);
        if (policy_.has_views() && policy::Policy::views_apply(d)) {
            if (!d.decided() && policy::maybe_special(q) && policy::answer_special(q, b)) break;
            dns::Name tsig_key;
            if (q.tsig_owner != 0 && dns::read_name_at(query, q.tsig_owner, tsig_key))
                pc.tsig_key = tsig_key.view();
            policy_.evaluate_views(q, pc, d);
        }
        if (!d.mirrors.empty()) mirror(query, d);
        switch (d.final) {
        case policy::ActionKind::deny:
        case policy::ActionKind::drop:
        case policy::ActionKind::refuse:
        case policy::ActionKind::done: // a Lua action's kres.DONE / kres.FAIL
        case policy::ActionKind::fail:
        case policy::ActionKind::answer: // policy.ANSWER, RPZ local data and NODATA
            // Knot Resolver 5.6's answers (DROP: SERVFAIL + EDE, not silence).
            policy::write_answer(d.final, d.action, q, b);
            break;
        case policy::ActionKind::no_answer: ++stats_.dropped; return 0;
        case policy::ActionKind::tc:
            if (udp) {
                b.set_tc(true);
                break;
            }
            [[fallthrough]];
        default:
            if (!d.decided() && policy::maybe_special(q) && policy::answer_special(q, b)) break;
            if (answer_hints(q, b)) break;
            if (!resolver_) {
                b.set_rcode(dns::rcode::REFUSED);
                break;
            }
            // A module's second question (dns64): instead of this one, or after it.
            const bool follow = mods_.follow_ups();
            auto take = [&client] { return client.defer ? client.defer() : nullptr; };
            if (follow) {
                const Follow r = start_follow_up(q, mods_.redirect(q, d.options()), d.options(),
                                                 udp, padding_for(q, client.transport), b, take);
                if (r == Follow::deferred) return net::kDeferred;
                if (r == Follow::answered) break;
            }
            if (resolver_->answer_from_cache(q, d.options(), b)) {
                if (follow && follow_up(q, d.options(), udp, padding_for(q, client.transport), b,
                                        take) == Follow::deferred)
                    return net::kDeferred;
                break;
            }
            const uint16_t pad = padding_for(q, client.transport);
            if (pending_.size() >= kMaxPending) { // overloaded: shed, the client retries
                ++stats_.dropped;
                return 0;
            }
            auto p = std::make_unique<Pending>(*this, q, udp, pad, d.options());
            resolve::Outgoing o;
            if (p->req->produce(o) == resolve::Step::done) { // answered from the cache
                p->req->write_answer(b);
                mods_.on_resolved(q, *p->req);
                if (follow && follow_up(q, d.options(), udp, pad, b, take) == Follow::deferred)
                    return net::kDeferred;
                break;
            }
            p->reply = client.defer ? client.defer() : nullptr;
            if (!policy_.postrules().empty() && client.peer) {
                std::memcpy(&p->peer, client.peer,
                            client.peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                               : sizeof(sockaddr_in));
                p->stream = !udp;
            }
            Pending* raw = p.get();
            pending_.push_back(std::move(p));
            raw->pos = std::prev(pending_.end());
            stats_.concurrent = pending_.size();
            raw->send(o);
            return net::kDeferred;
        }
        break;
    }
    case dns::ParseStatus::badvers: // RFC 6891 6.1.3
        begun = b.begin(q, dns::rcode::NOERROR);
        if (begun) b.set_rcode(dns::rcode::BADVERS);
        break;
    case dns::ParseStatus::notimp:
        begun = b.begin_header_only(q, dns::rcode::NOTIMP);
        break;
    default:
        begun = b.begin_header_only(q, dns::rcode::FORMERR);
        break;
    }
    if (!begun && b.begin_header_only(q, dns::rcode::NOERROR)) {
        b.set_tc(true); // not even the question fits: tell the client to use TCP
        return b.finish(edns_size_);
    }
    if (!begun) {
        ++stats_.dropped;
        return 0;
    }
    if (ok && !policy_.postrules().empty()) apply_postrules(q, policy_client(client), b);
    mods_.on_answer(q, ok, b.rcode(), b, !udp);
    b.set_padding(padding_for(q, client.transport));
    return b.finish(edns_size_);
}

} // namespace kresd::app
