"""The district benchmark's applications: a season's worth for all of Beijing, written straight
into enrollment's tables by COPY (services/enrollment/storage.py `copy_applications`), each
sealed as the service seals it, with realistic statuses, schools and versions.

Registering and submitting 350,000 families through the use cases one by one would take hours;
a COPY per chunk, from a worker process per core, takes minutes. Account numbers begin with
ACCOUNT_PREFIX, so they never meet a registered account's (the season's year, "27").

Every application is drawn from a seeded generator, except the reviewable ones the decision
phases need (`Population.reviewable`): 非本市户籍, submitted, verified, review not started, in
one district, spread evenly through the account numbers.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as day_time

import psycopg

from common.districts import district_name
from common.keys import MasterKeys
from common.registry import PROCESSES, ROOT
from common.settings import role_url
from services.accounts.rules.age import primary_entry_window
from services.accounts.rules.identity import check_character
from services.enrollment.rules import status
from services.enrollment.rules.fields import Registration
from services.enrollment.rules.schools import load_csv
from services.enrollment.rules.season import load_season
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import Keys, copy_applications
from services.enrollment.tests.samples import details_for
from services.enrollment.usecases.store import Application, Version

ACCOUNT_PREFIX = "6"
SEED = 16
CHUNK = 2000  # applications per COPY and commit
SEASON = load_season(EnrollmentSettings.model_fields["SEASON_YEAR"].default)
DEMO_SCHOOLS = ROOT / "services" / "enrollment" / "demo_schools.csv"
# Applications per district, roughly as the districts' resident population (10,000s).
DISTRICT_WEIGHTS = {
    "dongcheng": 70, "xicheng": 110, "chaoyang": 345, "haidian": 313, "fengtai": 202,
    "shijingshan": 57, "mentougou": 39, "fangshan": 125, "tongzhou": 184, "shunyi": 132,
    "changping": 227, "daxing": 170, "huairou": 44, "pinggu": 46, "miyun": 53, "yanqing": 35,
    "yanshan": 12, "jingkai": 30,
}
NON_BEIJING = 0.35  # share of 非本市户籍 children
NAMES = ("王小明", "李小萌", "张一诺", "刘子涵", "陈思远", "杨欣怡", "赵梓轩", "黄雨桐")
FAILED_CHECK = ("hukou", "户籍信息与登记信息不一致，请核对户口簿后重新提交。")
RETURNED_ITEM = ("dwelling", "租赁合同未登记备案，请补充后重新提交。")
PERMIT = "permit"  # the item the decision phases decide: 公安's, never the last one


def account_no(i: int) -> str:
    return f"{ACCOUNT_PREFIX}{i:07d}"


@dataclass(frozen=True)
class Population:
    size: int
    reviewable: int  # kept for the decision phases
    reviewable_district: str

    @property
    def stride(self) -> int:
        return self.size // self.reviewable

    def is_reviewable(self, i: int) -> bool:
        return i % self.stride == 0 and i // self.stride < self.reviewable

    def reviewable_accounts(self) -> list[str]:
        return [account_no(n * self.stride) for n in range(self.reviewable)]


def primary_schools() -> dict[str, list[str]]:
    """The demo schools' codes of each district, 小学 only."""
    schools: dict[str, list[str]] = {}
    for school in load_csv(DEMO_SCHOOLS):
        if school.stage == "小学":
            schools.setdefault(school.district, []).append(school.code)
    return schools


def _details(hukou_type: str, district: str) -> dict:
    """A valid form of a family living in `district`."""
    details = details_for(hukou_type)
    details["residence"] = {"district": district, "address": f"{district_name(district)}示例路8号"}
    if hukou_type == "beijing":
        details["hukou_address"]["district"] = district
    else:
        details["permit"]["issuing_district"] = details["dwelling"]["district"] = district
    return details


class _Generator:
    """Application i of the population, drawn from a generator seeded per chunk."""

    def __init__(self, population: Population, seed: int):
        self.population = population
        self.rng = random.Random(seed)
        self.codes = list(DISTRICT_WEIGHTS)
        self.weights = list(DISTRICT_WEIGHTS.values())
        self.schools = primary_schools()
        self.forms = {(hukou, code): _details(hukou, code) for code in self.codes
                      for hukou in ("beijing", "non_beijing")}
        collection = SEASON.phases["collection"]
        self.opened = datetime.combine(collection.start, day_time(1), UTC)
        self.window_s = (collection.end - collection.start).days * 86400
        self.births = primary_entry_window(SEASON.year)

    def application(self, i: int) -> tuple[Application, list[Version]]:
        rng = self.rng
        reviewable = self.population.is_reviewable(i)
        if reviewable:
            district, hukou, filled = self.population.reviewable_district, "non_beijing", 1.0
        else:
            district = rng.choices(self.codes, self.weights)[0]
            hukou = "non_beijing" if rng.random() < NON_BEIJING else "beijing"
            filled = rng.random()  # < 0.08 nothing entered, < 0.15 a draft, else submitted
        registration = self._registration(i, district, hukou)
        submitted = [self.opened + timedelta(seconds=rng.randrange(self.window_s))]
        if filled < 0.08:
            return Application(registration.account_no, registration,
                               status.ApplicationState(hukou), updated_at=submitted[0]), []
        form = self.forms[(hukou, district)]
        if filled < 0.15:
            return Application(registration.account_no, registration, status.ApplicationState(
                hukou, status.DRAFT), form, updated_at=submitted[0]), []
        if not reviewable and rng.random() < 0.1:  # corrected once and submitted again
            submitted.append(submitted[0] + timedelta(seconds=rng.randrange(3 * 86400)))
        state = self._state(i, hukou, len(submitted), district)
        versions = [Version(registration.account_no, n, form, at)
                    for n, at in enumerate(submitted, 1)]
        return Application(registration.account_no, registration, state, form,
                           revision=len(submitted), updated_at=submitted[-1]), versions

    def _registration(self, i: int, district: str, hukou: str) -> Registration:
        earliest, latest = self.births
        birth = earliest + timedelta(days=i % ((latest - earliest).days + 1))
        sex = ("female", "male")[i % 2]
        first17 = f"110{i % 17 + 101:03d}{birth:%Y%m%d}{(i // 366) % 500 * 2 + i % 2:03d}"
        return Registration(account_no(i), district, hukou, NAMES[i % len(NAMES)],
                            "resident_id", first17 + check_character(first17), birth, sex,
                            f"15{i:09d}")

    def _state(self, i: int, hukou: str, version: int, district: str) -> status.ApplicationState:
        rng = self.rng
        state = status.ApplicationState(hukou, status.SUBMITTED, version)
        if self.population.is_reviewable(i):
            return _with(state, verification=status.Verification(version, status.VERIFIED))
        check = rng.random()
        if check < 0.04:
            return _with(state, verification=status.Verification(version, status.PENDING))
        if check < 0.07:
            return _with(state, verification=status.Verification(version, status.FAILED,
                                                                 *FAILED_CHECK))
        state = _with(state, verification=status.Verification(version, status.VERIFIED))
        if hukou == "non_beijing":
            stage = rng.random()  # < 0.35 not started, < 0.55 in review, < 0.95 approved
            items = list(SEASON.review_items)
            if 0.35 <= stage < 0.55:
                state = _with(state, review=status.Review(version, status.IN_REVIEW, (
                    status.ItemResult(PERMIT, True),)))
            elif stage >= 0.55:
                returned = stage >= 0.95
                state = _with(state, review=status.Review(
                    version, status.RETURNED if returned else status.APPROVED, tuple(
                        status.ItemResult(*RETURNED_ITEM) if returned and item == RETURNED_ITEM[0]
                        else status.ItemResult(item, True) for item in items)))
        if status.may_print(state) and district in self.schools:
            placed = rng.random()  # < 0.3 pre-registered, < 0.55 approved too
            if placed < 0.55:
                state = _with(state, placement=status.Placement(
                    rng.choice(self.schools[district]),
                    status.PREREGISTERED if placed < 0.3 else status.APPROVED, version))
        return state


def _with(state: status.ApplicationState, **changes) -> status.ApplicationState:
    return status.ApplicationState(**{**state.__dict__, **changes})


# Loading, a worker process per core ---------------------------------------------------------
_worker: dict = {}


def _start_worker(database_url: str, master_keys: str, population: Population) -> None:
    _worker["conn"] = psycopg.connect(database_url)
    _worker["keys"] = Keys(MasterKeys.parse(master_keys))
    _worker["population"] = population


def _load_chunk(start: int) -> tuple[int, int]:
    """Applications start, start + 1, ... in a transaction: (applications, versions)."""
    population = _worker["population"]
    generator = _Generator(population, SEED * 1_000_003 + start)
    chunk = [generator.application(i) for i in range(start, min(start + CHUNK, population.size))]
    copy_applications(_worker["conn"], _worker["keys"], chunk)
    _worker["conn"].commit()
    return len(chunk), sum(len(versions) for _, versions in chunk)


def load(database_url: str, master_keys: str, population: Population, workers: int,
         progress=lambda done: None) -> tuple[float, int]:
    """Writes the population as the enrollment service's role (the bench's admin connection
    `database_url` only ANALYZEs after): (the seconds it took, the versions written)."""
    started = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, _start_worker, (role_url(database_url, PROCESSES["enrollment"].role),
                                           master_keys, population)) as pool:
        done = versions = 0
        for count, its_versions in pool.imap_unordered(_load_chunk,
                                                       range(0, population.size, CHUNK)):
            done, versions = done + count, versions + its_versions
            progress(done)
        pool.close()  # the workers end normally, closing their connections
        pool.join()
    seconds = time.perf_counter() - started
    # The planner's statistics and the visibility map, as autovacuum would make them a little
    # later: 350,000 inserted rows would otherwise start an autovacuum in the middle of the
    # measurements, loading the box their baselines are taken on.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) enrollment.applications, enrollment.versions")
    return seconds, versions
