"""Antonym pairs: a pair task (hot -> cold) and statements ("The opposite of hot is cold.").

The word list below is our own: common English pairs, each word in one pair only, so that the
mapping is a function in both directions (a word has exactly one answer). Antonyms are the first
task of Todd et al., "Function Vectors in Large Language Models" (2023,
https://arxiv.org/abs/2310.15213); the true/false form is one more truth dataset in the style of
Marks & Tegmark (2023, https://arxiv.org/abs/2310.06824). Used by days 39 and 42-43.

`source="wordnet"` reads WordNet's adjective antonyms through nltk when nltk and the WordNet data
are installed already (nothing is ever downloaded); the default is the list here.
"""

import random

from arena_core.data.facts.dataset import (
    FactDataset,
    balanced_true_false,
    build,
    check_n,
    package_source,
)
from arena_core.data.sources import DataUnavailableError
from arena_core.errors import ArgumentError

_PAIRS = """
hot cold | big small | tall short | fast slow | happy sad | good bad | light dark | up down
open closed | early late | rich poor | strong weak | hard soft | young old | wet dry
full empty | thick thin | heavy light_ | high low | long brief | loud quiet | clean dirty
cheap expensive | easy difficult | safe dangerous | alive dead | true false | right wrong
love hate | begin end | win lose | buy sell | give take | push pull | arrive depart
enter exit | accept refuse | increase decrease | remember forget | laugh cry | sink float
asleep awake | inside outside | above below | before after | front back | top bottom
north south | east west | day night | summer winter | sunrise sunset | black white
friend enemy | male female | king queen | husband wife | brother sister | son daughter
uncle aunt | boy girl | man woman | question answer | war peace | victory defeat
success failure | profit loss | import export | input output | entrance exit_ | start finish
plus minus | positive negative | maximum minimum | majority minority | optimist pessimist
ancient modern | artificial natural | beautiful ugly | brave cowardly | calm anxious
careful careless | certain uncertain | common rare | complex simple | deep shallow
narrow wide | near far | noisy silent | polite rude | present absent
private public | raw cooked | rough smooth | sharp blunt | sweet sour
tight loose | visible invisible | wise foolish | generous stingy | honest dishonest
humble proud | innocent guilty | kind cruel | lazy hardworking | legal illegal
likely unlikely | logical illogical | major minor | mature immature
necessary unnecessary | normal abnormal | odd even
optional mandatory | patient impatient | permanent temporary | possible impossible
professional amateur | regular irregular | relevant irrelevant | responsible irresponsible
shy outgoing | sober drunk | solid liquid | spicy mild | stable unstable | sane insane
active passive | ascend descend | attack defend | borrow lend | catch throw | create destroy
divide multiply | dress undress | expand contract | include exclude | inhale exhale
join separate | lead follow | lock unlock | marry divorce | melt freeze | obey disobey
praise criticise | raise lower | reject approve | reward punish | rise fall | save spend
shout whisper | show hide | sit stand | speak listen | teach learn | tie untie | wake sleep
agree disagree | allow forbid | appear vanish | arrest release | build demolish
connect disconnect | continue stop | encourage discourage | find lose_ | gain lose__
like dislike | mount dismount | pack unpack | please displease | trust distrust | load unload
always never | everything nothing | everybody nobody | everywhere nowhere | often seldom
here there | more less | most least | many few | all none | first last | yes no
absence presence | beginning ending | birth death | comedy tragedy | courage fear
darkness brightness | departure arrival | entry exit__ | fact fiction | freedom slavery
guest host | health illness | heaven hell | hero villain | hope despair | joy sorrow
knowledge ignorance | landlord tenant | laughter tears | master servant | noise silence
order chaos | parent child | pleasure pain | predator prey | pride shame | teacher student
truth lie | wealth poverty | wisdom folly | employer employee | buyer seller | winner loser
advantage disadvantage | ally opponent | asset liability | attic cellar
ceiling floor | credit debit | dawn dusk | famine feast | question_ reply | city countryside
land sea | mountain valley | servant_ mistress
addition subtraction | cause effect | compliment insult | demand supply
depth height | expert novice | gentle harsh | junior senior | lenient strict | liberal conservative
literal figurative | maximum_ minimum_ | optimism pessimism | rural urban | secular religious
smart stupid | vertical horizontal | vague precise | voluntary compulsory | wild tame
superior inferior | interior exterior | internal external | upstairs downstairs | indoor outdoor
forward backward | upward downward | always_ sometimes | dull bright | fat skinny | fresh stale
frequent occasional | fertile barren | friendly hostile | guilty_ blameless | healthy sick
ordinary extraordinary | partial complete | peaceful violent | plain fancy | pretty plain_
broad slender | shiny matte | straight crooked | sturdy fragile | transparent opaque
asleep_ alert | cheerful gloomy | clever dim | cruel_ merciful | eager reluctant | fancy_ simple_
"""


def _parse(text: str) -> list[tuple[str, str]]:
    """'a b | c d' lines -> pairs; a trailing '_' marks a word already used, and such pairs are
    dropped so that every word belongs to exactly one pair."""
    pairs = []
    for chunk in text.replace("\n", "|").split("|"):
        words = chunk.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValueError(f"bad antonym entry {chunk!r}")
        if any(w.endswith("_") for w in words):
            continue
        pairs.append((words[0], words[1]))
    return pairs


ANTONYM_PAIRS: tuple[tuple[str, str], ...] = tuple(_parse(_PAIRS))


def antonym_pairs(source: str = "builtin") -> list[tuple[str, str]]:
    """The antonym pairs: our list ('builtin') or WordNet's adjectives ('wordnet', if installed)."""
    if source == "builtin":
        return list(ANTONYM_PAIRS)
    if source == "wordnet":
        return _wordnet_pairs()
    raise ArgumentError(f"antonym source must be 'builtin' or 'wordnet', got {source!r}")


def _wordnet_pairs() -> list[tuple[str, str]]:
    try:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
    except (ImportError, LookupError) as err:
        raise DataUnavailableError(
            "source='wordnet' needs nltk and its WordNet data installed already (this project "
            "never downloads it); use source='builtin'"
        ) from err
    seen: dict[str, str] = {}
    for synset in wordnet.all_synsets("a"):
        for lemma in synset.lemmas():
            for ant in lemma.antonyms():
                a, b = lemma.name(), ant.name()
                if a.isalpha() and b.isalpha() and a != b and a not in seen and b not in seen:
                    seen[a], seen[b] = b, a
    return sorted({tuple(sorted((a, b))) for a, b in seen.items()})


def _both_ways(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [p for a, b in pairs for p in ((a, b), (b, a))]


def _source_name(source: str) -> str:
    return (
        "our list (arena_core/data/facts/antonyms.py)"
        if source == "builtin"
        else (package_source("nltk") + " WordNet")
    )


def load_antonyms(seed: int = 0, n: int | None = None, source: str = "builtin") -> FactDataset:
    """Pair task: word -> its opposite, each pair in both directions (hot -> cold, cold -> hot)."""
    items = _both_ways(antonym_pairs(source))
    k = check_n("antonyms", n, len(items))
    rng = random.Random(seed)
    rows = [(a, b, {}) for a, b in rng.sample(items, k)]
    return build("antonyms", "pair", seed, rows, rng, source=_source_name(source))


def load_antonyms_tf(seed: int = 0, n: int | None = None, source: str = "builtin") -> FactDataset:
    """'The opposite of hot is cold.' 1 / 'The opposite of hot is narrow.' 0, balanced.

    A false statement pairs the word with a word from another pair (never itself, never its
    antonym), so every false statement is false by the list.
    """
    pairs = antonym_pairs(source)
    items = _both_ways(pairs)
    k = check_n("antonyms_tf", n, len(items))
    rng = random.Random(seed)
    opposite = dict(items)
    vocabulary = sorted(opposite)
    rows = []
    for (word, antonym), truth in zip(rng.sample(items, k), balanced_true_false(k), strict=True):
        claim = antonym
        while not truth and claim in (word, antonym):
            claim = rng.choice(vocabulary)
        rows.append(
            (f"The opposite of {word} is {claim}.", int(truth), {"word": word, "claim": claim})
        )
    return build("antonyms_tf", "true_false", seed, rows, rng, source=_source_name(source))
