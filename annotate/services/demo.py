"""Demo projects and users, so a fresh checkout has something to rank straight away."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from annotate.demo import parrots
from annotate.models import Project
from annotate.services.imports import prompts_import
from annotate.services.project_admin import project_setup
from annotate.services.projects import project_get_or_create
from annotate.services.users import memberships_ensure, user_create
from core.roles import Roles

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
OASST_FILE = DEMO_DIR / "oasst_en_100_message.jsonl.gz"
DEMO_PASSWORD = "rankwise-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    roles: tuple[str, ...]
    is_superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", (Roles.ADMIN,), is_superuser=True),
    DemoUser("reviewer", (Roles.REVIEWER,)),
    DemoUser("alice", (Roles.ANNOTATOR,)),
    DemoUser("bob", (Roles.ANNOTATOR,)),
    DemoUser("carol", (Roles.ANNOTATOR,)),
    DemoUser("mlengineer", (Roles.ML_ENGINEER,)),
)


def _parrots_lines() -> list[dict]:
    lines = [
        {
            "id": "parrots-special",
            "prompt": parrots.PROMPT,
            "completions": [
                {"id": cid, "text": text, "model": "sft-demo"} for cid, text in parrots.COMPLETIONS
            ],
            "metadata": {"source": "InstructGPT figure 2 (texts: Rankwise)"},
        }
    ]
    for external_id, prompt, completions in parrots.EXTRA_PROMPTS:
        lines.append({
            "id": external_id,
            "prompt": prompt,
            "completions": [{"id": cid, "text": text, "model": "sft-demo"} for cid, text in completions],
        })  # fmt: skip
    return lines


@transaction.atomic
def demo_load(*, password: str = DEMO_PASSWORD) -> dict:
    """Create the demo users and the two demo projects; running it again changes nothing."""
    User = get_user_model()
    users = []
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = user_create(
                username=spec.username, password=password, roles=spec.roles,
                is_staff=spec.is_superuser, is_superuser=spec.is_superuser,
            )  # fmt: skip
        users.append(user)

    parrots_project, _ = project_get_or_create(
        slug="parrots", name="Parrots (InstructGPT example)", instructions=parrots.INSTRUCTIONS
    )
    data = "\n".join(json.dumps(line) for line in _parrots_lines()).encode()
    parrots_result = prompts_import(project=parrots_project, source=io.BytesIO(data))

    oasst_project, _ = project_get_or_create(
        slug="oasst",
        name="Open-Assistant sample",
        instructions="Rank the assistant replies to the conversation, best first. "
        "Data: Open-Assistant (Apache-2.0).",
    )
    oasst_result = prompts_import(project=oasst_project, source=OASST_FILE, fmt="oasst")

    pairs_project, pairs_result = _pairs_demo()
    for project in (parrots_project, oasst_project, pairs_project):
        memberships_ensure(project=project, user_ids=[u.pk for u in users])
    return {
        "users": [(spec.username, spec.roles) for spec in DEMO_USERS],
        "password": password,
        "projects": {
            parrots_project.slug: parrots_result.as_dict(),
            oasst_project.slug: oasst_result.as_dict(),
            pairs_project.slug: pairs_result.as_dict(),
        },
    }


PAIRS = (
    ("How long do pet parrots live?", "Many live 20 to 80 years, depending on the species.",
     "About a year."),
    ("Is it safe to feed a parrot avocado?", "No: avocado is toxic to parrots.",
     "Yes, it is a healthy treat."),
    ("Name a bird that can mimic speech.", "The African grey parrot.", "The penguin."),
)  # fmt: skip


def _pairs_demo():
    """The judging extras (docs/judging.md): pairwise strength on the -3..+3 scale, three
    dimensions and a rationale box."""
    project = Project.objects.filter(slug="parrot-pairs").first() or project_setup(
        name="Parrot pairs (strength and dimensions)", slug="parrot-pairs",
        instructions="Which reply is better, and by how much? Then judge each dimension.",
        judging_mode="pairwise_strength", strength_levels="helpsteer3", rationale="optional",
        dimensions=[
            {"key": "helpfulness", "name": "Helpfulness", "instructions": "Which reply helps more?"},
            {"key": "harmlessness", "name": "Harmlessness", "instructions": "Which is safer?"},
            {"key": "honesty", "name": "Honesty", "instructions": "Which is more truthful?"},
        ],
    )  # fmt: skip
    lines = [{"id": f"pair-{i}", "prompt": q, "completions": [a, b]}
             for i, (q, a, b) in enumerate(PAIRS, 1)]  # fmt: skip
    data = "\n".join(json.dumps(line) for line in lines).encode()
    return project, prompts_import(project=project, source=io.BytesIO(data))
