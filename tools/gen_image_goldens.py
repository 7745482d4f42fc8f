#!/usr/bin/env python3
"""Regenerate fixtures/images/goldens.json (run once; the output is committed).

What it records, with tinker-cookbook 0.6.1's Qwen3-VL instruct renderer and transformers'
Qwen2-VL image processor configured from fixtures/images/preprocessor_config.json (Qwen3-VL's
settings: patch 16, merge 2, 256² to 4096² pixels):

- "sizes": for each width×height, the token count the processor gives
  (get_number_of_image_patches // merge_size²), or "refused" with the processor's error
  (aspect ratio over 200);
- "conversations": for each conversation, the prompt the renderer builds for sampling
  (build_generation_prompt): text chunks as token ids (fixtures/qwen3/tokenizer.json, which
  holds the vision tokens 151652-151655) and image chunks as their expected_tokens.

It also checks that fixtures/images/chat_template.jinja, rendered by transformers with the
images as content parts, gives the same text as the cookbook's chunks: the Rust tests render
that template and cut it at each <|image_pad|>, so both ways in must agree.

Setup (outside the repository):

    python3 -m venv /tmp/f3venv
    /tmp/f3venv/bin/pip install transformers==5.24.0 jinja2==3.1.6 tokenizers==0.23.3 tinker pillow
    /tmp/f3venv/bin/pip install --no-deps tinker-cookbook==0.6.1
    mkdir -p /tmp/stubs/torch && echo 'class Tensor: pass' > /tmp/stubs/torch/__init__.py
    PYTHONPATH=/tmp/stubs /tmp/f3venv/bin/python tools/gen_image_goldens.py

The cookbook imports torch only for type hints on these paths, so a stub module is enough.
"""

import json
import os

from PIL import Image
from transformers import PreTrainedTokenizerFast
# The PIL backend: the same smart_resize, without torchvision.
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from tinker_cookbook.renderers.qwen3 import Qwen3VLInstructRenderer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "fixtures", "images")

SIZES = [
    (224, 224), (150, 224), (224, 150), (400, 300), (239, 239), (1, 1), (2, 1), (28, 28),
    (32, 32), (33, 47), (200, 1), (1, 200), (201, 1), (1, 201), (4000, 20), (20, 4000),
    (4000, 3000), (3000, 4000), (1920, 1080), (1080, 1920), (640, 480), (800, 600),
    (1000, 1000), (4096, 4096), (5000, 5000), (8000, 8000), (13000, 13000), (16384, 82),
    (255, 257), (511, 513), (100, 3), (17, 3001),
]

# Each conversation: messages whose image parts name a size ("image": [w, h]).
CONVERSATIONS = [
    [{"role": "user", "content": [{"type": "image", "image": [224, 224]},
                                  {"type": "text", "text": "What is in the picture?"}]}],
    [{"role": "system", "content": "You describe images."},
     {"role": "user", "content": [{"type": "text", "text": "Compare "},
                                  {"type": "image", "image": [400, 300]},
                                  {"type": "text", "text": " and "},
                                  {"type": "image", "image": [150, 224]},
                                  {"type": "text", "text": "."}]}],
    [{"role": "user", "content": [{"type": "image", "image": [4000, 3000]}]},
     {"role": "assistant", "content": "A street at night."},
     {"role": "user", "content": [{"type": "text", "text": "And this one?"},
                                  {"type": "image", "image": [239, 239]}]}],
    [{"role": "user", "content": [{"type": "image", "image": [1, 1]},
                                  {"type": "image", "image": [200, 1]},
                                  {"type": "image", "image": [1, 200]},
                                  {"type": "text", "text": "Three images, back to back."}]}],
]


def processor():
    with open(os.path.join(IMAGES, "preprocessor_config.json")) as f:
        config = json.load(f)
    return Qwen2VLImageProcessorPil(patch_size=config["patch_size"], merge_size=config["merge_size"],
                                 size=config["size"])


def tokens_for(proc, width, height):
    try:
        patches = proc.get_number_of_image_patches(height, width, images_kwargs={})
    except ValueError as e:
        return "refused: " + str(e).splitlines()[0]
    return patches // proc.merge_size ** 2


def with_pil(messages):
    out = []
    for m in messages:
        if isinstance(m["content"], str):
            out.append(m)
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                parts.append({"type": "image", "image": Image.new("RGB", tuple(p["image"]))})
            else:
                parts.append(p)
        out.append({**m, "content": parts})
    return out


def main():
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(ROOT, "fixtures", "qwen3", "tokenizer.json"))
    proc = processor()
    renderer = Qwen3VLInstructRenderer(tok, proc)
    with open(os.path.join(IMAGES, "chat_template.jinja")) as f:
        tok.chat_template = f.read()
    sizes = [{"width": w, "height": h, "tokens": tokens_for(proc, w, h)} for w, h in SIZES]
    conversations = []
    for messages in CONVERSATIONS:
        prompt = renderer.build_generation_prompt(with_pil(messages))
        chunks, text = [], ""
        for chunk in prompt.chunks:
            if chunk.type == "image":
                chunks.append({"type": "image", "expected_tokens": chunk.expected_tokens})
                text += "<|image_pad|>"
            else:
                chunks.append({"type": "text", "tokens": list(chunk.tokens)})
                text += tok.decode(list(chunk.tokens))
        templated = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert templated == text, f"template and cookbook differ:\n{templated!r}\n{text!r}"
        conversations.append({"messages": messages, "text": text, "chunks": chunks})
    out = {"generator": "tools/gen_image_goldens.py (tinker-cookbook 0.6.1, transformers 5.24.0)",
           "sizes": sizes, "conversations": conversations}
    with open(os.path.join(IMAGES, "goldens.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
