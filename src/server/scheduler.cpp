#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/stop.h"
#include "engine/text_stream.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace larql::server {

struct Scheduler::Slot {
  Session session;
  std::vector<int32_t> cached;   // tokens whose KV is in the session
  std::shared_ptr<Job> job;      // null: free
  std::vector<int32_t> pending;  // tokens still to evaluate (rest of the prompt, or the last sampled one)
  size_t pending_off = 0;
  int64_t in_batch = 0;          // tokens of `pending` in the current batch
  std::optional<Sampler> sampler;
  std::optional<StopChecker> stop;
  std::optional<TextStream> stream;
  std::vector<float> logits;
  JobResult res;
  Clock::time_point last_token;
  explicit Slot(Session s) : session(std::move(s)) {}
};

Scheduler::Scheduler(const Model& model, const SchedulerOptions& opt, Metrics* metrics)
    : model_(model), opt_(opt), metrics_(metrics) {
  if (opt.n_slots < 1 || opt.n_slots > 256) throw Error("--parallel must be between 1 and 256");
  pool_ = std::make_shared<ThreadPool>(opt.n_threads > 0 ? opt.n_threads
                                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  SessionOptions so;
  so.n_ctx = opt.n_ctx;
  so.kv_type = opt.kv_type;
  so.pool = pool_;
  for (int i = 0; i < opt.n_slots; ++i) slots_.push_back(std::make_unique<Slot>(Session(model, so)));
  n_ctx_ = slots_[0]->session.n_ctx();
  if (metrics_) metrics_->set_slots(opt.n_slots);
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(); }

Scheduler::Submit Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) return Submit::Stopped;
    // Free slots take requests at once; beyond them, at most max_queue wait.
    const size_t free_slots = slots_.size() - static_cast<size_t>(active_);
    if (queue_.size() >= opt_.max_queue + free_slots) return Submit::Full;
    queue_.push_back(std::move(job));
    if (metrics_) metrics_->set_queue_depth(static_cast<int64_t>(queue_.size()));
  }
  cv_.notify_one();
  return Submit::Ok;
}

void Scheduler::shutdown() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  JobResult r;
  r.finish_reason = "error";
  r.error_status = 503;
  r.error = "the server is shutting down";
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& j : queue_) j->finish(r);
  queue_.clear();
  for (auto& s : slots_)
    if (s->job) {
      s->job->finish(r);
      s->job.reset();
    }
}

void Scheduler::publish_gauges() {
  if (!metrics_) return;
  std::lock_guard<std::mutex> lk(mu_);
  metrics_->set_queue_depth(static_cast<int64_t>(queue_.size()));
  metrics_->set_active_slots(active_);
}

void Scheduler::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> embeds;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || active_ > 0; });
      if (stop_) return;
    }
    admit(embeds);
    for (auto& e : embeds) run_embed(*e);
    publish_gauges();
    step();
  }
}

// Moves queued jobs into free slots (embedding jobs out to `embeds`); drops
// queued jobs that were cancelled or timed out while waiting.
void Scheduler::admit(std::vector<std::shared_ptr<Job>>& embeds) {
  std::vector<std::shared_ptr<Job>> starting, dropped;
  {
    std::lock_guard<std::mutex> lk(mu_);
    const auto now = Clock::now();
    int free_slots = static_cast<int>(slots_.size()) - active_;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Job& j = **it;
      if (j.cancelled() || now > j.deadline) {
        dropped.push_back(*it);
      } else if (j.kind == Job::Kind::Embed) {
        if (!embeds.empty()) { ++it; continue; }  // one per step keeps decodes flowing
        embeds.push_back(*it);
      } else if (free_slots > 0) {
        starting.push_back(*it);
        --free_slots;
      } else {
        ++it;
        continue;
      }
      it = queue_.erase(it);
    }
    active_ += static_cast<int>(starting.size());
  }
  for (auto& j : dropped) {
    JobResult r;
    r.finish_reason = j->cancelled() ? "cancelled" : "timeout";
    j->finish(r);
  }
  for (auto& j : starting) {
    // The slot whose cache shares the longest prefix with the prompt (multi-turn chat reuse).
    Slot* best = nullptr;
    size_t best_len = 0;
    for (auto& s : slots_) {
      if (s->job) continue;
      const size_t n = std::mismatch(s->cached.begin(), s->cached.end(), j->prompt.begin(), j->prompt.end()).first -
                       s->cached.begin();
      if (!best || n > best_len) best = s.get(), best_len = n;
    }
    start(*best, j);
  }
}

void Scheduler::start(Slot& s, std::shared_ptr<Job> job) {
  const auto& prompt = job->prompt;
  size_t keep = 0;
  while (keep < s.cached.size() && keep + 1 < prompt.size() && s.cached[keep] == prompt[keep]) ++keep;
  s.session.truncate(static_cast<int64_t>(keep));
  s.cached.resize(keep);
  s.pending.assign(prompt.begin() + static_cast<long>(keep), prompt.end());
  s.pending_off = 0;
  s.res = JobResult{};
  s.res.n_prompt = static_cast<int64_t>(prompt.size());
  s.res.n_reused = static_cast<int64_t>(keep);
  const Tokenizer& tok = model_.tokenizer();
  try {
    s.sampler.emplace(job->sampling);
    for (int32_t t : prompt) s.sampler->accept(t);
    s.stop.emplace(StopChecker::for_tokenizer(tok, job->stop));
    s.stream.emplace(tok, true);
    s.stream->continue_text();
  } catch (const Error& e) {
    JobResult r;
    r.finish_reason = "error";
    r.error_status = 400;
    r.error = e.what();
    release_slot();
    job->finish(r);
    return;
  }
  s.job = std::move(job);
}

void Scheduler::step() {
  const auto now = Clock::now();
  for (auto& s : slots_) {
    if (!s->job) continue;
    if (s->job->cancelled()) end(*s, "cancelled");
    else if (now > s->job->deadline) end(*s, "timeout");
  }
  std::vector<BatchItem> items;
  std::vector<Slot*> in;
  for (auto& s : slots_) {
    if (!s->job) continue;
    const int64_t left = static_cast<int64_t>(s->pending.size() - s->pending_off);
    s->in_batch = std::min(left, opt_.prefill_chunk);
    items.push_back({&s->session, s->pending.data() + s->pending_off, s->in_batch, false, &s->logits});
    in.push_back(s.get());
  }
  if (items.empty()) return;
  try {
    eval_batch(items);
  } catch (const std::exception& e) {
    for (Slot* s : in) {
      s->session.reset();
      s->cached.clear();
      s->res.error_status = 500;
      s->res.error = std::string("evaluation failed: ") + e.what();
      end(*s, "error");
    }
    return;
  }
  for (Slot* s : in) {
    s->cached.insert(s->cached.end(), s->pending.begin() + static_cast<long>(s->pending_off),
                     s->pending.begin() + static_cast<long>(s->pending_off + static_cast<size_t>(s->in_batch)));
    s->pending_off += static_cast<size_t>(s->in_batch);
    if (metrics_) metrics_->add_tokens(s->res.n_generated == 0 ? s->in_batch : 0, 0);
    if (s->pending_off == s->pending.size()) after_eval(*s);
  }
}

// The slot's last token has logits: sample the next one and check the stop conditions.
void Scheduler::after_eval(Slot& s) {
  const int32_t V = static_cast<int32_t>(model_.hparams().n_vocab);
  int32_t next = 0;
  try {
    next = s.sampler->sample(s.logits.data(), V);
  } catch (const Error& e) {
    s.res.error_status = 500;
    s.res.error = e.what();
    return end(s, "error");
  }
  s.sampler->accept(next);
  ++s.res.n_generated;
  const auto now = Clock::now();
  if (metrics_) {
    metrics_->add_tokens(0, 1);
    if (s.res.n_generated == 1) {
      s.res.ttft_s = std::chrono::duration<double>(now - s.job->created).count();
      metrics_->observe_ttft(s.res.ttft_s);
    } else {
      metrics_->observe_token(std::chrono::duration<double>(now - s.last_token).count());
    }
  }
  s.last_token = now;
  if (s.stop->check_token(next)) return end(s, "eog");
  s.job->emit(s.stop->push(s.stream->push(next)));
  if (s.stop->stopped()) return end(s, "stop");
  if (s.job->max_tokens >= 0 && s.res.n_generated >= s.job->max_tokens) return end(s, "length");
  if (s.session.n_past() + 1 > n_ctx_) return end(s, "context");
  s.pending.assign(1, next);
  s.pending_off = 0;
}

void Scheduler::end(Slot& s, const std::string& reason) {
  if (reason == "eog" || reason == "length" || reason == "context") {
    std::string tail = s.stop->push(s.stream->flush());
    tail += s.stop->finish();
    s.job->emit(tail);
  }
  s.res.finish_reason = reason;
  std::shared_ptr<Job> job = std::move(s.job);
  JobResult res = std::move(s.res);
  s.res = JobResult{};
  s.pending.clear();
  s.pending_off = 0;
  release_slot();
  job->finish(std::move(res));  // last: a client that has its answer sees the slot free
}

void Scheduler::release_slot() {
  std::lock_guard<std::mutex> lk(mu_);
  --active_;
  if (metrics_) metrics_->set_active_slots(active_);
}

// Embedding: mean over tokens of the final-norm hidden state (the input of the
// output head), L2-normalised. The observer captures the residual after the
// last layer's FFN; the final norm is applied here.
void Scheduler::run_embed(Job& job) {
  const HParams& hp = model_.hparams();
  const int64_t E = hp.n_embd;
  JobResult r;
  r.finish_reason = "stop";
  try {
    if (!embed_session_) {
      SessionOptions so;
      so.n_ctx = opt_.n_ctx;
      so.kv_type = opt_.kv_type;
      so.pool = pool_;
      embed_session_ = std::make_unique<Session>(model_, so);
      embed_session_->set_observer([this, E, last = hp.n_layer - 1](int64_t il, Sublayer sub, const float*,
                                                                    const float* resid, int64_t n) {
        if (il == last && sub == Sublayer::FFN) embed_rows_.insert(embed_rows_.end(), resid, resid + n * E);
      });
    }
    const auto& W = model_.weights();
    std::vector<float> logits, normed(static_cast<size_t>(E));
    for (const auto& toks : job.inputs) {
      if (job.cancelled() || Clock::now() > job.deadline) throw Error("timed out");
      embed_session_->reset();
      embed_rows_.clear();
      embed_session_->eval(toks.data(), static_cast<int64_t>(toks.size()), false, logits);
      r.n_prompt += static_cast<int64_t>(toks.size());
      std::vector<float> v(static_cast<size_t>(E), 0.0f);
      const int64_t n = static_cast<int64_t>(embed_rows_.size()) / E;
      for (int64_t t = 0; t < n; ++t) {
        const float* x = embed_rows_.data() + t * E;
        const float eps = static_cast<float>(hp.norm_eps);
        if (model_.family().norm == NormKind::Layer)
          ops::layer_norm(x, W.output_norm.ptr(), W.output_norm_b.ptr(), eps, E, normed.data());
        else
          ops::rms_norm(x, W.output_norm.ptr(), eps, E, normed.data());
        for (int64_t i = 0; i < E; ++i) v[static_cast<size_t>(i)] += normed[static_cast<size_t>(i)];
      }
      double ss = 0;
      for (float f : v) ss += static_cast<double>(f) * f;
      const float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
      for (float& f : v) f *= inv;
      r.embeddings.push_back(std::move(v));
    }
    if (metrics_) metrics_->add_tokens(r.n_prompt, 0);
  } catch (const std::exception& e) {
    r = JobResult{};
    r.finish_reason = "error";
    r.error_status = job.cancelled() || Clock::now() > job.deadline ? 504 : 500;
    r.error = std::string("embedding failed: ") + e.what();
  }
  job.finish(std::move(r));
}

}  // namespace larql::server
