"""Vocabulary shared by models, import, validation and the UI."""

MIN_COMPLETIONS = 2
MAX_COMPLETIONS = 9
# Limits of a judgement, the same on the ranking page, the API and import (annotate.judgements
# checks them; the API's serializers document them). Annotation.time_ms is a 32-bit integer
# column (PositiveIntegerField): about 24 days.
MAX_TIME_MS = 2**31 - 1
MAX_COMMENT_LENGTH = 10_000
MAX_SKIP_REASON_LENGTH = 2_000

# After InstructGPT's labelling metadata (Ouyang et al. 2022, appendix B).
DEFAULT_FLAGS = [
    {"key": "fails_instruction", "label": "Fails to follow the instruction"},
    {"key": "hallucination", "label": "Hallucination / made-up facts"},
    {"key": "harmful", "label": "Harmful or unsafe advice"},
    {"key": "inappropriate_assistant", "label": "Inappropriate for a customer assistant"},
    {"key": "sexual", "label": "Sexual content"},
    {"key": "violent", "label": "Violent content"},
    {"key": "denigrates_protected_class", "label": "Denigrates a protected class"},
    {"key": "opinion", "label": "Expresses opinion"},
    {"key": "moral_judgement", "label": "Expresses moral judgement"},
]

DEFAULT_RATING_SCALE = {"min": 1, "max": 7, "label": "Overall quality"}

# Judging modes and their vocabulary (docs/judging.md). A pairwise strength is a magnitude
# 1..len(strength_levels), weakest first; the direction is the ranking's, which stays canonical.
JUDGING_RANKING = "ranking"
JUDGING_PAIRWISE = "pairwise_strength"
STRENGTH_PRESETS = {
    # HelpSteer3's 7-point scale -3..+3 without its 0 (the tie).
    "helpsteer3": ["slightly better", "better", "much better"],
    # Llama 2 (Touvron et al. 2023, section 3.2.1), weakest first.
    "llama2": ["negligibly better", "slightly better", "better", "significantly better"],
}
GAP_PRESETS = {"default": ["slightly", "clearly", "much"]}
TIE_KINDS = ("both_good", "both_bad")
JUDGING_MODES = [(JUDGING_RANKING, "Ranking (K outputs)"),
                 (JUDGING_PAIRWISE, "Pairwise with strength (K = 2)")]  # fmt: skip
RATIONALE_OFF, RATIONALE_OPTIONAL, RATIONALE_REQUIRED = "off", "optional", "required"
RATIONALE_CHOICES = [(RATIONALE_OFF, "No rationale box"), (RATIONALE_OPTIONAL, "Optional"),
                     (RATIONALE_REQUIRED, "Required")]  # fmt: skip
MAX_STRENGTH_LEVELS = 5  # 2 x 5 levels + 2 ties fill the number row (1..0, -, =)
MAX_GAP_LEVELS = 5
MAX_DIMENSIONS = 8
MAX_RATIONALE_LENGTH = 5_000
