"""The benchmark's own pieces (bench/run.py): what they measure, not how fast it is (no test here is timed)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import import_torch_or_skip

from bench import run as bench


def test_epoch_parts_do_exactly_the_products_of_an_epoch(monkeypatch):
    """The matmul part runs the 8 products per batch that nnref and PyTorch do (no first-layer dX), nothing more."""
    X, _ = bench.make_data(300)
    parts = bench.EpochParts(X)
    shapes = []
    real_dot = np.dot

    def counting_dot(a, b, *args, **kwargs):
        shapes.append((a.shape, b.shape))
        return real_dot(a, b, *args, **kwargs)

    monkeypatch.setattr(bench.np, "dot", counting_dot)
    parts.matmuls()
    batches = -(-300 // bench.BATCH)
    assert len(shapes) == 8 * batches
    flops = sum(2 * a[0] * a[1] * b[1] for a, b in shapes)
    assert flops == bench.epoch_flops(300, first_dinputs=False)


def test_epoch_parts_adam_steps_a_block_of_the_models_parameters():
    """The Adam part steps a block holding every parameter of the chapter 19 model, once per call."""
    X, _ = bench.make_data(10)
    parts = bench.EpochParts(X)
    n_params = sum(a * b + b for a, b in zip(bench.SIZES[:-1], bench.SIZES[1:]))
    assert parts.block.values.size == n_params == 118_282
    before = parts.block.values.copy()
    parts.adam(3)
    assert parts.optimizer.iterations == 3
    assert np.all(parts.block.values != before)


def test_epoch_report_has_the_parts_and_the_targets():
    """A small epoch run reports both parts and renders them; without PyTorch the PyTorch targets are skipped."""
    result = bench.bench_epoch(rounds=1, n_samples=600, use_torch=False, log=lambda *_: None)
    assert result["parts"]["matmuls"] > 0 and result["parts"]["adam"] > 0
    assert "floor_vs_torch" not in result and "vs_torch" not in result
    text = bench.render_markdown({"machine": {}, "epoch": result})
    assert "its matrix products" in text and "nnref's Adam" in text
    verdicts = {row["key"]: row["verdict"] for row in bench.check_targets({"epoch": result})}
    assert verdicts["vs_torch"] == "SKIP" and verdicts["vs_book"] in {"PASS", "FAIL"}


@pytest.mark.slow
@pytest.mark.torch
def test_floor_ratio_is_the_median_of_the_per_round_ratios():
    """With PyTorch, (matmuls + Adam) / PyTorch is reported as the median of the rounds' own ratios."""
    import_torch_or_skip()
    result = bench.bench_epoch(rounds=3, n_samples=600, use_torch=True, log=lambda *_: None)
    parts, torch_times = result["parts_all"], result["all_seconds"]["PyTorch"]
    per_round = [(m + a) / t for m, a, t in zip(parts["matmuls"], parts["adam"], torch_times)]
    assert result["floor_vs_torch"] == pytest.approx(float(np.median(per_round)))
    assert "PyTorch's time" in bench.render_markdown({"machine": {}, "epoch": result})
