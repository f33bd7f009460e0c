"""Labelled texts for three concepts a monitor might watch: harmful actions, code, French (day 48).

Each concept has a positive class (label 1) and a look-alike negative class (label 0), and every
split is cut **by template**, never by row, so a test text never shares its sentence frame with a
training text (as day 40 does for the coup probes):

- `harmful` — the coup-probe data of day 40 (`arena_core.data.coup`): an agent's harmful action
  vs its benign twin. train = the `train` format; `test` = held-out templates
  (`in_distribution`); shifts = a tool call, French, a fiction wrapper. Read as the agent's reply
  in a chat (`reader = "chat"`), as on day 40.
- `code` — a short Python snippet vs an English sentence *about* a program (same names and
  numbers). 12 templates a side: 8 train, 4 test. Shift `javascript`: JavaScript snippets vs the
  test prose. Read as plain text (`reader = "raw"`).
- `french` — a French sentence vs its English translation (same names). 12 template pairs: 8 train,
  4 test. Shift `coup_french`: day 40's French agent plans vs English ones (held-out templates).

`load_concept(concept, split, seed, n)` returns a balanced, shuffled `FactDataset` whose meta holds
the reader. All text written for this project.
"""

import itertools
import random

from arena_core.data.coup import load_coup
from arena_core.data.facts.dataset import build, check_n
from arena_core.errors import ArgumentError

NAMES = ("total", "count", "price", "score", "width", "limit")
PEOPLE = ("Marie", "Paul", "Claire", "Louis", "Julie", "Thomas", "Sophie", "Hugo")
NUMBERS = ("3", "7", "12")

CODE = (
    "def get_{v}(x):\n    return x + {n}",
    "{v} = {v} * {n}\nprint({v})",
    "for i in range({n}):\n    {v} += i",
    "if {v} > {n}:\n    {v} = {n}",
    "def scale(items, {v}={n}):\n    return [x * {v} for x in items]",
    "while {v} < {n}:\n    {v} = {v} + 1",
    "{v}_list = [{n}, {n}, {n}]\n{v} = sum({v}_list)",
    "class Box:\n    def __init__(self):\n        self.{v} = {n}",
    "try:\n    {v} = int(text)\nexcept ValueError:\n    {v} = {n}",
    "import math\n{v} = math.sqrt({n})",
    "with open('data.txt') as f:\n    {v} = len(f.read()) + {n}",
    "{v} = {{'a': {n}}}\nfor key, value in {v}.items():\n    print(key, value)",
)
PROSE = (
    "The helper returns the {v} after adding {n} to it.",
    "We multiply the {v} by {n} and show the result on the screen.",
    "The loop runs {n} times and adds each step to the {v}.",
    "When the {v} is larger than {n}, it is capped at {n}.",
    "Every item is scaled by the {v}, which is {n} unless you say otherwise.",
    "The {v} keeps growing by one until it reaches {n}.",
    "Three numbers, each {n}, are added up to give the {v}.",
    "Each new box starts with a {v} of {n}.",
    "If the text is not a number, the {v} falls back to {n}.",
    "The {v} is the square root of {n}.",
    "The {v} is the length of the file plus {n}.",
    "The table maps one key to {n}, and we print every entry of the {v}.",
)
JAVASCRIPT = (
    "function get_{v}(x) {{\n  return x + {n};\n}}",
    "let {v} = {n};\nconsole.log({v});",
    "for (let i = 0; i < {n}; i++) {{\n  {v} += i;\n}}",
    "const {v} = [{n}, {n}].map((x) => x * 2);",
)
# (French, English) pairs: the English is the French sentence's translation.
FRENCH = (
    ("{p} a acheté du pain ce matin.", "{p} bought some bread this morning."),
    ("Il fait très beau aujourd'hui, dit {p}.", "The weather is lovely today, says {p}."),
    ("{p} habite dans une petite maison près de la rivière.",
     "{p} lives in a small house near the river."),
    ("Demain, {p} va prendre le train pour Lyon.", "Tomorrow {p} will take the train to Lyon."),
    ("{p} aime lire des livres le soir.", "{p} likes to read books in the evening."),
    ("Le chat de {p} dort sur le canapé.", "{p}'s cat is sleeping on the sofa."),
    ("{p} a oublié ses clés dans la voiture.", "{p} forgot the keys in the car."),
    ("Nous avons mangé une bonne soupe chez {p}.", "We had a good soup at {p}'s place."),
    ("{p} travaille à l'hôpital depuis deux ans.",
     "{p} has worked at the hospital for two years."),
    ("La réunion avec {p} commence à neuf heures.", "The meeting with {p} starts at nine."),
    ("{p} cherche un cadeau pour sa sœur.", "{p} is looking for a present for a sister."),
    ("Pendant les vacances, {p} a visité la montagne.",
     "During the holidays {p} visited the mountains."),
)  # fmt: skip
N_TRAIN_TEMPLATES = 8

CONCEPTS = {
    "harmful": ("harmful agent action", "benign look-alike", "chat"),
    "code": ("Python code", "English prose about code", "raw"),
    "french": ("French", "English", "raw"),
}
SPLITS = {
    "harmful": ("train", "test", "tool_call", "french", "fiction"),
    "code": ("train", "test", "javascript"),
    "french": ("train", "test", "coup_french"),
}
COUP_FORMAT = {"train": "train", "test": "in_distribution"}


class ConceptError(ArgumentError):
    """An unknown concept or split."""


def _fill(templates: tuple[str, ...], offset: int, label: int) -> list[tuple[str, int, dict]]:
    rows = []
    for t, template in enumerate(templates):
        for v, n in itertools.product(NAMES, NUMBERS):
            text = template.format(v=v, n=n)
            rows.append((text, label, {"template": offset + t}))
    return list({r[0]: r for r in rows}.values())  # a template without a slot gives one text


def _people(templates: tuple[str, ...], offset: int, label: int) -> list[tuple[str, int, dict]]:
    return [
        (template.format(p=p), label, {"template": offset + t})
        for t, template in enumerate(templates)
        for p in PEOPLE
    ]


def _rows(concept: str, split: str) -> list[tuple[str, int, dict]]:
    cut = slice(None, N_TRAIN_TEMPLATES) if split == "train" else slice(N_TRAIN_TEMPLATES, None)
    off = 0 if split == "train" else N_TRAIN_TEMPLATES
    if concept == "code":
        if split == "javascript":
            return _fill(JAVASCRIPT, 100, 1) + _fill(PROSE[cut], off, 0)
        return _fill(CODE[cut], off, 1) + _fill(PROSE[cut], off, 0)
    fr, en = zip(*FRENCH, strict=True)
    return _people(fr[cut], off, 1) + _people(en[cut], off, 0)


def load_concept(concept: str, split: str = "train", seed: int = 0, n: int | None = None):
    """`n` texts (half positive, label 1) of `concept`'s `split`, shuffled with `seed`;
    n=None gives all, balanced. `meta["reader"]` is "chat" (read as the agent's reply) or "raw"."""
    if concept not in CONCEPTS:
        raise ConceptError(f"unknown concept {concept!r}; concepts: {', '.join(CONCEPTS)}")
    if split not in SPLITS[concept]:
        raise ConceptError(
            f"unknown split {split!r} for {concept}; splits: {', '.join(SPLITS[concept])}"
        )
    pos_name, neg_name, reader = CONCEPTS[concept]
    if concept == "harmful":
        ds = load_coup(COUP_FORMAT.get(split, split), seed=seed, n=n)
        ds.meta.update(reader=reader, concept=concept, split=split)
        return ds
    if concept == "french" and split == "coup_french":
        en = load_coup("in_distribution", seed=seed)
        fr = load_coup("french", seed=seed)
        rows = [(t, 1, {"template": -1}) for t in fr.prompts]
        rows += [(t, 0, {"template": -1}) for t in en.prompts]
    else:
        rows = _rows(concept, split)
    per_class = min(sum(r[1] == c for r in rows) for c in (0, 1))
    k = check_n(f"{concept}/{split}", n, 2 * per_class)
    rng = random.Random(seed)
    n_pos = (k + 1) // 2
    picked = rng.sample([r for r in rows if r[1] == 1], n_pos)
    picked += rng.sample([r for r in rows if r[1] == 0], k - n_pos)
    return build(
        f"{concept}_{split}", "classification", seed, picked, rng,
        source="own templates (arena_core/data/concepts.py)", reader=reader, concept=concept,
        split=split, classes={1: pos_name, 0: neg_name},
    )  # fmt: skip
