"""The closed-form MSR path at rank5-like sizes (``k = 30``): both inner-loop formulations
(on the features ``Phi`` and on the Gram matrix ``M``) against the generic ``torch.func``
path, ``gradcheck`` and each other, in float64, for one and several inner steps, first
and second order."""

from __future__ import annotations

import pytest
import torch

from metasym.learning import MetaLearner, MSRLinear
from metasym.learning.learners import _fast
from metasym.learning.learners._fast import msr_adapt, msr_meta_grads, msr_task_losses

FORMULATIONS = ["features", "gram"]


@pytest.fixture
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(params=FORMULATIONS)
def formulation(request, monkeypatch):
    """Force one inner-loop formulation whatever ``k`` and the step count are."""
    gram = request.param == "gram"
    monkeypatch.setattr(_fast, "_use_gram", lambda k, steps: gram)
    return request.param


def _batch(T=4, Ns=1, Nq=3, n=8, m=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, Ns, n, generator=g), torch.randn(T, Ns, m, generator=g),
            torch.randn(T, Nq, n, generator=g), torch.randn(T, Nq, m, generator=g))


def _model(n=8, m=6, k=30, scale=3.0, seed=0):
    torch.manual_seed(seed)
    model = MSRLinear(n, m, k=k)
    with torch.no_grad():
        model.U.mul_(scale / 0.01 / (n * k) ** 0.5)  # so one inner step moves v noticeably
    return model


def _grads(learner, batch, weights):
    learner.zero_grad()
    losses = learner.task_losses(*batch)
    (losses * weights).sum().backward()
    return [losses.detach()] + [p.grad.clone() for p in learner.meta_parameters()]


def test_formulation_choice():
    # rank5 (k = 30) runs on the features, rank1 (k = 3) on the Gram matrix
    assert not _fast._use_gram(30, 1) and not _fast._use_gram(30, 5)
    assert _fast._use_gram(3, 1) and _fast._use_gram(3, 5)


@pytest.mark.parametrize("Ns", [1, 2])
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_k30_equals_generic_path(f64, formulation, Ns, steps, first_order):
    model = _model()
    batch = _batch(Ns=Ns)
    w = torch.arange(1.0, 5.0)
    fast = MetaLearner(model, inner_steps=steps, first_order=first_order, inner_lr=0.3)
    assert fast.fast
    generic = MetaLearner(model, inner_steps=steps, first_order=first_order, fast=False)
    generic.load_state_dict(fast.state_dict())
    a = _grads(fast, batch, w)
    b = _grads(generic, batch, w)
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-11, rtol=1e-9)
    # the inner step really moves v, so the comparison covers the adaptation terms
    v = fast.adapt(*batch[:2])["v"]
    assert (v - model.v).abs().max() > 1e-2
    assert torch.allclose(v, generic.adapt(*batch[:2])["v"], atol=1e-12)


@pytest.mark.parametrize("steps", [1, 3])
def test_k30_second_order_terms_are_there(f64, formulation, steps):
    model = _model()
    batch = _batch()
    w = torch.ones(4)
    so = MetaLearner(model, inner_steps=steps, inner_lr=0.3)
    fo = MetaLearner(model, inner_steps=steps, inner_lr=0.3, first_order=True)
    a, b = _grads(so, batch, w), _grads(fo, batch, w)
    assert torch.allclose(a[0], b[0])  # same losses, different gradients
    assert not torch.allclose(a[1], b[1], atol=1e-6)  # U
    assert not torch.allclose(a[2], b[2], atol=1e-6)  # v


@pytest.mark.parametrize("steps", [1, 2])
def test_k30_gradcheck(f64, formulation, steps):
    # second order only: first-order MAML drops terms, so it is not the loss's gradient.
    # fast_mode checks random projections of the Jacobian (~1000 inputs here)
    xs, ys, xq, yq = _batch(T=3, Ns=1, Nq=2, n=8, m=4)
    torch.manual_seed(1)
    U = (torch.randn(32, 30) * 0.3).requires_grad_()
    v = torch.randn(30).requires_grad_()
    lr = torch.tensor(0.2, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda U, v, lr: msr_task_losses(U, v, lr, xs, ys, xq, yq, m=4, n=8, steps=steps),
        (U, v, lr), fast_mode=True)


@pytest.mark.parametrize("steps", [0, 1, 4])
@pytest.mark.parametrize("first_order", [False, True])
def test_k30_direct_gradients_equal_autograd(f64, formulation, steps, first_order):
    """``msr_meta_grads`` (no graph, mean loss in one dot product) against autograd
    through ``msr_task_losses``."""
    model = _model()
    batch = _batch(Ns=2)
    lr = torch.tensor(0.3, requires_grad=True)
    U = model.U.detach().clone().requires_grad_()
    v = model.v.detach().clone().requires_grad_()
    loss = msr_task_losses(U, v, lr, *batch, m=6, n=8, steps=steps,
                           first_order=first_order).mean()
    loss.backward()
    d_loss, dU, dv, dlr = msr_meta_grads(model.U, model.v, lr, *batch, m=6, n=8,
                                         steps=steps, first_order=first_order)
    assert torch.allclose(d_loss, loss.detach(), rtol=1e-12)
    for got, ref in ((dU, U.grad), (dv, v.grad), (dlr, lr.grad)):
        assert got.shape == ref.shape
        assert torch.allclose(got, ref, atol=1e-12, rtol=1e-10)
    assert dU.T.is_contiguous()  # column-major like MSRLinear.U


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("first_order", [False, True])
def test_formulations_agree(f64, monkeypatch, steps, first_order):
    model = _model()
    batch = _batch(T=6, Ns=1, Nq=5, seed=2)
    lr = torch.tensor(0.3)
    out = {}
    for gram in (False, True):
        monkeypatch.setattr(_fast, "_use_gram", lambda k, s, g=gram: g)
        out[gram] = (msr_meta_grads(model.U, model.v, lr, *batch, m=6, n=8, steps=steps,
                                    first_order=first_order),
                     msr_adapt(model.U, model.v, lr, *batch[:2], m=6, n=8, steps=steps))
    (ga, va), (gb, vb) = out[False], out[True]
    assert torch.allclose(va, vb, atol=1e-12)
    for x, y in zip(ga, gb):
        assert torch.allclose(x, y, atol=1e-12, rtol=1e-10)


def test_float32_rank5_sizes_match_float64():
    """At the benchmark's sizes (m = 68, n = 70, k = 30, 32 tasks, 1 + 19 examples) the
    float32 result of the chosen formulation is the float64 one up to rounding."""
    torch.manual_seed(0)
    model = MSRLinear(70, 68, k=30)
    batch = _batch(T=32, Ns=1, Nq=19, n=70, m=68, seed=5)
    lr = torch.tensor(0.1)
    got = msr_meta_grads(model.U, model.v, lr, *batch, m=68, n=70)
    ref = msr_meta_grads(model.U.double(), model.v.double(), lr.double(),
                         *(t.double() for t in batch), m=68, n=70)
    for x, y in zip(got, ref):
        assert x.dtype == torch.float32
        assert torch.allclose(x.double(), y, rtol=1e-4, atol=1e-4 * float(y.abs().max()))


@pytest.mark.parametrize("steps", [1, 3])
def test_k30_frozen_U_equals_generic_path(f64, formulation, steps):
    """A frozen ``U`` (the oracle's buffer): only ``v`` and the step size get gradients."""
    torch.manual_seed(3)
    model = MSRLinear(8, 6, k=30, U=torch.randn(48, 30) * 0.1)
    assert not model.learns_U
    batch = _batch(Ns=2, seed=4)
    w = torch.arange(1.0, 5.0)
    fast = MetaLearner(model, inner_steps=steps, inner_lr=0.3)
    generic = MetaLearner(model, inner_steps=steps, fast=False)
    generic.load_state_dict(fast.state_dict())
    a, b = _grads(fast, batch, w), _grads(generic, batch, w)
    assert len(a) == 3  # losses, v, step size
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-11, rtol=1e-9)
    fast.zero_grad(set_to_none=True)
    loss = fast.backward_meta_loss(*batch)  # msr_meta_grads with need_U=False
    assert torch.allclose(loss, b[0].mean())
    grads = [p.grad for p in fast.meta_parameters()]
    # backward_meta_loss averages the tasks; _grads weighted them by w
    ref = [g.clone() for g in _grads(generic, batch, torch.full((4,), 0.25))[1:]]
    for g, r in zip(grads, ref):
        assert torch.allclose(g, r, atol=1e-11, rtol=1e-9)
