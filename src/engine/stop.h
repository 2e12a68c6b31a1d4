// Stop conditions of generation: end-of-generation token ids, and stop
// strings matched in the streamed text across token boundaries.
//
// Text that could still turn out to be the beginning of a stop string is held
// back, so a stop string is never shown, not even partly; the output is cut
// where the first completed stop string begins. "First" means the one that
// completes earliest in the text (ties: the longer one), which makes the result
// independent of how the text was split into pushes. See docs/sampling.md.
//
// Typical loop:
//   if (stop.check_token(id)) break;              // EOG: the token is not shown
//   show(stop.push(stream.push(id)));
//   if (stop.stopped()) break;                    // stop string: output cut
//   ...
//   // after the loop (any reason):
//   show(stop.push(stream.flush())); show(stop.finish());
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace larql {

class Tokenizer;

enum class StopReason { None, EogToken, StopString };

class StopChecker {
 public:
  // Throws larql::Error on an empty stop string or a negative id.
  explicit StopChecker(std::vector<std::string> stop_strings = {}, std::set<int32_t> eog_ids = {});
  // End-of-generation ids from the tokenizer (Tokenizer::eog_ids()).
  static StopChecker for_tokenizer(const Tokenizer& tok, std::vector<std::string> stop_strings = {});

  // True (and stopped() from now on) when id ends generation.
  bool check_token(int32_t id);
  // Adds streamed text; returns the part that can be shown now. Once a stop
  // string has matched, returns only the text before it, then "" forever.
  // Still works after an EOG token, for the text the TextStream flushes.
  std::string push(std::string_view text);
  // Generation is over (EOG token, length limit, end of stream): returns the
  // held text, which can no longer become a stop string. "" after a stop-string match.
  std::string finish();
  // Starts over (same stop strings and ids).
  void reset();

  bool stopped() const { return reason_ != StopReason::None; }
  StopReason reason() const { return reason_; }
  // The stop string that matched, or the EOG id as decimal text; "" if none.
  const std::string& matched() const { return matched_; }
  // Bytes held back as a possible stop-string prefix.
  size_t pending() const { return held_.size(); }
  const std::vector<std::string>& stop_strings() const { return stops_; }
  const std::set<int32_t>& eog_ids() const { return eog_; }

 private:
  std::vector<std::string> stops_;
  std::set<int32_t> eog_;
  size_t max_len_ = 0;
  std::string held_;
  StopReason reason_ = StopReason::None;
  std::string matched_;
};

}  // namespace larql
