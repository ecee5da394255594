"""Verb entries of the bilingual lexicon: one lemma per line, parsed by ``lexicon.py``.

Columns, separated by ``|`` (fields inside a column by spaces; ``_`` joins a multi-word form):

1. English: 3rd person singular present, plural present (= base), simple past, past
   participle, and an optional particle (``picks ... up``, ``looks ... for``).
2. German: infinitive with ``+`` after a separable prefix (``an+rufen``), 3rd person singular
   present and simple past *without* the prefix (``ruft``, ``rief``), past participle,
   perfect auxiliary (``haben``/``sein``), and ``dat`` if the object is dative (``helfen``).
   The 3rd person plural present is the infinitive; the plural past adds ``(e)n``.
3. Spanish: 3rd person singular and plural present, singular and plural past (preterite; the
   imperfect for stative verbs like ``sabía``, which is how Spanish says "knew"), participle.
4. Tags a subject must carry (one of them).
5. Tags an object must carry (one of them), or ``-`` for intransitive verbs.
6. Prepositional-phrase roles the verb takes: ``loc`` (in the garden), ``dir`` (to the
   garden), ``src`` (from the garden), ``arrive`` (at the station / a la estación),
   ``com`` (with the dog), or ``-``.
7. Options: ``optional-object``, ``pp-required``, ``clause`` (also takes a that-clause),
   ``clause-only`` (only takes a that-clause), ``tenses=present,past`` (the tenses it is used
   in when the others sound wrong in one of the languages), or ``-``.
"""

VERB_TABLE = """
# --- transitive -----------------------------------------------------------------------------------------------------------------------------------------------------------------------------
sees see saw seen                        | sehen sieht sah gesehen haben                    | ve ven vio vieron visto                                 | person animal | person animal thing furniture vehicle place plant food drink | loc | -
finds find found found                   | finden findet fand gefunden haben                | encuentra encuentran encontró encontraron encontrado    | person animal | person animal thing document food drink vehicle | loc | -
buys buy bought bought                   | kaufen kauft kaufte gekauft haben                | compra compran compró compraron comprado                | person | thing food drink vehicle furniture | loc | -
sells sell sold sold                     | verkaufen verkauft verkaufte verkauft haben      | vende venden vendió vendieron vendido                   | person | thing food drink vehicle furniture | loc | -
eats eat ate eaten                       | essen isst aß gegessen haben                     | come comen comió comieron comido                        | person animal | food | loc | optional-object
drinks drink drank drunk                 | trinken trinkt trank getrunken haben             | bebe beben bebió bebieron bebido                        | person animal | drink | loc | optional-object
reads read read read                     | lesen liest las gelesen haben                    | lee leen leyó leyeron leído                             | person | document text | loc | optional-object clause
writes write wrote written               | schreiben schreibt schrieb geschrieben haben     | escribe escriben escribió escribieron escrito           | person | text | loc | optional-object clause
needs need needed needed                 | brauchen braucht brauchte gebraucht haben        | necesita necesitan necesitó necesitaron necesitado      | person animal | thing document food drink vehicle furniture | - | -
loves love loved loved                   | lieben liebt liebte geliebt haben                | ama aman amó amaron amado                               | person | person animal | - | -
hates hate hated hated                   | hassen hasst hasste gehasst haben                | odia odian odió odiaron odiado                          | person animal | person animal food | - | -
knows know knew known                    | kennen kennt kannte gekannt haben                | conoce conocen conocía conocían conocido                | person | person place | - | -
visits visit visited visited             | besuchen besucht besuchte besucht haben          | visita visitan visitó visitaron visitado                | person | person place | - | -
helps help helped helped                 | helfen hilft half geholfen haben dat             | ayuda ayudan ayudó ayudaron ayudado                     | person animal | person animal | loc | -
follows follow followed followed         | folgen folgt folgte gefolgt sein dat             | sigue siguen siguió siguieron seguido                   | person animal vehicle | person animal vehicle | - | -
carries carry carried carried            | tragen trägt trug getragen haben                 | lleva llevan llevó llevaron llevado                     | person animal | person animal thing document food drink | loc | -
wears wear wore worn                     | tragen trägt trug getragen haben                 | lleva llevan llevó llevaron llevado                     | person | clothing | loc | -
holds hold held held                     | halten hält hielt gehalten haben                 | sostiene sostienen sostuvo sostuvieron sostenido        | person | person animal thing document food drink | loc | -
washes wash washed washed                | waschen wäscht wusch gewaschen haben             | lava lavan lavó lavaron lavado                          | person | person animal thing vehicle | loc | -
cleans clean cleaned cleaned             | putzen putzt putzte geputzt haben                | limpia limpian limpió limpiaron limpiado                | person | thing furniture vehicle room | - | -
draws draw drew drawn                    | zeichnen zeichnet zeichnete gezeichnet haben     | dibuja dibujan dibujó dibujaron dibujado                | person | person animal thing furniture vehicle place plant | loc | optional-object
paints paint painted painted             | malen malt malte gemalt haben                    | pinta pintan pintó pintaron pintado                     | person | person animal thing vehicle place plant | loc | optional-object
photographs photograph photographed photographed | fotografieren fotografiert fotografierte fotografiert haben | fotografía fotografían fotografió fotografiaron fotografiado | person | person animal thing furniture vehicle place plant food | loc | -
describes describe described described   | beschreiben beschreibt beschrieb beschrieben haben | describe describen describió describieron descrito    | person | person animal thing vehicle place plant text | - | -
orders order ordered ordered             | bestellen bestellt bestellte bestellt haben      | pide piden pidió pidieron pedido                        | person | food drink thing | loc | -
cooks cook cooked cooked                 | kochen kocht kochte gekocht haben                | cocina cocinan cocinó cocinaron cocinado                | person | food | loc | optional-object
bakes bake baked baked                   | backen backt backte gebacken haben               | hornea hornean horneó hornearon horneado                | person | baked | loc | optional-object
catches catch caught caught              | fangen fängt fing gefangen haben                 | atrapa atrapan atrapó atraparon atrapado                | person animal | animal toy | loc | -
kicks kick kicked kicked                 | treten tritt trat getreten haben                 | patea patean pateó patearon pateado                     | person animal | toy | loc | -
repairs repair repaired repaired         | reparieren repariert reparierte repariert haben  | repara reparan reparó repararon reparado                | person | device vehicle furniture clothing | loc | -
builds build built built                 | bauen baut baute gebaut haben                    | construye construyen construyó construyeron construido  | person | building furniture | - | -
kisses kiss kissed kissed                | küssen küsst küsste geküsst haben                | besa besan besó besaron besado                          | person animal | person animal | loc | -
feeds feed fed fed                       | füttern füttert fütterte gefüttert haben         | alimenta alimentan alimentó alimentaron alimentado      | person | animal | loc | -
sends send sent sent                     | schicken schickt schickte geschickt haben        | envía envían envió enviaron enviado                     | person | text thing | - | -
takes take took taken                    | nehmen nimmt nahm genommen haben                 | toma toman tomó tomaron tomado                          | person | thing document food drink vehicle | - | -
steals steal stole stolen                | stehlen stiehlt stahl gestohlen haben            | roba roban robó robaron robado                          | person animal | thing food vehicle | loc | -
fills fill filled filled                 | füllen füllt füllte gefüllt haben                | llena llenan llenó llenaron llenado                     | person | container | loc | -
breaks break broke broken                | zerbrechen zerbricht zerbrach zerbrochen haben   | rompe rompen rompió rompieron roto                      | person animal | fragile | loc | -
greets greet greeted greeted             | begrüßen begrüßt begrüßte begrüßt haben          | saluda saludan saludó saludaron saludado                | person | person | loc | -
asks ask asked asked                     | fragen fragt fragte gefragt haben                | pregunta preguntan preguntó preguntaron preguntado      | person | person | loc | -
watches watch watched watched            | beobachten beobachtet beobachtete beobachtet haben | observa observan observó observaron observado         | person animal | person animal vehicle | loc | -
bites bite bit bitten                    | beißen beißt biss gebissen haben                 | muerde muerden mordió mordieron mordido                 | animal | person animal food | loc | -
chases chase chased chased               | jagen jagt jagte gejagt haben                    | persigue persiguen persiguió persiguieron perseguido    | person animal | person animal vehicle toy | loc | -
forgets forget forgot forgotten          | vergessen vergisst vergaß vergessen haben        | olvida olvidan olvidó olvidaron olvidado                | person | person thing document text | loc | clause
loses lose lost lost                     | verlieren verliert verlor verloren haben         | pierde pierden perdió perdieron perdido                 | person animal | thing document | loc | -
understands understand understood understood | verstehen versteht verstand verstanden haben | entiende entienden entendió entendieron entendido      | person animal | person text | - | clause
smells smell smelled smelled             | riechen riecht roch gerochen haben               | huele huelen olió olieron olido                         | person animal | food drink plant | loc | -
hides hide hid hidden                    | verstecken versteckt versteckte versteckt haben  | esconde esconden escondió escondieron escondido         | person animal | thing document food | loc | -
looks look looked looked for             | suchen sucht suchte gesucht haben                | busca buscan buscó buscaron buscado                     | person animal | person animal thing document food drink vehicle | loc | -
hears hear heard heard                   | hören hört hörte gehört haben                    | oye oyen oyó oyeron oído                                | person animal | person animal vehicle text | loc | clause
notices notice noticed noticed           | bemerken bemerkt bemerkte bemerkt haben          | nota notan notó notaron notado                          | person animal | person animal thing vehicle | loc | clause
# --- that-clause only ----------------------------------------------------------------------------------------------------------------------------------------------------------------------
says say said said                       | sagen sagt sagte gesagt haben                    | dice dicen dijo dijeron dicho                           | person | - | - | clause-only
explains explain explained explained     | erklären erklärt erklärte erklärt haben          | explica explican explicó explicaron explicado           | person | - | - | clause-only
knows know knew known                    | wissen weiß wusste gewusst haben                 | sabe saben sabía sabían sabido                          | person | - | - | clause-only tenses=present,past
thinks think thought thought             | denken denkt dachte gedacht haben                | piensa piensan pensaba pensaban pensado                 | person | - | - | clause-only tenses=present,past
believes believe believed believed       | glauben glaubt glaubte geglaubt haben            | cree creen creía creían creído                          | person | - | - | clause-only tenses=present,past
# --- separable, transitive ------------------------------------------------------------------------------------------------------------------------------------------------------------------
calls call called called                 | an+rufen ruft rief angerufen haben               | llama llaman llamó llamaron llamado                     | person | person | loc | -
invites invite invited invited           | ein+laden lädt lud eingeladen haben              | invita invitan invitó invitaron invitado                | person | person | - | -
opens open opened opened                 | auf+machen macht machte aufgemacht haben         | abre abren abrió abrieron abierto                       | person | openable | loc | -
closes close closed closed               | zu+machen macht machte zugemacht haben           | cierra cierran cerró cerraron cerrado                   | person | openable | loc | -
picks pick picked picked up              | ab+holen holt holte abgeholt haben               | recoge recogen recogió recogieron recogido              | person | person animal thing vehicle | loc | -
brings bring brought brought             | mit+bringen bringt brachte mitgebracht haben     | trae traen trajo trajeron traído                        | person animal | person animal thing food drink | - | -
brings bring brought brought back        | zurück+bringen bringt brachte zurückgebracht haben | devuelve devuelven devolvió devolvieron devuelto      | person animal | thing document vehicle | - | -
gives give gave given back               | zurück+geben gibt gab zurückgegeben haben        | devuelve devuelven devolvió devolvieron devuelto        | person | thing document vehicle | - | -
looks look looked looked at              | an+sehen sieht sah angesehen haben               | mira miran miró miraron mirado                          | person animal | person animal thing furniture vehicle place plant food document | loc | -
switches switch switched switched on     | ein+schalten schaltet schaltete eingeschaltet haben | enciende encienden encendió encendieron encendido    | person | device | loc | -
switches switch switched switched off    | aus+schalten schaltet schaltete ausgeschaltet haben | apaga apagan apagó apagaron apagado                  | person | device | loc | -
throws throw threw thrown away           | weg+werfen wirft warf weggeworfen haben          | tira tiran tiró tiraron tirado                          | person | thing food document | - | -
hangs hang hung hung up                  | auf+hängen hängt hängte aufgehängt haben         | cuelga cuelgan colgó colgaron colgado                   | person | hangable | loc | -
wakes wake woke woken up                 | auf+wecken weckt weckte aufgeweckt haben         | despierta despiertan despertó despertaron despertado    | person animal | person animal | loc | -
tidies tidy tidied tidied up             | auf+räumen räumt räumte aufgeräumt haben         | ordena ordenan ordenó ordenaron ordenado                | person | room | - | -
offers offer offered offered             | an+bieten bietet bot angeboten haben             | ofrece ofrecen ofreció ofrecieron ofrecido              | person | food drink thing | loc | -
introduces introduce introduced introduced | vor+stellen stellt stellte vorgestellt haben   | presenta presentan presentó presentaron presentado      | person | person | loc | -
prepares prepare prepared prepared       | vor+bereiten bereitet bereitete vorbereitet haben | prepara preparan preparó prepararon preparado          | person | food drink document | loc | -
hands hand handed handed in              | ab+geben gibt gab abgegeben haben                | entrega entregan entregó entregaron entregado           | person | document text thing | loc | -
writes write wrote written down          | auf+schreiben schreibt schrieb aufgeschrieben haben | anota anotan anotó anotaron anotado                  | person | text | loc | -
accepts accept accepted accepted         | an+nehmen nimmt nahm angenommen haben            | acepta aceptan aceptó aceptaron aceptado                | person | thing text | - | -
chooses choose chose chosen              | aus+suchen sucht suchte ausgesucht haben         | elige eligen eligió eligieron elegido                   | person | thing food drink document | loc | -
sets set set set up                      | auf+bauen baut baute aufgebaut haben             | monta montan montó montaron montado                     | person | furniture toy | loc | -
# --- separable, intransitive ---------------------------------------------------------------------------------------------------------------------------------------------------------------
arrives arrive arrived arrived           | an+kommen kommt kam angekommen sein              | llega llegan llegó llegaron llegado                     | person animal vehicle | - | arrive | -
departs depart departed departed         | ab+fahren fährt fuhr abgefahren sein             | sale salen salió salieron salido                        | person vehicle | - | src | -
returns return returned returned         | zurück+kehren kehrt kehrte zurückgekehrt sein    | regresa regresan regresó regresaron regresado           | person animal vehicle | - | dir src | -
comes come came come back                | zurück+kommen kommt kam zurückgekommen sein      | vuelve vuelven volvió volvieron vuelto                  | person animal vehicle | - | dir src | -
goes go went gone out                    | aus+gehen geht ging ausgegangen sein             | sale salen salió salieron salido                        | person | - | com | -
runs run ran run away                    | weg+laufen läuft lief weggelaufen sein           | huye huyen huyó huyeron huido                           | person animal | - | src | -
stops stop stopped stopped               | an+halten hält hielt angehalten haben            | para paran paró pararon parado                          | person vehicle | - | loc | -
joins join joined joined in              | mit+machen macht machte mitgemacht haben         | participa participan participó participaron participado | person | - | - | -
# --- intransitive -------------------------------------------------------------------------------------------------------------------------------------------------------------------------
sleeps sleep slept slept                 | schlafen schläft schlief geschlafen haben        | duerme duermen durmió durmieron dormido                 | person animal | - | loc | -
works work worked worked                 | arbeiten arbeitet arbeitete gearbeitet haben     | trabaja trabajan trabajó trabajaron trabajado           | person | - | loc com | -
plays play played played                 | spielen spielt spielte gespielt haben            | juega juegan jugó jugaron jugado                        | person animal | - | loc com | -
dances dance danced danced               | tanzen tanzt tanzte getanzt haben                | baila bailan bailó bailaron bailado                     | person | - | loc com | -
sings sing sang sung                     | singen singt sang gesungen haben                 | canta cantan cantó cantaron cantado                     | person animal | - | loc com | -
waits wait waited waited                 | warten wartet wartete gewartet haben             | espera esperan esperó esperaron esperado                | person animal | - | loc | -
talks talk talked talked                 | sprechen spricht sprach gesprochen haben         | habla hablan habló hablaron hablado                     | person | - | loc com | -
smiles smile smiled smiled               | lächeln lächelt lächelte gelächelt haben         | sonríe sonríen sonrió sonrieron sonreído                | person | - | loc | -
cries cry cried cried                    | weinen weint weinte geweint haben                | llora lloran lloró lloraron llorado                     | person animal | - | loc | -
studies study studied studied            | lernen lernt lernte gelernt haben                | estudia estudian estudió estudiaron estudiado           | person | - | loc com | -
has_breakfast have_breakfast had_breakfast had_breakfast | frühstücken frühstückt frühstückte gefrühstückt haben | desayuna desayunan desayunó desayunaron desayunado | person | - | loc com | -
lives live lived lived                   | wohnen wohnt wohnte gewohnt haben                | vive viven vivió vivieron vivido                        | person animal | - | loc | pp-required
swims swim swam swum                     | schwimmen schwimmt schwamm geschwommen sein      | nada nadan nadó nadaron nadado                          | person animal | - | loc com | -
climbs climb climbed climbed             | klettern klettert kletterte geklettert sein      | trepa trepan trepó treparon trepado                     | person animal | - | loc | -
hikes hike hiked hiked                   | wandern wandert wanderte gewandert sein          | camina caminan caminó caminaron caminado                | person | - | loc com | -
runs run ran run                         | laufen läuft lief gelaufen sein                  | corre corren corrió corrieron corrido                   | person animal | - | loc dir | -
goes go went gone                        | gehen geht ging gegangen sein                    | va van fue fueron ido                                   | person animal | - | dir | pp-required
comes come came come                     | kommen kommt kam gekommen sein                   | viene vienen vino vinieron venido                       | person animal vehicle | - | dir src | -
flies fly flew flown                     | fliegen fliegt flog geflogen sein                | vuela vuelan voló volaron volado                        | person animal aircraft | - | dir src | -
travels travel traveled traveled         | reisen reist reiste gereist sein                 | viaja viajan viajó viajaron viajado                     | person | - | dir com | -
drives drive drove driven                | fahren fährt fuhr gefahren sein                  | conduce conducen condujo condujeron conducido           | person | - | dir | pp-required
lands land landed landed                 | landen landet landete gelandet sein              | aterriza aterrizan aterrizó aterrizaron aterrizado      | aircraft | - | loc | -
disappears disappear disappeared disappeared | verschwinden verschwindet verschwand verschwunden sein | desaparece desaparecen desapareció desaparecieron desaparecido | person animal vehicle thing | - | loc | -
"""
