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
