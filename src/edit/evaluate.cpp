#include "edit/evaluate.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compile/compile.h"
#include "edit/materialize.h"
#include "engine/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql::edit {

Fact make_fact(const Editor& ed, const std::string& entity, const std::string& relation, const std::string& target,
               const std::vector<TemplateRow>& templates) {
  const TemplateRow* t = find_template(templates, relation, "train");
  if (!t) throw Error("no template for relation '" + relation + "' (load a templates file: docs/editing.md)");
  Fact f{entity, relation, target, prompt_of(t->text, entity, target), -1};
  f.target_tokens = ed.target_tokens(target);
  f.target_token = f.target_tokens.front();
  return f;
}

std::vector<std::string> decoys_for(const FactRow& f, const std::vector<FactRow>& facts,
                                    const std::vector<TemplateRow>& templates, size_t n) {
  std::vector<std::string> out;
  auto add = [&](const FactRow& g) {
    const TemplateRow* t = find_template(templates, g.relation, "train");
    if (t && out.size() < n) out.push_back(prompt_of(t->text, g.subject, g.object));
  };
  for (const FactRow& g : facts)  // the subject's other relations
    if (g.split == "train" && g.subject == f.subject && g.relation != f.relation) add(g);
  size_t same = 0;
  for (const FactRow& g : facts)  // the relation with other subjects
    if (g.split == "train" && g.relation == f.relation && g.subject != f.subject && same++ < n / 2) add(g);
  size_t k = 0;
  for (const FactRow& g : facts)  // a spread of everything else
    if (g.split == "train" && g.relation != f.relation && g.subject != f.subject && k++ % 37 == 0) add(g);
  return out;
}

std::vector<float> logits_with_knn(const Editor& ed, const std::string& prompt, const FfnPatch* patch,
                                   const std::vector<KnnEntry>& knn, const KnnEntry** fired) {
  return logits_with_knn(ed, ed.encode(prompt), patch, knn, fired);
}

std::vector<float> logits_with_knn(const Editor& ed, const std::vector<int32_t>& tokens, const FfnPatch* patch,
                                   const std::vector<KnnEntry>& knn, const KnnEntry** fired) {
  RunCapture c = ed.run(tokens, patch);
  const KnnEntry* e = knn.empty() ? nullptr : knn_match(knn, c.resid);
  if (e) knn_apply(*e, c.logits);
  if (fired) *fired = e;
  return c.logits;
}

namespace {
int32_t argmax(const std::vector<float>& v) {
  size_t b = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[b]) b = i;
  return static_cast<int32_t>(b);
}
std::vector<double> softmax(const std::vector<float>& v) {
  double mx = -1e300, s = 0;
  for (float x : v) mx = std::max(mx, double(x));
  std::vector<double> p(v.size());
  for (size_t i = 0; i < v.size(); ++i) s += p[i] = std::exp(double(v[i]) - mx);
  for (double& x : p) x /= s;
  return p;
}
}  // namespace

std::string greedy_text(const Editor& ed, const std::string& prompt, int64_t n, const FfnPatch* patch,
                        const std::vector<KnnEntry>& knn) {
  // Each step re-runs the whole sequence: prompts here are a few tokens long.
  std::vector<int32_t> toks = ed.encode(prompt);
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = argmax(logits_with_knn(ed, toks, patch, knn));
    toks.push_back(t);
    out += ed.model().tokenizer().token_to_piece(t);
  }
  return out;
}

namespace {
// The greedy continuation of the prompt starts with " " + target: as many
// tokens as the target has, then the text compared (another tokenization of
// the same word also counts).
bool says_word(const Editor& ed, const std::string& prompt, const Fact& f, const FfnPatch* patch,
               const std::vector<KnnEntry>& knn) {
  const std::string want = " " + f.target;
  const std::string got = greedy_text(ed, prompt, static_cast<int64_t>(f.steps().size()), patch, knn);
  return got.compare(0, want.size(), want) == 0;
}
}  // namespace

void measure(const Editor& ed, const EvalConfig& cfg, const std::vector<FactRow>& edited, const FfnPatch* patch,
             const std::vector<KnnEntry>& knn, EvalResult& r) {
  measure(ed, ed, cfg, edited, patch, knn, r);
}

void measure(const Editor& ed, const Editor& out, const EvalConfig& cfg, const std::vector<FactRow>& edited,
             const FfnPatch* patch, const std::vector<KnnEntry>& knn, EvalResult& r) {
  // `ed` gives the unedited baseline, `out` (+ patch/knn) the edited forward.
  int64_t eff = 0, eff0 = 0, gen = 0, gen0 = 0, ng = 0, effw = 0, effw0 = 0, genw = 0, genw0 = 0;
  for (const FactRow& f : edited) {
    const Fact fc = make_fact(ed, f.subject, f.relation, f.object, cfg.templates);
    eff += argmax(logits_with_knn(out, fc.prompt, patch, knn)) == fc.target_token;
    eff0 += argmax(ed.run(fc.prompt, nullptr).logits) == fc.target_token;
    effw += says_word(out, fc.prompt, fc, patch, knn);
    effw0 += says_word(ed, fc.prompt, fc, nullptr, {});
    if (const TemplateRow* h = find_template(cfg.templates, f.relation, "heldout_template")) {
      const std::string p = prompt_of(h->text, f.subject, f.object);
      gen += argmax(logits_with_knn(out, p, patch, knn)) == fc.target_token;
      gen0 += argmax(ed.run(p, nullptr).logits) == fc.target_token;
      genw += says_word(out, p, fc, patch, knn);
      genw0 += says_word(ed, p, fc, nullptr, {});
      ++ng;
    }
  }
  r.efficacy_word = edited.empty() ? 0 : double(effw) / static_cast<double>(edited.size());
  r.efficacy_word_before = edited.empty() ? 0 : double(effw0) / static_cast<double>(edited.size());
  r.generalization_word = ng ? double(genw) / ng : 0;
  r.generalization_word_before = ng ? double(genw0) / ng : 0;
  r.n_edits = static_cast<int64_t>(edited.size());
  r.n_general = ng;
  r.efficacy = r.n_edits ? double(eff) / r.n_edits : 0;
  r.efficacy_before = r.n_edits ? double(eff0) / r.n_edits : 0;
  r.generalization = ng ? double(gen) / ng : 0;
  r.generalization_before = ng ? double(gen0) / ng : 0;
  // Specificity: an even spread of training facts whose subject was not edited.
  std::vector<const FactRow*> pool;
  for (const FactRow& f : cfg.facts) {
    bool touched = false;
    for (const FactRow& e : edited) touched |= e.subject == f.subject && e.relation == f.relation;
    if (f.split == "train" && !touched && find_template(cfg.templates, f.relation, "train")) pool.push_back(&f);
  }
  const size_t want = std::min<size_t>(pool.size(), static_cast<size_t>(std::max<int64_t>(0, cfg.n_specificity)));
  int64_t rb = 0, re = 0;
  double kl = 0;
  for (size_t i = 0; i < want; ++i) {
    const FactRow& f = *pool[i * pool.size() / want];
    const Fact fc = make_fact(ed, f.subject, f.relation, f.object, cfg.templates);
    const std::vector<float> lb = ed.run(fc.prompt, nullptr).logits, le = logits_with_knn(out, fc.prompt, patch, knn);
    rb += argmax(lb) == fc.target_token;
    re += argmax(le) == fc.target_token;
    const std::vector<double> pb = softmax(lb), pe = softmax(le);
    for (size_t v = 0; v < pb.size(); ++v)
      if (pb[v] > 0 && pe[v] > 0) kl += pb[v] * std::log(pb[v] / pe[v]);
  }
  r.n_spec = static_cast<int64_t>(want);
  r.recall_base = want ? double(rb) / want : 0;
  r.recall_edited = want ? double(re) / want : 0;
  r.mean_kl = want ? std::max(0.0, kl / want) : 0;
}

int64_t rebalance(const Editor& ed, PatchStack& stack, double margin) {
  // Later inserts can shift an earlier fact's residual: grow the down vector
  // of any FEATURE insert whose target no longer wins (by 1.25x, at most 8
  // times). A whole-word insert is checked per target token: slot k of its
  // layer is the feature of token k.
  int64_t fixed = 0;
  for (Patch& p : stack.patches)
    for (Operation& op : p.ops) {
      if (op.op != "insert" || op.mode != Mode::Feature || op.facts.empty() || op.facts.front().target_token < 0) continue;
      const Fact f = op.facts.front();
      const std::vector<std::vector<int32_t>> ctx = ed.step_contexts(f);
      const std::vector<int32_t> toks = f.steps();
      bool counted = false;
      for (size_t k = 0; k < ctx.size(); ++k)
        for (int i = 0; i < 8; ++i) {
          if (Editor::wins(ed.run(ctx[k], stack.ffn().get()).logits, toks[k], margin * op.confidence)) break;
          for (auto& [il, L] : op.ffn.layers)
            for (size_t s = 0; s < L.slots.size(); ++s)
              if (L.slots.size() != ctx.size() || s == k)
                for (float& v : L.slots[s].down) v *= 1.25f;
          if (k == 0) op.alpha *= 1.25;
          stack.compose();
          if (!counted) ++fixed, counted = true;
        }
    }
  return fixed;
}

std::vector<FactRow> heldout_facts(const EvalConfig& cfg) {
  std::vector<FactRow> held;
  for (const FactRow& f : cfg.facts)
    if (f.split == "heldout_fact" && (cfg.count < 0 || static_cast<int64_t>(held.size()) < cfg.count)) held.push_back(f);
  return held;
}

EvalResult evaluate(Editor& ed, const EvalConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<FactRow> held = heldout_facts(cfg);
  if (held.empty()) throw Error("edit-eval: no held-out facts (split 'heldout_fact') in the facts table");
  EvalResult r;
  r.mode = mode_name(cfg.opt.mode);
  PatchStack stack;
  stack.patches.push_back(Patch{});
  stack.patches[0].base = base_id(ed.model(), "");
  Patch& p = stack.patches[0];
  if (cfg.opt.mode == Mode::Memit) {
    std::vector<Fact> fs;
    for (const FactRow& f : held) fs.push_back(make_fact(ed, f.subject, f.relation, f.object, cfg.templates));
    p.ops.push_back(ed.insert_memit(fs, cfg.covariance_lines, nullptr, cfg.opt));
  } else {
    for (const FactRow& f : held) {
      const Fact fc = make_fact(ed, f.subject, f.relation, f.object, cfg.templates);
      stack.compose();
      try {
        if (cfg.opt.mode == Mode::KNN) p.ops.push_back(ed.insert_knn(fc, cfg.opt));
        else p.ops.push_back(ed.insert_feature(fc, decoys_for(f, cfg.facts, cfg.templates), stack.ffn().get(), cfg.opt));
      } catch (const Error& e) {  // counted as a miss by the efficacy measurement
        r.failures.push_back(e.what());
        continue;
      }
    }
  }
  stack.compose();
  if (cfg.opt.mode == Mode::Feature) rebalance(ed, stack, cfg.opt.margin);
  measure(ed, cfg, held, stack.ffn().get(), stack.knn(), r);
  r.patch = p;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

void evaluate_compiled(const Editor& base, std::shared_ptr<ThreadPool> pool, const EvalConfig& cfg,
                       const std::string& out_path, bool keep, EvalResult& r) {
  CompiledEval& c = r.compiled;
  c = CompiledEval{};
  if (cfg.opt.mode == Mode::KNN) {  // a lookup overlay: nothing to bake into weights
    c.note = "n/a (not compiled)";
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  PatchStack stack;
  stack.patches.push_back(r.patch);
  stack.compose();
  compile::Overrides ov;
  if (const FfnPatch* f = stack.ffn().get()) ov = materialize(base.model().source(), *f);
  compile::Options opt;
  opt.note = "larql edit-eval: " + r.mode + ", " + std::to_string(r.n_edits) + " held-out facts";
  // Removes the written file on every exit path unless it is to be kept.
  struct Remove {
    const std::string& path;
    bool keep;
    ~Remove() {
      std::error_code ec;
      if (!keep) std::filesystem::remove(path, ec);
    }
  } guard{out_path, keep};
  const compile::Result cr = compile::write_model(base.model().source(), ov, out_path, opt);
  const std::unique_ptr<Model> m = Model::load(out_path);
  const Editor ced(*m, std::move(pool));
  EvalResult t;
  measure(base, ced, cfg, heldout_facts(cfg), nullptr, {}, t);
  c.measured = true;
  c.path = keep ? out_path : "";
  c.efficacy = t.efficacy;
  c.generalization = t.generalization;
  c.efficacy_word = t.efficacy_word;
  c.generalization_word = t.generalization_word;
  c.recall_edited = t.recall_edited;
  c.mean_kl = t.mean_kl;
  c.tensors_changed = cr.tensors_changed;
  c.bytes = cr.bytes;
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string EvalResult::to_json() const {
  nlohmann::json j = {{"mode", mode}, {"edits", n_edits}, {"efficacy", efficacy}, {"efficacy_before", efficacy_before},
                      {"generalization", generalization}, {"generalization_before", generalization_before},
                      {"efficacy_word", efficacy_word}, {"efficacy_word_before", efficacy_word_before},
                      {"generalization_word", generalization_word}, {"generalization_word_before", generalization_word_before},
                      {"n_generalization", n_general}, {"specificity_prompts", n_spec}, {"mean_kl", mean_kl},
                      {"recall_base", recall_base}, {"recall_edited", recall_edited}, {"seconds", seconds}, {"insert_failures", failures.size()}};
  if (compiled.measured)
    j["compiled"] = {{"efficacy", compiled.efficacy}, {"generalization", compiled.generalization},
                     {"efficacy_word", compiled.efficacy_word}, {"generalization_word", compiled.generalization_word},
                     {"recall_edited", compiled.recall_edited}, {"mean_kl", compiled.mean_kl},
                     {"tensors_changed", compiled.tensors_changed}, {"bytes", compiled.bytes},
                     {"seconds", compiled.seconds}};
  else if (!compiled.note.empty())
    j["compiled"] = compiled.note;
  return j.dump();
}

}  // namespace larql::edit
