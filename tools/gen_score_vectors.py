#!/usr/bin/env python3
"""Makes the scoring / sampled top-k fixtures with the official SDK (tinker 0.38.0).

Writes, relative to the repository root:
- fixtures/vectors/sampled_topk.pb: a SampleResponse encoded with the SDK's own
  generated protobuf module (tinker.proto.tinker_public_pb2), whose sequences
  carry `topk_sampled_logprobs` (with a sentinel row and trailing sentinel cells),
  plus prompt logprobs scored only on the last two positions (`prompt_logprobs_last_n`);
- fixtures/vectors/sampled_topk.expected.json: what the SDK's own decoder
  (tinker.proto.response_conv) makes of it, in the shape tinkex serialises;
- fixtures/sdk_requests/*.json: `asample` bodies exactly as SDK 0.38 serialises
  them (tinker/resources/sampling.py: model_dump(request, exclude_unset=False,
  exclude_none=True, mode="json"), compact JSON): a plain sample, a
  `compute_logprobs(prompt, prompt_logprobs_last_n=2)` and a sample with
  `topk_sample_logprobs=3`.

Run: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tinker==0.38.0 &&
     /tmp/venv/bin/python tools/gen_score_vectors.py
Values are exact binary fractions so float32 round-trips compare exactly.
"""

import json
import os
import struct

from tinker import types
from tinker._compat import model_dump
from tinker.proto import response_conv
from tinker.proto import tinker_public_pb2 as pb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASK = -99999.0


def i32(values):
    return struct.pack(f"<{len(values)}i", *values)


def f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def topk(rows, k):
    """A TopkLogprobs message from rows of (id, logprob) cells, padded with the sentinel."""
    ids, lps = [], []
    for row in rows:
        cells = list(row) + [(0, MASK)] * (k - len(row))
        ids += [c[0] for c in cells]
        lps += [c[1] for c in cells]
    return pb.TopkLogprobs(token_ids=i32(ids), logprobs=f32(lps), k=k, length=len(rows))


def response_message():
    nan = float("nan")
    first = pb.SampledSequence(
        stop_reason=pb.STOP_REASON_LENGTH,
        tokens=i32([11, 12, 13]),
        logprobs=f32([-0.5, -1.25, -2.0]),
        topk_sampled_logprobs=topk(
            [[(11, -0.5), (40, -1.5), (41, -2.5)], [], [(13, -2.0), (7, -2.25)]], 3
        ),
    )
    second = pb.SampledSequence(
        stop_reason=pb.STOP_REASON_STOP,
        tokens=i32([5]),
        logprobs=f32([-0.125]),
        topk_sampled_logprobs=topk([[(5, -0.125), (6, -3.0), (9, -4.0)]], 3),
    )
    return pb.SampleResponse(
        sequences=[first, second],
        prompt_logprobs=f32([nan, nan, -0.75, -1.5]),
        prompt_cache_hit_tokens=2,
    )


def expected(decoded):
    from tinker.types.topk_logprobs import topk_to_lists

    def rows(topk_np):
        if topk_np is None:
            return None
        return [None if r is None else [[int(t), float(lp)] for t, lp in r]
                for r in topk_to_lists(topk_np)]

    sequences = []
    for s in decoded.sequences:
        seq = {"stop_reason": s.stop_reason, "tokens": s.tokens, "logprobs": s.logprobs}
        if s.topk_logprobs_np is not None:
            seq["topk_logprobs"] = rows(s.topk_logprobs_np)
        sequences.append(seq)
    return {
        "sequences": sequences,
        "prompt_logprobs": decoded.prompt_logprobs,
        "topk_prompt_logprobs": rows(decoded.topk_prompt_logprobs_np),
        "prompt_cache_hit_tokens": decoded.prompt_cache_hit_tokens,
    }


def request_body(**kwargs):
    """An asample body as SDK 0.38 puts it on the wire (sampling_client._send_asample_request)."""
    base = dict(
        sampling_session_id="ssid-1",
        seq_id=0,
        num_samples=1,
        prompt=types.ModelInput.from_ints([1, 2, 3, 4, 5]),
        sampling_params=types.SamplingParams(),
        prompt_logprobs=False,
        topk_prompt_logprobs=0,
        topk_sample_logprobs=0,
        target_prompt_logprobs=None,
        prompt_alt_tokens_k=0,
        prompt_logprobs_last_n=None,
        record_stability_info=False,
    )
    base.update(kwargs)
    request = types.SampleRequest(**base)
    body = model_dump(request, exclude_unset=False, exclude_none=True, mode="json")
    return json.dumps(body, separators=(",", ":")) + "\n"


def write(path, data):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def main():
    message = response_message().SerializeToString()
    decoded = response_conv.deserialize_sample_response(message)
    write("fixtures/vectors/sampled_topk.pb", message)
    write("fixtures/vectors/sampled_topk.expected.json",
          json.dumps(expected(decoded), indent=1) + "\n")
    write("fixtures/sdk_requests/sample.json", request_body(
        num_samples=2,
        sampling_params=types.SamplingParams(
            max_tokens=4, seed=7, stop=["\n\n"], temperature=0.7, top_k=40, top_p=0.95
        ),
    ))
    write("fixtures/sdk_requests/compute_logprobs.json", request_body(
        sampling_params=types.SamplingParams(max_tokens=1),
        prompt_logprobs=True,
        prompt_logprobs_last_n=2,
    ))
    write("fixtures/sdk_requests/sample_topk.json", request_body(
        sampling_params=types.SamplingParams(max_tokens=3, seed=1),
        topk_sample_logprobs=3,
    ))


if __name__ == "__main__":
    main()
