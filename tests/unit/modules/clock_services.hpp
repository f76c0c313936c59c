// Services with a simulated clock, for module tests: after() timers fire
// when the test advances the clock with run(ms), in due order, and those
// a callback arms on the way fire too if they fall due before the end.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "modules/module.hpp"

namespace kresd::modules::test {

class ClockServices : public Services {
  public:
    std::unique_ptr<Timer> after(uint64_t ms, std::function<void()> fn) override {
        auto p = std::make_shared<Pending>();
        p->at = now_ms + ms;
        p->fn = std::move(fn);
        timers_.push_back(p);
        return std::make_unique<FakeTimer>(p);
    }
    uint64_t wall_s() const override { return wall0 + now_ms / 1000; }

    // Advances the clock by `ms`, firing what falls due on the way.
    void run(uint64_t ms) {
        const uint64_t end = now_ms + ms;
        for (;;) {
            std::shared_ptr<Pending> next;
            for (auto& p : timers_)
                if (p->alive && p->at <= end && (!next || p->at < next->at)) next = p;
            if (!next) break;
            now_ms = std::max(now_ms, next->at);
            next->alive = false;
            auto fn = std::move(next->fn);
            fn();
        }
        now_ms = end;
        std::erase_if(timers_, [](const auto& p) { return !p->alive; });
    }
    size_t live_timers() const {
        return static_cast<size_t>(
            std::count_if(timers_.begin(), timers_.end(), [](const auto& p) { return p->alive; }));
    }

    uint64_t wall0 = 0;
    uint64_t now_ms = 0;

  private:
    struct Pending {
        uint64_t at = 0;
        std::function<void()> fn;
        bool alive = true;
    };
    class FakeTimer final : public Timer {
      public:
        explicit FakeTimer(std::shared_ptr<Pending> p) : p_(std::move(p)) {}
        ~FakeTimer() override { p_->alive = false; }

      private:
        std::shared_ptr<Pending> p_;
    };
    std::vector<std::shared_ptr<Pending>> timers_;
};

} // namespace kresd::modules::test
