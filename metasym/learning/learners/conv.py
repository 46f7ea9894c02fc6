r"""MAML for the image problems' conv layers, on sufficient statistics
(:mod:`metasym.learning.data.images`): :class:`ConvMetaLearner`, the reference-style
per-task loop it is checked against, and :func:`build_conv_learner`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metasym.errors import SpecError
from metasym.learning.data.images import ImageProblem, StatsBatch
from metasym.learning.models.conv import build_conv_model
from metasym.learning.registry import CONV_MODEL_NAMES

__all__ = ["ConvMetaLearner", "build_conv_learner", "resolve_rank", "loop_conv_task_losses"]


def _key(name: str) -> str:
    return name.replace(".", "__")


class ConvMetaLearner(nn.Module):
    r"""MAML for the conv layers of :mod:`metasym.learning.models.conv`, on sufficient
    statistics.

    Inner parameters (``model.inner_names``) take ``inner_steps`` SGD steps with learned
    per-tensor step sizes (initialised to ``inner_lr``); the outer gradient goes through
    them (second order unless ``first_order``). Because the weights are linear in the
    inner parameters, the inner gradient is the vector-Jacobian product of
    :math:`\nabla_W L_s = \tfrac{2}{n_s c_{out}}(W S_s - H_s)` through ``model.weights``,
    computed for all tasks at once with ``torch.autograd.grad``.
    """

    def __init__(self, model: nn.Module, *, inner_steps: int = 1, inner_lr: float = 0.1,
                 first_order: bool = False) -> None:
        super().__init__()
        if inner_steps < 0:
            raise SpecError(f"inner_steps must be >= 0, got {inner_steps}")
        self.model = model
        self.inner_steps, self.first_order = int(inner_steps), bool(first_order)
        self.inner_names = tuple(model.inner_names)
        self.inner_lrs = nn.ParameterDict(
            {_key(nm): nn.Parameter(torch.tensor(float(inner_lr))) for nm in self.inner_names})

    #: every image learner runs on sufficient statistics (the engine reports it)
    fast = True

    def meta_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def optimizer_parameters(self) -> list[nn.Parameter]:
        """What the outer optimiser trains (the engine's learner protocol)."""
        return self.meta_parameters()

    def step_sizes(self) -> dict[str, float]:
        return {nm: float(self.inner_lrs[_key(nm)].detach()) for nm in self.inner_names}

    def _adapt(self, b: StatsBatch, create_graph: bool) -> dict[str, Tensor]:
        mdl = self.model
        T = b.Ss.shape[0]
        inner0 = mdl.inner_parameters()
        params = {k: p.unsqueeze(0).expand(T, *p.shape) for k, p in inner0.items()}
        if not create_graph:
            params = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
        c = 2.0 / (b.n_s * mdl.out_channels)
        for _ in range(self.inner_steps):
            W = mdl.weights(params)
            gW = (torch.baddbmm(b.Hs, W.double(), b.Ss, beta=-1.0) * c).to(W.dtype)
            second = create_graph and not self.first_order
            gs = torch.autograd.grad(W, list(params.values()), grad_outputs=gW,
                                     create_graph=second, retain_graph=True)
            new = {}
            for (k, p), g in zip(params.items(), gs):
                new[k] = p - self.inner_lrs[_key(k)] * (g if second else g.detach())
            params = new if create_graph else {
                k: p.detach().requires_grad_(True) for k, p in new.items()}
        return params

    def _query_losses(self, W: Tensor, b: StatsBatch) -> Tensor:
        W = W.double()
        quad = (torch.bmm(W, b.Sq) * W).sum((1, 2))
        return (quad - 2 * (W * b.Hq).sum((1, 2)) + b.yyq) / (b.n_q * self.model.out_channels)

    def task_losses(self, b: StatsBatch) -> Tensor:
        """Query MSE of each task after adaptation ``(T,)`` (float64), differentiable in
        the meta-parameters."""
        return self._query_losses(self.model.weights(self._adapt(b, True)), b)

    def backward_meta_loss(self, b: StatsBatch) -> Tensor:
        loss = self.task_losses(b).mean()
        loss.backward()
        return loss.detach()

    def adapted_weights(self, b: StatsBatch, chunk: int = 1024) -> Tensor:
        """Adapted weights ``(T, c_out, c_in*k*k)`` (no graph)."""
        out = []
        for i in range(0, b.Ss.shape[0], chunk):
            with torch.enable_grad():
                params = self._adapt(b.select(slice(i, i + chunk)), False)
            with torch.no_grad():
                out.append(self.model.weights(params).detach())
        return torch.cat(out)

    def evaluate(self, b: StatsBatch, chunk: int = 1024) -> Tensor:
        """Per-task query MSE after adaptation (no outer graph)."""
        W = self.adapted_weights(b, chunk)
        with torch.no_grad():
            return self._query_losses(W, b)

    # ----- the same losses from images --------------------------------------------------------
    def direct_task_losses(self, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) -> Tensor:
        """Per-task query MSE computed from the images themselves: every task's convolution
        as im2col (``F.unfold``, once per batch) and one batched matrix product per pass,
        ``xs`` ``(T, Ns, c_in, H, W)``, ``ys`` ``(T, Ns, c_out, H', W')``, same for the
        query. Differentiable; the benchmark's batched image path and the tests' check of
        the statistics. (Grouped ``conv2d`` computes the same but its double backward is
        several times slower on CPU.)"""
        mdl = self.model
        T = xs.shape[0]
        inner0 = mdl.inner_parameters()
        params = {k: p.unsqueeze(0).expand(T, *p.shape) for k, p in inner0.items()}

        def patches(x: Tensor) -> Tensor:  # (T, q, N * positions)
            N = x.shape[1]
            P = F.unfold(x.reshape(T * N, *x.shape[2:]), mdl.kernel)  # (T*N, q, pos)
            return P.view(T, N, P.shape[1], -1).transpose(1, 2).reshape(T, P.shape[1], -1)

        def targets(y: Tensor) -> Tensor:  # (T, c_out, N * positions)
            N = y.shape[1]
            return y.reshape(T, N, y.shape[2], -1).transpose(1, 2).reshape(T, y.shape[2], -1)

        Ps, Pq, Ys, Yq = patches(xs), patches(xq), targets(ys), targets(yq)

        def losses(params: dict[str, Tensor], P: Tensor, Y: Tensor) -> Tensor:
            return (torch.bmm(mdl.weights(params), P) - Y).square().flatten(1).mean(1)

        for _ in range(self.inner_steps):
            gs = torch.autograd.grad(losses(params, Ps, Ys).sum(), list(params.values()),
                                     create_graph=not self.first_order)
            params = {k: p - self.inner_lrs[_key(k)] * g for (k, p), g in zip(params.items(), gs)}
        return losses(params, Pq, Yq)


def loop_conv_task_losses(learner: ConvMetaLearner, xs: Tensor, ys: Tensor, xq: Tensor,
                          yq: Tensor) -> Tensor:
    """The reference implementation's structure: one task at a time, ``conv2d`` on its
    images, ``torch.autograd.grad`` for the inner step (``higher`` replaced by plain
    autograd). The benchmark baseline."""
    mdl = learner.model
    inner0 = mdl.inner_parameters()
    out = []
    for t in range(xs.shape[0]):
        params = {k: p.unsqueeze(0) for k, p in inner0.items()}

        def loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
            W = mdl.weights(params).view(mdl.out_channels, mdl.in_channels, mdl.kernel,
                                         mdl.kernel)
            return F.mse_loss(F.conv2d(x, W), y)

        for _ in range(learner.inner_steps):
            gs = torch.autograd.grad(loss(params, xs[t], ys[t]), list(params.values()),
                                     create_graph=not learner.first_order)
            params = {k: p - learner.inner_lrs[_key(k)] * g
                      for (k, p), g in zip(params.items(), gs)}
        out.append(loss(params, xq[t], yq[t]))
    return torch.stack(out)


# ----- building ---------------------------------------------------------------------------------
def resolve_rank(model: str, k: int | None, problem: ImageProblem) -> int | None:
    """``U_block``'s rank (``msr-conv``) or ``U``'s columns (``msr-conv-full``): ``k``,
    by default the exact dimension."""
    if model == "msr-conv":
        return k if k is not None else problem.dimension
    if model == "msr-conv-full":
        return k if k is not None else problem.fields * problem.dimension
    return None


def build_conv_learner(problem: ImageProblem, model: str, *, k: int | None = None,
                       inner_steps: int = 1, inner_lr: float = 0.1,
                       first_order: bool = False) -> ConvMetaLearner:
    """The model and meta-learner of ``model`` on an image problem (seed torch before).
    The oracle of ``c4``/``d4`` is built from the exact
    :class:`~metasym.representations.SharingPattern` of the whole bank; the steerable
    oracle from the steerable block."""
    from metasym.learning.models.conv import FullMSRConv2d

    if model not in CONV_MODEL_NAMES:
        raise SpecError(f"--model {model} does not apply to image problems; choose from "
                        f"{', '.join(CONV_MODEL_NAMES)}")
    if model == "oracle" and problem.pattern is not None:
        net = FullMSRConv2d.from_pattern(problem.pattern, 1, problem.kernel)
    else:
        rank = resolve_rank(model, k, problem)
        net = build_conv_model(model, in_channels=1, out_channels=problem.out_channels,
                               kernel=problem.kernel, field_in=1, field_out=problem.order,
                               rank=rank, k=rank, oracle_block=problem.block
                               if model == "oracle" else None)
    return ConvMetaLearner(net, inner_steps=inner_steps, inner_lr=inner_lr,
                           first_order=first_order)
