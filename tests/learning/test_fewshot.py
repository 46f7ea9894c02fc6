"""Deep MSR networks and few-shot episodes: exactness of the factorised sharing, the
episode source, the learner against a per-task loop, and the engine plug-in end to end
(tiny settings: a tiny glyph set, a tiny net, a few episodes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from metasym.errors import MetasymError, SpecError
from metasym.learning.comparison.fewshot import field_span_error, grid_transforms, invariance_errors
from metasym.learning.comparison.subspaces import containment, subspace_distance
from metasym.learning.data.augment import Augmentation
from metasym.learning.data.classes import ImageClasses
from metasym.learning.data.episodes import EpisodeSource
from metasym.learning.data.glyphs import glyph_dataset
from metasym.learning.learners.fewshot import FewShotLearner
from metasym.learning.learners.maml import loop_task_losses
from metasym.learning.models.conv import MSRConv2d
from metasym.learning.models.convnet import (
    FieldNorm,
    build_convnet,
    exact_blocks,
    parameter_counts,
    symmetric_padding,
)
from metasym.representations.steerable import group_conv_pattern, kernel_group

TINY_GLYPHS = ["--glyph-alphabets", "1", "--glyph-characters", "6"]


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    """Glyph caches of these tests go to a temporary folder, never the user's."""
    old = os.environ.get("METASYM_CACHE_DIR")
    os.environ["METASYM_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("METASYM_CACHE_DIR", None)
    else:
        os.environ["METASYM_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def glyphs():
    return glyph_dataset(cache_dir=False, max_alphabets=1, max_classes_per_alphabet=6)


def _toy_classes(n_classes: int, per_class: int, size: int = 12, seed: int = 0,
                 channels: int = 1) -> ImageClasses:
    rng = np.random.default_rng(seed)
    shape = (n_classes * per_class, size, size) + ((3,) if channels == 3 else ())
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), per_class)
    return ImageClasses(images, labels, [f"c{i}" for i in range(n_classes)],
                        ["a"] * n_classes)


# ----- the network --------------------------------------------------------------------------------
GRID = {g: list(grid_transforms(g).values()) for g in ("flip", "vflip", "klein", "c4", "d4")}
#: a generator outside each group: the oracle must not be invariant to it
OUTSIDE = {"flip": "vflip", "vflip": "rot90", "klein": "rot90", "c4": "flip", "d4": None}


@pytest.mark.parametrize("group", ["flip", "vflip", "klein", "c4", "d4"])
@pytest.mark.parametrize("size,channels_in", [(28, 1), (20, 3), (10, 1)])
def test_oracle_network_is_exactly_invariant(group, size, channels_in):
    torch.manual_seed(0)
    order = kernel_group(group, 3).order
    net = build_convnet("oracle", in_channels=channels_in, classes=4, channels=2 * order,
                        group=group).double()
    # move every learned parameter off its initial value: invariance must not depend on it
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(5, channels_in, size, size, dtype=torch.float64)
    f = net(x)
    for g in GRID[group]:
        err = float((net(g(x)) - f).detach().norm() / f.detach().norm())
        assert err < 1e-12, err
    if OUTSIDE[group] is not None:  # negative control
        g = grid_transforms(None)[OUTSIDE[group]]
        assert float((net(g(x)) - f).detach().norm() / f.detach().norm()) > 1e-6


def test_maml_network_is_not_invariant():
    torch.manual_seed(0)
    net = build_convnet("maml", in_channels=1, classes=4, channels=8).double()
    x = torch.randn(5, 1, 28, 28, dtype=torch.float64)
    f = net(x)
    assert float((net(x.flip(-1)) - f).detach().norm() / f.detach().norm()) > 1e-2


@pytest.mark.parametrize("group", ["flip", "vflip", "klein", "c4", "d4"])
def test_field_block_factorisation_spans_the_exact_group_convolution(group):
    """P (I (x) B) with the exact block spans exactly the exact sharing pattern of the
    whole layer (2 regular fields in, 3 out), computed independently from the orbits."""
    ex = exact_blocks(group)
    d = ex.order
    layer = MSRConv2d(2 * d, 3 * d, 3, field_in=d, field_out=d, rank=ex.group_block.shape[1],
                      U_block=torch.as_tensor(ex.group_block))
    full = layer.full_U().double().numpy()
    exact = group_conv_pattern(kernel_group(group, 3), fields_in=2, fields_out=3)
    basis = exact.basis(orthonormal=True)
    assert full.shape[1] == basis.shape[1] == exact.dimension
    assert subspace_distance(full, basis) < 1e-10


def test_exact_block_dimensions_and_head():
    for group, order in (("flip", 2), ("vflip", 2), ("klein", 4), ("c4", 4), ("d4", 8)):
        ex = exact_blocks(group)
        assert ex.order == order
        assert ex.lifting.shape == (order * 9, 9)
        assert ex.group_block.shape == (order * order * 9, order * 9)
        np.testing.assert_allclose(ex.head, np.full((order, 1), 1 / np.sqrt(order)))
    with pytest.raises(SpecError, match="flip, vflip, klein, c4, d4"):
        exact_blocks("c5")


def test_parameter_counts_follow_the_factorisation():
    net = build_convnet("msr", in_channels=1, classes=5, channels=16, group="c4")
    counts = parameter_counts(net)
    d, F, k2 = 4, 4, 9
    assert counts["conv1"] == {"meta": d * 1 * k2 * k2, "inner": F * 1 * k2, "frozen": 0}
    assert counts["conv2"] == {"meta": d * d * k2 * d * k2, "inner": F * F * d * k2,
                               "frozen": 0}
    F_last = max(16, 5)  # the last block has |G| max(channels, ways) channels: 16 fields
    assert counts["conv4"]["inner"] == F_last * F * d * k2
    assert counts["head"] == {"meta": d, "inner": 5 * F_last + 5, "frozen": 0}
    oracle = parameter_counts(build_convnet("oracle", in_channels=1, classes=5, channels=16,
                                            group="c4"))
    assert oracle["conv2"] == {"meta": 0, "inner": F * F * d * k2, "frozen": d * d * k2 * d * k2}


def test_field_norm_matches_batch_norm_per_channel():
    """Batch statistics per channel, one affine pair per field: the formula, by hand,
    also through a second-order gradient (MAML differentiates through it twice)."""
    torch.manual_seed(0)
    x = torch.randn(6, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    norm = FieldNorm(4, 2).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.5, -0.5]))
        norm.bias.copy_(torch.tensor([0.2, 0.3]))

    def ref(x):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = (x - mean).square().mean(dim=(0, 2, 3), keepdim=True)
        g = torch.tensor([1.5, 1.5, -0.5, -0.5], dtype=x.dtype).view(1, -1, 1, 1)
        b = torch.tensor([0.2, 0.2, 0.3, 0.3], dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) * torch.rsqrt(var + 1e-5) * g + b

    ours, want = norm(x), ref(x)
    torch.testing.assert_close(ours, want)
    w = torch.randn_like(want)
    (g1,) = torch.autograd.grad((ours * w).square().sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad((want * w).square().sum(), x, create_graph=True)
    torch.testing.assert_close(g1, g2)
    # torch's double-backward formula sums in another order: float64, 1e-6 relative
    torch.testing.assert_close(torch.autograd.grad(g1.square().sum(), x)[0],
                               torch.autograd.grad(g2.square().sum(), x)[0],
                               rtol=1e-6, atol=1e-9)
    with pytest.raises(SpecError, match="divide"):
        FieldNorm(6, 4)


def test_build_errors():
    with pytest.raises(SpecError, match="oracle needs an exact group"):
        build_convnet("oracle", in_channels=1, classes=5, channels=8)
    with pytest.raises(SpecError, match="multiple of the field size 8"):
        build_convnet("msr", in_channels=1, classes=5, channels=12, group="d4")
    with pytest.raises(SpecError, match="unknown few-shot model"):
        build_convnet("msr-fc", in_channels=1, classes=5)
    with pytest.raises(SpecError, match="odd"):
        build_convnet("maml", in_channels=1, classes=5, kernel=2)


def test_symmetric_padding():
    assert symmetric_padding(28, 4) == (2, 2)
    assert symmetric_padding(32, 4) == (0, 0)
    assert symmetric_padding(84, 4) == (6, 6)
    assert symmetric_padding(7, 2) == (0, 1)


# ----- episodes -----------------------------------------------------------------------------------
def test_episodes_are_valid_and_deterministic():
    bg, ev = _toy_classes(7, 6, seed=1), _toy_classes(5, 6, seed=2)
    src = EpisodeSource(bg, ev, ways=3, shots=2, queries=3, augment=None, seed=4,
                        test_episodes=9)
    b = src.train_batch(torch.tensor([5, 11, 5]))
    for t in range(3):
        s, q = b.support[t].numpy(), b.query[t].numpy()
        assert not set(s) & set(q)
        lab_s, lab_q = b.ys[t].numpy(), b.yq[t].numpy()
        assert sorted(np.unique(lab_s)) == [0, 1, 2]
        # every label is one class of the split, the same in support and query
        for lab in range(3):
            classes = set(bg.labels[s[lab_s == lab]]) | set(bg.labels[q[lab_q == lab]])
            assert len(classes) == 1
        assert len({bg.labels[s[lab_s == lab]][0] for lab in range(3)}) == 3
    # episode = function of its index
    assert torch.equal(b.support[0], b.support[2]) and torch.equal(b.query[0], b.query[2])
    assert not torch.equal(b.support[0], b.support[1])
    again = EpisodeSource(bg, ev, ways=3, shots=2, queries=3, augment=None, seed=4,
                          test_episodes=9)
    assert torch.equal(again.train_batch(torch.tensor([11])).query[0], b.query[1])
    other = EpisodeSource(bg, ev, ways=3, shots=2, queries=3, augment=None, seed=5,
                          test_episodes=9)
    assert not torch.equal(other.test_batch().query, src.test_batch().query)
    # test episodes come from the evaluation split, fixed
    tb = src.test_batch()
    assert len(tb) == 9 and torch.equal(tb.store, src.test_batch().store)
    assert int(tb.support.max()) < ev.n_images
    xs, ys, xq, yq = tb.tensors()
    assert xs.shape == (9, 6, 1, 12, 12) and xq.shape == (9, 9, 1, 12, 12)
    np.testing.assert_array_equal(xs[0, 0, 0].numpy() * 255,
                                  ev.images[int(tb.support[0, 0])].astype(np.float32))
    assert src.baseline(tb) == pytest.approx(1 / 3)


def _is_exact_image(got, ref):
    return any(torch.equal(got, torch.rot90(r, k, (-2, -1)))
               for r in (ref, ref.flip(-1)) for k in range(4))


def test_augmentation_touches_queries_only_at_training_and_test():
    """The benchmark's protocol: query images of every episode are transformed, supports
    never; test episodes have their own fixed seeds; clean() gives the clean queries;
    augment_training=False leaves training clean and the test augmented."""
    bg, ev = _toy_classes(4, 5, seed=1), _toy_classes(4, 5, seed=2)
    aug = Augmentation.parse("flip,rot90")
    src = EpisodeSource(bg, ev, ways=2, shots=1, queries=4, augment=aug, test_episodes=3)
    plain = EpisodeSource(bg, ev, ways=2, shots=1, queries=4, augment=None, test_episodes=3)
    idx = torch.arange(6)
    for a, p in ((src.train_batch(idx), plain.train_batch(idx)),
                 (src.test_batch(), plain.test_batch())):
        xs_a, _, xq_a, _ = a.tensors()
        xs_p, _, xq_p, _ = p.tensors()
        assert torch.equal(xs_a, xs_p)  # supports untouched
        assert not torch.equal(xq_a, xq_p)  # queries transformed
        assert a.augmented and not p.augmented
        # each query image is an exact flip/rotation of the plain one (pixels permuted)
        for got, ref in zip(xq_a.flatten(0, 1), xq_p.flatten(0, 1)):
            assert _is_exact_image(got, ref)
        assert torch.equal(a.clean().tensors()[2], xq_p)
    # seeded by the episode: the same episodes, the same transforms, in any selection
    assert torch.equal(src.train_batch(idx).tensors()[2], src.train_batch(idx).tensors()[2])
    assert torch.equal(src.test_batch().select(slice(1, 3)).tensors()[2],
                       src.test_batch().tensors()[2][1:3])
    no_train = EpisodeSource(bg, ev, ways=2, shots=1, queries=4, augment=aug, test_episodes=3,
                             augment_training=False)
    assert torch.equal(no_train.train_batch(idx).tensors()[2], plain.train_batch(idx).tensors()[2])
    assert torch.equal(no_train.test_batch().tensors()[2], src.test_batch().tensors()[2])


def test_episode_source_errors():
    bg, ev = _toy_classes(4, 5), _toy_classes(3, 5)
    with pytest.raises(SpecError, match="only 3 classes"):
        EpisodeSource(bg, ev, ways=4, shots=1, queries=1, augment=None)
    with pytest.raises(SpecError, match="= 6 images per class"):
        EpisodeSource(bg, ev, ways=2, shots=1, queries=5, augment=None)


# ----- the learner ----------------------------------------------------------------------------------
def _tiny_learner(model="msr", group="c4", **kw):
    torch.manual_seed(0)
    net = build_convnet(model, in_channels=1, classes=3, channels=8, blocks=2, group=group)
    return FewShotLearner(net, **kw)


@pytest.mark.parametrize("model", ["msr", "maml", "oracle"])
def test_vmapped_losses_match_a_per_task_loop(model):
    bg, ev = _toy_classes(5, 6, seed=1), _toy_classes(5, 6, seed=2)
    src = EpisodeSource(bg, ev, ways=3, shots=1, queries=2, augment=None, test_episodes=2)
    learner = _tiny_learner(model, inner_steps=2)
    b = src.train_batch(torch.arange(4))
    fast = learner.task_losses(b)
    loop = loop_task_losses(learner, *b.tensors())
    torch.testing.assert_close(fast, loop, atol=1e-5, rtol=1e-4)
    # gradients too (second order through two inner steps)
    g1 = torch.autograd.grad(fast.mean(), learner.meta_parameters())
    g2 = torch.autograd.grad(loop.mean(), learner.meta_parameters())
    for a, c in zip(g1, g2):
        torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-3)


def test_chunked_meta_gradient_equals_whole_batch():
    bg, ev = _toy_classes(5, 6, seed=1), _toy_classes(5, 6, seed=2)
    src = EpisodeSource(bg, ev, ways=3, shots=1, queries=2, augment=None, test_episodes=2)
    b = src.train_batch(torch.arange(5))
    grads = []
    for chunk in (None, 2):
        learner = _tiny_learner("msr", chunk_size=chunk, batching="vmap")
        loss = learner.backward_meta_loss(b)
        grads.append((float(loss), [p.grad.clone() for p in learner.meta_parameters()]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for a, c in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-4)


def test_evaluate_and_invariance():
    bg, ev = _toy_classes(5, 6, seed=1), _toy_classes(5, 6, seed=2)
    src = EpisodeSource(bg, ev, ways=3, shots=1, queries=2, augment=None, test_episodes=7)
    learner = _tiny_learner("oracle", group="d4")
    b = src.test_batch()
    out = learner.evaluate(b, chunk=3)
    assert out["accuracy"].shape == (7,) and out["loss"].shape == (7,)
    # accuracies are multiples of 1/6 (6 query images)
    np.testing.assert_allclose(out["accuracy"].numpy() * 6, np.round(out["accuracy"].numpy() * 6))
    # the same numbers as a direct computation on one episode
    xs, ys, xq, yq = b.select(slice(0, 1)).tensors()
    (logits,) = learner.query_logits(xs, ys, xq)
    acc0 = float((logits.argmax(-1) == yq).double().mean())
    assert float(out["accuracy"][0]) == pytest.approx(acc0)
    inv = invariance_errors(learner, b, grid_transforms("d4"))
    assert set(inv) == {"flip", "rot90"}
    assert max(e["relative_error"] for e in inv.values()) < 1e-4  # float32 rounding
    maml = _tiny_learner("maml", group=None)
    inv_m = invariance_errors(maml, b, grid_transforms(None))
    assert min(e["relative_error"] for e in inv_m.values()) > 1e-3


def test_containment_and_field_span_error():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((10, 3))
    assert containment(B, B) == pytest.approx(1.0)
    assert containment(B[:, :1], B) == pytest.approx(1.0)
    assert containment(B, B[:, :1]) == pytest.approx(1 / 3)
    orth = np.linalg.svd(B)[0][:, 3:5]  # orthogonal complement directions
    assert containment(orth, B) == pytest.approx(0.0, abs=1e-12)
    ex = exact_blocks("c4")
    v = rng.standard_normal((2, 2, ex.group_block.shape[1]))
    layer = MSRConv2d(8, 8, 3, field_in=4, field_out=4, rank=v.shape[2],
                      U_block=torch.as_tensor(ex.group_block))
    W = layer.weights({"v": torch.as_tensor(v, dtype=torch.float32)[None]}).double().numpy()
    assert field_span_error(W, ex.group_block, 4, 4)[0] < 1e-6
    assert field_span_error(rng.standard_normal(W.shape), ex.group_block, 4, 4)[0] > 0.5


# ----- the engine plug-in, end to end -----------------------------------------------------------------
def _cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from metasym.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


TRAIN = ["train", "--problem", "glyphs", "--channels", "8", "--blocks", "2", "--queries", "2",
         "--ways", "3", "--tasks-per-step", "2", "--test-episodes", "6", "--eval-tasks", "4",
         "--eval-every", "2", "--quiet", *TINY_GLYPHS]


def test_train_resume_compare_discover(tmp_path):
    run = tmp_path / "msr"
    code, out, err = _cli(*TRAIN, "--model", "msr", "--augment", "rot90",
                          "--steps", "4", "--out", str(run), "--json")
    assert code == 0, err
    final = json.loads(out)
    assert final["problem"] == "glyphs 3-way 1-shot" and final["group"] == "c4"
    assert 0 <= final["test_accuracy_all"] <= 1 and final["all_test_tasks"] == 6
    assert final["chance_accuracy"] == pytest.approx(1 / 3)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["kind"] == "fewshot" and cfg["augment"] == "rot90" and cfg["field"] is None and cfg["field_size"] == 4
    answer = np.load(run / "answer.npz")
    np.testing.assert_allclose(answer["conv2"], exact_blocks("c4").group_block)
    # the summary line gives the clean-query figure beside the augmented one
    code, out, err = _cli(*TRAIN, "--model", "maml", "--augment", "flip", "--steps", "1",
                          "--out", str(tmp_path / "line"))
    assert code == 0, err
    final_line = json.loads((tmp_path / "line" / "final.json").read_text())
    assert (f"clean queries {final_line['test_accuracy_clean_all']:.4f} +- "
            f"{final_line['test_accuracy_clean_all_ci95']:.4f}") in out
    # a run stopped at step 2 and resumed equals the uninterrupted one, bitwise
    part = tmp_path / "part"
    assert _cli(*TRAIN, "--model", "msr", "--augment", "rot90", "--steps", "2", "--out",
                str(part))[0] == 0
    assert _cli("train", "--resume", str(part), "--steps", "4", "--quiet")[0] == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rows2 = [json.loads(x) for x in (part / "metrics.jsonl").read_text().splitlines()]
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    strip2 = [{k: v for k, v in r.items() if k != "seconds"} for r in rows2]
    assert strip == strip2
    # compare: every layer against the exact c4 blocks, invariance figures, a PNG
    code, out, err = _cli("compare", str(run), "--json", "--tasks", "6", "--plot")
    assert code == 0, err
    cmp = json.loads(out)
    assert cmp["group"] == "c4" and set(cmp["layers"]) == {"conv1", "conv2", "head"}
    assert 0 <= cmp["test_accuracy"] <= 1 and 0 <= cmp["test_accuracy_clean"] <= 1
    lay = cmp["layers"]["conv2"]
    assert lay["learned_dimension"] == lay["exact_dimension"] == 36
    assert 0 <= lay["exact_in_learned"] <= 1 and len(lay["principal_cosines"]) == 36
    # the relabelled share is the best over channel orders: at least the stored order's
    assert lay["energy_in_exact"] >= lay["energy_in_exact_canonical"] - 1e-12
    assert sorted(lay["relabelling"]) == [0, 1, 2, 3]
    assert 0 < lay["random_energy_in_exact"] < 1
    assert all(cmp["layers"][n]["adaptation"] > 0 for n in ("conv1", "conv2", "head"))
    assert set(cmp["invariance"]) == {"rot90"}
    assert Path(cmp["plot"]).is_file()
    code, out, err = _cli("discover", str(run), "--layer", "conv2", "--json")
    assert code == 0, err
    assert "conv2" in out


def test_oracle_run_is_invariant_and_discovered(tmp_path):
    run = tmp_path / "oracle"
    code, _, err = _cli(*TRAIN, "--model", "oracle", "--augment", "flip,rot90", "--steps", "2",
                        "--out", str(run))
    assert code == 0, err
    code, out, err = _cli("compare", str(run), "--json", "--tasks", "6")
    cmp = json.loads(out)
    assert cmp["layers"]["conv2"]["subspace_distance"] < 1e-6
    assert cmp["layers"]["conv1"]["exact_in_learned"] == pytest.approx(1.0)
    assert cmp["layers"]["conv2"]["energy_in_exact"] == pytest.approx(1.0)
    # invariant: the augmented queries score as the clean ones
    assert cmp["test_accuracy"] == pytest.approx(cmp["test_accuracy_clean"])
    assert all(e["relative_error"] < 1e-4 for e in cmp["invariance"].values())
    code, out, err = _cli("discover", str(run), "--layer", "conv1", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["order"] == 8  # D4 acting on (channel, kernel position) pairs
    maml = tmp_path / "maml"
    assert _cli(*TRAIN, "--model", "maml", "--augment", "none", "--steps", "2", "--out",
                str(maml))[0] == 0
    code, out, err = _cli("compare", str(maml), "--json", "--tasks", "6")
    cmp_m = json.loads(out)
    assert set(cmp_m["invariance"]) == {"flip", "vflip", "rot90"}
    assert all(e["relative_error"] > 1e-3 for e in cmp_m["invariance"].values())
    code, _, err = _cli("discover", str(maml))
    assert code == 2 and "no learned sharing" in err


@pytest.mark.parametrize("flags,message", [
    (["--model", "oracle", "--augment", "none"], "needs an exact group"),
    (["--model", "oracle", "--augment", "rotate:30,crop"], "needs an exact group"),
    (["--tasks", "50"], "--tasks does not apply to few-shot"),
    (["--support", "2"], "--support does not apply"),
    (["--k", "3"], "--k does not apply"),
    (["--data", "x"], "--data does not apply to --problem glyphs"),
    (["--channels", "12", "--augment", "flip,rot90"], "multiple of the field size 8"),
    (["--augment", "spin"], "spin"),
    (["--ways", "1"], "--ways must be at least 2"),
    (["--queries", "20"], "images per class"),
    (["--fields", "3"], "--fields does not apply"),
    (["--model", "msr-fc"], "--model msr-fc does not apply"),
])
def test_train_errors_are_one_line(tmp_path, flags, message):
    code, out, err = _cli(*TRAIN, "--steps", "1", "--out", str(tmp_path / "r"), *flags)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_real_data_problems_need_data(tmp_path):
    code, _, err = _cli("train", "--problem", "omniglot", "--out", str(tmp_path / "r"))
    assert code == 2 and "needs --data DIR" in err


def test_omniglot_folder_trains(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("images_background", "images_evaluation"):
        for a in range(2):
            for c in range(2):
                folder = tmp_path / "omni" / split / f"Alpha{a}" / f"character{c + 1:02d}"
                folder.mkdir(parents=True)
                for i in range(4):
                    img = (rng.random((16, 16)) > 0.5).astype(np.uint8) * 255
                    Image.fromarray(img).save(folder / f"{i}.png")
    run = tmp_path / "run"
    code, out, err = _cli("train", "--problem", "omniglot", "--data", str(tmp_path / "omni"),
                          "--model", "maml", "--channels", "4", "--blocks", "2", "--ways", "3",
                          "--queries", "2", "--steps", "2", "--test-episodes", "3",
                          "--image-size", "16", "--tasks-per-step", "2", "--quiet", "--json",
                          "--out", str(run))
    assert code == 0, err
    final = json.loads(out)
    assert final["problem"] == "omniglot 3-way 1-shot"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["in_shape"] == [1, 16, 16] and cfg["background_classes"] == 4


def test_glyph_episodes_use_held_out_alphabets(glyphs):
    bg, ev = glyphs
    assert not set(bg.alphabet_names) & set(ev.alphabet_names)
    src = EpisodeSource(bg, ev, ways=5, shots=1, queries=3, augment=None, test_episodes=4)
    xs, ys, xq, yq = src.test_batch().tensors()
    assert xs.shape == (4, 5, 1, 28, 28) and float(xs.max()) <= 1.0


def test_unknown_group_for_problem_errors():
    with pytest.raises((SpecError, MetasymError)):
        exact_blocks("rot8")


def test_msr_rank_option():
    sq = build_convnet("msr", in_channels=1, classes=5, channels=8, group="c4", rank=144)
    assert sq.conv1.U_block.shape == (36, 36) and sq.conv2.U_block.shape == (144, 144)
    assert sq.head.U.shape == (4, 4)  # a full head with square blocks
    # square blocks start near the identity: W is (almost) v, a plain conv initialisation
    eye = torch.eye(144)
    assert float((sq.conv2.U_block.detach() - eye).abs().max()) < 0.1
    low = build_convnet("msr", in_channels=1, classes=5, channels=8, group="c4", rank=20)
    assert low.conv1.U_block.shape == (36, 5) and low.head.U.shape == (4, 1)
    with pytest.raises(SpecError, match="exceeds the 144 entries"):
        build_convnet("msr", in_channels=1, classes=5, channels=8, group="c4", rank=145)
    with pytest.raises(SpecError, match="--rank applies to --model msr"):
        build_convnet("oracle", in_channels=1, classes=5, channels=8, group="c4", rank=36)
    # msr-square is msr with square blocks
    named = build_convnet("msr-square", in_channels=1, classes=5, channels=8, group="c4")
    assert named.conv2.U_block.shape == (144, 144) and named.head.U.shape == (4, 4)


def test_kron_model_is_the_papers_msr_conv():
    """msr-kron: W = v x_1 A_out x_2 A_in x_3 A_k with identity factors at the start, so
    it starts as a plain conv4 with the same widths as every other model."""
    torch.manual_seed(0)
    kron = build_convnet("msr-kron", in_channels=1, classes=5, channels=8, group="c4")
    maml = build_convnet("maml", in_channels=1, classes=5, channels=8, group="c4")
    widths = [c.out_channels for _, c in kron.conv_layers()]
    assert widths == [c.out_channels for _, c in maml.conv_layers()] == [8, 8, 8, 32]
    conv = kron.conv2
    assert torch.equal(conv.A_out, torch.eye(8)) and torch.equal(conv.A_k, torch.eye(9))
    torch.testing.assert_close(conv.weight.reshape(8, 8, 9), conv.v.detach())
    with torch.no_grad():  # the factors act on their own modes
        conv.A_out.copy_(torch.randn(8, 8))
        conv.A_in.copy_(torch.randn(8, 8))
        conv.A_k.copy_(torch.randn(9, 9))
    want = torch.einsum("oa,ib,pc,abc->oip", conv.A_out, conv.A_in, conv.A_k, conv.v)
    torch.testing.assert_close(conv.weight.reshape(8, 8, 9), want, rtol=1e-4, atol=1e-4)
    x = torch.randn(3, 1, 28, 28)
    assert kron(x).shape == (3, 5)
    with pytest.raises(SpecError, match="--field-size applies"):
        build_convnet("msr-kron", in_channels=1, classes=5, channels=8, group="c4", field=2)


def test_square_identity_block_reproduces_conv_weights():
    torch.manual_seed(3)
    layer_net = build_convnet("msr", in_channels=1, classes=3, channels=8, blocks=3,
                              group="c4", rank=144)
    conv = layer_net.conv2
    with torch.no_grad():
        conv.U_block.copy_(torch.eye(144))
    W = conv.weight  # (8, 8, 3, 3)
    # v[f_o, f_i, (i, j, p)] = W[(f_o, i), (f_i, j), p]
    v = conv.v.detach().view(2, 2, 4, 4, 9)
    torch.testing.assert_close(W.reshape(2, 4, 2, 4, 9).permute(0, 2, 1, 3, 4), v)


def test_energy_share():
    from metasym.learning.comparison.subspaces import energy_share, leading_subspace

    ex = exact_blocks("c4")
    B = ex.group_block
    assert energy_share(B, B) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    R = rng.standard_normal((B.shape[0], 300))
    assert energy_share(R, B) == pytest.approx(B.shape[1] / B.shape[0], rel=0.15)
    # a square U stretched along the exact space: its leading directions are that space
    P = B @ B.T
    U = np.eye(B.shape[0]) + 9 * P
    assert subspace_distance(leading_subspace(U, B.shape[1]), B) < 1e-8
    assert energy_share(U, B) > 0.9


def test_reproduce_table3_tiny(tmp_path):
    out = tmp_path / "t3"
    args = ["reproduce", "table3", "--steps", "2", "--channels", "4", "--settings", "3x1",
            "--test-episodes", "4", "--quiet", "--json", "--glyph-alphabets", "1",
            "--glyph-characters", "6", "--out", str(out)]
    code, stdout, err = _cli(*args)
    assert code == 0, err
    result = json.loads(stdout)
    labels = [r["model"] for r in result["rows"]]
    assert labels == ["msr", "msr-square", "msr-kron", "maml+aug", "maml", "oracle"]
    by = {r["model"]: r for r in result["rows"]}
    paper = "flip,vflip,rotate:30,crop:0.8"
    assert by["maml"]["augment"] == "none" and by["msr"]["augment"] == paper
    assert all(r["test_augment"] == paper for r in result["rows"])
    assert result["group"] == "klein"
    assert by["oracle"]["u_energy_exact"] == pytest.approx(1.0)
    assert by["maml"]["u_energy_exact"] is None and by["maml+aug"]["u_energy_exact"] is None
    for label in ("msr", "msr-square", "msr-kron"):
        assert 0 < by[label]["u_energy_random"] < 1
    for r in result["rows"]:
        assert r["test_episodes"] == 4 and set(r["step_sizes"]) >= {"conv1.v", "conv4.v"} or \
            set(r["step_sizes"]) >= {"conv1.weight_", "conv4.weight_"}
        for key in ("accuracy", "accuracy_clean"):
            assert 0 <= r[key] <= 1 and r[key + "_ci95"] >= 0
    assert by["oracle"]["invariance_error"] < 1e-4
    (v,) = result["verdicts"]
    assert v["msr_beats_maml_aug"] == (v["msr_minus_maml_aug"] > v["combined_ci95"])
    assert v["best_msr"] in ("msr", "msr-square", "msr-kron")
    md = (out / "table3.md").read_text()
    assert "| 3-way 1-shot |" in md and "Targets (computed, not tuned)" in md
    assert json.loads((out / "table3.json").read_text())["rows"][0]["model"] == "msr"
    # a rerun continues: every run is finished, so nothing is trained again
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/final.json")}
    code, stdout2, err = _cli(*args)
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/final.json")} == stamps
    assert json.loads(stdout2)["rows"] == result["rows"]
    # an interrupted table: one run without its final.json is resumed from its checkpoint
    run = out / "3w1s-maml"
    (run / "final.json").unlink()
    (out / "3w1s-maml.row.json").unlink()
    code, stdout3, err = _cli(*args)
    assert code == 0, err
    assert (run / "final.json").is_file()
    assert json.loads(stdout3)["rows"][4]["accuracy"] == by["maml"]["accuracy"]
    # other settings in the same folder are refused, not mixed in
    code, _, err = _cli(*[a if a != "4" else "8" for a in args[:6]], *args[6:])
    assert code == 2 and "other settings" in err, err
    code, _, err = _cli(*[a if a != "2" else "1" for a in args])
    assert code == 2 and "trained for 2 steps" in err, err


@pytest.mark.parametrize("flags,message", [
    (["table3", "--fields", "3"], "--fields does not apply to table3"),
    (["table3", "--augment", "none"], "give an augmentation"),
    (["table3", "--augment", "rotate:30"], "the oracle and msr rows need one"),
    (["table3", "--settings", "1x1"], "need at least 2 ways"),
    (["table3", "--models", "msr-fc"], "table3 models are"),
    (["table1", "--settings", "5x1"], "--settings applies only to table3"),
    (["table2", "--channels", "8"], "--channels applies only to table3"),
])
def test_reproduce_table3_errors(tmp_path, flags, message):
    # tiny sizes: a check that let a table through must not train a real one
    tiny = ["--steps", "1", "--quiet"]
    if flags[0] == "table3":
        tiny += ["--test-episodes", "2", "--glyph-alphabets", "1", "--glyph-characters", "6"]
    code, _, err = _cli("reproduce", *flags, *tiny, "--out", str(tmp_path / "t"))
    assert code == 2 and message in err, err
    assert not (tmp_path / "t").exists()


def test_two_processes_match_one(tmp_path):
    """`torchrun --nproc_per_node 2 -m metasym train --problem glyphs`: the episodes of a
    step are split over the processes; metrics equal one process's."""
    import subprocess
    import sys

    args = [*TRAIN, "--model", "msr", "--steps", "4", "--tasks-per-step", "3",
            "--threads", "1", "--augment", "flip,rotate:30"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert _cli(*args, "--out", str(one))[0] == 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env |= {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo")}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--standalone", "--monitor_interval", "0.2", "-m", "metasym",
                          *args, "--out", str(two), "--json"],
                         capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout)["world_size"] == 2
    r1 = [json.loads(x) for x in (one / "metrics.jsonl").read_text().splitlines()]
    r2 = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in r1] == [r["step"] for r in r2] == [0, 2, 4]
    for a, b in zip(r1, r2):
        assert b["test_accuracy"] == pytest.approx(a["test_accuracy"], abs=1e-9)
        assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-4)
        if a["train_loss"] is not None:
            assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)


@pytest.mark.parametrize("model", ["msr", "maml"])
def test_loop_and_vmap_batching_agree(model):
    """The per-episode loop (the CPU default) and vmap compute the same meta-gradient,
    logits and accuracies."""
    bg, ev = _toy_classes(5, 6, seed=1), _toy_classes(5, 6, seed=2)
    src = EpisodeSource(bg, ev, ways=3, shots=1, queries=2, augment=None, test_episodes=5)
    b = src.train_batch(torch.arange(4))
    out = {}
    for batching in ("loop", "vmap"):
        learner = _tiny_learner(model, inner_steps=2, batching=batching)
        assert learner.uses_loop(torch.device("cpu")) == (batching == "loop")
        loss = learner.backward_meta_loss(b)
        grads = [p.grad.clone() for p in learner.meta_parameters()]
        ev_ = learner.evaluate(src.test_batch())
        out[batching] = (float(loss), grads, ev_)
    assert out["loop"][0] == pytest.approx(out["vmap"][0], rel=1e-5)
    for a, c in zip(out["loop"][1], out["vmap"][1]):
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(out["loop"][2]["loss"], out["vmap"][2]["loss"], atol=1e-5,
                               rtol=1e-5)
    assert torch.equal(out["loop"][2]["accuracy"], out["vmap"][2]["accuracy"])
    assert _tiny_learner(model).uses_loop(torch.device("cpu"))  # auto: loop on CPU
    assert not _tiny_learner(model).uses_loop(torch.device("cuda"))
    with pytest.raises(SpecError, match="batching"):
        _tiny_learner(model, batching="fast")
