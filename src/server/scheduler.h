// The one thread that owns the model: N slots (one Session and KV cache
// each) whose new tokens run together through eval_batch, so a decode step
// of every active request costs one pass over the weights. Requests wait in
// a bounded queue; a full queue is refused at once (back-pressure).
#pragma once
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/model.h"
#include "engine/session.h"
#include "server/job.h"
#include "server/metrics.h"

namespace larql::server {

struct SchedulerOptions {
  int n_slots = 1;
  int64_t n_ctx = 0;            // per slot; 0 = min(model, 4096)
  size_t max_queue = 64;        // waiting requests beyond the slots
  int n_threads = 0;            // 0 = all cores
  KVType kv_type = KVType::F32;
  int64_t prefill_chunk = 256;  // prompt tokens per slot per step, so decodes of others keep flowing
};

class Scheduler {
 public:
  Scheduler(const Model& model, const SchedulerOptions& opt, Metrics* metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Submit { Ok, Full, Stopped };
  Submit submit(std::shared_ptr<Job> job);
  // Stops the thread; queued and running jobs finish with a 503 error.
  void shutdown();

  int64_t n_ctx() const { return n_ctx_; }
  int n_slots() const { return static_cast<int>(slots_.size()); }

 private:
  struct Slot;
  void loop();
  void admit(std::vector<std::shared_ptr<Job>>& embeds);
  void step();
  void run_embed(Job& job);
  void start(Slot& s, std::shared_ptr<Job> job);
  void after_eval(Slot& s);
  void end(Slot& s, const std::string& reason);
  void release_slot();  // one slot fewer in use (and in /metrics)
  void publish_gauges();

  const Model& model_;
  SchedulerOptions opt_;
  Metrics* metrics_;
  int64_t n_ctx_ = 0;
  std::shared_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Session> embed_session_;  // created on the first embedding request
  std::vector<float> embed_rows_;           // final-layer residual rows seen by the observer

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  int active_ = 0;  // written by the loop under mu_, read by publish
  std::thread thread_;
};

}  // namespace larql::server
