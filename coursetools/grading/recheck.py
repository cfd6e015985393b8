"""Step 4a, check again outside the kernel: the released checks run on the values the run dumped, in a fresh process.

The released check cells still run in the learner's kernel, after the learner's code, which can patch what they call
(``importlib.reload``, ``helpers.__path__``, IPython's input transformers ...). So the grader puts its own code at the top
of each released check cell, right after its marker: it writes the variables that cell's check call reads
(``checks.check_pairs(pairs, rated, ...)``), as they are when the check runs, to a JSON-lines file, one line per check
cell, as plain JSON: a ``str`` subclass that equals every text, a list that lies about its length, any object
with its own ``__eq__`` becomes plain text, numbers and lists on the way. After the run, a new ``python -I`` process with
the pristine kit (no learner code, no PYTHONPATH, its own sandbox) calls the same check functions on those values and
says pass or fail; it sees only a copy of the kit's code (helpers/, coursetools/, no bytecode), never the kit's data/ or
solutions/, and the run's saved dataset. A check counts only if it passed in the kernel and again here (pipeline, verdict). When that process
fails (no answer, time out) the result is ``error``: the grader's failure, graded as an error, not as the learner's.

Only check cells that end with one call ``checks.check_<name>(...)`` whose arguments are variable names, constants or
the kit's own values (``checks.course.HAND_RATED``) are checked again: the exercise's seven are. Others (the small
notebooks of the tests) keep their kernel outcome alone. What the learner's code writes into the dump is still the
learner's: values made up to be right would pass here as in the kernel, so the ratings ``check_ratings`` accepts are also
compared with the preset judge's own scores (rescore.py); what it cannot do any more is make a wrong value pass.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

VALUES_ENV = "KIT_CHECKED_VALUES"  # where the run's dump cell writes (set by execute.build_environment)
VALUES_FILE = "checked-values.json"  # inside the run's folder
VALUES_LIMIT = 64 * 1024 ** 2  # a larger dump is not read
RESULT_LIMIT = 1024 ** 2
RECHECK_TIMEOUT = 300  # seconds for all the checks of one notebook (the saved dataset is read from disk)
DATASET_TAG = "__kit_dataset__"  # a datasets.Dataset, dumped as its rows
UNREADABLE_TAG = "__kit_unreadable__"  # a value plain JSON cannot hold (its type's name)
NOT_RECHECKED = "không kiểm tra lại được ngoài kernel"
# What the fresh process says of a check: pass; fail (the released check fails on the values: the kernel's pass was
# forced); wrong (the check passes, but the judge's ratings are not the preset judge's: rescore.py); error (the grader's).
OUTCOMES = ("pass", "fail", "wrong", "error")
KIT_CODE = ("helpers", "coursetools")  # what the fresh process imports from the kit (a copy), and all it sees of it


@dataclass(frozen=True)
class CheckCall:
    """The one call a released check cell ends with: a function of helpers.checks and its arguments."""

    function: str
    args: tuple = ()  # each ("var", name), ("kit", "course.HAND_RATED") or ("const", value)
    kwargs: tuple = ()  # (keyword, argument) pairs, arguments as above

    def variables(self) -> list[str]:
        """Return the names of the kernel variables this call reads, in order."""
        return [value for kind, value in (*self.args, *(arg for _, arg in self.kwargs)) if kind == "var"]


def read_argument(node: ast.expr) -> tuple[str, object]:
    """Return one argument of a check call as (kind, value); ValueError for anything else."""
    if isinstance(node, ast.Name):
        return "var", node.id
    if isinstance(node, ast.Constant):
        return "const", node.value
    parts = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "checks" and parts:
        return "kit", ".".join(parts)
    raise ValueError(ast.dump(node))


def read_check_call(source: str) -> CheckCall | None:
    """Return the ``checks.check_<name>(...)`` call a check cell ends with, or None when it has no such call."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    last = body[-1] if body else None
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        return None
    call, function = last.value, last.value.func
    if not (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
            and function.value.id == "checks" and function.attr.startswith("check_")):
        return None
    try:
        args = tuple(read_argument(arg) for arg in call.args)
        kwargs = tuple((keyword.arg, read_argument(keyword.value)) for keyword in call.keywords if keyword.arg)
    except ValueError:
        return None
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords):
        return None
    return CheckCall(function.attr, args, kwargs)


def read_check_calls(released: dict) -> dict[str, CheckCall]:
    """Return the check calls of the released check cells that can be run again outside the kernel, by check name."""
    calls = {name: read_check_call(cell.source) for name, cell in released.items()}
    return {name: call for name, call in calls.items() if call is not None}


# The dump code runs in the learner's kernel, in the check cell itself (so no learner cell runs between it and the check):
# self-contained, defined, called and deleted there, leaving no name behind.
DUMP_CODE = '''# Bộ chấm: ghi lại các biến mà ô kiểm tra này đọc (JSON thuần), để chấm lại chúng ngoài kernel.
def _kit_dump_checked_values(checks, names):
    # Every built-in through `b.`: the learner's globals may hold a `type`, `list` or `open` of their own.
    import builtins as b, json, os

    def plain(value, depth=0):
        if depth > 50:
            raise b.ValueError("nested too deep")
        if value is None or b.type(value) is b.bool:
            return value
        if b.isinstance(value, b.int):
            return b.int.__int__(value)
        if b.isinstance(value, b.float):
            return b.float.__float__(value)
        if b.isinstance(value, b.str):
            return b.str.__str__(value)
        if b.isinstance(value, os.PathLike):  # OUT_DIR
            return plain(os.fspath(value), depth + 1)
        kind = b.type(value)
        if kind.__module__.split(".")[0] == "numpy" and b.hasattr(value, "item") and b.getattr(value, "ndim", 1) == 0:
            return plain(value.item(), depth + 1)
        if kind.__name__ == "Dataset" and kind.__module__.split(".")[0] == "datasets":
            return {"%(dataset)s": plain(value.to_list(), depth + 1)}
        if b.isinstance(value, b.dict):
            return {b.str.__str__(key): plain(item, depth + 1) for key, item in b.dict.items(value) if b.isinstance(key, b.str)}
        if b.isinstance(value, (b.list, b.tuple)):
            items = b.list.__iter__(value) if b.isinstance(value, b.list) else b.tuple.__iter__(value)
            return [plain(item, depth + 1) for item in items]
        return {"%(unreadable)s": kind.__name__}

    space, values = b.globals(), {}
    for name in names:
        if name in space:
            try:
                values[name] = plain(space[name])
            except b.Exception as error:
                values[name] = {"%(unreadable)s": b.type(error).__name__}
    try:  # never the check cell's error: a dump that cannot be written is missing, and the recheck says so
        with b.open(os.environ["%(env)s"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"checks": checks, "values": values}) + "\\n")
    except b.Exception:
        pass


_kit_dump_checked_values(%(checks)r, %(names)r)
del _kit_dump_checked_values'''


def build_dump_code(calls: dict[str, CheckCall], checks: list[str]) -> str:
    """Return the code a check cell runs before its check: it writes the variables of those checks that are rechecked."""
    checks = [name for name in checks if name in calls]
    if not checks:
        return ""
    names = list(dict.fromkeys(name for check in checks for name in calls[check].variables()))
    return DUMP_CODE % {"dataset": DATASET_TAG, "unreadable": UNREADABLE_TAG, "env": VALUES_ENV, "checks": checks,
                        "names": names}


def read_dumps(dumped: bytes) -> dict[str, dict] | None:
    """Return the dumped values by check name (a cell run twice: its last line), or None if any line is not a dump."""
    by_check = {}
    try:
        lines = dumped.decode("utf-8").splitlines()
        for line in lines:
            entry = json.loads(line)
            checks, values = entry["checks"], entry["values"]
            if not (isinstance(checks, list) and all(isinstance(c, str) for c in checks) and isinstance(values, dict)):
                return None
            by_check.update(dict.fromkeys(checks, values))
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return by_check or None


def decode(value):
    """Return a dumped value as the checks expect it: Datasets rebuilt from their rows, the rest as plain JSON gave it."""
    if isinstance(value, dict):
        if set(value) == {DATASET_TAG}:
            from datasets import Dataset

            return Dataset.from_list(value[DATASET_TAG])
        if set(value) == {UNREADABLE_TAG}:
            raise AssertionError(f"Giá trị kiểu {value[UNREADABLE_TAG]} không chấm lại được ngoài kernel "
                                 "(chỉ danh sách, dict, chuỗi, số và datasets.Dataset).")
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def resolve(argument, values: dict, checks):
    """Return one argument's value: a dumped variable, one of the kit's own values, or a constant."""
    kind, value = argument
    if kind == "const":
        return value
    if kind == "kit":
        found = checks
        for part in value.split("."):
            found = getattr(found, part)
        return found
    if value not in values:
        raise AssertionError(f"Biến `{value}` không có sau khi chạy notebook — hãy chạy lại toàn bộ notebook từ đầu.")
    return decode(values[value])


def run_checks(calls: dict, values: dict) -> dict[str, tuple[str, str]]:
    """Call each check on the values its cell dumped, with the pristine kit; return (pass or fail, message) by check name."""
    import helpers.checks as checks

    results = {}
    for name, spec in calls.items():
        call = CheckCall(spec["function"], tuple(map(tuple, spec["args"])), tuple((k, tuple(a)) for k, a in spec["kwargs"]))
        try:
            if name not in values:
                raise AssertionError(f"{NOT_RECHECKED}: ô kiểm tra `{name}` không ghi lại giá trị nào")
            args = [resolve(arg, values[name], checks) for arg in call.args]
            kwargs = {key: resolve(arg, values[name], checks) for key, arg in call.kwargs}
            with contextlib.redirect_stdout(io.StringIO()):
                getattr(checks, call.function)(*args, **kwargs)
        except AssertionError as error:
            results[name] = ("fail", str(error) or "AssertionError")
        except Exception as error:  # a value of the wrong shape fails like a wrong value
            results[name] = ("fail", f"{type(error).__name__}: {error}")
        else:
            results[name] = ("pass", "")
    rescore_ratings(calls, values, results)
    return results


def rescore_ratings(calls: dict, values: dict, results: dict) -> None:
    """Make a passed check_ratings, or a later check reading other ratings than it did, ``wrong`` (rescore.py)."""
    from coursetools.grading.rescore import find_claims, find_wrong_rating

    for name, spec in calls.items():
        kind, variable = spec["args"][0] if spec["args"] else ("", "")
        if spec["function"] != "check_ratings" or kind != "var" or results.get(name, ("",))[0] != "pass":
            continue
        rated = decode(values[name][variable])
        try:
            claims = find_claims(rated)
        except Exception as error:  # rows check_ratings accepted but of another shape: the learner's data
            results[name] = ("wrong", f"không đọc được các điểm để chấm lại: {type(error).__name__}: {error}")
            continue
        try:
            wrong = find_wrong_rating(claims)
        except Exception as error:  # the judge could not be loaded or run: the grader's failure, not the learner's
            results[name] = ("error", f"{NOT_RECHECKED}: không chấm lại được điểm của giám khảo: {type(error).__name__}: {error}")
            continue
        if wrong:
            results[name] = ("wrong", f"điểm của giám khảo không khớp khi chấm lại: {wrong}")
            continue
        # The ratings were checked where check_ratings ran: a later cell could change them before the pairs are built.
        for other, other_spec in calls.items():
            if other != name and ["var", variable] in other_spec["args"] and results.get(other, ("",))[0] == "pass" \
                    and project_ratings(decode(values.get(other, {}).get(variable))) != project_ratings(rated):
                results[other] = ("wrong", f"`{variable}` đã đổi sau ô kiểm tra `{name}`: các cặp phải dựa trên đúng các "
                                           "điểm của giám khảo đã được kiểm tra.")


def project_ratings(rows) -> list | None:
    """Return what rescoring vouches for in rated rows: each row's instruction, texts and ratings (None if unreadable)."""
    try:
        return [(row["instruction"], row["generations"], row["ratings"]) for row in map(dict, rows)]
    except Exception:
        return None


def main() -> int:
    """In the fresh process: read {"calls", "values"} as JSON on stdin, write the results as JSON on stdout."""
    request = json.load(sys.stdin)
    json.dump(run_checks(request["calls"], request["values"]), sys.stdout)
    return 0


def encode_calls(calls: dict[str, CheckCall]) -> dict:
    """Return the check calls as JSON for the fresh process."""
    return {name: {"function": call.function, "args": [list(arg) for arg in call.args],
                   "kwargs": [[key, list(arg)] for key, arg in call.kwargs]} for name, call in calls.items()}


def build_command(kit_root: Path) -> list[str]:
    """Return the fresh process's command: isolated mode (no PYTHONPATH, no user site, no current folder) and the kit."""
    code = (f"import sys; sys.path.insert(0, {str(kit_root)!r}); "
            "from coursetools.grading.recheck import main; sys.exit(main())")
    return [sys.executable, "-I", "-c", code]


def copy_kit_code(kit_root: Path, target: Path) -> Path:
    """Copy the kit's code (KIT_CODE) into ``target`` without its bytecode; return ``target``.

    An unsandboxed run can write into the kit's folder, and the kit's hash leaves __pycache__ out (Python rewrites those
    files itself): a .pyc planted there would be imported instead of the source. The copy has none.
    """
    from coursetools import sandbox

    for package in KIT_CODE:
        sandbox.copy_code(kit_root / package, target / package)
    return target


def recheck(calls: dict[str, CheckCall], dumped: bytes | None, read_only: tuple[Path, ...], kit_root: Path,
            hide: tuple[Path, ...] | None, threads: int | None = None, recorded: Path | None = None,
            timeout: float = RECHECK_TIMEOUT) -> dict[str, tuple[str, str]]:
    """Run the check calls again on a run's dumped values in a fresh process; return (pass, fail or error, message) by name.

    ``read_only``: what the checks may read besides the kit's code and the interpreter (the run's saved dataset).
    ``threads`` (the run's) and ``recorded`` (the reference run's model outputs): the judge rescores as the run scored;
    ``timeout``: the run's own, at least RECHECK_TIMEOUT (the judge scores anew every text the reference did not).
    ``hide``: what the sandbox hides besides the grader's home and the kit's other files (submissions, reports); None:
    no sandbox. ``error`` is the grader's failure (the process did not answer), not the learner's: a missing or broken
    dump, or a value the checks reject, is ``fail``.
    """
    sandboxed = hide is not None
    from coursetools import sandbox
    from helpers.models import get_cache_dir
    from helpers.replay import REPLAY_ENV
    from helpers.threads import THREADS_ENV

    if not calls:
        return {}
    values = read_dumps(dumped) if dumped is not None else None
    if values is None:
        return {name: ("fail", f"{NOT_RECHECKED}: không có tệp giá trị hợp lệ do các ô kiểm tra ghi") for name in calls}
    request = json.dumps({"calls": encode_calls(calls), "values": values})
    with tempfile.TemporaryDirectory(prefix="grading-recheck-") as scratch, \
            sandbox.borrow_uid() if sandboxed else contextlib.nullcontext(os.getuid()) as uid:
        command = build_command(copy_kit_code(kit_root, Path(scratch) / "kit"))
        # The converted models, read-only: check_pooled asks the preset for its writers' names, which resolves them.
        environ = {"HOME": scratch, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                   "KIT_CACHE_DIR": str(get_cache_dir())}
        # The judge rescores as the run scored (rescore.py): the preset, dtype and CPU settings reach this process as they
        # reach a run (sandbox.build_env's passed-through variables; unsandboxed, the grader's environment); the threads
        # and the recorded scores are the run's.
        if threads and not os.environ.get(THREADS_ENV):
            environ[THREADS_ENV] = str(threads)
        if recorded is not None:
            environ[REPLAY_ENV] = str(recorded)
            read_only = (*read_only, recorded)
        limiter = None
        if sandboxed:
            # Only the copy of the kit's code: the kit's folder (a data/ with the instructor's own saved dataset,
            # solutions/) stays hidden, so a dumped OUT_DIR pointing there finds nothing.
            box = sandbox.Sandbox(writable=Path(scratch), read_only=(*sandbox.interpreter_paths(), get_cache_dir(), *read_only),
                                  hidden=(Path.home(), kit_root.resolve(), *hide), env=environ, uid=uid)
            sandbox.give_to_run_user(Path(scratch), uid)
            command = sandbox.build_command(command, box, sandbox.find_bwrap() or "bwrap")
            limiter = sandbox.make_limiter(box.limits, uid)
        else:
            environ = {**os.environ, **environ}
            environ.pop("PYTHONPATH", None)
        try:
            done = subprocess.run(command, input=request, capture_output=True, text=True, env=environ,
                                  timeout=max(timeout, RECHECK_TIMEOUT), preexec_fn=limiter, cwd=scratch)
        except subprocess.TimeoutExpired:
            return {name: ("error", f"{NOT_RECHECKED}: quá {max(timeout, RECHECK_TIMEOUT):g} giây") for name in calls}
    try:
        results = json.loads(done.stdout[:RESULT_LIMIT]) if done.returncode == 0 else None
    except ValueError:
        results = None
    if not isinstance(results, dict):
        error = " ".join(done.stderr.strip().splitlines()[-2:]) or f"mã thoát {done.returncode}"
        return {name: ("error", f"{NOT_RECHECKED}: {error}") for name in calls}
    answered = {name: (str(value[0]), str(value[1])) for name, value in results.items()
                if name in calls and isinstance(value, list) and len(value) == 2 and value[0] in OUTCOMES}
    return {name: answered.get(name, ("error", f"{NOT_RECHECKED}: không có kết quả")) for name in calls}
