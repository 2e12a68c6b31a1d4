// Fallback templates for models without tokenizer.chat_template, written in
// the prompt formats the model families were trained with. Each is a raw
// string delimited by TPL( ... )TPL (tests/unit/chat/gen_expected.py reads them).
#include <cstring>
#include <string>
#include <vector>

#include "chat/chat.h"

namespace larql::chat {

namespace {

struct Builtin {
  const char* name;
  const char* text;
};

const Builtin kBuiltins[] = {
    {"chatml", R"TPL({%- for message in messages %}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- endif %})TPL"},

    {"llama3", R"TPL({{- bos_token }}
{%- for message in messages %}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %})TPL"},

    {"llama2", R"TPL({%- if messages and messages[0]['role'] == 'system' %}
{%- set system = messages[0]['content'] %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set system = none %}
{%- set loop_messages = messages %}
{%- endif %}
{%- for message in loop_messages %}
{%- if message['role'] == 'user' %}
{%- if loop.first and system is not none %}
{%- set content = '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + message['content'] %}
{%- else %}
{%- set content = message['content'] %}
{%- endif %}
{{- bos_token + '[INST] ' + content | trim + ' [/INST]' }}
{%- elif message['role'] == 'assistant' %}
{{- ' ' + message['content'] | trim + ' ' + eos_token }}
{%- endif %}
{%- endfor %})TPL"},

    {"mistral", R"TPL({%- if messages and messages[0]['role'] == 'system' %}
{%- set system = messages[0]['content'] %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set system = none %}
{%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
{%- if message['role'] == 'user' %}
{%- if loop.first and system is not none %}
{{- '[INST] ' + system + '\n\n' + message['content'] + ' [/INST]' }}
{%- else %}
{{- '[INST] ' + message['content'] + ' [/INST]' }}
{%- endif %}
{%- elif message['role'] == 'assistant' %}
{{- ' ' + message['content'] + eos_token }}
{%- endif %}
{%- endfor %})TPL"},

    {"gemma", R"TPL({{- bos_token }}
{%- if messages and messages[0]['role'] == 'system' %}
{%- set prefix = messages[0]['content'] + '\n\n' %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set prefix = '' %}
{%- set loop_messages = messages %}
{%- endif %}
{%- for message in loop_messages %}
{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}
{{- '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<start_of_turn>model\n' }}
{%- endif %})TPL"},

    {"phi3", R"TPL({%- for message in messages %}
{{- '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|assistant|>\n' }}
{%- else %}
{{- eos_token }}
{%- endif %})TPL"},

    {"deepseek", R"TPL({{- bos_token }}
{%- set ns = namespace(system='') %}
{%- for message in messages if message['role'] == 'system' %}
{%- set ns.system = ns.system + ('\n\n' if ns.system else '') + message['content'] %}
{%- endfor %}
{{- ns.system }}
{%- for message in messages %}
{%- if message['role'] == 'user' %}
{{- '<｜User｜>' + message['content'] }}
{%- elif message['role'] == 'assistant' %}
{{- '<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<｜Assistant｜>' }}
{%- endif %})TPL"},

    {"deepseek2", R"TPL({{- bos_token }}
{%- for message in messages %}
{%- if message['role'] == 'user' %}
{{- 'User: ' + message['content'] + '\n\n' }}
{%- elif message['role'] == 'assistant' %}
{{- 'Assistant: ' + message['content'] + eos_token }}
{%- elif message['role'] == 'system' %}
{{- message['content'] + '\n\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- 'Assistant:' }}
{%- endif %})TPL"},

    {"zephyr", R"TPL({%- for message in messages %}
{{- '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|assistant|>\n' }}
{%- endif %})TPL"},
};

}  // namespace

const char* builtin_template(const std::string& name) {
  std::string n = name;
  if (n == "mixtral") n = "mistral";
  if (n == "phi-3") n = "phi3";
  if (n == "llama-3" || n == "llama3.1") n = "llama3";
  if (n == "llama-2") n = "llama2";
  if (n == "deepseek3" || n == "deepseek-r1") n = "deepseek";
  for (const auto& b : kBuiltins)
    if (n == b.name) return b.text;
  return nullptr;
}

std::vector<std::string> builtin_template_names() {
  std::vector<std::string> out;
  for (const auto& b : kBuiltins) out.emplace_back(b.name);
  return out;
}

}  // namespace larql::chat
