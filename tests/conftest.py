"""Shared fixtures: everything offline, one converted model per test session."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def fresh_cache(tmp_path_factory):
    """A cache directory in which the offline model is converted from scratch, once per session."""
    from helpers.models import ensure_offline_model

    cache = tmp_path_factory.mktemp("kit-cache")
    folder = ensure_offline_model(cache)
    return cache, folder


@pytest.fixture(scope="session")
def offline_llm(fresh_cache, monkeypatch_session):
    """The offline judge role, loaded in this process from the freshly converted folder."""
    from helpers.presets import OFFLINE_JUDGES, load_llm

    monkeypatch_session.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    llm = load_llm(OFFLINE_JUDGES["smollm2-135m"], "offline")
    llm.load()
    return llm


@pytest.fixture(scope="session")
def monkeypatch_session():
    """A session-scoped monkeypatch."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
