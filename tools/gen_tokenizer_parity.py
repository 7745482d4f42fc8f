#!/usr/bin/env python3
"""Generate fixtures/qwen3/parity.json: what Python's `tokenizers` makes of a varied corpus.

Run once from the repository root (needs `pip install tokenizers`; if
`transformers` is also installed, every result is cross-checked against
`AutoTokenizer`, which is what the Tinker SDK uses):

    python3 tools/gen_tokenizer_parity.py

The Rust test `tests/tokenizer_parity.rs` asserts that tinkex produces the same
ids (encode with special tokens added) and the same text (decode keeping special
tokens) for every entry.
"""

import json
import os
import sys

import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_DIR = os.path.join(ROOT, "fixtures", "qwen3")
OUT = os.path.join(FIXTURE_DIR, "parity.json")

LONG = (
    "Tokenizers split text into pieces a model can read. "
    "This paragraph repeats, with numbers 0123456789, punctuation (!?;:), "
    "and a few accented words: café, naïve, coöperate. "
) * 40 + "The end."

CORPUS = [
    ("ascii_greeting", "Hello, world!"),
    ("ascii_sentence", "The quick brown fox jumps over the lazy dog."),
    ("single_char", "a"),
    ("single_space", " "),
    ("single_newline", "\n"),
    ("empty", ""),
    ("spaces_only", "     "),
    ("leading_trailing", "   leading and trailing   "),
    ("whitespace_runs", "a    b\t\tc\n\n\nd    \n  e"),
    ("long_space_run", " " * 100 + "x"),
    ("crlf", "line one\r\nline two\r\n"),
    ("control_chars", "tab\tand\x0bvertical\x0cform feed\x00nul\x7fdel"),
    ("python_code", "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"),
    ("rust_code", "fn main() {\n\tlet v: Vec<u32> = (0..10).collect();\n\tprintln!(\"{v:?}\");\n}"),
    ("json", '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}'),
    ("markdown", "# Title\n\n- item 1\n- item 2\n\n```python\nprint(1)\n```\n"),
    ("latex", "$\\int_0^1 x^2\\,dx = \\frac{1}{3}$"),
    ("url", "https://example.com/path/to?query=1&x=y#frag"),
    ("numbers", "1234567890 3.14159 -42 1e10 0x1F 1,000,000"),
    ("contractions", "I'm, you're, it's, we'll, they'd, don't, I've"),
    ("uppercase", "SHOUTING IN ALL CAPS, ISN'T IT"),
    ("repeated_chars", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa !!!!!!!????? ......"),
    ("chinese", "你好，世界！今天天气很好。"),
    ("japanese", "こんにちは、世界。カタカナとひらがな。"),
    ("korean", "안녕하세요 세계"),
    ("arabic", "مرحبا بالعالم"),
    ("devanagari", "नमस्ते दुनिया"),
    ("thai", "สวัสดีชาวโลก"),
    ("mixed_script", "Rust和Python都很好 🐍 und Ärger"),
    ("fullwidth", "ＡＢＣ１２３！"),
    ("emoji", "I ❤️ Rust 🦀"),
    ("emoji_zwj_family", "👨‍👩‍👧‍👦 family"),
    ("emoji_skin_tone", "👍🏽 thumbs up"),
    ("emoji_flags", "🇫🇷🇯🇵🏴‍☠️"),
    ("emoji_keycap", "1️⃣ #️⃣"),
    ("combining_nfd", "e\u0301 vs \u00e9, n\u0303, a\u030a"),
    ("accents_nfc", "Ångström café naïve résumé"),
    ("zero_width", "zero\u200bwidth\u200cnon\u200djoiner\ufeffBOM"),
    ("math_alphanumerics", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙"),
    ("replacement_char", "bad \ufffd byte"),
    ("chat_template", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n"),
    ("endoftext", "<|endoftext|>"),
    ("special_glued", "a<|im_end|>b<|endoftext|>c"),
    ("special_partial", "<|im_start <|im_end| |im_start|>"),
    ("think_tags", "<think>\nLet me think.\n</think>\n\nThe answer is 4."),
    ("tool_call", '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'),
    ("prompt_colon", "User: What is 2+2?\nAssistant:"),
    ("long_text", LONG),
]


def decode_cases(tok):
    """Ids that do not come from a plain encode: split UTF-8 sequences, unknown ids."""
    family = tok.encode("👨‍👩‍👧‍👦", add_special_tokens=True).ids
    chinese = tok.encode("今天天气很好", add_special_tokens=True).ids
    fraktur = tok.encode("𝔘", add_special_tokens=True).ids
    assert len(fraktur) > 1, "pick a character that spans several byte-level tokens"
    vocab = tok.get_vocab_size(with_added_tokens=True)
    return [
        ("split_utf8_first_byte_token", fraktur[:1]),
        ("split_utf8_last_byte_token", fraktur[-1:]),
        ("emoji_first_token_only", family[:1]),
        ("emoji_without_last_token", family[:-1]),
        ("chinese_reversed", list(reversed(chinese))),
        ("special_ids_only", [151644, 151645, 151643]),
        ("unknown_id_skipped", [9707, vocab + 1000, 11]),
        ("empty_ids", []),
    ]


def to_json(doc):
    """Pretty JSON with one case per line, so diffs of the fixture stay readable."""
    out = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        value = doc[key]
        if isinstance(value, list):
            out.append(f" {json.dumps(key)}: [")
            for j, case in enumerate(value):
                sep = "," if j + 1 < len(value) else ""
                out.append("  " + json.dumps(case, ensure_ascii=False) + sep)
            out.append(" ]" + comma)
        else:
            out.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    tok = tokenizers.Tokenizer.from_file(os.path.join(FIXTURE_DIR, "tokenizer.json"))
    checker = None
    try:
        from transformers import AutoTokenizer

        checker = AutoTokenizer.from_pretrained(FIXTURE_DIR)
    except ImportError:
        print("transformers not installed: no cross-check", file=sys.stderr)

    encode = []
    for name, text in CORPUS:
        ids = tok.encode(text, add_special_tokens=True).ids
        decoded = tok.decode(ids, skip_special_tokens=False)
        if checker is not None:
            assert checker.encode(text) == ids, name
            assert checker.decode(ids) == decoded, name
        encode.append({"name": name, "text": text, "ids": ids, "decoded": decoded})

    decode = []
    for name, ids in decode_cases(tok):
        text = tok.decode(ids, skip_special_tokens=False)
        if checker is not None:
            assert checker.decode(ids) == text, name
        decode.append({"name": name, "ids": ids, "decoded": text})

    doc = {
        "generator": "tools/gen_tokenizer_parity.py",
        "tokenizers_version": tokenizers.__version__,
        "cross_checked_with": None if checker is None else "transformers " + __import__("transformers").__version__,
        "tokenizer": "fixtures/qwen3/tokenizer.json",
        "vocab_size_with_added_tokens": tok.get_vocab_size(with_added_tokens=True),
        "encode": encode,
        "decode": decode,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(to_json(doc))
    print(f"wrote {OUT}: {len(encode)} encode cases, {len(decode)} decode cases")


if __name__ == "__main__":
    main()
