"""The InstructGPT ranking illustration, with texts of our own: five outputs about parrots."""

PROMPT = "Explain to a curious ten-year-old what makes parrots special."

INSTRUCTIONS = """\
Rank the outputs from **best** to **worst** for the prompt shown.

- Prefer outputs that are *helpful*, *truthful* and *harmless*, in that order of attention.
- Put outputs of equal quality in the same rank (a tie).
- Rate each output's overall quality from 1 (terrible) to 7 (excellent) and flag problems.

Keyboard: focus an output with its letter or the arrow keys, press a digit to put it in that
rank, **Enter** submits, **s** skips, **?** lists every shortcut.
"""

COMPLETIONS = [
    (
        "A",
        "Parrots are among the few animals that can copy human speech. They have a flexible "
        "tongue and a voice box called the syrinx, so an African grey can learn hundreds of "
        'words and even use some of them at the right moment, like saying "bye" when you '
        "pick up your keys.",
    ),
    (
        "B",
        "Parrots make sound by pushing air past thin membranes in the syrinx, an organ where "
        "the windpipe splits in two. By tightening muscles around it they change the pitch, "
        "which is how they whistle, squawk and click.",
    ),
    (
        "C",
        "Some parrots seem to understand numbers. In experiments, an African grey called Alex "
        "could say how many objects were on a tray, up to about six, and tell which of two "
        "groups held more.",
    ),
    (
        "D",
        "Parrots experience the world differently from us. They see ultraviolet light, so "
        "feathers that look plain green to us can shine with patterns to another parrot, and "
        "they hear fast changes in sound that our ears blur together.",
    ),
    (
        "E",
        "Parrots can tell apart the same sounds played in a different order. Trained birds "
        "noticed when the notes of a short tune were swapped around, a skill that helps them "
        "learn the calls of their own flock.",
    ),
]

# The illustration's ranking: A > C > D = E > B.
EXAMPLE_RANKING = [["A"], ["C"], ["D", "E"], ["B"]]

EXTRA_PROMPTS = [
    (
        "parrots-lifespan",
        "How long do pet parrots live?",
        [
            ("A", "It depends on the species: budgies often live 5-10 years, while large "
             "parrots such as macaws and African greys can live 40-60 years or more."),
            ("B", "Parrots live about two years, like most small pets."),
            ("C", "Many parrots outlive their owners, so people who adopt a large parrot "
             "should plan who will care for it later."),
        ],
    ),
    (
        "parrots-diet",
        "What should I feed a pet parrot?",
        [
            ("A", "A balanced pellet food, fresh vegetables and some fruit, with seeds only as "
             "treats. Never give chocolate or avocado: both are toxic to parrots."),
            ("B", "Seeds are all a parrot needs."),
            ("C", "Ask an avian vet: needs differ between species, but pellets plus vegetables "
             "are the usual base."),
            ("D", "<script>alert('xss')</script> Feed it <img src=x onerror=alert(1)> anything "
             "you eat."),
        ],
    ),
]  # fmt: skip
