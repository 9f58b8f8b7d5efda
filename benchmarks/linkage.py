"""Privacy-preserving record linkage: precision, recall and speed of OpenNRM's matcher beside anonlink's.

    .venv/bin/python benchmarks/linkage.py                   # 100,000 records a side, with anonlink
    .venv/bin/python benchmarks/linkage.py --skip-anonlink   # OpenNRM's matcher only

1. Generates two registers of people (seeded, so every run has the same records): side A, a Georgian
   instance, and side B, a Ukrainian one, `--size` records each, of which `--overlap` of side B are people also
   on side A. People come from Georgia, Ukraine, Moldova and Belarus, with common given and family names of their
   country (Georgian script, Ukrainian / Russian / Belarusian Cyrillic, Romanian with diacritics) and a date of
   birth in 1960-2010. Each side writes a person the way its clerks would: a Georgian in Georgian script on
   side A and in Ukrainian or Russian Cyrillic or passport Latin on side B, a Ukrainian in Cyrillic on side B and
   in passport Latin (KMU 2010 or an older spelling: Oleksandr / Olexandr / Aleksandr) or Georgian script on
   side A, Russian instead of Ukrainian forms (Олександр / Александр), Belarusian passport spellings (Aliaksandr),
   Moldovan names with and without diacritics or in Cyrillic. A person on both sides is always written in a
   different script or spelling on side B. Side B then gets data-entry errors at the rates of `ERRORS`
   (typos, dropped letters, given and family name swapped, date of birth missing, day and month swapped, year
   off by one), and near-collisions: namesakes of side-A people born in the same or the next year, twins.
   Given names are drawn from the lists with Zipf weights; family names from the lists for COMMON_FAMILY of
   the people, the others from a long tail of rarer names of the country's shape (stem + real suffix).
2. Encodes both sides with `opennrm.cooperation.linkage.encoding.Encoder` (one secret) and times it.
3. Runs `opennrm.cooperation.linkage.matching.match` (blocking on the year of birth) and scores it against the
   ground truth: precision, recall, F1, comparisons, seconds, comparisons per second. Three ways: as it runs by
   default (one thread of ours; numpy's OpenBLAS spreads each matrix product over every core), and, in a child
   process started with OPENBLAS_NUM_THREADS=1 (read only when numpy loads), on one thread in all (the figure
   to set beside anonlink's single-threaded kernel) and on one thread per core.
4. Installs anonlink (CSIRO Data61's Bloom-filter linkage library, pinned to ANONLINK_VERSION) in a virtual
   environment of its own (build/bench-anonlink-venv, created with a Python anonlink supports, since it pins
   old dependencies), hands it the same encodings and runs it there (benchmarks/linkage_anonlink.py): its C++
   Dice kernel and greedy solver, without blocking and with the same blocks. The parent scores its matches
   against the same ground truth and prints the ratios.
5. Prints where OpenNRM's matcher misses (recall by error and by the pair of spellings), what its false matches
   are, and its precision and recall at other thresholds.

Not a test: it prints figures and asserts nothing. Options: --help.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ANONLINK_VERSION = "0.15.3"
ANONLINK_VENV = REPO / "build" / "bench-anonlink-venv"
ANONLINK_PYTHONS = ("python3.11", "python3.12", "python3.10", "python3.9", "python3")  # first that works


def _words(text: str) -> list[str]:
    return text.split()


# --- names -------------------------------------------------------------------------------------------------
# Common names of each country, most frequent first (drawn with Zipf weights). "a:b" is a native form and its
# other form: Ukrainian:Russian, Russian:Belarusian, Romanian:Russian; Georgian given names map to the Russian
# and Ukrainian names clerks often write instead of a transliteration (გიორგი -> Георгий / Георгій).

GE_MALE = _words("""გიორგი დავით ნიკოლოზ ალექსანდრე ლევან ირაკლი ზურაბ გოჩა დიმიტრი ლუკა ნიკა საბა ლაშა გიგა
თორნიკე ბექა ვახტანგ მამუკა ვლადიმერ ილია თემურ ავთანდილ გელა კახაბერ ზაზა პაატა რევაზ შოთა მერაბ ნუგზარ
ბესიკ ჯემალ გურამ ომარ თამაზ ბადრი ვაჟა სანდრო ანდრია იოანე ალექსი მიხეილ ნოდარ ოთარ ზვიად ტარიელ ემზარ
კობა გივი ვასილ ჯაბა თენგიზ ელდარ დემეტრე""")
GE_FEMALE = _words("""ნინო მარიამ თამარ ანა ელენე ნათია ეკატერინე ქეთევან სალომე მაია ლელა ნანა ია თეა ხატია ნატო
მანანა ლია ირმა მაკა ეკა ნესტან ლიკა სოფიო ბარბარე ანი თინათინ მზია ციური ლალი ნონა ეთერ დარეჯან ლამარა
ციცინო ნაირა ინგა თეონა ნუცა ელისო გვანცა თიკო ქრისტინე მაგდა შორენა რუსუდან ნატალია ლიანა თამთა ანანო
მარინა ხათუნა""")
GE_FAMILY = _words("""ბერიძე მაისურაძე კაპანაძე გელაშვილი ლომიძე ჯაფარიძე ნოზაძე ბოლქვაძე გიორგაძე ხუციშვილი ტაბატაძე
ჩიქოვანი გოგოლაძე მესხი ქავთარაძე კვარაცხელია შენგელია ჯანელიძე ბაღათურია გოგიჩაიშვილი მიქაბერიძე აბაშიძე
მჭედლიშვილი კიკნაძე ჩხეიძე ხარაიშვილი ბაქრაძე დავითაშვილი სურმანიძე ნიჟარაძე ჩიხლაძე კობახიძე ლობჟანიძე
ცხადაძე ჭავჭავაძე დოლიძე ბერიშვილი გაბუნია ქარდავა ჯიქია ხუბუა კაკაბაძე გოცირიძე მაღლაკელიძე წიკლაური
ბასილაია ფიფია მიქელაძე ჭანტურია თოდუა კვირკველია ცინცაძე გვარამია ჯორბენაძე გოგია ბუაძე ქობულაძე ხოშტარია
წერეთელი მაჭავარიანი ხვიჩია ჩოხელი რევაზიშვილი ზედგინიძე ჯავახიშვილი ნადირაძე ოქროპირიძე ბეჟანიძე გურგენიძე
ჟღენტი ღლონტი ყიფიანი ყაველაშვილი ფხაკაძე ქურდაძე შარაშიძე ბუჩუკური ცაგარეიშვილი ჯღამაძე ყურაშვილი
ლორთქიფანიძე კიკვაძე მახარაძე კალანდაძე გოგუაძე თავაძე კენჭაძე მგელაძე ხაჩიძე ახალაია ჭელიძე ტყეშელაშვილი
ქიქავა ბარამიძე შუბლაძე კაციტაძე ძნელაძე მეგრელიშვილი ბოჭორიშვილი ბექაური ვაჩნაძე ბაკურაძე იოსელიანი
ღვინიაშვილი ნაჭყებია ცქიტიშვილი""")
GE_EQUIVALENT = {
    pair.split(":")[0]: tuple(pair.split(":")[1:])
    for pair in _words("""გიორგი:Георгий:Георгій დავით:Давид:Давид ნიკოლოზ:Николай:Микола
ალექსანდრე:Александр:Олександр დიმიტრი:Дмитрий:Дмитро ვლადიმერ:Владимир:Володимир ილია:Илья:Ілля
მიხეილ:Михаил:Михайло ანდრია:Андрей:Андрій იოანე:Иван:Іван ალექსი:Алексей:Олексій ვასილ:Василий:Василь
ირაკლი:Ираклий:Іраклій ეკატერინე:Екатерина:Катерина მარიამ:Мария:Марія ელენე:Елена:Олена
ნატალია:Наталья:Наталія თამარ:Тамара:Тамара სოფიო:София:Софія ბარბარე:Варвара:Варвара
ქრისტინე:Кристина:Христина ანა:Анна:Анна""")
}

UA_MALE = _words("""Олександр:Александр Сергій:Сергей Андрій:Андрей Дмитро:Дмитрий Володимир:Владимир Іван:Иван
Микола:Николай Михайло:Михаил Юрій:Юрий Віктор:Виктор Василь:Василий Петро:Пётр Павло:Павел Максим:Максим
Богдан:Богдан Тарас:Тарас Олег:Олег Ігор:Игорь Артем:Артём Денис:Денис Роман:Роман Віталій:Виталий
Євген:Евгений Анатолій:Анатолий Валерій:Валерий Григорій:Григорий Ярослав:Ярослав Костянтин:Константин
Степан:Степан Назар:Назар Вадим:Вадим Руслан:Руслан Федір:Фёдор Леонід:Леонид Станіслав:Станислав Ілля:Илья
Данило:Даниил Кирило:Кирилл Владислав:Владислав Олексій:Алексей Ростислав:Ростислав Святослав:Святослав
Матвій:Матвей Тимофій:Тимофей Георгій:Георгий Валентин:Валентин Геннадій:Геннадий Борис:Борис Антон:Антон
Яків:Яков Остап:Остап Орест:Орест""")
UA_FEMALE = _words("""Олена:Елена Наталія:Наталья Ольга:Ольга Тетяна:Татьяна Ірина:Ирина Світлана:Светлана Оксана:Оксана
Юлія:Юлия Марія:Мария Анна:Анна Катерина:Екатерина Людмила:Людмила Галина:Галина Валентина:Валентина
Надія:Надежда Любов:Любовь Вікторія:Виктория Анастасія:Анастасия Софія:София Дарина:Дарина Христина:Кристина
Олександра:Александра Яна:Яна Інна:Инна Лариса:Лариса Алла:Алла Віра:Вера Ганна:Анна Марина:Марина
Лілія:Лилия Ніна:Нина Зоя:Зоя Раїса:Раиса Євгенія:Евгения Діана:Диана Аліна:Алина Вероніка:Вероника
Ангеліна:Ангелина Уляна:Ульяна Мирослава:Мирослава Богдана:Богдана Соломія:Соломия Ксенія:Ксения
Тамара:Тамара Лідія:Лидия Олеся:Олеся Жанна:Жанна Таміла:Тамила Єлизавета:Елизавета Поліна:Полина
Карина:Карина""")
UA_FAMILY = _words("""Шевченко Коваленко Бондаренко Ткаченко Кравченко Олійник Шевчук Коваль Поліщук Бондар Ткачук Мельник
Марченко Руденко Савченко Лисенко Мороз Петренко Клименко Павленко Кравчук Кузьменко Кушнір Сидоренко Левченко
Гончаренко Романенко Карпенко Гаврилюк Мельничук Пономаренко Приходько Костенко Іваненко Мартинюк Кучер
Захарченко Литвиненко Василенко Головко Демченко Ковальчук Яковенко Остапенко Білоус Гуменюк Панченко Дяченко
Онищенко Симоненко Степаненко Ярошенко Вакуленко Гордієнко Гребенюк Дорошенко Зінченко Кириленко Климчук Литвин
Мазур Нестеренко Осадчий Пилипенко Прокопенко Федоренко Фесенко Хоменко Юрченко Яременко Бойко Кравець Савчук
Грищенко Данилюк Гнатюк Антонюк Тарасенко Назаренко Тищенко Сорока Білик Волошин Панасюк Кононенко Лук'яненко
Мельниченко Ковальський Вишневський Василевський Ковалевський Заболотний Чорний Білий Іванов Петров Козлов
Соколов Семенов Поляков Дмитрук Ничипорук Гриценко Середа Шаповал Швець Коломієць Луценко Власенко Оліфіренко
Кисіль Костюк Пархоменко Мирошниченко Шульга""")

BY_MALE = _words("""Александр:Аляксандр Сергей:Сяргей Андрей:Андрэй Дмитрий:Дзмітрый Алексей:Аляксей Владимир:Уладзімір
Иван:Іван Николай:Мікалай Михаил:Міхаіл Юрий:Юрый Виктор:Віктар Василий:Васіль Павел:Павел Максим:Максім
Игорь:Ігар Артём:Арцём Денис:Дзяніс Евгений:Яўген Виталий:Віталь Олег:Алег Антон:Антон Вадим:Вадзім
Роман:Раман Кирилл:Кірыл Никита:Мікіта Илья:Ілья Егор:Ягор Глеб:Глеб Константин:Канстанцін Анатолий:Анатоль
Валерий:Валерый Геннадий:Генадзь Пётр:Пятро Леонид:Леанід Станислав:Станіслаў Вячеслав:Вячаслаў
Руслан:Руслан Тимофей:Цімафей Григорий:Рыгор Степан:Сцяпан""")
BY_FEMALE = _words("""Наталья:Наталля Екатерина:Кацярына Ольга:Вольга Татьяна:Таццяна Ирина:Ірына Елена:Алена Юлия:Юлія
Анастасия:Анастасія Мария:Марыя Анна:Ганна Светлана:Святлана Людмила:Людміла Галина:Галіна Валентина:Валянціна
Надежда:Надзея Виктория:Вікторыя Дарья:Дар'я Алина:Аліна Ксения:Ксенія Марина:Марына Оксана:Аксана
Вероника:Вераніка Елизавета:Лізавета Полина:Паліна Валерия:Валерыя Кристина:Крысціна Диана:Дыяна Алла:Ала
Лариса:Ларыса Нина:Ніна Вера:Вера Тамара:Тамара Жанна:Жанна Инна:Іна Софья:Сафія Евгения:Яўгенія
Александра:Аляксандра Любовь:Любоў Раиса:Раіса""")
BY_FAMILY = _words("""Иванов:Іваноў Ковалёв:Кавалёў Козлов:Казлоў Новиков:Новікаў Морозов:Марозаў Васильев:Васільеў
Петров:Пятроў Ковальчук:Кавальчук Климович:Клімовіч Кулик:Кулік Лукашевич:Лукашэвіч Макаревич:Макарэвіч Жук:Жук
Карпович:Карповіч Богданович:Багдановіч Савицкий:Савіцкі Шевчук:Шаўчук Мельник:Мельнік Кравчук:Краўчук
Павлович:Паўловіч Романович:Рамановіч Радкевич:Радкевіч Юркевич:Юркевіч Станкевич:Станкевіч Тарасевич:Тарасевіч
Ярошевич:Ярашэвіч Мицкевич:Міцкевіч Бабич:Бабіч Адамович:Адамовіч Гринкевич:Грынкевіч Дашкевич:Дашкевіч
Марцинкевич:Марцінкевіч Пашкевич:Пашкевіч Шидловский:Шыдлоўскі Войтехович:Войтэхавіч Лис:Ліс Сидорович:Сідаровіч
Новик:Навік Кузьмич:Кузьміч Гурин:Гурын Козловский:Казлоўскі Ткачук:Ткачук Миронович:Міроновіч
Прокопович:Пракаповіч Захаревич:Захарэвіч Лещенко:Ляшчэнка Сидоренко:Сідарэнка Кравченко:Краўчэнка
Бондаренко:Бандарэнка Шевченко:Шаўчэнка Коваленко:Каваленка Ковалевич:Кавалевіч Волков:Ваўкоў Соловей:Салавей
Воробей:Верабей Полещук:Палешчук Гончаров:Ганчароў Зайцев:Зайцаў Михалевич:Міхалевіч Ананич:Ананіч Рыбак:Рыбак
Жданович:Ждановіч Левчук:Леўчук Савченко:Саўчанка Пинчук:Пінчук Остапович:Астаповіч Филипович:Філіповіч
Герасимович:Герасімовіч Якубович:Якубовіч Статкевич:Статкевіч Янушкевич:Янушкевіч Лобанов:Лабаноў
Кириленко:Кірыленка Шпаковский:Шпакоўскі Дубровский:Дуброўскі Бородич:Барадзіч Минич:Мініч Гайдук:Гайдук
Мартинович:Марціновіч""")

MD_MALE = _words("""Ion:Иван Vasile:Василий Gheorghe:Георгий Nicolae:Николай Sergiu:Сергей Andrei:Андрей Alexandru:Александр
Mihai:Михаил Dumitru:Дмитрий Victor Vladimir Constantin:Константин Igor Ivan Petru:Пётр Valeriu:Валерий Dorin
Vitalie:Виталий Oleg Iurie:Юрий Adrian Dan Radu Marin Tudor Ștefan:Степан Eugen:Евгений Ruslan
Veaceslav:Вячеслав Artur Maxim Cristian Denis Pavel Grigore:Григорий Anatolie:Анатолий Valentin Octavian Vadim
Corneliu Mircea Iulian Dragoș Ghenadie:Геннадий Serghei:Сергей Alexei:Алексей Simion:Семён Teodor:Фёдор
Ilie:Илья""")
MD_FEMALE = _words("""Maria Elena Ana:Анна Natalia:Наталья Tatiana:Татьяна Svetlana Olga Irina Ecaterina:Екатерина Galina
Valentina Ludmila Nadejda:Надежда Lilia Victoria Cristina Diana Alina Mariana Ala Angela Aurelia Doina
Eugenia:Евгения Silvia Larisa Veronica Daniela Violeta Rodica Zinaida Nina Vera Lidia Liuba:Любовь Oxana:Оксана
Corina Ina Marina Adriana Stela Lucia Nicoleta Tamara Raisa Parascovia:Прасковья Ana-Maria Iulia:Юлия Valeria
Inga Emilia""")
MD_FAMILY = _words("""Rusu Ceban Ciobanu Țurcanu Lungu Munteanu Cebotari Rotari Popa Cojocaru Sîrbu Guțu Roșca Bivol Moraru
Melnic Cazacu Ursu Botnari Bălan Railean Ciorba Moldovan Gheorghiță Cucu Lupu Prisăcaru Postolache Mocanu Golban
Croitoru Grosu Sandu Popovici Căpățînă Ungureanu Bejenaru Chiriac Morari Donica Talmaci Leahu Cușnir Vrabie
Pîrlog Stratan Nistor Coțofană Plămădeală Bîrcă Căldare Ghețu Mîțu Pascari Cernei Tabără Scutaru Ostafi Bogdan
Cojocari Chiriță Vasilache Ababii Negru Buzu Zaharia Iordache Babără Rață Cazac Frunze Ciubotaru Gîrlea Țîmbalari
Harea Doroftei Jitaru Cîrlig Andronic Rusnac Onica Spînu Olaru Gonța Crudu Bostan Covali Dabija Eremia Grigoraș
Hîncu Iovu Lozan Manole Neagu Oprea Pleșca""")


def _pairs(words: list[str]) -> list[tuple[str, str]]:
    """ "a:b" -> (a, b); a word without a second form stands for both."""
    return [(w.split(":")[0], w.split(":")[-1]) for w in words]


@dataclass(frozen=True)
class Names:
    male: list[tuple[str, str]]  # (native form, other form)
    female: list[tuple[str, str]]
    family: list[tuple[str, str]]


NAMES = {
    "GE": Names(male=_pairs(GE_MALE), female=_pairs(GE_FEMALE), family=_pairs(GE_FAMILY)),
    "UA": Names(male=_pairs(UA_MALE), female=_pairs(UA_FEMALE), family=_pairs(UA_FAMILY)),
    "BY": Names(male=_pairs(BY_MALE), female=_pairs(BY_FEMALE), family=_pairs(BY_FAMILY)),
    "MD": Names(male=_pairs(MD_MALE), female=_pairs(MD_FEMALE), family=_pairs(MD_FAMILY)),
}

# --- transliteration ---------------------------------------------------------------------------------------


def _table(spec: str) -> dict[str, str]:
    return {key: value for key, _, value in (item.partition("=") for item in spec.split())}


GE_LATIN = _table(  # Georgian national system (2002), as in passports: no apostrophes
    "ა=a ბ=b გ=g დ=d ე=e ვ=v ზ=z თ=t ი=i კ=k ლ=l მ=m ნ=n ო=o პ=p ჟ=zh რ=r ს=s ტ=t უ=u ფ=p ქ=k ღ=gh ყ=q "
    "შ=sh ჩ=ch ც=ts ძ=dz წ=ts ჭ=ch ხ=kh ჯ=j ჰ=h"
)
GE_LATIN_OLD = {  # older and foreign spellings: Djavakhishvili, Tsereteli / Cereteli, Kipiani / Qipiani
    "ყ": ["k", "kh", "q"],
    "ხ": ["kh", "x", "h"],
    "ჯ": ["dj", "dzh"],
    "ჟ": ["j", "zh"],
    "ღ": ["g", "gh"],
    "ც": ["c", "ts", "z"],
    "წ": ["tz", "ts", "c"],
    "ჭ": ["tch", "ch"],
    "ჩ": ["tch", "ch"],
    "თ": ["th", "t"],
    "ფ": ["ph", "p"],
    "ქ": ["q", "k"],
}
GE_CYRILLIC = _table(
    "ა=а ბ=б გ=г დ=д ე=е ვ=в ზ=з თ=т ი=и კ=к ლ=л მ=м ნ=н ო=о პ=п ჟ=ж რ=р ს=с ტ=т უ=у ფ=п ქ=к ღ=г ყ=к "
    "შ=ш ჩ=ч ც=ц ძ=дз წ=ц ჭ=ч ხ=х ჯ=дж ჰ=х"
)
GE_RUSSIAN = GE_CYRILLIC | {"ია": "ия"}
GE_RUSSIAN_INITIAL = {"ე": "э"}
GE_UKRAINIAN = GE_CYRILLIC | {"ი": "і", "ია": "ія"}

UK_LATIN = _table(  # KMU 2010, Ukrainian passports since 2010
    "а=a б=b в=v г=h ґ=g д=d е=e є=ie ж=zh з=z и=y і=i ї=i й=i к=k л=l м=m н=n о=o п=p р=r с=s т=t у=u ф=f "
    "х=kh ц=ts ч=ch ш=sh щ=shch ь= ю=iu я=ia '= зг=zgh"
)
UK_LATIN_INITIAL = _table("є=ye ї=yi й=y ю=yu я=ya")
UK_LATIN_OLD = {  # passports before 2010 and hand-written forms: Olexandr, Andriy, Yuliya / Julia, Hrytsenko
    "г": ["h", "g"],
    "й": ["y", "j", "i"],
    "ї": ["yi", "i", "ji"],
    "є": ["ye", "je", "ie"],
    "ю": ["yu", "ju", "iu"],
    "я": ["ya", "ja", "ia"],
    "х": ["kh", "h"],
    "ц": ["ts", "c", "tz"],
    "кс": ["x", "ks"],
    "щ": ["shch", "sch"],
    "ій": ["iy", "ii", "ij", "y"],
}
RU_LATIN = _table(  # ICAO 9303, Russian passports since 2013
    "а=a б=b в=v г=g д=d е=e ё=e ж=zh з=z и=i й=i к=k л=l м=m н=n о=o п=p р=r с=s т=t у=u ф=f х=kh ц=ts "
    "ч=ch ш=sh щ=shch ъ=ie ы=y ь= э=e ю=iu я=ia '="
)
RU_LATIN_OLD = {  # older passports and foreign spellings: Aleksandr / Alexander, Yuliya, Dmitriy / Dmitry
    "е": ["e", "ye"],
    "ё": ["yo", "e", "io"],
    "й": ["y", "j", "i"],
    "ю": ["yu", "ju", "iu"],
    "я": ["ya", "ja", "ia"],
    "х": ["kh", "h", "ch"],
    "ц": ["ts", "c", "tz"],
    "кс": ["x", "ks"],
    "щ": ["shch", "sch"],
    "ий": ["iy", "ii", "y", "i"],
    "ей": ["ey", "ei"],
    "ж": ["zh", "j"],
}
BE_LATIN = _table(  # Belarusian passports: Aliaksandr, Siarhei, Katsiaryna, Yauhen
    "а=a б=b в=v г=h д=d е=ie ё=io ж=zh з=z і=i й=i к=k л=l м=m н=n о=o п=p р=r с=s т=t у=u ў=u ф=f х=kh "
    "ц=ts ч=ch ш=sh ы=y ь= э=e ю=iu я=ia '="
)
BE_LATIN_INITIAL = _table("е=ye ё=yo ю=yu я=ya")
CYRILLIC_GEORGIAN = _table(  # a Georgian clerk writing a Cyrillic name in Georgian script
    "а=ა б=ბ в=ვ г=გ ґ=გ д=დ е=ე є=იე ё=იო ж=ჟ з=ზ и=ი і=ი ї=ი й=ი к=კ л=ლ м=მ н=ნ о=ო п=პ р=რ с=ს т=ტ "
    "у=უ ў=უ ф=ფ х=ხ ц=ც ч=ჩ ш=შ щ=შჩ ъ= ы=ი ь= э=ე ю=იუ я=ია '="
)
ROMANIAN_RUSSIAN = _table(  # Moldovan names in Russian-language documents: Ciobanu -> Чобану, Leahu -> Ляху
    "chi=ки che=ке ghi=ги ghe=ге cea=ча cia=ча cio=чо ciu=чу ce=че ci=чи gea=джа gia=джа gio=джо giu=джу "
    "ge=дже gi=джи ea=я iu=ю ia=ия ș=ш ş=ш ț=ц ţ=ц ă=э â=ы î=ы j=ж h=х x=кс c=к g=г a=а b=б d=д e=е f=ф "
    "i=и k=к l=л m=м n=н o=о p=п r=р s=с t=т u=у v=в w=в y=й z=з q=к"
)
UK_TO_RU = _table("і=и ї=и є=е '=ь")  # a Ukrainian family name as a Russian speaker writes it (roughly)


def transliterate(text: str, table: Mapping[str, str], initial: Mapping[str, str] | None = None) -> str:
    """Longest match first (three characters down to one); `initial` applies at the start of a word. A piece
    starts with a capital where the text had one, except in Georgian script; characters not in the table are
    kept."""
    out = []
    lower = text.lower()
    i = 0
    while i < len(text):
        start = i == 0 or not lower[i - 1].isalpha()
        for size in (3, 2, 1):
            key = lower[i : i + size]
            if len(key) < size:
                continue
            if start and initial and key in initial:
                piece = initial[key]
                break
            if key in table:
                piece = table[key]
                break
        else:
            piece, size = text[i], 1
        if text[i].isupper() and not "\u10a0" <= piece[:1] <= "\u10ff":  # Georgian names have no capitals
            piece = piece[:1].upper() + piece[1:]
        out.append(piece)
        i += size
    return "".join(out)


def variant(rng: random.Random, table: Mapping[str, str], options: Mapping[str, list[str]]) -> dict[str, str]:
    """The table with one choice per letter of `options`, the same for the whole record."""
    return {**table, **{key: rng.choice(values) for key, values in options.items()}}


def romanian_to_russian(name: str) -> str:
    words = []
    for word in name.split("-"):
        lower = word.lower()
        text = transliterate(word, ROMANIAN_RUSSIAN, {"iu": "ю", "ia": "я"})
        if lower.endswith("ii"):
            text = text[:-2] + "ий"  # Ababii -> Абабий
        elif len(lower) > 2 and lower.endswith("i") and lower[-2] in "aeiou":
            text = text[:-1] + "й"  # Alexei -> Алексей
        elif len(lower) > 2 and lower.endswith("i"):
            text = text[:-1] + "ь"  # Morari -> Морарь
        words.append(text)
    return "-".join(words)


def strip_diacritics(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).replace(
        "ı", "i"
    )


def feminine(family: str, culture: str) -> str:
    """The feminine form of a masculine family name (Georgian and Romanian names have one form)."""
    if culture == "uk":
        for end, repl in (("ський", "ська"), ("цький", "цька"), ("ий", "а"), ("ій", "я")):
            if family.endswith(end):
                return family[: -len(end)] + repl
    elif culture == "ru":
        for end, repl in (("ский", "ская"), ("цкий", "цкая"), ("ий", "ая"), ("ой", "ая")):
            if family.endswith(end):
                return family[: -len(end)] + repl
    elif culture == "be":
        for end, repl in (("скі", "ская"), ("цкі", "цкая"), ("оў", "ова"), ("ёў", "ёва"), ("аў", "ава")):
            if family.endswith(end):
                return family[: -len(end)] + repl
    if culture in ("uk", "ru", "be") and family.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return family + "а"
    return family


# --- people ------------------------------------------------------------------------------------------------

ORIGINS_A = {"GE": 70, "UA": 12, "MD": 10, "BY": 8}  # side A: a Georgian instance
ORIGINS_B = {"UA": 65, "GE": 12, "MD": 13, "BY": 10}  # side B: a Ukrainian instance
ORIGINS_SHARED = {"GE": 40, "UA": 35, "MD": 15, "BY": 10}  # people known to both
FEMALE_SHARE = 0.65
FIRST_BIRTH, LAST_BIRTH = dt.date(1960, 1, 1), dt.date(2010, 12, 31)

# How each side writes a person of each origin: form -> weight. Forms are rendered by `render`.
FORMS = {
    "A": {
        "GE": {"ka": 85, "ka-latin": 15},
        "UA": {"uk-latin": 65, "uk": 15, "uk-ru": 5, "uk-ka": 15},
        "BY": {"by-latin": 60, "by-ru": 20, "by-ka": 20},
        "MD": {"md": 30, "md-plain": 50, "md-ka": 10, "md-ru": 10},
    },
    "B": {
        "GE": {"ka-uk": 45, "ka-ru": 15, "ka-latin": 40},
        "UA": {"uk": 80, "uk-ru": 12, "uk-latin": 8},
        "BY": {"by-ru": 60, "by-be": 15, "by-latin": 25},
        "MD": {"md": 30, "md-plain": 30, "md-ru": 40},
    },
}

# Data-entry errors on side B, each drawn independently for every record (the date errors exclusive, the
# day/month swap only where the day is 12 or less and differs from the month).
ERRORS = {
    "typo": 0.10,  # one character substituted, inserted or two neighbours transposed
    "dropped letter": 0.05,
    "given/family swapped": 0.05,
    "date of birth missing": 0.03,
    "day/month swapped": 0.03,
    "year off by one": 0.03,
    "sex unknown": 0.01,
}
# Near-collisions among side B's people who are not on side A (shares of side B).
COLLISIONS = {
    "namesake, same year": 0.02,  # same names as a side-A person, born the same year on another day
    "namesake, next year": 0.01,  # same names, same day and month, the year before or after
    "twin": 0.005,  # same family name and date of birth, another given name
}


@dataclass(frozen=True)
class Person:
    pid: int
    origin: str
    sex: str  # "female" / "male"
    given: tuple[str, str]  # native form, other form
    family: tuple[str, str]  # masculine native form, other form
    dob: dt.date


@dataclass
class Row:
    """One record of a side, with what the benchmark knows about it."""

    pid: int
    origin: str
    form: str
    given: str
    family: str
    dob: dt.date | None
    sex: str
    errors: list[str] = field(default_factory=list)
    collision: str = ""


# The lists hold each country's common family names, and COMMON_FAMILY of its people have one of them; the
# others get a rarer name of the country's shape (a made-up stem and a real suffix: ბარამ+იძე, Житор+енко),
# so that two people share a family name about as often as they do in these countries.
COMMON_FAMILY = {"GE": 0.35, "UA": 0.25, "BY": 0.25, "MD": 0.35}
STEM_LETTERS = {  # consonants, vowels
    "GE": ("ბგდვზთკლმნპრსტქღშჩცძწჭხჯ", "აეიოუ"),
    "UA": ("бвгдзклмнпрстхчшж", "аеиіоу"),
    "BY": ("бвгдзклмнпрстхчшж", "аеиоу"),
    "MD": ("bcdfglmnprstvzșț", "aeiouă"),
}
SUFFIXES = {
    "GE": {"იძე": 25, "აძე": 20, "აშვილი": 20, "იშვილი": 15, "ია": 10, "ავა": 4, "ური": 3, "იანი": 3},
    "UA": {"енко": 35, "ук": 15, "юк": 10, "чук": 10, "ич": 5, "ський": 10, "ко": 5, "ець": 5, "ак": 5},
    "BY": {"ович": 25, "евич": 15, "ич": 10, "ов": 15, "ев": 5, "ский": 10, "ук": 10, "енко": 10},
    "MD": {"u": 25, "escu": 15, "anu": 15, "ean": 10, "ari": 10, "aș": 10, "an": 10, "ache": 5},
}
BY_ENDINGS = (("ович", "овіч"), ("евич", "евіч"), ("ич", "іч"), ("ов", "оў"), ("ев", "еў"), ("ский", "скі"))


def belarusian_family(russian: str) -> str:
    """A rough Belarusian form of a Russian-form family name: Карович -> Каровіч, Жуков -> Жукоў."""
    for end, repl in BY_ENDINGS:
        if russian.endswith(end):
            return russian[: -len(end)].replace("и", "і") + repl
    return russian.replace("и", "і")


def zipf(n: int, exponent: float = 0.8) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(n)]


class Population:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_pid = 0
        self.weights = {
            origin: (zipf(len(n.male)), zipf(len(n.female)), zipf(len(n.family), 0.5))
            for origin, n in NAMES.items()
        }
        self.days = (LAST_BIRTH - FIRST_BIRTH).days

    def pick(self, weights: Mapping[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def dob(self) -> dt.date:
        return FIRST_BIRTH + dt.timedelta(days=self.rng.randrange(self.days + 1))

    def given_name(self, origin: str, sex: str) -> tuple[str, str]:
        names = NAMES[origin]
        male_w, female_w, _ = self.weights[origin]
        if sex == "female":
            return self.rng.choices(names.female, weights=female_w)[0]
        return self.rng.choices(names.male, weights=male_w)[0]

    def family_name(self, origin: str) -> tuple[str, str]:
        if self.rng.random() < COMMON_FAMILY[origin]:
            return self.rng.choices(NAMES[origin].family, weights=self.weights[origin][2])[0]
        consonants, vowels = STEM_LETTERS[origin]
        stem = "".join(
            self.rng.choice(vowels if i % 2 else consonants) for i in range(self.rng.choice((3, 5)))
        )
        name = stem + self.pick(SUFFIXES[origin])
        if origin != "GE":
            name = name.capitalize()
        return name, belarusian_family(name) if origin == "BY" else name

    def person(self, origins: Mapping[str, float]) -> Person:
        origin = self.pick(origins)
        sex = "female" if self.rng.random() < FEMALE_SHARE else "male"
        return self.new(
            origin=origin,
            sex=sex,
            given=self.given_name(origin, sex),
            family=self.family_name(origin),
            dob=self.dob(),
        )

    def new(self, **values: Any) -> Person:
        self.next_pid += 1
        return Person(pid=self.next_pid, **values)

    def collision(self, kind: str, of: Person) -> Person:
        """Another person who looks like `of`: a namesake or a twin."""
        if kind == "twin":
            names = NAMES[of.origin].female if of.sex == "female" else NAMES[of.origin].male
            given = self.rng.choice([g for g in names if g != of.given])
            return self.new(origin=of.origin, sex=of.sex, given=given, family=of.family, dob=of.dob)
        if kind == "namesake, same year":
            while True:
                start = dt.date(of.dob.year, 1, 1)
                dob = start + dt.timedelta(days=self.rng.randrange(365))
                if dob != of.dob:
                    break
        else:
            dob = shift_year(of.dob, self.rng.choice((-1, 1)))
        return self.new(origin=of.origin, sex=of.sex, given=of.given, family=of.family, dob=dob)


def shift_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- how a side writes a person ------------------------------------------------------------------------------


def render(person: Person, form: str, rng: random.Random) -> tuple[str, str]:
    """(given name, family name) of `person` as written in `form`."""
    given, given_other = person.given
    family, family_other = person.family
    female = person.sex == "female"

    def fem(name: str, culture: str) -> str:
        return feminine(name, culture) if female else name

    match form:
        case "ka":
            return given, family
        case "ka-latin":
            table = variant(rng, GE_LATIN, GE_LATIN_OLD) if rng.random() < 0.25 else GE_LATIN
            return latin(transliterate(given, table), transliterate(family, table), rng)
        case "ka-ru" | "ka-uk":
            ukrainian = form == "ka-uk"
            table, initial = (GE_UKRAINIAN, None) if ukrainian else (GE_RUSSIAN, GE_RUSSIAN_INITIAL)
            equivalent = GE_EQUIVALENT.get(given)
            if equivalent and rng.random() < 0.3:  # გიორგი -> Георгий, not Гиорги
                given_text = equivalent[1 if ukrainian else 0]
            else:
                given_text = transliterate(given, table, initial).capitalize()
            return given_text, transliterate(family, table, initial).capitalize()
        case "uk":
            return given, fem(family, "uk")
        case "uk-ru":
            return given_other, fem(transliterate(family, UK_TO_RU), "ru")
        case "uk-latin":
            roll = rng.random()
            if roll < 0.6:  # KMU 2010
                return latin(
                    transliterate(given, UK_LATIN, UK_LATIN_INITIAL),
                    transliterate(fem(family, "uk"), UK_LATIN, UK_LATIN_INITIAL),
                    rng,
                )
            if roll < 0.85:  # an older spelling
                table = variant(rng, UK_LATIN, UK_LATIN_OLD)
                return latin(transliterate(given, table), transliterate(fem(family, "uk"), table), rng)
            # from the Russian form, as in a Russian-language document: Aleksandr Kovalskaya
            return russian_latin(given_other, fem(transliterate(family, UK_TO_RU), "ru"), rng)
        case "uk-ka":
            table = CYRILLIC_GEORGIAN | {"г": "ჰ"}
            return transliterate(given, table), transliterate(fem(family, "uk"), table)
        case "by-ru":
            return given, fem(family, "ru")
        case "by-be":
            return given_other, fem(family_other, "be")
        case "by-latin":
            if rng.random() < 0.6:  # Belarusian passport, from the Belarusian form
                return latin(
                    transliterate(given_other, BE_LATIN, BE_LATIN_INITIAL),
                    transliterate(fem(family_other, "be"), BE_LATIN, BE_LATIN_INITIAL),
                    rng,
                )
            return russian_latin(given, fem(family, "ru"), rng)
        case "by-ka":
            return transliterate(given, CYRILLIC_GEORGIAN), transliterate(
                fem(family, "ru"), CYRILLIC_GEORGIAN
            )
        case "md":
            return moldovan_spelling(given, rng), moldovan_spelling(family, rng)
        case "md-plain":
            return latin(strip_diacritics(given), strip_diacritics(family), rng)
        case "md-ru":
            use_other = given_other != given and rng.random() < 0.3  # Gheorghe -> Георгий, not Георге
            return given_other if use_other else romanian_to_russian(given), romanian_to_russian(family)
        case "md-ka":
            return (
                transliterate(romanian_to_russian(given), CYRILLIC_GEORGIAN),
                transliterate(romanian_to_russian(family), CYRILLIC_GEORGIAN),
            )
    raise ValueError(form)


def capitalised(text: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in text.split("-"))


def latin(given: str, family: str, rng: random.Random) -> tuple[str, str]:
    """Latin names as recorded: capitalised, or (a quarter) in capitals as copied from a passport."""
    given, family = capitalised(given), capitalised(family)
    return (given.upper(), family.upper()) if rng.random() < 0.25 else (given, family)


def russian_latin(given: str, family: str, rng: random.Random) -> tuple[str, str]:
    """Russian Cyrillic in Latin: ICAO as in passports since 2013, or (40%) an older or foreign spelling."""
    table = variant(rng, RU_LATIN, RU_LATIN_OLD) if rng.random() < 0.4 else RU_LATIN
    return latin(transliterate(given, table), transliterate(family, table), rng)


def moldovan_spelling(text: str, rng: random.Random) -> str:
    """Romanian as typed in Moldova: comma-below or legacy cedilla letters, î or â inside words."""
    if rng.random() < 0.3:
        text = text.replace("ș", "ş").replace("ț", "ţ").replace("Ș", "Ş").replace("Ț", "Ţ")
    if rng.random() < 0.3 and len(text) > 2:
        text = text[0] + text[1:-1].replace("î", "â") + text[-1]
    return text


# --- errors ---------------------------------------------------------------------------------------------------

ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщьюяіїєы",
    "georgian": "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
}


def alphabet(ch: str) -> str:
    if "\u10d0" <= ch <= "\u10ff":
        return ALPHABETS["georgian"]
    if "\u0400" <= ch <= "\u04ff":
        return ALPHABETS["cyrillic"]
    return ALPHABETS["latin"]


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word
    i = rng.randrange(len(word))
    kind = rng.random()
    if kind < 0.5:  # substitution by another letter of the same script
        letter = rng.choice(alphabet(word[i]).replace(word[i].lower(), ""))
        return word[:i] + (letter.upper() if word[i].isupper() else letter) + word[i + 1 :]
    if kind < 0.75 and i < len(word) - 1:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    letter = rng.choice(alphabet(word[i]))  # insertion
    return word[:i] + letter + word[i:]


def drop_letter(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(len(word))
    return word[:i] + word[i + 1 :]


def add_errors(row: Row, rng: random.Random) -> None:
    for kind, edit in (("typo", typo), ("dropped letter", drop_letter)):
        if rng.random() < ERRORS[kind]:
            if rng.random() < 0.5:
                row.given = edit(row.given, rng)
            else:
                row.family = edit(row.family, rng)
            row.errors.append(kind)
    if rng.random() < ERRORS["given/family swapped"]:
        row.given, row.family = row.family, row.given
        row.errors.append("given/family swapped")
    dob = row.dob
    assert dob is not None
    missing, swapped, year = (
        ERRORS[k] for k in ("date of birth missing", "day/month swapped", "year off by one")
    )
    roll = rng.random()
    if roll < missing:
        row.dob = None
        row.errors.append("date of birth missing")
    elif roll < missing + swapped:
        if dob.day <= 12 and dob.day != dob.month:
            row.dob = dob.replace(day=dob.month, month=dob.day)
            row.errors.append("day/month swapped")
    elif roll < missing + swapped + year:
        row.dob = shift_year(dob, rng.choice((-1, 1)))
        row.errors.append("year off by one")
    if rng.random() < ERRORS["sex unknown"]:
        row.sex = ""
        row.errors.append("sex unknown")


# --- the two sides --------------------------------------------------------------------------------------------


@dataclass
class Sides:
    a: list[Row]
    b: list[Row]
    truth: set[tuple[int, int]]  # (index on side A, index on side B) of the same person


def generate(size: int, overlap: float, seed: int) -> Sides:
    population = Population(seed)
    rng = population.rng
    shared = [population.person(ORIGINS_SHARED) for _ in range(round(size * overlap))]
    people_a = shared + [population.person(ORIGINS_A) for _ in range(size - len(shared))]
    kinds: dict[int, str] = {}  # pid -> the kind of near-collision
    people_b = list(shared)
    for kind, share in COLLISIONS.items():
        for _ in range(round(size * share)):
            other = population.collision(kind, rng.choice(people_a))
            kinds[other.pid] = kind
            people_b.append(other)
    people_b += [population.person(ORIGINS_B) for _ in range(size - len(people_b))]
    rng.shuffle(people_a)
    rng.shuffle(people_b)

    form_a: dict[int, str] = {}
    side_a = []
    for person in people_a:
        form = population.pick(FORMS["A"][person.origin])
        form_a[person.pid] = form
        side_a.append(row(person, form, rng))
    side_b = []
    for person in people_b:
        forms = dict(FORMS["B"][person.origin])
        forms.pop(form_a.get(person.pid, ""), None)  # a person on both sides is written differently on B
        r = row(person, population.pick(forms), rng)
        r.collision = kinds.get(person.pid, "")
        add_errors(r, rng)
        side_b.append(r)
    index_a = {r.pid: i for i, r in enumerate(side_a)}
    truth = {(index_a[r.pid], j) for j, r in enumerate(side_b) if r.pid in index_a}
    return Sides(a=side_a, b=side_b, truth=truth)


def row(person: Person, form: str, rng: random.Random) -> Row:
    given, family = render(person, form, rng)
    return Row(
        pid=person.pid,
        origin=person.origin,
        form=form,
        given=given,
        family=family,
        dob=person.dob,
        sex=person.sex,
    )


# --- matching and scoring -------------------------------------------------------------------------------------


@dataclass
class Result:
    matcher: str
    comparisons: int
    candidate_seconds: float  # finding the pairs at or above the threshold
    seconds: float  # the whole matcher: candidates and the one-to-one solve
    candidates: int
    pairs: set[tuple[int, int]]

    @property
    def rate(self) -> float:
        return self.comparisons / self.seconds if self.seconds else 0.0


def scores(pairs: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    found = len(pairs & truth)
    precision = found / len(pairs) if pairs else 0.0
    recall = found / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def encode(sides: Sides, secret: bytes) -> tuple[Any, Any, float]:
    from opennrm.cooperation.linkage.encoding import Encoder, LinkageRecord

    def records(rows: list[Row]) -> list[Any]:
        return [
            LinkageRecord(given_name=r.given, family_name=r.family, date_of_birth=r.dob, sex=r.sex)
            for r in rows
        ]

    a, b = records(sides.a), records(sides.b)
    start = time.perf_counter()
    encoder = Encoder(secret)
    left = encoder.encode_many(a)
    right = encoder.encode_many(b)
    return left, right, time.perf_counter() - start


def run_ours(
    left: Any, right: Any, *, threshold: float, blocking: bool, workers: int, runs: int, label: str
) -> Result:
    """`candidate_pairs` and `match`, each `runs` times: the median seconds."""
    from opennrm.cooperation.linkage.matching import candidate_pairs, match

    candidate_seconds, match_seconds = [], []
    for _ in range(runs):
        start = time.perf_counter()
        candidates, comparisons = candidate_pairs(
            left, right, threshold=threshold, blocking=blocking, workers=workers
        )
        candidate_seconds.append(time.perf_counter() - start)
    for _ in range(runs):
        start = time.perf_counter()
        matches = match(left, right, threshold=threshold, blocking=blocking, workers=workers)
        match_seconds.append(time.perf_counter() - start)
    return Result(
        matcher=label,
        comparisons=comparisons,
        candidate_seconds=statistics.median(candidate_seconds),
        seconds=statistics.median(match_seconds),
        candidates=len(candidates),
        pairs={(m.left, m.right) for m in matches},
    )


# --- anonlink, in its own virtual environment -------------------------------------------------------------------


def python_version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def find_python(explicit: str | None) -> str:
    """A Python anonlink 0.15.3 builds on (3.8 to 3.12): `--anonlink-python`, or the first of ANONLINK_PYTHONS."""
    for name in [explicit] if explicit else ANONLINK_PYTHONS:
        path = shutil.which(name) or name
        version = python_version(path)
        if version and (3, 8) <= version <= (3, 12):
            return path
    raise SystemExit(
        f"No Python 3.8-3.12 for anonlink among {', '.join(ANONLINK_PYTHONS)}: give one with --anonlink-python."
    )


def ensure_anonlink(explicit: str | None) -> Path:
    """The anonlink environment's Python; creates the environment and installs anonlink when needed."""
    python = ANONLINK_VENV / "bin" / "python"
    check = f"import anonlink; assert anonlink.__version__ == {ANONLINK_VERSION!r}"
    if python.exists() and subprocess.run([python, "-c", check], capture_output=True).returncode == 0:
        return python
    base = find_python(explicit)
    print(
        f"Installing anonlink {ANONLINK_VERSION} in {ANONLINK_VENV} (with {base}; builds its C++ kernel) ..."
    )
    start = time.perf_counter()
    subprocess.run([base, "-m", "venv", "--clear", str(ANONLINK_VENV)], check=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"anonlink=={ANONLINK_VERSION}",
        ],
        check=True,
    )
    print(f"  done in {time.perf_counter() - start:.0f} s")
    return python


def write_encodings(work: Path, left: Any, right: Any) -> None:
    """left.bin and right.bin (the encodings, back to back) and blocks.json: what the child processes read."""
    import numpy as np

    (work / "left.bin").write_bytes(np.ascontiguousarray(left.bits).tobytes())
    (work / "right.bin").write_bytes(np.ascontiguousarray(right.bits).tobytes())
    (work / "blocks.json").write_text(json.dumps({"left": left.blocks, "right": right.blocks}))


def read_encodings(work: Path) -> tuple[Any, Any]:
    import numpy as np

    from opennrm.cooperation.linkage.encoding import BITS, EncodedSet

    blocks = json.loads((work / "blocks.json").read_text())
    sets = []
    for side in ("left", "right"):
        bits = np.frombuffer((work / f"{side}.bin").read_bytes(), dtype=np.uint64).reshape(-1, BITS // 64)
        sets.append(EncodedSet(bits=bits.copy(), blocks=blocks[side]))
    return sets[0], sets[1]


def run_ours_single_blas(work: Path, *, threshold: float, workers: int, runs: int, label: str) -> Result:
    """`run_ours` in a child process whose numpy BLAS runs on one thread (OPENBLAS_NUM_THREADS=1 must be set
    before numpy loads), on the encodings in `work`."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = work / f"ours-{workers}.json"
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--time-ours",
            str(work),
            "--threshold",
            repr(threshold),
            "--workers",
            str(workers),
            "--runs",
            str(runs),
            "--label",
            label,
            "--out",
            str(out),
        ],
        check=True,
        env=env,
    )
    data = json.loads(out.read_text())
    return Result(**{**data, "pairs": {(i, j) for i, j in data["pairs"]}})


def time_ours(args: argparse.Namespace) -> None:
    """The child of `run_ours_single_blas`."""
    left, right = read_encodings(Path(args.time_ours))
    result = run_ours(
        left,
        right,
        threshold=args.threshold,
        blocking=True,
        workers=args.workers,
        runs=args.runs,
        label=args.label,
    )
    data = {**result.__dict__, "pairs": sorted(result.pairs)}
    Path(args.out).write_text(json.dumps(data))


def run_anonlink(
    python: Path, work: Path, *, threshold: float, modes: list[str], runs: int
) -> dict[str, Any]:
    """The encodings and blocking keys in `work`, handed to benchmarks/linkage_anonlink.py in anonlink's venv."""
    driver = REPO / "benchmarks" / "linkage_anonlink.py"
    subprocess.run(
        [
            python,
            driver,
            str(work),
            "--threshold",
            repr(threshold),
            "--modes",
            ",".join(modes),
            "--runs",
            str(runs),
        ],
        check=True,
    )
    return json.loads((work / "anonlink.json").read_text())


def anonlink_results(output: dict[str, Any]) -> list[Result]:
    labels = {"all": "no blocking", "blocked": "same blocks"}
    return [
        Result(
            matcher=f"anonlink {output['anonlink']}, {labels[run['mode']]}, 1 thread",
            comparisons=run["comparisons"],
            candidate_seconds=statistics.median(run["candidate_seconds"]),
            seconds=statistics.median(
                c + s for c, s in zip(run["candidate_seconds"], run["solve_seconds"], strict=True)
            ),
            candidates=run["candidates"],
            pairs={(i, j) for i, j in run["pairs"]},
        )
        for run in output["runs"]
    ]


# --- report -----------------------------------------------------------------------------------------------------


def describe(sides: Sides, args: argparse.Namespace, generated: float) -> None:
    print(
        f"Generated in {generated:.1f} s: side A (GE) {len(sides.a):,} records, side B (UA) {len(sides.b):,}, "
        f"{len(sides.truth):,} people on both ({len(sides.truth) / len(sides.b):.0%} of B); seed {args.seed}"
    )
    for name, rows in (("A", sides.a), ("B", sides.b)):
        origins = Counter(r.origin for r in rows)
        forms = Counter(r.form for r in rows)
        print(
            f"  side {name}: "
            + ", ".join(f"{o} {n / len(rows):.0%}" for o, n in origins.most_common())
            + "; forms: "
            + ", ".join(f"{f} {n:,}" for f, n in forms.most_common())
        )
    errors = Counter(e for r in sides.b for e in r.errors)
    print("  side B errors: " + ", ".join(f"{e} {n:,}" for e, n in errors.most_common()))
    collisions = Counter(r.collision for r in sides.b if r.collision)
    print("  side B near-collisions: " + ", ".join(f"{c} {n:,}" for c, n in collisions.items()))
    examples = random.Random(args.seed).sample(sorted(sides.truth), 8)
    print("  examples of the same person (A | B):")
    for i, j in examples:
        a, b = sides.a[i], sides.b[j]
        print(
            f"    {a.given} {a.family}, {a.dob} ({a.form})  |  {b.given} {b.family}, {b.dob} ({b.form}"
            + (f"; {', '.join(b.errors)}" if b.errors else "")
            + ")"
        )


def breakdown(sides: Sides, result: Result, left: Any, right: Any) -> None:
    """Where the matcher's misses and false matches come from."""
    same_block = sum(1 for i, j in sides.truth if left.blocks[i] == right.blocks[j])
    print(
        f"True pairs in the same block: {same_block:,} of {len(sides.truth):,} ({same_block / len(sides.truth):.1%}):"
        " the recall any matcher can reach on these encodings, which are salted and blocked by the year of birth."
    )
    found = result.pairs & sides.truth
    by_error: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_form: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair in sides.truth:
        b = sides.b[pair[1]]
        hit = int(pair in found)
        for error in b.errors or ["no error"]:
            by_error[error][0] += hit
            by_error[error][1] += 1
        key = f"{sides.a[pair[0]].form} -> {b.form}"
        by_form[key][0] += hit
        by_form[key][1] += 1
    print(f"Recall of {result.matcher} by error on side B (a record may have several):")
    for error, (hit, total) in sorted(by_error.items(), key=lambda item: -item[1][1]):
        print(f"  {error:<24} {hit / total:6.1%} of {total:,}")
    print("Recall by how each side wrote the person (side A form -> side B form):")
    for key, (hit, total) in sorted(by_form.items(), key=lambda item: -item[1][1]):
        print(f"  {key:<24} {hit / total:6.1%} of {total:,}")
    false = result.pairs - sides.truth
    kinds = Counter(sides.b[j].collision or "other" for _, j in false)
    print(
        f"False matches: {len(false):,}; side B record is a "
        + ", ".join(f"{kind}: {n:,}" for kind, n in kinds.most_common())
    )


def sweep(left: Any, right: Any, truth: set[tuple[int, int]], thresholds: Sequence[float]) -> None:
    """Precision and recall of OpenNRM's blocked matcher at other thresholds (one candidate run, greedy solves)."""
    from opennrm.cooperation.linkage.matching import candidate_pairs

    candidates, _ = candidate_pairs(left, right, threshold=min(thresholds), blocking=True)
    print(
        "OpenNRM's matcher at other thresholds (same encodings, blocked): threshold, matches, precision, recall, F1"
    )
    for threshold in thresholds:
        used_left: set[int] = set()
        used_right: set[int] = set()
        pairs = set()
        for m in candidates:  # best first, as `match` solves
            if m.score >= threshold and m.left not in used_left and m.right not in used_right:
                used_left.add(m.left)
                used_right.add(m.right)
                pairs.add((m.left, m.right))
        precision, recall, f1 = scores(pairs, truth)
        print(f"  {threshold:.2f} {len(pairs):>9,} {precision:>9.2%} {recall:>8.2%} {f1:>8.2%}")


def table(results: list[Result], truth: set[tuple[int, int]]) -> None:
    head = (
        f"{'matcher':<46} {'comparisons':>15} {'cand. s':>8} {'total s':>8} {'comparisons/s':>14} "
        f"{'candidates':>10} {'matches':>8} {'precision':>9} {'recall':>7} {'F1':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        precision, recall, f1 = scores(r.pairs, truth)
        print(
            f"{r.matcher:<46} {r.comparisons:>15,} {r.candidate_seconds:>8.2f} {r.seconds:>8.2f} "
            f"{r.rate / 1e6:>12.1f} M {r.candidates:>10,} {len(r.pairs):>8,} {precision:>9.2%} {recall:>7.2%} "
            f"{f1:>6.2%}"
        )
    print("cand. s: finding the pairs at or above the threshold; total s: with the one-to-one greedy solve;")
    print("blocked rows: the median of --runs runs; no blocking: one run.")


def ratios(ours: Result, ours_single: Result | None, anonlink: list[Result]) -> None:
    by_mode = {("same blocks" in r.matcher): r for r in anonlink}
    blocked, unblocked = by_mode.get(True), by_mode.get(False)
    print()
    if blocked:
        faster = blocked.seconds / ours.seconds
        print(
            f"Same pairs compared (blocked by year): anonlink takes {faster:.2f}x the time of OpenNRM as it runs "
            "by default "
            f"({blocked.seconds:.2f} s / {ours.seconds:.2f} s); comparisons/s OpenNRM / anonlink: "
            f"{ours.rate / blocked.rate:.2f}."
        )
        if ours_single:
            print(
                f"  One thread each (OpenNRM with OPENBLAS_NUM_THREADS=1): anonlink takes "
                f"{blocked.seconds / ours_single.seconds:.2f}x the time of OpenNRM; comparisons/s per thread "
                f"OpenNRM / anonlink: {ours_single.rate / blocked.rate:.2f}."
            )
        if ours_single and ours_single.rate < blocked.rate:
            print("  OpenNRM's matcher is SLOWER per comparison than anonlink's C++ kernel on one thread.")
        if ours.seconds > blocked.seconds:
            print("  OpenNRM's matcher is SLOWER than anonlink on the same blocks.")
    if unblocked:
        print(
            f"anonlink as usually run (no blocking, {unblocked.comparisons:,} comparisons) takes "
            f"{unblocked.seconds / ours.seconds:.1f}x the time of OpenNRM's blocked matcher; its raw speed is "
            f"{unblocked.rate / 1e6:.0f} M comparisons/s against OpenNRM's {ours.rate / 1e6:.0f} M (blocked)."
        )


# --- main -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="records per side (default 100000)")
    parser.add_argument("--overlap", type=float, default=0.25, help="share of side B also on side A (0.25)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--threshold", type=float, default=None, help="Dice threshold (the library's default)"
    )
    parser.add_argument("--skip-anonlink", action="store_true", help="do not install or run anonlink")
    parser.add_argument(
        "--skip-anonlink-unblocked",
        action="store_true",
        help="run anonlink only on the same blocks, not also on all n x n pairs (minutes at 100,000 a side)",
    )
    parser.add_argument(
        "--ours-unblocked", action="store_true", help="also run OpenNRM's matcher without blocking (n x n)"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of each blocked matcher, median (default 3)"
    )
    parser.add_argument("--anonlink-python", help="Python to create anonlink's venv with (default: found)")
    parser.add_argument("--time-ours", metavar="WORKDIR", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    if args.time_ours:
        time_ours(args)
        return

    from opennrm.cooperation.linkage.matching import DEFAULT_THRESHOLD, default_workers

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    anonlink_python = None if args.skip_anonlink else ensure_anonlink(args.anonlink_python)

    start = time.perf_counter()
    sides = generate(args.size, args.overlap, args.seed)
    describe(sides, args, time.perf_counter() - start)

    secret = hashlib.sha256(f"opennrm linkage benchmark {args.seed}".encode()).digest()
    left, right, encoding = encode(sides, secret)
    records = len(sides.a) + len(sides.b)
    print(f"Encoded {records:,} records in {encoding:.1f} s: {records / encoding:,.0f} records/s (1 thread)")

    cpus = os.cpu_count() or 1
    print(f"Matching at threshold {threshold} ...", file=sys.stderr)
    ours = run_ours(
        left,
        right,
        threshold=threshold,
        blocking=True,
        workers=default_workers(),
        runs=args.runs,
        label="OpenNRM match, blocked by year, default",
    )
    results = [ours]
    anonlink: list[Result] = []
    anonlink_python_version = ""
    with tempfile.TemporaryDirectory(prefix="opennrm-linkage-") as tmp:
        work = Path(tmp)
        write_encodings(work, left, right)
        ours_single = run_ours_single_blas(
            work,
            threshold=threshold,
            workers=1,
            runs=args.runs,
            label="OpenNRM match, blocked by year, 1 thread",
        )
        results.append(ours_single)
        if cpus > 1:
            results.append(
                run_ours_single_blas(
                    work,
                    threshold=threshold,
                    workers=cpus,
                    runs=args.runs,
                    label=f"OpenNRM match, blocked by year, {cpus} threads",
                )
            )
        if args.ours_unblocked:
            results.append(
                run_ours(
                    left,
                    right,
                    threshold=threshold,
                    blocking=False,
                    workers=default_workers(),
                    runs=1,
                    label="OpenNRM match, no blocking, default",
                )
            )
        if anonlink_python:
            modes = ["blocked"] + ([] if args.skip_anonlink_unblocked else ["all"])
            print(f"Running anonlink ({', '.join(modes)}) ...", file=sys.stderr)
            output = run_anonlink(anonlink_python, work, threshold=threshold, modes=modes, runs=args.runs)
            anonlink = anonlink_results(output)
            anonlink_python_version = output["python"]
            results += anonlink

    print()
    print(
        f"Threshold {threshold}; {len(sides.a):,} x {len(sides.b):,} records; Python {platform.python_version()}"
        + (f" (anonlink: Python {anonlink_python_version})" if anonlink_python_version else "")
        + f", {os.cpu_count()} CPU, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print()
    table(results, sides.truth)
    print(
        "default: one thread of ours, numpy's OpenBLAS running each matrix product on every core; 1 thread and "
        f"{cpus} threads: OPENBLAS_NUM_THREADS=1, with 1 or {cpus} threads of ours (as `default_workers` picks "
        "when that is set)."
    )
    if anonlink:
        ratios(ours, ours_single, anonlink)
    print()
    breakdown(sides, ours, left, right)
    print()
    sweep(left, right, sides.truth, (0.7, 0.75, 0.8, 0.85, 0.9, 0.95))


if __name__ == "__main__":
    main()
