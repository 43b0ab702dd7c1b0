"""`hooked-audio sae train` and `hooked-audio sae dashboard`: an SAE on a Whisper encoder hook,
from a folder of clips to a dashboard of its features.

`train` writes the hook's activations of the clips to `OUT/store` (an activation store,
resumable), trains one of SAELens's SAEs on them, saves it in SAELens's format to `OUT/sae`,
and reports its explained variance, L0, dead features and the decoder's loss when the model
runs on the reconstruction (`OUT/metrics.json`). `dashboard` writes `dashboard.html` for a
trained SAE: each feature's top frames with the audio to play, the log-mel there with the
activation over it, and the words.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from hooked_audio.commands.arguments import add_model_argument, load_whisper_for, positive_int
from hooked_audio.constants import SAMPLE_RATE

#: clips scored by the spliced-loss check (each at most one 30 s window)
LOSS_CLIPS = 8


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def add_sae_parser(sub) -> None:
    parser = sub.add_parser("sae", help="train sparse autoencoders and look at their features")
    actions = parser.add_subparsers(dest="sae_command", required=True)

    train = actions.add_parser("train", help="train an SAE (SAELens) on an encoder hook")
    train.add_argument("--hook", required=True, help="e.g. encoder.blocks.2.hook_resid_post")
    train.add_argument(
        "--clips", required=True, help="'bundled' or a folder of audio (optional .words.csv)"
    )
    train.add_argument("--out", required=True, type=Path, help="folder for store, sae, metrics")
    add_model_argument(train)
    train.add_argument("--architecture", default="topk", help="a SAELens architecture")
    train.add_argument("--d-sae", type=positive_int, default=512, help="features (512)")
    train.add_argument("--k", type=positive_int, default=32, help="active features, top-k SAEs")
    train.add_argument(
        "--l1", type=_positive_float, default=None, help="L1 coefficient, standard SAEs"
    )
    train.add_argument("--samples", type=positive_int, default=50_000, help="training rows")
    train.add_argument("--batch-size", type=positive_int, default=256)
    train.add_argument("--lr", type=_positive_float, default=2e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--padding", action="store_true", help="train on the 30 s window's padding frames too"
    )

    board = actions.add_parser("dashboard", help="write dashboard.html for a trained SAE")
    board.add_argument("run", type=Path, help="a folder `hooked-audio sae train` wrote")
    board.add_argument("--clips", required=True, help="the clips it was trained on")
    board.add_argument("--out", type=Path, default=None, help="default: RUN")
    add_model_argument(board)
    board.add_argument("--features", type=positive_int, default=16, help="features shown")
    board.add_argument("--examples", type=positive_int, default=6, help="examples per feature")


def _clips(spec: str):
    from hooked_audio.activation_store import bundled_clips, clips_from_folder

    return bundled_clips() if spec == "bundled" else clips_from_folder(spec)


def _check_clips_argument(spec: str) -> None:
    if spec != "bundled" and not Path(spec).is_dir():
        raise ValueError(f"--clips {spec!r} is neither 'bundled' nor a folder of audio files.")


def _architecture_options(args: argparse.Namespace) -> dict:
    if args.architecture in ("topk", "batchtopk", "matryoshka_batchtopk"):
        if args.l1 is not None:
            raise ValueError(f"--l1 is for L1-penalised SAEs, not {args.architecture}.")
        return {"k": args.k}
    return {"l1_coefficient": args.l1} if args.l1 is not None else {}


def run_train(args: argparse.Namespace) -> int:
    from hooked_audio.sae.requirement import sae_lens

    if not args.hook.startswith("encoder."):
        raise ValueError(
            f"--hook {args.hook!r}: training reads encoder hooks (one row per 20 ms frame), "
            "e.g. encoder.blocks.2.hook_resid_post."
        )
    _check_clips_argument(args.clips)
    options = _architecture_options(args)
    sae_lens()  # fail before the model loads when the sae extra is missing

    from hooked_audio.activation_store import ActivationStore, write_activations
    from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
    from hooked_audio.models.whisper.transcript_loss import TranscriptLoss
    from hooked_audio.sae import (
        ActivationBatches,
        reconstruction_stats,
        spliced_loss,
        train_sae,
        training_config,
    )

    training_config(args.architecture, 1, args.d_sae, **options)  # checks the options
    clips = _clips(args.clips)
    model = load_whisper_for("sae", args.model)
    source = WhisperEncoderSource(model, args.model)
    store = ActivationStore(
        write_activations(source, clips, [args.hook], args.out / "store", padding=args.padding)
    )
    batches = ActivationBatches.from_store(store, args.hook, args.batch_size, seed=args.seed)
    sae = train_sae(
        batches,
        args.hook,
        d_sae=args.d_sae,
        training_samples=args.samples,
        architecture=args.architecture,
        lr=args.lr,
        model_name=args.model,
        out_dir=args.out / "sae",
        seed=args.seed,
        **options,
    )
    held = ActivationBatches.from_store(store, args.hook, args.batch_size, seed=args.seed + 1)
    n_batches = max(1, min(16, len(store.frame(args.hook)) // args.batch_size))
    stats = reconstruction_stats(sae, held, n_batches)
    window = model.window_samples / SAMPLE_RATE
    scored = [c for c in clips if c.seconds <= window][:LOSS_CLIPS]
    loss = spliced_loss(model, sae, TranscriptLoss(model, scored)) if scored else None
    metrics = {
        "hook": args.hook,
        "model": args.model,
        "architecture": args.architecture,
        "d_sae": args.d_sae,
        "training_samples": args.samples,
        "store_rows": int(store.clip_info["rows"].sum()),
        "reconstruction": asdict(stats),
        "spliced_loss": None
        if loss is None
        else {**asdict(loss), "increase": loss.increase, "recovered": loss.recovered},
        "loss_clips": [c.id for c in scored],
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(f"SAE saved to {args.out / 'sae'} ({args.architecture}, {args.d_sae} features)")
    print(
        f"explained variance {stats.explained_variance:.3f}  L0 {stats.l0:.1f}  "
        f"dead {stats.dead_fraction:.1%}  (over {stats.rows} rows)"
    )
    if loss is not None:
        print(
            f"decoder loss on {len(scored)} clips' transcripts: clean {loss.clean:.3f}, "
            f"spliced {loss.spliced:.3f} (+{loss.increase:.3f}), zero-ablated "
            f"{loss.zero_ablated:.3f}; recovered {loss.recovered:.2f}"
        )
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    run = args.run
    for needed in ("store", "sae"):
        if not (run / needed).is_dir():
            raise ValueError(
                f"{str(run)!r} has no {needed}/ folder: pass a folder that "
                "`hooked-audio sae train --out` wrote."
            )
    _check_clips_argument(args.clips)
    from hooked_audio.activation_store import ActivationStore
    from hooked_audio.sae import load_sae
    from hooked_audio.sae.dashboard import write_dashboard

    model = load_whisper_for("sae", args.model)
    sae = load_sae(run / "sae", model)
    page = write_dashboard(
        sae,
        ActivationStore(run / "store"),
        _clips(args.clips),
        args.out or run,
        n_features=args.features,
        k=args.examples,
        model=model,
    )
    print(f"Wrote {page}")
    return 0


def run_sae_command(args: argparse.Namespace) -> int:
    return {"train": run_train, "dashboard": run_dashboard}[args.sae_command](args)
