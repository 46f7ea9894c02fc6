r"""Few-shot episodes: the engine's task source of ``N``-way ``K``-shot classification.

**Episodes.** An ``N``-way ``K``-shot episode draws ``N`` classes of a split, ``K``
support and ``Q`` query images of each (without replacement) and labels the classes
``0..N-1`` in random order. Meta-training episodes come from the background split,
test episodes from the evaluation split (held-out alphabets). Episode ``i`` is a pure
function of ``(data_seed, i)``: the engine draws training indices with its own seeded
generator (:meth:`EpisodeSource.train_batch`), so training, resume and ``torchrun`` see
the same episodes; the test episodes are fixed. With augmentation, the *query* images of
meta-training episodes are transformed (one random transform per image, seeded by the
episode); support sets and test episodes never are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from metasym.errors import SpecError

__all__ = ["EpisodeBatch", "EpisodeSource", "UNLIMITED_EPISODES"]

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
        :class:`~metasym.learning.data.classes.ImageClasses` of meta-training and meta-test
        (disjoint classes).
    ways, shots, queries
        Classes per episode, support and query images per class.
    augment
        An :class:`~metasym.learning.data.augment.Augmentation` of meta-training query images.
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
