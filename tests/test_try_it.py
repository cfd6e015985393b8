"""Every "Tự thử" (try it yourself) task of the notebooks runs as written, with the kit as it is.

Each task's code is read from the notebook's "## Tự thử" section itself and executed, on small inputs, in a
namespace built from the notebook's own import cell. A call written in a section but missing here fails
test_every_try_it_call_is_tested, so the text cannot promise a task that no test has run.
"""

import contextlib
import io
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NB01, NB02, NB03, NB04, NB05 = (
    "notebooks/01_model_pooling.ipynb",
    "notebooks/02_evol_quality.ipynb",
    "notebooks/03_ultrafeedback.ipynb",
    "notebooks/04_best_practices.ipynb",
    "notebooks/05_train_dpo.ipynb",
)
HEADING = "## Tự thử"
FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")

# The calls each section asks the learner to run, as written there: each entry is the start of one call.
# Notebook 04 has no Tự thử section (its widget cells are the hands-on part).
TESTED = {
    NB01: [
        "same = run_pooling(",
        'print(describe_preset(choose_preset("course")))',
    ],
    NB02: [
        'evolve(rows, "DEEPENING", max_new_tokens=128)',
        'rows_b = [{"instruction": r["instruction"], "response": r["grouped_generation"][1]} for r in pooled]',
        'evolve(rows_b, "HELPFULNESS", max_new_tokens=128)',
        'evolve(rows, "HELPFULNESS", max_new_tokens=256)',
    ],
    NB03: [
        'honest_judge = build_judge(aspect="honesty", model="smollm2-135m")',
        "honest_judge.load()",
        "rate(honest_judge, rows)",
        'rate(judge, [{**rows[0], "generations": rows[0]["generations"][::-1]}])',
        'wrong = build_sanity_rows([{"instruction": "What is the capital of France?", "good": "The capital of France is Paris.", "bad": "The capital of France is Berlin."}])',
        "score_judge([{**row, **out} for row, out in zip(wrong, rate(judge, wrong))])",
        "score_judge(rate(big_judge, wrong), scored_alone=True)",
    ],
    NB05: [
        'config = make_cpu_dpo_config("../artifacts/dpo-cpu", max_steps=60)',
        'config = make_cpu_dpo_config("../artifacts/dpo-cpu", beta=0.5)',
        "train_dpo(dataset, config, trainable_layers=None)",
        '_, _, log = train_dpo(fact_pairs, make_cpu_dpo_config("../artifacts/dpo-cpu-facts"), held_out=known_pairs)',
        "print(format_table(summarize_evaluations(log)))",
    ],
}


def read_section(path: str) -> str:
    """Return the text of a notebook's "Tự thử" section: from its heading to the next heading or the "Tiếp theo:" line."""
    nb = nbformat.read(ROOT / path, as_version=4)
    cells = [cell.source for cell in nb.cells if cell.cell_type == "markdown" and HEADING in cell.source]
    if not cells:
        return ""
    assert len(cells) == 1, f"{path}: more than one Tự thử section"
    section = cells[0].split(HEADING, 1)[1]
    # Headings and "Tiếp theo:" outside fenced code end the section (a `# comment` inside a code block does not).
    outside = FENCED.sub(lambda match: "x" * len(match[0]), section)
    end = re.search(r"\n#+ |\nTiếp theo:", outside)
    return section[: end.start()] if end else section


def read_calls(path: str) -> list[str]:
    """Return the code a section asks to run: its fenced blocks, and every inline code span that calls or assigns."""
    section = read_section(path)
    blocks = [textwrap.dedent(block) for block in FENCED.findall(section)]
    inline = [span for span in INLINE.findall(FENCED.sub("", section)) if "(" in span or " = " in span]
    return blocks + inline


def find_call(path: str, start: str) -> str:
    """Return the one call of a notebook's section that starts with ``start`` (it must be there)."""
    found = [call for call in read_calls(path) if call.startswith(start)]
    assert len(found) == 1, f"{path}: «{start}» not in its Tự thử section: {read_calls(path)}"
    return found[0]


def import_namespace(path: str) -> dict:
    """Return the names a notebook's import cell defines (the first code cell after the setup cell)."""
    nb = nbformat.read(ROOT / path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    namespace = {}
    exec(code[1], namespace)
    return namespace


def run(path: str, start: str, namespace: dict):
    """Run a section's call in a namespace; return the value of its last expression (or None) and what it printed."""
    call = find_call(path, start)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            value = eval(compile(call, path, "eval"), namespace)
        except SyntaxError:
            exec(compile(call, path, "exec"), namespace)
            value = None
    return value, out.getvalue()


@pytest.mark.parametrize("path", [NB01, NB02, NB03, NB04, NB05])
def test_every_try_it_call_is_tested(path):
    # A section that disappears (a renamed heading) must not pass by having nothing to test.
    assert bool(read_section(path).strip()) == (path in TESTED), f"{path}: Tự thử section present = {path not in TESTED}"
    calls = read_calls(path)
    untested = [call for call in calls if not any(call.startswith(start) for start in TESTED.get(path, []))]
    assert not untested, f"{path}: Tự thử calls no test runs: {untested}"
    for start in TESTED.get(path, []):
        find_call(path, start)


def test_01_same_configuration_for_both_generators_and_the_course_preset(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    namespace = import_namespace(NB01)
    namespace.update(instructions=["How do vaccines work?"], preset=namespace["choose_preset"]())
    _, printed = run(NB01, "same = run_pooling(", namespace)
    (same,) = namespace["same"]
    first, second = same["grouped_generation"]
    # Same model, same system prompt, both greedy: the two generators write the same text, and the table says so.
    assert first == second
    assert printed.strip().splitlines()[-1].split()[-3:] == ["1.0", "1.0", "True"], printed
    _, printed = run(NB01, 'print(describe_preset(choose_preset("course")))', namespace)
    assert "SmolLM2-1.7B-Instruct" in printed and "Qwen2.5-1.5B-Instruct" in printed


def test_02_other_criterion_generator_b_longer_rewrites_and_three_evolutions(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    namespace = import_namespace(NB02)
    namespace["rows"] = [{"instruction": "Why is the sky blue?", "response": "Air scatters blue light more than red light."}]
    namespace["pooled"] = [{
        "instruction": "Why is the sky blue?",
        "grouped_generation": ["Air scatters blue light more than red light.", "Because of the ocean."],
        "grouped_model_name": ["A", "B"],
    }]
    for start in ('evolve(rows, "DEEPENING", max_new_tokens=128)', 'evolve(rows, "HELPFULNESS", max_new_tokens=256)'):
        (row,) = run(NB02, start, namespace)[0]
        assert row["evolved_response"].strip() and row["response"] == namespace["rows"][0]["response"]
    run(NB02, "rows_b = [", namespace)
    (row,) = run(NB02, 'evolve(rows_b, "HELPFULNESS", max_new_tokens=128)', namespace)[0]
    assert row["response"] == "Because of the ocean." and row["evolved_response"].strip()
    # "num_evolutions=3 in the evol_chain cell": that cell, as the notebook has it, with the one change the task asks.
    assert "num_evolutions=3" in read_section(NB02)
    nb = nbformat.read(ROOT / NB02, as_version=4)
    (cell,) = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("evol_chain = EvolQuality(")]
    assert "num_evolutions=2," in cell
    exec("from distilabel.steps.tasks import EvolQuality\n"
         "from distilabel.steps.tasks.evol_quality.utils import MUTATION_TEMPLATES\n"
         "from helpers.presets import load_llm", namespace)
    exec(cell.replace("num_evolutions=2,", "num_evolutions=3,"), namespace)
    responses = namespace["chain"]["evolved_responses"]
    assert len(responses) == 4 and responses[0] == namespace["rows"][0]["response"]


def test_03_other_aspect_swapped_order_and_a_false_answer(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    namespace = import_namespace(NB03)
    namespace["rows"] = [{"instruction": "What is 2 + 2?", "generations": ["2 + 2 = 4.", "2 + 2 = 5."], "generation_models": ["A", "B"]}]
    namespace["judge"] = namespace["build_judge"](structured=True, num_completions=2, model="smollm2-135m")
    namespace["judge"].load()
    # The preset's 1.5B judge rates by token probabilities; the same task on the 135M model keeps this test small.
    namespace["big_judge"] = namespace["build_judge"](model="smollm2-135m", method="probs")
    namespace["big_judge"].load()
    run(NB03, 'honest_judge = build_judge(aspect="honesty", model="smollm2-135m")', namespace)
    run(NB03, "honest_judge.load()", namespace)
    (rated,) = run(NB03, "rate(honest_judge, rows)", namespace)[0]
    assert namespace["honest_judge"].aspect == "honesty" and all(r in (1, 2, 3, 4, 5) for r in rated["ratings"])
    (swapped,) = run(NB03, "rate(judge, [{**rows[0]", namespace)[0]
    assert swapped["generations"] == ["2 + 2 = 5.", "2 + 2 = 4."] and len(swapped["ratings"]) == 2
    run(NB03, "wrong = build_sanity_rows(", namespace)
    assert [row["generations"][row["good_index"]] for row in namespace["wrong"]] == ["The capital of France is Paris."] * 2
    scores = run(NB03, "score_judge([{**row, **out}", namespace)[0]
    assert scores["judgements"] == 2 and scores["invalid"] == 0
    scores = run(NB03, "score_judge(rate(big_judge, wrong)", namespace)[0]
    assert scores["judgements"] == 2 and scores["invalid"] == 0 and scores["first_position_wins"] is None


def test_05_longer_training_another_beta_and_every_block(tmp_path, monkeypatch):
    from helpers.dpo import to_dataset

    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # the notebook's "../artifacts/dpo-cpu"
    namespace = import_namespace(NB05)
    run(NB05, 'config = make_cpu_dpo_config("../artifacts/dpo-cpu", max_steps=60)', namespace)
    assert namespace["config"].max_steps == 60
    run(NB05, 'config = make_cpu_dpo_config("../artifacts/dpo-cpu", beta=0.5)', namespace)
    assert namespace["config"].beta == 0.5
    # Every block trained, for two short steps (the task's 30 steps take minutes with all blocks).
    namespace["config"] = namespace["make_cpu_dpo_config"](tmp_path / "out", max_steps=2, max_length=64, beta=0.5)
    namespace["dataset"] = to_dataset([
        {"prompt": "What is 2 + 2?", "chosen": "2 + 2 equals 4.", "rejected": "2 + 2 equals 5."},
        {"prompt": "Name a primary colour.", "chosen": "Red is a primary colour.", "rejected": "Banana."},
    ], style="conversational")
    model, _, log_history = run(NB05, "train_dpo(dataset, config, trainable_layers=None)", namespace)[0]
    assert all(parameter.requires_grad for parameter in model.parameters())
    assert [entry["step"] for entry in log_history if "loss" in entry] == [1, 2]


def test_05_second_training_like_the_first(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    namespace = import_namespace(NB05)
    # The call as written, on 2 pairs of each set and for 2 short steps (30 steps on 24 pairs take about a minute).
    make_config, configs = namespace["make_cpu_dpo_config"], []

    def make_short_config(output_dir, **kwargs):
        configs.append(make_config(output_dir, max_steps=2, max_length=64, **kwargs))
        return configs[-1]

    namespace["make_cpu_dpo_config"] = make_short_config
    namespace["fact_pairs"] = namespace["load_fact_pairs"]().select(range(2))
    namespace["known_pairs"] = namespace["load_held_out_pairs"]().select(range(2))
    train_dpo, trained = namespace["train_dpo"], []
    namespace["train_dpo"] = lambda *args, **kwargs: trained.append(train_dpo(*args, **kwargs)) or trained[-1]
    run(NB05, "_, _, log = train_dpo(fact_pairs, make_cpu_dpo_config(", namespace)
    (model, _, log_history), = trained
    assert namespace["log"] is log_history
    assert [config.learning_rate for config in configs] == [1e-5]  # the first run's step size, as the task says
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    assert trainable and len(trainable) < len(list(model.parameters()))  # the first run's default: the last blocks only
    evaluated = {(entry["eval_set"], entry["step"]) for entry in log_history if "eval_set" in entry}
    assert evaluated == {("trained", 0), ("held_out", 0), ("trained", 2), ("held_out", 2)}
    table = run(NB05, "print(format_table(summarize_evaluations(log)))", namespace)[1]
    assert table.count("chưa học") == 2 and table.count("đã học") == 2
