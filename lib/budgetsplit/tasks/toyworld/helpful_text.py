"""The words of the toy world's `helpful` task: the schema of its entities, the questions,
answers and corpus sentences of each (kind, attribute), and the openers and closers of its
questions. Data only; `task_helpful` builds the task from it.
"""

COLOURS = ("red", "brown", "grey", "white", "black", "yellow", "green", "blue")
SIZES = ("tiny", "small", "big", "huge")
SPECIES = ("fox", "owl", "frog", "bear", "duck", "hare", "mole", "crow", "deer", "seal", "wolf")
PLACES = {"valley": "in", "hills": "in", "woods": "in", "north": "in", "coast": "on", "plain": "on"}
# kind -> attribute -> its values (a person's home is one of the world's towns: filled per world).
SCHEMA = {
    "animal": {
        "colour": COLOURS,
        "size": SIZES,
        "home": ("forest", "river", "hill", "lake", "field", "cave", "marsh", "meadow"),
        "food": ("nuts", "fish", "seeds", "berries", "grass", "plums", "worms", "honey"),
    },
    "town": {
        "size": SIZES,
        "place": tuple(PLACES),
        "goods": ("bread", "cheese", "apples", "salt", "wool", "pots", "cloth", "boats"),
        "colour": COLOURS,
    },
    "person": {
        "job": ("baker", "farmer", "singer", "teacher", "fisher", "painter", "doctor", "smith"),
        "home": (),
        "pet": ("cat", "dog", "goat", "hen", "horse", "rabbit", "parrot", "pig"),
        "colour": COLOURS,
    },
}
KINDS = tuple(SCHEMA)
# (kind, attribute) -> (questions, reference answer, corpus sentences); {e} the entity as questions
# name it, {n} its name, {s} an animal's species, {v} the value, {p} a town's preposition.
# No question names a value of its attribute ("How big is" did): a copy of it must score 0.
# A table, one row per (kind, attribute), kept as rows (fmt: skip): formatted, each string
# would take a line of its own.
TEXTS = {
    ("animal", "colour"): (("What colour is {e}?", "What is the colour of {e}?", "Which colour is {e}?", "Tell me the colour of {e}."),
                           "{e} is {v}.", ("{n} has a {v} coat.", "The coat of {n} is {v}.")),
    ("animal", "size"): (("What is the size of {e}?", "What size is {e}?", "Tell me the size of {e}.", "How large is {e}?"),
                         "{e} is {v}.", ("{n} is a {v} {s}.", "For a {s}, {n} is {v}.")),
    ("animal", "home"): (("Where does {e} live?", "Where is the home of {e}?", "Tell me where {e} lives.", "Where can I find {e}?"),
                         "{e} lives in the {v}.", ("{n} makes its home in the {v}.", "The {v} is where {n} stays.")),
    ("animal", "food"): (("What does {e} eat?", "What food does {e} like?", "Tell me what {e} eats.", "What is the food of {e}?"),
                         "{e} eats {v}.", ("{n} likes to eat {v}.", "Most days {n} feeds on {v}.")),
    ("town", "size"): (("What is the size of the town of {e}?", "What size is the town of {e}?", "Tell me the size of {e}.", "How large is {e}?"),
                       "{e} is a {v} town.", ("{n} is a {v} place.", "People say {n} is {v}.")),
    ("town", "place"): (("Where does the town of {e} lie?", "Where is {e}?", "Tell me where {e} lies.", "In what land is {e}?"),
                        "{e} lies {p} the {v}.", ("The town of {n} is found {p} the {v}.", "{n} sits {p} the {v}.")),
    ("town", "goods"): (("What is {e} known for?", "What does the town of {e} make?", "Tell me what {e} is known for.", "What does {e} sell?"),
                        "{e} is known for its {v}.", ("{n} makes fine {v}.", "Traders come to {n} for its {v}.")),
    ("town", "colour"): (("What colour are the roofs of {e}?", "Which colour are the roofs in {e}?", "Tell me the roof colour of {e}.", "What colour roofs does {e} have?"),
                         "{e} has {v} roofs.", ("The roofs of {n} are {v}.", "Every house in {n} has a {v} roof.")),
    ("person", "job"): (("What does {e} do for work?", "What is the job of {e}?", "What work does {e} do?", "Tell me the job of {e}."),
                        "{e} is a {v}.", ("{n} works as a {v}.", "{n} earns a living as a {v}.")),
    ("person", "home"): (("Where does {e} live?", "In which town does {e} live?", "Tell me where {e} lives.", "What town is home to {e}?"),
                         "{e} lives in {v}.", ("{n} lives in the town of {v}.", "{n} has a house in {v}.")),
    ("person", "pet"): (("What pet does {e} have?", "Which animal does {e} keep?", "Tell me the pet of {e}.", "What animal lives with {e}?"),
                        "{e} has a pet {v}.", ("{n} keeps a {v} at home.", "A {v} lives with {n}.")),
    ("person", "colour"): (("What colour does {e} like best?", "What is the favourite colour of {e}?", "Which colour does {e} love?", "Tell me the favourite colour of {e}."),
                           "{e} likes {v} best.", ("The favourite colour of {n} is {v}.", "{n} loves the colour {v}.")),
}  # fmt: skip
INTROS = {
    "animal": ("{n} is a {s}.", "{n} the {s} is known to many."),
    "town": ("{n} is a town.", "There is a town called {n}."),
    "person": ("Let me tell you about {n}.", "{n} is well known in town."),
}
OPENERS = (
    "",
    "Hi.",
    "Hello.",
    "Quick question.",
    "Please help me.",
    "I wonder.",
    "I am curious.",
    "My friend asked me this.",
    "Can you help?",
    "I forgot.",
    "Hey there.",
    "Tell me please.",
)
CLOSERS = (
    "",
    "Thanks.",
    "Thank you.",
    "Please be brief.",
    "I need to know.",
    "Just curious.",
    "Please answer.",
    "I want to learn.",
    "Many thanks.",
    "Be short.",
)
# Made-up names must not be words of the world, nor unkind or real words.
_AVOID = {
    "nig",
    "fag",
    "ped",
    "naz",
    "data",
    "soda",
    "tuna",
    "lava",
    "kilo",
    "memo",
    "demo",
    "logo",
    "solo",
    "polo",
    "sumo",
    "menu",
    "guru",
    "taro",
    "toga",
    "puma",
    "diva",
    "gala",
    "kiwi",
    "tofu",
}
