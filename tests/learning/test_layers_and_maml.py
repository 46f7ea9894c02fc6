"""Layers, export, and the meta-gradient: fast path vs generic torch.func path vs a
per-task loop vs finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metasym.errors import MetasymError
from metasym.learning import (
    Conv1dLayer,
    FullyConnected,
    LocallyConnected1d,
    MetaLearner,
    MSRLinear,
    build_model,
    dense_weight,
    export_linear,
    loop_task_losses,
)
from metasym.learning.learners._fast import msr_task_losses
from metasym.representations import conv1d, locally_connected1d


@pytest.fixture
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _batch(T=4, Ns=2, Nq=3, n=6, m=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, Ns, n, generator=g), torch.randn(T, Ns, m, generator=g),
            torch.randn(T, Nq, n, generator=g), torch.randn(T, Nq, m, generator=g))


# ----- layers ---------------------------------------------------------------------------------
def test_msr_weight_is_row_major_reshape():
    layer = MSRLinear(4, 3, k=2)
    W = (layer.U @ layer.v).view(3, 4)
    assert torch.equal(layer.weight, W)
    x = torch.randn(5, 4)
    assert torch.allclose(layer(x), x @ W.T)


def test_oracle_from_pattern_freezes_U():
    P = conv1d(10, 3)
    layer = MSRLinear.from_pattern(P)
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["v"] and not layer.learns_U
    assert np.array_equal(layer.U.numpy().astype(np.int64), P.basis())
    W = layer.weight.detach().numpy()
    assert np.allclose(P.project(W), W)


@pytest.mark.parametrize("name", ["msr-fc", "maml-fc", "maml-lc", "maml-conv"])
def test_export_linear_matches_model(name):
    torch.manual_seed(1)
    model = build_model(name, n_in=12, n_out=10, k=3)
    x = torch.randn(7, 12)
    lin = export_linear(model)
    assert isinstance(lin, torch.nn.Linear)
    assert torch.allclose(lin(x), model(x), atol=1e-5)


def test_export_with_substituted_params():
    model = MSRLinear(6, 5, k=2)
    v = torch.tensor([1.0, -2.0])
    W, b = dense_weight(model, {"v": v})
    assert torch.allclose(W, (model.U @ v).view(5, 6), atol=1e-6)
    assert torch.all(b == 0)


def test_conv_and_lc_weights_lie_in_their_patterns():
    torch.manual_seed(0)
    conv, lc = Conv1dLayer(12, 3), LocallyConnected1d(12, 3)
    Wc = dense_weight(conv)[0].numpy()
    Wl = dense_weight(lc)[0].numpy()
    Pc, Pl = conv1d(12, 3), locally_connected1d(12, 3)
    assert np.allclose(Pc.project(Wc), Wc, atol=1e-6)
    assert not np.allclose(Pc.project(Wl), Wl, atol=1e-3)  # LC does not share
    assert np.allclose(Pl.project(Wl), Wl, atol=1e-6)


def test_locally_connected_matches_explicit_loop():
    torch.manual_seed(0)
    lc = LocallyConnected1d(9, 3, in_channels=2, out_channels=2, bias=True)
    x = torch.randn(4, 2 * 9)
    xs = x.view(4, 2, 9)
    ref = torch.zeros(4, 2, 7)
    for o in range(2):
        for p in range(7):
            ref[:, o, p] = (xs[:, :, p:p + 3] * lc.weight[o, :, p, :]).sum((1, 2)) + lc.bias[o, p]
    assert torch.allclose(lc(x), ref.view(4, 14), atol=1e-6)


def test_build_model_errors():
    with pytest.raises(MetasymError):
        build_model("msr-fc", n_in=4, n_out=3)
    with pytest.raises(MetasymError):
        build_model("oracle", n_in=4, n_out=3)
    with pytest.raises(MetasymError):
        build_model("nope", n_in=4, n_out=3)
    with pytest.raises(MetasymError):
        build_model("maml-conv", n_in=4, n_out=6)


def test_fully_connected_inner_names():
    assert FullyConnected(3, 2).inner_names == ("weight",)
    assert MetaLearner(FullyConnected(3, 2, bias=True)).inner_names == ("weight", "bias")


# ----- meta-gradients -------------------------------------------------------------------------
def _grads(learner, batch, mode, weights):
    learner.zero_grad()
    losses = (loop_task_losses(learner, *batch) if mode == "loop"
              else learner.task_losses(*batch))
    (losses * weights).sum().backward()
    return [losses.detach()] + [p.grad.clone() for p in learner.meta_parameters()]


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_fast_path_equals_generic_and_loop(f64, steps, first_order):
    torch.manual_seed(0)
    model = MSRLinear(6, 5, k=3)
    with torch.no_grad():
        model.U.mul_(20)  # so the inner step actually moves v
    batch = _batch()
    w = torch.arange(1.0, 5.0)
    fast = MetaLearner(model, inner_steps=steps, first_order=first_order, inner_lr=0.3)
    assert fast.fast
    generic = MetaLearner(model, inner_steps=steps, first_order=first_order, fast=False)
    generic.load_state_dict(fast.state_dict())
    a = _grads(fast, batch, "fast", w)
    b = _grads(generic, batch, "generic", w)
    c = _grads(generic, batch, "loop", w)
    for x, y, z in zip(a, b, c):
        assert torch.allclose(x, y, atol=1e-10, rtol=1e-8)
        assert torch.allclose(x, z, atol=1e-10, rtol=1e-8)
    if not first_order:  # the second-order terms are really there
        fo = MetaLearner(model, inner_steps=steps, first_order=True)
        fo.load_state_dict(fast.state_dict())
        d = _grads(fo, batch, "fast", w)
        assert not torch.allclose(a[1], d[1], atol=1e-6)


def test_fast_path_gradcheck(f64):
    torch.manual_seed(0)
    xs, ys, xq, yq = _batch(T=3, Ns=2, Nq=2, n=4, m=3)
    U = (torch.randn(12, 2) * 2).requires_grad_()
    v = torch.randn(2).requires_grad_()
    lr = torch.tensor(0.2, requires_grad=True)
    for steps in (1, 2):
        assert torch.autograd.gradcheck(
            lambda U, v, lr, s=steps: msr_task_losses(U, v, lr, xs, ys, xq, yq, m=3, n=4,
                                                      steps=s),
            (U, v, lr))


@pytest.mark.parametrize("name", ["maml-fc", "maml-lc", "maml-conv", "oracle"])
def test_generic_meta_gradient_matches_finite_differences(f64, name):
    torch.manual_seed(0)
    U = conv1d(8, 3).basis().astype(float) if name == "oracle" else None
    model = build_model(name, n_in=8, n_out=6, U=U)
    learner = MetaLearner(model, inner_steps=2, inner_lr=0.2, fast=False)
    batch = _batch(T=3, Ns=1, Nq=4, n=8, m=6, seed=3)
    params = list(learner.meta_parameters())
    learner.zero_grad()
    learner.meta_loss(*batch).backward()
    g = torch.cat([p.grad.reshape(-1) for p in params])
    direction = torch.randn_like(g)
    eps = 1e-6

    def loss_at(t):
        with torch.no_grad():
            off = 0
            for p in params:
                p.add_(t * direction[off:off + p.numel()].view_as(p))
                off += p.numel()
        val = float(learner.meta_loss(*batch).detach())
        with torch.no_grad():
            off = 0
            for p in params:
                p.sub_(t * direction[off:off + p.numel()].view_as(p))
                off += p.numel()
        return val

    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert fd == pytest.approx(float(g @ direction), rel=1e-6, abs=1e-9)


def test_chunked_vmap_equals_unchunked(f64):
    torch.manual_seed(0)
    model = build_model("maml-conv", n_in=8, n_out=6)
    batch = _batch(T=5, Ns=1, Nq=2, n=8, m=6)
    a = MetaLearner(model, inner_steps=2).task_losses(*batch)
    b = MetaLearner(model, inner_steps=2, chunk_size=2).task_losses(*batch)
    assert torch.allclose(a, b)


def test_adapt_and_evaluate_agree(f64):
    torch.manual_seed(0)
    model = MSRLinear(6, 5, k=2)
    fast = MetaLearner(model, inner_steps=2, inner_lr=0.3)
    generic = MetaLearner(model, inner_steps=2, inner_lr=0.3, fast=False)
    xs, ys, xq, yq = _batch()
    assert torch.allclose(fast.adapt(xs, ys)["v"], generic.adapt(xs, ys)["v"])
    assert torch.allclose(fast.evaluate(xs, ys, xq, yq), generic.evaluate(xs, ys, xq, yq))


def test_zero_inner_steps_is_plain_regression(f64):
    model = MSRLinear(6, 5, k=2)
    xs, ys, xq, yq = _batch()
    losses = MetaLearner(model, inner_steps=0).task_losses(xs, ys, xq, yq)
    ref = ((xq @ model.weight.T - yq) ** 2).mean((1, 2))
    assert torch.allclose(losses, ref)


def test_learner_argument_errors():
    with pytest.raises(MetasymError):
        MetaLearner(MSRLinear(3, 2, 1), inner_steps=-1)
    with pytest.raises(MetasymError):
        MetaLearner(MSRLinear(3, 2, 1), chunk_size=0)
    with pytest.raises(MetasymError):
        MetaLearner(MSRLinear(3, 2, 1, bias=True), fast=True)


@pytest.mark.parametrize("steps, first_order, oracle", [(1, False, False), (3, False, False),
                                                         (2, True, False), (2, False, True)])
def test_direct_gradients_equal_autograd(f64, steps, first_order, oracle):
    torch.manual_seed(0)
    U = torch.as_tensor(conv1d(6, 2).basis(), dtype=torch.float64) if oracle else None
    model = MSRLinear(6, 5, k=2, U=U)
    with torch.no_grad():
        model.U.mul_(1 if oracle else 20)
    learner = MetaLearner(model, inner_steps=steps, first_order=first_order, inner_lr=0.3)
    batch = _batch()
    learner.zero_grad()
    loss = learner.meta_loss(*batch)
    loss.backward()
    ref = [p.grad.clone() for p in learner.meta_parameters()]
    learner.zero_grad(set_to_none=True)
    direct = learner.backward_meta_loss(*batch)
    assert torch.allclose(direct, loss.detach())
    for r, p in zip(ref, learner.meta_parameters()):
        assert torch.allclose(r, p.grad, atol=1e-12)


def test_optimizer_step_through_the_U_alias_equals_plain_adam():
    """The fast path hands Adam a contiguous alias of U; the trajectory must be the same
    as Adam on the parameters themselves with autograd gradients."""
    torch.manual_seed(0)
    batch = _batch(T=6, n=6, m=5, seed=2)
    runs = []
    for direct in (True, False):
        torch.manual_seed(1)
        learner = MetaLearner(MSRLinear(6, 5, k=2), inner_steps=2)
        params = learner.optimizer_parameters() if direct else list(learner.meta_parameters())
        opt = torch.optim.Adam(params, lr=1e-2)
        for _ in range(5):
            opt.zero_grad(set_to_none=True)
            if direct:
                learner.backward_meta_loss(*batch)
            else:
                learner.meta_loss(*batch).backward()
            opt.step()
        runs.append([t.detach().clone() for t in learner.state_dict().values()])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*runs))
    assert not runs[0][0].is_contiguous()  # U stays column-major
