r"""Functional MAML: inner SGD on per-task parameters, outer gradient through it.

For a task :math:`t` with support :math:`(X_s, Y_s)` and query :math:`(X_q, Y_q)`, the
inner parameters :math:`\theta` (MSR's ``v``; every parameter for the MAML baselines)
take ``inner_steps`` SGD steps with learned per-tensor step sizes :math:`\alpha_p`
(initialised to 0.1, the reference's "per-layer" mode):

.. math:: \theta_p \leftarrow \theta_p - \alpha_p \nabla_{\theta_p} L(X_s, Y_s; \theta, U),

and the meta-loss is the mean over tasks of the query MSE at the adapted parameters. The
outer gradient reaches ``U``, the initial :math:`\theta` and :math:`\alpha` through the
inner steps (second order), or treats the inner gradients as constants (first order).

Two implementations compute the same numbers:

* the generic path, for any model: ``torch.func.grad`` for the inner gradient inside a
  per-task function, ``torch.func.vmap`` over the task batch (optionally in chunks to bound
  memory), one ordinary ``backward`` for the outer gradient;
* a fast path for the bias-free :class:`~metasym.learning.models.linear.MSRLinear`, whose
  prediction is linear in ``v``: the inner loop is closed-form and the outer backward is
  derived by hand (``metasym.learning.learners._fast``).

:func:`loop_task_losses` is a plain per-task Python loop (the reference implementation's
structure) kept as a test oracle and as the benchmark baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from metasym.errors import SpecError
from metasym.learning.learners._fast import msr_adapt, msr_meta_grads, msr_task_losses
from metasym.learning.models.linear import MSRLinear, inner_parameter_names

__all__ = ["MetaLearner", "loop_task_losses"]


def _key(name: str) -> str:
    # ParameterDict keys may not contain dots
    return name.replace(".", "__")


class MetaLearner(nn.Module):
    r"""A model plus learned inner step sizes, with MAML meta-losses.

    Parameters
    ----------
    model
        A module mapping ``(N, n_in)`` to ``(N, n_out)``; its ``inner_names`` (default:
        all parameters) adapt in the inner loop.
    inner_steps
        Number of inner SGD steps (0 evaluates the initial parameters).
    inner_lr
        Initial value of every learned step size.
    first_order
        Drop second-order terms (first-order MAML): cheaper, usually slightly worse.
    chunk_size
        Tasks per ``vmap`` chunk on the generic path (``None``: all at once).
    inner
        Names of the parameters adapted in the inner loop (default:
        :func:`~metasym.learning.models.linear.inner_parameter_names`: the ``v`` of every MSR
        layer and every parameter of modules that declare nothing).
    loss
        Per-task loss ``loss(prediction, target) -> scalar`` (default: mean squared
        error); the same for support and query.
    fast
        Use the closed-form path when the model allows it (``None``/``True``); ``False``
        forces the generic ``torch.func`` path (for tests and comparisons).
    learn_inner_lr
        Meta-learn the step sizes (default); ``False`` keeps them at ``inner_lr``.
    inner_lr_floor
        A lower bound on every learned step size (generic path only): the inner loop uses
        :math:`\max(\alpha_p, \text{floor})`, so no parameter can stop adapting.

    Examples
    --------
    >>> from metasym.learning.models.linear import MSRLinear
    >>> learner = MetaLearner(MSRLinear(5, 4, k=2))
    >>> xs, ys = torch.randn(8, 1, 5), torch.randn(8, 1, 4)
    >>> xq, yq = torch.randn(8, 3, 5), torch.randn(8, 3, 4)
    >>> learner.task_losses(xs, ys, xq, yq).shape
    torch.Size([8])
    """

    def __init__(self, model: nn.Module, *, inner_steps: int = 1, inner_lr: float = 0.1,
                 first_order: bool = False, chunk_size: int | None = None,
                 inner: Sequence[str] | None = None,
                 loss: Callable[[Tensor, Tensor], Tensor] | None = None,
                 fast: bool | None = None, learn_inner_lr: bool = True,
                 inner_lr_floor: float | None = None) -> None:
        super().__init__()
        if inner_steps < 0:
            raise SpecError(f"inner_steps must be >= 0, got {inner_steps}")
        if chunk_size is not None and chunk_size < 1:
            raise SpecError(f"chunk_size must be >= 1, got {chunk_size}")
        self.model = model
        self.inner_steps = int(inner_steps)
        self.first_order = bool(first_order)
        self.chunk_size = chunk_size
        params = dict(model.named_parameters())
        if inner is not None:
            unknown = [nm for nm in inner if nm not in params]
            if unknown:
                raise SpecError(f"inner parameters {', '.join(map(repr, unknown))} are not "
                                f"parameters of the model (it has {', '.join(params)})")
            self.inner_names = tuple(dict.fromkeys(inner))
        else:
            self.inner_names = inner_parameter_names(model)
        if not self.inner_names:
            raise SpecError("the model has no inner parameters to adapt")
        self.loss_fn = loss if loss is not None else F.mse_loss
        self.inner_lrs = nn.ParameterDict(
            {_key(nm): nn.Parameter(torch.tensor(float(inner_lr)), requires_grad=learn_inner_lr)
             for nm in self.inner_names})
        if inner_lr_floor is not None and not (inner_lr_floor >= 0 and
                                               inner_lr_floor <= inner_lr):
            raise SpecError(f"the step-size floor must be in [0, inner_lr = {inner_lr}], got "
                            f"{inner_lr_floor}")
        self.inner_lr_floor = None if inner_lr_floor is None else float(inner_lr_floor)
        self.fast = (self.fast_path_available and loss is None and self.inner_names == ("v",)
                     and self.inner_lr_floor is None if fast is None else bool(fast))
        if self.fast and not self.fast_path_available:
            raise SpecError("the closed-form path needs a bias-free MSRLinear model")
        if self.fast and self.inner_lr_floor is not None:
            raise SpecError("a step-size floor needs the generic path (fast=False)")

    # ----- introspection -------------------------------------------------------------------
    @property
    def fast_path_available(self) -> bool:
        """Whether the model is a bias-free :class:`MSRLinear` (linear in ``v``)."""
        return isinstance(self.model, MSRLinear) and self.model.bias is None

    def meta_parameters(self) -> Iterator[nn.Parameter]:
        """What the outer optimiser trains: the model's trainable parameters (``U`` and
        initial inner parameters) and the step sizes."""
        yield from (p for p in self.model.parameters() if p.requires_grad)
        yield from (p for p in self.inner_lrs.values() if p.requires_grad)

    def optimizer_parameters(self) -> list[nn.Parameter]:
        """The tensors to give the outer optimiser: :meth:`meta_parameters`, except that
        on the fast path a learned ``U`` is handed over as ``U.T`` -- a contiguous
        parameter sharing ``U``'s (column-major) storage -- because fused Adam is markedly
        slower on non-contiguous tensors. :meth:`backward_meta_loss` writes the gradient
        there; updating it updates ``U``. Call again after moving the learner."""
        params = list(self.meta_parameters())
        self.__dict__.pop("_U_alias", None)
        mdl = self.model
        if self.fast and mdl.learns_U and mdl.U.T.is_contiguous():
            alias = nn.Parameter(mdl.U.detach().T)  # same storage, contiguous (k, m*n)
            self.__dict__["_U_alias"] = alias  # not registered: no duplicate in state_dict
            params = [alias if p is mdl.U else p for p in params]
        return params

    def step_sizes(self) -> dict[str, float]:
        """The step size each inner parameter takes now (after the floor, if any)."""
        return {nm: float(self._step_size(nm).detach()) for nm in self.inner_names}

    def _step_size(self, name: str) -> Tensor:
        lr = self.inner_lrs[_key(name)]
        return lr if self.inner_lr_floor is None else lr.clamp(min=self.inner_lr_floor)

    # ----- meta-losses ----------------------------------------------------------------------
    def task_losses(self, *batch: Any) -> Tensor:
        r"""Query loss of each task after adaptation on its support set, ``(T,)``,
        differentiable w.r.t. :meth:`meta_parameters`.

        ``batch``: ``xs`` ``(T, Ns, n_in)``, ``ys`` ``(T, Ns, n_out)``, ``xq``
        ``(T, Nq, n_in)``, ``yq`` ``(T, Nq, n_out)``, or one
        :class:`~metasym.learning.engine.RegressionBatch` holding them (every method
        taking a batch accepts both).
        """
        xs, ys, xq, yq = _unpack(batch)
        if self.fast:
            mdl = self.model
            return msr_task_losses(mdl.U, mdl.v, self.inner_lrs["v"], xs, ys, xq, yq,
                                   m=mdl.out_features, n=mdl.in_features,
                                   steps=self.inner_steps, first_order=self.first_order)
        return self._generic_task_losses(xs, ys, xq, yq, create_graph=True)

    def meta_loss(self, *batch: Any) -> Tensor:
        """Mean of :meth:`task_losses` (what the outer optimiser minimises)."""
        return self.task_losses(*batch).mean()

    def backward_meta_loss(self, *batch: Any) -> Tensor:
        """Compute :meth:`meta_loss` and accumulate its gradient into the ``.grad`` of
        :meth:`meta_parameters` (what ``meta_loss(...).backward()`` does); returns the
        detached loss. On the fast path no autograd graph is recorded at all."""
        xs, ys, xq, yq = _unpack(batch)
        if not self.fast:
            loss = self.meta_loss(xs, ys, xq, yq)
            loss.backward()
            return loss.detach()
        mdl = self.model
        lr = self.inner_lrs["v"]
        loss, dU, dv, dlr = msr_meta_grads(mdl.U, mdl.v, lr, xs, ys, xq, yq,
                                           m=mdl.out_features, n=mdl.in_features,
                                           steps=self.inner_steps,
                                           first_order=self.first_order,
                                           need_U=mdl.learns_U)
        alias = self.__dict__.get("_U_alias")
        if alias is not None and dU is not None and alias.data_ptr() == mdl.U.data_ptr():
            targets = ((alias, dU.T), (mdl.v, dv), (lr, dlr))
        else:
            targets = ((mdl.U, dU), (mdl.v, dv), (lr, dlr))
        for p, g in targets:
            if g is not None and p.requires_grad:
                p.grad = g if p.grad is None else p.grad + g
        return loss

    @torch.no_grad()
    def evaluate(self, *batch: Any, chunk: int = 512) -> Tensor:
        """Per-task query loss after adaptation, without an outer graph (``(T,)``)."""
        xs, ys, xq, yq = _unpack(batch)
        out = []
        for i in range(0, xs.shape[0], chunk):
            sl = slice(i, i + chunk)
            if self.fast:
                out.append(self.task_losses(xs[sl], ys[sl], xq[sl], yq[sl]))
            else:
                out.append(self._generic_task_losses(xs[sl], ys[sl], xq[sl], yq[sl],
                                                     create_graph=False))
        return torch.cat(out).detach()

    def adapt(self, xs: Tensor, ys: Tensor) -> dict[str, Tensor]:
        """Inner parameters adapted to each task: name -> ``(T, *shape)`` (no graph)."""
        if self.fast:
            mdl = self.model
            v = msr_adapt(mdl.U, mdl.v, self.inner_lrs["v"], xs, ys, m=mdl.out_features,
                          n=mdl.in_features, steps=self.inner_steps)
            return {"v": v}
        meta, inner0, lrs = self._split()

        def one_task(x: Tensor, y: Tensor) -> dict[str, Tensor]:
            return self._inner(meta, inner0, lrs, x, y, create_graph=False)

        with torch.no_grad():
            out = vmap(one_task, chunk_size=self.chunk_size, randomness="error")(xs, ys)
        return {k: v.detach() for k, v in out.items()}

    # ----- the generic torch.func path ---------------------------------------------------------
    def _split(self) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
        params = dict(self.model.named_parameters())
        inner0 = {nm: params[nm] for nm in self.inner_names}
        meta = {nm: p for nm, p in params.items() if nm not in inner0}
        lrs = {nm: self._step_size(nm) for nm in self.inner_names}
        return meta, inner0, lrs

    def _loss(self, params: dict[str, Tensor], meta: dict[str, Tensor], x: Tensor,
              y: Tensor) -> Tensor:
        return self.loss_fn(functional_call(self.model, {**meta, **params}, (x,)), y)

    def _inner(self, meta: dict[str, Tensor], inner0: dict[str, Tensor],
               lrs: dict[str, Tensor], xs: Tensor, ys: Tensor,
               create_graph: bool) -> dict[str, Tensor]:
        params = inner0
        for _ in range(self.inner_steps):
            g = grad(self._loss)(params, meta, xs, ys)
            if self.first_order or not create_graph:
                # first order: the inner gradient is a constant for the outer gradient
                g = {k: t.detach() for k, t in g.items()}
            params = {k: params[k] - lrs[k] * g[k] for k in params}
        return params

    def _generic_task_losses(self, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor,
                             create_graph: bool) -> Tensor:
        meta, inner0, lrs = self._split()

        def one_task(xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) -> Tensor:
            params = self._inner(meta, inner0, lrs, xs, ys, create_graph)
            return self._loss(params, meta, xq, yq)

        # randomness="error": MAML under vmap must not silently share or split random
        # draws across tasks (no dropout here; BatchNorm running stats are not supported).
        return vmap(one_task, chunk_size=self.chunk_size, randomness="error")(xs, ys, xq, yq)


def _unpack(batch: tuple[Any, ...]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(xs, ys, xq, yq)`` from four tensors or one batch object holding them."""
    if len(batch) == 1:
        batch = tuple(batch[0])
    if len(batch) != 4:
        raise TypeError(f"expected xs, ys, xq, yq (or one batch of them), got {len(batch)} "
                        "arguments")
    return batch  # type: ignore[return-value]


def loop_task_losses(learner: MetaLearner, xs: Tensor, ys: Tensor, xq: Tensor,
                     yq: Tensor) -> Tensor:
    """The same per-task losses as :meth:`MetaLearner.task_losses`, computed one task at a
    time with ``torch.autograd.grad`` (the reference implementation's structure, without
    ``higher``). Slow; a test oracle and the benchmark baseline."""
    model = learner.model
    meta, inner0, lrs = learner._split()
    losses = []
    for t in range(xs.shape[0]):
        params = dict(inner0)
        for _ in range(learner.inner_steps):
            loss = learner.loss_fn(functional_call(model, {**meta, **params}, (xs[t],)), ys[t])
            gs = torch.autograd.grad(loss, list(params.values()),
                                     create_graph=not learner.first_order)
            params = {k: p - lrs[k] * g for (k, p), g in zip(params.items(), gs)}
        losses.append(learner.loss_fn(functional_call(model, {**meta, **params}, (xq[t],)),
                                      yq[t]))
    return torch.stack(losses)
