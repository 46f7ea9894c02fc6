"""
4. Discover the group a learned pattern has
===========================================

From a learned :math:`U` back to a named group: cluster the rows of :math:`U` into a
sharing partition, compute the automorphism group of that partition (pairs of output and
input permutations that preserve every entry), and identify it with an explicitly
constructed, verified isomorphism.
"""

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from metasym.discovery import automorphism_group, compare_groups
from metasym.discovery.clustering import pattern_from_U
from metasym.discovery.identify import identify
from metasym.groups import parse_action, parse_group
from metasym.learning import RunConfig, fit
from metasym.learning.problems.regression import RegressionOptions

FAST = os.environ.get("METASYM_DOCS_FAST") == "1"

# %%
# Meta-learn ``U`` on tasks that are equivariant to the dihedral group :math:`D_4` acting
# on 4 points (``y = W x`` with ``W`` drawn from the exact sharing pattern).
cfg = RunConfig(problem="equivariant", model="msr-fc", steps=300 if FAST else 1000,
                n_tasks=1000 if FAST else 10_000, eval_tasks=100 if FAST else 300, seed=0,
                options=RegressionOptions(group="dihedral:4", in_action="natural",
                                          out_action="natural"))
run = Path(tempfile.mkdtemp()) / "d4"
final = fit(cfg, run, progress=False)
print(f"test MSE {final.test:.3f} (predicting zero: {final.baseline:.3f})")

# %%
# Only the learned ``U`` is used from here on.
from metasym.discovery.io import load_run as load_learned_U

source = load_learned_U(run)
U = source.matrix
print("learned U:", U.shape)
pattern, info = pattern_from_U(U, source.shape)
print(f"recovered sharing partition (confidence {info['separation']:.3g}):")
print(pattern.labels)

# %%
# Its automorphism group, identified by a verified isomorphism:
found = automorphism_group(pattern)
ident = identify(found.group)
print("order", found.group.order, "identified as", ident.name)

# %%
# Compare with the group that generated the tasks (as permutation groups of the same
# outputs and inputs):
G = parse_group("dihedral:4")
print("relation to dihedral:4:", compare_groups(found, parse_action("natural", G),
                                               parse_action("natural", G)))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
axes[0].imshow(np.abs(U), aspect="auto", cmap="viridis")
axes[0].set_title("|learned U| (16 x 3)")
axes[1].imshow(pattern.labels, cmap="tab10")
axes[1].set_title(f"recovered pattern: {ident.name}")
fig.tight_layout()
