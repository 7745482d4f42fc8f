"""Builds fixtures/small/tokenizer.json: a small byte-level BPE tokenizer for fast CLI tests.

The real Qwen3 tokenizer takes seconds to load in a debug build; CLI tests that only need
*a* tokenizer use this one (same model type, pre-tokenizer, decoder and special-token
handling as Qwen's, a few hundred merges). Run once: python3 tools/gen_small_tokenizer.py
"""
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

CORPUS = [
    "Hello, world! This is tinkex, a command-line client for the Tinker API.",
    "The quick brown fox jumps over the lazy dog. Sampling from a model is fun.",
    "Tokens, logprobs and stop reasons: all printed as plain text or JSON.",
    "Write a haiku about autumn leaves falling on a quiet mountain road.",
]

tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=400,
    special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tokenizer.train_from_iterator(CORPUS * 20, trainer=trainer)
out = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "small" / "tokenizer.json"
out.parent.mkdir(parents=True, exist_ok=True)
tokenizer.save(str(out))
for text in ["Hello", "Hello, world!"]:
    print(repr(text), tokenizer.encode(text).ids)
print("wrote", out, "vocab", tokenizer.get_vocab_size())
