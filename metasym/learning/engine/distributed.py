r"""Data-parallel meta-training on :mod:`torch.distributed` (launched by ``torchrun``).

Every rank holds the same model (same seed), samples the *same global* task batch with
the same generator, and computes the meta-gradient of its contiguous slice of that batch
(:func:`torch.tensor_split`, so any batch size and world size work). The slice gradients,
weighted by ``slice size / batch size``, are summed with one ``all_reduce`` -- the mean
over the global batch, exactly what one process computes, up to float summation order --
and every rank takes the same optimiser step. The training loss and a stop flag
(SIGINT/SIGTERM seen on any rank) travel in the same buffer, so all ranks agree on when
to stop. Only rank 0 writes the run folder (checkpoints, metrics).

Backends: ``gloo`` on CPU, ``nccl`` with ``--device cuda`` (each rank takes
``cuda:LOCAL_RANK``). Launch::

    torchrun --standalone --nproc_per_node 2 $(which metasym) train --out runs/NAME ...

See ``docs/reliability.md`` for several machines.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import torch

from metasym.errors import MetasymError

__all__ = ["World", "world_from_env", "SINGLE", "disagreement"]


@dataclass
class World:
    """This process's place in the job: ``rank`` of ``size`` (``size == 1``: no
    torch.distributed at all)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, name: str) -> str:
        """``cuda`` becomes ``cuda:LOCAL_RANK`` under a multi-process launch."""
        if self.distributed and name == "cuda":
            return f"cuda:{self.local_rank}"
        return name

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` tasks (``torch.tensor_split`` sizes)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def allreduce_(self, buf: torch.Tensor) -> torch.Tensor:
        """Sum ``buf`` over all ranks in place (no-op in a single process)."""
        if self.distributed:
            torch.distributed.all_reduce(buf)
        return buf

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def broadcast_error(self, message: str | None) -> str | None:
        """Share an error message from rank 0 with every rank (so a refusal on rank 0 --
        an existing run folder -- stops all ranks with the same message)."""
        if not self.distributed:
            return message
        obj = [message]
        torch.distributed.broadcast_object_list(obj, src=0)
        return obj[0]

    def agree(self, fields: dict[str, Any]) -> None:
        """Check that every rank runs the same job: all-gather the digest of ``fields``
        (the run's settings) and, when they differ, raise the same one-line
        :class:`~metasym.errors.MetasymError` on every rank naming the fields that differ
        (:func:`disagreement`) -- before any work, instead of a hang (different
        ``--steps``) or a collective's traceback (different shapes, ``--k``)."""
        if not self.distributed:
            return
        text = json.dumps(fields, sort_keys=True, default=str)
        mine = (hashlib.sha256(text.encode()).hexdigest(), json.loads(text))
        gathered: list[Any] = [None] * self.size
        torch.distributed.all_gather_object(gathered, mine)
        if any(g[0] != gathered[0][0] for g in gathered):
            raise MetasymError(disagreement([g[1] for g in gathered]))

    def close(self) -> None:
        if self.owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
            self.owns_group = False


SINGLE = World()


def disagreement(per_rank: list[dict[str, Any]]) -> str:
    """The one line for ranks whose settings differ: each differing field as its
    command-line flag with every distinct value and the ranks that have it."""
    keys = sorted({k for d in per_rank for k in d})
    parts = []
    for k in keys:
        values: dict[str, list[int]] = {}
        for r, d in enumerate(per_rank):
            values.setdefault(json.dumps(d.get(k), sort_keys=True), []).append(r)
        if len(values) > 1:
            have = "; ".join(f"{v} on rank{'s' if len(rs) > 1 else ''} "
                             f"{','.join(map(str, rs[:8]))}{'...' if len(rs) > 8 else ''}"
                             for v, rs in values.items())
            parts.append(f"--{k.replace('_', '-')} ({have})")
    what = ", ".join(parts) if parts else "the run's settings"
    return (f"the {len(per_rank)} torchrun processes disagree on {what}: every process "
            "must be started with the same flags; stop them all and launch again")


def world_from_env(device: str) -> World:
    """The world described by torchrun's environment (``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``); a single process when unset.

    Initialises the default process group (gloo for CPU, nccl for CUDA) unless one
    already exists (then its rank and size are used)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(),
                     int(os.environ.get("LOCAL_RANK", "0")), owns_group=False)
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise MetasymError(f"bad torchrun environment ({e})") from None
    if size <= 1:
        return World()
    if not dist.is_available():
        raise MetasymError("WORLD_SIZE > 1 but this torch has no torch.distributed")
    cuda = device.startswith("cuda")
    backend = "nccl" if cuda else "gloo"
    if cuda:
        if not torch.cuda.is_available():
            raise MetasymError("--device cuda requested but no CUDA device is available")
        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend)
    return World(rank, size, local, owns_group=True)
