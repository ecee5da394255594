"""Processes and devices of a training run: one process, or several under ``torchrun`` (DDP).

``torchrun`` (or SLURM through submitit's ``TorchDistributedEnvironment``) sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; when ``WORLD_SIZE > 1`` the
trainer joins the process group: NCCL when each rank has a GPU, gloo on CPU.  The same command
runs one process by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import final

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "init_distributed", "shutdown_distributed"]


@final
@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the run.

    Attributes:
        rank: in ``[0, world_size)``; rank 0 logs, validates and writes checkpoints.
        world_size: data-parallel processes.
        local_rank: rank on this machine (its GPU index).
        device: where this process computes.
        owns_process_group: whether :func:`init_distributed` created the process group (and
            :func:`shutdown_distributed` should destroy it).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_process_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0."""
        return self.rank == 0

    def all_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on every rank (a collective call: every rank must make it)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def any_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on some rank (collective)."""
        return not self.all_true(not flag)

    def barrier(self) -> None:
        """Wait for every rank (no-op in one process)."""
        if self.world_size > 1:
            dist.barrier()


def _device(setting: str, local_rank: int) -> torch.device:
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cpu":
        return torch.device("cpu")
    if setting == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("`trainer.device` is cuda, but no CUDA device is available.")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    raise ValueError(f"`trainer.device` must be auto, cpu or cuda, but is {setting!r} instead.")


def init_distributed(device_setting: str = "auto") -> DistributedContext:
    """Join the process group when launched with ``WORLD_SIZE > 1``; pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"RANK must be in [0, WORLD_SIZE) with WORLD_SIZE >= 1, "
            f"but they are {rank} and {world_size} instead."
        )
    device = _device(device_setting, local_rank)
    owns = False
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return DistributedContext(
        rank=rank, world_size=world_size, local_rank=local_rank, device=device,
        owns_process_group=owns,
    )  # fmt: skip


def shutdown_distributed(context: DistributedContext) -> None:
    """Leave the process group if :func:`init_distributed` joined it."""
    if context.owns_process_group and dist.is_initialized():
        dist.destroy_process_group()
