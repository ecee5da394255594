"""Adjectives, adverbials, determiners and subordinators of the lexicon, parsed by ``lexicon.py``.

All tables: one entry per line, columns separated by ``|``, fields inside a column by spaces.
"""

# 1. English.  2. German stem that takes the endings (``teuer`` -> ``teur``: ``teure``).
# 3. Spanish masculine singular, feminine singular, masculine plural, feminine plural.
# 4. Category, which fixes the order before an English or German noun:
#    opinion < size < quality < age < shape < color < origin ("a nice big old red car").
# 5. Noun tags it combines with (one of them).
ADJECTIVE_TABLE = """
good        | gut          | bueno buena buenos buenas                 | opinion | person animal thing food drink text place
bad         | schlecht     | malo mala malos malas                     | opinion | person animal thing food drink text
beautiful   | schön        | hermoso hermosa hermosos hermosas         | opinion | person animal thing furniture vehicle place plant text
nice        | nett         | simpático simpática simpáticos simpáticas | opinion | person
friendly    | freundlich   | amable amable amables amables             | opinion | person animal
clever      | klug         | listo lista listos listas                 | opinion | person animal
funny       | lustig       | divertido divertida divertidos divertidas | opinion | person animal text
strange     | seltsam      | extraño extraña extraños extrañas         | opinion | person animal thing vehicle place plant food drink text
famous      | berühmt      | famoso famosa famosos famosas             | opinion | person animal place text
interesting | interessant  | interesante interesante interesantes interesantes | opinion | person text document place
important   | wichtig      | importante importante importantes importantes | opinion | person text document
dangerous   | gefährlich   | peligroso peligrosa peligrosos peligrosas | opinion | animal place vehicle
expensive   | teur         | caro cara caros caras                     | opinion | thing furniture vehicle food drink
cheap       | billig       | barato barata baratos baratas             | opinion | thing furniture vehicle food drink
brave       | mutig        | valiente valiente valientes valientes     | opinion | person animal
polite      | höflich      | educado educada educados educadas         | opinion | person
lazy        | faul         | perezoso perezosa perezosos perezosas     | opinion | person animal
rich        | reich        | rico rica ricos ricas                     | opinion | person
poor        | arm          | pobre pobre pobres pobres                 | opinion | person
happy       | glücklich    | feliz feliz felices felices               | quality | person animal
sad         | traurig      | triste triste tristes tristes             | quality | person animal
tired       | müde         | cansado cansada cansados cansadas         | quality | person animal
hungry      | hungrig      | hambriento hambrienta hambrientos hambrientas | quality | person animal
angry       | wütend       | enfadado enfadada enfadados enfadadas     | quality | person animal
quiet       | ruhig        | tranquilo tranquila tranquilos tranquilas | quality | person animal place
loud        | laut         | ruidoso ruidosa ruidosos ruidosas         | quality | person animal place vehicle device
big         | groß         | grande grande grandes grandes             | size    | person animal thing furniture vehicle place plant food
small       | klein        | pequeño pequeña pequeños pequeñas         | size    | person animal thing furniture vehicle place plant food
huge        | riesig       | inmenso inmensa inmensos inmensas         | size    | animal thing furniture vehicle place plant
tall        | groß         | alto alta altos altas                     | size    | person plant building
long        | lang         | largo larga largos largas                 | size    | thing furniture vehicle text
short       | kurz         | corto corta cortos cortas                 | size    | thing text
heavy       | schwer       | pesado pesada pesados pesadas             | size    | thing furniture device vehicle
fat         | dick         | gordo gorda gordos gordas                 | size    | person animal
thin        | dünn         | delgado delgada delgados delgadas         | size    | person animal
fast        | schnell      | rápido rápida rápidos rápidas             | quality | person animal vehicle
slow        | langsam      | lento lenta lentos lentas                 | quality | person animal vehicle
strong      | stark        | fuerte fuerte fuertes fuertes             | quality | person animal drink
weak        | schwach      | débil débil débiles débiles               | quality | person animal
clean       | sauber       | limpio limpia limpios limpias             | quality | thing furniture vehicle place
dirty       | schmutzig    | sucio sucia sucios sucias                 | quality | animal thing furniture vehicle place
warm        | warm         | caliente caliente calientes calientes     | quality | food drink
cold        | kalt         | frío fría fríos frías                     | quality | food drink room
sweet       | süß          | dulce dulce dulces dulces                 | quality | food drink
empty       | leer         | vacío vacía vacíos vacías                 | quality | container room
full        | voll         | lleno llena llenos llenas                 | quality | container
soft        | weich        | blando blanda blandos blandas             | quality | furniture food
hard        | hart         | duro dura duros duras                     | quality | furniture food
dark        | dunkl        | oscuro oscura oscuros oscuras             | quality | place clothing
wet         | nass         | mojado mojada mojados mojadas             | quality | animal thing
dry         | trocken      | seco seca secos secas                     | quality | thing food
old         | alt          | viejo vieja viejos viejas                 | age     | person animal thing furniture vehicle place plant
young       | jung         | joven joven jóvenes jóvenes               | age     | person animal plant
new         | neu          | nuevo nueva nuevos nuevas                 | age     | thing furniture vehicle document place
modern      | modern       | moderno moderna modernos modernas         | age     | device vehicle furniture building
fresh       | frisch       | fresco fresca frescos frescas             | age     | food drink plant
round       | rund         | redondo redonda redondos redondas         | shape   | thing furniture food
red         | rot          | rojo roja rojos rojas                     | color   | thing furniture vehicle place food plant
blue        | blau         | azul azul azules azules                   | color   | thing furniture vehicle place
green       | grün         | verde verde verdes verdes                 | color   | thing furniture vehicle animal food plant
yellow      | gelb         | amarillo amarilla amarillos amarillas     | color   | thing furniture vehicle animal food plant
black       | schwarz      | negro negra negros negras                 | color   | thing furniture vehicle animal
white       | weiß         | blanco blanca blancos blancas             | color   | thing furniture vehicle animal place plant
brown       | braun        | marrón marrón marrones marrones           | color   | thing furniture vehicle animal
gray        | grau         | gris gris grises grises                   | color   | thing furniture vehicle animal
German      | deutsch      | alemán alemana alemanes alemanas          | origin  | person thing vehicle food drink text document
Spanish     | spanisch     | español española españoles españolas      | origin  | person thing vehicle food drink text document
French      | französisch  | francés francesa franceses francesas      | origin  | person thing vehicle food drink text document
Italian     | italienisch  | italiano italiana italianos italianas     | origin  | person thing vehicle food drink text document
English     | englisch     | inglés inglesa ingleses inglesas          | origin  | person thing vehicle food drink text document
American    | amerikanisch | americano americana americanos americanas | origin  | person thing vehicle food drink text document
"""

# Time and frequency adverbials.  1-3. English / German / Spanish words.  4. ``time`` adverbials
# end an English or Spanish clause; ``frequency`` adverbials stand before the English lexical
# verb and the Spanish finite verb.  Both stand right after the German finite verb (or subject,
# in verb-final clauses).  5. ``front`` if the adverbial can open the sentence in all three
# languages (German then inverts: "Heute sieht der Hund ..."), else ``-``.  6. The tenses it
# combines with in English (no "has seen yesterday").
ADVERBIAL_TABLE = """
today            | heute        | hoy               | time      | front | present past perfect
yesterday        | gestern      | ayer              | time      | front | past
tomorrow         | morgen       | mañana            | time      | front | present
now              | jetzt        | ahora             | time      | front | present
tonight          | heute Abend  | esta noche        | time      | front | present
this morning     | heute Morgen | esta mañana       | time      | front | present past perfect
later            | später       | más tarde         | time      | front | present past
soon             | bald         | pronto            | time      | front | present
last week        | letzte Woche | la semana pasada  | time      | front | past
last year        | letztes Jahr | el año pasado     | time      | front | past
every day        | jeden Tag    | cada día          | time      | front | present past
every morning    | jeden Morgen | cada mañana       | time      | front | present past
every week       | jede Woche   | cada semana       | time      | front | present past
in the morning   | morgens      | por la mañana     | time      | front | present
in the afternoon | nachmittags  | por la tarde      | time      | front | present
at night         | nachts       | por la noche      | time      | front | present
on Monday        | am Montag    | el lunes          | time      | front | present past
on Tuesday       | am Dienstag  | el martes         | time      | front | present past
on Wednesday     | am Mittwoch  | el miércoles      | time      | front | present past
on Thursday      | am Donnerstag | el jueves        | time      | front | present past
on Friday        | am Freitag   | el viernes        | time      | front | present past
on Saturday      | am Samstag   | el sábado         | time      | front | present past
on Sunday        | am Sonntag   | el domingo        | time      | front | present past
in January       | im Januar    | en enero          | time      | front | present past
in February      | im Februar   | en febrero        | time      | front | present past
in March         | im März      | en marzo          | time      | front | present past
in April         | im April     | en abril          | time      | front | present past
in May           | im Mai       | en mayo           | time      | front | present past
in June          | im Juni      | en junio          | time      | front | present past
in July          | im Juli      | en julio          | time      | front | present past
in August        | im August    | en agosto         | time      | front | present past
in September     | im September | en septiembre     | time      | front | present past
in October       | im Oktober   | en octubre        | time      | front | present past
in November      | im November  | en noviembre      | time      | front | present past
in December      | im Dezember  | en diciembre      | time      | front | present past
often            | oft          | a menudo          | frequency | front | present past perfect
sometimes        | manchmal     | a veces           | frequency | front | present past perfect
usually          | meistens     | normalmente       | frequency | front | present past
always           | immer        | siempre           | frequency | -     | present past perfect
rarely           | selten       | rara vez          | frequency | -     | present past perfect
"""

# 1. Kind.  2. English singular and plural form (``-`` where the number does not exist).
# 3. German declension pattern and stem: ``der`` (the definite article), ``dies`` (dieser,
#    jeder: stem + er/e/es/en/em, weak adjectives after it), ``ein`` (ein, mein, sein, ihr,
#    unser: no ending in the masculine/neuter nominative, mixed adjectives after it),
#    ``invariable`` (numerals: strong adjectives after them).
# 4. Spanish masculine singular, feminine singular, masculine plural, feminine plural.
DETERMINER_TABLE = """
definite      | the the    | der -        | el la los las
indefinite    | a -        | ein ein      | un una - -
demonstrative | this these | dies dies    | este esta estos estas
quantifier    | every -    | dies jed     | cada cada - -
possessive    | my my      | ein mein     | mi mi mis mis
possessive    | his his    | ein sein     | su su sus sus
possessive    | her her    | ein ihr      | su su sus sus
possessive    | our our    | ein unser    | nuestro nuestra nuestros nuestras
numeral       | - two      | invariable zwei   | - - dos dos
numeral       | - three    | invariable drei   | - - tres tres
numeral       | - four     | invariable vier   | - - cuatro cuatro
numeral       | - five     | invariable fünf   | - - cinco cinco
numeral       | - six      | invariable sechs  | - - seis seis
numeral       | - seven    | invariable sieben | - - siete siete
numeral       | - eight    | invariable acht   | - - ocho ocho
numeral       | - nine     | invariable neun   | - - nueve nueve
numeral       | - ten      | invariable zehn   | - - diez diez
"""

# 1-3. English, German (with the German word for a past-tense "when": ``als``), Spanish.
# 4. ``front`` if the clause may open the sentence.  5. Whether English / Spanish put a comma
# before it when it follows the main clause (German always does).  6. Tenses of the subordinate
# clause.  7. ``same`` if the main clause must share the tense ("When the dog saw the cat, the
# man called"), ``free`` otherwise, ``complement`` for the object clause of say/know/think.
SUBORDINATOR_TABLE = """
because  | weil      | porque   | -     | - -     | present past perfect | free
although | obwohl    | aunque   | front | , ,     | present past perfect | free
when     | wenn als  | cuando   | front | - -     | present past         | same
while    | während   | mientras | front | - -     | present              | same
if       | wenn      | si       | front | - -     | present              | same
that     | dass      | que      | -     | - -     | present past perfect | complement
"""
