// larql compile SRC -o OUT [--format gguf|safetensors|vindex]: writes a GGUF
// file, safetensors folder or vindex as a standard model in another format
// (docs/compile.md). Edits reach it through the library (COMPILE in LQL).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "compile/compile.h"
#include "model/model_source.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::cli {
namespace {

// NAME=FILE: the whole tensor as raw little-endian float32 (GGML order).
void add_override_file(const ModelSource& src, const std::string& spec, compile::Overrides& ov) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos) throw Error("compile: --override wants NAME=FILE, got '" + spec + "'");
  const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
  std::ifstream f(file, std::ios::binary | std::ios::ate);
  if (!f) throw Error("compile: cannot read override file '" + file + "'");
  const auto n = static_cast<size_t>(f.tellg());
  if (n % 4) throw Error("compile: override file '" + file + "' is not a whole number of float32 values");
  auto& o = ov[name];
  o.data.resize(n / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(o.data.data()), static_cast<std::streamsize>(n));
  (void)src;
}

// NAME:ROW:FACTOR: multiplies one GGML row (e.g. a token's output.weight row).
void add_scale_row(const ModelSource& src, const std::string& spec, compile::Overrides& ov) {
  const size_t a = spec.rfind(':'), b = a == std::string::npos || a == 0 ? std::string::npos : spec.rfind(':', a - 1);
  if (b == std::string::npos) throw Error("compile: --scale-row wants NAME:ROW:FACTOR, got '" + spec + "'");
  const std::string name = spec.substr(0, b);
  int64_t row = 0;
  float factor = 0;
  try {
    row = std::stoll(spec.substr(b + 1, a - b - 1));
    factor = std::stof(spec.substr(a + 1));
  } catch (const std::exception&) {
    throw Error("compile: --scale-row '" + spec + "': ROW must be an integer and FACTOR a number");
  }
  const TensorRef& t = src.require(name);
  if (row < 0 || row >= t.rows()) throw Error("compile: --scale-row: row " + std::to_string(row) + " out of range for '" + name + "'");
  auto& o = ov[name];
  if (o.data.empty()) o.data = compile::read_f32(src, name);
  for (int64_t i = 0; i < t.ne[0]; ++i) o.data[static_cast<size_t>(row * t.ne[0] + i)] *= factor;
}

}  // namespace

Runner add_compile(CLI::App& app) {
  auto* sub = app.add_subcommand("compile", "Write a model (GGUF, safetensors folder or vindex) as GGUF, a Hugging Face folder or a vindex");
  struct Opts {
    std::string src, out, format = "gguf", dtype = "f32", override_type = "f32", note;
    std::vector<std::string> overrides, scale_rows;
    int64_t down_top = -1, clusters = -1;
    bool force = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("SRC", o->src, "GGUF file, safetensors folder or vindex directory")->required();
  sub->add_option("-o,--output", o->out, "Output path (GGUF file, or folder for safetensors/vindex)")->required();
  sub->add_option("--format", o->format, "gguf | safetensors | vindex")->default_val("gguf");
  sub->add_option("--dtype", o->dtype, "safetensors: f32 | f16 | bf16")->default_val("f32");
  sub->add_option("--override-type", o->override_type, "type of edited quantized tensors: f32 | q8_0 | ...")->default_val("f32");
  sub->add_option("--down-top", o->down_top, "vindex: tokens per feature in down_meta (default: as the source vindex, else 10)");
  sub->add_option("--clusters", o->clusters, "vindex: relation clusters (default: as the source vindex, else 32)");
  sub->add_option("--note", o->note, "text stored as general.source.larql.note (GGUF)");
  sub->add_option("--override", o->overrides, "NAME=FILE: replace a tensor by raw float32 values (GGML order; repeatable)");
  sub->add_option("--scale-row", o->scale_rows, "NAME:ROW:FACTOR: multiply one row of a tensor (repeatable), e.g. output.weight:123:0");
  sub->add_flag("-f,--force", o->force, "replace OUT if it exists");
  sub->add_flag("-q,--quiet", o->quiet, "no summary");
  return [=]() {
    compile::Options opt;
    opt.format = compile::format_from_name(o->format);
    auto dt = ggml_type_from_name(o->dtype);
    if (!dt) throw Error("compile: unknown --dtype '" + o->dtype + "'");
    opt.safetensors_dtype = *dt;
    auto ot = ggml_type_from_name(o->override_type);
    if (!ot) throw Error("compile: unknown --override-type '" + o->override_type + "'");
    opt.quantized_override_type = *ot;
    opt.down_top_k = o->down_top;
    opt.n_clusters = o->clusters;
    opt.note = o->note;
    opt.overwrite = o->force;
    opt.progress = !o->quiet;
    std::unique_ptr<vindex::Vindex> v;
    std::unique_ptr<ModelSource> src;
    if (vindex::is_vindex(o->src)) {
      v = vindex::Vindex::open(o->src);
      src = v->model_source();
    } else {
      src = open_model(o->src);
    }
    compile::Overrides ov;
    for (const auto& spec : o->overrides) add_override_file(*src, spec, ov);
    for (const auto& spec : o->scale_rows) add_scale_row(*src, spec, ov);
    auto r = compile::write_model(*src, ov, o->out, opt);
    if (!o->quiet) {
      for (const auto& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
      std::fprintf(stderr, "compiled %s -> %s (%s): %lld tensors, %.1f MiB in %.2f s\n", o->src.c_str(), o->out.c_str(),
                   compile::format_name(opt.format), static_cast<long long>(r.tensors_written),
                   static_cast<double>(r.bytes) / (1024.0 * 1024.0), r.seconds);
    }
    return 0;
  };
}

}  // namespace larql::cli
