"""helpers/workarounds.py against the installed libraries: a moved pin or a problem that has gone fails here."""

import inspect
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from helpers import workarounds

ROOT = Path(__file__).resolve().parent.parent


def test_every_workaround_is_registered_with_the_installed_and_pinned_version():
    public = {name for name, value in vars(workarounds).items()
              if inspect.isfunction(value) and value.__module__ == workarounds.__name__ and not name.startswith("_")}
    assert public == set(workarounds.WRITTEN_FOR), "every workaround names the version it was written for"
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (ROOT / "requirements-colab.txt").read_text(), re.MULTILINE))
    for name, written_for in {**workarounds.WRITTEN_FOR, **workarounds.PRIVATE_INTERNALS}.items():
        library, expected = written_for.split("==")
        assert pins[library] == expected, f"{library} is pinned at {pins[library]}: re-check workaround {name} ({written_for})"
        assert version(library) == expected, f"{library} {version(library)} is installed: re-check workaround {name}"


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (what a library does at import happens only once per process)."""
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=300)


def test_distilabel_still_installs_rich_tracebacks_and_warns_at_import():
    result = run_python("import sys, distilabel.models; print(sys.excepthook is sys.__excepthook__)")
    assert result.stdout.strip() == "False", "distilabel no longer installs rich tracebacks: remove restore_plain_tracebacks"
    assert "The 'default' attribute with value None was provided to the `Field()`" in result.stderr, \
        "distilabel's import no longer warns: remove that filter from quiet_distilabel"
    result = run_python("import sys, helpers; print(sys.excepthook is sys.__excepthook__)")
    assert result.stdout.strip() == "True" and "The 'default' attribute" not in result.stderr


# The data folder of one small pipeline, as the process that builds it sees it (the same name and steps every time).
DATA_FOLDER = """{imports}
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts
with Pipeline(name="kit-same-pipeline") as pipeline:
    LoadDataFromDicts(data=[{{"instruction": "Why is the sky blue?"}}])
print(pipeline._cache_location["data"])
"""


def read_env_without_pipeline_folder() -> dict:
    """Return this environment without a chosen distilabel folder or its owner mark (a learner's fresh shell)."""
    return {key: value for key, value in os.environ.items()
            if key not in ("DISTILABEL_CACHE_DIR", workarounds.PIPELINE_FOLDER_OWNER_ENV)}


def read_data_folder(imports: str = "", env: dict | None = None) -> str:
    """Return the data folder a fresh process gives the same pipeline."""
    result = subprocess.run([sys.executable, "-c", DATA_FOLDER.format(imports=imports)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_distilabel_still_gives_one_pipeline_one_folder_in_every_process():
    env = read_env_without_pipeline_folder()
    first, second = read_data_folder(env=env), read_data_folder(env=env)
    assert first == second, "distilabel now separates concurrent runs: remove separate_pipeline_folders"


def test_every_process_that_imports_helpers_has_its_own_pipeline_folder(tmp_path):
    env = read_env_without_pipeline_folder()
    first, second = read_data_folder("import helpers", env), read_data_folder("import helpers", env)
    assert first != second
    assert not Path(first).parents[2].exists()  # removed when its process ended
    # A kernel started by a kit process (the grader, a test worker) gets its own folder, not its parent's.
    parent = {**env, "DISTILABEL_CACHE_DIR": str(tmp_path / "parent"), workarounds.PIPELINE_FOLDER_OWNER_ENV: "1"}
    assert not read_data_folder("import helpers", parent).startswith(str(tmp_path))
    # A folder the learner chose is kept.
    mine = {**env, "DISTILABEL_CACHE_DIR": str(tmp_path / "mine")}
    assert read_data_folder("import helpers", mine).startswith(str(tmp_path / "mine"))


def test_distilabel_still_greets_a_task_without_a_pipeline():
    from distilabel.steps.base import _Step

    assert "hasn't received a pipeline" in inspect.getsource(_Step), "remove the distilabel.step.None logger setting"


def test_distilabel_still_leaves_a_queue_handler_on_the_root_logger():
    from distilabel.utils import logging as distilabel_logging

    assert "root_logger.addHandler(QueueHandler(" in inspect.getsource(distilabel_logging), "remove remove_closed_log_queues"


def test_distilabel_still_hands_structured_output_to_outlines():
    from distilabel.models import TransformersLLM
    from distilabel.steps.tasks.base import _Task

    assert "_is_outlines_version_below_0_1_0" in inspect.getsource(TransformersLLM.load), "re-check load_without_outlines"
    assert 'dependency = "outlines"' in inspect.getsource(_Task._set_default_structured_output), "re-check give_default_schema"


def test_distilabel_still_reloads_weights_and_reads_generate_signature():
    from distilabel.models import TransformersLLM
    from distilabel.models.llms.base import LLM

    assert "pipeline(" in inspect.getsource(TransformersLLM.load), "TransformersLLM.load changed: re-check finish_load"
    assert "inspect.signature(self.generate)" in inspect.getsource(LLM.generate_parameters.fget), \
        "re-check read_generate_signature"
    from helpers.llm import KitTransformersLLM

    assert inspect.signature(KitTransformersLLM.generate) == inspect.signature(TransformersLLM.generate)


def test_the_private_parts_the_kit_uses_are_still_used_as_it_assumes():
    from distilabel.models import TransformersLLM
    from distilabel.steps.tasks.base import _Task

    generate, load = inspect.getsource(TransformersLLM.generate), inspect.getsource(TransformersLLM.load)
    assert "logits_processor=self._logits_processor" in generate, "generate() no longer passes _logits_processor"
    assert "self._pipeline(" in generate and "self._pipeline = pipeline(" in load, "TransformersLLM._pipeline changed"
    assert "self._prepare_structured_output(" in load, "load() no longer calls _prepare_structured_output"
    assert "self._set_default_structured_output()" in inspect.getsource(_Task.load), "Task.load changed"


def test_ultrafeedback_still_has_no_system_prompt_field():
    from distilabel.steps.tasks import UltraFeedback

    assert "system_prompt" not in UltraFeedback.model_fields, "UltraFeedback has a system_prompt field now: use it"
    assert "_system_prompt" in UltraFeedback.__private_attributes__, "re-check set_ultrafeedback_system_prompt"


def test_transformers_pipeline_still_keeps_its_batch_size_private():
    from transformers import Pipeline

    assert "self._batch_size" in inspect.getsource(Pipeline.__init__), "re-check set_pipeline_batch_size"


@pytest.fixture(scope="module")
def converted_by_transformers():
    """SmolLM2's tokenizer as transformers converts the GGUF, without the kit's repairs."""
    from transformers import AutoTokenizer

    from helpers.models import find_gguf

    gguf = find_gguf()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def test_transformers_still_converts_smollm2_special_tokens_wrongly(converted_by_transformers):
    assert converted_by_transformers.eos_token != "<|im_end|>", "the GGUF conversion is right now: remove fix_gguf_special_tokens"


def test_transformers_still_gives_a_decoder_sequence_that_llguidance_misreads(converted_by_transformers):
    import json

    spec = json.loads(converted_by_transformers.backend_tokenizer.to_str())
    assert spec["decoder"]["type"] == "Sequence", "the decoder is plain now: remove repair_byte_level_decoder"
    assert workarounds.repair_byte_level_decoder(spec)["decoder"]["type"] == "ByteLevel"
    plain = {"pre_tokenizer": {"type": "Metaspace"}, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel"}]}}
    assert workarounds.repair_byte_level_decoder(plain) == plain  # not byte-level BPE: left as it is


def test_transformers_still_builds_a_unigram_tokenizer_for_gemma(tmp_path):
    from helpers import gemma

    if os.environ.get("KIT_REQUIRE_GEMMA") != "1":
        pytest.importorskip(gemma.GEMMA_PACKAGE, reason="cài bằng `make gemma`")
    import json

    from transformers import AutoTokenizer

    gguf = gemma.assemble_gemma_gguf(gemma.import_gemma_package(), tmp_path)
    spec = json.loads(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).backend_tokenizer.to_str())
    assert spec["model"]["type"] == "Unigram", "transformers builds Gemma's BPE itself now: remove build_gemma_tokenizer"


def test_a_gguf_loaded_tensor_by_tensor_has_transformers_own_weights_in_less_memory():
    """SmolLM2 (llama: its q/k tensors are permuted by transformers' processor) in bf16, both ways, weight for weight."""
    code = """
import sys, torch
from transformers import AutoModelForCausalLM
from helpers.models import find_gguf
from helpers.memory import read_peak_memory_mb
from helpers.workarounds import load_gguf_model_in_dtype
gguf = find_gguf()
if sys.argv[1] == "kit":
    model = load_gguf_model_in_dtype(gguf, "bfloat16")
else:
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
torch.save(model.state_dict(), sys.argv[2])
print(read_peak_memory_mb())  # this process's own peak, not the parent pytest's (helpers/memory.py)
"""
    import torch

    peaks, states = {}, {}
    paths = {way: Path(os.environ.get("TMPDIR", "/tmp")) / f"kit-gguf-{way}-{os.getpid()}.pt" for way in ("kit", "transformers")}
    # Both ways at once, one process each (each reports its own peak): the two loads take half the time on 2 cores.
    running = {way: subprocess.Popen([sys.executable, "-c", code, way, str(path)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT) for way, path in paths.items()}
    try:
        for way, process in running.items():
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-2000:]
            peaks[way] = int(out.strip().splitlines()[-1])
            states[way] = torch.load(paths[way])
    finally:  # one way failing or timing out must not leave the other process, or either file, behind
        for way, process in running.items():
            process.kill()
            process.wait()
            paths[way].unlink(missing_ok=True)
    assert states["kit"].keys() == states["transformers"].keys()
    assert all(states["kit"][key].dtype == torch.bfloat16 for key in states["kit"])
    assert all(torch.equal(states["kit"][key], states["transformers"][key]) for key in states["kit"])
    # transformers holds every tensor in float32 before it builds the model: for a 1.5B model that is 7 GB more.
    assert peaks["kit"] < peaks["transformers"], peaks
