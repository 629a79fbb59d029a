#include "zenith/kube/informer.h"

namespace zenith::kube {

std::shared_ptr<const FieldMask> AllButManagedFields() {
  static const auto kMask =
      std::make_shared<const FieldMask>(FieldMask().Drop("metadata.managedFields"));
  return kMask;
}

Informer::Informer(Client& client, GroupVersionResource type, ResumableWatchOptions options)
    : client_(client), type_(std::move(type)), options_(std::move(options)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(InformerHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::SetTransform(InformerTransform transform) { transform_ = std::move(transform); }

void Informer::SetFields(std::shared_ptr<const FieldMask> fields) {
  options_.fields = std::move(fields);
}

void Informer::Start() {
  if (watch_) return;
  ResumableWatchHandler h;
  h.on_relist = [this](std::vector<Json>& items, const std::string& rv, bool initial) {
    OnRelist(items, rv, initial);
  };
  h.on_event = [this](WatchEvent& ev) { OnEvent(ev); };
  h.transform = transform_;  // listed items are trimmed page by page, as they arrive
  watch_ = std::make_unique<ResumableWatch>(client_, type_, options_, std::move(h));
  watch_->Start();
}

void Informer::Stop() {
  if (watch_) watch_->Stop();
}

bool Informer::HasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return synced_cv_.wait_for(lock, timeout, [this] { return synced_; });
}

std::optional<Json> Informer::Get(const std::string& key) const {
  SharedObject obj = GetShared(key);
  if (!obj) return std::nullopt;
  return *obj;
}

SharedObject Informer::GetShared(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<Json> Informer::List() const {
  std::vector<Json> out;
  for (const SharedObject& obj : ListShared()) out.push_back(*obj);
  return out;
}

std::vector<SharedObject> Informer::ListShared() const {
  std::lock_guard lock(mu_);
  std::vector<SharedObject> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

std::vector<std::string> Informer::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : cache_) out.push_back(k);
  return out;
}

size_t Informer::Size() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

std::string Informer::last_resource_version() const {
  return watch_ ? watch_->last_resource_version() : std::string();
}

void Informer::OnRelist(std::vector<Json>& items, const std::string& rv, bool initial) {
  std::vector<SharedObject> added;
  std::vector<std::pair<SharedObject, SharedObject>> updated;
  std::vector<SharedObject> deleted;
  bool first = false;
  {
    std::map<std::string, SharedObject> next;
    for (auto& item : items) {
      std::string key = ObjectKey(item);
      next.emplace(std::move(key), std::make_shared<const Json>(std::move(item)));
    }
    std::lock_guard lock(mu_);
    for (const auto& [key, obj] : next) {
      auto it = cache_.find(key);
      if (it == cache_.end()) {
        added.push_back(obj);
      } else if (ResourceVersionOf(*it->second) != ResourceVersionOf(*obj)) {
        updated.emplace_back(it->second, obj);
      }
    }
    for (auto& [key, old] : cache_) {
      if (!next.count(key)) deleted.push_back(std::move(old));
    }
    cache_ = std::move(next);
    first = !synced_;
  }
  for (const auto& h : handlers_) {
    for (const auto& d : deleted) {
      if (h.on_delete) h.on_delete(*d);
    }
    for (const auto& a : added) {
      if (h.on_add) h.on_add(*a);
    }
    for (const auto& [o, n] : updated) {
      if (h.on_update) h.on_update(*o, *n);
    }
  }
  // Synced only once every handler has seen the first list (client-go's HasSynced means the
  // same): a controller that starts its workers after WaitForSync must not find an index its
  // handlers are still building, or it takes a worker whose pod is not indexed yet for lost.
  if (first) {
    {
      std::lock_guard lock(mu_);
      synced_ = true;
    }
    synced_cv_.notify_all();
  }
}

void Informer::OnEvent(WatchEvent& ev) {
  if (ev.type == WatchEvent::Type::kBookmark || ev.type == WatchEvent::Type::kError) return;
  Json copy = std::move(ev.object);
  if (transform_) transform_(copy);
  auto obj = std::make_shared<const Json>(std::move(copy));
  const std::string key = ObjectKey(*obj);
  SharedObject old;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) old = it->second;
    if (ev.type == WatchEvent::Type::kDeleted) {
      if (it != cache_.end()) cache_.erase(it);
    } else {
      cache_[key] = obj;
    }
  }
  for (const auto& h : handlers_) {
    if (ev.type == WatchEvent::Type::kDeleted) {
      if (h.on_delete) h.on_delete(*obj);
    } else if (old) {
      if (h.on_update) h.on_update(*old, *obj);
    } else if (h.on_add) {
      h.on_add(*obj);
    }
  }
}

}  // namespace zenith::kube
