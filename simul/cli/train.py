"""``simul train``: train a model family from a YAML config, in one process or under torchrun."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (transducer, ...) from a YAML config; resumes an interrupted run",
        description=(
            "Train the model family a YAML config names (see experiments/), overriding any key "
            "with KEY=VALUE (OmegaConf dotted syntax, e.g. optim.lr=5e-4 "
            "model.config.encoder.num_layers=4; an unknown key is an error). One process by "
            "default; under `torchrun --nproc-per-node N -m simul.cli.main train ...` the same "
            "command trains with DistributedDataParallel (gloo on CPU, NCCL on GPU). "
            "Checkpoints, TensorBoard scalars, config.yaml and spm.model go to "
            "trainer.output_dir; rerunning the command resumes from checkpoints/last.pt. At the "
            "end the best checkpoint decodes data.test_split (quality and latency in test/)."
        ),
    )
    parser.add_argument(
        "config", type=Path, metavar="CONFIG", help="YAML file (experiments/*.yaml)"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, applied in order"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as YAML and exit without training",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `simul --help` and the other commands do not load torch.
    from omegaconf import OmegaConf

    from simul.train import load_train_config, train
    from simul.train.config import config_to_dict

    config = load_train_config(args.config, args.overrides)
    if args.print_config:
        print(OmegaConf.to_yaml(config_to_dict(config)), end="")
        return 0
    result = train(config)
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports (the others do not validate or test)
    summary = {
        "step": result.step,
        "finished": result.finished,
        "best_valid": result.best_metric,
        "test": result.test_metrics,
    }
    print(json.dumps(summary, indent=2))
    return 0
