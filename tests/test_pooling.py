"""The pooling pipeline's shape (its run is tested through nbval on notebook 01)."""

import pytest

from helpers.pooling import build_pooling_pipeline, rename_for_judge


def test_pipeline_is_load_two_generators_then_group(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    pipeline = build_pooling_pipeline(["What is DPO?"], "offline")
    dag = pipeline.dag
    load = next(name for name in dag.G if name.startswith("load_data"))
    assert sorted(dag.get_step_successors(load)) == ["generate_a", "generate_b"]
    assert list(dag.get_step_successors("generate_a")) == list(dag.get_step_successors("generate_b"))
    group = dag.get_step(next(iter(dag.get_step_successors("generate_a"))))["step"]
    assert group.outputs == ["grouped_generation", "grouped_model_name"]
    prompts = [dag.get_step(n)["step"].system_prompt for n in ("generate_a", "generate_b")]
    assert prompts[0] != prompts[1]


def test_empty_instruction_list_is_refused():
    with pytest.raises(ValueError, match="trống"):
        build_pooling_pipeline([])


def test_blank_instruction_is_refused():
    with pytest.raises(ValueError, match="trống"):
        build_pooling_pipeline(["What is DPO?", "   "])


def test_per_role_overrides_reach_the_steps(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    pipeline = build_pooling_pipeline(
        ["q"], "offline", generation={"generator_b": {"temperature": 0.3}}, system_prompts={"generator_a": ""}
    )
    a, b = (pipeline.dag.get_step(n)["step"] for n in ("generate_a", "generate_b"))
    assert a.system_prompt is None  # empty means none
    assert b.system_prompt.startswith("You are a friendly teacher")  # not overridden: the preset's
    assert b.llm.generation_kwargs["temperature"] == 0.3 and a.llm.generation_kwargs["do_sample"] is False


def test_rename_for_judge_gives_ultrafeedback_its_columns():
    pooled = [
        {"instruction": "q1", "grouped_generation": ["a1", "b1"], "grouped_model_name": ["A", "B"]},
        {"instruction": "q2", "grouped_generation": ["a2", "b2"], "grouped_model_name": ["A", "B"]},
    ]
    assert rename_for_judge(pooled) == [
        {"instruction": "q1", "generations": ["a1", "b1"], "generation_models": ["A", "B"]},
        {"instruction": "q2", "generations": ["a2", "b2"], "generation_models": ["A", "B"]},
    ]
    assert pooled[0]["grouped_generation"] == ["a1", "b1"]  # the pooled rows are left as they were
    assert rename_for_judge([]) == []
