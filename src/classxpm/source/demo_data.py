"""Realistic, deterministic Australian SMSF demo data for the Class source tables.

One business, N funds with 1-4 members each. About 10% of funds have no TFN, 3% a TFN that fails its
check digit and 2% a bad ABN, so the pipeline's validation gate has something to reject. Everything comes
from one ``random.Random(seed)`` and a fixed ``as_of`` moment, so a seed always gives the same rows.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from classxpm.db import make_engine
from classxpm.errors import Fatal, Retriable
from classxpm.identifiers import (
    ABN_WEIGHTS,
    ACN_WEIGHTS,
    TFN9_WEIGHTS,
    is_valid_abn,
    is_valid_acn,
    is_valid_tfn,
)
from classxpm.source import schema

Row = dict[str, Any]

DEMO_BUSINESS_ID = "3f6c1a52-8d4e-4b7a-9c21-5e0f7d9b2a64"
DEMO_BUSINESS_NAME = "Harbour & Co Accountants"
DEFAULT_SEED = 20260630
# End of the 2025-26 financial year: a fixed "now" keeps the data deterministic and in the past.
DEMO_AS_OF = datetime(2026, 6, 30, 23, 59, 59)
HISTORY = timedelta(days=10 * 365)
CHUNK_SIZE = 5_000
COUNTRY = "Australia"
PHYSICAL_COLUMNS = (
    "physical_address",
    "physical_city",
    "physical_state",
    "physical_postcode",
    "physical_country",
)
POSTAL_COLUMNS = ("postal_address", "postal_city", "postal_state", "postal_postcode", "postal_country")

# Culture weight, surnames, male first names, female first names.
NAME_POOLS: tuple[tuple[int, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        40,
        (
            "Smith",
            "Jones",
            "Williams",
            "Brown",
            "Wilson",
            "Taylor",
            "O'Brien",
            "O'Connor",
            "McDonald",
            "Kelly",
        ),
        ("James", "William", "Jack", "Thomas", "Michael", "David", "Robert", "Peter"),
        ("Olivia", "Charlotte", "Sarah", "Elizabeth", "Emma", "Margaret", "Chloé", "Renée"),
    ),
    (
        10,
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng", "Võ"),
        ("Minh", "Huy", "Quân", "Đức", "Tuấn"),
        ("Thảo", "Lan", "Phương", "Hương", "Ngọc"),
    ),
    (
        12,
        ("Zhang", "Wang", "Li", "Chen", "Liu", "Huang", "Lim", "Tan", "Wong"),
        ("Wei", "Hao", "Jun", "Xiaoming", "Zhiwei"),
        ("Mei", "Jing", "Xiu", "Ying", "Yan"),
    ),
    (
        12,
        ("Patel", "Sharma", "Singh", "Kumar", "Iyer", "Reddy", "Nair", "Gupta"),
        ("Arjun", "Rahul", "Sanjay", "Vikram", "Rajesh"),
        ("Priya", "Anjali", "Deepa", "Lakshmi", "Sunita"),
    ),
    (
        8,
        ("Papadopoulos", "Georgiou", "Nikolaidis", "Karagiannis", "Christodoulou", "Vlahos"),
        ("Nikos", "Dimitrios", "Giorgos", "Kostas", "Yiannis"),
        ("Eleni", "Sofia", "Maria", "Katerina", "Despina"),
    ),
    (
        10,
        ("Rossi", "Russo", "Bianchi", "Esposito", "Romano", "D'Angelo", "De Luca", "Ferraro"),
        ("Marco", "Luca", "Giuseppe", "Antonio", "Niccolò"),
        ("Giulia", "Francesca", "Lucia", "Chiara", "Rosa"),
    ),
    (
        8,
        ("Kowalczyk", "Nowak", "Wójcik", "Mazur", "Krawczyk", "Woźniak", "Kaczmarek"),
        ("Łukasz", "Paweł", "Krzysztof", "Piotr", "Tomasz"),
        ("Agnieszka", "Małgorzata", "Zofia", "Katarzyna", "Anna"),
    ),
)
POOL_WEIGHTS = tuple(pool[0] for pool in NAME_POOLS)

PREFERRED_NAMES = {
    "James": "Jim", "William": "Bill", "Robert": "Bob", "Michael": "Mick", "Thomas": "Tom",
    "Elizabeth": "Liz", "Margaret": "Maggie", "Xiaoming": "Sam", "Zhiwei": "David", "Giuseppe": "Joe",
    "Dimitrios": "Jim", "Yiannis": "John", "Nikos": "Nick", "Kostas": "Con", "Krzysztof": "Chris",
    "Małgorzata": "Gosia", "Katarzyna": "Kasia", "Ngọc": "Ruby", "Phương": "Fiona",
}  # fmt: skip

# Suburb, state, postcode: real combinations; NT and ACT postcodes may start with 0.
LOCALITIES: tuple[tuple[str, str, str], ...] = (
    ("Sydney", "NSW", "2000"), ("Parramatta", "NSW", "2150"), ("Chatswood", "NSW", "2067"),
    ("Bondi Beach", "NSW", "2026"), ("Cabramatta", "NSW", "2166"), ("Newcastle", "NSW", "2300"),
    ("Wollongong", "NSW", "2500"), ("Albury", "NSW", "2640"),
    ("Melbourne", "VIC", "3000"), ("Richmond", "VIC", "3121"), ("Box Hill", "VIC", "3128"),
    ("Footscray", "VIC", "3011"), ("Springvale", "VIC", "3171"), ("Geelong", "VIC", "3220"),
    ("Ballarat", "VIC", "3350"),
    ("Brisbane City", "QLD", "4000"), ("Sunnybank", "QLD", "4109"), ("Southport", "QLD", "4215"),
    ("Toowoomba", "QLD", "4350"), ("Townsville", "QLD", "4810"), ("Cairns", "QLD", "4870"),
    ("Perth", "WA", "6000"), ("Subiaco", "WA", "6008"), ("Joondalup", "WA", "6027"),
    ("Fremantle", "WA", "6160"), ("Bunbury", "WA", "6230"),
    ("Adelaide", "SA", "5000"), ("Glenelg", "SA", "5045"), ("Norwood", "SA", "5067"),
    ("Mount Gambier", "SA", "5290"),
    ("Hobart", "TAS", "7000"), ("Sandy Bay", "TAS", "7005"), ("Launceston", "TAS", "7250"),
    ("Devonport", "TAS", "7310"),
    ("Canberra", "ACT", "2600"), ("Acton", "ACT", "0200"), ("Braddon", "ACT", "2612"),
    ("Belconnen", "ACT", "2617"), ("Tuggeranong", "ACT", "2900"),
    ("Darwin", "NT", "0800"), ("Casuarina", "NT", "0810"), ("Palmerston", "NT", "0830"),
    ("Katherine", "NT", "0850"), ("Alice Springs", "NT", "0870"),
)  # fmt: skip

# Landline area code and the first digit of local numbers, per state.
PHONE_PREFIXES = {
    "NSW": ("02", "9"), "ACT": ("02", "6"), "VIC": ("03", "9"), "TAS": ("03", "6"),
    "QLD": ("07", "3"), "SA": ("08", "8"), "WA": ("08", "9"), "NT": ("08", "8"),
}  # fmt: skip

STREETS = (
    "George Street", "Collins Street", "Queen Street", "King William Street", "Hay Street",
    "Elizabeth Street", "Church Street", "Victoria Road", "Pacific Highway", "High Street",
    "Station Street", "Main Road", "Bourke Street", "Macquarie Street", "Murray Street",
    "Flinders Lane", "The Esplanade", "Beach Road", "Northbourne Avenue", "Mitchell Street",
)  # fmt: skip

EMAIL_DOMAINS = ("example.com.au", "example.net.au", "mail.example.com.au", "example.org.au")
MEMBER_COUNTS = (1, 2, 3, 4)
MEMBER_COUNT_WEIGHTS = (15, 45, 20, 20)
FAMILY_FUND_NAMES = (
    "{surname} Family Super Fund",
    "{surname} Superannuation Fund",
    "The {surname} Retirement Fund",
    "{surname} Super Fund",
    "{surname} Family Pension Fund",
    "{surname} Holdings Superannuation Fund",
)
_UNDECOMPOSABLE = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "ß": "ss", "Ø": "O", "ø": "o"})


class DatabaseNotEmpty(Fatal):
    """The Class tables already hold rows and the caller did not ask to replace them."""


class DatabaseUnavailable(Retriable):
    """The database named by a well-formed URL could not be connected to: the message is one line."""


@dataclass(frozen=True)
class DemoChunk:
    """One batch of generated rows, ready for an executemany insert."""

    funds: list[Row] = field(default_factory=list)
    members: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class DemoSummary:
    """Counts of what was generated; TFNs themselves never leave the generator."""

    funds: int = 0
    members: int = 0
    without_tfn: int = 0
    invalid_tfn: int = 0
    invalid_abn: int = 0
    corporate_trustee: int = 0

    def __add__(self, other: DemoSummary) -> DemoSummary:
        """Add two summaries field by field."""
        return DemoSummary(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @classmethod
    def of(cls, chunk: DemoChunk) -> DemoSummary:
        """Count a chunk, judging identifiers with the same check digits the pipeline uses."""
        tfns = [fund["tfn"] for fund in chunk.funds]
        return cls(
            funds=len(chunk.funds),
            members=len(chunk.members),
            without_tfn=sum(tfn is None for tfn in tfns),
            invalid_tfn=sum(tfn is not None and not is_valid_tfn(tfn) for tfn in tfns),
            invalid_abn=sum(not is_valid_abn(fund["abn"]) for fund in chunk.funds),
            corporate_trustee=sum(fund["acn"] is not None for fund in chunk.funds),
        )


DEMO_BUSINESS: Row = {"business_id": DEMO_BUSINESS_ID, "name": DEMO_BUSINESS_NAME}


def demo_businesses(count: int) -> list[Row]:
    """``count`` Class businesses: the demo business first, then ``demo-business-00002`` onwards."""
    more = [
        {"business_id": f"demo-business-{n:05d}", "name": f"Demo Practice {n:05d}"}
        for n in range(2, count + 1)
    ]
    return [DEMO_BUSINESS, *more]


def generate(
    funds: int, seed: int = DEFAULT_SEED, *, chunk_size: int = CHUNK_SIZE, as_of: datetime = DEMO_AS_OF
) -> Iterator[DemoChunk]:
    """Yield ``funds`` funds and their members in chunks of ``chunk_size`` funds.

    Args:
        funds: How many funds to generate, all belonging to ``DEMO_BUSINESS_ID``.
        seed: The only source of randomness: the same seed gives the same rows.
        chunk_size: Funds per chunk; members of a fund always travel in the fund's chunk.
        as_of: The moment the data is "current" at; every timestamp is at or before it (naive UTC).

    Yields:
        Chunks of fund and member rows keyed by column name.
    """
    factory = _FundFactory(random.Random(seed), as_of)
    for start in range(0, funds, chunk_size):
        chunk = DemoChunk()
        for _ in range(min(chunk_size, funds - start)):
            fund, fund_members = factory.fund()
            chunk.funds.append(fund)
            chunk.members.extend(fund_members)
        yield chunk


def write_demo_data(
    url: str | URL, funds: int, seed: int = DEFAULT_SEED, replace: bool = False, businesses: int = 1
) -> DemoSummary:
    """Create the Class tables when missing and fill them with demo data in one transaction.

    Args:
        url: SQLAlchemy URL of the Class database (SQLite or PostgreSQL).
        funds: How many funds to write, for each business.
        seed: Seed for ``generate``.
        replace: Empty the Class tables first instead of refusing when they hold rows.
        businesses: How many Class businesses (``demo_businesses``), each with ``funds`` funds; one
            business writes exactly what it always did.

    Returns:
        Counts of what was written.

    Raises:
        DatabaseUrlError: The URL is malformed or names an unknown dialect.
        DatabaseUnavailable: The database cannot be connected to.
        DatabaseNotEmpty: The Class tables hold rows and ``replace`` is False.
    """
    engine = make_engine(url, hide_parameters=True)  # a failed insert must not echo TFNs
    try:
        with _connect(engine) as conn, conn.begin():
            _prepare_tables(conn, replace)
            owners = demo_businesses(businesses)
            conn.execute(sa.insert(schema.businesses), owners)
            summary, written = DemoSummary(), 0
            for chunk in generate(funds * len(owners), seed):
                for fund in chunk.funds:
                    fund["business_id"] = owners[written // funds]["business_id"]
                    written += 1
                conn.execute(sa.insert(schema.funds), chunk.funds)
                conn.execute(sa.insert(schema.members), chunk.members)
                summary += DemoSummary.of(chunk)
        _analyze(engine)
        return summary
    finally:
        engine.dispose()


def _analyze(engine: Engine) -> None:
    """Give the planner the statistics a live Class database has (autovacuum would, minutes later).

    Without them PostgreSQL guesses a few rows for any range of ids, and reads every fund in a business's
    range rather than stopping at the page: a bench of 150,000 funds spent minutes so.
    """
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        conn.commit()


def _connect(engine: Engine) -> Connection:
    try:
        return engine.connect()
    except sa.exc.OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        raise DatabaseUnavailable(f"cannot connect to {engine.url.render_as_string()}: {reason}") from exc


def _prepare_tables(conn: Connection, replace: bool) -> None:
    schema.metadata.create_all(conn)
    counts = {
        table.name: conn.scalar(sa.select(sa.func.count()).select_from(table)) for table in schema.TABLES
    }
    if any(counts.values()) and not replace:
        held = ", ".join(f"{count} {name}" for name, count in counts.items())
        raise DatabaseNotEmpty(
            f"{conn.engine.url.render_as_string()} already holds Class data ({held}); "
            "refusing to add demo data; --replace (replace=True) empties it first"
        )
    for table in reversed(schema.TABLES):
        conn.execute(sa.delete(table))


@cache
def ascii_fold(text: str) -> str:
    """Keep only the ASCII letters and digits of ``text``, diacritics dropped: ``Nguyễn`` -> ``Nguyen``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


@dataclass(frozen=True)
class _Person:
    first_name: str
    last_name: str
    female: bool


class _FundFactory:
    """Makes one fund (with its members) per call; holds the state that spans funds."""

    def __init__(self, rng: random.Random, as_of: datetime) -> None:
        self.rng = rng
        self.as_of = as_of
        self.issued_tfns: set[str] = set()
        self.scope_counters: dict[str, int] = {}

    def fund(self) -> tuple[Row, list[Row]]:
        rng = self.rng
        people = self._people(rng.choices(MEMBER_COUNTS, MEMBER_COUNT_WEIGHTS)[0])
        created = self._moment_after(self.as_of - HISTORY)
        fund_id = self._uuid()
        row: Row = {
            "fund_id": fund_id,
            "business_id": DEMO_BUSINESS_ID,
            "scope_code": self._scope_code(people[0]),
            "scope_description": self._fund_name(people),
            **self._addresses(),
            "tfn": self._tfn(),
            "acn": self._acn() if rng.random() < 0.30 else None,
            "abn": self._abn(),
            "created_at": created,
            "updated_at": self._moment_after(created),
        }
        row.update(self._fund_phones(row["postal_state"]))
        return row, [self._member(person, index, fund_id, created) for index, person in enumerate(people)]

    def _people(self, count: int) -> list[_Person]:
        rng = self.rng
        pool = rng.choices(NAME_POOLS, POOL_WEIGHTS)[0]
        surname = rng.choice(pool[1])
        first = self._person(pool, surname, female=rng.random() < 0.5)
        people = [first]
        if count >= 2:
            spouse_pool = pool if rng.random() < 0.8 else rng.choices(NAME_POOLS, POOL_WEIGHTS)[0]
            spouse_surname = surname if spouse_pool is pool else rng.choice(spouse_pool[1])
            people.append(self._person(spouse_pool, spouse_surname, female=not first.female))
        people.extend(
            self._person(pool, surname, female=rng.random() < 0.5) for _ in range(count - len(people))
        )
        return people

    def _person(self, pool: tuple[Any, ...], surname: str, female: bool) -> _Person:
        return _Person(self.rng.choice(pool[3] if female else pool[2]), surname, female)

    def _fund_name(self, people: list[_Person]) -> str:
        rng = self.rng
        surname = people[0].last_name
        if len(people) > 1 and people[1].last_name != surname:
            return f"{surname} & {people[1].last_name} Super Fund"
        if rng.random() < 0.015:
            return f"{ascii_fold(surname)[0].upper()}<{rng.choice('ABCDEFGHJKLMNPRSTW')} Holdings Super Fund"
        if len(people) == 1 and rng.random() < 0.3:
            return f"{people[0].first_name} {surname} Super Fund"
        return rng.choice(FAMILY_FUND_NAMES).format(surname=surname)

    def _scope_code(self, person: _Person) -> str:
        prefix = (ascii_fold(person.last_name)[:6] + ascii_fold(person.first_name)[:1]).upper()
        number = self.scope_counters.get(prefix, 0) + 1
        self.scope_counters[prefix] = number
        return f"{prefix}{number:02d}"

    def _addresses(self) -> Row:
        rng = self.rng
        suburb, state, postcode = rng.choice(LOCALITIES)
        street = self._street() if rng.random() >= 0.04 else None
        roll = rng.random()
        if street is None or roll < 0.35:
            postal = f"PO Box {rng.randint(1, 9999)}"
        elif roll < 0.40:
            postal = f"Locked Bag {rng.randint(1, 999)}"
        else:
            postal = street
        physical = (street, suburb, state, postcode, COUNTRY) if street else (None,) * 5
        postal = (postal, suburb, state, postcode, COUNTRY)
        return dict(zip(PHYSICAL_COLUMNS, physical, strict=True)) | dict(
            zip(POSTAL_COLUMNS, postal, strict=True)
        )

    def _street(self) -> str:
        rng = self.rng
        line = f"{rng.randint(1, 420)} {rng.choice(STREETS)}"
        roll = rng.random()
        if roll < 0.10:
            return f"Level {rng.randint(1, 30)}\n{line}"
        if roll < 0.15:
            return f"Suite {rng.randint(1, 20)}, Level {rng.randint(1, 12)}\n{line}"
        if roll < 0.30:
            return f"{rng.randint(1, 40)}/{line}"
        return line

    def _fund_phones(self, state: str) -> Row:
        rng = self.rng
        return {
            "phone": self._landline(state) if rng.random() < 0.85 else None,
            "fax": self._landline(state) if rng.random() < 0.15 else None,
        }

    def _landline(self, state: str) -> str:
        area, lead = PHONE_PREFIXES[state]
        return f"{area} {lead}{self.rng.randrange(1000):03d} {self.rng.randrange(10000):04d}"

    def _mobile(self) -> str:
        rng = self.rng
        return f"04{rng.randrange(100):02d} {rng.randrange(1000):03d} {rng.randrange(1000):03d}"

    def _member(self, person: _Person, index: int, fund_id: str, fund_created: datetime) -> Row:
        rng = self.rng
        founder = index < 2
        created = self._moment_after(fund_created, within=timedelta(hours=1) if founder else None)
        nickname = PREFERRED_NAMES.get(person.first_name)
        return {
            "member_id": self._uuid(),
            "fund_id": fund_id,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "salutation": self._salutation(person),
            "preferred_name": nickname if nickname and rng.random() < 0.5 else None,
            "mobile": self._mobile() if rng.random() < 0.9 else None,
            "email": self._email(person) if rng.random() < 0.9 else None,
            "direct_phone": self._mobile() if rng.random() < 0.2 else None,
            "created_at": created,
            "updated_at": self._moment_after(created),
        }

    def _salutation(self, person: _Person) -> str:
        if self.rng.random() < 0.06:
            return "Dr"
        if person.female:
            return "Mrs" if self.rng.random() < 0.5 else "Ms"
        return "Mr"

    def _email(self, person: _Person) -> str:
        rng = self.rng
        suffix = str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
        local = f"{ascii_fold(person.first_name)}.{ascii_fold(person.last_name)}{suffix}".lower()
        return f"{local}@{rng.choice(EMAIL_DOMAINS)}"

    def _tfn(self) -> str | None:
        roll = self.rng.random()
        if roll < 0.10:
            return None
        if roll < 0.13:
            return _spoil_last_digit(self._solved_tfn(), self.rng)
        tfn = self._solved_tfn()
        while tfn in self.issued_tfns:
            tfn = self._solved_tfn()
        self.issued_tfns.add(tfn)
        return tfn

    def _solved_tfn(self) -> str:
        while True:
            body = f"{self.rng.randrange(10_000_000, 100_000_000)}"
            # The check digit's weight is 10, i.e. -1 (mod 11), so the digit is the body's sum mod 11.
            check = _weighted_sum(body, TFN9_WEIGHTS) % 11
            if check < 10 and is_valid_tfn(tfn := f"{body}{check}"):
                return tfn

    def _abn(self) -> str:
        while True:
            body = f"{self.rng.randrange(1_000_000_000):09d}"
            # The two leading digits (first one less 1) weigh 10 and 1: together they are one number 0..88.
            lead = -_weighted_sum(body, ABN_WEIGHTS[2:]) % 89
            abn = f"{lead // 10 + 1}{lead % 10}{body}"
            if is_valid_abn(abn):
                return abn if self.rng.random() >= 0.02 else _spoil_last_digit(abn, self.rng)

    def _acn(self) -> str:
        while True:
            body = f"{self.rng.randrange(100_000_000):08d}"
            acn = f"{body}{(10 - _weighted_sum(body, ACN_WEIGHTS) % 10) % 10}"
            if is_valid_acn(acn):
                return acn

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _moment_after(self, start: datetime, within: timedelta | None = None) -> datetime:
        end = min(start + within, self.as_of) if within else self.as_of
        return start + timedelta(seconds=self.rng.randint(0, int((end - start).total_seconds())))


def _weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def _spoil_last_digit(number: str, rng: random.Random) -> str:
    """Change the check-bearing last digit: its weight is coprime to the modulus, so the check fails."""
    return f"{number[:-1]}{(int(number[-1]) + rng.randint(1, 9)) % 10}"
