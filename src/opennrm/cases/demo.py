"""Demo cases: a Georgian mechanism at work over the last three years (generated people, never real ones).

`build_demo_cases()` lives every case through the same services as a real one (`refer_person`,
`record_screening`, `request_decision`, `decide`, `approve_compensation`, `close_case` ...), so each case has a
coherent timeline, audit entries, blind indexes and encrypted identity.

Time travel: each act runs with `django.utils.timezone.now` replaced by the moment the act happens (only here,
only while building). The acts of all cases are merged and run in time order, so the audit log's sequence
follows time, references are numbered in order of referral each year, and every decision deadline is computed
by the country profile from the request time it really has. Nothing is adjusted afterwards with `.update()`.

People: random combinations of common given and family names (Georgian in Georgian script or Latin,
Ukrainian and Russian in Cyrillic or Latin, Azerbaijani, Armenian, Uzbek and Turkish in Latin), no well-known
names; document numbers start with "DEMO". The demo staff who file and run the cases (`DEMO_STAFF`) have no
usable password: they cannot log in.

Idempotent: when the instance already has a case or an anonymous notification, nothing is added.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from unittest import mock

from anyascii import anyascii
from django.apps import apps
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts import services as account_services
from opennrm.accounts.management.commands.load_demo import build_demo
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import Role, Scope
from opennrm.cases import screening, services
from opennrm.cases.choices import CaseStatus, ClosureReason, ConsentBasis, ConsentPurpose, DecisionOutcome
from opennrm.cases.models import Case, Compensation, Decision, Notification, SupportPlanItem
from opennrm.cases.services import IntakeData
from opennrm.core import audit
from opennrm.core.models import Alert
from opennrm.core.profiles import active_profile

HOUR = 1.0
DAY = 24.0
WINDOW_DAYS = 3 * 365

# Staff who file and run the demo cases besides the demo logins of load_demo: username, given name, family
# name, and their roles as (agency key of load_demo.AGENCIES, role, scope).
FR, SP = (Role.FIRST_RESPONDER, Scope.OWN), (Role.SERVICE_PROVIDER, Scope.AGENCY)
DEMO_STAFF: tuple[tuple[str, str, str, tuple[tuple[str, Role, Scope], ...]], ...] = (
    ("inspector", "Mariam", "Demo-Inspector", (("labour", *FR),)),
    ("outreach", "Salome", "Demo-Outreach", (("ngo_batumi", *FR),)),
    ("counsellor", "Eka", "Demo-Counsellor", (("ngo_kutaisi", *FR), ("ngo_kutaisi", *SP))),
    ("lawyer", "Ketevan", "Demo-Lawyer", (("ngo_legal", *FR), ("ngo_legal", *SP))),
    ("migration", "Tornike", "Demo-Migration", (("iom", *FR), ("iom", *SP))),
    ("shelter", "Lela", "Demo-Shelter", (("shelter_tbilisi", *SP),)),
    ("investigator", "Zurab", "Demo-Investigator", (("police", Role.DECISION_MAKER, Scope.AGENCY),)),
    ("caseworker_batumi", "Natia", "Demo-Caseworker", (("fund", Role.CASE_WORKER, Scope.AGENCY),)),
)
# Who files a referral for each referring agency, and who answers service referrals for each provider.
FILER = {
    "police": "responder",
    "labour": "inspector",
    "ngo_batumi": "outreach",
    "ngo_kutaisi": "counsellor",
    "ngo_legal": "lawyer",
    "iom": "migration",
    "fund": "caseworker",
}
PROVIDER = {
    "shelter_batumi": "provider",
    "shelter_tbilisi": "shelter",
    "ngo_legal": "lawyer",
    "ngo_kutaisi": "counsellor",
    "iom": "migration",
}
DELIVERED = {
    "shelter": "Accommodation, meals, hygiene kit; accompanied to appointments.",
    "legal_aid": "Consultations; represented at the interview with the investigator.",
    "psychological": "Individual counselling sessions.",
    "return_reintegration": "Travel documents, ticket and reception on arrival arranged.",
}

# What happens to a case, with its share of the demo. Statuses follow: referred, screened, decision pending
# (in time, overdue, or an appeal), identified, not identified (some after an appeal), closed.
FATES: tuple[tuple[str, float], ...] = (
    ("referred", 6),
    ("screened", 6),
    ("pending", 2.5),
    ("pending_overdue", 2.5),
    ("appeal_pending", 1),
    ("identified", 31),
    ("not_identified", 7),
    ("closed_early", 5),
    ("closed_identified", 30),
    ("closed_not_identified", 9),
)


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """'Nino ნინო, Ana ანა' -> (("Nino", "ნინო"), ("Ana", "ანა")); a name without a native spelling repeats."""
    out = []
    for item in text.split(","):
        latin, _, native = item.strip().partition(" ")
        out.append((latin, native or latin))
    return tuple(out)


NAMES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "ka": {
        "f": _pairs(
            "Nino ნინო, Mariam მარიამ, Ana ანა, Tamar თამარ, Eka ეკა, Natia ნათია, Salome სალომე, "
            "Ketevan ქეთევან, Maia მაია, Lela ლელა, Nana ნანა, Manana მანანა, Tinatin თინათინ, "
            "Sopio სოფიო, Khatia ხატია, Elene ელენე, Nato ნატო, Mzia მზია, Lia ლია, Irma ირმა, "
            "Tea თეა, Marina მარინა, Gvantsa გვანცა, Lika ლიკა, Teona თეონა, Shorena შორენა"
        ),
        "m": _pairs(
            "Giorgi გიორგი, Davit დავით, Levan ლევან, Irakli ირაკლი, Nika ნიკა, Luka ლუკა, "
            "Zurab ზურაბ, Giga გიგა, Temur თემურ, Gela გელა, Vakhtang ვახტანგ, Beka ბექა, Otar ოთარ, "
            "Mamuka მამუკა, Lasha ლაშა, Tornike თორნიკე, Sandro სანდრო, Dato დათო, Gocha გოჩა, "
            "Revaz რევაზ, Badri ბადრი, Paata პაატა, Nodar ნოდარ, Shota შოთა, Ilia ილია, Archil არჩილ"
        ),
        "family": _pairs(
            "Beridze ბერიძე, Kapanadze კაპანაძე, Gelashvili გელაშვილი, Maisuradze მაისურაძე, "
            "Giorgadze გიორგაძე, Lomidze ლომიძე, Tsiklauri წიკლაური, Bolkvadze ბოლქვაძე, "
            "Nozadze ნოზაძე, Khutsishvili ხუციშვილი, Mikadze მიქაძე, Gogoladze გოგოლაძე, "
            "Tabatadze ტაბატაძე, Khachidze ხაჩიძე, Jikia ჯიქია, Shengelia შენგელია, Dolidze დოლიძე, "
            "Sharashidze შარაშიძე, Chanturia ჭანტურია, Makharadze მახარაძე, Kiknadze კიკნაძე, "
            "Gabunia გაბუნია, Nadiradze ნადირაძე, Tsertsvadze წერწვაძე, Lobzhanidze ლობჟანიძე, "
            "Mchedlishvili მჭედლიშვილი, Janelidze ჯანელიძე, Samkharadze სამხარაძე, "
            "Chkhaidze ჩხაიძე, Esakia ესაკია, Kereselidze კერესელიძე, Todua თოდუა"
        ),
    },
    "uk": {
        "f": _pairs(
            "Olena Олена, Oksana Оксана, Iryna Ірина, Nataliia Наталія, Tetiana Тетяна, Yuliia Юлія, "
            "Kateryna Катерина, Halyna Галина, Svitlana Світлана, Mariia Марія, Liudmyla Людмила"
        ),
        "m": _pairs(
            "Oleksandr Олександр, Andrii Андрій, Serhii Сергій, Mykola Микола, Dmytro Дмитро, "
            "Taras Тарас, Yurii Юрій, Vasyl Василь, Bohdan Богдан, Ihor Ігор, Maksym Максим"
        ),
        "family": _pairs(
            "Kovalenko Коваленко, Bondarenko Бондаренко, Tkachenko Ткаченко, Kravchenko Кравченко, "
            "Oliinyk Олійник, Shevchuk Шевчук, Polishchuk Поліщук, Lysenko Лисенко, "
            "Marchenko Марченко, Rudenko Руденко, Moroz Мороз, Melnyk Мельник, Boiko Бойко, "
            "Kovalchuk Ковальчук, Hnatiuk Гнатюк, Pavlenko Павленко"
        ),
    },
    "ru": {
        "f": _pairs(
            "Anna Анна, Elena Елена, Olga Ольга, Tatiana Татьяна, Irina Ирина, Svetlana Светлана, "
            "Ekaterina Екатерина, Natalia Наталья, Yulia Юлия, Daria Дарья, Ksenia Ксения"
        ),
        "m": _pairs(
            "Aleksei Алексей, Sergei Сергей, Dmitrii Дмитрий, Andrei Андрей, Ivan Иван, "
            "Nikolai Николай, Pavel Павел, Maksim Максим, Roman Роман, Kirill Кирилл"
        ),
        "family": _pairs(
            "Smirnov Смирнов, Kuznetsov Кузнецов, Sokolov Соколов, Lebedev Лебедев, "
            "Kozlov Козлов, Novikov Новиков, Morozov Морозов, Volkov Волков, Pavlov Павлов, "
            "Egorov Егоров, Vinogradov Виноградов, Bogdanov Богданов"
        ),
    },
    "az": {
        "f": _pairs(
            "Aysel, Günay, Leyla, Nigar, Sevinc, Aytən, Gülnar, Könül, Ülviyyə, Nərgiz, Səbinə, Lalə"
        ),
        "m": _pairs("Elvin, Rəşad, Orxan, Tural, Elşən, Vüqar, Kamran, Ramil, Səbuhi, Fərid, Namiq, Elnur"),
        "family": _pairs(
            "Məmmədov, Həsənov, Hüseynov, Quliyev, Rzayev, İsmayılov, Abbasov, Cəfərov, Bağırov, "
            "Nəsirov, Orucov, Babayev"
        ),
    },
    "hy": {
        "f": _pairs("Anahit, Lusine, Armine, Gayane, Narine, Hasmik, Nune, Ani, Siranush, Tatevik, Astghik"),
        "m": _pairs("Armen, Aram, Tigran, Hayk, Gor, Vardan, Karen, Arsen, Samvel, Artur, Narek, Hovhannes"),
        "family": _pairs(
            "Grigoryan, Harutyunyan, Hovhannisyan, Petrosyan, Khachatryan, Gevorgyan, Karapetyan, "
            "Mkrtchyan, Avetisyan, Vardanyan, Galstyan, Poghosyan"
        ),
    },
    "uz": {
        "f": _pairs(
            "Dilnoza, Gulnora, Nodira, Shahnoza, Malika, Zarina, Madina, Feruza, Nilufar, Sevara, Mohira"
        ),
        "m": _pairs("Jasur, Sardor, Otabek, Bekzod, Rustam, Sherzod, Aziz, Jamshid, Farrukh, Akmal, Dilshod"),
        "family": _pairs(
            "Rakhimov, Yusupov, Tursunov, Ismoilov, Abdullaev, Nazarov, Sobirov, Ergashev, "
            "Kholmatov, Saidov, Umarov, Khasanov"
        ),
    },
    "tr": {
        "f": _pairs("Ayşe, Elif, Zeynep, Fatma, Emine, Merve, Büşra, Esra"),
        "m": _pairs("Mehmet, Mustafa, Ahmet, Emre, Burak, Murat, Hüseyin, Serkan"),
        "family": _pairs("Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Aydın, Öztürk, Arslan, Kılıç, Koç"),
    },
}
NATIVE_SCRIPT_SHARE = {"ka": 0.55, "uk": 0.5, "ru": 0.6}  # the others are written in Latin
FEMININE_SUFFIX = {"ru": ("a", "а"), "az": ("a", "a"), "uz": ("a", "a")}
LANGUAGES = {
    "ka": ["ka"],
    "uk": ["uk", "ru"],
    "ru": ["ru"],
    "az": ["az"],
    "hy": ["hy", "ru"],
    "uz": ["uz", "ru"],
    "tr": ["tr"],
}
CULTURE_OF = {"UZ": "uz", "AZ": "az", "AM": "hy", "UA": "uk", "TR": "tr", "RU": "ru", "BY": "ru", "KZ": "ru"}
CITIZENSHIP = {"GE": 74, "UZ": 7, "AZ": 5, "AM": 4, "UA": 4, "TR": 3, "RU": 2, "BY": 0.5, "KZ": 0.5}
# Population in thousands (Geostat, 2023); Adjara weighs more (Batumi: seasonal work, the border with Turkey).
REGIONS = {
    "GE-TB": 1202,
    "GE-IM": 481,
    "GE-KK": 437,
    "GE-AJ": 500,
    "GE-KA": 306,
    "GE-SZ": 302,
    "GE-SK": 255,
    "GE-SJ": 149,
    "GE-GU": 105,
    "GE-MM": 93,
    "GE-RL": 29,
}
FORMS = {
    "forced_labour": 46,
    "sexual_exploitation": 30,
    "forced_begging": 9,
    "servitude": 10,
    "forced_marriage": 3,
    "other": 2,
}
CHILD_SHARE = {
    "forced_labour": 0.08,
    "sexual_exploitation": 0.15,
    "forced_begging": 0.65,
    "servitude": 0.1,
    "forced_marriage": 0.7,
    "other": 0.05,
}  # about 15% of the cases
WOMEN_SHARE = {
    "forced_labour": 0.25,
    "sexual_exploitation": 0.92,
    "forced_begging": 0.55,
    "servitude": 0.85,
    "forced_marriage": 0.98,
    "other": 0.5,
}
ABROAD = {  # where a Georgian citizen was exploited, by form
    "forced_labour": {
        "TR": 22,
        "GE": 18,
        "DE": 12,
        "RU": 7,
        "IL": 7,
        "PL": 6,
        "GR": 6,
        "AE": 5,
        "IT": 4,
        "CY": 4,
        "ES": 3,
        "EG": 2,
    },
    "sexual_exploitation": {
        "TR": 35,
        "GE": 22,
        "AE": 18,
        "CY": 6,
        "EG": 5,
        "GR": 4,
        "DE": 3,
        "IL": 3,
        "RU": 2,
    },
    "forced_begging": {"GE": 90, "TR": 6, "RU": 4},
    "servitude": {"GE": 30, "TR": 22, "AE": 12, "IL": 10, "GR": 8, "CY": 6, "IT": 6, "RU": 6},
    "forced_marriage": {"GE": 75, "TR": 15, "AZ": 10},
    "other": {"GE": 60, "TR": 40},
}
COUNTRY_NAMES = {
    "GE": "Georgia",
    "TR": "Turkey",
    "DE": "Germany",
    "RU": "Russia",
    "IL": "Israel",
    "PL": "Poland",
    "GR": "Greece",
    "AE": "the United Arab Emirates",
    "IT": "Italy",
    "CY": "Cyprus",
    "ES": "Spain",
    "EG": "Egypt",
    "AZ": "Azerbaijan",
}
STORIES = {
    "forced_labour": [
        "Recruited {how} for {job} in {country}. The employer kept the passport and paid nothing for months.",
        "Went to {country} for {job}; was told the travel and housing were a debt to work off. Worked up to "
        "{hours} hours a day and was not allowed to leave the site.",
    ],
    "sexual_exploitation": [
        "Offered a job as {role} in {country} {how}. On arrival the documents were taken and she was forced into "
        "prostitution to repay a 'debt'.",
        "Met a man online who promised work as {role} in {country}; controlled through threats to the family.",
    ],
    "forced_begging": ["Found begging at {place}; an adult collected the money every evening."],
    "servitude": [
        "Live-in domestic worker in {country}: no days off, documents confiscated, not allowed to "
        "leave the house alone."
    ],
    "forced_marriage": ["Married against her will and kept at home, made to work for the husband's family."],
    "other": ["Made to carry goods across the border; threatened when refusing."],
}
HOW = [
    "through an online advertisement",
    "by an acquaintance from the same village",
    "through a private employment agency",
    "through a social network group",
    "by a relative",
]
JOBS = [
    "construction work",
    "seasonal farm work",
    "work in a hotel kitchen",
    "greenhouse work",
    "a job in a textile workshop",
    "work on a fishing boat",
    "car-wash work",
]
ROLES = ["a waitress", "a dancer", "a hotel receptionist", "a caregiver", "a nanny"]
PLACES = ["a metro station", "a market", "a busy crossroad", "the seafront promenade", "a church entrance"]
PLAN = {  # plan item type, objective, action
    "any": [
        ("social_care", "Safe accommodation in the State Fund shelter", "Placement for up to three months"),
        ("health", "Medical examination and treatment", "Referral to the polyclinic; follow-up visits"),
        ("legal", "Legal aid in the criminal case and the compensation claim", "Lawyer assigned"),
        ("financial", "One-off financial support", "Prepare the compensation file"),
        ("education", "Vocational training", "Enrol in a six-month course"),
        ("livelihood", "Help to find safe employment", "Meetings with the employment service"),
    ],
    "forced_labour": [
        (
            "labour_exploitation_rehabilitation",
            "Recover unpaid wages and documents",
            "Complaint to the labour inspection; request to the consulate",
        )
    ],
    "sexual_exploitation": [
        (
            "sexual_exploitation_rehabilitation",
            "Psychological recovery",
            "Weekly sessions with the shelter psychologist",
        )
    ],
}
NOTES = [
    "Phoned; doing well and attends the sessions.",
    "Interpreter arranged for the next interview.",
    "Accompanied to the hospital for tests.",
    "Met the investigator together with the lawyer.",
    "Asked about the compensation; explained the procedure.",
    "Missed the appointment; will call again.",
    "Family visit arranged at the shelter.",
    "Informed of the decision and of the right to appeal.",
]
CLOSURE_AFTER_IDENTIFICATION = {
    ClosureReason.ASSISTANCE_COMPLETED: 50,
    ClosureReason.RETURNED: 10,
    ClosureReason.DECLINED_ASSISTANCE: 10,
    ClosureReason.LOST_CONTACT: 14,
    ClosureReason.REFERRED_ELSEWHERE: 12,
    ClosureReason.DECEASED: 1,
    ClosureReason.OTHER: 3,
}
CLOSURE_BEFORE_DECISION = {
    ClosureReason.DECLINED_ASSISTANCE: 40,
    ClosureReason.LOST_CONTACT: 30,
    ClosureReason.REFERRED_ELSEWHERE: 20,
    ClosureReason.RETURNED: 10,
}
INDUSTRIES = [
    "a_agriculture_forestry_and_fishing",
    "f_construction",
    "c_manufacturing",
    "i_accommodation_and_food_service_activities",
    "g_wholesale_and_retail_trade_repair_of_motor_vehicles",
]
CONTROL = [
    "debt_bondage",
    "withholds_documents",
    "takes_earnings",
    "physical_threats",
    "threatens_children_family",
    "psychological_abuse",
    "excessive_working_hours",
    "false_promises",
    "threats_law_enforcement",
]
RECRUITMENT = [
    "through_an_online_advertisement",
    "through_online_social_networks",
    "through_friends_or_social_events",
    "through_family_or_family_events",
    "at_work",
    "other",
]
MEMBERS = [
    "Demo member (NGO)",
    "Demo member (international organisation)",
    "Demo member (NGO, Batumi)",
    "Demo chair",
]


Acts = list[tuple[float, Callable[[], None]]]  # what happens in a case's life, at hours after its referral


@dataclass(order=True)
class _Act:
    at: dt.datetime
    order: int
    run: Callable[[], None] = field(compare=False)


@dataclass
class _Case:
    """One generated case while it is being lived: what its acts need from each other."""

    intake: IntakeData
    filer: str
    referring: str
    worker: str
    route: str
    child: bool
    obj: Case | None = None
    decision_id: int = 0
    compensation_id: int = 0
    items: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)

    def case(self) -> Case:
        """The case as the services left it: they update the instance they are given (status, version), except
        `decide`, after which it is read again."""
        assert self.obj is not None, "the case is referred first"
        return self.obj


def _pick[T](rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _fates(count: int, rng: random.Random) -> list[str]:
    """The fates of `count` cases in the shares of FATES (largest remainder), every fate at least once when
    there is room, shuffled."""
    total = sum(share for _fate, share in FATES)
    exact = {fate: count * share / total for fate, share in FATES}
    counts = {fate: int(x) for fate, x in exact.items()}
    if count >= len(FATES):
        counts = {fate: max(n, 1) for fate, n in counts.items()}
    for fate in sorted(exact, key=lambda f: exact[f] - int(exact[f]), reverse=True):
        if sum(counts.values()) >= count:
            break
        counts[fate] += 1
    while sum(counts.values()) > count:
        counts[max(counts, key=lambda f: counts[f])] -= 1
    fates = [fate for fate, n in counts.items() for _ in range(n)]
    rng.shuffle(fates)
    return fates


@contextmanager
def _clock(start: dt.datetime) -> Iterator[Callable[[dt.datetime], None]]:
    """Replace `timezone.now` with a clock the caller sets; give the real one back afterwards."""
    current = [start]
    with mock.patch.object(timezone, "now", lambda: current[0]):
        yield lambda when: current.__setitem__(0, when)


class People:
    """Generated people and the facts of their case, drawn from `rng` (the benchmarks use it too)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def name(self, culture: str, sex: str) -> tuple[str, str]:
        rng = self.rng
        pool = NAMES[culture]
        given = rng.choice(pool["f" if sex == "feminine" else "m"])
        family = rng.choice(pool["family"])
        if sex == "feminine" and culture in FEMININE_SUFFIX:
            latin, native = FEMININE_SUFFIX[culture]
            family = (family[0] + latin, family[1] + native)
        script = 1 if rng.random() < NATIVE_SCRIPT_SHARE.get(culture, 0) else 0
        return given[script], family[script]

    def intake(self, first_contact: dt.date) -> tuple[IntakeData, bool, bool]:
        """The facts of a person and their case; also whether they were exploited abroad, and are a child."""
        rng = self.rng
        form = _pick(rng, FORMS)
        child = rng.random() < CHILD_SHARE[form]
        women = WOMEN_SHARE[form]
        roll = rng.random()
        sex = "feminine" if roll < women else "masculine"
        if form == "sexual_exploitation" and roll > 0.97:
            sex = "transgender_feminine"
        citizenship = (
            _pick(rng, CITIZENSHIP) if not child else _pick(rng, {"GE": 90, "AZ": 4, "UZ": 3, "UA": 3})
        )
        if citizenship == "GE":
            region = _pick(rng, REGIONS)
            culture = {
                "GE-KK": _pick(rng, {"ka": 50, "az": 45, "hy": 5}),
                "GE-SJ": _pick(rng, {"ka": 50, "hy": 50}),
            }.get(region, "ka")
            country = _pick(rng, ABROAD[form])
        else:
            region = _pick(rng, {"GE-TB": 55, "GE-AJ": 35, "GE-KK": 10})
            culture = CULTURE_OF[citizenship]
            country = _pick(rng, {"GE": 85, "TR": 15})
        forms = [form]
        if child and form in ("forced_labour", "forced_begging"):
            forms.append("child_labour")
        elif form == "servitude" and sex == "feminine" and rng.random() < 0.2:
            forms.append("sexual_exploitation")
        if child:
            age = {"forced_begging": rng.randint(6, 16)}.get(form, rng.randint(13, 17))
        elif form == "sexual_exploitation":
            age = round(rng.triangular(18, 45, 24))
        else:
            age = round(rng.triangular(18, 62, 32))
        born: dt.date | None = None
        if rng.random() < (0.95 if child else 0.88):
            born = first_contact - dt.timedelta(days=age * 365 + rng.randint(5, 360))
        given, family = self.name(culture, sex if sex != "transgender_feminine" else "feminine")
        document_type, number = "", ""
        if rng.random() < 0.75:  # the others' documents were taken by the exploiters
            document_type = (
                "passport"
                if citizenship != "GE" or country != "GE"
                else "birth_certificate"
                if child
                else "national_id"
            )
            number = f"DEMO{rng.randint(1_000_000, 9_999_999)}"
        story = rng.choice(STORIES[form]).format(
            how=rng.choice(HOW),
            job=rng.choice(JOBS),
            country=COUNTRY_NAMES.get(country, country),
            hours=rng.randint(12, 16),
            role=rng.choice(ROLES),
            place=rng.choice(PLACES),
        )
        guardian = ""
        if child:
            guardian = rng.choice(
                [
                    f"{self.name(culture, 'feminine')[0]} {family} (mother)",
                    f"{self.name(culture, 'masculine')[0]} {family} (father)",
                    "Guardianship and custody body of the municipality",
                ]
            )
        languages = LANGUAGES[culture] + (["ka"] if citizenship == "GE" and culture != "ka" else [])
        intake = IntakeData(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            age_estimate=None if born else age,
            sex=sex,
            citizenship=citizenship,
            languages=languages,
            document_type=document_type,
            document_number=number,
            first_contact_date=first_contact,
            region=region,
            exploitation_forms=forms,
            exploitation_country=country,
            narrative=story,
            guardian=guardian,
        )
        return intake, country != "GE", child


class _Builder:
    def __init__(self, *, count: int, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - generated demo data, not a secret
        self.count = count
        self.now = now
        self.start = now - dt.timedelta(days=WINDOW_DAYS)
        self.profile = active_profile()
        self.agencies: dict[str, Agency] = {}
        self.users: dict[str, User] = {}
        self.acts: list[_Act] = []
        self.people = People(self.rng)
        # The referrals app depends on cases, not the other way round: the demo, which lives a case through every
        # app, reaches it by name, and leaves referrals out when the app is not installed.
        self.referral_services: ModuleType | None = None
        if apps.is_installed("opennrm.referrals"):
            self.referral_services = importlib.import_module("opennrm.referrals.services")

    def _referrer(self, intake: IntakeData, abroad: bool) -> str:
        form = intake.exploitation_forms[0]
        local_ngo = {
            "GE-AJ": "ngo_batumi",
            "GE-GU": "ngo_batumi",
            "GE-IM": "ngo_kutaisi",
            "GE-RL": "ngo_kutaisi",
            "GE-SZ": "ngo_kutaisi",
        }.get(intake.region, "ngo_legal")
        weights: dict[str, float] = {"police": 30, "fund": 15, local_ngo: 20}
        if form == "forced_labour" and not abroad:
            weights["labour"] = 35
        if abroad:
            weights["iom"] = 30
        return _pick(self.rng, weights)

    # --- the life of one case, as acts at relative hours ---------------------------------------------------

    def plan_case(self, fate: str) -> None:
        rng = self.rng
        # The facts are drawn with a provisional first contact; `_place` then moves the whole life in time.
        intake, abroad, child = self.people.intake(self.now.date())
        referring = self._referrer(intake, abroad)
        worker = "caseworker_batumi" if intake.region in ("GE-AJ", "GE-GU") else "caseworker"
        route = "law_enforcement" if referring == "police" and rng.random() < 0.5 else "permanent_group"
        life = _Case(
            intake=intake,
            filer=FILER[referring],
            referring=referring,
            worker=worker,
            route=route,
            child=child,
        )
        acts: Acts = [(0.0, lambda: self._refer(life))]
        t = details = rng.uniform(0.5, 30)
        acts.append((t, lambda: self._details(life)))
        granted = fate in ("identified", "closed_identified")
        anchor, decided, refused = 0.0, None, None
        if fate != "referred":
            positive = fate not in ("not_identified", "closed_not_identified")
            t = anchor = t + rng.uniform(2, 5 * DAY)
            acts.append((t, lambda: self._screen(life, positive=positive)))
        if fate not in ("referred", "screened", "closed_early"):
            t = anchor = t + rng.uniform(1, 8 * DAY)
            acts.append((t, lambda: self._request(life)))
        if fate not in ("referred", "screened", "closed_early", "pending", "pending_overdue"):
            appealed = fate == "appeal_pending" or rng.random() < (0.12 if granted else 0.3)
            first_granted = granted and not appealed
            t = anchor = t + (rng.uniform(2, 46) if rng.random() < 0.85 else rng.uniform(49, 9 * DAY))
            acts.append((t, lambda: self._decide(life, granted=first_granted)))
            refused = None if first_granted else t
            if appealed:
                t = anchor = t + rng.uniform(3 * DAY, 20 * DAY)
                acts.append((t, lambda: self._appeal(life)))
                if fate != "appeal_pending":
                    t = anchor = t + rng.uniform(4, 46)
                    acts.append((t, lambda: self._decide(life, granted=granted)))
                    refused = None if granted else t
            decided = None if fate == "appeal_pending" else t
        if self.referral_services is not None:
            self._plan_referrals(
                life, acts, fate=fate, start=details, decided=decided if granted else None, refused=refused
            )
        if granted and decided is not None:
            self._assistance(life, acts, decided)
        elif refused is not None:
            acts.append((refused + rng.uniform(1 * DAY, 10 * DAY), lambda: self._note(life, NOTES[-1])))
        if fate.startswith("closed"):
            if granted:
                reason, wait = self._closure_reason(CLOSURE_AFTER_IDENTIFICATION, intake), (7, 120)
            elif refused is not None:
                reason, wait = ClosureReason.NOT_A_VICTIM, (5, 60)
            else:
                reason, wait = self._closure_reason(CLOSURE_BEFORE_DECISION, intake), (2, 40)
            # Closed once everything else is done: services ended, compensation paid.
            t = max(offset for offset, _run in acts) + rng.uniform(wait[0] * DAY, wait[1] * DAY)
            acts.append((t, lambda: self._close(life, reason, follow_up=granted)))
            self._place(life, acts, anchor=t, gap=(1 * DAY, WINDOW_DAYS * DAY))
            return
        gaps = {
            "referred": (3, (150 if rng.random() < 0.2 else 40) * DAY),
            "screened": (1, 60 * DAY),
            "pending": (1, 44),
            "pending_overdue": (50, 25 * DAY),
            "appeal_pending": (1, 6 * DAY),
            "identified": (2 * DAY, 2 * 365 * DAY),
            "not_identified": (1 * DAY, 365 * DAY),
        }
        self._place(life, acts, anchor=anchor, gap=gaps[fate], skew=1.3 if granted else 1.0)

    def _plan_referrals(
        self,
        life: _Case,
        acts: Acts,
        *,
        fate: str,
        start: float,
        decided: float | None,
        refused: float | None,
    ) -> None:
        """A shelter at the start for many; after identification, legal aid, psychological support, return."""
        rng = self.rng
        intake = life.intake
        form = intake.exploitation_forms[0]
        if life.child or form in ("sexual_exploitation", "servitude", "forced_marriage"):
            shelter_share = 0.75
        else:
            shelter_share = 0.55 if intake.citizenship != "GE" else 0.3
        if rng.random() < shelter_share:
            stay = rng.uniform(20 * DAY, 90 * DAY)
            sent = start + rng.uniform(0.5, 24)
            if refused is not None:
                stay = min(stay, refused - sent + rng.uniform(1 * DAY, 5 * DAY))
            if fate == "closed_early":
                stay = min(stay, rng.uniform(3 * DAY, 25 * DAY))
            shelter = "shelter_batumi" if intake.region in ("GE-AJ", "GE-GU") else "shelter_tbilisi"
            self._referral(
                life, acts, "shelter", shelter, sent, stay, "Safe accommodation after the first interview."
            )
        if decided is None:
            return
        if rng.random() < 0.35:
            self._referral(
                life,
                acts,
                "legal_aid",
                "ngo_legal",
                decided + rng.uniform(1 * DAY, 15 * DAY),
                rng.uniform(30 * DAY, 150 * DAY),
                "Representation in the criminal case.",
            )
        if intake.region in ("GE-IM", "GE-RL", "GE-SZ", "GE-GU", "GE-SK") and rng.random() < 0.5:
            self._referral(
                life,
                acts,
                "psychological",
                "ngo_kutaisi",
                decided + rng.uniform(1 * DAY, 20 * DAY),
                rng.uniform(30 * DAY, 120 * DAY),
                "Counselling near home after the shelter.",
            )
        if intake.citizenship != "GE" and rng.random() < 0.6:
            self._referral(
                life,
                acts,
                "return_reintegration",
                "iom",
                decided + rng.uniform(5 * DAY, 40 * DAY),
                rng.uniform(10 * DAY, 60 * DAY),
                "Voluntary return and reintegration support.",
            )

    def _referral(
        self,
        life: _Case,
        acts: Acts,
        service: str,
        agency: str,
        sent: float,
        length: float,
        reason: str,
        *,
        may_decline: bool = True,
    ) -> None:
        """Sent, then accepted and (after `length` hours) completed with the service recorded; or declined, and
        for a shelter sent to the other one."""
        rng = self.rng
        slot = len(life.referrals)
        life.referrals.append(0)
        acts.append((sent, lambda: self._send(life, slot, service, agency, reason)))
        answered = sent + rng.uniform(0.5, 20)
        if may_decline and rng.random() < 0.1:
            acts.append((answered, lambda: self._answer(life, slot, agency, accept=False)))
            if service == "shelter":
                other = "shelter_tbilisi" if agency == "shelter_batumi" else "shelter_batumi"
                self._referral(
                    life,
                    acts,
                    service,
                    other,
                    answered + rng.uniform(1, 6),
                    length,
                    reason,
                    may_decline=False,
                )
            return
        acts.append((answered, lambda: self._answer(life, slot, agency, accept=True)))
        acts.append((answered + max(length, 2 * DAY), lambda: self._complete_referral(life, slot, agency)))

    def _closure_reason(self, weights: Mapping[ClosureReason, float], intake: IntakeData) -> ClosureReason:
        """Only a foreigner is "returned to the country of origin"."""
        if intake.citizenship == "GE":
            weights = {reason: w for reason, w in weights.items() if reason != ClosureReason.RETURNED}
        return _pick(self.rng, weights)

    def _assistance(self, life: _Case, acts: Acts, decided: float) -> None:
        """Plan items, notes, consents and compensation after identification."""
        rng = self.rng
        form = life.intake.exploitation_forms[0]
        options = PLAN["any"] + PLAN.get(form, [])
        last = decided
        for item in rng.sample(options, rng.randint(1, 4)):
            at = decided + rng.uniform(0.5 * DAY, 20 * DAY)
            ends = rng.randint(14, 120)
            acts.append((at, partial(self._plan_item, life, item, ends)))
            if rng.random() < 0.7:
                acts.append((at + ends * DAY, lambda: self._complete_item(life)))
                last = max(last, at + ends * DAY)
            last = max(last, at)
        for _ in range(rng.randint(0, 3)):
            at = decided + rng.uniform(1 * DAY, 150 * DAY)
            note = rng.choice(NOTES[:-1])
            acts.append((at, partial(self._note, life, note)))
            last = max(last, at)
        if rng.random() < 0.5:
            at = decided + rng.uniform(1, 5 * DAY)
            given = rng.random() < 0.7
            acts.append((at, lambda: self._consent(life, ConsentPurpose.RESEARCH, given)))
        if rng.random() < 0.65:
            at = decided + rng.uniform(10 * DAY, 75 * DAY)
            acts.append((at, lambda: self._approve(life)))
            last = max(last, at)
            if rng.random() < 0.85:
                at += rng.uniform(5 * DAY, 40 * DAY)
                acts.append((at, lambda: self._pay(life)))
                last = max(last, at)
        if life.intake.citizenship != "GE" and rng.random() < 0.5:
            at = last + rng.uniform(1 * DAY, 10 * DAY)
            acts.append((at, lambda: self._consent(life, ConsentPurpose.CROSS_BORDER, True)))

    def _place(
        self, life: _Case, acts: Acts, *, anchor: float, gap: tuple[float, float], skew: float = 1.0
    ) -> None:
        """Put the life on the calendar: the anchor act happens `gap` hours before now (skew > 1 favours recent
        ones), never before the window; acts after the anchor that would be in the future are left out."""
        low, high = gap
        high = max(low, min(high, (self.now - self.start).total_seconds() / 3600 - anchor))
        hours_ago = low + (high - low) * self.rng.random() ** skew
        referred = self.now - dt.timedelta(hours=hours_ago + anchor)
        # First contact: the day of the referral or a few days before it.
        first = timezone.localtime(referred, self.profile.zone).date() - dt.timedelta(
            days=self.rng.choice([0, 0, 0, 1, 2, 5])
        )
        life.intake.first_contact_date = first
        if life.intake.date_of_birth is not None:
            life.intake.date_of_birth -= self.now.date() - first
        latest = self.now - dt.timedelta(minutes=1)
        for offset, run in acts:
            at = referred + dt.timedelta(hours=offset)
            if at <= latest:
                self.acts.append(_Act(at=at, order=len(self.acts), run=run))

    # --- acts (each one service call, or a few that happen together) ---------------------------------------

    def _refer(self, life: _Case) -> None:
        case = services.refer_person(
            actor=self.users[life.filer],
            referring_agency=self.agencies[life.referring],
            owning_agency=self.agencies["fund"],
            data=life.intake,
            consent_given=True,
        )
        life.obj = case

    def _details(self, life: _Case) -> None:
        rng = self.rng
        case = life.case()
        forms = life.intake.exploitation_forms
        changes: dict[str, object] = {
            "case_worker": self.users[life.worker],
            "methods_of_control": rng.sample(CONTROL, rng.randint(1, 3)),
            "methods_of_recruitment": rng.sample(RECRUITMENT, 1),
            "relationship_to_trafficker": _pick(rng, {"acquainted": 50, "unaquainted": 35, "familial": 15}),
            "perpetrator_roles": ["recruiter_or_intermediary", "exploiter"][: rng.randint(1, 2)],
        }
        if "forced_labour" in forms:
            changes["forced_labour_industry"] = rng.choice(INDUSTRIES)
        if "servitude" in forms:
            changes["forced_labour_industry"] = "t_activities_of_households_as_employers"
        if "sexual_exploitation" in forms:
            changes["sexual_exploitation_types"] = ["prostitution"] + (
                ["pornography"] if rng.random() < 0.1 else []
            )
        services.update_case(
            actor=self.users[life.worker], case=case, expected_version=case.version, changes=changes
        )
        if not life.intake.given_name.isascii() and rng.random() < 0.4:
            # The Latin spelling of the passport, next to the name as first written.
            services.update_identity(
                actor=self.users[life.worker],
                case=case,
                expected_version=case.version,
                changes={"other_names": [anyascii(f"{life.intake.given_name} {life.intake.family_name}")]},
            )

    def _screen(self, life: _Case, *, positive: bool) -> None:
        age = life.case().age_at_exploitation
        form = life.intake.exploitation_forms[0]
        usable = {
            "forced_begging": "forced_labour",
            "servitude": "forced_labour",
            "other": "forced_labour",
            "forced_marriage": "sexual_exploitation",
        }.get(form, form)
        choices = screening.choose_instrument(age=age, form=usable)
        if not choices:
            return
        choice = self.rng.choice([c for c in choices if c.usable] or choices)
        found = self._indicators(choice.instrument, choice.instrument_list, positive=positive)
        services.record_screening(
            actor=self.users[life.worker],
            case=life.case(),
            instrument_id=choice.instrument.id,
            instrument_version=choice.instrument.version,
            list_id=choice.instrument_list.id,
            found=found,
        )

    def _indicators(
        self, instrument: screening.Instrument, item: screening.InstrumentList, *, positive: bool
    ) -> set[str]:
        """Indicators that meet the instrument's rule (positive) or fall short of it."""
        rng = self.rng
        rule = instrument.rule
        if not item.has_indicators:
            return set()
        if isinstance(rule, screening.CountRule):
            ids = [i.id for i in item.indicators]
            n = (
                rng.randint(rule.threshold, rule.threshold + 3)
                if positive
                else rng.randint(0, rule.threshold - 1)
            )
            return set(rng.sample(ids, min(n, len(ids))))
        found: set[str] = set()
        kinds = (
            [r.kind for r in rule.requirements(item.population)]
            if positive
            else [screening.DimensionKind.EXPLOITATION]
        )
        for kind in kinds:
            dimensions = [d for d in item.dimensions if d.kind == kind and d.indicators]
            if not dimensions:
                continue
            dimension = rng.choice(dimensions)
            strong = [i.id for i in dimension.indicators if i.strength == screening.Strength.STRONG]
            medium = [i.id for i in dimension.indicators if i.strength == screening.Strength.MEDIUM]
            if not positive:
                found |= set(rng.sample(medium, min(len(medium), rng.randint(1, 2))))
            elif strong and medium:
                found |= {rng.choice(strong), rng.choice(medium)}
            else:
                found |= set(rng.sample(strong + medium, min(3, len(strong + medium))))
        return found

    def _request(self, life: _Case) -> None:
        life.decision_id = services.request_decision(
            actor=self.users[life.worker], case=life.case(), route=life.route
        ).pk

    def _decide(self, life: _Case, *, granted: bool) -> None:
        decision = Decision.objects.get(pk=life.decision_id)
        form = life.intake.exploitation_forms[0].replace("_", " ")
        if granted:
            reasons = f"Indicators of {form} are confirmed by the interview and the documents on file."
        else:
            reasons = "The facts show a labour dispute, not the means or purpose of exploitation."
        by_group = life.route == "permanent_group"
        services.decide(
            actor=self.users["decider" if by_group else "investigator"],
            decision=decision,
            outcome=DecisionOutcome.GRANTED if granted else DecisionOutcome.REFUSED,
            reasons=reasons,
            members=self.rng.sample(MEMBERS, 3) if by_group else [],
        )
        life.case().refresh_from_db()

    def _appeal(self, life: _Case) -> None:
        life.decision_id = services.appeal(actor=self.users[life.worker], case=life.case()).pk

    def _plan_item(self, life: _Case, item: tuple[str, str, str], ends_in_days: int) -> None:
        kind, objective, action = item
        created = services.add_plan_item(
            actor=self.users[life.worker],
            case=life.case(),
            type=kind,
            objective=objective,
            action=action,
            planned_end=timezone.localdate() + dt.timedelta(days=ends_in_days),
        )
        life.items.append(created.pk)

    def _complete_item(self, life: _Case) -> None:
        open_items = SupportPlanItem.objects.filter(pk__in=life.items, actual_end__isnull=True).order_by(
            "planned_end"
        )
        item = open_items.first()
        if item is not None and life.case().status != CaseStatus.CLOSED:
            services.complete_plan_item(
                actor=self.users[life.worker], item=item, actual_end=timezone.localdate()
            )

    def _note(self, life: _Case, body: str) -> None:
        case = life.case()
        if case.status != CaseStatus.CLOSED:
            services.add_note(actor=self.users[life.worker], case=case, body=body)

    def _consent(self, life: _Case, purpose: ConsentPurpose, given: bool) -> None:
        case = life.case()
        # Cross-border consent names the country: the demo's people are shared with a neighbour.
        country = ("UA" if case.country != "UA" else "MD") if purpose == ConsentPurpose.CROSS_BORDER else ""
        services.record_consent(
            actor=self.users[life.worker], case=case, purpose=purpose, given=given, country=country
        )

    def _approve(self, life: _Case) -> None:
        life.compensation_id = services.approve_compensation(
            actor=self.users[life.worker], case=life.case()
        ).pk

    def _pay(self, life: _Case) -> None:
        compensation = Compensation.objects.get(pk=life.compensation_id)
        services.pay_compensation(
            actor=self.users["caseworker"],
            compensation=compensation,
            payment_reference=f"DEMO-PAY-{compensation.pk:05d}",
        )

    def _close(self, life: _Case, reason: str, *, follow_up: bool) -> None:
        follow = timezone.localdate() + dt.timedelta(days=self.rng.randint(60, 180)) if follow_up else None
        services.close_case(
            actor=self.users[life.worker],
            case=life.case(),
            reason=reason,
            follow_up_date=follow if self.rng.random() < 0.5 else None,
        )

    def _send(self, life: _Case, slot: int, service: str, agency_key: str, reason: str) -> None:
        assert self.referral_services is not None
        case, agency = life.case(), self.agencies[agency_key]
        worker = self.users[life.worker]
        override = ""
        if case.is_child:
            override = ConsentBasis.CHILD_BEST_INTERESTS
        elif services.has_consent(case, ConsentPurpose.REFERRAL, agency) is None:
            services.record_consent(
                actor=worker, case=case, purpose=ConsentPurpose.REFERRAL, given=True, agency=agency
            )
        service_type = apps.get_model("referrals", "ServiceType").objects.get(
            country=case.country, code=service
        )
        referral = self.referral_services.refer_to_service(
            actor=worker,
            case=case,
            service=service_type,
            to_agency=agency,
            from_agency=self.agencies["fund"],
            reason=reason,
            override_basis=override,
        )
        life.referrals[slot] = referral.pk

    def _answer(self, life: _Case, slot: int, agency_key: str, *, accept: bool) -> None:
        assert self.referral_services is not None
        provider = self.users[PROVIDER[agency_key]]
        referral = apps.get_model("referrals", "Referral").objects.get(pk=life.referrals[slot])
        if accept:
            self.referral_services.accept_referral(actor=provider, referral=referral)
        else:
            self.referral_services.decline_referral(
                actor=provider, referral=referral, reason="No free place at the moment."
            )
        # The provider answered from the alert: it is read.
        url = reverse("referrals:detail", kwargs={"public_id": referral.public_id})
        Alert.objects.filter(recipient=provider, url=url, read_at__isnull=True).update(read_at=timezone.now())

    def _complete_referral(self, life: _Case, slot: int, agency_key: str) -> None:
        assert self.referral_services is not None
        provider = self.users[PROVIDER[agency_key]]
        referral = apps.get_model("referrals", "Referral").objects.get(pk=life.referrals[slot])
        self.referral_services.record_delivery(
            actor=provider,
            referral=referral,
            start_date=timezone.localtime(referral.responded_at).date(),
            end_date=timezone.localdate(),
            description=DELIVERED[referral.service.code],
        )
        self.referral_services.complete_referral(actor=provider, referral=referral)

    # --- anonymous notifications ---------------------------------------------------------------------------

    def plan_notification(self) -> None:
        rng = self.rng
        form = _pick(rng, {"sexual_exploitation": 50, "forced_labour": 40, "servitude": 10})
        citizenship = _pick(rng, {"GE": 70, "UZ": 10, "AZ": 6, "TR": 5, "UA": 5, "RU": 4})
        key = _pick(
            rng,
            {
                "police": 30,
                "ngo_batumi": 30,
                "labour": 20 if form == "forced_labour" else 0,
                "ngo_legal": 10,
                "ngo_kutaisi": 10,
            },
        )
        at = self.start + dt.timedelta(hours=rng.uniform(0, WINDOW_DAYS * DAY - 2))
        sex = "feminine" if rng.random() < WOMEN_SHARE[form] else "masculine"
        age = round(rng.triangular(18, 55, 27))
        region = {"ngo_batumi": "GE-AJ", "ngo_kutaisi": "GE-IM"}.get(key) or _pick(rng, REGIONS)
        country = _pick(rng, ABROAD[form]) if citizenship == "GE" else "GE"

        def run() -> None:
            services.notify_anonymously(
                actor=self.users[FILER[key]],
                agency=self.agencies[key],
                first_contact_date=timezone.localdate(),
                sex=sex,
                age=age,
                citizenship=citizenship,
                region=region,
                exploitation_forms=[form],
                exploitation_country=country,
            )

        self.acts.append(_Act(at=at, order=len(self.acts), run=run))

    # --- running -------------------------------------------------------------------------------------------

    def staff(self) -> None:
        """The demo mechanism of load_demo, and the staff above. Their memberships are made to start before the
        first demo case (services that check access, as the referrals ones do, check it at the act's time)."""
        self.agencies = build_demo()
        for username, first, last, roles in DEMO_STAFF:
            user = User.objects.filter(username=username).first()
            if user is None:
                # As accounts.services.create_user, with an unusable password (no Argon2 hash: 0.5 s each).
                user = User.objects.create_user(
                    username=username, password=None, first_name=first, last_name=last
                )
                audit.record(actor=None, action="user.created", target=user)
            for agency_key, role, scope in roles:
                agency = self.agencies[agency_key]
                if not Membership.objects.filter(user=user, agency=agency, role=role).exists():
                    account_services.grant_membership(
                        actor=None, user=user, agency=agency, role=role, scope=scope
                    )
        wanted = {
            *FILER.values(),
            *PROVIDER.values(),
            "decider",
            "investigator",
            "caseworker",
            "caseworker_batumi",
        }
        self.users = {u.username: u for u in User.objects.filter(username__in=wanted)}
        Membership.objects.filter(user__in=self.users.values(), valid_from__gt=self.start).update(
            valid_from=self.start - dt.timedelta(days=1)
        )

    def run(self, notifications: int) -> None:
        for fate in _fates(self.count, self.rng):
            self.plan_case(fate)
        for _ in range(notifications):
            self.plan_notification()
        self.acts.sort()
        with _clock(self.start) as set_clock:
            for act in self.acts:
                set_clock(act.at)
                act.run()


def demo_cases_exist() -> bool:
    return Case.objects.exists() or Notification.objects.exists()


def build_demo_cases(*, count: int = 500, seed: int = 2026, now: dt.datetime | None = None) -> int:
    """Add `count` generated cases (and about one anonymous notification for every 12 cases) to the demo
    mechanism of `load_demo`; the same seed gives the same people and histories relative to `now`.

    Does nothing and returns 0 when the instance already has cases or notifications, or is not Georgian (the
    demo mechanism, its regions and authorities are Georgia's); otherwise returns the number of cases made.
    """
    if demo_cases_exist() or active_profile().code != "GE":
        return 0
    builder = _Builder(count=count, seed=seed, now=now or timezone.now())
    with transaction.atomic():
        builder.staff()
        builder.run(notifications=round(count / 12.5))
    return count
