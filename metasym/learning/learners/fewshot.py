r"""Few-shot classification: MAML over a deep MSR network with a cross-entropy loss.

**Learner.** :class:`FewShotLearner` is :class:`~metasym.learning.MetaLearner` with a
cross-entropy loss over a :class:`~metasym.learning.models.convnet.ConvNet`: the inner loop
adapts the ``v`` of every layer and the head with learned step sizes, the outer gradient
goes through it. Two ways compute the same numbers:

* ``vmap``: ``torch.func.grad`` inside ``torch.func.vmap`` over the episodes, the
  meta-gradient accumulated chunk by chunk (``chunk_size`` episodes per backward pass, so
  memory is bounded by one chunk's graph). Batched convolutions with per-episode weights
  become grouped convolutions: the way to fill a GPU.
* ``loop``: one episode at a time with ``torch.autograd.grad``, each episode's graph
  freed by its own backward pass. On a CPU an episode's images already make a full
  batch for the convolution kernels, and grouped convolutions are slower there: measured
  2.6x faster than ``vmap`` on 2 cores (``bench/fewshot.py``), and the least memory.

``batching="auto"`` (what the engine uses) takes ``loop`` on the CPU and ``vmap`` on CUDA.
Evaluation reports per-episode query accuracy and loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, vmap

from metasym.errors import SpecError
from metasym.learning.data.episodes import EpisodeBatch
from metasym.learning.learners.maml import MetaLearner

__all__ = ["FewShotLearner"]


class FewShotLearner(MetaLearner):
    """MAML over a :class:`~metasym.learning.models.convnet.ConvNet` with cross-entropy (see the
    module docstring). ``chunk_size``: episodes per ``vmap`` chunk and per backward pass
    (``None``: all at once); ``batching``: ``"vmap"``, ``"loop"`` or ``"auto"`` (loop on
    the CPU, vmap on CUDA)."""

    def __init__(self, model: torch.nn.Module, *, inner_steps: int = 1, inner_lr: float = 0.1,
                 first_order: bool = False, chunk_size: int | None = None,
                 batching: str = "auto", learn_inner_lr: bool = True,
                 inner_lr_floor: float | None = None) -> None:
        super().__init__(model, inner_steps=inner_steps, inner_lr=inner_lr,
                         first_order=first_order, chunk_size=chunk_size,
                         loss=F.cross_entropy, fast=False, learn_inner_lr=learn_inner_lr,
                         inner_lr_floor=inner_lr_floor)
        if batching not in ("auto", "vmap", "loop"):
            raise SpecError(f"batching must be auto, vmap or loop, got {batching!r}")
        self.batching = batching

    def uses_loop(self, device: torch.device) -> bool:
        """Whether episodes on ``device`` go one at a time (see the module docstring)."""
        return self.batching == "loop" or (self.batching == "auto" and device.type == "cpu")

    def _adapt_one(self, xs: Tensor, ys: Tensor, create_graph: bool
                   ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Meta and adapted inner parameters of one episode (``torch.autograd.grad``)."""
        meta, inner0, lrs = self._split()
        params = dict(inner0)
        with torch.enable_grad():
            for _ in range(self.inner_steps):
                loss = self.loss_fn(functional_call(self.model, {**meta, **params}, (xs,)), ys)
                gs = torch.autograd.grad(loss, list(params.values()),
                                         create_graph=create_graph and not self.first_order)
                params = {k: p - lrs[k] * g for (k, p), g in zip(params.items(), gs)}
        if not create_graph:
            params = {k: p.detach() for k, p in params.items()}
        return meta, params

    def _chunks(self, T: int, size: int | None) -> list[slice]:
        size = T if size is None else size
        return [slice(i, min(i + size, T)) for i in range(0, T, size)]

    def backward_meta_loss(self, *batch: Any) -> Tensor:
        """Accumulate the meta-gradient of the mean query cross-entropy, one chunk of
        episodes at a time (each chunk's graph is freed before the next)."""
        b = batch[0] if len(batch) == 1 else None
        if not isinstance(b, EpisodeBatch):
            return super().backward_meta_loss(*batch)
        T = len(b)
        total = None  # on the batch's device: the engine all-reduces it with the gradients
        if self.uses_loop(b.support.device):
            for t in range(T):
                xs, ys, xq, yq = b.select(slice(t, t + 1)).tensors()
                meta, params = self._adapt_one(xs[0], ys[0], create_graph=True)
                loss = self.loss_fn(functional_call(self.model, {**meta, **params}, (xq[0],)),
                                    yq[0])
                (loss / T).backward()
                total = loss.detach() if total is None else total + loss.detach()
            return total / T
        for sl in self._chunks(T, self.chunk_size):
            xs, ys, xq, yq = b.select(sl).tensors()
            losses = self._generic_task_losses(xs, ys, xq, yq, create_graph=True)
            (losses.sum() / T).backward()
            part = losses.detach().sum()
            total = part if total is None else total + part
        return total / T

    def query_logits(self, xs: Tensor, ys: Tensor, *queries: Tensor) -> list[Tensor]:
        """Logits of each query set in ``queries`` (``(T, n, C, H, W)``) after adapting
        on the support set, without an outer graph."""
        if self.uses_loop(xs.device):
            out: list[list[Tensor]] = [[] for _ in queries]
            for t in range(xs.shape[0]):
                meta, params = self._adapt_one(xs[t], ys[t], create_graph=False)
                with torch.no_grad():
                    for i, q in enumerate(queries):
                        out[i].append(functional_call(self.model, {**meta, **params}, (q[t],)))
            return [torch.stack(o) for o in out]
        meta, inner0, lrs = self._split()

        def one_task(xs: Tensor, ys: Tensor, *qs: Tensor) -> tuple[Tensor, ...]:
            params = self._inner(meta, inner0, lrs, xs, ys, create_graph=False)
            return tuple(functional_call(self.model, {**meta, **params}, (q,)) for q in qs)

        with torch.no_grad():
            out = vmap(one_task, randomness="error")(xs, ys, *queries)
        return [o.detach() for o in out]

    @torch.no_grad()
    def evaluate(self, *batch: Any, chunk: int = 50) -> dict[str, Tensor]:
        """Per-episode query ``accuracy`` and cross-entropy ``loss`` after adaptation on
        the support set; for a batch with augmented queries also ``accuracy_clean`` and
        ``loss_clean``, the same episodes' untransformed queries (one adaptation serves
        both)."""
        b = batch[0]
        both = b.augmented
        out: dict[str, list[Tensor]] = {k: [] for k in (
            ("accuracy", "loss", "accuracy_clean", "loss_clean") if both else
            ("accuracy", "loss"))}
        for sl in self._chunks(len(b), chunk):
            part = b.select(sl)
            xs, ys, xq, yq = part.tensors()
            queries = (xq, part.images(part.query)) if both else (xq,)
            for logits, tag in zip(self.query_logits(xs, ys, *queries), ("", "_clean")):
                out["accuracy" + tag].append((logits.argmax(-1) == yq).to(torch.float64)
                                             .mean(-1))
                out["loss" + tag].append(
                    F.cross_entropy(logits.flatten(0, 1), yq.flatten(), reduction="none")
                    .view(yq.shape).mean(-1).to(torch.float64))
        return {k: torch.cat(v).cpu() for k, v in out.items()}
