#include "zenith/kube/watch.h"

#include "zenith/common/log.h"
#include "zenith/kube/api_error.h"

namespace zenith::kube {

namespace log = common::log;

ResumableWatch::ResumableWatch(Client& client, GroupVersionResource type,
                               ResumableWatchOptions options, ResumableWatchHandler handler)
    : client_(client),
      type_(std::move(type)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      resource_version_(options_.start_resource_version),
      stream_lists_(options_.stream_lists) {}

ResumableWatch::~ResumableWatch() { Stop(); }

void ResumableWatch::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void ResumableWatch::Stop() {
  stopping_.store(true);
  cancel_.Cancel();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string ResumableWatch::last_resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

bool ResumableWatch::SleepUnlessStopped(common::Duration d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_.load();
}

bool ResumableWatch::StreamedListRefused(const Status& s, bool saw_foreign_event) const {
  // 400/422: the server knows the parameters and refuses them (the WatchList feature off). A
  // bookmark or change before the end-of-list marker, or a stream that ends without one: a
  // server that ignores sendInitialEvents.
  const int code = ApiHttpCode(s);
  return code == 400 || code == 422 || saw_foreign_event || s.ok();
}

void ResumableWatch::Run() {
  const std::string what =
      "watch " + type_.Name() + (options_.namespace_.empty() ? "" : " in " + options_.namespace_);
  common::Backoff backoff(options_.reconnect, reinterpret_cast<uintptr_t>(this));
  bool need_list = options_.start_resource_version.empty();
  bool listed_once = false;
  bool watched_once = false;
  while (!stopping_.load()) {
    const bool streamed_list = need_list && stream_lists_;
    if (need_list && !streamed_list) {
      ListOptions lo;
      lo.label_selector = options_.label_selector;
      lo.field_selector = options_.field_selector;
      lo.limit = options_.page_size;
      lo.fields = options_.fields;
      if (!listed_once && options_.first_list_from_cache) lo.resource_version = "0";
      list_requests_.fetch_add(1);
      auto list = client_.ListAll(type_, options_.namespace_, lo, handler_.transform);
      if (stopping_.load()) break;
      if (!list.ok()) {
        log::Warn("list failed; retrying", {{"watch", what}, {"error", list.status()}});
        if (!SleepUnlessStopped(backoff.Next())) break;
        continue;
      }
      std::string rv = ResourceVersionOf(*list);
      std::vector<Json> items;
      if (list->contains("items")) {
        for (auto& item : (*list)["items"]) items.push_back(std::move(item));
      }
      {
        std::lock_guard lock(mu_);
        resource_version_ = rv;
      }
      if (listed_once || !options_.start_resource_version.empty()) relists_.fetch_add(1);
      if (handler_.on_relist) handler_.on_relist(items, rv, !listed_once);
      listed_once = true;
      need_list = false;
    }
    WatchOptions wo;
    wo.label_selector = options_.label_selector;
    wo.field_selector = options_.field_selector;
    wo.timeout_seconds = options_.timeout_seconds;
    // A streamed list starts from now (a consistent read); a watch from where we are.
    wo.resource_version = streamed_list ? "" : last_resource_version();
    wo.send_initial_events = streamed_list;
    wo.fields = options_.fields;
    if (watched_once) reconnects_.fetch_add(1);
    watched_once = true;
    uint64_t events = 0;
    bool listing = streamed_list;  // still before the end-of-list bookmark
    bool foreign = false;          // something other than ADDED came before it
    std::vector<Json> items;
    const auto started = std::chrono::steady_clock::now();
    Status s = client_.Watch(
        type_, options_.namespace_, wo,
        [&](WatchEvent& ev) {
          ++events;
          if (listing) {
            if (ev.type == WatchEvent::Type::kAdded) {
              // Each object is trimmed as it arrives, as listed pages are.
              if (handler_.transform) handler_.transform(ev.object);
              items.push_back(std::move(ev.object));
              return !stopping_.load();
            }
            if (!IsInitialEventsEnd(ev)) {
              foreign = true;
              return false;
            }
            const std::string rv = ResourceVersionOf(ev.object);
            {
              std::lock_guard lock(mu_);
              resource_version_ = rv;
            }
            if (listed_once || !options_.start_resource_version.empty()) relists_.fetch_add(1);
            if (handler_.on_relist) handler_.on_relist(items, rv, !listed_once);
            items.clear();
            listed_once = true;
            need_list = false;
            listing = false;
            return !stopping_.load();
          }
          std::string rv = ResourceVersionOf(ev.object);
          if (!rv.empty()) {
            std::lock_guard lock(mu_);
            resource_version_ = rv;
          }
          if (handler_.on_event) handler_.on_event(ev);
          return !stopping_.load();
        },
        &cancel_);
    if (stopping_.load()) break;
    if (listing) {
      if (StreamedListRefused(s, foreign)) {
        log::Info("the API server does not stream lists; listing instead",
                  {{"watch", what}, {"error", s.ok() ? "no end-of-list bookmark" : s.ToString()}});
        stream_lists_ = false;
        continue;
      }
      log::Warn("streamed list interrupted; retrying", {{"watch", what}, {"error", s}});
      if (!SleepUnlessStopped(backoff.Next())) break;
      continue;
    }
    // A stream that delivered something, or stayed open a while, was healthy.
    const bool healthy =
        events > 0 || std::chrono::steady_clock::now() - started > std::chrono::seconds(1);
    if (healthy) backoff.Reset();
    if (IsGone(s)) {
      log::Info("resourceVersion expired; re-listing", {{"watch", what}, {"error", s}});
      need_list = true;
      continue;
    }
    if (s.ok() && healthy) continue;  // the server's timeout: resume at once
    if (!s.ok()) log::Warn("watch interrupted; resuming", {{"watch", what}, {"error", s}});
    if (!SleepUnlessStopped(backoff.Next())) break;
  }
}

}  // namespace zenith::kube
