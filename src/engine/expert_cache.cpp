// Expert cache (see expert_cache.h). Slot states:
//   Empty -> Queued (a reader or compute will read it) -> Loading -> Ready.
// A slot is evicted only when unpinned and not Loading. One mutex guards all
// bookkeeping; reads happen outside it.
#include "engine/expert_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "engine/model.h"
#include "engine/moe.h"
#include "kernels/matmul.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql {

namespace {
constexpr uint64_t kAlign = 4096;  // O_DIRECT offset/length/buffer alignment
using clock_t_ = std::chrono::steady_clock;
}  // namespace

ExpertPolicy parse_expert_policy(const std::string& s) {
  if (s == "lru") return ExpertPolicy::LRU;
  if (s == "lfu") return ExpertPolicy::LFU;
  throw Error("--expert-policy must be lru or lfu, not '" + s + "'");
}

const char* expert_policy_name(ExpertPolicy p) { return p == ExpertPolicy::LRU ? "lru" : "lfu"; }

// Where a mapped address lives in its file, from /proc/self/maps.
bool file_location(const void* p, std::string& path, uint64_t& off);  // expert_budget.cpp

ExpertCache::ExpertCache(const Model& model, const ExpertCacheOptions& opt) : m_(model), opt_(opt) {
  const HParams& hp = model.hparams();
  const Family& fam = model.family();
  if (!fam.moe) throw Error("--ram-budget: '" + hp.arch + "' has no routed experts");
  if (opt.slots < 1) throw Error("--ram-budget: no room for expert slots");
  n_expert_ = hp.n_expert;
  const int64_t n_keys = hp.n_layer * n_expert_;
  pieces_.resize(static_cast<size_t>(n_keys * 3));
  base_.resize(static_cast<size_t>(hp.n_layer * 3));
  std::vector<std::string> paths;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (!fam.layer_is_moe(il)) continue;
    const LayerWeights& L = model.weights().layers[static_cast<size_t>(il)];
    const ExpertWeights* parts[3] = {&L.gate_exps, &L.up_exps, &L.down_exps};
    uint64_t need = 0;
    for (int p = 0; p < 3; ++p) {
      const ExpertWeights& ew = *parts[p];
      base_[static_cast<size_t>(il * 3 + p)] = ew.w;
      std::string path;
      uint64_t off0 = 0;
      if (!file_location(ew.w.data, path, off0))
        throw Error("--ram-budget: expert tensors of layer " + std::to_string(il) +
                    " are not read from a file (safetensors experts are stacked in memory); use a GGUF file");
      size_t fi = std::find(paths.begin(), paths.end(), path) - paths.begin();
      if (fi == paths.size()) paths.push_back(path);
      for (int64_t e = 0; e < n_expert_; ++e) {
        Piece& pc = pieces_[static_cast<size_t>((il * n_expert_ + e) * 3 + p)];
        pc.fd = static_cast<int>(fi);
        pc.off = off0 + static_cast<uint64_t>(e) * ew.expert_bytes;
        pc.len = ew.expert_bytes;
        pc.a_off = pc.off & ~(kAlign - 1);
        pc.a_len = ((pc.off + pc.len + kAlign - 1) & ~(kAlign - 1)) - pc.a_off;
      }
    }
    for (int64_t e = 0; e < n_expert_; ++e) {
      uint64_t pos = 0;
      for (int p = 0; p < 3; ++p) {
        Piece& pc = pieces_[static_cast<size_t>((il * n_expert_ + e) * 3 + p)];
        pc.pos = pos;
        pos += pc.a_len;
      }
      need = std::max(need, pos);
    }
    slot_bytes_ = std::max(slot_bytes_, need);
  }
  // O_DIRECT keeps expert reads out of the page cache (which a cgroup limit
  // also counts); where the file system refuses it, read buffered and drop
  // the pages after each read.
  direct_ = opt.direct_io;
  for (const std::string& p : paths) {
    int fd = direct_ ? ::open(p.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC) : -1;
    if (fd < 0) {
      direct_ = false;
      fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) throw Error("--ram-budget: cannot open '" + p + "': " + std::strerror(errno));
    fds_.push_back(fd);
  }
  mem_bytes_ = static_cast<size_t>(slot_bytes_) * static_cast<size_t>(opt.slots);
  void* mem = ::mmap(nullptr, mem_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw Error("--ram-budget: cannot reserve " + std::to_string(mem_bytes_) + " bytes for experts");
  mem_ = static_cast<uint8_t*>(mem);
  if (direct_) {  // probe: some file systems accept O_DIRECT at open but fail reads
    const Piece& pc = *std::find_if(pieces_.begin(), pieces_.end(), [](const Piece& q) { return q.len > 0; });
    if (::pread(fds_[static_cast<size_t>(pc.fd)], mem_, kAlign, static_cast<off_t>(pc.a_off)) < 0) {
      direct_ = false;
      for (size_t i = 0; i < paths.size(); ++i) {
        ::close(fds_[i]);
        fds_[i] = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
        if (fds_[i] < 0) throw Error("--ram-budget: cannot open '" + paths[i] + "'");
      }
    }
    ::madvise(mem_, kAlign, MADV_DONTNEED);
  }
  slots_.resize(static_cast<size_t>(opt.slots));
  where_.assign(static_cast<size_t>(n_keys), -1);
  freq_.assign(static_cast<size_t>(n_keys), 0.0f);
  next_moe_.assign(static_cast<size_t>(hp.n_layer), -1);
  for (int64_t il = 0; il + 1 < hp.n_layer; ++il)
    if (fam.layer_is_moe(il) && fam.layer_is_moe(il + 1)) next_moe_[static_cast<size_t>(il)] = il + 1;
  pred_.resize(static_cast<size_t>(hp.n_layer));
  begun_.assign(static_cast<size_t>(hp.n_layer), 0);
  one_ = std::make_unique<ThreadPool>(1);
  for (int i = 0; i < std::max(1, opt.io_threads); ++i) io_.emplace_back([this] { io_loop(); });
}

ExpertCache::~ExpertCache() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : io_) t.join();
  for (int fd : fds_) ::close(fd);
  if (mem_) ::munmap(mem_, mem_bytes_);
}

ExpertHandle ExpertCache::handle(int64_t key, int32_t slot) const {
  ExpertHandle h;
  h.slot = slot;
  const int64_t il = key / n_expert_;
  uint8_t* s = mem_ + static_cast<uint64_t>(slot) * slot_bytes_;
  WeightView* out[3] = {&h.gate, &h.up, &h.down};
  for (int p = 0; p < 3; ++p) {
    const Piece& pc = pieces_[static_cast<size_t>(key * 3 + p)];
    *out[p] = base_[static_cast<size_t>(il * 3 + p)];
    out[p]->data = s + pc.pos + (pc.off - pc.a_off);
  }
  return h;
}

void ExpertCache::touch(int64_t key, int32_t slot) {
  slots_[static_cast<size_t>(slot)].last_use = ++tick_;
  freq_[static_cast<size_t>(key)] += 1.0f;
  // Aging: halve every count once per "all experts used once" worth of lookups,
  // so experts that were hot long ago lose their advantage.
  if (++since_decay_ >= freq_.size()) {
    for (float& f : freq_) f *= 0.5f;
    since_decay_ = 0;
  }
}

// Best slot to reuse, or -1. Classes (lower first): empty; ready and not
// protected; [demand only] queued prediction; fresh prediction; queued for
// the current layer. Within a class: policy order (LRU: oldest use; LFU:
// lowest decayed count, then oldest).
int32_t ExpertCache::find_victim(bool for_prefetch) {
  int32_t best = -1;
  int best_cls = 99;
  float best_f = 0;
  uint64_t best_t = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.pins > 0 || s.state == State::Loading) continue;
    int cls;
    if (s.state == State::Empty) cls = 0;
    else if (s.state == State::Ready) cls = s.prefetched && layer_clock_ - s.fetched_clock <= 1 ? 3 : 1;
    else cls = s.urgent ? 4 : 2;
    if (for_prefetch && cls > 1) continue;
    const float f = opt_.policy == ExpertPolicy::LFU && s.key >= 0 ? freq_[static_cast<size_t>(s.key)] : 0.0f;
    if (cls < best_cls || (cls == best_cls && (f < best_f || (f == best_f && s.last_use < best_t)))) {
      best = static_cast<int32_t>(i);
      best_cls = cls;
      best_f = f;
      best_t = s.last_use;
    }
    if (cls == 0) break;
  }
  return best;
}

int32_t ExpertCache::claim_slot(int64_t key, bool prefetch, std::unique_lock<std::mutex>& lk) {
  int32_t v = find_victim(prefetch);
  while (v < 0) {
    if (prefetch) return -1;
    cv_.wait(lk);  // every slot pinned or loading: wait for one to finish
    v = find_victim(false);
  }
  Slot& s = slots_[static_cast<size_t>(v)];
  if (s.key >= 0) where_[static_cast<size_t>(s.key)] = -1;
  s = Slot{};
  s.key = key;
  s.state = State::Queued;
  s.last_use = tick_;
  s.fetched_clock = layer_clock_;
  where_[static_cast<size_t>(key)] = v;
  return v;
}

// Reads one expert into its slot (called without the lock; the slot is Loading).
void ExpertCache::read_into(int64_t key, int32_t slot) {
  uint8_t* dst = mem_ + static_cast<uint64_t>(slot) * slot_bytes_;
  uint64_t total = 0;
  for (int p = 0; p < 3; ++p) {
    const Piece& pc = pieces_[static_cast<size_t>(key * 3 + p)];
    const int fd = fds_[static_cast<size_t>(pc.fd)];
    const uint64_t need = pc.off - pc.a_off + pc.len;
    uint64_t got = 0;
    while (got < need) {
      const ssize_t r = ::pread(fd, dst + pc.pos + got, pc.a_len - got, static_cast<off_t>(pc.a_off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw Error("--ram-budget: reading expert " + std::to_string(key % n_expert_) + " of layer " +
                              std::to_string(key / n_expert_) + " failed: " + (r < 0 ? std::strerror(errno) : "end of file"));
      got += static_cast<uint64_t>(r);
    }
    if (!direct_) ::posix_fadvise(fd, static_cast<off_t>(pc.a_off), static_cast<off_t>(pc.a_len), POSIX_FADV_DONTNEED);
    total += got;
  }
  std::lock_guard<std::mutex> lk(mu_);
  st_.loads += 1;
  st_.bytes_read += total;
  if (slots_[static_cast<size_t>(slot)].prefetched) st_.prefetch_loads += 1;
}

// Reads a Queued/new slot on this thread: marks it Loading, drops the lock for the read.
void ExpertCache::load_locked(int64_t key, int32_t slot, std::unique_lock<std::mutex>& lk) {
  Slot& s = slots_[static_cast<size_t>(slot)];
  s.state = State::Loading;
  s.pins += 1;  // nobody may evict it while its bytes arrive
  lk.unlock();
  try {
    read_into(key, slot);
  } catch (...) {
    lk.lock();
    s.pins -= 1;
    s.state = State::Empty;
    where_[static_cast<size_t>(key)] = -1;
    s.key = -1;
    cv_.notify_all();
    throw;
  }
  lk.lock();
  s.pins -= 1;
  s.state = State::Ready;
  cv_.notify_all();
}

void ExpertCache::begin_layer(int64_t il, const int32_t* experts, int64_t n_experts, const float* resid, int64_t n) {
  std::unique_lock<std::mutex> lk(mu_);
  ++layer_clock_;
  begun_[static_cast<size_t>(il)] = layer_clock_;
  std::vector<int32_t>& pred = pred_[static_cast<size_t>(il)];
  for (int32_t e : pred)
    if (std::find(experts, experts + n_experts, e) != experts + n_experts) st_.predicted_right += 1;
  pred.clear();
  // Queue this layer's missing experts so readers fetch them while compute
  // works through the ones already here (at most half the slots).
  int64_t queued = 0;
  for (int64_t i = 0; i < n_experts && queued < slots() / 2; ++i) {
    const int64_t key = il * n_expert_ + experts[i];
    if (where_[static_cast<size_t>(key)] >= 0) continue;
    const int32_t s = claim_slot(key, true, lk);
    if (s < 0) break;
    slots_[static_cast<size_t>(s)].urgent = true;
    urgent_.push_back(key);
    ++queued;
  }
  if (opt_.prefetch && n <= opt_.max_predict_rows && next_moe_[static_cast<size_t>(il)] >= 0) {
    const int64_t E = m_.hparams().n_embd;
    predict_in_.assign(resid, resid + n * E);
    predict_layer_ = il;
    predict_rows_ = n;
    predict_clock_ = layer_clock_;
    predict_pending_ = true;
  }
  lk.unlock();
  cv_.notify_all();
}

ExpertHandle ExpertCache::acquire(int64_t il, int64_t e) {
  const int64_t key = il * n_expert_ + e;
  std::unique_lock<std::mutex> lk(mu_);
  st_.lookups += 1;
  bool first = true;
  const auto t0 = clock_t_::now();
  for (;;) {
    int32_t s = where_[static_cast<size_t>(key)];
    if (s >= 0 && slots_[static_cast<size_t>(s)].state == State::Ready) {
      Slot& sl = slots_[static_cast<size_t>(s)];
      // Ready at lookup: kept from earlier use (hit), brought by a prediction
      // (prefetch hit), or read for this layer by the readers in time (late).
      if (first) (sl.urgent ? st_.late : sl.prefetched ? st_.prefetch_hits : st_.hits) += 1;
      if (sl.prefetched) st_.prefetch_used += 1;
      sl.prefetched = sl.urgent = false;
      sl.pins += 1;
      touch(key, s);
      if (!first) st_.wait_ms += std::chrono::duration<double, std::milli>(clock_t_::now() - t0).count();
      return handle(key, s);
    }
    if (s >= 0 && slots_[static_cast<size_t>(s)].state == State::Loading) {
      if (first) st_.late += 1;
      first = false;
      cv_.wait(lk);
      continue;
    }
    if (s >= 0) {  // Queued: read it here rather than wait for a reader
      if (first) st_.late += 1;
    } else {
      if (first) st_.misses += 1;
      s = claim_slot(key, false, lk);
    }
    first = false;
    load_locked(key, s, lk);
  }
}

void ExpertCache::release(const ExpertHandle& h) {
  if (h.slot < 0) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    slots_[static_cast<size_t>(h.slot)].pins -= 1;
  }
  cv_.notify_all();
}

// The next MoE layer's likely experts: its router on its own FFN norm of the
// current residual (the attention of the next layer has not run yet, so this
// is a guess). Runs on a reader thread.
std::vector<int32_t> ExpertCache::predict(int64_t il, const std::vector<float>& resid, int64_t n) {
  const HParams& hp = m_.hparams();
  const Family& fam = m_.family();
  const int64_t nl = next_moe_[static_cast<size_t>(il)], E = hp.n_embd, X = n_expert_, K = hp.n_expert_used;
  const LayerWeights& L = m_.weights().layers[static_cast<size_t>(nl)];
  std::vector<float> h(static_cast<size_t>(n * E)), logits(static_cast<size_t>(n * X)), w(static_cast<size_t>(K)), tmp;
  std::vector<int32_t> sel(static_cast<size_t>(K)), all;
  const float eps = static_cast<float>(hp.norm_eps);
  for (int64_t t = 0; t < n; ++t) {
    if (fam.norm == NormKind::Layer) ops::layer_norm(resid.data() + t * E, L.ffn_norm.ptr(), L.ffn_norm_b.ptr(), eps, E, h.data() + t * E);
    else ops::rms_norm(resid.data() + t * E, L.ffn_norm.ptr(), eps, E, h.data() + t * E);
  }
  matmul(L.ffn_gate_inp, h.data(), n, logits.data(), *one_);
  for (int64_t t = 0; t < n; ++t) {
    moe_route(fam, X, K, logits.data() + t * X, L.exp_probs_b.ptr(), sel.data(), w.data(), tmp);
    for (int32_t e : sel)
      if (std::find(all.begin(), all.end(), e) == all.end()) all.push_back(e);
  }
  return all;
}

// Records a prediction for layer nl and queues the reads it implies.
void ExpertCache::apply_prediction(int64_t nl, const std::vector<int32_t>& all, uint64_t clock,
                                   std::unique_lock<std::mutex>& lk) {
  if (begun_[static_cast<size_t>(nl)] > clock) return;  // too late: that layer already ran
  pred_[static_cast<size_t>(nl)] = all;
  st_.predicted += all.size();
  for (int32_t e : all) {
    const int64_t key = nl * n_expert_ + e;
    if (where_[static_cast<size_t>(key)] >= 0) continue;
    const int32_t s = claim_slot(key, true, lk);
    if (s < 0) break;
    slots_[static_cast<size_t>(s)].prefetched = true;
    ahead_.push_back(key);
  }
}

void ExpertCache::io_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || (predict_pending_ && !predicting_) || !urgent_.empty() || !ahead_.empty(); });
    if (stop_) return;
    if (predict_pending_ && !predicting_) {
      predict_pending_ = false;
      predicting_ = true;
      std::vector<float> in = predict_in_;
      const int64_t il = predict_layer_, n = predict_rows_;
      const uint64_t clock = predict_clock_;
      lk.unlock();
      std::vector<int32_t> pred = predict(il, in, n);
      lk.lock();
      apply_prediction(next_moe_[static_cast<size_t>(il)], pred, clock, lk);
      predicting_ = false;
      cv_.notify_all();
      continue;
    }
    std::deque<int64_t>& q = !urgent_.empty() ? urgent_ : ahead_;
    const int64_t key = q.front();
    q.pop_front();
    const int32_t s = where_[static_cast<size_t>(key)];
    if (s < 0 || slots_[static_cast<size_t>(s)].state != State::Queued) continue;  // evicted or taken by compute
    try {
      load_locked(key, s, lk);
    } catch (const std::exception&) {
      // Compute will retry the read itself and report the error.
    }
  }
}

ExpertCacheStats ExpertCache::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return st_;
}

void ExpertCache::clear_stats() {
  std::lock_guard<std::mutex> lk(mu_);
  st_ = ExpertCacheStats{};
}

}  // namespace larql

namespace larql {

ExpertPin::ExpertPin(const LayerWeights& L, const ExpertSource* src, int64_t e) {
  if (src && src->cache) {
    cache = src->cache;
    h = cache->acquire(src->layer, e);
  } else {
    h.gate = L.gate_exps.at(e);
    h.up = L.up_exps.at(e);
    h.down = L.down_exps.at(e);
  }
}

ExpertPin::~ExpertPin() {
  if (cache) cache->release(h);
}

void experts_begin(const ExpertSource* src, const std::vector<int64_t>& start, int64_t n_rows) {
  if (!src || !src->cache) return;
  thread_local std::vector<int32_t> used;
  used.clear();
  for (size_t e = 0; e + 1 < start.size(); ++e)
    if (start[e + 1] > start[e]) used.push_back(static_cast<int32_t>(e));
  src->cache->begin_layer(src->layer, used.data(), static_cast<int64_t>(used.size()), src->resid, n_rows);
}

}  // namespace larql
