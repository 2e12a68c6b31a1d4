// Template engine behaviour not covered by the Jinja2 reference data: error
// messages and positions, and the limits that keep hostile templates from
// crashing, hanging or exhausting memory.
#include <gtest/gtest.h>

#include "chat/template.h"
#include "chat/value.h"

namespace {

using larql::chat::RenderOptions;
using larql::chat::Template;
using ojson = nlohmann::ordered_json;

std::string render(const std::string& t, const ojson& ctx = ojson::object(), const RenderOptions& opt = {}) {
  return Template::parse(t).render(ctx, opt);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const larql::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string render_error(const std::string& t, const RenderOptions& opt = {}) {
  return error_of([&] { render(t, ojson::object(), opt); });
}

#define EXPECT_HAS(haystack, needle)                                  \
  do {                                                                \
    const std::string h_ = (haystack);                                \
    EXPECT_NE(h_.find(needle), std::string::npos) << "in: " << h_;   \
  } while (0)

TEST(ChatEngine, SyntaxErrorsNameLineColumnAndText) {
  const std::string e = error_of([] { Template::parse("line one\nline two {{ 1 + }}"); });
  EXPECT_HAS(e, "chat template: syntax error at line 2:");
  EXPECT_HAS(e, "'}}'");
  EXPECT_HAS(error_of([] { Template::parse("{% if x %}\nopen"); }), "'endif'");
  EXPECT_HAS(error_of([] { Template::parse("{% for x in y %}{% endif %}"); }), "unknown or unsupported tag 'endif'");
  EXPECT_HAS(error_of([] { Template::parse("{% include 'x.j2' %}"); }), "'include'");
  EXPECT_HAS(error_of([] { Template::parse("a\n  {{ 'abc }}"); }), "line 2:6");
  EXPECT_HAS(error_of([] { Template::parse("{{ x | nope }}"); }), "no filter named 'nope'");
  EXPECT_HAS(error_of([] { Template::parse("{{ x is nope }}"); }), "no test named 'nope'");
  EXPECT_HAS(error_of([] { Template::parse("{# open"); }), "missing end of comment tag");
  EXPECT_HAS(error_of([] { Template::parse("{{ 1 ]] }}"); }), "unexpected ']'");
  EXPECT_HAS(error_of([] { Template::parse("{% break %}"); }), "outside of a loop");
  EXPECT_HAS(error_of([] { Template::parse("{{ 99999999999999999999 }}"); }), "integer literal too large");
}

TEST(ChatEngine, RuntimeErrorsNamePosition) {
  const std::string e = render_error("ok\n  {{ x.y }}");
  EXPECT_HAS(e, "line 2:");
  EXPECT_HAS(e, "'x' is undefined");
  EXPECT_HAS(render_error("{{ 'a' + 1 }}"), "unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_HAS(render_error("{{ 1 // 0 }}"), "division or modulo by zero");
  EXPECT_HAS(render_error("{{ [].append(1) }}"), "unsafe");
  EXPECT_HAS(render_error("{% set d = {} %}{% set d.x = 1 %}"), "only namespace() objects");
}

TEST(ChatEngine, RaiseExceptionCarriesTheMessage) {
  try {
    render("{% if true %}{{ raise_exception('Roles must alternate: ' ~ 3) }}{% endif %}");
    FAIL() << "nothing raised";
  } catch (const larql::chat::TemplateRaised& e) {
    EXPECT_EQ(e.message(), "Roles must alternate: 3");
    EXPECT_HAS(std::string(e.what()), "Roles must alternate: 3");
  }
  // It is a larql::Error like every other failure.
  EXPECT_HAS(render_error("{{ raise_exception('x') }}"), "chat template: x");
}

TEST(ChatEngine, ParseOnceRenderManyTimes) {
  const Template t = Template::parse("{{ greeting }}, {{ name|default('you') }}!");
  EXPECT_EQ(t.render(ojson{{"greeting", "Hi"}}), "Hi, you!");
  EXPECT_EQ(t.render(ojson{{"greeting", "Yo"}, {"name", "Ann"}}), "Yo, Ann!");
  // Plain nlohmann::json works too (its objects iterate in key order).
  EXPECT_EQ(Template::parse("{{ d|tojson }}").render(nlohmann::json{{"d", {{"b", 1}, {"a", 2}}}}), "{\"a\": 2, \"b\": 1}");
  // ordered_json keeps insertion order, as Python dicts do.
  EXPECT_EQ(Template::parse("{{ d|tojson }}").render(ojson{{"d", ojson{{"b", 1}, {"a", 2}}}}), "{\"b\": 1, \"a\": 2}");
}

TEST(ChatEngine, OutputLimit) {
  RenderOptions opt;
  opt.limits.max_output = 1 << 20;
  EXPECT_HAS(render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", opt), "output exceeds");
  EXPECT_HAS(render_error("{{ 'x' * 1000000000000 }}", opt), "bytes (limit");
  EXPECT_HAS(render_error("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", opt),
             "bytes (limit");
  EXPECT_HAS(render_error("{{ [1] * 100000000000 }}", opt), "bytes (limit");
}

TEST(ChatEngine, StepLimitStopsLongLoops) {
  RenderOptions opt;
  opt.limits.max_steps = 1'000'000;
  EXPECT_HAS(render_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", opt),
             "evaluation steps");
  EXPECT_HAS(render_error("{% set ns = namespace(l=[]) %}{% for a in range(100000) %}{% set ns.l = ns.l + [a] %}{% endfor %}", opt),
             "evaluation steps");
}

TEST(ChatEngine, RangeIsBoundedLikeJinjasSandbox) {
  EXPECT_HAS(render_error("{{ range(100001)|length }}"), "Range too big");
  EXPECT_EQ(render("{{ range(100000)|length }}"), "100000");
}

TEST(ChatEngine, RecursionIsBounded) {
  EXPECT_HAS(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "recursion");
  EXPECT_HAS(error_of([] { Template::parse("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"); }),
             "nested too deeply");
  std::string ifs;
  for (int i = 0; i < 3000; ++i) ifs += "{% if 1 %}";
  EXPECT_HAS(error_of([&] { Template::parse(ifs); }), "nested too deeply");
  EXPECT_HAS(error_of([] { Template::parse("{{ " + std::string(5000, '-') + "1 }}"); }), "nested too deeply");
  EXPECT_HAS(error_of([] { Template::parse("{{ " + std::string(2000, '[') + std::string(2000, ']') + " }}"); }),
             "nested too deeply");
  EXPECT_HAS(error_of([] {
               std::string t = "{{ x";
               for (int i = 0; i < 3000; ++i) t += " if 1 else x";
               Template::parse(t + " }}");
             }),
             "nested too deeply");
}

TEST(ChatEngine, DeepValuesAreRejected) {
  EXPECT_HAS(render_error("{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}"),
             "nested too deeply");
  // JSON input nested deeper than the limit.
  std::string deep(2000, '[');
  deep += std::string(2000, ']');
  EXPECT_HAS(error_of([&] { render("{{ x }}", ojson{{"x", ojson::parse(deep)}}); }), "nested too deeply");
}

TEST(ChatEngine, SelfReferencesDoNotCrashOrLeak) {
  // A namespace holding itself prints with a cut-off, like Python's reprlib.
  const std::string s = render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}");
  EXPECT_EQ(s.rfind("<Namespace {'me': <Namespace", 0), 0u);
  // Macros stored in namespaces and frames that hold them (reference cycles) are freed
  // at the end of the render; the ASan build checks for leaks.
  EXPECT_EQ(render("{% set ns = namespace() %}{% macro m() %}M{% endmacro %}{% set ns.f = m %}{{ ns.f() }}"), "M");
  EXPECT_EQ(render("{% for i in [1] %}{% set ns = namespace(l=loop) %}{% set ns.self = ns %}{{ ns.l.index }}{% endfor %}"),
            "1");
}

TEST(ChatEngine, HostileInputsNeverCrash) {
  const char* inputs[] = {
      "{{", "{%", "{#", "}}", "%}", "{{}}", "{%%}", "{% %}", "{{ ( }}", "{{ [ }}", "{{ { }}", "{{ 'a", "{% for %}",
      "{% for x in %}{% endfor %}", "{% set %}", "{% macro %}", "{% macro m( %}", "{% call %}{% endcall %}",
      "{% if %}{% endif %}", "{{ a.b.c.d.e.f }}", "{{ x[:::] }}", "{{ x[1:2:3:4] }}", "{{ 1 if }}",
      "{{ 'a' is }}", "{{ x|map }}", "{% filter %}{% endfilter %}", "{% raw %}", "{% endraw %}",
      "{{ '\\x' }}", "{{ '\\u12' }}", "{{ '\\U0011FFFF' }}", "\xff\xfe{{ '\xc3' }}", "{{ 1e999 }}", "{{ -1e999 }}",
      "{{ 0x }}", "{{ 1__0 }}", "{% set a.b.c = 1 %}", "{% for a, in [[1]] %}{{ a }}{% endfor %}",
      "{{ range(-9223372036854775807, 9223372036854775807, 4611686018427387904)|list }}",
      "{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}", "{{ (-9223372036854775807 - 1) // -1 }}",
      "{{ 2 ** 64 }}", "{{ 2 ** 0.5 }}", "{{ 0 ** -1 }}", "{{ '%s %s' % 1 }}", "{{ '%(a)s' % {} }}", "{{ '%' % 1 }}",
      "{{ '%99999999999d' % 1 }}", "{{ '{:99999999}'.format(1) }}", "{{ '{0[0]}'.format(1) }}", "{{ 'x'|center(99999999) }}",
      "{{ 'x'|indent(99999999) }}", "{{ 1.5|round(99999) }}", "{{ x|tojson(indent=99999999) }}", "{{ strftime_now(5) }}",
      "{{ strftime_now('%' * 2000) }}", "{{ {[1]: 2} }}", "{{ [1] in {} }}", "{{ [1,2]|sort(attribute='x.y.0') }}",
      "{{ [none, 1]|sort }}", "{{ [{}, {}]|sort }}", "{{ namespace(1) }}", "{{ dict(1) }}", "{{ loop.cycle() }}",
      "{% for x in [1] %}{{ loop.cycle() }}{% endfor %}", "{{ ''.join([1]) }}", "{{ 'a'.split('') }}",
      "{{ 'abc'[9223372036854775807:] }}", "{{ 'abc'[-9223372036854775807:-9223372036854775807:-9223372036854775807] }}",
      "{{ [1][::-9223372036854775807] }}", "{{ (1, 2)[(-9223372036854775807 - 1)] }}", "{{ -(-9223372036854775807 - 1) }}",
      "{{ (-9223372036854775807 - 1)|abs }}", "{{ 5 is divisibleby 0 }}", "{{ (-9223372036854775807 - 1) % -1 }}",
      "{{ [1, 2][1::9223372036854775807] }}", "{{ 'abc'[2::9223372036854775807] }}", "{{ [1, 2][-1::-9223372036854775807] }}",
      "{{ 'abc'[-9223372036854775807:] }}", "{{ [1][-1:-9223372036854775807:-1] }}",
      "{{ 'hello'[:,:-1] }}", "{{ x[1, 2] }}", "{{ {(1, 2): 3}[(1, 2)] }}",
  };
  RenderOptions opt;
  opt.limits.max_output = 1 << 20;
  opt.limits.max_steps = 100000;
  for (const char* in : inputs) {
    SCOPED_TRACE(in);
    try {
      render(in, ojson::object(), opt);
    } catch (const larql::Error&) {
    }
  }
}

TEST(ChatEngine, FloatFormattingMatchesPython) {
  // repr(float): shortest round-trip digits, scientific outside [1e-4, 1e16).
  EXPECT_EQ(larql::chat::format_float(1.0), "1.0");
  EXPECT_EQ(larql::chat::format_float(0.1), "0.1");
  EXPECT_EQ(larql::chat::format_float(1e16), "1e+16");
  EXPECT_EQ(larql::chat::format_float(1e15), "1000000000000000.0");
  EXPECT_EQ(larql::chat::format_float(0.0001), "0.0001");
  EXPECT_EQ(larql::chat::format_float(0.00001), "1e-05");
  EXPECT_EQ(larql::chat::format_float(1.5e-7), "1.5e-07");
  EXPECT_EQ(larql::chat::format_float(-2.5e100), "-2.5e+100");
  EXPECT_EQ(larql::chat::format_float(123456.789), "123456.789");
  EXPECT_EQ(larql::chat::format_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(larql::chat::format_float(-0.0), "-0.0");
}

}  // namespace
