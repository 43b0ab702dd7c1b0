"""Speed of HookedAudioLM against HF transformers' Qwen2-Audio, measured in one process.

    python benchmarks/audio_lm_benchmark.py [--repeats 5] [--out benchmarks/AUDIO_LM_RESULTS.md]

A random Qwen2-Audio config of moderate size (no real checkpoint fits this machine): a full
30 s window (1500 tower frames -> 750 audio positions) in a 780-token prompt. Cases:

- forward: HF `model(**inputs).logits` vs `HookedAudioLM(**inputs)` (float32, same weights).
- cache: `run_with_cache` of every hook, and without attention patterns.
- audio/text sweep: `audio_text_sweep` (3 cells x n_layers, resumes at the patched layer,
  cells batched) vs the plain loop: one full hooked forward per (layer, cell), which is what
  a generic patching loop does.

Timings alternate between cases round by round and report the median; ratios carry across
machines, absolute times on a shared 2-core machine do not.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch
from run_benchmarks import time_rounds  # this folder is on sys.path when run as a script
from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

from hooked_audio.analysis import audio_text_cells, audio_text_sweep
from hooked_audio.models.audio_lm import HookedAudioLM

AUDIO_TOKEN = 7999


def build(n_layers: int) -> tuple[Qwen2AudioForConditionalGeneration, HookedAudioLM]:
    config = Qwen2AudioConfig(
        audio_config=dict(
            d_model=384,
            encoder_layers=4,
            encoder_attention_heads=6,
            encoder_ffn_dim=1536,
            num_mel_bins=128,
            max_source_positions=1500,
        ),
        text_config=dict(
            model_type="qwen2",
            hidden_size=512,
            num_hidden_layers=n_layers,
            num_attention_heads=8,
            num_key_value_heads=2,
            intermediate_size=1536,
            vocab_size=8000,
        ),
        audio_token_index=AUDIO_TOKEN,
    )
    torch.manual_seed(0)
    hf = Qwen2AudioForConditionalGeneration(config).eval()
    return hf, HookedAudioLM.from_hf(hf)


def inputs(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    text = torch.randint(0, AUDIO_TOKEN, (30,), generator=generator)
    ids = torch.cat([text[:10], torch.full((750,), AUDIO_TOKEN), text[10:]])[None]
    return dict(
        input_ids=ids,
        input_features=torch.randn(1, 128, 3000, generator=generator),
        attention_mask=torch.ones_like(ids),
        feature_attention_mask=torch.ones(1, 3000, dtype=torch.long),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("AUDIO_LM_RESULTS.md"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    hf, model = build(args.layers)
    clean, corrupt = inputs(1), inputs(2)
    metric = lambda logits: logits[0, -1, 5] - logits[0, -1, 6]

    def no_patterns(name: str) -> bool:
        return not name.endswith(("hook_pattern", "hook_attn_scores"))

    forward = time_rounds(
        {
            "HF forward": lambda: hf(**clean).logits,
            "HookedAudioLM forward": lambda: model(**clean),
            "run_with_cache (all hooks)": lambda: model.run_with_cache(**clean),
            "run_with_cache (no patterns)": lambda: model.run_with_cache(
                **clean, names_filter=no_patterns
            ),
        },
        args.repeats,
        warmup=1,
    )

    masks = audio_text_cells(model, clean)

    def plain_loop() -> None:
        _, cache = model.run_with_cache(
            **clean, names_filter=lambda n: n.endswith("hook_resid_pre")
        )
        for layer in range(model.cfg.n_layers):
            name = f"blocks.{layer}.hook_resid_pre"
            for mask in masks:
                hook = lambda x, hook, mask=mask: torch.where(mask[..., None], cache[name], x)
                metric(model.run_with_hooks(**corrupt, fwd_hooks=[(name, hook)]))

    sweep = time_rounds(
        {
            "plain loop (full forward per cell)": plain_loop,
            "audio_text_sweep": lambda: audio_text_sweep(
                model, clean, corrupt, metric, progress=False
            ),
        },
        max(2, args.repeats // 2),
        warmup=1,
    )

    hf_time = forward["HF forward"]
    lines = [
        "# HookedAudioLM benchmarks",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
        f"threads, torch {torch.__version__}. Random Qwen2-Audio: tower 4 x 384 (1500 frames), "
        f"LM {args.layers} x 512 (8 heads, 2 KV heads), vocab 8000; prompt of 780 tokens with 750 "
        f"audio positions. Median of {args.repeats} alternating rounds. Written by "
        "`benchmarks/audio_lm_benchmark.py`.",
        "",
        "| case | seconds | ratio to HF forward | target |",
        "|---|---|---|---|",
    ]
    targets = {"HookedAudioLM forward": 1.10, "run_with_cache (no patterns)": 1.5}
    for name, seconds in forward.items():
        target = targets.get(name)
        verdict = (
            ""
            if target is None
            else (f"<= {target}x: " + ("met" if seconds / hf_time <= target else "MISSED"))
        )
        lines.append(f"| {name} | {seconds:.3f} | {seconds / hf_time:.2f} | {verdict} |")
    loop, fast = sweep["plain loop (full forward per cell)"], sweep["audio_text_sweep"]
    lines += [
        "",
        f"Audio/text sweep over {model.cfg.n_layers} layers x 3 cells:",
        "",
        "| case | seconds | speed-up |",
        "|---|---|---|",
        f"| plain loop (full forward per cell) | {loop:.3f} | 1.00 |",
        f"| audio_text_sweep | {fast:.3f} | {loop / fast:.2f} |",
        "",
        "Where the sweep's time goes: two cached runs (base and source), then per layer one "
        "batched run of the three cells from that layer on; the audio tower and the layers "
        "before the patched one are never recomputed. The full cache costs more than the "
        "forward because materialising every attention pattern (the tower's 1500 x 1500 per "
        "head) replaces the fused attention kernel.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
