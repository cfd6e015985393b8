"""distilabel's Ray integration: the pooling pipeline of notebook 1 run with `.ray()` on a local Ray, offline."""

import os
import time

import pytest

try:
    import ray
except ImportError:
    if os.environ.get("KIT_REQUIRE_RAY"):
        raise
    pytest.skip("ray chưa được cài (chạy `make ray`)", allow_module_level=True)

from helpers.pipelines import run_pipeline
from helpers.pooling import build_pooling_pipeline


@pytest.fixture
def local_ray(monkeypatch):
    """A local two-CPU Ray cluster without dashboard, auth token file or usage reporting, shut down afterwards."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # else Ray 2.60 writes a token to ~/.ray/auth_token
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no network call at start
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_pooling_pipeline_runs_on_ray(fresh_cache, monkeypatch, local_ray):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    pipeline = build_pooling_pipeline(["What is DPO?"], "offline").ray()
    assert type(pipeline).__name__ == "RayPipeline"
    start = time.perf_counter()
    rows = run_pipeline(pipeline)["default"]["train"]
    print(f"Ray run: {time.perf_counter() - start:.1f} s")
    assert len(rows) == 1 and rows[0]["instruction"] == "What is DPO?"
    completions = list(rows[0]["grouped_generation"])
    assert len(completions) == 2 and all(text and text.strip() for text in completions)
    assert len(set(rows[0]["grouped_model_name"])) == 2  # one completion from each generator
