"""Re-wording fact datasets: words placed in sentence templates, statements restated (day 41).

    ds = load_dataset("first_names", n=200)
    in_templates(ds, ["I had lunch with {}", "This letter is for {}"])   # 400 prompts, 200 types
    restate(load_dataset("cities", n=160), "{city} is a city in {where}.")  # same facts, new words

`in_templates` gives each word type several contexts, which is what a control task (Hewitt &
Liang 2019) needs: a probe can only memorise a type's label if the type comes back at test time.
The word is the last thing in every template, so "last token" reads the word. `restate` rebuilds
the statements of `cities` / `negations` from their records (city, claimed country) in another
wording with the same meaning, the paraphrase shift of day 41. Labels are copied; the caller's
template must keep the meaning (including any "not").
"""

from collections.abc import Sequence

from arena_core.data.facts.dataset import FactDataset
from arena_core.data.facts.geography import country_phrase
from arena_core.errors import ArgumentError


def in_templates(ds: FactDataset, templates: Sequence[str]) -> FactDataset:
    """Every word of a classification dataset in every template (word-major order); records hold
    the word (`type`) and the template index."""
    if ds.meta.get("kind") != "classification":
        raise ArgumentError(f"{ds.name}: in_templates needs a classification dataset of words")
    if not templates or any(t.count("{}") != 1 or not t.endswith("{}") for t in templates):
        raise ArgumentError("each template must end with a single '{}' where the word goes")
    prompts, labels, records = [], [], []
    for word, label in ds.pairs():
        for j, t in enumerate(templates):
            prompts.append(t.format(word))
            labels.append(label)
            records.append({"type": word, "template": j})
    meta = {**ds.meta, "name": f"{ds.name}_in_templates", "templates": list(templates)}
    meta["n"] = len(prompts)
    return FactDataset(prompts, labels, meta, records)


def restate(ds: FactDataset, template: str) -> FactDataset:
    """The city statements of `ds` in a new wording: `template` may use {city} and {where} (the
    claimed country as it reads in a sentence, e.g. 'the Netherlands')."""
    if not ds.records or "claimed_country" not in ds.records[0]:
        raise ArgumentError(f"{ds.name}: restate needs city statements (cities or negations)")
    try:
        prompts = [
            template.format(city=r["city"], where=country_phrase(r["claimed_country"]))
            for r in ds.records
        ]
    except (KeyError, IndexError) as err:
        raise ArgumentError(
            f"template {template!r} may only use the fields {{city}} and {{where}}"
        ) from err
    meta = {**ds.meta, "name": f"{ds.name}_restated", "template": template}
    return FactDataset(prompts, list(ds.labels), meta, [dict(r) for r in ds.records])
