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
def offline_llm(fresh_cache):
    """The offline judge role, loaded in this process from the freshly converted folder."""
    from helpers.presets import OFFLINE_JUDGES, load_llm

    # The fresh cache only while loading: set for the session, it reached every notebook kernel nbval starts later,
    # and each converted the 1.5B judge again into it (about a minute of `make test`).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
        llm = load_llm(OFFLINE_JUDGES["smollm2-135m"], "offline")
        llm.load()
    return llm


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Add the machine's free disk, memory and process count to every failure: a full disk or a leak shows at once."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.sections.append(("machine when it failed", describe_machine()))


def describe_machine() -> str:
    """Return one line: free space of the temporary and cache folders, available memory, live processes."""
    import shutil
    import tempfile

    import psutil

    from helpers.models import get_cache_dir

    folders = {"tmp": tempfile.gettempdir(), "cache": get_cache_dir()}
    disks = []
    for name, path in folders.items():
        try:
            disks.append(f"{name} {shutil.disk_usage(path).free / 1e9:.1f} GB free")
        except OSError as error:
            disks.append(f"{name}: {error}")
    disks = ", ".join(disks)
    memory = psutil.virtual_memory().available / 1e9
    return f"{disks}; {memory:.1f} GB memory available; {len(psutil.pids())} processes"
