"""Data-parallel meta-training: 2 CPU processes (gloo, launched by torchrun) give the
metrics of 1 process; the global task batch does not depend on the world size."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from metasym.cli import main
from metasym.learning.engine.distributed import World

ARGS = ["--tasks", "200", "--eval-every", "5", "--eval-tasks", "20", "--quiet",
        "--threads", "1", "--steps", "20", "--tasks-per-step", "7", "--inner-steps", "2",
        "--checkpoint-every", "10"]


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("n, size", [(7, 2), (8, 2), (5, 3), (32, 4), (3, 3)])
def test_shards_cover_the_batch_once(n, size):
    slices = [World(rank=r, size=size).shard(n) for r in range(size)]
    assert [i for s in slices for i in range(n)[s]] == list(range(n))
    sizes = [len(t) for t in torch.tensor_split(torch.arange(n), size)]
    assert [s.stop - s.start for s in slices] == sizes


def _torchrun(tmp_path, out, *extra, nproc=2):
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env |= {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo")}
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
            "--standalone", "--monitor_interval", "0.2", "-m", "metasym", "train", *ARGS,
            "--out", str(out), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


IMAGE = ["--problem", "c4", "--image-size", "6", "--fields", "1"]


@pytest.mark.parametrize("model", ["msr-fc", pytest.param("maml-conv", marks=pytest.mark.slow),
                                   "msr-conv"])
def test_two_processes_match_one(tmp_path, model):
    """`torchrun --nproc_per_node 2 -m metasym train` for a 1-D and an image problem."""
    one, two = tmp_path / "one", tmp_path / "two"
    extra = ["--model", model] + (IMAGE if model == "msr-conv" else [])
    assert main(["train", *ARGS, *extra, "--out", str(one)]) == 0
    res = _torchrun(tmp_path, two, *extra, "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    final = json.loads(res.stdout)  # only rank 0 prints
    assert final["world_size"] == 2
    r1, r2 = _rows(one), _rows(two)
    assert [r["step"] for r in r1] == [r["step"] for r in r2] == [0, 5, 10, 15, 20]
    for a, b in zip(r1, r2):
        assert b["test_mse"] == pytest.approx(a["test_mse"], rel=1e-5, abs=1e-7)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5, abs=1e-7) \
            if a["train_loss"] is not None else b["train_loss"] is None
    cfg = json.loads((two / "config.json").read_text())
    assert cfg["world_size"] == 2
    # only rank 0 wrote: one run folder, no stray files from rank 1
    assert sorted(p.name for p in two.iterdir() if not p.name.startswith(".")) == [
        "answer.npz", "checkpoint.safetensors", "config.json", "final.json", "metrics.jsonl"]
    assert main(["train", "--resume", str(two), "--steps", "25", "--quiet"]) == 0  # 1 proc


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_train_on_cuda_end_to_end(tmp_path):
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    assert main(["train", *ARGS, "--out", str(cpu)]) == 0
    assert main(["train", *ARGS, "--device", "cuda", "--out", str(gpu)]) == 0
    for a, b in zip(_rows(cpu), _rows(gpu)):
        assert b["test_mse"] == pytest.approx(a["test_mse"], rel=1e-3)
    assert main(["train", "--resume", str(gpu), "--steps", "25", "--quiet"]) == 0
    assert main(["compare", str(gpu), "--tasks", "10"]) == 0


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_two_gpu_processes_nccl(tmp_path):
    res = _torchrun(tmp_path, tmp_path / "nccl", "--device", "cuda", "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout)["world_size"] == 2
