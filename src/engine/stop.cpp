#include "engine/stop.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql {

StopChecker::StopChecker(std::vector<std::string> stop_strings, std::set<int32_t> eog_ids)
    : stops_(std::move(stop_strings)), eog_(std::move(eog_ids)) {
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) throw Error("stop: stop string " + std::to_string(i) + " is empty");
    max_len_ = std::max(max_len_, stops_[i].size());
  }
  if (!eog_.empty() && *eog_.begin() < 0)
    throw Error("stop: end-of-generation id " + std::to_string(*eog_.begin()) + " is negative");
}

StopChecker StopChecker::for_tokenizer(const Tokenizer& tok, std::vector<std::string> stop_strings) {
  return StopChecker(std::move(stop_strings), tok.eog_ids());
}

void StopChecker::reset() {
  held_.clear();
  reason_ = StopReason::None;
  matched_.clear();
}

bool StopChecker::check_token(int32_t id) {
  if (stopped()) return true;
  if (eog_.count(id) == 0) return false;
  reason_ = StopReason::EogToken;
  matched_ = std::to_string(id);
  return true;
}

std::string StopChecker::push(std::string_view text) {
  if (reason_ == StopReason::StopString) return {};
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(text);

  // Earliest-completing stop string (ties: the longer, i.e. earlier-starting, one).
  size_t best_end = std::string::npos, best_pos = 0, best = 0;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t pos = buf.find(stops_[i]);
    if (pos == std::string::npos) continue;
    const size_t end = pos + stops_[i].size();
    if (end < best_end || (end == best_end && pos < best_pos)) {
      best_end = end;
      best_pos = pos;
      best = i;
    }
  }
  if (best_end != std::string::npos) {
    reason_ = StopReason::StopString;
    matched_ = stops_[best];
    buf.resize(best_pos);
    return buf;
  }

  // Hold the longest suffix that is a proper prefix of some stop string.
  const std::string_view b(buf);
  size_t hold = std::min(b.size(), max_len_ > 0 ? max_len_ - 1 : 0);
  for (; hold > 0; --hold) {
    const std::string_view tail = b.substr(b.size() - hold);
    const bool prefix = std::any_of(stops_.begin(), stops_.end(), [&](const std::string& s) {
      return s.size() > hold && std::string_view(s).substr(0, hold) == tail;
    });
    if (prefix) break;
  }
  held_.assign(buf, buf.size() - hold, std::string::npos);
  buf.resize(buf.size() - hold);
  return buf;
}

std::string StopChecker::finish() {
  std::string out = std::move(held_);
  held_.clear();
  if (reason_ == StopReason::StopString) return {};
  return out;
}

}  // namespace larql
