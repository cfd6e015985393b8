"""``python -m coursetools grade``: the instructor's command line around the grading pipeline.

Exit code 0 when grading worked, whatever the learners' results; 2 when the grader itself cannot work (FOLDER missing,
reference unreadable or without checks, --jobs below 1, OUTDIR not writable, no usable sandbox without --no-sandbox);
130 when stopped with Ctrl+C, 143 with SIGTERM (every run is stopped, nothing written).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from coursetools.grading.labels import shorten
from coursetools.grading.pipeline import DEFAULT_TIMEOUT, SandboxMissing, grade_folder
from coursetools.grading.prepare import DEFAULT_REFERENCE, read_reference
from coursetools.grading.report import default_out_dir

SIGTERM_STOP = "SIGTERM"


def stop_on_sigterm(signum, frame) -> None:
    """Raise KeyboardInterrupt on SIGTERM, so that grading stops and cleans up as on Ctrl+C."""
    raise KeyboardInterrupt(SIGTERM_STOP)


def find_argument_error(args: argparse.Namespace) -> str:
    """Return the Vietnamese error message of the first unusable argument, or "" when they all work."""
    if not args.folder.is_dir():
        return f"không tìm thấy thư mục '{args.folder}'."
    if args.timeout <= 0:
        return "--timeout phải lớn hơn 0."
    if args.jobs < 1:
        return "--jobs phải lớn hơn hoặc bằng 1."
    try:
        sources = read_reference(args.reference)
    except Exception as error:  # missing file, not JSON, not a valid notebook
        return f"không đọc được notebook gốc '{args.reference}': {shorten(str(error))}"
    return "" if sources else f"notebook gốc '{args.reference}' không có ô `# CHECK:` nào."


def main(argv: list[str] | None = None) -> int:
    """Grade a folder from the command line; print the summary; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m coursetools grade", description="Chấm mọi notebook (*.ipynb) trong một thư mục bằng nbval."
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="thư mục chứa notebook của học viên")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, metavar="PATH",
                        help="notebook bài tập gốc: các ô # CHECK: của nó được dùng để chấm "
                             "(mặc định exercises/preference_dpo_dataset.ipynb)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="số notebook chấm cùng lúc (mặc định 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"số giây tối đa cho mỗi notebook (mặc định {DEFAULT_TIMEOUT})")
    parser.add_argument("--out", type=Path, default=None, metavar="OUTDIR",
                        help="thư mục ghi grades.csv, grades.txt và feedback/ "
                             "(mặc định grading-<tên thư mục> bên cạnh nó)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="chạy bài nộp KHÔNG có hộp cát bubblewrap (macOS, máy không có user namespace): mã của học "
                             "viên chạy với quyền của bạn; báo cáo ghi điều đó ở mọi dòng")
    parser.add_argument("--no-replay", action="store_true",
                        help="không chạy lời giải của khóa học trước để các bài nộp dùng lại đầu ra của mô hình: mỗi bài "
                             "tự tính mọi câu trả lời và điểm (chậm hơn nhiều; kết quả như nhau)")
    args = parser.parse_args(argv)
    error = find_argument_error(args)
    if error:
        print(f"Lỗi: {error}", file=sys.stderr)
        return 2
    out_dir = args.out if args.out is not None else default_out_dir(args.folder)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"Lỗi: không tạo được thư mục kết quả '{out_dir}': {error}", file=sys.stderr)
        return 2
    from helpers.checks import check_saved_dataset  # imported here, so that importing this module stays light

    # Each run's processes live in a session of their own: a plain SIGTERM (kill, a cancelled job) would leave them
    # running. Stop the same orderly way as on Ctrl+C.
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        grade_folder(args.folder, args.timeout, out_dir, reference=args.reference, dataset_check=check_saved_dataset,
                     jobs=args.jobs, sandboxed=not args.no_sandbox, reuse_outputs=not args.no_replay)
    except SandboxMissing as missing:
        print(f"Lỗi: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # the running notebooks' processes are already stopped
        how, code = ("SIGTERM", 143) if stop.args == (SIGTERM_STOP,) else ("Ctrl+C", 130)
        print(f"\nĐã dừng chấm ({how}); chưa ghi kết quả.", file=sys.stderr)
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
    txt_path = out_dir / "grades.txt"
    print(txt_path.read_text(encoding="utf-8"), end="")
    print(f"\nĐã ghi {out_dir / 'grades.csv'}, {txt_path} và thư mục {out_dir / 'feedback'}")
    return 0
