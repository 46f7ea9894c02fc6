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

Two formulations of the inner loop. Forming ``M`` costs :math:`N_s k^2 m` per task, and
its backward :math:`(\bar M + \bar M^\top)\Phi` as much again: for ``k = 30`` (rank5) that
is as much arithmetic as the GEMMs over ``U``, in small, slow ``bmm`` calls. The step never
needs ``M`` itself, only :math:`M v`, so with :math:`a = \tfrac{2\alpha}{N_s m}` the loop
can run on the features (:func:`_use_gram` picks the cheaper one):

.. math:: e_{s,i} = \Phi_i v_s - y_i, \qquad g_s = \textstyle\sum_i \Phi_i^\top e_{s,i}
          \;(= \tfrac{N_s m}{2}(M v_s - h)), \qquad v_{s+1} = v_s - a\, g_s,

two matrix-vector products per example and step. Reversed, with
:math:`q_{s+1,i} = \Phi_i \bar v_{s+1}`:

.. math:: \bar v_s = \bar v_{s+1} - a \textstyle\sum_i \Phi_i^\top q_{s+1,i}, \qquad
          \bar\alpha = -\tfrac{2}{N_s m}\textstyle\sum_s g_s \cdot \bar v_{s+1}, \qquad
          \bar\Phi_i = -a \textstyle\sum_s \left(e_{s,i}\, \bar v_{s+1}^\top
          + q_{s+1,i}\, v_s^\top\right),

because :math:`\partial_{\Phi}\, w^\top \Phi^\top(\Phi v - y) = (\Phi v - y)\, w^\top +
(\Phi w)\, v^\top`. So :math:`\bar\Phi_i` has rank ``2S`` (two outer products for one
step) and is the same matrix as the Gram form's (expand :math:`\bar M, \bar h` above):
per task about :math:`6 S N_s k m` multiply-adds against :math:`2 N_s k^2 m`.

Why by hand: autograd would record ~30 small nodes and zero-fill gradient buffers of
slices of large intermediates; at these sizes the per-operation overhead, not the
arithmetic, sets the speed. The training loop calls :func:`msr_meta_grads`, which runs
forward and backward without any autograd bookkeeping; :func:`msr_task_losses` wraps the
same two functions in a ``torch.autograd.Function`` so the fast path also composes with
ordinary autograd. Both are checked against ``torch.autograd.gradcheck``, the generic
``torch.func`` path and a per-task loop in ``tests/learning``.

Layout: everything works on :math:`U^\top` (``(k, m*n)``, contiguous). GEMMs whose long
dimension is ``m*n`` are several times faster with that operand contiguous than with the
row-major ``(m*n, k)`` one, so :class:`~metasym.learning.models.linear.MSRLinear` *stores* ``U``
column-major (its ``U.T`` is contiguous; the value and shape are unchanged). With
:math:`\tilde U = U^\top` viewed as ``(k*m, n)``, the features of all support examples are
one GEMM, :math:`\Phi = X_s \tilde U^\top` (per example a ``(k, m)`` block), the adapted
weights are :math:`W = V \tilde U`, and the gradient lands directly in ``U.T``'s layout.
The product :math:`\bar V = \bar W U` (``(T, m*n)`` times ``(m*n, k)``) runs about 1.6x
faster (MKL, one thread, measured) as :math:`(U^\top \bar W^\top)^\top`: same numbers up
to rounding. The per-task output factor ``2 g_t / (N_q m)`` scales the small
``(T, k)`` factors, never ``r`` or :math:`\bar W`.

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
    quad: tuple[Tensor, ...]  # (M, h) on the Gram path; the residuals (e_0, e_1, ...) else
    r: Tensor
    Uc: Tensor
    vs: list[Tensor]
    sizes: tuple[int, int, int, int, bool, float, float, bool]


def _transposed(U: Tensor) -> Tensor:
    """``U.T`` as a contiguous ``(k, m*n)`` tensor (free when ``U`` is column-major)."""
    Ut = U.T
    return Ut if Ut.is_contiguous() else Ut.contiguous()


def _use_gram(k: int, steps: int) -> bool:
    r"""Whether to run the inner loop on the ``k x k`` Gram matrix ``M`` rather than on
    the features ``Phi``.

    Forming ``M`` costs :math:`N_s k^2 m` per task and a step :math:`k^2`; a step on
    ``Phi`` costs :math:`2 N_s k m` forward and again backward, plus a rank-``2S``
    ``dPhi`` instead of ``(A + A^T) Phi``. Per task that is :math:`\approx 2k^2 m`
    against :math:`\approx 6 S k m`: the features win while :math:`3S < k` (rank5's
    ``k = 30``), the Gram matrix for tiny ``k`` (rank1's ``k = 3``) or many steps."""
    return 3 * steps >= k


def _features(Uc: Tensor, xs: Tensor, m: int, n: int) -> Tensor:
    r"""``Phi`` ``(T*Ns, k, m)``: :math:`\Phi[(t, i), c, a] = \sum_j x_{tij} U_{(a, j), c}`,
    one GEMM with :math:`U^\top` viewed ``(k*m, n)``."""
    T, Ns, _ = xs.shape
    k = Uc.shape[0]
    return (xs.reshape(T * Ns, n) @ Uc.view(k * m, n).T).view(T * Ns, k, m)


def _gram(Phi: Tensor, ys: Tensor, T: int) -> tuple[Tensor, Tensor]:
    r"""The *unscaled* task quadratics :math:`\sum_i \Phi_i\Phi_i^\top` ``(T, k, k)`` and
    :math:`\sum_i \Phi_i y_i` ``(T, k, 1)``."""
    TN, k, m = Phi.shape
    # one bmm gives both Phi Phi^T and Phi y
    Mh = torch.bmm(Phi, torch.cat([Phi.transpose(1, 2), ys.reshape(TN, m, 1)], dim=2))
    if TN > T:
        Mh = Mh.view(T, TN // T, k, k + 1).sum(1)
    return Mh[:, :, :k], Mh[:, :, k:]


def _per_example(v: Tensor, Ns: int) -> Tensor:
    """A task vector ``(T, k, 1)`` as a row per support example, ``(T*Ns, 1, k)``."""
    T, k = v.shape[0], v.shape[1]
    if Ns == 1:
        return v.view(T, 1, k)
    return v.view(T, 1, 1, k).expand(T, Ns, 1, k).reshape(T * Ns, 1, k)


def _task_sum(x: Tensor, T: int) -> Tensor:
    """Sum ``(T*Ns, k, 1)`` over each task's support examples, ``(T, k, 1)``."""
    TN, k = x.shape[0], x.shape[1]
    return x if TN == T else x.view(T, TN // T, k, 1).sum(1)


def _inner_loop(v0: Tensor, quad: tuple[Tensor, ...] | None, Phi: Tensor, ys: Tensor,
                T: int, a: float, steps: int) -> tuple[list[Tensor], tuple[Tensor, ...]]:
    """The inner SGD iterates ``v_0 .. v_S`` (each ``(T, k, 1)``) on the unscaled support
    quadratic with step ``a``. With ``quad = (M, h)`` it runs on the Gram matrix; with
    ``None`` on the features, and also returns the support residuals ``(e_0, e_1, ...)``
    (each ``(T*Ns, 1, m)``) that the backward pass reuses."""
    TN, k, m = Phi.shape
    v = v0.reshape(1, k, 1).expand(T, k, 1)
    vs = [v]
    if quad is not None:
        M, h = quad
        for _ in range(steps):
            # v <- v - a (M v - h) = (v + a h) - a M v: one add and one fused baddbmm
            v = torch.baddbmm(torch.add(v, h, alpha=a), M, v, alpha=-a)
            vs.append(v)
        return vs, quad
    Ns = TN // T
    yrow = ys.reshape(TN, 1, m)
    saved: list[Tensor] = []
    for _ in range(steps):
        e = torch.baddbmm(yrow, _per_example(v, Ns), Phi, beta=-1.0)  # Phi^T v - y (rows)
        # v - a sum_i Phi_i e_i (= v - a (M v - h)): one fused call for one example
        if Ns == 1:
            v = torch.baddbmm(v, Phi, e.transpose(1, 2), alpha=-a)
        else:
            v = torch.add(v, _task_sum(torch.bmm(Phi, e.transpose(1, 2)), T), alpha=-a)
        saved.append(e)
        vs.append(v)
    return vs, tuple(saved)


def _forward(Uc: Tensor, v0: Tensor, lr: float, xs: Tensor, ys: Tensor, xq: Tensor,
             yq: Tensor, m: int, n: int, steps: int, first_order: bool, per_task: bool = True
             ) -> tuple[Tensor, _Saved]:
    """The ``(T,)`` query losses (their mean when not ``per_task``) and what the backward
    pass needs."""
    T, Ns = xs.shape[0], xs.shape[1]
    k = Uc.shape[0]
    c = 2.0 / (Ns * m)
    a = lr * c  # the step on the unscaled quadratics
    gram = _use_gram(k, steps)
    Phi = _features(Uc, xs, m, n)
    vs, quad = _inner_loop(v0, _gram(Phi, ys, T) if gram else None, Phi, ys, T, a, steps)
    # every task's adapted W = reshape(U v) in one GEMM
    W = (vs[-1].reshape(T, k) @ Uc).view(T, m, n)
    r = torch.baddbmm(yq, xq, W.transpose(1, 2), beta=-1.0)  # X_q W^T - Y_q in one call
    if per_task:
        losses = r.view(T, -1).square().mean(1)
    else:  # the mean over tasks directly: one dot product instead of three reductions
        flat = r.view(-1)
        losses = torch.vdot(flat, flat).div_(flat.numel())
    return losses, _Saved(xs, ys, xq, Phi, quad, r, Uc, vs,
                          (m, n, k, steps, first_order, a, c, gram))


def _backward(S: _Saved, g_losses: Tensor | float, need_U: bool = True, need_v: bool = True,
              need_lr: bool = True) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of ``sum_t g_t loss_t`` (``g`` a ``(T,)`` tensor or one number) with
    respect to ``U.T`` (``(k, m*n)``), ``v0`` and the step size."""
    m, n, k, steps, first_order, a, c, gram = S.sizes
    T, Nq, Ns = S.xq.shape[0], S.xq.shape[1], S.xs.shape[1]
    vs = S.vs
    # d loss_t / d pred = w_t r_t with w_t = 2 g_t / (Nq m); w is applied to the small
    # (T, k) factors below rather than to r or dW
    w = (g_losses * (2.0 / (Nq * m))).view(T, 1) if isinstance(g_losses, Tensor) \
        else g_losses * 2.0 / (Nq * m)
    dW = torch.bmm(S.r.transpose(1, 2), S.xq).view(T, m * n)  # (T, m*n), unscaled
    # U^T dW^T, not dW U: MKL runs this (k, T, long m*n) product ~1.6x faster that way
    dv = torch.mul((S.Uc @ dW.T).T, w).contiguous().view(T, k, 1)
    dUc = ((vs[-1].reshape(T, k) * w).T @ dW) if need_U else None  # (k, m*n)
    second = not first_order and steps > 0 and need_U
    if gram:
        dv, dlr, dPhi = _backward_gram(S, dv, second, need_lr)
    else:
        dv, dlr, dPhi = _backward_features(S, dv, second, need_lr)
    if dPhi is not None and dUc is not None:
        # Phi = X_s (U^T as (k*m, n))^T  =>  d(U^T) += dPhi^T X_s
        dUc.view(k * m, n).addmm_(dPhi.view(T * Ns, k * m).T, S.xs.reshape(T * Ns, n),
                                  alpha=-a)
    dv0 = dv.sum(0).view(k) if need_v else None
    if need_lr and dlr is None:
        dlr = torch.zeros((), dtype=dv.dtype, device=dv.device)
    return dUc, dv0, dlr


def _backward_gram(S: _Saved, dv: Tensor, second: bool, need_lr: bool
                   ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Reverse of the Gram-matrix recursion: ``(dv_0, dlr, dPhi / -a)``."""
    m, _, _, steps, first_order, a, c, _ = S.sizes
    M, h = S.quad
    vs = S.vs
    T, Ns = dv.shape[0], S.xs.shape[1]
    dlr = None
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
    if not second:
        return dv, dlr, None
    assert A is not None and Hs is not None
    # M = sum_i Phi_i Phi_i^T and h = sum_i Phi_i y_i enter as v <- v + a (h - M v):
    # dPhi_i = -a [(A + A^T) Phi_i - Hs y_i^T]
    B = A + A.transpose(1, 2)
    ys = S.ys.reshape(T * Ns, 1, m)
    if Ns > 1:
        B = B.repeat_interleave(Ns, dim=0)
        Hs = Hs.repeat_interleave(Ns, dim=0)
    return dv, dlr, torch.baddbmm(torch.bmm(B, S.Phi), Hs, ys, alpha=-1.0)


def _backward_features(S: _Saved, dv: Tensor, second: bool, need_lr: bool
                       ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Reverse of the feature recursion ``v_{s+1} = v_s - a sum_i Phi_i e_{s,i}``,
    ``e_{s,i} = Phi_i^T v_s - y_i``: ``(dv_0, dlr, dPhi / -a)`` with the rank-``2S``
    ``dPhi_i = sum_s dv_{s+1} e_{s,i}^T + v_s q_{s+1,i}^T``, ``q = Phi_i^T dv_{s+1}``."""
    _, _, _, steps, first_order, a, c, _ = S.sizes
    vs, Phi = S.vs, S.Phi
    T, Ns = dv.shape[0], S.xs.shape[1]
    dlr = None
    left: list[Tensor] = []  # columns dv_{s+1}, v_s of the rank-2S factors of dPhi_i
    right: list[Tensor] = []  # rows e_{s,i}, q_{s+1,i}
    for s in range(steps - 1, -1, -1):
        if first_order and not need_lr:
            continue
        e = S.quad[s]
        dvr = _per_example(dv, Ns)
        q = torch.bmm(dvr, Phi)  # (T*Ns, 1, m): Phi_i^T dv_{s+1}
        if need_lr:  # d v_{s+1} / d lr = -c g_s, and g_s . dv = sum_i e_i . (Phi_i^T dv)
            gd = torch.vdot(e.view(-1), q.view(-1))
            dlr = gd if dlr is None else dlr + gd
        if first_order:
            continue
        if second:
            left += [dvr, _per_example(vs[s], Ns)]
            right += [e, q]
        # dv_s = (I - a M) dv_{s+1} with M dv = sum_i Phi_i q_i
        if Ns == 1:
            dv = torch.baddbmm(dv, Phi, q.transpose(1, 2), alpha=-a)
        else:
            dv = torch.add(dv, _task_sum(torch.bmm(Phi, q.transpose(1, 2)), T), alpha=-a)
    if dlr is not None:
        dlr = dlr.mul_(-c)  # a fresh tensor (vdot's), safe to scale in place
    if not left:
        return dv, dlr, None
    if steps == 1:  # two broadcast outer products beat two cats and a K=2 bmm
        dPhi = left[0].transpose(1, 2) * right[0]
        return dv, dlr, dPhi.addcmul_(left[1].transpose(1, 2), right[1])
    # all 2S outer products in one bmm: (T*Ns, k, 2S) @ (T*Ns, 2S, m)
    return dv, dlr, torch.bmm(torch.cat(left, 1).transpose(1, 2), torch.cat(right, 1))


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
        Uc = _transposed(U)
        T, Ns = xs.shape[0], xs.shape[1]
        Phi = _features(Uc, xs, m, n)
        a = float(lr) * 2.0 / (Ns * m)
        quad = _gram(Phi, ys, T) if _use_gram(Uc.shape[0], steps) else None
        return _inner_loop(v0, quad, Phi, ys, T, a, steps)[0][-1].reshape(T, -1)


def msr_meta_grads(U: Tensor, v0: Tensor, lr: Tensor, xs: Tensor, ys: Tensor, xq: Tensor,
                   yq: Tensor, *, m: int, n: int, steps: int = 1, first_order: bool = False,
                   need_U: bool = True) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """The mean query loss and its gradients ``(loss, dU, dv0, dlr)`` in one call, without
    recording an autograd graph: the same numbers as ``msr_task_losses(...).mean()``
    followed by ``backward()``, minus the autograd bookkeeping (the training loop's hot
    path). ``dU`` has ``U``'s shape; it is column-major, like ``MSRLinear.U``."""
    with torch.no_grad():
        loss, saved = _forward(_transposed(U), v0, float(lr), xs, ys, xq, yq, m, n, steps,
                               first_order, per_task=False)
        dUc, dv0, dlr = _backward(saved, 1.0 / xs.shape[0], need_U, True, True)
        return loss, None if dUc is None else dUc.T, dv0, dlr
