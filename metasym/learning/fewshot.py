r"""Few-shot image classification: episodes, the meta-learner, and learned-vs-exact per layer.

**Episodes.** An ``N``-way ``K``-shot episode draws ``N`` classes of a split, ``K``
support and ``Q`` query images of each (without replacement) and labels the classes
``0..N-1`` in random order. Meta-training episodes come from the background split,
test episodes from the evaluation split (held-out alphabets). Episode ``i`` is a pure
function of ``(data_seed, i)``: the engine draws training indices with its own seeded
generator (:meth:`EpisodeSource.train_batch`), so training, resume and ``torchrun`` see
the same episodes; the test episodes are fixed. With augmentation, the *query* images of
meta-training episodes are transformed (one random transform per image, seeded by the
episode); support sets and test episodes never are.

**Learner.** :class:`FewShotLearner` is :class:`~metasym.learning.MetaLearner` with a
cross-entropy loss over a :class:`~metasym.learning.convnet.ConvNet`: the inner loop
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, vmap

from metasym.errors import MetasymError, SpecError
from metasym.learning.maml import MetaLearner

__all__ = [
    "EpisodeBatch",
    "EpisodeSource",
    "FewShotLearner",
    "invariance_errors",
    "UNLIMITED_EPISODES",
]

#: Size of the index space of meta-training episodes (every draw is, in effect, a new one).
UNLIMITED_EPISODES = 2 ** 62

_TRAIN, _TEST = 0, 1  # seed-sequence tags of the two splits


@dataclass
class EpisodeBatch:
    """``T`` episodes, held as indices into an image store until they are used.

    ``store`` ``(M, C, H, W)`` ``uint8`` images; ``support``/``query`` ``(T, N K)`` /
    ``(T, N Q)`` image indices with their labels ``ys``/``yq``; ``xq`` the already
    transformed float query images ``(T, N Q, C, H, W)`` of augmented episodes (``None``:
    read them from the store)."""

    store: Tensor
    support: Tensor
    ys: Tensor
    query: Tensor
    yq: Tensor
    xq: Tensor | None = None

    def __len__(self) -> int:
        return int(self.support.shape[0])

    def select(self, index: slice | Tensor) -> EpisodeBatch:
        return EpisodeBatch(self.store, self.support[index], self.ys[index], self.query[index],
                            self.yq[index], None if self.xq is None else self.xq[index])

    def images(self, index: Tensor) -> Tensor:
        """Float images in ``[0, 1]`` of an index array ``(T, n)``: ``(T, n, C, H, W)``."""
        flat = self.store.index_select(0, index.reshape(-1))
        return (flat.to(torch.get_default_dtype()) / 255.0).view(*index.shape,
                                                                  *self.store.shape[1:])

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(xs, ys, xq, yq)`` as float images and int64 labels."""
        xq = self.images(self.query) if self.xq is None else self.xq
        return self.images(self.support), self.ys, xq, self.yq

    def __iter__(self):  # the MetaLearner methods unpack a batch into its four tensors
        return iter(self.tensors())


def _class_members(labels: np.ndarray, n_classes: int) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_classes + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(n_classes)]


class EpisodeSource:
    """The engine's task source of ``ways``-way ``shots``-shot episodes.

    Parameters
    ----------
    background, evaluation
        :class:`~metasym.learning.fewshot_data.ImageClasses` of meta-training and meta-test
        (disjoint classes).
    ways, shots, queries
        Classes per episode, support and query images per class.
    augment
        An :class:`~metasym.learning.augment.Augmentation` of meta-training query images.
    seed
        The episodes' seed (``data_seed``).
    test_episodes
        Number of fixed test episodes.
    device
        Where images and episodes live.
    """

    def __init__(self, background: Any, evaluation: Any, *, ways: int, shots: int,
                 queries: int, augment: Any, seed: int = 0, test_episodes: int = 600,
                 device: torch.device | str = "cpu") -> None:
        self.ways, self.shots, self.queries = int(ways), int(shots), int(queries)
        self.augment, self.seed = augment, int(seed)
        self.device = torch.device(device)
        need = self.shots + self.queries
        for name, split in (("background", background), ("evaluation", evaluation)):
            if split.n_classes < self.ways:
                raise SpecError(f"--ways {self.ways}: the {name} split has only "
                                f"{split.n_classes} classes")
            fewest = int(split.class_counts().min())
            if fewest < need:
                raise SpecError(f"--shots {self.shots} + --queries {self.queries} = {need} "
                                f"images per class, but a class of the {name} split has "
                                f"only {fewest}")
        if background.images.shape[1:] != evaluation.images.shape[1:]:
            raise SpecError("background and evaluation images differ in size")
        self.background, self.evaluation = background, evaluation
        self.n_train, self.n_test = UNLIMITED_EPISODES, int(test_episodes)
        self.image_shape = self._store(background).shape[1:]
        self._train_store = self._store(background).to(self.device)
        self._test_store = self._store(evaluation).to(self.device)
        self._members = {_TRAIN: _class_members(background.labels, background.n_classes),
                         _TEST: _class_members(evaluation.labels, evaluation.n_classes)}
        si, sl, qi, ql = self._indices(_TEST, range(self.n_test))
        self._test = EpisodeBatch(self._test_store, si.to(self.device), sl.to(self.device),
                                  qi.to(self.device), ql.to(self.device))

    @staticmethod
    def _store(split: Any) -> Tensor:
        imgs = torch.from_numpy(np.array(split.images))  # a writable copy
        return imgs.unsqueeze(1) if imgs.ndim == 3 else imgs.permute(0, 3, 1, 2).contiguous()

    @property
    def in_channels(self) -> int:
        return int(self.image_shape[0])

    def _indices(self, split: int, episodes: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        members = self._members[split]
        N, K, Q = self.ways, self.shots, self.queries
        eps = list(episodes)
        s_idx = np.empty((len(eps), N, K), np.int64)
        q_idx = np.empty((len(eps), N, Q), np.int64)
        labels = np.empty((len(eps), N), np.int64)
        for t, e in enumerate(eps):
            rng = np.random.default_rng([self.seed, split, int(e)])
            classes = rng.choice(len(members), N, replace=False)
            labels[t] = rng.permutation(N)
            for j, c in enumerate(classes):
                pick = rng.choice(members[c], K + Q, replace=False)
                s_idx[t, j], q_idx[t, j] = pick[:K], pick[K:]
        ys = np.repeat(labels[:, :, None], K, axis=2).reshape(len(eps), N * K)
        yq = np.repeat(labels[:, :, None], Q, axis=2).reshape(len(eps), N * Q)
        return (torch.from_numpy(s_idx.reshape(len(eps), -1)), torch.from_numpy(ys),
                torch.from_numpy(q_idx.reshape(len(eps), -1)), torch.from_numpy(yq))

    def train_batch(self, index: Tensor) -> EpisodeBatch:
        """Meta-training episodes ``index`` (query images augmented)."""
        idx = [int(i) for i in index.tolist()]
        si, sl, qi, ql = (t.to(self.device) for t in self._indices(_TRAIN, idx))
        batch = EpisodeBatch(self._train_store, si, sl, qi, ql)
        if self.augment is not None and self.augment.active:
            xq = batch.images(qi)
            out = torch.empty_like(xq)
            for t, e in enumerate(idx):
                gen = torch.Generator().manual_seed(
                    int(np.random.SeedSequence([self.seed, 2, e]).generate_state(1)[0]))
                out[t] = self.augment(xq[t], gen)
            batch.xq = out
        return batch

    def test_batch(self, n: int | None = None) -> EpisodeBatch:
        """The first ``n`` fixed test episodes (all when ``None``)."""
        return self._test.select(slice(0, n))

    def baseline(self, batch: Any) -> float:
        """Chance accuracy ``1/N``."""
        return 1.0 / self.ways


class FewShotLearner(MetaLearner):
    """MAML over a :class:`~metasym.learning.convnet.ConvNet` with cross-entropy (see the
    module docstring). ``chunk_size``: episodes per ``vmap`` chunk and per backward pass
    (``None``: all at once); ``batching``: ``"vmap"``, ``"loop"`` or ``"auto"`` (loop on
    the CPU, vmap on CUDA)."""

    def __init__(self, model: torch.nn.Module, *, inner_steps: int = 1, inner_lr: float = 0.1,
                 first_order: bool = False, chunk_size: int | None = None,
                 batching: str = "auto") -> None:
        super().__init__(model, inner_steps=inner_steps, inner_lr=inner_lr,
                         first_order=first_order, chunk_size=chunk_size,
                         loss=F.cross_entropy, fast=False)
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
        """Per-episode query ``accuracy`` and cross-entropy ``loss`` after adaptation."""
        b = batch[0]
        acc, loss = [], []
        for sl in self._chunks(len(b), chunk):
            xs, ys, xq, yq = b.select(sl).tensors()
            (logits,) = self.query_logits(xs, ys, xq)
            acc.append((logits.argmax(-1) == yq).to(torch.float64).mean(-1))
            loss.append(F.cross_entropy(logits.flatten(0, 1), yq.flatten(), reduction="none")
                        .view(yq.shape).mean(-1).to(torch.float64))
        return {"accuracy": torch.cat(acc).cpu(), "loss": torch.cat(loss).cpu()}


def invariance_errors(learner: FewShotLearner, batch: EpisodeBatch,
                      transforms: dict[str, Callable[[Tensor], Tensor]],
                      chunk: int = 25) -> dict[str, dict[str, float]]:
    r"""Invariance of the adapted network's logits to each image transform ``g``:
    relative error :math:`\|f(gX) - f(X)\|_F / \|f(X)\|_F` over each episode's query set
    ``X`` (after adapting on the untransformed support set), and the fraction of query
    images whose predicted class changes; means over the episodes of ``batch``."""
    if not transforms:
        return {}
    sums = {name: [0.0, 0.0] for name in transforms}
    T = len(batch)
    for i in range(0, T, chunk):
        xs, ys, xq, _ = batch.select(slice(i, i + chunk)).tensors()
        names = list(transforms)
        moved = [transforms[n](xq.flatten(0, 1)).view_as(xq) for n in names]
        base, *others = learner.query_logits(xs, ys, xq, *moved)
        den = base.flatten(1).norm(dim=1).clamp_min(torch.finfo(base.dtype).tiny)
        for n, lg in zip(names, others):
            err = (lg - base).flatten(1).norm(dim=1) / den
            flips = (lg.argmax(-1) != base.argmax(-1)).to(torch.float64).mean(-1)
            sums[n][0] += float(err.sum())
            sums[n][1] += float(flips.sum())
    if T == 0:
        raise MetasymError("no episodes to measure invariance on")
    return {n: {"relative_error": s[0] / T, "changed_predictions": s[1] / T}
            for n, s in sums.items()}
