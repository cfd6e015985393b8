"""EvolQuality wiring: the five criteria and choosing among them."""

import pytest

from helpers.evolve import CRITERIA, build_evolver, describe_criteria


def test_five_criteria_each_with_its_sentence():
    described = describe_criteria()
    assert list(described) == ["HELPFULNESS", "RELEVANCE", "DEEPENING", "CREATIVITY", "DETAILS"] == list(CRITERIA)
    assert described["DEEPENING"] == "Please make the Response more in-depth."


def test_evolver_keeps_only_the_chosen_criteria(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    evolver = build_evolver(["DETAILS"], "offline", max_new_tokens=64)
    assert list(evolver.mutation_templates) == ["DETAILS"]
    assert evolver.num_evolutions == 1 and evolver.seed == 42
    assert evolver.llm.generation_kwargs["max_new_tokens"] == 64


def test_unknown_or_empty_criteria_are_refused():
    with pytest.raises(ValueError, match="HELPFULNESS"):
        build_evolver(["HONESTY"], "offline")
    with pytest.raises(ValueError, match="trống"):
        build_evolver([], "offline")
