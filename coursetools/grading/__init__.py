"""Instructor grading: run every learner notebook of a folder with nbval and the released exercise's check cells.

Usage (``make grade DIR=... [JOBS=N] [TIMEOUT=...] [REFERENCE=...]`` calls this)::

    python -m coursetools grade FOLDER [--reference PATH] [--jobs N] [--timeout SECONDS] [--out OUTDIR] [--no-sandbox]

* FOLDER: the learners' notebooks; every ``*.ipynb`` directly inside it is graded.
* --reference: the released exercise notebook, whose check cells are the truth (default
  ``exercises/preference_dpo_dataset.ipynb``); it must hold at least one check.
* --jobs: notebooks graded at once (default 1); they share the CPU and memory.
* --timeout: seconds allowed for one whole notebook, kernel start included (default 900).
* --out: where ``grades.csv``, ``grades.txt`` and ``feedback/`` go (default ``grading-<FOLDER name>`` next to FOLDER).
* --no-sandbox: run the learners' code without bubblewrap, as the instructor's user; every row says so.

One notebook goes through small steps, one module each, that hand typed values on:

1. ``prepare`` — read it, put the released check cells in place, drop stored outputs → ``Prepared``.
2. ``execute`` — run it with nbval in a temporary folder inside bubblewrap → ``Artefacts`` (how it ended, pytest's
   output and junit report read back as untrusted files, whether its kit copy changed, its dataset folder).
3. ``extract`` — parse the report or the progress lines → ``Outcomes``; check the saved dataset in the grader.
4. ``recheck`` — the released checks again, in a fresh ``python -I`` process with the pristine kit, on the values the
   run dumped as plain JSON; then ``verdict`` — each check's value, the notebook's status and detail (the row).
5. ``report`` — grades.csv, grades.txt, feedback/.

``pipeline`` chains them for a notebook and a folder (jobs, the kit's hashes, Ctrl+C), ``cli`` is the command line,
``labels`` holds the Vietnamese words they share. This package imports none of them: the fresh process of ``recheck``
loads only what it needs.
"""
