"""The words of the toy world's `instruct` task: its topics (each a few sentences, the whole
content vocabulary of the task), remarks about writing for the pretraining corpus, request
templates and end phrases. Data only; `task_instruct` builds the task from it.
"""

# Topic -> its sentences: the whole content vocabulary of the task. Some carry commas so that
# "no commas" constrains something.
TOPICS = {
    "the sea": "The sea is wide and deep. Small boats sail out at dawn. In the morning, the water is calm. Fish swim under the waves. The wind brings salt to the shore. Children play on the warm sand. At night, the waves are loud. Birds fly low over the water.",
    "the farm": "The farm lies by the road. Cows eat grass in the field. The farmer gets up early. Hens lay eggs in the barn. In spring, the fields turn green. The dog keeps the sheep together. After rain, the paths are muddy. Fresh milk comes every day.",
    "the market": "The market opens early. People buy bread, fish and apples. Sellers call out their prices. The stalls have red roofs. In the evening, the square is quiet. Children like the sweet cakes. Old friends meet and talk there. The best fruit is sold first.",
    "the forest": "The forest is dark and cool. Tall trees grow close together. Deer walk softly between the trees. In autumn, the leaves turn gold. Small paths lead to a lake. Owls call out at night. Mushrooms grow on old logs. The air smells of pine, moss and rain.",
    "the river": "The river runs down to the sea. Its water is clear and cold. A stone bridge crosses the river. Ducks swim near the bank. After heavy rain, the river rises. People fish from old boats. Willows hang over the water. In winter, the river can freeze.",
    "the garden": "The garden is full of flowers. Bees visit the roses all day. We plant beans in spring. In summer, the grass needs water. A small pond sits by the wall. Apples grow on the old tree. Birds sing in the hedge. At dusk, the garden smells sweet.",
    "the town": "The town has narrow streets. A clock tower stands in the middle. Most houses are made of stone. On market day, the streets are busy. The library is next to the school. People walk or ride bikes. The bakery opens very early. At night, lamps light the square.",
    "the school": "The school has a big yard. Children learn to read and write. The teacher tells stories after lunch. In the morning, the bell rings. The class grows beans in pots. Books fill the shelves. After school, friends walk home together. The music room is full of songs.",
    "the mountain": "The mountain is high and steep. Snow stays on the top all year. Goats climb the rocky slopes. A narrow path leads to the top. From the top, you see the valley. The air is thin and cold. Eagles fly above the peaks. In summer, flowers cover the meadows.",
    "winter": "Winter is cold and dark. Snow covers the roofs and roads. People wear warm coats and hats. In the evening, families sit by the fire. The lake turns to ice. Children build snowmen in the park. The days are short in winter. After a storm, the world is white.",
    "summer": "Summer days are long and warm. People swim in the lake. The fields turn gold in the sun. In the evening, the air is soft. Children play outside until late. Fruit is sweet and ripe. Storms sometimes come in the afternoon. On hot days, the shade feels good.",
    "rain": "Rain falls softly on the roof. The streets shine after the rain. Plants drink the fresh water. When it rains, people carry umbrellas. Puddles form on the paths. In spring, rain helps the seeds grow. Dark clouds bring heavy rain. After the rain, the air smells clean.",
    "bread": "Bread is made from flour and water. The baker mixes the dough at night. Warm bread smells very good. In the morning, people buy fresh loaves. Some bread has seeds on top. The oven must be very hot. Bread tastes good with butter. Old bread can feed the ducks.",
    "tea": "Tea is made from dry leaves. People drink tea in the afternoon. Hot water brings out the taste. Some like tea with milk and honey. In winter, hot tea warms the hands. Green tea has a light taste. Friends share tea and talk. The pot must rest a little.",
    "birds": "Birds build nests in the trees. Many birds sing at dawn. In autumn, some birds fly south. Sparrows eat seeds and crumbs. The robin has a red breast. Gulls follow the fishing boats. Young birds learn to fly. At dusk, the birds go quiet.",
    "the moon": "The moon shines at night. Its light is pale and silver. The moon changes shape each week. Sometimes, the moon is full and bright. Clouds often hide the moon. The moon pulls the tides. On clear nights, you see its face. Long ago, people counted months by it.",
}
# Remarks about writing for the corpus: the words of requests and rules, in prose.
WRITING = (
    "People often ask for a few lines about a place.",
    "To describe a thing, tell what you see.",
    "A good note is short and says something true.",
    "Some people write only in small letters.",
    "Old signs were written in capital letters.",
    "A list puts each point on its own line.",
    "Some writers do not use commas at all.",
    "The teacher asked us to use the word river.",
    "A short answer uses fewer words.",
    "A long letter has at least a page of words.",
    "Many letters end with a word of thanks.",
    "Please tell me about your day, said my aunt.",
    "Every game has a rule that players follow.",
    "She wrote exactly three lines about the moon.",
    "A good request says what it wants.",
    "He did not use the word cold in his song.",
)
REQUESTS = (
    "Write a few lines about {t}.",
    "Tell me about {t}.",
    "Describe {t}.",
    "Write a short note on {t}.",
    "Say something about {t}.",
    "What can you tell me about {t}?",
)
END_PHRASES = ("That is all.", "Thank you.", "The end.", "See you soon.", "Have a good day.")
# Words too common to serve as a keyword or a forbidden word.
STOP_WORDS = set(
    "the and are its for from with into over under than then some most many very each all "
    "there their they this that what when you can must".split()
)
