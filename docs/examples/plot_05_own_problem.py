"""
5. Meta-learn the symmetry of your own problem
==============================================

The built-in problems are plug-ins of one engine; yours can be too, without editing
metasym. This tutorial brings a problem metasym does not know: **linear filters on the
Petersen graph**. Each task is a graph filter
:math:`W = c_0 I + c_1 A/\\sqrt3 + c_2 D/\\sqrt6` (adjacency :math:`A`, distance-2
adjacency :math:`D`, random :math:`c`) applied to node signals, observed with noise. Every
such filter commutes with the graph's automorphisms, the symmetric group :math:`S_5`
acting on the 10 vertices (2-subsets of 5 points), which we give **only by generators**.

We hand the engine our own task source and any ``torch.nn.Module`` whose chosen
parameters adapt in the inner loop; we get the same run folder, checkpoints, exact
resume, ``torchrun`` data parallelism, ``metasym compare`` and ``metasym discover`` as the
built-in problems.
"""

# %%
import itertools
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from metasym.groups import parse_action, parse_group
from metasym.learning import ArrayTaskSource, MetaLearner, MSRLinear, RunConfig, compare_run, fit
from metasym.representations import sharing_pattern

FAST = os.environ.get("METASYM_DOCS_FAST") == "1"  # the tests run a tiny version

# %%
# The graph and its automorphism group from two generators: the permutations of the 10
# vertices induced by the 5-cycle and a transposition of the 5 points.
verts = list(itertools.combinations(range(5), 2))
index = {v: i for i, v in enumerate(verts)}
A = np.array([[float(not set(u) & set(v)) for v in verts] for u in verts])
D = ((A @ A) > 0) * (1 - A) * (1 - np.eye(10))


def induced(p: list[int]) -> str:
    """Cycle notation of the vertex permutation a point permutation ``p`` induces."""
    img = [index[tuple(sorted((p[a], p[b])))] for a, b in verts]
    seen, cycles = set(), []
    for i in range(10):
        c, j = [i], img[i]
        seen.add(i)
        while j != i:
            c.append(j)
            seen.add(j)
            j = img[j]
        if len(c) > 1 and min(c) == i:
            cycles.append("(" + " ".join(map(str, c)) + ")")
    return "".join(cycles)


spec = "perm:10:" + induced([1, 2, 3, 4, 0]) + ";" + induced([1, 0, 2, 3, 4])
G = parse_group(spec)
exact = sharing_pattern(parse_action("natural", G), parse_action("natural", G))
print(spec, "| order", G.order, "| exact equivariant maps:", exact.dimension)

# %%
# Our tasks, as arrays: ``x`` ``(tasks, examples, 10)``, ``y`` the same; one support
# example per task, 80% of the tasks for meta-training.
rng = np.random.default_rng(0)
T, N = (600 if FAST else 3000), 20
c = rng.standard_normal((T, 3))
W = (c[:, 0, None, None] * np.eye(10) + c[:, 1, None, None] * A / np.sqrt(3)
     + c[:, 2, None, None] * D / np.sqrt(6))
x = rng.standard_normal((T, N, 10)).astype(np.float32)
y = (np.einsum("tmn,ten->tem", W, x) + 0.1 * rng.standard_normal((T, N, 10))).astype(np.float32)
source = ArrayTaskSource(x, y, support=1, n_train=int(0.8 * T))

# %%
# Any ``torch.nn.Module`` works; here one MSR layer :math:`\\mathrm{vec}(W) = U v` with
# ``k = 3``. By default the ``v`` of every MSR layer adapts in the inner loop and ``U``
# is meta-learned (``MetaLearner(model, inner=[...])`` chooses other parameters, and
# ``loss=`` another loss). The answer we know goes in ``answers`` (layer name -> pattern;
# ``""`` is the model itself).
torch.manual_seed(0)
learner = MetaLearner(MSRLinear(10, 10, k=3), inner_steps=1)
cfg = RunConfig(problem="petersen-filters", model="msr-fc", steps=200 if FAST else 2000,
                n_tasks=T, eval_tasks=100 if FAST else 200, seed=0)
run = Path(tempfile.mkdtemp()) / "petersen"
result = fit(cfg, run, learner=learner, source=source, answers={"": exact}, progress=False)
print(result.summary_line())  # ends with the trivial predictor's figure (predicting zero)

# %%
# The run folder is like any other: ``metasym train --resume`` cannot rebuild our Python
# objects, but ``fit(..., resume=True)`` with the same learner and source continues it, and
# ``metasym compare`` / ``metasym discover`` read it from its files.
comparison = compare_run(run)
for label, value in comparison.rows:
    print(f"{label:45s} {value if not isinstance(value, float) else round(value, 4)}")

# %%
# Which group does the learned sharing have? ``discover`` clusters the learned ``U`` and
# names its automorphism group (the same as ``metasym discover RUN``).
from metasym.discovery import automorphism_group
from metasym.discovery.clustering import pattern_from_U
from metasym.discovery.identify import identify
from metasym.discovery.io import load_run as load_learned_U

learned = load_learned_U(run)
pattern, info = pattern_from_U(learned.matrix, learned.shape)
found = automorphism_group(pattern)
print(f"learned pattern: {pattern.dimension} parameters, group of order {found.order}:",
      identify(found.group).name)

from matplotlib.patches import Patch

from metasym.plotting import integer_ticks, label_colours, label_rgb

# one colour per shared parameter, the same in both panels (white: fixed zero), keyed below
fig, axes = plt.subplots(1, 2, figsize=(7.5, 4.2), layout="constrained")
axes[0].imshow(label_rgb(exact.labels), interpolation="nearest")
axes[0].set_title(f"exact pattern of the {G.order}-element S5")
axes[1].imshow(label_rgb(pattern.labels), interpolation="nearest")
axes[1].set_title("pattern clustered from learned U")
for ax in axes:
    ax.set_xlabel("input vertex")
    ax.set_ylabel("output vertex")
    integer_ticks(ax)
k = max(exact.dimension, pattern.dimension)
fig.legend(handles=[Patch(facecolor=c, edgecolor="k", label=f"parameter {j}")
                    for j, c in enumerate(label_colours(k))],
           loc="outside lower center", ncols=k, title="colour = shared parameter")
