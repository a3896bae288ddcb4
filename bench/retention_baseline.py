"""The benchmark's baseline: a retention sweep written as set-based SQL, one transaction per store.

What it reproduces (``rightsflow.retention.evaluate`` and the sweep's disposal), as SQL a DBA would
write against the store, with temporary tables for the intermediate key sets:

1. households: column stores use the group column itself; membership and relationship stores
   label each person with the smallest person key reachable over the link graph (a recursive CTE,
   ``UNION`` so cycles end; relationship stores leave professionals out of the graph);
2. per household and rule: the latest trigger date (a rule with a missing trigger date, or one
   whose ``applies_when`` holds with no dated row, keeps the household) and the date it runs to;
3. the governing rule is the one running latest, the more careful action on a tie; households
   whose rules have all run, under a rule that is not ``review`` (those wait for a records
   manager), with no active hold flag and no restricted member, are disposed of;
4. ``destroy`` and ``archive_then_destroy`` delete the household's rows, children first (the sweep
   archives to S3 first; here nothing is archived); ``anonymise`` deletes the collections the rule
   does not keep and clears the fields it does not keep (the catalogue's anonymise plan).

The register is fresh in the benchmark, so no household has an open rights request or a review
decision; those are not modelled. SQLite connections use the store engine's pragmas (WAL,
foreign_keys=ON), so both contenders pay for the same foreign-key checks (PostgreSQL always does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, text

from rightsflow.catalog import load_catalog
from rightsflow.db import engine_for_url
from rightsflow.retention import ACTION_CARE, RuleSource, StorePlan, anonymise_plan, build_plan

REPO = Path(__file__).resolve().parent.parent
REVIEW = ACTION_CARE["review"]
ANONYMISE = ACTION_CARE["anonymise"]


@dataclass
class BaselineResult:
    seconds: float
    households: int  # disposed (deleted, archived or anonymised)
    people: int
    rows: int  # rows deleted or updated


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: list[str]) -> str:
    return ", ".join(_lit(str(v)) for v in values)


def _add_period(dialect: str, expr: str, months: int) -> str:
    """``expr`` plus ``months``; a missing day becomes the month's last (29 Feb + 2 years -> 28 Feb)."""
    if dialect == "postgresql":
        return f"CAST(CAST({expr} AS date) + INTERVAL '{months} months' AS date)"
    moved = f"date({expr}, '+{months} months')"  # SQLite rolls 29 Feb into 1 Mar: step back
    return (
        f"CASE WHEN CAST(strftime('%d', {moved}) AS INTEGER) < CAST(strftime('%d', {expr}) AS INTEGER) "
        f"THEN date({expr}, '+{months} months', 'start of month', '-1 day') ELSE {moved} END"
    )


class _Store:
    """SQL fragments for one store's households."""

    def __init__(self, conn: Connection, plan: StorePlan) -> None:
        self.conn, self.plan = conn, plan
        self.dialect = conn.dialect.name
        self.as_of: object = None

    def run(self, sql: str, **params: object) -> int:
        return self.conn.execute(text(sql), params).rowcount or 0

    def analyze(self, table: str) -> None:
        if self.dialect == "postgresql":  # temporary tables are not analysed automatically
            self.run(f"ANALYZE {table}")

    # -- households ----------------------------------------------------------------------------
    def build_households(self) -> None:
        p = self.plan
        if p.via == "column":
            return
        pt, pk = p.person_table, p.person_key
        lt, lp, lo = p.link_table, p.link_person, p.link_other
        people = f"SELECT {pk}, {pk} FROM {pt}"
        if p.via == "membership":
            step = (
                f"SELECT r.p, m2.{lp} FROM reach r JOIN {lt} m1 ON m1.{lp} = r.q "
                f"JOIN {lt} m2 ON m2.{lo} = m1.{lo}"
            )
        else:
            family = f"COALESCE({p.professional}, 0) = 0" if p.professional else "1 = 1"
            people += f" WHERE {family}"
            fam = f"SELECT {pk} FROM {pt} WHERE {family}"
            self.run(
                f"CREATE TEMPORARY TABLE bench_edge AS SELECT {lp} AS a, {lo} AS b FROM {lt} "
                f"WHERE {lp} IN ({fam}) AND {lo} IN ({fam}) UNION ALL SELECT {lo}, {lp} FROM {lt} "
                f"WHERE {lp} IN ({fam}) AND {lo} IN ({fam})"
            )
            self.run("CREATE INDEX ix_bench_edge ON bench_edge (a)")
            self.analyze("bench_edge")
            step = "SELECT r.p, e.b FROM reach r JOIN bench_edge e ON e.a = r.q"
        self.run(
            "CREATE TEMPORARY TABLE bench_hh AS WITH RECURSIVE reach(p, q) AS "
            f"({people} UNION {step}) SELECT p, min(q) AS h FROM reach GROUP BY p"
        )
        self.run("CREATE UNIQUE INDEX ix_bench_hh ON bench_hh (p)")
        self.run("CREATE INDEX ix_bench_hh_h ON bench_hh (h)")
        self.analyze("bench_hh")
        if p.via == "membership":
            self.run(
                f"CREATE TEMPORARY TABLE bench_hg AS SELECT DISTINCT m.{lo} AS g, hh.h FROM {lt} m "
                f"JOIN bench_hh hh ON hh.p = m.{lp}"
            )
            self.run("CREATE UNIQUE INDEX ix_bench_hg ON bench_hg (g)")
            self.run("CREATE INDEX ix_bench_hg_h ON bench_hg (h)")
            self.analyze("bench_hg")

    def person_map(self) -> str:
        """A relation (p, h): each person's household."""
        p = self.plan
        if p.via == "column":
            return f"(SELECT {p.person_key} AS p, {p.person_group_column} AS h FROM {p.person_table})"
        return "bench_hh"

    def group_map(self) -> str:
        return "bench_hg"

    def keyed(self, level: str, alias: str, column: str) -> tuple[str, str]:
        """(join clause, household expression) for rows whose ``column`` names a person or group."""
        if level == "group" and self.plan.via == "column":
            return "", f"{alias}.{column}"
        rel = self.person_map() if level == "person" else self.group_map()
        key = "p" if level == "person" else "g"
        return f" JOIN {rel} hh ON hh.{key} = {alias}.{column}", "hh.h"

    # -- rules ---------------------------------------------------------------------------------
    def rule_rows(self, src: RuleSource) -> None:
        rule, trig = src.rule, src.trigger
        cond = rule.applies_when
        same = cond is not None and src.condition is not None and src.condition.collection == trig.collection
        join, h = self.keyed(trig.level, "t", trig.column)
        d = f"t.{src.trigger_field}"
        where = [f"t.{trig.column} IS NOT NULL"]
        applies = None
        if cond is not None and same:
            where.append(f"t.{cond.field} IN ({_in_list(cond.values)})")
        elif cond is not None and src.condition is not None:
            c = src.condition
            hits = (
                f"SELECT c.{c.column} FROM {c.collection} c WHERE c.{cond.field} IN ({_in_list(cond.values)})"
            )
            cjoin, ch = self.keyed(c.level, "c", c.column)
            applies = (
                f"SELECT DISTINCT {ch} AS h FROM {c.collection} c{cjoin} "
                f"WHERE c.{cond.field} IN ({_in_list(cond.values)})"
            )
            if src.per_person:
                where.append(f"t.{trig.column} IN ({hits})")
            else:
                where.append(f"{h} IN ({applies})")
        months = rule.period.years * 12 + rule.period.months
        care = ACTION_CARE[rule.action]
        runs_to = _add_period(self.dialect, f"max({d})", months)
        self.run(
            f"INSERT INTO bench_rule (h, rule_id, due, care) SELECT {h}, {_lit(rule.rule_id)}, "
            f"CASE WHEN count(*) = count({d}) THEN {runs_to} END, {care} "
            f"FROM {trig.collection} t{join} WHERE {' AND '.join(where)} GROUP BY {h}"
        )
        if applies is not None:  # the rule applies but has no dated row: it has not run
            self.run(
                f"INSERT INTO bench_rule (h, rule_id, due, care) SELECT a.h, {_lit(rule.rule_id)}, NULL, "
                f"{care} FROM ({applies}) a WHERE NOT EXISTS (SELECT 1 FROM bench_rule r "
                f"WHERE r.h = a.h AND r.rule_id = {_lit(rule.rule_id)})"
            )

    def due_households(self) -> None:
        p = self.plan
        key_type = self.conn.execute(
            text(
                f"SELECT {p.person_key if p.via != 'column' else p.person_group_column} FROM {p.person_table}"
            )
        ).first()
        h_type = "BIGINT" if key_type is None or isinstance(key_type[0], int) else "VARCHAR(64)"
        date_type = "DATE" if self.dialect == "postgresql" else "TEXT"
        self.run(
            f"CREATE TEMPORARY TABLE bench_rule "
            f"(h {h_type}, rule_id VARCHAR(64), due {date_type}, care INTEGER)"
        )
        self.run("CREATE INDEX ix_bench_rule ON bench_rule (h, due)")
        for src in p.rules:
            self.rule_rows(src)
        self.analyze("bench_rule")
        # Every rule has run, the latest is before the as-of date; the most careful action there.
        self.run(
            "CREATE TEMPORARY TABLE bench_due AS SELECT l.h, max(r.care) AS care FROM "
            "(SELECT h, max(due) AS due FROM bench_rule GROUP BY h "
            " HAVING count(due) = count(*) AND max(due) < :as_of) l "
            "JOIN bench_rule r ON r.h = l.h AND r.due = l.due GROUP BY l.h",
            as_of=self.as_of,
        )
        self.run(f"DELETE FROM bench_due WHERE care = {REVIEW}")  # awaiting review: kept
        self.run("CREATE UNIQUE INDEX ix_bench_due ON bench_due (h)")
        self.analyze("bench_due")
        # Holds on anyone in the household or on its group; a restricted member (each as one set).
        codes = _in_list(list(p.flag_codes))
        blocks = []
        for lk in p.flag_links:
            join, h = self.keyed(lk.level, "f", lk.column)
            blocks.append(
                f"h IN (SELECT {h} FROM {lk.collection} f{join} WHERE f.{p.flag_code_field} IN ({codes}) "
                f"AND (f.{p.flag_ended_field} IS NULL OR f.{p.flag_ended_field} > :as_of))"
            )
        pm = self.person_map()
        blocks.append(
            f"h IN (SELECT hh.h FROM {pm} hh JOIN {p.person_table} m ON m.{p.person_key} = hh.p "
            f"WHERE m.{p.restricted} IS NOT NULL)"
        )
        if p.via == "column":  # a group nobody belongs to is not a household
            blocks.append(
                f"NOT EXISTS (SELECT 1 FROM {p.person_table} m WHERE m.{p.person_group_column} = bench_due.h)"
            )
        self.run(f"DELETE FROM bench_due WHERE {' OR '.join(blocks)}", as_of=self.as_of)

    # -- disposal ------------------------------------------------------------------------------
    def key_tables(self, suffix: str, anonymise: bool) -> None:
        """bench_p<suffix> (people) and bench_g<suffix> (groups) of the households disposed so."""
        p = self.plan
        which = f"care = {ANONYMISE}" if anonymise else f"care <> {ANONYMISE}"
        due = f"SELECT h FROM bench_due WHERE {which}"
        if p.via == "column":
            people = (
                f"SELECT {p.person_key} AS k FROM {p.person_table} WHERE {p.person_group_column} IN ({due})"
            )
            groups = f"SELECT h AS k FROM bench_due WHERE {which}"
        else:
            people = f"SELECT p AS k FROM bench_hh WHERE h IN ({due})"
            groups = f"SELECT g AS k FROM bench_hg WHERE h IN ({due})" if p.via == "membership" else None
        self.run(f"CREATE TEMPORARY TABLE bench_p{suffix} AS {people}")
        self.run(f"CREATE UNIQUE INDEX ix_bench_p{suffix} ON bench_p{suffix} (k)")
        self.analyze(f"bench_p{suffix}")
        if groups:
            self.run(f"CREATE TEMPORARY TABLE bench_g{suffix} AS {groups}")
            self.run(f"CREATE UNIQUE INDEX ix_bench_g{suffix} ON bench_g{suffix} (k)")
            self.analyze(f"bench_g{suffix}")

    def rows_of(self, c: str, suffix: str) -> str:
        """WHERE clause: the rows of ``c`` belonging to the households (any reference matches)."""
        p = self.plan
        if c == p.person_table:
            return f"{p.person_key} IN (SELECT k FROM bench_p{suffix})"
        if c == p.group_table:
            return f"{p.group_key} IN (SELECT k FROM bench_g{suffix})"
        parts = []
        for col, parent, pcol in p.parents[c]:
            if parent == p.person_table:
                parts.append(f"{col} IN (SELECT k FROM bench_p{suffix})")
            elif parent == p.group_table:
                parts.append(f"{col} IN (SELECT k FROM bench_g{suffix})")
            else:
                parts.append(f"{col} IN (SELECT {pcol} FROM {parent} WHERE {self.rows_of(parent, suffix)})")
        return " OR ".join(parts)

    def destroy(self, suffix: str, keep: frozenset[str] = frozenset()) -> int:
        return sum(
            self.run(f"DELETE FROM {c} WHERE {self.rows_of(c, suffix)}")
            for c in self.plan.delete_order
            if c not in keep
        )


def baseline(url: str, service: str, as_of: date) -> BaselineResult:
    """Dispose of what is due in one store, in one transaction; (seconds, households, people, rows)."""
    cat = load_catalog(REPO / "catalog")[service]
    plan = build_plan(cat)
    engine = engine_for_url(url)  # the store engine: SQLite pragmas WAL and foreign_keys=ON
    anon_rule = next((r for r in cat.retention if r.disposal_action == "anonymise"), None)
    anon = anonymise_plan(plan, anon_rule, engine) if anon_rule else None
    started = time.perf_counter()
    rows = 0
    with engine.begin() as conn:
        st = _Store(conn, plan)
        if st.dialect == "postgresql":
            # Room to hash the key sets: with the default 4 MB, a DELETE ... WHERE a IN (SELECT ...)
            # OR b IN (SELECT ...) over 150,000 keys falls back to rescanning them for every row
            # (the hub's baseline took 210 s at 200,000 families); a DBA would give a bulk job this.
            st.run("SET LOCAL work_mem = '256MB'")
        st.as_of = as_of if st.dialect == "postgresql" else as_of.isoformat()
        st.build_households()
        st.due_households()
        households = int(conn.execute(text("SELECT count(*) FROM bench_due")).scalar() or 0)
        st.key_tables("d", anonymise=False)
        people = int(conn.execute(text("SELECT count(*) FROM bench_pd")).scalar() or 0)
        rows += st.destroy("d")
        if anon is not None:
            st.key_tables("a", anonymise=True)
            people += int(conn.execute(text("SELECT count(*) FROM bench_pa")).scalar() or 0)
            rows += st.destroy("a", keep=anon.keep_collections)
            for c in plan.scope:
                clear = anon.clear.get(c)
                if c in anon.keep_collections and clear:
                    sets = ", ".join(
                        f"{f} = {'NULL' if v is None else _lit(str(v))}" for f, v in clear.items()
                    )
                    rows += st.run(f"UPDATE {c} SET {sets} WHERE {st.rows_of(c, 'a')}")
        for t in (
            "bench_edge",
            "bench_hh",
            "bench_hg",
            "bench_rule",
            "bench_due",
            "bench_pd",
            "bench_gd",
            "bench_pa",
            "bench_ga",
        ):
            st.run(f"DROP TABLE IF EXISTS {t}")
    seconds = time.perf_counter() - started
    engine.dispose()
    return BaselineResult(seconds, households, people, rows)
