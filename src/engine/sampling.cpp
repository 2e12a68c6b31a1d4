#include "engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "util/error.h"

namespace larql {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

void require_finite(float v, const char* field) {
  if (!std::isfinite(v))
    throw Error(std::string("sampling: ") + field + " must be finite, got " + std::to_string(v));
}

uint64_t resolve_seed(uint64_t seed) {
  if (seed != SamplingParams::kRandomSeed) return seed;
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

}  // namespace

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  require_finite(params_.temperature, "temperature");
  require_finite(params_.top_p, "top_p");
  require_finite(params_.min_p, "min_p");
  require_finite(params_.repeat_penalty, "repeat_penalty");
  require_finite(params_.frequency_penalty, "frequency_penalty");
  require_finite(params_.presence_penalty, "presence_penalty");
  if (!(params_.repeat_penalty > 0.0f))
    throw Error("sampling: repeat_penalty must be > 0, got " + std::to_string(params_.repeat_penalty));
  if (params_.repeat_last_n < -1)
    throw Error("sampling: repeat_last_n must be >= -1, got " + std::to_string(params_.repeat_last_n));
  params_.seed = resolve_seed(params_.seed);
  rng_.seed(params_.seed);
  if (params_.repeat_last_n > 0) {
    hist_.assign(static_cast<size_t>(params_.repeat_last_n), 0);
    touched_.reserve(hist_.size());
  }
}

void Sampler::reset() {
  rng_.seed(params_.seed);
  hist_head_ = 0;
  hist_len_ = 0;
  if (params_.repeat_last_n < 0) hist_.clear();
}

void Sampler::accept(int32_t token) {
  if (token < 0) throw Error("sampling: accept: token id " + std::to_string(token) + " is negative");
  if (params_.repeat_last_n == 0) return;
  if (params_.repeat_last_n < 0) {  // unbounded: amortised growth
    hist_.push_back(token);
    hist_len_ = hist_.size();
    return;
  }
  hist_[hist_head_] = token;
  hist_head_ = (hist_head_ + 1) % hist_.size();
  hist_len_ = std::min(hist_len_ + 1, hist_.size());
}

std::vector<int32_t> Sampler::history() const {
  std::vector<int32_t> h;
  if (params_.repeat_last_n <= 0 || hist_len_ < hist_.size()) {
    h.assign(hist_.begin(), hist_.begin() + static_cast<std::ptrdiff_t>(hist_len_));
    return h;
  }
  for (size_t i = 0; i < hist_.size(); ++i) h.push_back(hist_[(hist_head_ + i) % hist_.size()]);
  return h;
}

bool Sampler::is_greedy() const { return params_.greedy || !(params_.temperature > 0.0f); }

double Sampler::uniform01() {
  // 53 random bits -> [0, 1): same value on every platform, unlike
  // std::uniform_real_distribution whose algorithm is unspecified.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void Sampler::load_logits(const float* logits, int32_t n_vocab) {
  if (logits == nullptr) throw Error("sampling: logits pointer is null");
  if (n_vocab <= 0) throw Error("sampling: n_vocab must be > 0, got " + std::to_string(n_vocab));
  const size_t n = static_cast<size_t>(n_vocab);
  work_.resize(n);  // keeps its capacity across calls
  for (size_t i = 0; i < n; ++i) work_[i] = std::isnan(logits[i]) ? kNegInf : logits[i];
  apply_penalties(n_vocab);
}

void Sampler::apply_penalties(int32_t n_vocab) {
  const SamplingParams& P = params_;
  if (P.repeat_last_n == 0) return;
  if (P.repeat_penalty == 1.0f && P.frequency_penalty == 0.0f && P.presence_penalty == 0.0f) return;
  // Sized on the first call even with an empty history, so later calls never allocate.
  if (counts_.size() < static_cast<size_t>(n_vocab)) counts_.resize(static_cast<size_t>(n_vocab), 0);
  if (hist_len_ == 0) return;
  // Filled slots are hist_[0, hist_len_) in both ring and unbounded mode.
  touched_.clear();
  for (size_t i = 0; i < hist_len_; ++i) {
    const int32_t t = hist_[i];
    if (t >= n_vocab) continue;  // from another vocabulary: nothing to penalise
    if (counts_[t]++ == 0) touched_.push_back(t);
  }
  for (int32_t t : touched_) {
    float& l = work_[t];
    // Dividing a negative logit would raise it; multiplying lowers it.
    if (l <= 0.0f) l *= P.repeat_penalty;
    else l /= P.repeat_penalty;
    l -= static_cast<float>(counts_[t]) * P.frequency_penalty + P.presence_penalty;
    counts_[t] = 0;
  }
}

int32_t Sampler::argmax() const {
  size_t best = 0;
  for (size_t i = 1; i < work_.size(); ++i)
    if (work_[i] > work_[best]) best = i;  // strict: ties keep the lowest id
  if (work_[best] == kNegInf) throw Error("sampling: every logit is NaN or -inf");
  return static_cast<int32_t>(best);
}

namespace {
// Total order: higher logit first, then lower id (makes every cut deterministic).
struct Better {
  template <class C>
  bool operator()(const C& a, const C& b) const {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
};
}  // namespace

void Sampler::top_k(int32_t n) {
  if (cand_.size() < static_cast<size_t>(n)) cand_.resize(static_cast<size_t>(n));
  Cand* c = cand_.data();
  const int32_t k = params_.top_k;
  if (k <= 0 || k >= n) {
    for (int32_t i = 0; i < n; ++i) c[i] = {work_[i], i, 0.0f};
    n_cand_ = static_cast<size_t>(n);
    sorted_ = false;
    return;
  }
  // Bounded heap with the worst kept candidate on top: one compare per logit
  // for the common case, O(n log k) worst case, no full sort of the vocabulary.
  for (int32_t i = 0; i < k; ++i) c[i] = {work_[i], i, 0.0f};
  std::make_heap(c, c + k, Better{});
  for (int32_t i = k; i < n; ++i) {
    const float v = work_[i];
    if (v > c[0].logit) {  // equal logit with a higher id ranks lower: skip
      std::pop_heap(c, c + k, Better{});
      c[k - 1] = {v, i, 0.0f};
      std::push_heap(c, c + k, Better{});
    }
  }
  std::sort_heap(c, c + k, Better{});  // best first
  n_cand_ = static_cast<size_t>(k);
  sorted_ = true;
}

void Sampler::top_p(float max_logit) {
  Cand* c = cand_.data();
  double total = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) {
    c[i].w = std::exp(c[i].logit - max_logit);
    total += c[i].w;
  }
  // The nucleus is the smallest top-ranked set whose mass reaches p (the token
  // that crosses p is included).
  const double target = static_cast<double>(params_.top_p) * total;
  if (sorted_) {
    double cum = 0.0;
    size_t keep = n_cand_;
    for (size_t i = 0; i < n_cand_; ++i) {
      cum += c[i].w;
      if (cum >= target) {
        keep = i + 1;
        break;
      }
    }
    n_cand_ = keep;
    return;
  }
  // Unsorted (no top-k): no sort of the vocabulary. Bucket the tokens by
  // logit distance from the max (monotone in rank), find the bucket where the
  // mass crosses p, keep every bucket above it, and cut inside that bucket.
  constexpr int kBuckets = 256;
  constexpr float kScale = 8.0f;  // buckets per logit unit; the last one takes everything below max - 32
  const auto bucket = [&](float logit) {
    const float d = (max_logit - logit) * kScale;
    return d < kBuckets - 1 ? static_cast<int>(d) : kBuckets - 1;  // also -inf
  };
  double mass[kBuckets] = {};
  for (size_t i = 0; i < n_cand_; ++i) mass[bucket(c[i].logit)] += c[i].w;
  int cross = 0;
  double above = 0.0;
  for (; cross < kBuckets; ++cross) {
    if (above + mass[cross] >= target) break;
    above += mass[cross];
  }
  if (cross == kBuckets) return;  // rounding kept p out of reach: keep everything
  // Move the buckets above `cross` to the front, then `cross` itself.
  size_t front = 0;
  for (size_t i = 0; i < n_cand_; ++i)
    if (bucket(c[i].logit) < cross) std::swap(c[front++], c[i]);
  size_t lo = front, hi = front;
  for (size_t i = front; i < n_cand_; ++i)
    if (bucket(c[i].logit) == cross) std::swap(c[hi++], c[i]);
  // Bisect on the rank inside the crossing bucket. Invariant: the answer k is
  // in (lo, hi], c[0, lo) are the top-lo tokens with mass `above`, and
  // c[0, hi) the top-hi.
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(c + lo, c + mid, c + hi, Better{});
    double part = 0.0;
    for (size_t i = lo; i < mid; ++i) part += c[i].w;
    if (above + part >= target) {
      hi = mid;
    } else {
      above += part;
      lo = mid;
    }
  }
  n_cand_ = hi;  // the top-hi tokens, in no particular order
}

void Sampler::min_p(float max_logit) {
  // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p)
  const float threshold = max_logit + std::log(std::min(params_.min_p, 1.0f));
  Cand* c = cand_.data();
  if (sorted_) {
    size_t i = 1;  // the top token always stays
    while (i < n_cand_ && c[i].logit >= threshold) ++i;
    n_cand_ = i;
    return;
  }
  size_t out = 0;
  for (size_t i = 0; i < n_cand_; ++i)
    if (c[i].logit >= threshold) c[out++] = c[i];
  n_cand_ = out;  // >= 1: the max passes because threshold <= max_logit
}

float Sampler::truncate() {
  const int32_t n = static_cast<int32_t>(work_.size());
  top_k(n);
  Cand* c = cand_.data();
  float max_logit = kNegInf;
  if (sorted_) max_logit = c[0].logit;
  else
    for (size_t i = 0; i < n_cand_; ++i) max_logit = std::max(max_logit, c[i].logit);
  if (max_logit == kNegInf) throw Error("sampling: every logit is NaN or -inf");
  if (max_logit == kPosInf) {
    // +inf dominates everything: the limit distribution is uniform over the +inf tokens.
    for (size_t i = 0; i < n_cand_; ++i) c[i].logit = c[i].logit == kPosInf ? 0.0f : kNegInf;
    max_logit = 0.0f;
  }
  if (params_.top_p < 1.0f) top_p(max_logit);
  if (params_.min_p > 0.0f) min_p(max_logit);
  return max_logit;
}

double Sampler::weigh(float max_logit) {
  if (weight_.size() < n_cand_) weight_.resize(cand_.size());
  // Division, not a multiply by 1/T: stays exact for denormal temperatures.
  const float t = params_.temperature;
  double sum = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) {
    weight_[i] = std::exp((cand_[i].logit - max_logit) / t);
    sum += weight_[i];
  }
  return sum;
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  load_logits(logits, n_vocab);
  if (is_greedy()) return argmax();
  const double sum = weigh(truncate());
  const double u = uniform01() * sum;
  double acc = 0.0;
  size_t last = 0;
  for (size_t i = 0; i < n_cand_; ++i) {
    if (weight_[i] <= 0.0f) continue;
    acc += weight_[i];
    last = i;
    if (u < acc) return cand_[i].id;
  }
  return cand_[last].id;  // rounding left u == acc: take the last token with weight
}

void Sampler::distribution(const float* logits, int32_t n_vocab, std::vector<TokenProb>& out) {
  out.clear();
  load_logits(logits, n_vocab);
  if (is_greedy()) {
    out.push_back({argmax(), 1.0f});
    return;
  }
  const double sum = weigh(truncate());
  for (size_t i = 0; i < n_cand_; ++i)
    if (weight_[i] > 0.0f) out.push_back({cand_[i].id, static_cast<float>(weight_[i] / sum)});
  std::sort(out.begin(), out.end(), [](const TokenProb& a, const TokenProb& b) {
    return a.p > b.p || (a.p == b.p && a.id < b.id);
  });
}

}  // namespace larql
