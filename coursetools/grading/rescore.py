"""Step 4b, rescore: the ratings a run reports as its judge's are scored again by the preset's judge, outside the kernel.

The released checks see only the ratings the learner's code reports: ratings made up to be consistent (a margin here,
a tie there) would pass them. So, in the recheck's fresh process (recheck.run_checks), every rating that
``check_ratings`` accepted is compared with the preset judge's own score of the same text: every score that the
grader's reference run recorded (helpers/replay.py: free), and ``SAMPLE`` other texts picked at random and scored anew
(a learner cannot tell which). The exercise asks for the preset's judge (``build_judge``): a rating it would not give is
a made-up rating. Only a judge that scores from token probabilities is rescored (a JSON judge generates its ratings).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SAMPLE = 4  # texts scored anew per check, among those whose scores the reference run did not record
# Scores are rounded to 2 decimals; the same text, settings and threads give the same number (tests/test_replay.py).
TOLERANCE = 0.05


@dataclass(frozen=True)
class Claim:
    """One rating a run reports: where it is, the text it rates and its value."""

    row: int  # 1-based, as the checks number rows
    completion: int  # 1-based
    instruction: str
    text: str
    rating: float


def find_claims(rows) -> list[Claim]:
    """Return every numeric rating of rated rows (already accepted by check_ratings), with its text."""
    claims = []
    for number, row in enumerate(rows, start=1):
        for index, (text, rating) in enumerate(zip(row["generations"], row["ratings"]), start=1):
            if isinstance(rating, (int, float)) and not isinstance(rating, bool) and isinstance(text, str):
                claims.append(Claim(number, index, row["instruction"], text, float(rating)))
    return claims


def find_wrong_rating(rows, sample: int = SAMPLE, rng: random.Random | None = None) -> str:
    """Return how one of the rows' ratings differs from the preset judge's score of its text, or "" if none does."""
    from helpers import replay
    from helpers.judge import PROBE_INSTRUCTION, build_judge, build_score_prompt, make_score_keys, score_prompts
    from helpers.presets import get_role

    claims = find_claims(rows)
    if not claims or get_role("judge").scoring != "probs":
        return ""
    judge = build_judge()
    judge.load()
    prompts = {claim: build_score_prompt(judge, claim.instruction, claim.text) for claim in claims}
    probe = build_score_prompt(judge, PROBE_INSTRUCTION, "-")  # as the judge's task scores (TokenProbUltraFeedback)
    keys = make_score_keys(judge, list(prompts.values()), True, probe)
    expected = {claim: replay.find_recorded(keys[prompt]) for claim, prompt in prompts.items()}
    unrecorded = [claim for claim, score in expected.items() if score is None]
    chosen = (rng or random.SystemRandom()).sample(unrecorded, min(sample, len(unrecorded)))
    pipe = judge.llm._pipeline
    for claim, score in zip(chosen, score_prompts(pipe.model, pipe.tokenizer, [prompts[c] for c in chosen], True, probe)):
        expected[claim] = score
    for claim in claims:
        score = expected[claim]
        if score is not None and abs(claim.rating - score) > TOLERANCE:
            return (f"hàng {claim.row}, phần hoàn thành {claim.completion}: điểm ghi là {claim.rating:g}, nhưng giám khảo của "
                    f"preset ({judge.llm.model_name}) chấm lại văn bản đó được {score:g} — điểm phải do build_judge() chấm, "
                    "không sửa hay tự đặt điểm.")
    return ""
