"""Noun entries of the bilingual lexicon: one lemma per line, parsed by ``lexicon.py``.

Columns, separated by ``|`` (fields inside a column by spaces):

1. English singular and plural (American spelling).
2. Semantic tags that verbs and adjectives select on (see ``lexicon.TAGS``).
3. German gender (``m``/``f``/``n``), nominative singular, nominative plural, and for weak
   nouns (n-declension) the accusative/dative singular (``Junge`` -> ``den Jungen``).
   The dative plural is derived: plural + ``n`` unless the plural ends in ``n`` or ``s``.
4. Spanish gender (``m``/``f``), singular, plural.  No feminine noun starts with a stressed
   ``a`` (``el agua``), so the article is always the gender's.
5. Places only: the English locative preposition (in/at/on), then the German prepositions for
   location (+dative), direction (``in``/``an``/``auf`` +accusative, ``zu`` +dative) and
   source (``aus``/``von`` +dative).  Spanish uses en / a / de for the three.
"""

NOUN_TABLE = """
# --- people -------------------------------------------------------------------------------------
man men                 | person            | m Mann Männer                       | m hombre hombres
woman women             | person            | f Frau Frauen                       | f mujer mujeres
child children          | person            | n Kind Kinder                       | m niño niños
boy boys                | person            | m Junge Jungen Jungen               | m chico chicos
girl girls              | person            | n Mädchen Mädchen                   | f chica chicas
teacher teachers        | person            | m Lehrer Lehrer                     | m profesor profesores
friend friends          | person            | m Freund Freunde                    | m amigo amigos
doctor doctors          | person            | m Arzt Ärzte                        | m médico médicos
student students        | person            | m Student Studenten Studenten       | m estudiante estudiantes
neighbor neighbors      | person            | m Nachbar Nachbarn Nachbarn         | m vecino vecinos
farmer farmers          | person            | m Bauer Bauern Bauern               | m granjero granjeros
king kings              | person            | m König Könige                      | m rey reyes
queen queens            | person            | f Königin Königinnen                | f reina reinas
cook cooks              | person            | m Koch Köche                        | m cocinero cocineros
baker bakers            | person            | m Bäcker Bäcker                     | m panadero panaderos
driver drivers          | person            | m Fahrer Fahrer                     | m conductor conductores
policeman policemen     | person            | m Polizist Polizisten Polizisten    | m policía policías
singer singers          | person            | m Sänger Sänger                     | m cantante cantantes
writer writers          | person            | m Schriftsteller Schriftsteller     | m escritor escritores
painter painters        | person            | m Maler Maler                       | m pintor pintores
sister sisters          | person            | f Schwester Schwestern              | f hermana hermanas
brother brothers        | person            | m Bruder Brüder                     | m hermano hermanos
mother mothers          | person            | f Mutter Mütter                     | f madre madres
father fathers          | person            | m Vater Väter                       | m padre padres
grandmother grandmothers | person           | f Großmutter Großmütter             | f abuela abuelas
grandfather grandfathers | person           | m Großvater Großväter               | m abuelo abuelos
baby babies             | person            | n Baby Babys                        | m bebé bebés
customer customers      | person            | m Kunde Kunden Kunden               | m cliente clientes
guest guests            | person            | m Gast Gäste                        | m invitado invitados
tourist tourists        | person            | m Tourist Touristen Touristen       | m turista turistas
soldier soldiers        | person            | m Soldat Soldaten Soldaten          | m soldado soldados
pilot pilots            | person            | m Pilot Piloten Piloten             | m piloto pilotos
lawyer lawyers          | person            | m Anwalt Anwälte                    | m abogado abogados
nurse nurses            | person            | f Krankenschwester Krankenschwestern | f enfermera enfermeras
waiter waiters          | person            | m Kellner Kellner                   | m camarero camareros
artist artists          | person            | m Künstler Künstler                 | m artista artistas
prince princes          | person            | m Prinz Prinzen Prinzen             | m príncipe príncipes
princess princesses     | person            | f Prinzessin Prinzessinnen          | f princesa princesas
president presidents    | person            | m Präsident Präsidenten Präsidenten | m presidente presidentes
uncle uncles            | person            | m Onkel Onkel                       | m tío tíos
aunt aunts              | person            | f Tante Tanten                      | f tía tías
son sons                | person            | m Sohn Söhne                        | m hijo hijos
daughter daughters      | person            | f Tochter Töchter                   | f hija hijas
colleague colleagues    | person            | m Kollege Kollegen Kollegen         | m colega colegas
hunter hunters          | person            | m Jäger Jäger                       | m cazador cazadores
fisherman fishermen     | person            | m Fischer Fischer                   | m pescador pescadores
thief thieves           | person            | m Dieb Diebe                        | m ladrón ladrones
boss bosses             | person            | m Chef Chefs                        | m jefe jefes
actor actors            | person            | m Schauspieler Schauspieler         | m actor actores
gardener gardeners      | person            | m Gärtner Gärtner                   | m jardinero jardineros
mailman mailmen         | person            | m Briefträger Briefträger           | m cartero carteros
# --- animals ------------------------------------------------------------------------------------
dog dogs                | animal            | m Hund Hunde                        | m perro perros
cat cats                | animal            | f Katze Katzen                      | m gato gatos
horse horses            | animal            | n Pferd Pferde                      | m caballo caballos
bird birds              | animal            | m Vogel Vögel                       | m pájaro pájaros
cow cows                | animal            | f Kuh Kühe                          | f vaca vacas
mouse mice              | animal            | f Maus Mäuse                        | m ratón ratones
fish fish               | animal            | m Fisch Fische                      | m pez peces
sheep sheep             | animal            | n Schaf Schafe                      | f oveja ovejas
pig pigs                | animal            | n Schwein Schweine                  | m cerdo cerdos
rabbit rabbits          | animal            | n Kaninchen Kaninchen               | m conejo conejos
fox foxes               | animal            | m Fuchs Füchse                      | m zorro zorros
bear bears              | animal            | m Bär Bären Bären                   | m oso osos
lion lions              | animal            | m Löwe Löwen Löwen                  | m león leones
monkey monkeys          | animal            | m Affe Affen Affen                  | m mono monos
elephant elephants      | animal            | m Elefant Elefanten Elefanten       | m elefante elefantes
wolf wolves             | animal            | m Wolf Wölfe                        | m lobo lobos
duck ducks              | animal            | f Ente Enten                        | m pato patos
chicken chickens        | animal            | n Huhn Hühner                       | f gallina gallinas
goat goats              | animal            | f Ziege Ziegen                      | f cabra cabras
snake snakes            | animal            | f Schlange Schlangen                | f serpiente serpientes
frog frogs              | animal            | m Frosch Frösche                    | f rana ranas
owl owls                | animal            | f Eule Eulen                        | m búho búhos
donkey donkeys          | animal            | m Esel Esel                         | m burro burros
tiger tigers            | animal            | m Tiger Tiger                       | m tigre tigres
bee bees                | animal            | f Biene Bienen                      | f abeja abejas
spider spiders          | animal            | f Spinne Spinnen                    | f araña arañas
camel camels            | animal            | n Kamel Kamele                      | m camello camellos
giraffe giraffes        | animal            | f Giraffe Giraffen                  | f jirafa jirafas
penguin penguins        | animal            | m Pinguin Pinguine                  | m pingüino pingüinos
# --- texts and documents -------------------------------------------------------------------------
book books              | thing document    | n Buch Bücher                       | m libro libros
newspaper newspapers    | thing document    | f Zeitung Zeitungen                 | m periódico periódicos
map maps                | thing document hangable | f Landkarte Landkarten        | m mapa mapas
menu menus              | thing document    | f Speisekarte Speisekarten          | m menú menús
ticket tickets          | thing document    | f Fahrkarte Fahrkarten              | m billete billetes
letter letters          | document text openable | m Brief Briefe                 | f carta cartas
report reports          | document text     | m Bericht Berichte                  | m informe informes
invitation invitations  | document text     | f Einladung Einladungen             | f invitación invitaciones
story stories           | text              | f Geschichte Geschichten            | f historia historias
poem poems              | text              | n Gedicht Gedichte                  | m poema poemas
message messages        | text              | f Nachricht Nachrichten             | m mensaje mensajes
email emails            | text              | f E-Mail E-Mails                    | m correo correos
song songs              | text              | n Lied Lieder                       | f canción canciones
# --- things --------------------------------------------------------------------------------------
key keys                | thing             | m Schlüssel Schlüssel               | f llave llaves
bag bags                | thing container openable | f Tasche Taschen             | m bolso bolsos
box boxes               | thing container openable | f Kiste Kisten               | f caja cajas
suitcase suitcases      | thing container openable | m Koffer Koffer              | f maleta maletas
basket baskets          | thing container   | m Korb Körbe                        | f cesta cestas
bottle bottles          | thing container openable fragile | f Flasche Flaschen   | f botella botellas
cup cups                | thing container dish fragile | f Tasse Tassen           | f taza tazas
glass glasses           | thing container dish fragile | n Glas Gläser            | m vaso vasos
plate plates            | thing dish fragile | m Teller Teller                    | m plato platos
knife knives            | thing dish        | n Messer Messer                     | m cuchillo cuchillos
spoon spoons            | thing dish        | m Löffel Löffel                     | f cuchara cucharas
fork forks              | thing dish        | f Gabel Gabeln                      | m tenedor tenedores
ball balls              | thing toy         | m Ball Bälle                        | f pelota pelotas
toy toys                | thing toy         | n Spielzeug Spielzeuge              | m juguete juguetes
gift gifts              | thing openable    | n Geschenk Geschenke                | m regalo regalos
ring rings              | thing             | m Ring Ringe                        | m anillo anillos
pen pens                | thing             | m Stift Stifte                      | m bolígrafo bolígrafos
wallet wallets          | thing             | f Geldbörse Geldbörsen              | f cartera carteras
umbrella umbrellas      | thing             | m Regenschirm Regenschirme          | m paraguas paraguas
blanket blankets        | thing             | f Decke Decken                      | f manta mantas
candle candles          | thing             | f Kerze Kerzen                      | f vela velas
stone stones            | thing             | m Stein Steine                      | f piedra piedras
flower flowers          | thing plant       | f Blume Blumen                      | f flor flores
picture pictures        | thing hangable    | n Bild Bilder                       | m cuadro cuadros
mirror mirrors          | thing hangable fragile | m Spiegel Spiegel              | m espejo espejos
clock clocks            | thing hangable fragile | f Uhr Uhren                    | m reloj relojes
lamp lamps              | thing device hangable fragile | f Lampe Lampen          | f lámpara lámparas
phone phones            | thing device      | n Telefon Telefone                  | m teléfono teléfonos
computer computers      | thing device      | m Computer Computer                 | m ordenador ordenadores
radio radios            | thing device      | n Radio Radios                      | f radio radios
television televisions  | thing device      | m Fernseher Fernseher               | m televisor televisores
camera cameras          | thing device      | f Kamera Kameras                    | f cámara cámaras
hat hats                | thing clothing hangable | m Hut Hüte                    | m sombrero sombreros
coat coats              | thing clothing hangable | m Mantel Mäntel               | m abrigo abrigos
jacket jackets          | thing clothing hangable | f Jacke Jacken                | f chaqueta chaquetas
shirt shirts            | thing clothing hangable | n Hemd Hemden                 | f camisa camisas
dress dresses           | thing clothing hangable | n Kleid Kleider               | m vestido vestidos
shoe shoes              | thing clothing    | m Schuh Schuhe                      | m zapato zapatos
chair chairs            | furniture         | m Stuhl Stühle                      | f silla sillas
table tables            | furniture         | m Tisch Tische                      | f mesa mesas
bed beds                | furniture         | n Bett Betten                       | f cama camas
door doors              | furniture openable | f Tür Türen                        | f puerta puertas
window windows          | furniture openable fragile | n Fenster Fenster          | f ventana ventanas
tree trees              | plant             | m Baum Bäume                        | m árbol árboles
# --- vehicles ------------------------------------------------------------------------------------
car cars                | vehicle           | n Auto Autos                        | m coche coches
bicycle bicycles        | vehicle           | n Fahrrad Fahrräder                 | f bicicleta bicicletas
motorcycle motorcycles  | vehicle           | n Motorrad Motorräder               | f moto motos
boat boats              | vehicle           | n Boot Boote                        | m barco barcos
train trains            | vehicle           | m Zug Züge                          | m tren trenes
bus buses               | vehicle           | m Bus Busse                         | m autobús autobuses
truck trucks            | vehicle           | m Lastwagen Lastwagen               | m camión camiones
taxi taxis              | vehicle           | n Taxi Taxis                        | m taxi taxis
plane planes            | vehicle aircraft  | n Flugzeug Flugzeuge                | m avión aviones
# --- food and drink ------------------------------------------------------------------------------
apple apples            | food              | m Apfel Äpfel                       | f manzana manzanas
pear pears              | food              | f Birne Birnen                      | f pera peras
banana bananas          | food              | f Banane Bananen                    | m plátano plátanos
orange oranges          | food              | f Orange Orangen                    | f naranja naranjas
lemon lemons            | food              | f Zitrone Zitronen                  | m limón limones
tomato tomatoes         | food              | f Tomate Tomaten                    | m tomate tomates
potato potatoes         | food              | f Kartoffel Kartoffeln              | f patata patatas
carrot carrots          | food              | f Karotte Karotten                  | f zanahoria zanahorias
egg eggs                | food              | n Ei Eier                           | m huevo huevos
cheese cheeses          | food              | m Käse Käse                         | m queso quesos
sausage sausages        | food              | f Wurst Würste                      | f salchicha salchichas
sandwich sandwiches     | food              | n Sandwich Sandwiches               | m bocadillo bocadillos
salad salads            | food              | m Salat Salate                      | f ensalada ensaladas
soup soups              | food              | f Suppe Suppen                      | f sopa sopas
bread breads            | food baked        | n Brot Brote                        | m pan panes
cake cakes              | food baked        | m Kuchen Kuchen                     | m pastel pasteles
cookie cookies          | food baked        | m Keks Kekse                        | f galleta galletas
pizza pizzas            | food baked        | f Pizza Pizzas                      | f pizza pizzas
coffee coffees          | drink             | m Kaffee Kaffees                    | m café cafés
tea teas                | drink             | m Tee Tees                          | m té tés
juice juices            | drink             | m Saft Säfte                        | m zumo zumos
lemonade lemonades      | drink             | f Limonade Limonaden                | f limonada limonadas
beer beers              | drink             | n Bier Biere                        | f cerveza cervezas
wine wines              | drink             | m Wein Weine                        | m vino vinos
# --- places --------------------------------------------------------------------------------------
garden gardens          | place             | m Garten Gärten                     | m jardín jardines           | in | in in aus
park parks              | place             | m Park Parks                        | m parque parques            | in | in in aus
forest forests          | place             | m Wald Wälder                       | m bosque bosques            | in | in in aus
city cities             | place             | f Stadt Städte                      | f ciudad ciudades           | in | in in aus
village villages        | place             | n Dorf Dörfer                       | m pueblo pueblos            | in | in in aus
harbor harbors          | place             | m Hafen Häfen                       | m puerto puertos            | in | in in aus
zoo zoos                | place             | m Zoo Zoos                          | m zoo zoos                  | at | in in aus
market markets          | place             | m Markt Märkte                      | m mercado mercados          | at | auf zu von
airport airports        | place             | m Flughafen Flughäfen               | m aeropuerto aeropuertos    | at | an zu von
beach beaches           | place             | m Strand Strände                    | f playa playas              | on | an an von
lake lakes              | place             | m See Seen                          | m lago lagos                | at | an an von
street streets          | place             | f Straße Straßen                    | f calle calles              | on | auf auf von
square squares          | place             | m Platz Plätze                      | f plaza plazas              | in | auf auf von
farm farms              | place             | m Bauernhof Bauernhöfe              | f granja granjas            | on | auf auf von
mountain mountains      | place             | m Berg Berge                        | f montaña montañas          | on | auf auf von
island islands          | place             | f Insel Inseln                      | f isla islas                | on | auf auf von
bridge bridges          | place building    | f Brücke Brücken                    | m puente puentes            | on | auf zu von
station stations        | place building    | m Bahnhof Bahnhöfe                  | f estación estaciones       | at | an zu von
university universities | place building   | f Universität Universitäten         | f universidad universidades | at | an zu von
bank banks              | place building    | f Bank Banken                       | m banco bancos              | at | in zu von
school schools          | place building    | f Schule Schulen                    | f escuela escuelas          | at | in zu aus
house houses            | place building room | n Haus Häuser                     | f casa casas                | in | in in aus
library libraries       | place building    | f Bibliothek Bibliotheken           | f biblioteca bibliotecas    | in | in in aus
restaurant restaurants  | place building    | n Restaurant Restaurants            | m restaurante restaurantes  | in | in in aus
hospital hospitals      | place building    | n Krankenhaus Krankenhäuser         | m hospital hospitales       | in | in in aus
museum museums          | place building    | n Museum Museen                     | m museo museos              | in | in in aus
shop shops              | place building    | m Laden Läden                       | f tienda tiendas            | in | in in aus
church churches         | place building    | f Kirche Kirchen                    | f iglesia iglesias          | in | in in aus
hotel hotels            | place building    | n Hotel Hotels                      | m hotel hoteles             | in | in in aus
theater theaters        | place building    | n Theater Theater                   | m teatro teatros            | at | in in aus
cinema cinemas          | place building    | n Kino Kinos                        | m cine cines                | at | in in aus
castle castles          | place building    | n Schloss Schlösser                 | m castillo castillos        | in | in in aus
kitchen kitchens        | place room        | f Küche Küchen                      | f cocina cocinas            | in | in in aus
office offices          | place room        | n Büro Büros                        | f oficina oficinas          | in | in in aus
room rooms              | place room        | n Zimmer Zimmer                     | f habitación habitaciones   | in | in in aus
"""
