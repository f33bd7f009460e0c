"""Word-level pair tasks from our own lists: English -> French, present -> past, word -> WORD.

Three of the in-context tasks of Todd et al., "Function Vectors in Large Language Models" (2023,
https://arxiv.org/abs/2310.15213): translation, verb tense and capitalisation. The lists are
written here (common words, one translation each; French nouns without their article) so that
nothing is downloaded. Used by days 42-43 (ICL patching, function vectors) and day 44 (nnsight).
"""

import random

from arena_core.data.facts.antonyms import ANTONYM_PAIRS
from arena_core.data.facts.dataset import FactDataset, build, check_n

_ENGLISH_FRENCH = """
dog chien | cat chat | house maison | water eau | bread pain | book livre | car voiture
tree arbre | sun soleil | moon lune | star étoile | sea mer | river rivière | mountain montagne
city ville | street rue | door porte | window fenêtre | chair chaise | bed lit | kitchen cuisine
garden jardin | flower fleur | bird oiseau | fish poisson | horse cheval | cow vache
pig cochon | sheep mouton | mouse souris | apple pomme | cheese fromage | milk lait
egg œuf | meat viande | wine vin | beer bière | coffee café | sugar sucre | salt sel
butter beurre | cake gâteau | soup soupe | rice riz | carrot carotte
head tête | hand main | foot pied | eye œil | mouth bouche | nose nez | ear oreille
heart cœur | arm bras | leg jambe | hair cheveux | tooth dent | friend ami | brother frère
sister sœur | mother mère | father père | child enfant | man homme | woman femme | boy garçon
girl fille | king roi | queen reine | teacher professeur | doctor médecin | school école
church église | shop magasin | money argent | time temps | day jour | night nuit | week semaine
year année | hour heure | morning matin | evening soir | today aujourd'hui | tomorrow demain
yesterday hier | summer été | winter hiver | spring printemps | autumn automne | rain pluie
snow neige | wind vent | cloud nuage | fire feu | earth terre | sky ciel | light lumière
red rouge | blue bleu | green vert | yellow jaune | black noir | white blanc | grey gris
big grand | small petit | hot chaud | cold froid | new nouveau | old vieux | good bon
bad mauvais | beautiful beau | happy heureux | sad triste | fast rapide | slow lent
strong fort | weak faible | rich riche | poor pauvre | young jeune | easy facile
difficult difficile
one un | two deux | three trois | four quatre | five cinq | six six_ | seven sept | eight huit
nine neuf | ten dix | hundred cent | thousand mille | eat manger | drink boire
sleep dormir | speak parler | see voir | go aller | come venir | run courir
write écrire | read lire | sing chanter | dance danser
live vivre | die mourir | open ouvrir | close fermer | buy acheter
sell vendre | give donner | take prendre | find trouver | know savoir
think penser | want vouloir | swim nager | walk marcher | play jouer
yes oui | no non | please plaît_ | thank merci_ | always toujours | never jamais | often souvent
here ici | there là | very très | now maintenant | with avec | without sans | and et | but mais
why pourquoi | where où | when quand | who qui | love amour | war guerre | peace paix
country pays | language langue | word mot | song chanson | game jeu | key clé | glass verre
shoe chaussure | shirt chemise | hat chapeau | bag sac | box boîte | ship navire | train train_
plane avion | bicycle vélo | road route | bridge pont | island île | forest forêt | beach plage
"""


def _parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """'en fr | en fr' -> pairs; a French word ending in '_' marks a pair left out (the same
    word in both languages, or not one word), kept so the list shows what was considered."""
    pairs = []
    for chunk in text.replace("\n", "|").split("|"):
        if not chunk.strip():
            continue
        en, fr = chunk.split(maxsplit=1)
        if fr.endswith("_"):
            continue
        pairs.append((en, fr.strip()))
    return tuple(pairs)


ENGLISH_FRENCH: tuple[tuple[str, str], ...] = _parse_pairs(_ENGLISH_FRENCH)

# Present -> simple past; irregular verbs first. Each verb appears once.
_IRREGULAR = """
be was | have had | do did | go went | say said | get got | make made | know knew | think thought
take took | see saw | come came | give gave | find found | tell told | become became | leave left
feel felt | bring brought | begin began | keep kept | hold held | write wrote | stand stood
hear heard | let let | mean meant | set set | meet met | run ran | pay paid | sit sat | speak spoke
lead led | read read | grow grew | lose lost | fall fell | send sent | build built
understand understood | draw drew | break broke | spend spent | cut cut | rise rose | drive drove
buy bought | wear wore | choose chose | seek sought | throw threw | catch caught | deal dealt
win won | forget forgot | sell sold | fight fought | teach taught | eat ate | sing sang
drink drank | swim swam | fly flew | ride rode | sleep slept | steal stole | shake shook
hide hid | bite bit | freeze froze | feed fed | hang hung | blow blew | dig dug | shine shone
sink sank | ring rang | forgive forgave | wake woke | tear tore | bend bent | lend lent
shoot shot | spin spun | stick stuck | strike struck | swing swung | bleed bled | flee fled
"""
_REGULAR = """
walk walked | talk talked | play played | work worked | look looked | want wanted
need needed | call called | ask asked | help helped | start started | turn turned | show showed
move moved | live lived | like liked | love loved | believe believed | happen happened
include included | continue continued | change changed | watch watched | follow followed
stop stopped | create created | open opened | add added | remember remembered | consider considered
appear appeared | wait waited | serve served | die died | expect expected | stay stayed
reach reached | kill killed | remain remained | suggest suggested | raise raised | pass passed
require required | report reported | decide decided | pull pulled | carry carried | try tried
study studied | cry cried | marry married | plan planned | drop dropped | jump jumped
climb climbed | cook cooked | clean cleaned | dance danced | smile smiled | laugh laughed
listen listened | travel traveled | visit visited | answer answered | learn learned | close closed
finish finished | kiss kissed | hope hoped | paint painted | rain rained | touch touched
push pushed | wash washed | fix fixed | enjoy enjoyed | arrive arrived | agree agreed
allow allowed | explain explained | offer offered | miss missed | join joined | receive received
"""

PRESENT_PAST: tuple[tuple[str, str], ...] = tuple(
    tuple(c.split())
    for c in (_IRREGULAR + "|" + _REGULAR).replace("\n", "|").split("|")
    if c.strip()
)
IRREGULAR_VERBS: frozenset[str] = frozenset(
    c.split()[0] for c in _IRREGULAR.replace("\n", "|").split("|") if c.strip()
)


def _pair_task(name: str, items, seed: int, n: int | None, source: str) -> FactDataset:
    k = check_n(name, n, len(items))
    rng = random.Random(seed)
    rows = [(a, b, {}) for a, b in rng.sample(list(items), k)]
    return build(name, "pair", seed, rows, rng, source=source)


def load_english_french(seed: int = 0, n: int | None = None) -> FactDataset:
    """Pair task: English word -> French word ('dog' -> 'chien')."""
    return _pair_task("english_french", ENGLISH_FRENCH, seed, n, "our list (facts/words.py)")


def load_present_past(seed: int = 0, n: int | None = None) -> FactDataset:
    """Pair task: verb -> simple past ('go' -> 'went', 'walk' -> 'walked')."""
    return _pair_task("present_past", PRESENT_PAST, seed, n, "our list (facts/words.py)")


def uppercase_words() -> list[str]:
    """Distinct lowercase single words from our lists (antonyms, translations, verbs)."""
    words = {w for pair in ANTONYM_PAIRS for w in pair}
    words |= {en for en, _ in ENGLISH_FRENCH} | {v for v, _ in PRESENT_PAST}
    return sorted(w for w in words if w.isalpha() and w.islower())


def load_uppercase(seed: int = 0, n: int | None = None) -> FactDataset:
    """Pair task: word -> WORD ('dog' -> 'DOG')."""
    items = [(w, w.upper()) for w in uppercase_words()]
    return _pair_task("uppercase", items, seed, n, "our lists (facts/antonyms.py, facts/words.py)")
