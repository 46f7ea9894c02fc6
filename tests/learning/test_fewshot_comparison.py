"""Learned versus exact for few-shot runs, against brute-force oracles: the relabelling-
invariant energy share, the Kronecker energy share, relabelled rows, and table 3's
verdicts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from metasym.errors import MismatchError
from metasym.learning.comparison.fewshot import kron_energy_share, relabel_rows
from metasym.learning.comparison.subspaces import (
    orthonormal_basis,
    relabelled_energy_share,
    subspace_distance,
)
from metasym.learning.experiments.table3 import _verdicts
from metasym.learning.models.convnet import exact_blocks


def _brute_share(U, B, d_out, d_in, tau):
    """max over every output relabelling of ||P_B Pi U||^2 / ||U||^2, permuting rows."""
    Q = orthonormal_basis(B)
    best = (-1.0, None)
    for sigma in itertools.permutations(range(d_out)):
        PU = relabel_rows(U, np.array(sigma), tau, d_out, d_in)
        e = float(np.square(Q.T @ PU).sum() / np.square(U).sum())
        best = max(best, (e, sigma), key=lambda t: t[0])
    return best


@pytest.mark.parametrize("group,layer", [("c4", 1), ("c4", 2), ("klein", 2), ("vflip", 1)])
def test_relabelled_share_is_the_brute_force_maximum(group, layer):
    ex = exact_blocks(group)
    B = ex.block(layer)
    d, d_in = ex.order, (1 if layer == 1 else ex.order)
    rng = np.random.default_rng(layer)
    tau = rng.permutation(d_in)
    for rank in (3, B.shape[1], B.shape[0]):
        U = rng.standard_normal((B.shape[0], rank))
        share, sigma = relabelled_energy_share(U, B, d, d_in, tau)
        want, _ = _brute_share(U, B, d, d_in, tau)
        assert share == pytest.approx(want, rel=1e-10)
        # the returned relabelling attains it
        Q = orthonormal_basis(B)
        PU = relabel_rows(U, sigma, tau, d, d_in)
        assert float(np.square(Q.T @ PU).sum() / np.square(U).sum()) == pytest.approx(share)


def test_a_relabelled_exact_block_scores_one_and_its_order_is_found():
    ex = exact_blocks("d4")
    B = ex.block(2)
    rng = np.random.default_rng(0)
    sigma, tau = rng.permutation(8), rng.permutation(8)
    # the exact space with channels stored in another order
    U = relabel_rows(B, np.argsort(sigma), np.argsort(tau), 8, 8)
    assert float(np.square(orthonormal_basis(B).T @ U).sum() / np.square(U).sum()) < 0.9
    share, found = relabelled_energy_share(U, B, 8, 8, tau)
    assert share == pytest.approx(1.0)
    # the order found maps U onto the exact space (unique only up to the group's own
    # relabellings, which fix the space)
    assert subspace_distance(relabel_rows(U, found, tau, 8, 8), B) < 1e-8
    # negative control: a random U scores about the chance level, far below 1
    R = rng.standard_normal(B.shape)
    assert relabelled_energy_share(R, B, 8, 8)[0] < 0.2
    with pytest.raises(MismatchError, match="at most 8"):
        relabelled_energy_share(np.zeros((81 * 9, 1)), np.zeros((81 * 9, 1)), 9, 9)


def test_kron_energy_share_matches_the_dense_projection():
    ex = exact_blocks("c4")
    B = ex.block(2)
    rng = np.random.default_rng(2)
    c_out, c_in, k2, d = 8, 8, 9, 4
    A = [rng.standard_normal((n, n)) for n in (c_out, c_in, k2)]
    U = np.kron(np.kron(A[0], A[1]), A[2])  # rows (o, i, p) of the whole layer
    # the exact space of the whole layer: I (x) B over field pairs, rows permuted to (o, i, p)
    Q = orthonormal_basis(B).reshape(d, d, k2, -1)
    cols = []
    for fo in range(c_out // d):
        for fi in range(c_in // d):
            for c in range(Q.shape[-1]):
                W = np.zeros((c_out, c_in, k2))
                W[fo * d:(fo + 1) * d, fi * d:(fi + 1) * d] = Q[..., c]
                cols.append(W.ravel())
    P = np.array(cols).T
    want = float(np.square(P.T @ U).sum() / np.square(U).sum())
    assert kron_energy_share(*A, B, d, d) == pytest.approx(want, rel=1e-9)
    # identity factors: the chance level dim / rows
    eye = [np.eye(n) for n in (c_out, c_in, k2)]
    assert kron_energy_share(*eye, B, d, d) == pytest.approx(B.shape[1] / B.shape[0])


def _row(model, acc, ci, energy=None, rand=None, inv=0.1):
    return {"setting": "5-way 1-shot", "model": model, "accuracy": acc, "accuracy_ci95": ci,
            "u_energy_exact": energy, "u_energy_random": rand, "invariance_error": inv}


def test_verdicts():
    rows = [_row("msr", 0.80, 0.01, 0.3, 0.1, 0.01), _row("msr-kron", 0.90, 0.01, 0.15, 0.1),
            _row("maml+aug", 0.85, 0.01, inv=0.1), _row("oracle", 0.86, 0.01, 1.0, 0.1, 0)]
    (v,) = _verdicts(rows)
    assert v["best_msr"] == "msr-kron"  # by accuracy
    assert v["msr_minus_maml_aug"] == pytest.approx(0.05) and v["msr_beats_maml_aug"]
    assert v["energy_over_random"] == pytest.approx(1.5) and not v["energy_target_met"]
    assert v["invariance_ratio_maml_aug_over_msr"] == pytest.approx(1.0)
    assert not v["invariance_target_met"]
    assert not v["oracle_beats_maml_aug"]  # +1 point inside the combined 2-point interval
    rows[1]["accuracy"] = 0.86
    assert not _verdicts(rows)[0]["msr_beats_maml_aug"]


@pytest.mark.parametrize("rank", [5, 36, 144])
def test_subspace_figures_match_the_separate_measures(rank):
    from metasym.learning.comparison.fewshot import _subspace_figures
    from metasym.learning.comparison.subspaces import (
        containment,
        leading_subspace,
        principal_cosines,
    )

    B = exact_blocks("c4").block(2)
    U = np.random.default_rng(rank).standard_normal((B.shape[0], rank))
    U[:, 0] = B[:, 0]  # one shared direction
    f = _subspace_figures(U, orthonormal_basis(B))
    np.testing.assert_allclose(f["principal_cosines"], principal_cosines(U, B), atol=1e-9)
    assert f["subspace_distance"] == pytest.approx(subspace_distance(U, B), abs=1e-9)
    assert f["exact_in_learned"] == pytest.approx(containment(B, U))
    assert f["learned_in_exact"] == pytest.approx(containment(U, B))
    lead = leading_subspace(U, B.shape[1])
    np.testing.assert_allclose(f["leading_principal_cosines"], principal_cosines(lead, B),
                               atol=1e-9)
