"""Interactive notebook controls: pooling on the learner's own instruction, a preference-pair explorer, a labeller."""

from __future__ import annotations

import html
import time
from pathlib import Path

import ipywidgets as widgets

from helpers.labels import (
    DEFAULT_SEED, LABELS, LabelItem, append_label, build_label_items, find_foreign, find_labels_file, make_record, read_label_file,
)
from helpers.pairs import POLICIES, REASON_LABELS, collect_pairs, describe_report, pick_results
from helpers.pooling import GENERATOR_ROLES, run_pooling
from helpers.presets import PRESETS, choose_preset
from helpers.storage import describe_dir

CHOSEN_COLOR, REJECTED_COLOR, OTHER_COLOR, MODEL_COLOR = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"
WIDE = widgets.Layout(width="100%")
LABEL_STYLE = {"description_width": "150px"}


def read_overrides(temperature_b=None, system_prompt_a=None, system_prompt_b=None, max_new_tokens=None) -> dict:
    """Turn the controls' values into build_pooling_pipeline's per-role overrides (None keeps the preset's value)."""
    generation = {role: {} if max_new_tokens is None else {"max_new_tokens": int(max_new_tokens)} for role in GENERATOR_ROLES}
    if temperature_b is not None:
        # 0 means greedy decoding; transformers ignores temperature unless it samples.
        sampled = temperature_b > 0
        generation["generator_b"].update(do_sample=sampled, temperature=float(temperature_b) if sampled else 1.0)
    prompts = {"generator_a": system_prompt_a, "generator_b": system_prompt_b}
    return {"generation": generation, "system_prompts": {role: text for role, text in prompts.items() if text is not None}}


def run_custom_pooling(instruction: str, preset: str | None = None, **settings) -> dict:
    """Run the pooling pipeline on one instruction with the learner's settings and return its row."""
    return run_pooling([instruction], preset, **read_overrides(**settings))[0]


def read_role_defaults(preset: str) -> dict:
    """Return the control values a preset starts with: B's temperature (0 = greedy), system prompts, max tokens."""
    roles = PRESETS[preset].roles
    b = roles["generator_b"].generation
    return {
        "temperature_b": float(b["temperature"]) if b.get("do_sample") else 0.0,
        "system_prompt_a": roles["generator_a"].system_prompt or "",
        "system_prompt_b": roles["generator_b"].system_prompt or "",
        "max_new_tokens": int(roles["generator_a"].generation["max_new_tokens"]),
    }


def render_completion(title: str, text: str | None, color: str = OTHER_COLOR, note: str = "") -> str:
    """Return one completion as an HTML card with a colored border, a title and an optional note."""
    body = html.escape(text) if text else "<i>(trống)</i>"
    extra = f"<div style='color:#555;margin-top:4px'>{note}</div>" if note else ""
    return (
        f"<div style='border:2px solid {color};border-radius:6px;padding:6px 8px;margin:4px 0'>"
        f"<b style='color:{color}'>{title}</b>"
        f"<div style='white-space:pre-wrap;margin-top:4px'>{body}</div>{extra}</div>"
    )


class PoolingControls:
    """State and widgets of pooling_controls(): settings, the run button, progress and the two completions."""

    def __init__(self, preset: str | None = None):
        start = choose_preset(preset).name
        self.result: dict | None = None
        self.error: str | None = None
        self.preset = widgets.Dropdown(options=list(PRESETS), value=start, description="Preset:", style=LABEL_STYLE)
        self.temperature = widgets.FloatSlider(
            min=0.0, max=1.5, step=0.05, description="Nhiệt độ (B):", style=LABEL_STYLE, readout_format=".2f",
            layout=widgets.Layout(width="480px"),
        )
        self.system_a = widgets.Textarea(description="Lời nhắc hệ thống A:", style=LABEL_STYLE, layout=WIDE, rows=2)
        self.system_b = widgets.Textarea(description="Lời nhắc hệ thống B:", style=LABEL_STYLE, layout=WIDE, rows=2)
        self.max_tokens = widgets.BoundedIntText(min=1, max=1024, description="max_new_tokens:", style=LABEL_STYLE)
        self.instruction = widgets.Textarea(
            value="What is synthetic data?", description="Hướng dẫn:", style=LABEL_STYLE, layout=WIDE, rows=2
        )
        self.button = widgets.Button(description="Chạy", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(min=0, max=3, value=0, description="Tiến độ:", style=LABEL_STYLE)
        self.status = widgets.HTML("Nhập một câu hỏi rồi bấm <b>Chạy</b>.")
        self.panes = widgets.HBox([], layout=WIDE)
        self.fill_defaults()
        self.preset.observe(lambda change: self.fill_defaults(), names="value")
        self.button.on_click(lambda button: self.run())
        settings = widgets.VBox([self.preset, self.temperature, self.max_tokens, self.system_a, self.system_b])
        self.root = widgets.VBox(
            [settings, self.instruction, widgets.HBox([self.button, self.progress]), self.status, self.panes]
        )
        self.root.controls = self

    def fill_defaults(self) -> None:
        """Put the selected preset's own settings into the controls."""
        defaults = read_role_defaults(self.preset.value)
        self.temperature.value = defaults["temperature_b"]
        self.system_a.value = defaults["system_prompt_a"]
        self.system_b.value = defaults["system_prompt_b"]
        self.max_tokens.value = defaults["max_new_tokens"]

    def read_settings(self) -> dict:
        """Return the generation settings the controls hold, as keyword arguments of run_custom_pooling."""
        return {
            "temperature_b": self.temperature.value,
            "system_prompt_a": self.system_a.value,
            "system_prompt_b": self.system_b.value,
            "max_new_tokens": self.max_tokens.value,
        }

    def run(self) -> None:
        """Run the pooling on the instruction (button disabled meanwhile) and show both completions or the error."""
        self.result, self.error, self.panes.children = None, None, ()
        if not self.instruction.value.strip():
            self.show_error("Hãy nhập một câu hỏi vào ô «Hướng dẫn» trước khi bấm Chạy.")
            return
        self.button.disabled, self.progress.bar_style, self.progress.value = True, "info", 1
        self.status.value = "⏳ Đang tải hai bộ sinh và sinh phần hoàn thành (mô hình offline: khoảng 20–60 giây)..."
        try:
            # Looked up at call time so tests can replace the runner with a fast fake.
            self.result = run_custom_pooling(self.instruction.value.strip(), self.preset.value, **self.read_settings())
            self.progress.value = 2
            self.show_result(self.result)
            self.progress.value, self.progress.bar_style = 3, "success"
            self.status.value = "✅ Xong: hai phần hoàn thành cho cùng một hướng dẫn."
        except Exception as error:  # shown in the UI: a click handler's traceback would be lost
            self.show_error(f"Không chạy được ({type(error).__name__}): {html.escape(str(error))}")
        finally:
            self.button.disabled = False

    def show_result(self, row: dict) -> None:
        """Show the two completions side by side, each under its model label."""
        names = row.get("grouped_model_name") or [""] * len(row["grouped_generation"])
        self.panes.children = [
            widgets.HTML(render_completion(f"{'AB'[i] if i < 2 else i}: {html.escape(name or '')}", text, MODEL_COLOR),
                         layout=widgets.Layout(width="50%"))
            for i, (text, name) in enumerate(zip(row["grouped_generation"], names))
        ]

    def show_error(self, message: str) -> None:
        """Show an error message in Vietnamese in place of the result."""
        self.error = message
        self.progress.value, self.progress.bar_style = 0, "danger"
        self.status.value = f"<span style='color:{REJECTED_COLOR}'>❌ {message}</span>"


def pooling_controls(preset: str | None = None) -> widgets.VBox:
    """Return the pooling UI: preset, B's temperature, system prompts, max tokens, an instruction and a run button."""
    return PoolingControls(preset).root


class PreferenceExplorer:
    """State and widgets of preference_explorer(): one prompt's rated completions and the pair-policy controls."""

    def __init__(self, rated_rows: list[dict], policy: str = "best-worst", min_margin: float = 0.0):
        self.rows = list(rated_rows or [])
        if not self.rows:
            raise ValueError("Chưa có hàng nào đã chấm điểm: hãy chạy (hoặc làm xong) phần chấm điểm ở trên trước.")
        self.pairs: list[dict] = []
        self.report: dict = {}
        self.results: list = []
        self.row = widgets.Dropdown(
            options=[(f"{i + 1}. {str(r.get('instruction', ''))[:70]}", i) for i, r in enumerate(self.rows)],
            value=0, description="Hướng dẫn:", style=LABEL_STYLE, layout=widgets.Layout(width="95%"),
        )
        self.policy = widgets.ToggleButtons(options=list(POLICIES), value=policy, description="Quy tắc chọn cặp:", style=LABEL_STYLE)
        self.margin = widgets.FloatSlider(
            value=min_margin, min=0.0, max=4.0, step=0.5, description="Chênh lệch tối thiểu:", style=LABEL_STYLE,
            layout=widgets.Layout(width="480px"),
        )
        self.count = widgets.HTML()
        self.count.add_class("kit-pair-count")
        self.summary = widgets.HTML()
        self.cards = widgets.HTML()
        for control in (self.row, self.policy, self.margin):
            control.observe(lambda change: self.refresh(), names="value")
        controls = widgets.VBox([self.policy, self.margin, self.count, self.summary])
        self.root = widgets.VBox([controls, self.row, self.cards])
        self.root.add_class("kit-preference-explorer")
        self.root.controls = self
        self.refresh()

    def refresh(self) -> None:
        """Recompute the pairs for the current controls, then the count label and the selected prompt's cards."""
        options = {"policy": self.policy.value, "min_margin": self.margin.value}
        self.results = pick_results(self.rows, **options)  # row by row, for the cards
        self.pairs, self.report = collect_pairs(self.rows, self.results)
        self.count.value = f"<b>{self.report['kept']}/{self.report['rows']} cặp còn lại</b>"
        self.summary.value = html.escape(describe_report(self.report))
        self.cards.value = self.render_row(self.row.value)

    def render_row(self, index: int) -> str:
        """Return the HTML of one prompt: its completions with ratings and rationales, chosen and rejected colored."""
        row, result = self.rows[index], self.results[index]
        chosen = rejected = None
        if isinstance(result, dict):
            chosen, rejected = result["chosen_index"], result["rejected_index"]
            verdict = f"<span style='color:{CHOSEN_COLOR}'>Hàng này cho một cặp: chosen (xanh) và rejected (đỏ).</span>"
        else:
            verdict = f"<span style='color:{REJECTED_COLOR}'>Hàng này bị bỏ: {REASON_LABELS[result]}.</span>"
        generations = row.get("generations") or []
        ratings = row.get("ratings") if isinstance(row.get("ratings"), list) else []
        rationales = row.get("rationales") if isinstance(row.get("rationales"), list) else []
        models = row.get("generation_models") if isinstance(row.get("generation_models"), list) else []
        cards = [f"<p><b>{html.escape(str(row.get('instruction', '')))}</b></p><p>{verdict}</p>"]
        for i, text in enumerate(generations):
            role, color = {chosen: ("chosen", CHOSEN_COLOR), rejected: ("rejected", REJECTED_COLOR)}.get(i, ("", OTHER_COLOR))
            model = html.escape(str(models[i])) if i < len(models) and models[i] else f"vị trí {i + 1}"
            rating = ratings[i] if i < len(ratings) else None
            title = f"{'ABCDEFGH'[i] if i < 8 else i} · {model} · điểm {rating}" + (f" · {role}" if role else "")
            rationale = rationales[i] if i < len(rationales) and rationales[i] else ""
            note = f"Lý do: {html.escape(str(rationale))}" if rationale else ""
            cards.append(render_completion(title, text, color, note))
        return "".join(cards)


def preference_explorer(rated_rows: list[dict], policy: str = "best-worst", min_margin: float = 0.0) -> widgets.VBox:
    """Return the explorer of rated rows: completions, ratings and rationales, pair policy and minimum margin."""
    return PreferenceExplorer(rated_rows, policy, min_margin).root


class PreferenceLabeller:
    """State and widgets of label_preferences(): one pair at a time, the learner's label appended to a JSONL file."""

    click_guard = 0.4  # seconds after a new pair appears during which a label click is refused (a double click)

    def __init__(self, rows: list[dict], path=None, seed: int = DEFAULT_SEED, positions: tuple[int, int] = (0, 1)):
        self.items = build_label_items(list(rows or []), positions, seed)
        self.path = find_labels_file() if path is None else Path(path).expanduser()
        self.seed = seed
        file = read_label_file(self.path)  # labels given before a restart or in a closed tab
        self.labels = file.labels
        self.problems = file.describe_problems()
        self.foreign = len(find_foreign(self.items, self.labels))
        self.error: str | None = None
        self.revealed = ""  # the model names of the pair just labelled
        unlabelled = [i for i, item in enumerate(self.items) if item.key not in self.labels]
        self.index = unlabelled[0] if unlabelled else 0  # the first pair without a label
        self.shown_at = 0.0  # when a pair replaced the previous one after a label (see give)
        self.progress = widgets.HTML()
        self.progress.add_class("kit-label-progress")
        self.notice = widgets.HTML()
        self.notice.add_class("kit-label-notice")
        self.instruction = widgets.HTML()
        self.panes = widgets.HBox([], layout=WIDE)
        self.status = widgets.HTML()
        self.status.add_class("kit-label-status")
        self.buttons = {
            label: widgets.Button(description=text[0].upper() + text[1:], button_style=style, layout=widgets.Layout(width="130px"))
            for (label, text), style in zip(LABELS.items(), ("success", "success", "info", ""))
        }
        for label, button in self.buttons.items():
            button.on_click(lambda button, label=label: self.give(label))
        self.back = widgets.Button(description="◀ Quay lại", layout=widgets.Layout(width="110px"))
        self.next = widgets.Button(description="Tiếp ▶", layout=widgets.Layout(width="110px"))
        self.back.on_click(lambda button: self.move(-1))
        self.next.on_click(lambda button: self.move(1))
        row = widgets.HBox([self.back, *self.buttons.values(), self.next])
        self.root = widgets.VBox([self.progress, self.notice, self.instruction, self.panes, row, self.status])
        self.root.add_class("kit-preference-labeller")
        self.root.controls = self
        self.show_notice()
        self.refresh()

    @property
    def item(self) -> LabelItem:
        """Return the pair on screen."""
        return self.items[self.index]

    def count_labelled(self) -> int:
        """Return how many of this widget's pairs have a label (skips included)."""
        return sum(item.key in self.labels for item in self.items)

    def show_notice(self) -> None:
        """Show, in Vietnamese, where labels go and every line of the file that is not used (nothing is dropped silently)."""
        parts = [f"Nhãn được ghi ngay vào <code>{html.escape(describe_dir(self.path))}</code>; chạy lại ô này (kể cả sau khi khởi động "
                 "lại kernel) sẽ đọc lại chúng."]
        if self.foreign:
            parts.append(f"ℹ️ Tệp có {self.foreign} nhãn của các cặp không có ở đây (lần chạy khác, hàng khác): "
                         "giữ nguyên trong tệp, không dùng.")
        if self.problems:
            parts.append(f"<span style='color:{REJECTED_COLOR}'>⚠️ "
                         + html.escape(self.problems).replace("\n", "<br>") + "</span>")
        self.notice.value = "<br>".join(parts)

    def refresh(self) -> None:
        """Show the current pair, its label if it has one, the progress line and which buttons apply."""
        item, record = self.item, self.labels.get(self.item.key)
        done = self.count_labelled()
        self.progress.value = f"<b>{done}/{len(self.items)}</b> cặp đã gán nhãn · đang xem cặp {self.index + 1}/{len(self.items)}"
        self.instruction.value = f"<p><b>Hướng dẫn:</b> {html.escape(item.instruction)}</p>"
        cards = []
        for letter in "AB":
            # Model names stay hidden until the pair has a label: the learner judges the texts, not their authors.
            title = letter if record is None else f"{letter} · {html.escape(str(item.model_of(letter) or 'không rõ mô hình'))}"
            cards.append(widgets.HTML(render_completion(title, item.text_of(letter), MODEL_COLOR), layout=widgets.Layout(width="50%")))
        self.panes.children = cards
        self.back.disabled = self.index == 0
        self.next.disabled = self.index == len(self.items) - 1
        if self.error:
            self.status.value = f"<span style='color:{REJECTED_COLOR}'>❌ {self.error}</span>"
        elif record is not None:
            self.status.value = f"Nhãn của bạn: <b>{LABELS[record['label']]}</b>. Bấm nút khác để đổi."
        elif done == len(self.items):
            self.status.value = "✅ Đã gán nhãn mọi cặp. Chạy ô tiếp theo để so với giám khảo."
        else:
            self.status.value = "Cặp này chưa có nhãn: đọc hai phần hoàn thành rồi chọn."
        if self.revealed and not self.error:
            self.status.value = f"{self.revealed}<br>{self.status.value}"

    def give(self, label: str) -> None:
        """Record a label for the pair on screen (appended to the file first), then go to the next pair without one."""
        # A double click (or a click queued while a slow kernel answered) would label the next pair unseen:
        # a label arriving within CLICK_GUARD seconds of a new pair is refused, and the widget says so.
        if time.monotonic() - self.shown_at < self.click_guard:
            self.status.value = "⏸️ Cặp này vừa hiện ra nên lần bấm đó chưa được tính: hãy đọc cặp này rồi chọn lại."
            return
        record = make_record(self.item, label, self.seed)
        try:
            append_label(self.path, record)
        except (OSError, ValueError) as error:  # shown in the widget: a click handler's traceback would be lost
            reason = getattr(error, "strerror", None) or str(error)
            self.error = (f"Không ghi được nhãn vào {html.escape(str(self.path))}: {html.escape(reason)}. "
                          "Nhãn này chưa được lưu; hãy truyền cho tham số <code>path</code> một tệp trong thư mục có quyền ghi.")
            self.refresh()
            return
        self.error = None
        self.labels[self.item.key] = record
        names = " và ".join(f"{letter} là {html.escape(str(self.item.model_of(letter) or 'không rõ'))}" for letter in "AB")
        self.revealed = f"Đã lưu «{LABELS[label]}» cho cặp {self.index + 1}; ở cặp đó {names}."
        following = [i for i in range(self.index + 1, len(self.items)) if self.items[i].key not in self.labels]
        if following:
            self.index = following[0]
        elif self.index < len(self.items) - 1:
            self.index += 1
        self.shown_at = time.monotonic()
        self.refresh()
        if self.count_labelled() == len(self.items) and not following:
            self.status.value = f"{self.revealed}<br>✅ Đã gán nhãn mọi cặp. Chạy ô tiếp theo để so với giám khảo."

    def move(self, step: int) -> None:
        """Go to the previous or next pair (to read it again or change its label)."""
        self.error, self.revealed = None, ""
        self.index = min(max(self.index + step, 0), len(self.items) - 1)
        self.refresh()


def label_preferences(rows: list[dict], path=None, seed: int = DEFAULT_SEED, positions: tuple[int, int] = (0, 1)) -> widgets.VBox:
    """Return the labeller: two completions per row side by side, A/B/tie/skip/back, labels saved to a JSONL file."""
    return PreferenceLabeller(rows, path, seed, positions).root
