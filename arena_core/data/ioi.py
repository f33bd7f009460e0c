"""Indirect-object-identification prompts (Wang et al. 2022), aligned token by token (days 52–58).

    "When Mary and John went to the store, John gave a drink to"  ->  " Mary"

The first clause names two people; the second repeats one of them, the subject S, as the giver; the
answer is the other, the indirect object IO. The order of the first clause gives two families:
ABBA (IO first: "Mary and John ... John gave ... to") and BABA (S first: "John and Mary ... John
gave ... to"). The metric is the logit difference logit(IO) − logit(S) at the last token.

Names come from the `names` package's census lists (the most frequent first), places and objects
from short lists here; every one of them is kept only if it is **one token** of the model's
tokenizer (with its leading space), so that every prompt of a template has the same length and the
IO, S1, S2 and END positions are the same column for all of them. `ioi_dataset` checks that the
prompt's tokens, built slot by slot, equal the tokenizer's own encoding of the whole text, so the
positions are exact.

Corrupted versions keep every position and change only names (`corrupt`):
- "abc": IO, S1 and S2 become three new distinct names (no name repeats, so no IO to find);
- "flip_s2": the second mention of S becomes the IO name (the repeated name is now the IO).
"""

import random
import re
from dataclasses import dataclass, field, replace

from arena_core.errors import UserError

#: Templates: {A} and {B} are the first clause's two names in order, {S} the repeated subject.
TEMPLATES = (
    "Then, {A} and {B} went to the {PLACE}. {S} gave a {OBJECT} to",
    "When {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to",
    "After {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to",
    "Then, {A} and {B} had a long argument. Afterwards {S} said to",
    "While {A} and {B} were working at the {PLACE}, {S} gave a {OBJECT} to",
    "Friends {A} and {B} found a {OBJECT} at the {PLACE}. {S} gave it to",
    "The {PLACE} was busy when {A} and {B} arrived. {S} handed the {OBJECT} to",
    "Then, {A} and {B} were thinking about going to the {PLACE}. {S} wanted to give a {OBJECT} to",
)
PLACES = ("store", "garden", "school", "station", "park", "hospital", "office", "restaurant",
          "house", "market", "library", "beach", "church", "airport", "museum", "farm")  # fmt: skip
OBJECTS = ("drink", "ring", "book", "kiss", "bone", "basketball", "computer", "necklace",
           "snack", "apple", "letter", "bottle", "ball", "key", "flower", "gift")  # fmt: skip
ORDERS = ("ABBA", "BABA")
CORRUPTIONS = ("abc", "flip_s2")


class IOIError(UserError, ValueError):
    """A request the IOI generator cannot meet (too many prompts, unknown order or template)."""


@dataclass(frozen=True)
class IOIPrompt:
    text: str
    io: str
    s: str
    order: str  # "ABBA" or "BABA"
    template: int  # index into TEMPLATES
    place: str
    obj: str
    s2: str = ""  # the name at the S2 slot (the subject, unless corrupted)
    c: str = ""  # a third name (the "abc" corruption)


@dataclass
class IOIDataset:
    prompts: list[IOIPrompt]
    tokens: list[list[int]]  # one token list per prompt (lengths differ between templates)
    io_ids: list[int]  # the single token of " IO"
    s_ids: list[int]  # the single token of " S"
    positions: list[dict[str, int]] = field(default_factory=list)  # IO, S1, S2, end per prompt
    corruption: str = "none"

    def __len__(self) -> int:
        return len(self.prompts)


def single_token_words(tokenizer, words, limit: int | None = None) -> list[str]:
    """The words (in order) whose space-prefixed form is one token; at most `limit` of them."""
    out = []
    for w in dict.fromkeys(words):  # keep order, drop repeats
        if len(tokenizer.encode(" " + w, add_special_tokens=False)) == 1:
            out.append(w)
            if limit is not None and len(out) == limit:
                break
    return out


def ioi_names(tokenizer, limit: int = 100) -> list[str]:
    """Census first names (male and female lists interleaved, most frequent first) that are a
    single token for `tokenizer`."""
    from arena_core.data.facts.first_names import census_names

    male, female = census_names("male"), census_names("female")
    mixed = [n for pair in zip(male, female, strict=False) for n in pair]
    return single_token_words(tokenizer, mixed, limit)


SLOT = re.compile(r" \{(A|B|S|PLACE|OBJECT)\}")  # every slot follows a space in TEMPLATES


def _encode_slots(tokenizer, template: str, values: dict[str, str], bos: int | None):
    """Tokens of the filled template built piece by piece, and the column of each slot's word."""
    tokens = [] if bos is None else [bos]
    pos: dict[str, int] = {}
    last = 0
    for m in SLOT.finditer(template):
        if m.start() > last:
            tokens += tokenizer.encode(template[last : m.start()], add_special_tokens=False)
        pos[m.group(1)] = len(tokens)
        tokens += tokenizer.encode(" " + values[m.group(1)], add_special_tokens=False)
        last = m.end()
    if last < len(template):
        tokens += tokenizer.encode(template[last:], add_special_tokens=False)
    return tokens, pos


def _build(tokenizer, p: IOIPrompt, bos: int | None) -> tuple[list[int], dict[str, int]]:
    a, b = (p.io, p.s) if p.order == "ABBA" else (p.s, p.io)
    if p.c:  # "abc": the first clause names IO and C, the second S (three different names)
        a, b = (p.io, p.c) if p.order == "ABBA" else (p.c, p.io)
    values = {"A": a, "B": b, "S": p.s2 or p.s, "PLACE": p.place, "OBJECT": p.obj}
    tokens, pos = _encode_slots(tokenizer, TEMPLATES[p.template], values, bos)
    whole = tokenizer.encode(p.text, add_special_tokens=False)
    if tokens[(0 if bos is None else 1) :] != whole:
        raise IOIError(f"slot-by-slot tokens differ from the tokenizer's for {p.text!r}")
    io_pos = pos["A"] if p.order == "ABBA" else pos["B"]
    s1_pos = pos["B"] if p.order == "ABBA" else pos["A"]
    return tokens, {"IO": io_pos, "S1": s1_pos, "S2": pos["S"], "end": len(tokens) - 1}


def _fill(template: int, a: str, b: str, s: str, place: str, obj: str) -> str:
    return TEMPLATES[template].format(A=a, B=b, S=s, PLACE=place, OBJECT=obj)


def ioi_dataset(
    tokenizer,
    n: int,
    seed: int = 0,
    orders: tuple[str, ...] = ORDERS,
    templates: tuple[int, ...] | None = None,
    n_names: int = 100,
    bos: int | None = None,
) -> IOIDataset:
    """`n` IOI prompts, orders and templates cycled evenly, names/places/objects drawn with
    `seed`. `bos`: a token id to put first (GPT-2 style), or None."""
    templates = tuple(range(len(TEMPLATES))) if templates is None else tuple(templates)
    bad = [o for o in orders if o not in ORDERS] + [str(t) for t in templates
                                                    if not 0 <= t < len(TEMPLATES)]  # fmt: skip
    if bad or not orders or not templates:
        raise IOIError(f"unknown orders/templates {bad}; orders are {ORDERS}, "
                       f"templates 0..{len(TEMPLATES) - 1}")  # fmt: skip
    if n < 1:
        raise IOIError(f"n must be positive, got {n}")
    names = ioi_names(tokenizer, n_names)
    places, objects = single_token_words(tokenizer, PLACES), single_token_words(tokenizer, OBJECTS)
    if len(names) < 3 or not places or not objects:
        raise IOIError("the tokenizer has too few single-token names, places or objects")
    rng = random.Random(seed)
    prompts = []
    for i in range(n):
        order, template = orders[i % len(orders)], templates[(i // len(orders)) % len(templates)]
        io, s = rng.sample(names, 2)
        place, obj = rng.choice(places), rng.choice(objects)
        a, b = (io, s) if order == "ABBA" else (s, io)
        text = _fill(template, a, b, s, place, obj)
        prompts.append(IOIPrompt(text, io, s, order, template, place, obj, s2=s))
    return _finish(tokenizer, prompts, bos, "none")


def _finish(tokenizer, prompts: list[IOIPrompt], bos: int | None, corruption: str) -> IOIDataset:
    built = [_build(tokenizer, p, bos) for p in prompts]

    def one(w: str) -> int:
        return tokenizer.encode(" " + w, add_special_tokens=False)[0]

    io_ids, s_ids = [one(p.io) for p in prompts], [one(p.s) for p in prompts]
    tokens, positions = [t for t, _ in built], [pos for _, pos in built]
    return IOIDataset(prompts, tokens, io_ids, s_ids, positions, corruption)


def corrupt(tokenizer, data: IOIDataset, kind: str, seed: int = 0, bos: int | None = None):
    """The same prompts with names changed at the same positions (see the module docstring)."""
    if kind not in CORRUPTIONS:
        raise IOIError(f"unknown corruption {kind!r}; known: {CORRUPTIONS}")
    names = ioi_names(tokenizer)
    rng = random.Random(f"ioi-{kind}-{seed}")  # not the clean set's stream: fresh names
    out = []
    for p in data.prompts:
        if kind == "flip_s2":
            a, b = (p.io, p.s) if p.order == "ABBA" else (p.s, p.io)
            text = _fill(p.template, a, b, p.io, p.place, p.obj)
            out.append(replace(p, text=text, s2=p.io, c=""))
        else:
            io, c, s = rng.sample(names, 3)
            a, b = (io, c) if p.order == "ABBA" else (c, io)
            text = _fill(p.template, a, b, s, p.place, p.obj)
            out.append(replace(p, text=text, io=io, s=s, s2=s, c=c))
    return _finish(tokenizer, out, bos, kind)
