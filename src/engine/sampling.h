// Token sampling: turns one row of logits into a token id.
//
// The chain follows llama.cpp's default sampler order:
//   penalties -> top-k -> top-p -> min-p -> temperature -> random draw
// and greedy (or temperature <= 0) is argmax of the penalised logits, ties
// going to the lowest id. NaN logits count as -inf. Deterministic for a seed
// (std::mt19937_64 + a portable uniform draw); see docs/sampling.md.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace larql {

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy
  int32_t top_k = 40;              // <= 0 or >= n_vocab: off
  float top_p = 0.95f;             // >= 1: off; <= 0: keeps only the top token
  float min_p = 0.05f;             // <= 0: off; keeps p >= min_p * p_max (min_p > 1 acts as 1)
  float repeat_penalty = 1.0f;     // 1: off; must be > 0
  int32_t repeat_last_n = 64;      // window of accept()ed tokens; 0: off; -1: every token
  float frequency_penalty = 0.0f;  // logit -= count * frequency_penalty
  float presence_penalty = 0.0f;   // logit -= presence_penalty if count > 0
  uint64_t seed = 0;               // kRandomSeed: seed from std::random_device
  bool greedy = false;

  static constexpr uint64_t kRandomSeed = ~uint64_t{0};
};

struct TokenProb {
  int32_t id;
  float p;
};

class Sampler {
 public:
  // Throws larql::Error on a NaN/inf parameter, repeat_penalty <= 0 or repeat_last_n < -1.
  explicit Sampler(const SamplingParams& params = {});

  // Draws a token from logits[0..n_vocab). Throws larql::Error when n_vocab <= 0,
  // logits is null, or every logit is NaN/-inf. After the first call with a given
  // n_vocab it does not allocate (buffers are reused; repeat_last_n = -1 excepted).
  int32_t sample(const float* logits, int32_t n_vocab);

  // Records a token for the repetition/frequency/presence penalties (call it for
  // each generated token, and for prompt tokens if they should count).
  void accept(int32_t token);

  // The distribution sample() would draw from, most likely first (ties: lower
  // id first); greedy gives one token with p = 1. Does not advance the RNG.
  void distribution(const float* logits, int32_t n_vocab, std::vector<TokenProb>& out);

  // Forgets the history and restarts the random sequence from the seed.
  void reset();

  const SamplingParams& params() const { return params_; }
  // Accepted tokens inside the penalty window, oldest first.
  std::vector<int32_t> history() const;

 private:
  struct Cand {
    float logit;
    int32_t id;
    float w;  // exp(logit - max), filled by top_p
  };

  bool is_greedy() const;
  // Fills work_ with sanitised, penalised logits.
  void load_logits(const float* logits, int32_t n_vocab);
  void apply_penalties(int32_t n_vocab);
  int32_t argmax() const;
  // Builds cand_ from work_: top-k, +inf handling, top-p, min-p. Returns the max logit.
  float truncate();
  void top_k(int32_t n);
  void top_p(float max_logit);
  void min_p(float max_logit);
  // weight_[i] = exp((logit_i - max) / T) over the candidates; returns their sum.
  double weigh(float max_logit);
  double uniform01();

  SamplingParams params_;
  std::mt19937_64 rng_;

  std::vector<int32_t> hist_;  // ring buffer when repeat_last_n > 0
  size_t hist_head_ = 0;       // next write position (ring mode)
  size_t hist_len_ = 0;

  std::vector<float> work_;
  std::vector<Cand> cand_;
  size_t n_cand_ = 0;
  bool sorted_ = false;
  std::vector<int32_t> counts_;
  std::vector<int32_t> touched_;
  std::vector<float> weight_;
};

}  // namespace larql
