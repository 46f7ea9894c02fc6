r"""Few-shot episodes: the engine's task source of ``N``-way ``K``-shot classification.

**Episodes.** An ``N``-way ``K``-shot episode draws ``N`` classes of a split, ``K``
support and ``Q`` query images of each (without replacement) and labels the classes
``0..N-1`` in random order. Meta-training episodes come from the background split,
test episodes from the evaluation split (held-out alphabets). Episode ``i`` is a pure
function of ``(data_seed, i)``: the engine draws training indices with its own seeded
generator (:meth:`EpisodeSource.train_batch`), so training, resume and ``torchrun`` see
the same episodes; the test episodes are fixed.

**Augmentation (the benchmark's protocol).** With an augmentation, the *query* images are
transformed -- one random transform per image, seeded by the episode -- at meta-training
*and* at meta-test; support images never are. The model adapts on clean supports and is
scored on transformed queries: the accuracy that shows whether it generalises across the
transformations. Test episodes are augmented with their own seeds (fixed, whatever the
training run), and :meth:`EpisodeBatch.clean` gives the same episodes with their clean
queries (``accuracy_clean``). Transformed queries are computed when a batch's tensors are
read, episode by episode, so a batch holds only image indices and seeds.
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
_TRAIN_AUGMENT, _TEST_AUGMENT = 2, 3  # ... and of their query transforms


@dataclass
class EpisodeBatch:
    """``T`` episodes, held as indices into an image store until they are used.

    ``store`` ``(M, C, H, W)`` ``uint8`` images; ``support``/``query`` ``(T, N K)`` /
    ``(T, N Q)`` image indices with their labels ``ys``/``yq``. With ``augment`` (an
    :class:`~metasym.learning.data.augment.Augmentation`) the query images are transformed
    when read, episode ``t`` with a CPU generator seeded by ``seeds[t]``; ``xq``, if
    given, holds the query images as they are to be used (it overrides both)."""

    store: Tensor
    support: Tensor
    ys: Tensor
    query: Tensor
    yq: Tensor
    xq: Tensor | None = None
    augment: Any = None
    seeds: Tensor | None = None

    def __len__(self) -> int:
        return int(self.support.shape[0])

    @property
    def augmented(self) -> bool:
        """Whether the query images are transformed."""
        return self.xq is not None or (self.augment is not None and self.augment.active)

    def select(self, index: slice | Tensor) -> EpisodeBatch:
        return EpisodeBatch(self.store, self.support[index], self.ys[index], self.query[index],
                            self.yq[index], None if self.xq is None else self.xq[index],
                            self.augment, None if self.seeds is None else self.seeds[index])

    def clean(self) -> EpisodeBatch:
        """The same episodes with untransformed query images."""
        return EpisodeBatch(self.store, self.support, self.ys, self.query, self.yq)

    def images(self, index: Tensor) -> Tensor:
        """Float images in ``[0, 1]`` of an index array ``(T, n)``: ``(T, n, C, H, W)``."""
        flat = self.store.index_select(0, index.reshape(-1))
        return (flat.to(torch.get_default_dtype()) / 255.0).view(*index.shape,
                                                                  *self.store.shape[1:])

    def query_images(self) -> Tensor:
        """The query images as the episodes use them (transformed if augmented)."""
        if self.xq is not None:
            return self.xq
        xq = self.images(self.query)
        if self.augment is None or not self.augment.active:
            return xq
        out = torch.empty_like(xq)
        for t in range(len(self)):
            gen = torch.Generator().manual_seed(int(self.seeds[t]))
            out[t] = self.augment(xq[t], gen)
        return out

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(xs, ys, xq, yq)`` as float images and int64 labels."""
        return self.images(self.support), self.ys, self.query_images(), self.yq

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
        An :class:`~metasym.learning.data.augment.Augmentation` of the query images of every
        episode (meta-training and test), or ``None``.
    augment_training
        ``False``: meta-training queries stay clean (test queries are still augmented):
        a model trained without the augmentation, scored on the same test episodes.
    seed
        The episodes' seed (``data_seed``).
    test_episodes
        Number of fixed test episodes.
    device
        Where images and episodes live.
    """

    def __init__(self, background: Any, evaluation: Any, *, ways: int, shots: int,
                 queries: int, augment: Any, seed: int = 0, test_episodes: int = 600,
                 augment_training: bool = True,
                 device: torch.device | str = "cpu") -> None:
        self.ways, self.shots, self.queries = int(ways), int(shots), int(queries)
        self.augment, self.seed = augment, int(seed)
        self.augment_training = bool(augment_training)
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
        if self.augment is not None and self.augment.active:
            self._test.augment = self.augment
            self._test.seeds = self._seeds(_TEST_AUGMENT, list(range(self.n_test)))

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

    def _seeds(self, tag: int, episodes: list[int]) -> Tensor:
        """One generator seed per episode for its query transforms."""
        return torch.tensor([int(np.random.SeedSequence([self.seed, tag, e]).generate_state(1)[0])
                             for e in episodes], dtype=torch.int64)

    def train_batch(self, index: Tensor) -> EpisodeBatch:
        """Meta-training episodes ``index`` (query images augmented)."""
        idx = [int(i) for i in index.tolist()]
        si, sl, qi, ql = (t.to(self.device) for t in self._indices(_TRAIN, idx))
        batch = EpisodeBatch(self._train_store, si, sl, qi, ql)
        if self.augment_training and self.augment is not None and self.augment.active:
            batch.augment, batch.seeds = self.augment, self._seeds(_TRAIN_AUGMENT, idx)
        return batch

    def test_batch(self, n: int | None = None) -> EpisodeBatch:
        """The first ``n`` fixed test episodes (all when ``None``), query images augmented
        as at meta-training (see :meth:`EpisodeBatch.clean` for the clean ones)."""
        return self._test.select(slice(0, n))

    def baseline(self, batch: Any) -> float:
        """Chance accuracy ``1/N``."""
        return 1.0 / self.ways
