"""The benchmark script's arithmetic and its handling of a llama.cpp crash (no timing is asserted)."""

import subprocess

import pytest


@pytest.fixture(scope="module")
def benchmark():
    from coursetools import benchmark

    return benchmark


def test_bound_is_bandwidth_over_weight_bytes_per_step(benchmark):
    row = {"tokens_per_second": 80.0, "batch_size": 8}
    out = benchmark.add_bound(row, bandwidth=16.0, weight_bytes=400e6)  # 16 GB/s / 400 MB = 40 steps/s
    assert out["bound_steps_per_second"] == 40.0 and out["share_of_bound"] == 0.25  # 10 steps/s of 40


def test_a_crashing_llamacpp_is_a_row_not_the_end_of_the_benchmark(benchmark, monkeypatch):
    import importlib.util as util

    monkeypatch.setattr(util, "find_spec", lambda name: object())  # "installed"
    crashed = subprocess.CompletedProcess([], 139, stdout="", stderr="Fatal Python error: Segmentation fault")
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda command, **k: commands.append(command) or crashed)
    row = benchmark.measure_llamacpp(1)
    assert row["engine"] == "llama.cpp" and "exit code 139" in row["error"] and "Segmentation fault" in row["error"]
    assert commands[0][1:] == ["-m", "coursetools", "benchmark", "--llamacpp-child", "1"]  # the tooling's own entry


def test_the_llamacpp_child_command_reaches_the_child(benchmark, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(benchmark, "llamacpp_child", lambda threads: seen.append(threads))
    from coursetools.__main__ import main

    assert main(["benchmark", "--llamacpp-child", "2"]) == 0 and seen == [2]


def test_llamacpp_not_installed_gives_no_row(benchmark, monkeypatch):
    import importlib.util as util

    monkeypatch.setattr(util, "find_spec", lambda name: None)
    assert benchmark.measure_llamacpp(1) is None
