"""MSR-Conv and the image problems: the exact C4/D4 patterns lie in MSRConv2d's family,
the sufficient-statistics meta-learner equals real convolutions, gradients, commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metasym.cli import main
from metasym.groups import rotations, rotoflips
from metasym.learning.comparison.images import grid_equivariance_error
from metasym.learning.data.images import image_problem, make_image_tasks
from metasym.learning.learners.conv import (
    ConvMetaLearner,
    build_conv_learner,
    loop_conv_task_losses,
)
from metasym.learning.models.conv import (
    Conv2dMAML,
    FullMSRConv2d,
    MSRConv2d,
    SquareMSRConv2d,
    build_conv_model,
)
from metasym.representations import SharingPattern
from metasym.representations.steerable import group_conv_pattern, lifting_conv_pattern

from .run_helpers import image_config, train


def _labels_of(U: np.ndarray) -> np.ndarray:
    """Sharing labels of a 0/1 basis with at most one 1 per row (-1: zero row)."""
    assert set(np.unique(U)) <= {0.0, 1.0} and (U.sum(1) <= 1).all()
    return np.where(U.sum(1) > 0, U.argmax(1), -1)


@pytest.mark.parametrize("group", [rotations(3), rotoflips(3)], ids=["C4", "D4"])
def test_exact_lifting_pattern_is_in_the_msrconv_family(group):
    """Constructive proof: U_block = the one-field pattern's U^G makes MSRConv2d's full U
    equal (up to the order of its columns) to the exact U^G of the multi-field layer."""
    N, F = group.order, 3
    block = lifting_conv_pattern(group, 1).basis(dtype=np.float64)  # (N*9, 9)
    layer = MSRConv2d(1, F * N, 3, field_in=1, field_out=N, rank=block.shape[1],
                      U_block=torch.as_tensor(block))
    U = layer.full_U().double().numpy()
    full = lifting_conv_pattern(group, F)
    learned = SharingPattern(_labels_of(U).reshape(F * N, 9))
    assert learned == SharingPattern(full.labels)
    assert full.dimension == U.shape[1]
    # and every weight of the layer is exactly equivariant
    v = torch.randn(F, 1, block.shape[1], dtype=torch.float64)
    W = layer.double().weights({"v": v[None]})[0].numpy()
    assert full.equivariance_error(W, reduce="max") < 1e-12


@pytest.mark.parametrize("group", [rotations(3), rotoflips(3)], ids=["C4", "D4"])
def test_exact_group_conv_pattern_is_in_the_msrconv_family(group):
    N = group.order
    block = group_conv_pattern(group, 1, 1).basis(dtype=np.float64)  # (N*N*9, N*9)
    layer = MSRConv2d(2 * N, 2 * N, 3, field_in=N, field_out=N, rank=block.shape[1],
                      U_block=torch.as_tensor(block))
    U = layer.full_U().double().numpy()
    full = group_conv_pattern(group, 2, 2)
    assert SharingPattern(_labels_of(U).reshape(2 * N, 2 * N * 9)) == SharingPattern(full.labels)


def test_plain_kronecker_factors_cannot_express_rotation_coupling():
    """Why fields: span(U^G) of the C4 lifting block is not a tensor-product subspace
    S_channel (x) S_position (what separate channel and position factors span). Any
    element of such a subspace, reshaped to (channel, position), has its columns in
    S_channel; one exact kernel (an off-centre tap's orbit) has rank 4, forcing
    S_channel = R^4 and dim = 4 * dim S_position -- but the exact dimension is 9."""
    block = lifting_conv_pattern(rotations(3), 1).basis(dtype=np.float64)  # (36, 9)
    ranks = [np.linalg.matrix_rank(block[:, c].reshape(4, 9)) for c in range(9)]
    assert max(ranks) == 4
    assert block.shape[1] % 4 != 0


def test_shapes_forward_and_weight():
    x = torch.randn(2, 1, 7, 7)
    for layer in (MSRConv2d(1, 8, 3, field_out=4, rank=5), FullMSRConv2d(1, 8, 3, k=4),
                  SquareMSRConv2d(1, 8, 3), Conv2dMAML(1, 8, 3)):
        assert layer(x).shape == (2, 8, 5, 5)
        assert layer.weight.shape == (8, 1, 3, 3)
        ref = torch.nn.functional.conv2d(x, layer.weight)
        assert torch.allclose(layer(x), ref)
    with pytest.raises(Exception, match="divide"):
        MSRConv2d(1, 6, 3, field_out=4, rank=2)
    with pytest.raises(Exception, match="unknown image model"):
        build_conv_model("nope", in_channels=1, out_channels=4, kernel=3)


@pytest.fixture(scope="module")
def small_tasks():
    return {name: make_image_tasks(name, n_tasks=5, image_size=7, fields=1)
            for name in ("c4", "d4", "rot8", "rot8_flip")}


@pytest.mark.parametrize("model", ["msr-conv", "msr-conv-square", "maml-conv", "oracle",
                                   "msr-conv-full"])
@pytest.mark.parametrize("name", ["c4", "rot8_flip"])
def test_statistics_equal_real_convolutions(small_tasks, name, model):
    ts = small_tasks[name]
    L = build_conv_learner(ts.problem, model, inner_steps=2).double()
    x, y = ts.images(range(ts.n_tasks))
    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    stats = L.task_losses(ts.stats)
    direct = L.direct_task_losses(xt[:, :1], yt[:, :1], xt[:, 1:], yt[:, 1:])
    loop = loop_conv_task_losses(L, xt[:, :1], yt[:, :1], xt[:, 1:], yt[:, 1:])
    # y was stored in float32: agreement to its rounding
    torch.testing.assert_close(stats, direct, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(stats, loop, rtol=1e-6, atol=1e-7)
    # meta-gradients agree too
    g1 = torch.autograd.grad(stats.mean(), L.meta_parameters())
    g2 = torch.autograd.grad(direct.mean(), L.meta_parameters())
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_meta_gradients_match_finite_differences(small_tasks):
    ts = small_tasks["c4"]
    model = MSRConv2d(1, 4, 3, field_out=4, rank=3).double()
    L = ConvMetaLearner(model, inner_steps=2, inner_lr=0.5).double()

    def f(U, v, lr):
        with torch.no_grad():
            model.U_block.copy_(U)
            model.v.copy_(v)
            L.inner_lrs["v"].copy_(lr)
        return L.task_losses(ts.stats).sum()

    params = [model.U_block, model.v, L.inner_lrs["v"]]
    base = [p.detach().clone() for p in params]
    loss = f(*base)
    grads = torch.autograd.grad(loss, params)
    eps = 1e-6
    for i, (p0, g) in enumerate(zip(base, grads)):
        flat = p0.reshape(-1)
        for j in range(min(flat.numel(), 6)):
            up = [b.clone() for b in base]
            dn = [b.clone() for b in base]
            up[i].view(-1)[j] += eps
            dn[i].view(-1)[j] -= eps
            fd = (f(*up) - f(*dn)).item() / (2 * eps)
            assert abs(fd - g.reshape(-1)[j].item()) <= 1e-6 * max(1.0, abs(fd))


def test_generated_weights_are_equivariant(small_tasks):
    for name, ts in small_tasks.items():
        errs = grid_equivariance_error(ts.w, ts.problem)
        assert max(errs.values()) < 1e-12, name
        rnd = grid_equivariance_error(np.random.default_rng(0).standard_normal(ts.w.shape),
                                      ts.problem)
        assert min(rnd.values()) > 0.5
        assert len(errs) == (2 if ts.problem.flips else 1)
    # E[y^2] is about 1 by construction
    ts = make_image_tasks("rot8", n_tasks=40, image_size=12, fields=1)
    zero = (ts.stats.yyq / (ts.stats.n_q * ts.problem.out_channels)).mean()
    assert 0.7 < float(zero) < 1.3


def test_problem_sizes():
    p = image_problem("rot8_flip")
    assert (p.out_channels, p.dimension, p.order) == (48, 6, 16)
    assert image_problem("rot8").out_channels == 24
    assert image_problem("d4", fields=2).pattern.dimension == 18
    with pytest.raises(Exception, match="smaller than the kernel"):
        image_problem("c4", image_size=2)


def test_training_learns_the_symmetry_on_small_images():
    ts = make_image_tasks("c4", n_tasks=200, image_size=6, fields=1)
    cfg = image_config(problem="c4", model="msr-conv", steps=150, inner_lr=2.0,
                       fields=1, image_size=6, n_tasks=200, eval_every=150,
                       eval_tasks=40, outer_lr=1e-2)
    final = train(cfg, None, progress=False, tasks=ts)
    assert final["test_mse"] < 0.5 * final["history"][0]["test_mse"]


def test_commands_tiny(tmp_path, capsys):
    run = tmp_path / "r"
    args = ["train", "--problem", "rot8", "--model", "msr-conv", "--steps", "3", "--tasks",
            "8", "--image-size", "5", "--fields", "1", "--eval-tasks", "2", "--eval-every",
            "2", "--out", str(run), "--quiet"]
    assert main(args) == 0
    for f in ("config.json", "metrics.jsonl", "checkpoint.safetensors", "final.json",
              "answer.npz"):
        assert (run / f).is_file()
    assert main(["train", *args[1:], "--json"]) == 2  # exists, no --overwrite
    capsys.readouterr()
    assert main(["compare", str(run), "--json", "--plot", str(tmp_path / "c.png"),
                 "--tasks", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rotation45_error"] is not None and "rot90" in out["equivariance_errors"]
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert main(["train", "--problem", "rank1", "--model", "msr-conv", "--out",
                 str(tmp_path / "x")]) == 2
    assert main(["train", "--problem", "c4", "--model", "msr-fc", "--out",
                 str(tmp_path / "y")]) == 2
    assert main(["reproduce", "table2", "--steps", "2", "--tasks", "6", "--image-size", "5",
                 "--fields", "1", "--problems", "c4", "rot8", "--models", "msr-conv",
                 "oracle", "--out", str(tmp_path / "t2"), "--quiet", "--json",
                 "--inner-lr", "auto"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["rows"]) == 4 and (tmp_path / "t2" / "table2.md").is_file()
    assert main(["reproduce", "table2", "--inner-lr", "fast", "--out",
                 str(tmp_path / "t3")]) == 2
