"""The grader's sandbox: a learner's run confined with bubblewrap (no network, read-only system, one writable folder).

A run sees the machine's root read-only; empty temporary filesystems over /tmp, the grader's home and the kit's own
folder (so no secret, no other submission and no solution is visible); the interpreter, the venv and the model cache
bound back read-only where they are; and one writable folder, the run's own. It has no network (a new network
namespace holds only loopback, which the kernel's ZeroMQ sockets need), its own process ids (every process it leaves
dies with it), a new session (it cannot reach the grader's terminal) and only the environment variables given.
Limits are set before bubblewrap starts, so every process of the run inherits them: processes, file size, memory.

Run as root (a CI machine, a container), RLIMIT_NPROC does not apply to uid 0: inside the sandbox the command is
started as ``nobody`` by setpriv, so the process cap holds and the run cannot write what only root may write.
bubblewrap does what a hand-written namespace setup would do, and is what Flatpak relies on; it is not available on
macOS, where grading stops unless the instructor asks for unconfined runs (see ``describe_missing``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534  # the uid and gid of `nobody` on Debian and Ubuntu
# As root, runs graded at once (--jobs) get one uid each, so that one run's processes never count against another's
# RLIMIT_NPROC: nobody, then uids just below it, which Debian and Ubuntu leave unassigned.
RUN_UIDS: queue.Queue = queue.Queue()
for _uid in range(NOBODY, NOBODY - 16, -1):
    RUN_UIDS.put(_uid)
GIB = 1024 ** 3
# Variables a run may see besides those the grader sets for it: how the CPU computes (the laptop emulation), which
# preset and the locale. Everything else (tokens, SSH agents, cloud credentials) stays outside.
PASSED_THROUGH = ("KIT_DTYPE", "KIT_PRESET", "KIT_CPU_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                  "MKL_ENABLE_INSTRUCTIONS", "LANG", "LC_ALL")


@dataclass(frozen=True)
class Limits:
    """What one run may use: processes (beyond those its user already has), bytes per file, bytes of memory."""

    processes: int = 512
    file_bytes: int = 2 * GIB
    memory_bytes: int = 12 * GIB  # per process (RLIMIT_DATA)
    run_memory_bytes: int = 12 * GIB  # all the run's processes together, shared memory included (grading/execute.py watches)
    tmpfs_bytes: int = GIB  # each of the run's private /tmp and /dev/shm (they live in memory)
    disk_floor_bytes: int = 2 * GIB  # the run is stopped if its folder's disk has less free space than this


@dataclass(frozen=True)
class Sandbox:
    """How one run is confined: its writable folder, what it reads, what is hidden and what it is told."""

    writable: Path  # the run's folder, the only place it can write
    read_only: tuple[Path, ...] = ()  # bound back read-only at their own place (after the hiding below)
    hidden: tuple[Path, ...] = ()  # replaced by an empty temporary filesystem
    protected: tuple[Path, ...] = ()  # inside ``writable`` but read-only (the run's copy of the kit)
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    workdir: Path | None = None
    uid: int = NOBODY  # the user the run executes as, when the grader is root


def find_bwrap() -> str | None:
    """Return the path of bubblewrap's ``bwrap``, or None."""
    return shutil.which("bwrap")


def describe_missing() -> str:
    """Return, in Vietnamese, why grading stops without bubblewrap and what to do."""
    return ("Không tìm thấy bubblewrap (lệnh `bwrap`): trình chấm chạy mỗi bài nộp trong một hộp cát (không mạng, không "
            "thấy thư mục nhà, chỉ ghi được vào thư mục của lần chạy) và không chấm khi thiếu nó. Cài trên Debian/Ubuntu: "
            "`sudo apt-get install bubblewrap`. Trên macOS (không có bubblewrap), hoặc nếu bạn chấp nhận chạy mã của học "
            "viên với quyền của bạn, thêm `--no-sandbox`: báo cáo sẽ ghi điều đó ở mọi dòng.")


def try_sandbox(bwrap: str) -> str:
    """Start an empty sandbox once; return "" if it works, else why not (bwrap's own message), in Vietnamese."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="kit-sandbox-check-") as folder:
        give_to_run_user(Path(folder))
        command = build_command(["true"], Sandbox(writable=Path(folder), read_only=interpreter_paths()), bwrap)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"không chạy được bubblewrap ({error})."
    if result.returncode == 0:
        return ""
    return (f"bubblewrap có nhưng không mở được hộp cát: {result.stderr.strip()[-300:]} — thường là vì máy tắt user "
            "namespace cho người dùng thường (kernel.unprivileged_userns_clone=0, hay AppArmor trên Ubuntu 24.04). "
            "Hãy bật lại, chấm bằng root trong một container, hoặc thêm `--no-sandbox` nếu bạn chấp nhận rủi ro.")


def is_root() -> bool:
    """Tell whether the grader runs as root (then the run is started as nobody inside the sandbox)."""
    return os.geteuid() == 0


def interpreter_paths() -> tuple[Path, ...]:
    """Return the folders the running Python needs: the venv and the interpreter it was made from."""
    return tuple(dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)))


def build_env(box: Sandbox) -> dict[str, str]:
    """Return the whole environment of a run: a short PATH, the passed-through variables and the sandbox's own."""
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8"}
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    env.update(box.env)
    return env


def find_parents_inside(paths: list[Path], roots: list[Path]) -> list[Path]:
    """Return, parents first, the folders between each root and each path below it (neither included)."""
    found = []
    for path in paths:
        for root in roots:
            if root in path.parents:
                found += [parent for parent in reversed(path.parents) if root in parent.parents]
    return list(dict.fromkeys(found))


def build_command(command: list[str], box: Sandbox, bwrap: str = "bwrap") -> list[str]:
    """Return ``command`` wrapped in bubblewrap as ``box`` says (mounts are applied in order: later ones win)."""
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try"]
    if not is_root():
        # An unprivileged bwrap needs a user namespace for its mounts; the run may not make one of its own inside it.
        args += ["--unshare-user", "--disable-userns"]
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # Shared memory (multiprocessing's semaphores: distilabel's pipelines) and /tmp: private, sticky, size-capped.
    tmpfs = [Path("/dev/shm"), Path("/tmp")]
    for path in tmpfs:
        args += ["--perms", "01777", "--size", str(box.limits.tmpfs_bytes), "--tmpfs", str(path)]

    def mount(option: str, path: Path) -> None:
        # bwrap makes the folders leading to a mount point inside a temporary filesystem with mode 0700: the run
        # (nobody, when the grader is root) could not pass through them. Make them first, traversable.
        for folder in find_parents_inside([path], tmpfs):
            args.extend(["--perms", "0755", "--dir", str(folder)])
        args.extend(["--perms", "0755", option, str(path)] if option == "--tmpfs" else [option, str(path), str(path)])

    # /run holds the sockets of services that act outside any sandbox (the D-Bus session bus and systemd's user
    # manager, which start processes on request; docker.sock): a run sees an empty one.
    # The temporary folder too, where TMPDIR puts it elsewhere: other runs' folders live there.
    hidden = (*box.hidden, Path("/run"), Path(tempfile.gettempdir()).resolve())
    hidden = [p for p in dict.fromkeys(hidden) if p.exists() and p not in (Path("/tmp"), Path("/dev/shm"))]
    for path in sorted(hidden, key=lambda p: len(p.parts)):  # an outer folder first: the inner one stays hidden
        mount("--tmpfs", path)  # readable by the run, which may pass through it to what is bound back
        tmpfs.append(path)
    for path in box.read_only:
        if path.exists():
            mount("--ro-bind", path)
    mount("--bind", box.writable)
    for path in box.protected:
        mount("--ro-bind", path)
    args.append("--clearenv")
    for name, value in build_env(box).items():
        args += ["--setenv", name, value]
    args += ["--chdir", str(box.workdir or box.writable)]
    if is_root():
        # Not bwrap's --uid: that needs a user namespace, whose uid 0 stays root outside (and uncapped by RLIMIT_NPROC).
        # By its absolute path: the run's PATH starts with the venv, and setpriv still runs as root.
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        args += ["--", setpriv, f"--reuid={box.uid}", f"--regid={box.uid}", "--clear-groups", "--"]
    else:
        args.append("--")
    return args + list(command)


@contextlib.contextmanager
def borrow_uid():
    """Yield a uid no other run uses meanwhile (as root; otherwise the grader's own uid)."""
    if not is_root():
        yield os.getuid()
        return
    uid = RUN_UIDS.get()
    try:
        yield uid
    finally:
        RUN_UIDS.put(uid)


def give_to_run_user(folder: Path, uid: int = NOBODY) -> None:
    """Make the run's folder writable by the user the run executes as (``uid`` when the grader is root)."""
    if not is_root():
        return
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def read_regular_file(path: Path, limit: int) -> bytes | None:
    """Return a file the run wrote, if it is a regular file (not a link, FIFO or device) of at most ``limit`` bytes."""
    # The run could have replaced it: a symlink to a secret of the grader's, a FIFO that blocks open() forever.
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return os.pread(handle, limit, 0)
    finally:
        os.close(handle)


def find_unsafe_entry(folder: Path, max_bytes: int) -> str:
    """Return why a folder the run wrote is unsafe to read (a link, a special file, too big), or ""."""
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder.name} không phải một thư mục thường"
    total = 0
    for root, folders, files in os.walk(folder):  # does not descend into links
        for name in folders + files:
            path = Path(root) / name
            info = os.lstat(path)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                return f"{path.relative_to(folder)} không phải tệp thường (liên kết, FIFO…)"
            total += info.st_size
            if total > max_bytes:
                return f"lớn hơn {max_bytes // 1024 ** 2} MB"
    return ""


def copy_code(source: Path, target: Path) -> None:
    """Copy a package's folder for a run to import, without ``__pycache__`` (no planted bytecode; the kit's hash skips it)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))


def share_for_reading(folder: Path) -> None:
    """Let the run's user read ``folder`` (as root, where the run is nobody): folders 0755, files gain o+r."""
    # Only the kit's own model cache is passed: public model files that an older conversion wrote with mkdtemp's 0700.
    if not is_root() or not folder.exists():
        return
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = mode | (0o755 if path.is_dir() else 0o444)
        if wanted != mode:
            path.chmod(wanted)


def count_processes(uid: int) -> int:
    """Return how many processes ``uid`` already has (RLIMIT_NPROC counts them all)."""
    import psutil

    count = 0
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        count += bool(uids and uids.real == uid)
    return count


def make_limiter(limits: Limits, uid: int = NOBODY):
    """Return a function that sets the run's resource limits in the child, before bubblewrap starts."""
    processes = limits.processes + count_processes(uid if is_root() else os.getuid())

    def set_limits() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        # RLIMIT_DATA, not RLIMIT_AS: torch and oneDNN reserve far more address space than they ever touch.
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return set_limits
