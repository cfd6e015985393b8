"""Grading's words: the Vietnamese labels, details and next steps that the verdict and the reports share."""

from __future__ import annotations

import textwrap

DETAIL_WIDTH = 200
FEEDBACK_WIDTH = 600
STATUS_LABELS = {
    "ok": "đạt",
    "failed": "chưa đạt",
    "error": "lỗi",
    "timeout": "quá giờ",
    "tampered": "can thiệp vào việc chấm (ô kiểm tra bị sửa/xoá, mã của khóa học bị sửa, hoặc kiểm tra lại ngoài kernel không đạt)",
    "invalid": "không đọc được",
    "no_checks": "không có ô kiểm tra",
}
CHECK_LABELS = {
    "pass": "đạt",
    "fail": "chưa đạt",
    "not_run": "chưa chạy",
    "missing": "thiếu ô kiểm tra",
    "edited": "ô kiểm tra bị sửa",
}
DATASET_LABELS = {"pass": "đạt", "fail": "chưa đạt", "missing": "chưa lưu tập dữ liệu"}
SANDBOX_LABELS = {True: "bubblewrap", False: "KHÔNG (--no-sandbox)"}
KIT_COPY_EDITED = "bài nộp đã sửa mã của khóa học (helpers/)"
KIT_EDITED = "bài nộp đã sửa tệp của khóa học ngoài thư mục tạm"
RECHECK_DISAGREES = "ô kiểm tra đạt trong kernel nhưng không đạt khi chấm lại ngoài kernel"
RECHECK_FAILED = "lỗi của bộ chấm: không chấm lại được ngoài kernel (hãy chấm lại bài này)"
NOT_GRADED = "chưa chấm: khóa học bị sửa trong khi chấm"
RUN_STOPPED = {  # filled with the limits in force (sandbox.Limits)
    "memory": "đã dừng: dùng quá {run_memory_bytes} bộ nhớ",
    "disk": "đã dừng: ghi quá nhiều dữ liệu (đĩa còn dưới {disk_floor_bytes} trống)",
}
UNCONFINED_WARNING = ("CẢNH BÁO: chấm KHÔNG có hộp cát (--no-sandbox): mã của học viên đã chạy với quyền của người chấm, "
                      "có mạng và thấy thư mục nhà.")
NEXT_STEPS = {
    "ok": "Bài đã đạt. Làm tốt lắm!",
    "failed": "Hãy đọc thông báo của mục chưa đạt, sửa code phía trên nó, rồi chạy lại toàn bộ notebook "
              "(Kernel → Restart Kernel and Run All Cells) trước khi nộp lại.",
    "error": "Hãy sửa ô bị lỗi đầu tiên, rồi chạy lại toàn bộ notebook từ đầu "
             "(Kernel → Restart Kernel and Run All Cells) trước khi nộp lại.",
    "timeout": "Notebook chạy quá thời gian cho phép: hãy tìm ô chạy mãi hoặc quá lâu, rồi chạy lại toàn bộ notebook.",
    "tampered": "Hãy giữ nguyên các ô `# CHECK:` như trong bài tập gốc (không sửa, không xoá, không đổi tên, "
                "không thêm tag), đừng sửa mã của khóa học (helpers/) hay thay các hàm mà ô kiểm tra gọi, rồi chạy lại toàn "
                "bộ notebook trước khi nộp lại.",
    "invalid": "Tệp này không mở được như một notebook: hãy tải lại tệp .ipynb từ Jupyter (File → Download) và nộp lại.",
    "no_checks": "Notebook không có ô `# CHECK:` nào: có lẽ bạn đã nộp nhầm tệp; hãy nộp notebook bài tập.",
}


def shorten(text: str, width: int = DETAIL_WIDTH) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``width`` characters."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder=" …")
