r"""The outer optimiser: Adam on torch's fused kernel, without ``torch.optim``'s start-up.

``torch.optim.Adam`` wraps its methods in ``torch._dynamo`` guards whose first call
imports the whole compiler stack (about a second, more than a short training run's own
work). :class:`OuterAdam` calls the same fused kernel (``torch._fused_adam_``, what
``torch.optim.Adam(fused=True)`` runs) directly, so its updates are bitwise those of
fused ``torch.optim.Adam``:

.. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
          v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
          \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,
          \frac{m}{\sqrt{v/(1-\beta_2^t)} + \epsilon}.

Its ``state_dict`` has ``torch.optim``'s layout (``state``: per parameter index ``step``,
``exp_avg``, ``exp_avg_sq``; ``param_groups``), so checkpoints read either way. State
tensors always take their parameter's memory layout (the fused kernel walks parameter,
gradient and state as flat buffers). :func:`make_outer_optimizer` falls back to
``torch.optim.Adam`` on devices without the fused kernel.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import Tensor

__all__ = ["OuterAdam", "make_outer_optimizer"]


class OuterAdam:
    """Adam (no weight decay, no AMSGrad) on ``torch._fused_adam_``; the subset of the
    ``torch.optim.Optimizer`` interface the engine and its checkpoints use."""

    def __init__(self, params: list[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        params = list(params)
        if not params:
            raise ValueError("the optimiser got no parameters")
        self.param_groups: list[dict[str, Any]] = [
            {"params": params, "lr": float(lr), "betas": tuple(betas), "eps": float(eps),
             "weight_decay": 0.0, "amsgrad": False, "maximize": False, "fused": True}]
        self.state: defaultdict[Tensor, dict[str, Tensor]] = defaultdict(dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        st = self.state[p]
        if not st:
            st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return st

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        groups: dict[tuple, list[list[Tensor]]] = {}
        for p in g["params"]:
            if p.grad is None:
                continue
            st = self._state(p)
            lists = groups.setdefault((p.device, p.dtype), [[], [], [], [], []])
            for lst, t in zip(lists, (p, p.grad, st["exp_avg"], st["exp_avg_sq"], st["step"])):
                lst.append(t)
        beta1, beta2 = g["betas"]
        for ps, grads, m, v, steps in groups.values():
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(ps, grads, m, v, [], steps, amsgrad=False, lr=g["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=0.0, eps=g["eps"],
                               maximize=False, grad_scale=None, found_inf=None)

    def state_dict(self) -> dict[str, Any]:
        params = self.param_groups[0]["params"]
        state = {i: dict(self.state[p]) for i, p in enumerate(params) if self.state.get(p)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["betas"] = list(group["betas"])
        return {"state": state, "param_groups": [group | {"params": list(range(len(params)))}]}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        groups = sd["param_groups"]
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(params):
            raise ValueError(f"the saved optimiser has {sum(len(g['params']) for g in groups)} "
                             f"parameters in {len(groups)} group(s), this one "
                             f"{len(params)} in 1")
        saved = groups[0]
        self.param_groups[0].update(lr=float(saved["lr"]), betas=tuple(saved["betas"]),
                                    eps=float(saved["eps"]))
        self.state = defaultdict(dict)
        for idx, st in sd["state"].items():
            p = params[int(idx)]
            new: dict[str, Tensor] = {}
            for name, val in st.items():
                val = torch.as_tensor(val)
                if name == "step":
                    new[name] = val.to(device=p.device, dtype=torch.float32).reshape(())
                elif val.shape != p.shape:
                    raise ValueError(f"optimiser state {name} has shape {tuple(val.shape)}, "
                                     f"parameter has {tuple(p.shape)}")
                else:
                    new[name] = torch.empty_like(p).copy_(val)
            self.state[p] = new


def make_outer_optimizer(params: list[Tensor], lr: float, device: torch.device) -> Any:
    """:class:`OuterAdam` on CPU and CUDA; ``torch.optim.Adam`` elsewhere."""
    if device.type in ("cpu", "cuda"):
        return OuterAdam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr)
