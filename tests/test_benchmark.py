"""The benchmark script's arithmetic and its handling of a llama.cpp crash (no timing is asserted)."""

import subprocess
import sys

import nbformat
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


def test_laptop_environment_is_parsed_from_the_makefile_variable(benchmark):
    text = "KIT_DTYPE=float32 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2"
    assert benchmark.parse_environment(text) == {"KIT_DTYPE": "float32", "ATEN_CPU_CAPABILITY": "avx2",
                                                 "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    for bad in ("", "KIT_DTYPE", "=x"):
        with pytest.raises(ValueError):
            benchmark.parse_environment(bad)


def test_each_profile_runs_in_a_child_with_its_environment(benchmark, monkeypatch):
    seen = {}

    monkeypatch.setenv("KIT_CPU_THREADS", "3")  # from the maintainer's shell: must not reach the child

    def run(command, env, **kwargs):
        seen.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 0, stdout='log line\n{"preset_dtype": "float32"}\n')

    monkeypatch.setattr(subprocess, "run", run)
    report = benchmark.measure_profile("laptop", {"KIT_DTYPE": "float32"}, {"1": 20.0}, skip_notebooks=True)
    assert report == {"preset_dtype": "float32"}
    assert seen["env"]["KIT_DTYPE"] == "float32" and "--skip-notebooks" in seen["command"]
    assert "KIT_CPU_THREADS" not in seen["env"]
    assert seen["command"][seen["command"].index("--profile-child") + 1] == "laptop"
    for code in (1, 0):  # a crash, or a child that printed nothing: a row saying so, the other profile still written
        monkeypatch.setattr(subprocess, "run", lambda command, **k: subprocess.CompletedProcess(command, code, stdout=""))
        failed = benchmark.measure_profile("laptop", {}, {"1": 20.0}, skip_notebooks=True)
        assert "laptop profile failed" in failed["error"]


def test_laptop_profile_without_its_environment_is_refused(benchmark, capsys):
    with pytest.raises(SystemExit):
        benchmark.main(["--profiles", "laptop", "--skip-notebooks"])
    assert "--laptop-env" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark.main(["--profiles", "desktop"])


def test_table_puts_the_profiles_side_by_side(benchmark):
    def profile(dtype, tok_s, course):
        rows = [benchmark.add_bound({"dtype": dtype, "threads": 1, "batch_size": b, "tokens_per_second": t}, 20.0, 500e6)
                for b, t in ((1, tok_s), (8, 160.0))]
        notebooks = {"notebooks/01_model_pooling.ipynb": course - 50, "notebooks/05_train_dpo.ipynb": 50}
        return {"preset_dtype": dtype, "generation": rows, "notebooks": notebooks, "course_seconds": course,
                "kernel_peak_mb": {"notebooks/01_model_pooling.ipynb": 1500},
                "all_notebooks_seconds": course + 50, "dataset_seconds_per_prompt": 10.0,
                "peak_memory_mb": {"largest_kernel": 2000, "benchmark_process": 3000}}

    report = {"machine": {"read_bandwidth_gb_s": {"1": 20.0}},
              "profiles": {"this-cpu": profile("bfloat16", 30.0, 200), "laptop": profile("float32", 20.0, 300)}}
    table = benchmark.format_table(report).splitlines()
    assert table[0] == "| | this-cpu | laptop |"
    assert "| bfloat16, 1 thread(s): tok/s at batch 1 / 8 (share of the bound) | 30.0 (75%) / 160.0 (50%) | — |" in table
    assert "| **course (notebooks 1-4 + solution)** | **200 s** | **300 s** |" in table
    assert "| notebooks/01_model_pooling.ipynb (kernel peak memory) | 150 s (1500 MB) | 250 s (1500 MB) |" in table
    assert "| notebooks/05_train_dpo.ipynb (kernel peak memory) | 50 s | 50 s |" in table  # no peak read: time alone
    assert "| peak memory of the largest kernel | 2000 MB | 2000 MB |" in table
    report["profiles"]["laptop"] = {"error": "the laptop profile failed (exit code 1)"}
    assert benchmark.format_table(report).splitlines()[0] == "| | this-cpu |"


def test_table_shows_the_judges_scoring_and_decoding(benchmark):
    def profile(dtype, weights, seconds):
        scoring = [{"judge": "qwen-1.5b", "dtype": dtype, "weights": weights, "path": path, "threads": 2,
                    "prompt_tokens": 608, "load_seconds": 3.0, "score_seconds": s, "peak_memory_mb": 3900}
                   for path, s in (("plain", seconds * 2), ("kit", seconds))]
        decoding = [{"batch_size": b, "tokens_per_second": t} for b, t in ((1, 9.5), (8, 40.0))]
        return {"preset_dtype": dtype, "generation": [], "notebooks": {}, "judge_scoring": scoring,
                "judge_generation": decoding, "peak_memory_mb": {"largest_kernel": None, "benchmark_process": 1}}

    report = {"machine": {"read_bandwidth_gb_s": {}},
              "profiles": {"this-cpu": profile("bfloat16", "bfloat16", 5.5), "laptop": profile("float32", "bfloat16", 12.0)}}
    table = benchmark.format_table(report).splitlines()
    assert "| judge qwen-1.5b, bfloat16, kit: one text scored (prompt, peak memory) | 5.5 s (608 tokens, 3900 MB) | — |" in table
    assert "| judge qwen-1.5b, float32, plain: one text scored (prompt, peak memory) | — | 24.0 s (608 tokens, 3900 MB) |" in table
    assert any(line.startswith("| judge qwen-1.5b decoding") and line.endswith("| 9.5 / 40.0 | 9.5 / 40.0 |") for line in table)
    report["profiles"]["this-cpu"]["judge_scoring"][1] = {"judge": "qwen-1.5b", "dtype": "bfloat16", "path": "kit",
                                                          "error": "exit code 1"}
    assert "| judge qwen-1.5b, bfloat16, kit: one text scored (prompt, peak memory) | — | — |" in benchmark.format_table(report).splitlines()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a kernel's own peak is read from /proc")
def test_a_kernels_peak_is_its_own_not_the_benchmarks(benchmark, tmp_path):
    notebook = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = b'\\x01' * 300_000_000")]), notebook)
    held = b"\x01" * 1_000_000_000  # the benchmark process holds a model when it starts the notebooks' kernels
    seconds, peak = benchmark.time_notebook(notebook)
    assert len(held) == 1_000_000_000 and seconds > 0
    assert 300 <= peak < 900, peak  # the kernel's 300 MB and its imports; ru_maxrss would have said over 1000 MB
