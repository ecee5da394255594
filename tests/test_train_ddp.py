"""DDP: two gloo processes train a few steps and end with identical replicas."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch.multiprocessing as mp
from test_train import tiny_run_config
from train_corpus import TinyCorpus, write_tiny_corpus

from simul.families.checkpoint import build_model, load_checkpoint, weights_sha256
from simul.train import TrainConfig, train

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, config: TrainConfig, report_dir: Path) -> None:
    """One rank, launched as torchrun would: the environment says who it is."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE), LOCAL_RANK=str(rank),
    )  # fmt: skip
    result = train(config)
    report = {"step": result.step, "weights": result.weights_sha256, "metrics": result.metrics}
    (report_dir / f"rank{rank}.json").write_text(json.dumps(report))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> TinyCorpus:
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"), num_train=32)


def test_two_gloo_ranks_keep_identical_replicas(corpus: TinyCorpus, tmp_path: Path) -> None:
    config = tiny_run_config(
        corpus, tmp_path / "run", "trainer.max_steps=3", "trainer.validate_every_steps=100",
        "data.test_split=null", "optim.grad_accumulation=2", "trainer.device=cpu",
    )  # fmt: skip
    mp.spawn(_worker, args=(_free_port(), config, tmp_path), nprocs=WORLD_SIZE, join=True)
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD_SIZE)]
    assert [report["step"] for report in reports] == [3, 3]
    assert reports[0]["weights"] == reports[1]["weights"]
    assert "valid/asr/WER" in reports[0]["metrics"]  # rank 0 validates
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last.trainer_state is not None and last.trainer_state["world_size"] == WORLD_SIZE
    assert weights_sha256(build_model(last)) == reports[0]["weights"]
