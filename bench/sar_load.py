"""Benchmark: many subject access requests at once, each carried to its pack being delivered.

On the embedded stack (the Temporal CLI dev server on a database file, SeaweedFS (or, with
``--s3 moto``, a moto server in this process), SQLite
stores and register, and ``--workers`` real worker processes, ``python -m rightsflow.worker``):

1. every catalogued store is seeded with ``--families`` families (seed 11, as of 1 November 2026);
2. ``--requests`` subject access requests are filed at once through the request service, as
   ``rightsflow sar`` files them (a different child each, by NHS number, name and date of birth,
   every other one by name and date of birth only; made to Lewisham, so Family Thrive, children's
   social care and Early Help are searched);
3. each is driven as a DPO would: identity verified on filing; any candidate match (found by name
   and date of birth, not NHS number) confirmed; approved once its records are gathered and
   redacted; then the pack is built, locked in S3 and sent.

Prints, with the size, date and machine: p50 and p95 of filing -> gathered (the register's audit
entry of the request reaching redaction, which follows the last service's gathering) and filing ->
pack delivered (its ``subject_access.pack_sent`` entry), requests per minute (requests / time from
the first filing to the last delivery), each worker's peak RSS (VmHWM, reset when filing starts)
and the workers' CPU seconds per request (user + system, from filing to the last delivery). Run
small on a shared machine:

    nice -n 10 python bench/sar_load.py --families 2000 --requests 10 --workers 1
    nice -n 10 python bench/sar_load.py --families 2000 --requests 10 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fault_support import DevServer, FaultRig, Worker, free_port  # noqa: E402 - after the path

LEWISHAM = "lewisham"
POLLS_PER_SECOND = 20  # status queries a second across all requests (each request's DPO looking in)
FT = "lewisham_family_thrive"


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.machine()}"


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_vm_hwm(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and its threads (clock ticks in /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ACTIVITY_LINE = re.compile(rb"rightsflow\.activity (\w+) (?:finished|failed) in [\d.]+ s \(([\d.]+) s CPU\)")


def activity_cpu(logs: list[Path]) -> dict[str, float]:
    """CPU seconds by activity type, from the lines the workers log as each activity ends."""
    spent: dict[str, float] = {}
    for path in logs:
        for m in ACTIVITY_LINE.finditer(path.read_bytes()):
            name = m.group(1).decode()
            spent[name] = spent.get(name, 0.0) + float(m.group(2))
    return spent


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Tracked:
    subject: dict[str, Any]
    filed_at: float = 0.0  # epoch seconds when the filing call began
    request_id: str = ""
    confirmed: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # confirmations refused, then sent again
    gathered_at: float | None = None
    delivered_at: float | None = None
    error: str = ""


def subjects(rig: FaultRig, n: int) -> list[dict[str, Any]]:
    """``n`` different children of Lewisham Family Thrive, spread over the store, with an NHS number."""
    return subjects_in(rig.urls[FT], n)


def subjects_in(url: str, n: int) -> list[dict[str, Any]]:
    """``n`` different children of the Family Thrive store at ``url`` (see ``subjects``)."""
    from sqlalchemy import select

    from rightsflow.db import engine_for_url
    from rightsflow.seed import PERSON_TABLES
    from rightsflow.stores import SCHEMAS

    table_name, key, nhs, dob, given, family = PERSON_TABLES[FT]
    t = SCHEMAS[FT].tables[table_name]
    with engine_for_url(url).connect() as conn:
        people = conn.execute(
            select(t.c[nhs], t.c[given], t.c[family], t.c[dob])
            .where(t.c[nhs].is_not(None), t.c[dob] > date(2010, 1, 1))
            .order_by(t.c[key])
        ).all()
    step = max(1, len(people) // n)
    chosen = people[::step][:n]
    if len(chosen) < n:
        raise SystemExit(f"only {len(chosen)} children with an NHS number; seed more families")
    return [{"nhs_number": p[0], "name": f"{p[1]} {p[2]}", "dob": p[3].isoformat()} for p in chosen]


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


async def drive(rs: Any, item: Tracked, today: str, timeout: float, poll: float) -> None:
    """File, verify, confirm candidates, approve, until the pack is delivered.

    ``poll``: seconds between looks at the request's status (with jitter), as a DPO's queue
    refreshes; every look is a query the worker answers, so a thousand requests are looked at
    less often than ten."""
    from rightsflow.identity import SubjectIdentifiers
    from rightsflow.request_errors import Refused

    item.filed_at = time.time()
    filed = await rs.file_sar(
        actor="bench:dpo",
        subject=SubjectIdentifiers.parse(**item.subject),
        received_on=today,
        controller=LEWISHAM,
    )
    item.request_id = filed.request_id
    end = time.monotonic() + timeout
    if not await again(lambda: rs.verify(item.request_id, actor="bench:dpo", identity_received=today), end):
        item.error = "identity could not be recorded: Temporal did not answer"
        return
    approved = False
    while time.monotonic() < end:
        await asyncio.sleep(poll * random.uniform(0.5, 1.5))
        try:
            status = await rs.status(item.request_id, actor="bench:dpo")
        except Exception:  # noqa: BLE001 - a query racing a workflow task: ask again
            continue
        waiting = [
            c
            for s in status.get("services", [])
            if s["state"] == "awaiting_confirmation"
            for c in s["candidates"]
            if c not in item.confirmed
        ]
        try:
            if waiting and await again(
                lambda w=waiting: rs.verify(item.request_id, actor="bench:dpo", confirm_matches=w), end
            ):
                item.confirmed.update(waiting)
        except Refused as exc:
            # What a DPO would do with "not a candidate match awaiting confirmation": look at the
            # request again and confirm what it then shows. Counted and printed, not hidden.
            item.refused.append(str(exc))
        stage = status.get("stage")
        if stage == "awaiting_review" and not approved:
            approved = await again(lambda: rs.approve(item.request_id, actor="bench:dpo"), end)
        if stage == "delivered":
            return
        if stage in ("refused", "failed") or status.get("attention"):
            item.error = f"stage {stage}, attention {status.get('attention')}"
            return
    item.error = "timed out"


async def again(decide: Any, end: float) -> bool:
    """A DPO's decision, tried again (after a pause) while Temporal says it is unavailable: a
    worker busy with a thousand requests can leave an update unanswered for a while."""
    from rightsflow.request_errors import Refused, Unavailable

    unanswered = False
    while time.monotonic() < end:
        try:
            await decide()
            return True
        except Unavailable:
            unanswered = True
            await asyncio.sleep(random.uniform(5, 15))
        except Refused:
            # Sent again after Temporal did not answer: refused because the first one was
            # applied (the match is confirmed, the pack approved). Refused the first time: real.
            if unanswered:
                return True
            raise
    return False


def read_times(rs: Any, items: list[Tracked]) -> None:
    """Gathered and delivered times from the register's audit log of each request."""
    register = rs.register()
    for item in items:
        for e in register.audit_trail(item.request_id):
            if e.action == "subject_access.redacting" and item.gathered_at is None:
                item.gathered_at = _epoch(e.at)
            if e.action == "subject_access.pack_sent" and item.delivered_at is None:
                item.delivered_at = _epoch(e.at)


async def load(s: Any, items: list[Tracked], timeout: float) -> float:
    from rightsflow.request_service import RequestService

    today = date.today().isoformat()
    async with RequestService(s) as rs:
        started = time.time()
        poll = max(0.5, len(items) / POLLS_PER_SECOND)

        async def one(item: Tracked) -> None:
            try:
                await drive(rs, item, today, timeout, poll)
            except Exception as exc:  # noqa: BLE001 - one request's failure is reported, not fatal
                item.error = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(one(item) for item in items))
        read_times(rs, items)
    return started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, default=2000, help="families per store (default 2,000)")
    ap.add_argument("--requests", type=int, default=10, help="requests filed at once (default 10)")
    ap.add_argument("--workers", type=int, default=1, choices=(1, 2), help="worker processes (1 or 2)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a request may take")
    ap.add_argument(
        "--s3", choices=("seaweedfs", "moto"), default="seaweedfs", help="S3 server (default: SeaweedFS)"
    )
    args = ap.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log, a line per S3 call
    root = Path(tempfile.mkdtemp(prefix="rightsflow-sar-load-"))
    port = free_port()
    if args.s3 == "seaweedfs":  # the embedded stack's S3 server, in its own process
        from rightsflow.embedded.seaweedfs import start_seaweedfs

        s3: Any = start_seaweedfs(root / "s3-server", port, access_key="testing", secret_key="testing")
    else:  # moto in this process, sharing its interpreter with the requests it serves
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        s3.start()
    server = DevServer(root)
    server.start()
    workers: list[Worker] = []
    try:
        seeded = time.perf_counter()
        rig = FaultRig(root / "runs", f"http://127.0.0.1:{port}", server.address, families=args.families)
        seeded = time.perf_counter() - seeded
        s, env = rig.home("load")
        # Every other request gives no NHS number (name and date of birth only, as a letter from a
        # parent often does): its matches are candidates the DPO confirms before they are gathered.
        items = [
            Tracked(subject if n % 2 == 0 else {k: v for k, v in subject.items() if k != "nhs_number"})
            for n, subject in enumerate(subjects(rig, args.requests))
        ]
        workers = [Worker(env, s.home / f"worker-{n}.log") for n in range(args.workers)]
        for w in workers:
            w.ready()
        for w in workers:
            reset_vm_hwm(w.proc.pid)
        cpu_before = [cpu_seconds(w.proc.pid) for w in workers]
        busy_before = machine_jiffies()
        started = asyncio.run(load(s, items, args.timeout))
        cpu = sum(cpu_seconds(w.proc.pid) - b for w, b in zip(workers, cpu_before, strict=True))
        busy_after = machine_jiffies()
        busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
        peaks = [vm_hwm_mb(w.proc.pid) for w in workers]
    finally:
        for w in workers:
            w.stop()
        server.stop()
        s3.stop()  # both kinds stop with stop()
    by_activity = activity_cpu([w.log for w in workers])

    done = [i for i in items if i.delivered_at is not None and i.gathered_at is not None and not i.error]
    workers_said = f"{args.workers} worker process{'es' if args.workers > 1 else ''}, S3 {args.s3}"
    print(
        f"\nsubject access requests under load: {args.families:,} families per store, "
        f"{args.requests} requests filed at once, {workers_said}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}, load average {os.getloadavg()[0]:.1f}; seeding took {seeded:.0f} s"
    )
    for i in items:
        if i.error or i not in done:
            print(f"  request {i.request_id or '(not filed)'}: {i.error or 'no delivery recorded'}")
    if not done:
        raise SystemExit("no request was delivered")
    gathered = [i.gathered_at - i.filed_at for i in done]  # type: ignore[operator]
    delivered = [i.delivered_at - i.filed_at for i in done]  # type: ignore[operator]
    span = max(i.delivered_at for i in done) - started  # type: ignore[type-var]
    confirmed = sum(len(i.confirmed) for i in items)
    print(f"delivered: {len(done)} of {len(items)} ({confirmed} candidate matches confirmed by the DPO)")
    refused = [(i.request_id, r) for i in items for r in i.refused]
    if refused:
        print(f"confirmations refused and sent again after a fresh look: {len(refused)}")
        for request_id, why in refused[:10]:
            print(f"  request {request_id}: {why}")
    for label, values in (("filing -> gathered", gathered), ("filing -> pack delivered", delivered)):
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        print(f"{label:26} p50 {p50:6.1f} s   p95 {p95:6.1f} s   mean {statistics.mean(values):6.1f} s")
    rate = len(done) / span * 60
    print(f"throughput: {rate:.1f} requests per minute ({span:.1f} s, first filing to last pack)")
    print(f"worker peak RSS: {', '.join(f'{p:.0f} MB' for p in peaks)}")
    print(f"worker CPU: {cpu:.1f} s in all, {cpu / len(done):.2f} s per request")
    # Where it went: each activity's own thread CPU, from the workers' logs; the rest is the
    # workflows, the SDK and the codec on the event loop (and the heartbeat threads).
    for name, spent in sorted(by_activity.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32} {spent / len(done):5.2f} s per request")
    rest = cpu - sum(by_activity.values())
    print(f"  {'(workflows, SDK, codec)':32} {rest / len(done):5.2f} s per request")
    # Everything on the machine (workers, Temporal, S3, this driver): near 100%, a worker more
    # cannot add throughput here; it needs cores of its own.
    print(f"machine CPU busy: {busy * 100:.0f}% of {os.cpu_count()} cores over the run")


if __name__ == "__main__":
    main()
