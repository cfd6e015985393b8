"""Checks run again outside the learner's kernel: the calls read from the released cells, the dump, the fresh process,
and notebooks whose checks pass only because the kernel was patched (graded for real, model-free)."""

import contextlib
import io
import json
import os

import nbformat
import pytest

from coursetools import sandbox
from coursetools.grading import prepare, recheck
from coursetools.grading.labels import RECHECK_DISAGREES
from coursetools.grading.pipeline import grade_folder
from coursetools.grading.recheck import CheckCall, build_dump_code, read_check_call, read_check_calls, read_dumps

SANDBOXED = sandbox.find_bwrap() is not None  # required in CI (tests/test_sandbox.py)
HIDE = () if SANDBOXED else None  # recheck's hide: () is a sandbox that hides nothing more, None no sandbox
RELOAD = "import importlib, helpers.checks\nchecks = importlib.reload(helpers.checks)\n"
CHECK = "# CHECK: fmt\n" + RELOAD + "checks.check_format(dataset)"
GOOD = ("from datasets import Dataset\n"
        "dataset = Dataset.from_list([{'prompt': [{'role': 'user', 'content': 'Q?'}], "
        "'chosen': [{'role': 'assistant', 'content': 'Yes.'}], 'rejected': [{'role': 'assistant', 'content': 'No.'}]}])")
WRONG = ("from datasets import Dataset\n"  # TRL's standard style: plain texts, not the conversational messages asked for
         "dataset = Dataset.from_list([{'prompt': 'Q?', 'chosen': 'Yes.', 'rejected': 'No.'}])")
# Patches from the learner's own cells that make the released check pass inside the kernel.
FAKE_RELOAD = ("import importlib, types\n"
               "fake = types.ModuleType('helpers.checks')\n"
               "fake.__getattr__ = lambda name: (lambda *args, **kwargs: print('✅'))  # every check passes\n"
               "importlib.reload = lambda module: fake")
DUMP_REMOVED = "import os\nos.environ.pop('KIT_CHECKED_VALUES', None)"


def test_the_exercises_checks_are_all_read_as_calls():
    calls = read_check_calls(prepare.read_reference(prepare.DEFAULT_REFERENCE))
    assert list(calls) == ["pooled", "ratings", "pairs", "candidates", "final_ratings", "final_pairs", "dataset"]
    assert calls["final_pairs"] == CheckCall("check_pairs", (("var", "final_pairs"), ("var", "final_rated"),
                                                             ("kit", "course.HAND_RATED_3")),
                                             (("policy", ("const", "best-random-lower")), ("min_margin", ("const", 0.5))))
    assert calls["dataset"].variables() == ["dataset", "final_pairs", "OUT_DIR"]


@pytest.mark.parametrize("source", [
    "assert x == 1",  # a small notebook's check: kept in the kernel only
    RELOAD + "checks.check_format(dataset)\nprint('done')",  # not the last statement
    RELOAD + "checks.check_format(dataset[0])",  # an argument that is not a name, a constant or the kit's
    RELOAD + "checks.check_format(*args)",
    RELOAD + "helpers.checks.check_format(dataset)",
    "checks.check_format(",
])
def test_other_check_cells_are_not_checked_again(source):
    assert read_check_call(source) is None


class Anything(str):
    """A text equal to every other: the kind of value that fools a check inside the kernel."""

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Opaque:
    pass


def dump(values: dict, tmp_path) -> dict:
    """Run a check cell's dump code on ``values`` as the kernel would; return the values it wrote for that check."""
    calls = {"c": CheckCall("check_x", tuple(("var", name) for name in [*values, "absent"]))}
    target = tmp_path / "values.jsonl"
    target.unlink(missing_ok=True)
    os.environ[recheck.VALUES_ENV] = str(target)
    try:
        exec(build_dump_code(calls, ["c"]), dict(values))
    finally:
        del os.environ[recheck.VALUES_ENV]
    return read_dumps(target.read_bytes())["c"]


def test_the_dump_keeps_only_plain_values(tmp_path):
    import numpy
    from datasets import Dataset

    got = dump({"text": Anything("Yes."), "rows": ({"a": numpy.int64(3), "b": [1.5, None, True]},),
                "data": Dataset.from_list([{"x": 1}]), "path": tmp_path, "odd": Opaque()}, tmp_path)
    assert got == {"text": "Yes.", "rows": [{"a": 3, "b": [1.5, None, True]}], "data": {recheck.DATASET_TAG: [{"x": 1}]},
                   "path": str(tmp_path), "odd": {recheck.UNREADABLE_TAG: "Opaque"}}
    assert type(got["text"]) is str and "absent" not in got


def test_values_are_decoded_for_the_checks():
    from datasets import Dataset

    decoded = recheck.decode({"d": {recheck.DATASET_TAG: [{"x": 1}]}, "l": [{"y": [2]}]})
    assert isinstance(decoded["d"], Dataset) and decoded["d"].to_list() == [{"x": 1}] and decoded["l"] == [{"y": [2]}]
    with pytest.raises(AssertionError, match="Giá trị kiểu Opaque không chấm lại được"):
        recheck.decode({recheck.UNREADABLE_TAG: "Opaque"})


def conversational(**texts):
    return {recheck.DATASET_TAG: [{"prompt": [{"role": "user", "content": texts.get("prompt", "Q?")}],
                                   "chosen": [{"role": "assistant", "content": "Yes."}],
                                   "rejected": [{"role": "assistant", "content": "No."}]}]}


def run_again(values: dict, **call) -> dict:
    calls = {"fmt": CheckCall("check_format", (("var", "dataset"),)), **call}
    dumped = json.dumps({"checks": list(calls), "values": values}).encode()  # one check cell that dumps them all
    return recheck.recheck(calls, dumped, (), prepare.KIT_ROOT, HIDE)


def test_a_fresh_process_runs_the_checks_on_the_values():
    assert run_again({"dataset": conversational()}) == {"fmt": ("pass", "")}
    value, message = run_again({"dataset": {recheck.DATASET_TAG: [{"prompt": "Q?", "chosen": "Y", "rejected": "N"}]}})["fmt"]
    assert value == "fail" and "Hàng 1 chưa theo kiểu conversational của TRL" in message
    value, message = run_again({})["fmt"]
    assert value == "fail" and "Biến `dataset` không có sau khi chạy notebook" in message
    kit = {"hand": CheckCall("check_pairs", (("var", "pairs"), ("var", "rated"), ("kit", "course.HAND_RATED")))}
    value, message = run_again({"dataset": conversational(), "pairs": [], "rated": []}, **kit)["hand"]
    assert value == "fail" and message  # the kit's own value reached the check, which found no pair


def test_no_dump_or_a_broken_one_is_not_a_pass():
    calls = {"fmt": CheckCall("check_format", (("var", "dataset"),))}
    for dumped in (None, b"{not json", b"[1, 2]", b'{"checks": ["other"], "values": {}}', b'{"checks": "fmt"}'):
        value, message = recheck.recheck(calls, dumped, (), prepare.KIT_ROOT, HIDE)["fmt"]
        assert value == "fail" and message.startswith(recheck.NOT_RECHECKED)


@pytest.mark.parametrize("command", [
    "import sys; sys.exit(3)",  # the process died
    "print('not json')",  # it answered something else
    "import json; print(json.dumps({'fmt': ['maybe', '']}))",  # neither pass nor fail
    "import json; print(json.dumps({}))",  # no answer for the check
])
def test_a_recheck_that_cannot_run_is_the_graders_error_not_a_fail(command, monkeypatch):
    import sys

    monkeypatch.setattr(recheck, "build_command", lambda kit_root: [sys.executable, "-c", command])
    value, message = run_again({"dataset": conversational()})["fmt"]
    assert value == "error" and message.startswith(recheck.NOT_RECHECKED)


def test_a_check_not_rechecked_by_the_graders_fault_makes_the_notebook_an_error():
    from coursetools.grading.extract import Outcomes
    from coursetools.grading.labels import RECHECK_FAILED
    from coursetools.grading.prepare import Prepared
    from coursetools.grading.verdict import fill_row, new_row

    calls = {"fmt": CheckCall("check_format", (("var", "dataset"),)), "other": CheckCall("check_format", ())}
    prepared = Prepared(name="a.ipynb", notebook=None, checks={0: ["fmt"], 1: ["other"]}, calls=calls)
    outcomes = Outcomes(cells={0: ("passed", ""), 1: ("passed", "")}, running=None, problems=[])
    rechecks = {"fmt": ("error", f"{recheck.NOT_RECHECKED}: quá 300 giây"), "other": ("pass", "")}
    row = fill_row(new_row("a.ipynb"), prepared, None, outcomes, "done", False, 900, rechecks)
    assert row["status"] == "error" and row["detail"].startswith(RECHECK_FAILED)
    assert row["checks"] == {"fmt": "not_run", "other": "pass"} and row["checks_passed"] == 1
    # The same check failing outside the kernel (the learner's values) is tampering, not an error.
    rechecks["fmt"] = ("fail", "Hàng 1 chưa theo kiểu conversational của TRL")
    row = fill_row(new_row("a.ipynb"), prepared, None, outcomes, "done", False, 900, rechecks)
    assert row["status"] == "tampered" and row["detail"].startswith(RECHECK_DISAGREES)


@pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not installed")
def test_the_recheck_sees_the_kits_code_but_not_its_other_folders():
    # A dumped OUT_DIR pointing into the kit's folder (where an instructor's own saved dataset lives, data/) finds
    # nothing: the fresh process sees only helpers/ and coursetools/ of the kit, and the run's own dataset folder.
    import shutil
    import uuid

    from datasets import Dataset

    rows = [{"prompt": [{"role": "user", "content": "Q?"}], "chosen": [{"role": "assistant", "content": "Yes."}],
             "rejected": [{"role": "assistant", "content": "No."}]}]
    folder = prepare.KIT_ROOT / "build" / f"test-recheck-{uuid.uuid4().hex}"  # /build/ is not in git
    try:
        Dataset.from_list(rows).save_to_disk(str(folder))
        calls = {"dataset": CheckCall("check_dataset", (("var", "dataset"), ("var", "final_pairs"), ("var", "OUT_DIR")))}
        values = {"dataset": {recheck.DATASET_TAG: rows}, "final_pairs": [{"prompt": "Q?", "chosen": "Yes.", "rejected": "No."}],
                  "OUT_DIR": str(folder)}
        dumped = json.dumps({"checks": ["dataset"], "values": values}).encode()
        value, message = recheck.recheck(calls, dumped, (), prepare.KIT_ROOT, ())["dataset"]
        assert value == "fail" and "Chưa thấy tập dữ liệu đã lưu" in message
        # The same values pass where the folder is given to the checks (as the pipeline gives the run's dataset) ...
        assert recheck.recheck(calls, dumped, (folder,), prepare.KIT_ROOT, ())["dataset"] == ("pass", "")
        # ... and without the sandbox, which hides nothing.
        assert recheck.recheck(calls, dumped, (), prepare.KIT_ROOT, None)["dataset"] == ("pass", "")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_fresh_process_ignores_pythonpath(tmp_path, monkeypatch):
    fake = tmp_path / "helpers"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "checks.py").write_text("def check_format(*a, **k):\n    pass\n")  # a planted, always-passing kit
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    value, _ = run_again({"dataset": {recheck.DATASET_TAG: [{"prompt": "Q?", "chosen": "Y", "rejected": "N"}]}})["fmt"]
    assert value == "fail"


def test_the_fresh_process_ignores_bytecode_planted_in_the_kit(tmp_path):
    # Without the sandbox a run can write into the kit's folder. Its hash leaves __pycache__ out (Python rewrites those
    # files itself), so an always-passing checks.pyc planted there must never be what the recheck imports.
    import py_compile
    import shutil
    import sys

    kit = tmp_path / "kit"
    for package in recheck.KIT_CODE:
        shutil.copytree(prepare.KIT_ROOT / package, kit / package, ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp_path / "checks.py"
    planted.write_text("def check_format(*a, **k):\n    pass\n")
    # An unchecked-hash .pyc is loaded without comparing it with checks.py at all.
    py_compile.compile(str(planted), cfile=str(kit / "helpers" / "__pycache__" / f"checks.{sys.implementation.cache_tag}.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    calls = {"fmt": CheckCall("check_format", (("var", "dataset"),))}
    wrong = {"dataset": {recheck.DATASET_TAG: [{"prompt": "Q?", "chosen": "Y", "rejected": "N"}]}}
    dumped = json.dumps({"checks": ["fmt"], "values": wrong}).encode()
    value, message = recheck.recheck(calls, dumped, (), kit, None)["fmt"]
    assert value == "fail" and "conversational" in message


def write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A released notebook whose check calls a real check function, and submissions that patch the kernel."""
    root = tmp_path_factory.mktemp("recheck")
    write(root / "reference.ipynb", "dataset = None", CHECK)
    folder = root / "class"
    folder.mkdir()
    write(folder / "a_honest.ipynb", GOOD, CHECK)
    write(folder / "b_wrong.ipynb", WRONG, CHECK)
    write(folder / "c_wrong_reload_patched.ipynb", WRONG + "\n" + FAKE_RELOAD, CHECK)
    write(folder / "d_right_dump_removed.ipynb", GOOD + "\n" + DUMP_REMOVED, CHECK)
    write(folder / "e_name_reused_after_its_check.ipynb", GOOD, CHECK, "dataset = 'something else, later'")
    write(folder / "f_globals_shadow_builtins.ipynb", GOOD + "\ntype = list = open = None", CHECK)
    with contextlib.redirect_stderr(io.StringIO()):
        rows = grade_folder(folder, 120, root / "out", reference=root / "reference.ipynb", jobs=2, sandboxed=SANDBOXED)
    return {row["notebook"]: row for row in rows}


def test_an_honest_notebook_passes_inside_and_outside(graded):
    row = graded["a_honest.ipynb"]
    assert (row["status"], row["checks"], row["detail"]) == ("ok", {"fmt": "pass"}, ""), row


def test_a_wrong_answer_fails_as_before(graded):
    row = graded["b_wrong.ipynb"]
    assert row["status"] == "failed" and "conversational" in row["detail"], row


def test_a_check_made_to_pass_in_the_kernel_fails_outside_it(graded):
    row = graded["c_wrong_reload_patched.ipynb"]
    assert row["status"] == "tampered" and row["checks"] == {"fmt": "fail"}, row
    assert row["detail"].startswith(RECHECK_DISAGREES + ": fmt — fmt: Hàng 1 chưa theo kiểu conversational")


def test_a_run_that_leaves_no_dump_is_not_believed(graded):
    row = graded["d_right_dump_removed.ipynb"]
    assert row["status"] == "tampered" and recheck.NOT_RECHECKED in row["detail"], row


def test_the_graders_own_cell_is_no_cell_error(graded):
    assert all(row["cell_error"] is None for row in graded.values())


def test_learner_globals_named_like_builtins_do_not_break_the_dump(tmp_path):
    # The dump cell runs in the learner's namespace: a top-level `type = ...`, `list = ...` or `open = ...` there must
    # neither break it (an honest notebook would be graded tampered) nor change what it writes.
    shadows = {name: (lambda *args, **kwargs: "shadowed") for name in
               ("type", "isinstance", "int", "float", "str", "dict", "list", "tuple", "hasattr", "getattr", "open",
                "globals", "Exception", "ValueError")}
    got = dump({**shadows, "rows": [{"a": 1, "b": "x"}]}, tmp_path)
    assert got["rows"] == [{"a": 1, "b": "x"}]


def test_a_checked_name_reused_after_its_check_is_not_tampering(graded):
    # Each check cell writes its own values, just before its check runs: a later `dataset = ...` changes nothing.
    row = graded["e_name_reused_after_its_check.ipynb"]
    assert (row["status"], row["checks"]) == ("ok", {"fmt": "pass"}), row


def test_a_notebook_whose_globals_shadow_builtins_is_graded_ok(graded):
    row = graded["f_globals_shadow_builtins.ipynb"]
    assert (row["status"], row["checks"]) == ("ok", {"fmt": "pass"}), row


def test_each_check_cell_dumps_its_own_values_first():
    released = prepare.read_reference(prepare.DEFAULT_REFERENCE)
    prepared = prepare.prepare_notebook(prepare.DEFAULT_REFERENCE, released)
    code = [cell.source for cell in prepared.notebook.cells if cell.cell_type == "code"]
    assert len(code) == sum(cell.cell_type == "code" for cell in nbformat.read(prepare.DEFAULT_REFERENCE, 4).cells)  # no cell added
    for number, names in prepared.checks.items():
        first, rest = code[number].split("\n", 1)
        assert first.startswith("# CHECK:") and rest.index("_kit_dump_checked_values(") < rest.index("checks.check_")
        assert f"{names!r}" in rest


def test_dumps_are_read_per_check_and_a_broken_line_is_not_believed():
    lines = b'{"checks": ["a"], "values": {"x": 1}}\n{"checks": ["b", "c"], "values": {"y": 2}}\n'
    assert read_dumps(lines) == {"a": {"x": 1}, "b": {"y": 2}, "c": {"y": 2}}
    assert read_dumps(lines + b'{"checks": ["a"], "values": {"x": 3}}\n')["a"] == {"x": 3}  # a cell run again: its last
    for broken in (lines + b"{not json\n", b'{"checks": [1], "values": {}}', b'{"values": {}}', b"[]", b""):
        assert read_dumps(broken) is None
