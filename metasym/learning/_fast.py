r"""Closed-form MAML for models linear in their inner parameters (the MSR layer).

For one task with support inputs :math:`x_i` (``N_s`` of them) and a bias-free MSR layer
:math:`W = \mathrm{reshape}(U v)`, the prediction is linear in ``v``:
:math:`\hat y_i = \Phi_i v` with features :math:`\Phi_i[a, c] = \sum_j U_{(a, j), c}\, x_{ij}`.
The support loss :math:`L_s = \frac{1}{N_s m}\sum_i \|\Phi_i v - y_i\|^2` is quadratic, so
its gradient is :math:`\nabla_v L_s = M v - h` with the task's

.. math:: M = \tfrac{2}{N_s m} \textstyle\sum_i \Phi_i^\top \Phi_i \in \mathbb{R}^{k\times k},
          \qquad h = \tfrac{2}{N_s m} \textstyle\sum_i \Phi_i^\top y_i,

and ``S`` inner SGD steps are the affine recursion :math:`v_{s+1} = v_s - \alpha (M v_s - h)`
(no autograd in the inner loop at all). The query loss uses the adapted weight
:math:`W_t = \mathrm{reshape}(U v_S)` of each task: :math:`\hat Y_q = X_q W_t^\top`.

The backward pass is derived by hand (reverse of the recursion):
:math:`\bar v_s = (I - \alpha M)\bar v_{s+1}`, :math:`\bar\alpha = -\sum_s (M v_s - h)\cdot
\bar v_{s+1}`, :math:`\bar M = -\alpha\sum_s \bar v_{s+1} v_s^\top`,
:math:`\bar h = \alpha\sum_s \bar v_{s+1}`, then
:math:`\bar\Phi = \tfrac{2}{N_s m}\left(\Phi(\bar M + \bar M^\top) + y\,\bar h^\top\right)`
and :math:`\bar U` collects :math:`X_s^\top \bar\Phi` and :math:`v_S^\top \bar W`. All of
it is a dozen batched GEMMs over the task batch; first-order MAML drops the
:math:`\bar M, \bar h` terms (the inner gradient is treated as a constant).

Why by hand: autograd would record ~30 small nodes and zero-fill gradient buffers of
slices of large intermediates; at these sizes the per-operation overhead, not the
arithmetic, sets the speed. The training loop calls :func:`msr_meta_grads`, which runs
forward and backward without any autograd bookkeeping; :func:`msr_task_losses` wraps the
same two functions in a ``torch.autograd.Function`` so the fast path also composes with
ordinary autograd. Both are checked against ``torch.autograd.gradcheck``, the generic
``torch.func`` path and a per-task loop in ``tests/learning``.

Layout: everything works on :math:`U^\top` (``(k, m*n)``, contiguous). GEMMs whose long
dimension is ``m*n`` are several times faster with that operand contiguous than with the
row-major ``(m*n, k)`` one, so :class:`~metasym.learning.layers.MSRLinear` *stores* ``U``
column-major (its ``U.T`` is contiguous; the value and shape are unchanged). With
:math:`\tilde U = U^\top` viewed as ``(k*m, n)``, the features of all support examples are
one GEMM, :math:`\Phi = X_s \tilde U^\top` (per example a ``(k, m)`` block), the adapted
weights are :math:`W = V \tilde U`, and the gradient lands directly in ``U.T``'s layout.

"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["msr_task_losses", "msr_adapt", "msr_meta_grads"]


class _Saved(NamedTuple):
    """What the backward pass needs from the forward pass."""

    xs: Tensor
    ys: Tensor
    xq: Tensor
    Phi: Tensor
    M: Tensor
    h: Tensor
    r: Tensor
    Uc: Tensor
    vs: list[Tensor]
    sizes: tuple[int, int, int, int, bool, float, float]


def _transposed(U: Tensor) -> Tensor:
    """``U.T`` as a contiguous ``(k, m*n)`` tensor (free when ``U`` is column-major)."""
    Ut = U.T
    return Ut if Ut.is_contiguous() else Ut.contiguous()


def _support_stats(Uc: Tensor, xs: Tensor, ys: Tensor, m: int, n: int
                   ) -> tuple[Tensor, Tensor, Tensor, float]:
    r"""Features ``Phi`` ``(T*Ns, k, m)`` and the *unscaled* task quadratics
    :math:`\sum_i \Phi_i\Phi_i^\top` ``(T, k, k)`` and :math:`\sum_i \Phi_i y_i`
    ``(T, k, 1)``; returns ``(Phi, M, h, c)`` with ``c = 2 / (Ns m)`` (the caller folds
    ``c`` into the step size)."""
    T, Ns, _ = xs.shape
    k = Uc.shape[0]
    c = 2.0 / (Ns * m)
    # Phi[(t, i), c, a] = sum_j x[t, i, j] U[(a, j), c]: one GEMM, U^T viewed (k*m, n)
    Phi = (xs.reshape(T * Ns, n) @ Uc.view(k * m, n).T).view(T * Ns, k, m)
    # one bmm gives both Phi Phi^T and Phi y
    Mh = torch.bmm(Phi, torch.cat([Phi.transpose(1, 2), ys.reshape(T * Ns, m, 1)], dim=2))
    if Ns > 1:
        Mh = Mh.view(T, Ns, k, k + 1).sum(1)
    return Phi, Mh[:, :, :k], Mh[:, :, k:], c


def _inner_loop(v0: Tensor, M: Tensor, h: Tensor, lr: float, steps: int) -> list[Tensor]:
    T, k = M.shape[0], M.shape[1]
    v = v0.reshape(1, k, 1).expand(T, k, 1)
    vs = [v]
    for _ in range(steps):
        # v <- v - lr (M v - h) = (v + lr h) - lr M v: one add and one fused baddbmm
        v = torch.baddbmm(torch.add(v, h, alpha=lr), M, v, alpha=-lr)
        vs.append(v)
    return vs


def _forward(Uc: Tensor, v0: Tensor, lr: float, xs: Tensor, ys: Tensor, xq: Tensor,
             yq: Tensor, m: int, n: int, steps: int, first_order: bool
             ) -> tuple[Tensor, _Saved]:
    T = xq.shape[0]
    k = Uc.shape[0]
    Phi, M, h, c = _support_stats(Uc, xs, ys, m, n)
    a = lr * c  # the step on the unscaled quadratics
    vs = _inner_loop(v0, M, h, a, steps)
    # every task's adapted W = reshape(U v) in one GEMM
    W = (vs[-1].reshape(T, k) @ Uc).view(T, m, n)
    r = torch.baddbmm(yq, xq, W.transpose(1, 2), beta=-1.0)  # X_q W^T - Y_q in one call
    losses = r.view(T, -1).square().mean(1)
    return losses, _Saved(xs, ys, xq, Phi, M, h, r, Uc, vs,
                          (m, n, k, steps, first_order, a, c))


def _backward(S: _Saved, g_losses: Tensor | float, need_U: bool = True, need_v: bool = True,
              need_lr: bool = True) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of ``sum_t g_t loss_t`` (``g`` a ``(T,)`` tensor or one number) with
    respect to ``U.T`` (``(k, m*n)``), ``v0`` and the step size."""
    m, n, k, steps, first_order, a, c = S.sizes
    T, Nq, Ns = S.xq.shape[0], S.xq.shape[1], S.xs.shape[1]
    M, h, vs = S.M, S.h, S.vs
    # d loss_t / d pred = 2 r / (Nq m), times the incoming gradient of each task.
    if isinstance(g_losses, Tensor):
        dpred = S.r * (g_losses * (2.0 / (Nq * m))).view(T, 1, 1)
    else:
        dpred = S.r * (g_losses * 2.0 / (Nq * m))
    dW = torch.bmm(dpred.transpose(1, 2), S.xq).view(T, m * n)  # (T, m*n)
    dv = (dW @ S.Uc.T).view(T, k, 1)
    dUc = (vs[-1].reshape(T, k).T @ dW) if need_U else None  # (k, m*n)
    dlr = None
    second = not first_order and steps > 0 and need_U
    A: Tensor | None = None  # sum_s dv_{s+1} v_s^T
    Hs: Tensor | None = None  # sum_s dv_{s+1}
    for s in range(steps - 1, -1, -1):
        v_s = vs[s]
        if need_lr:  # d v_{s+1} / d lr = -c (M v_s - h)
            g = (torch.baddbmm(h, M, v_s, beta=-1.0) * dv).sum()
            dlr = -c * g if dlr is None else dlr - c * g
        if second:
            A = torch.bmm(dv, v_s.transpose(1, 2)) if A is None else \
                torch.baddbmm(A, dv, v_s.transpose(1, 2))
            Hs = dv if Hs is None else Hs + dv
        if not first_order:
            dv = torch.baddbmm(dv, M, dv, alpha=-a)
    if second:
        # M = sum_i Phi_i Phi_i^T and h = sum_i Phi_i y_i enter as v <- v + a (h - M v):
        # dPhi_i = -a [(A + A^T) Phi_i - Hs y_i^T]
        B = A + A.transpose(1, 2)
        ys = S.ys.reshape(T * Ns, 1, m)
        if Ns > 1:
            B = B.repeat_interleave(Ns, dim=0)
            Hs = Hs.repeat_interleave(Ns, dim=0)
        dPhi = torch.baddbmm(torch.bmm(B, S.Phi), Hs, ys, alpha=-1.0)  # (T*Ns, k, m)
        # Phi = X_s (U^T as (k*m, n))^T  =>  d(U^T) += dPhi^T X_s
        dUc.view(k * m, n).addmm_(dPhi.view(T * Ns, k * m).T, S.xs.reshape(T * Ns, n),
                                  alpha=-a)
    dv0 = dv.sum(0).view(k) if need_v else None
    if need_lr and dlr is None:
        dlr = torch.zeros((), dtype=dv.dtype, device=dv.device)
    return dUc, dv0, dlr


class _MSRMetaLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, U: Tensor, v0: Tensor, lr: Tensor, xs: Tensor, ys: Tensor, xq: Tensor,
                yq: Tensor, m: int, n: int, steps: int, first_order: bool) -> Tensor:
        losses, saved = _forward(_transposed(U), v0, float(lr), xs, ys, xq, yq, m, n, steps,
                                 first_order)
        ctx.saved = saved
        return losses

    @staticmethod
    @once_differentiable
    def backward(ctx, g_losses: Tensor):  # type: ignore[override]
        need_U, need_v, need_lr = ctx.needs_input_grad[:3]
        dUc, dv0, dlr = _backward(ctx.saved, g_losses, need_U, need_v, need_lr)
        return (None if dUc is None else dUc.T, dv0, dlr,
                None, None, None, None, None, None, None, None)


def msr_task_losses(U: Tensor, v0: Tensor, lr: Tensor, xs: Tensor, ys: Tensor, xq: Tensor,
                    yq: Tensor, *, m: int, n: int, steps: int = 1,
                    first_order: bool = False) -> Tensor:
    r"""Per-task query MSE after ``steps`` inner SGD steps on ``v`` (bias-free MSR layer).

    Parameters
    ----------
    U
        ``(m*n, k)`` sharing matrix (meta-parameter or frozen); fastest column-major.
    v0, lr
        Initial filter parameters ``(k,)`` and the inner step size (0-d tensor).
    xs, ys, xq, yq
        Support ``(T, Ns, n)``, ``(T, Ns, m)`` and query ``(T, Nq, n)``, ``(T, Nq, m)``.

    Returns
    -------
    Tensor
        ``(T,)`` query losses :math:`\frac{1}{N_q m}\|X_q W_t^\top - Y_q\|_F^2`,
        differentiable in ``U``, ``v0`` and ``lr`` (second order unless ``first_order``).
    """
    return _MSRMetaLoss.apply(U, v0, lr.reshape(()), xs, ys, xq, yq, m, n, steps, first_order)


def msr_adapt(U: Tensor, v0: Tensor, lr: Tensor, xs: Tensor, ys: Tensor, *, m: int, n: int,
              steps: int = 1) -> Tensor:
    """Adapted filter parameters ``(T, k)`` of each task (no graph)."""
    with torch.no_grad():
        _, M, h, c = _support_stats(_transposed(U), xs, ys, m, n)
        return _inner_loop(v0, M, h, float(lr) * c, steps)[-1].reshape(M.shape[0], -1)


def msr_meta_grads(U: Tensor, v0: Tensor, lr: Tensor, xs: Tensor, ys: Tensor, xq: Tensor,
                   yq: Tensor, *, m: int, n: int, steps: int = 1, first_order: bool = False,
                   need_U: bool = True) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """The mean query loss and its gradients ``(loss, dU, dv0, dlr)`` in one call, without
    recording an autograd graph: the same numbers as ``msr_task_losses(...).mean()``
    followed by ``backward()``, minus the autograd bookkeeping (the training loop's hot
    path). ``dU`` has ``U``'s shape; it is column-major, like ``MSRLinear.U``."""
    with torch.no_grad():
        losses, saved = _forward(_transposed(U), v0, float(lr), xs, ys, xq, yq, m, n, steps,
                                 first_order)
        dUc, dv0, dlr = _backward(saved, 1.0 / losses.shape[0], need_U, True, True)
        return losses.mean(), None if dUc is None else dUc.T, dv0, dlr
