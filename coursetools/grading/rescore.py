"""Step 4b, rescore: the ratings a run reports as its judge's are scored again by the preset's judge, outside the kernel.

The released checks see only the ratings the learner's code reports: ratings made up to be consistent (a margin here,
a tie there) would pass them. So, in the recheck's fresh process (recheck.run_checks), every rating that
``check_ratings`` accepted is compared with the preset judge's own score of the same text: the scores the grader's
reference run recorded (helpers/replay.py) cost nothing, the others are scored anew (the learner's kernel scored them
once already: about a second per text here). The exercise asks for the preset's judge (``build_judge``): a row that
names another judge, or a rating that judge would not give, fails ``ratings``. Only a judge that scores from token
probabilities is rescored (a JSON judge generates its ratings).
"""

from __future__ import annotations

from dataclasses import dataclass

# Scores are rounded to 2 decimals. The judge's task scores with a shared prefix; notebook 3's score_with_token_probs
# without one, which in bf16 rounds apart by up to ~0.1 (helpers/judge.py): both are the preset judge's scores. A made-up
# rating within 0.15 of the judge's cannot move a pair past the exercise's 0.5 margin by itself.
TOLERANCE = 0.15


@dataclass(frozen=True)
class Claim:
    """One rating a run reports: where it is, the text it rates, its value and the judge its row names."""

    row: int  # 1-based, as the checks number rows
    completion: int  # 1-based
    instruction: str
    text: str
    rating: float
    judge: str | None  # the row's model_name


def find_claims(rows) -> list[Claim]:
    """Return every numeric rating of rated rows (as check_ratings read them: each row a dict), with its text."""
    claims = []
    for number, row in enumerate(rows, start=1):
        row = dict(row)
        judge = row.get("model_name") if isinstance(row.get("model_name"), str) else None
        for index, (text, rating) in enumerate(zip(row["generations"], row["ratings"]), start=1):
            if isinstance(rating, (int, float)) and not isinstance(rating, bool) and isinstance(text, str):
                claims.append(Claim(number, index, str(row["instruction"]), text, float(rating), judge))
    return claims


def find_wrong_rating(claims: list[Claim]) -> str:
    """Return how one rating differs from the preset judge's score of its text (or names another judge), or ""."""
    from helpers import replay
    from helpers.judge import PROBE_INSTRUCTION, build_judge, build_score_prompt, make_score_keys, score_prompts
    from helpers.presets import get_role

    if not claims or get_role("judge").scoring != "probs":
        return ""
    judge = build_judge()
    name = judge.llm.model_name
    for claim in claims:
        if claim.judge is not None and claim.judge != name:
            return (f"hàng {claim.row} được chấm bởi '{claim.judge}', không phải giám khảo của preset ('{name}') — hãy chấm "
                    "bằng build_judge() của preset.")
    judge.load()
    prompts = {claim: build_score_prompt(judge, claim.instruction, claim.text) for claim in claims}
    probe = build_score_prompt(judge, PROBE_INSTRUCTION, "-")  # as the judge's task scores (TokenProbUltraFeedback)
    keys = make_score_keys(judge, list(prompts.values()), True, probe)
    expected = {claim: replay.find_recorded(keys[prompt]) for claim, prompt in prompts.items()}
    unrecorded = list(dict.fromkeys(prompt for claim, prompt in prompts.items() if expected[claim] is None))
    pipe = judge.llm._pipeline
    scored = dict(zip(unrecorded, score_prompts(pipe.model, pipe.tokenizer, unrecorded, True, probe)))
    for claim in claims:
        score = expected[claim] if expected[claim] is not None else scored[prompts[claim]]
        if abs(claim.rating - score) > TOLERANCE:
            return (f"hàng {claim.row}, phần hoàn thành {claim.completion}: điểm ghi là {claim.rating:g}, nhưng giám khảo của "
                    f"preset ({name}) chấm lại văn bản đó được {score:g} — điểm phải do build_judge() chấm, không sửa hay "
                    "tự đặt điểm.")
    return ""
