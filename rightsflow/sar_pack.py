"""The subject access response pack: cover letter, the records readable (HTML, PDF) and
machine-readable (JSON, CSV), zipped with a SHA-256 manifest.

Everything a person reads is in the catalogue's words: services by name, collections and fields by
their labels ("Family member", "Date of birth"), never table or column names, in the JSON and CSV
as in the HTML. A field the catalogue types as yes/no (``fides_meta.data_type: boolean``) reads
"Yes"/"No" in the HTML, PDF and CSV and is true/false in the JSON: stores that keep booleans as
integers (SQLite, MariaDB, the demo stores) would otherwise print 0/1.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import date
from typing import Any

from .catalog import Catalog, ServiceCatalog
from .config import Settings
from .letters import ICO
from .pdf import render_pdf
from .redaction import Redaction
from .storemap import json_default

YES, NO = "Yes", "No"
_TRUE = {1, "1", "true", "True", "yes", "Yes", "y", "Y", "t"}
_FALSE = {0, "0", "false", "False", "no", "No", "n", "N", "f"}
RECORDS_FORMAT = "rightsflow-sar-records/2"  # records.json: services -> record types -> records


def pack_jinja(settings: Settings) -> Any:
    """The templates' environment for the pack and the unsigned HTML letters (built once per
    templates folder: compiling the templates again for every pack cost more than filling them)."""
    return _pack_jinja(str(settings.templates_dir))


@functools.lru_cache(maxsize=8)
def _pack_jinja(templates_dir: str) -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["label"] = lambda s: str(s).replace("_", " ")
    return env


def rule_text(rule: Any) -> str:
    """A retention rule in words: "3 years from last contact, then destroy"."""
    parts = []
    if rule.period.years:
        parts.append(f"{rule.period.years} year{'s' if rule.period.years != 1 else ''}")
    if rule.period.months:
        parts.append(f"{rule.period.months} month{'s' if rule.period.months != 1 else ''}")
    trigger, action = rule.trigger.replace("_", " "), rule.action.replace("_", " ")
    return f"{' and '.join(parts)} from {trigger}, then {action}"


# -- yes/no fields ------------------------------------------------------------------------------------


def yes_no_fields(cat: ServiceCatalog | None, collection: str) -> set[str]:
    """The fields of a collection the catalogue types as yes/no (``fides_meta.data_type: boolean``)."""
    if cat is None:
        return set()
    out = set()
    for name, f in cat.columns.get(collection, {}).items():
        meta: Any = getattr(f, "fides_meta", None)
        if (getattr(meta, "data_type", None) or "").lower() == "boolean":
            out.add(name)
    return out


def as_bool(value: Any) -> bool | None:
    """A stored yes/no value (True/False, 1/0, "1"/"0", "yes"/"no") as a bool; None if it is none."""
    if value is None or isinstance(value, bool):
        return value
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def shown(value: Any, yes_no: bool = False) -> Any:
    """How a value reads in the HTML, PDF and CSV: empty for none, Yes/No for a yes/no field."""
    if value is None:
        return ""
    if yes_no or isinstance(value, bool):
        flag = as_bool(value)
        if flag is not None:
            return YES if flag else NO
    return value


def _machine(value: Any, yes_no: bool) -> Any:
    """A value in the JSON: true/false for a yes/no field (an unreadable one stays as stored)."""
    if yes_no:
        flag = as_bool(value)
        return value if flag is None and value is not None else flag
    return value


# -- the records, by label ------------------------------------------------------------------------------


def _labelled(catalog: Catalog, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gathered services with labels beside their ids and each row's yes/no fields known:
    [{service, name, authority, cat, collections: [{collection, label, key_field, rows,
    fields: {field: label}, yes_no: {field}}]}]."""
    out = []
    for s in services:
        cat = catalog.services.get(s["service"])
        colls = []
        for c in s["collections"]:
            coll = c["collection"]
            names = list(dict.fromkeys(k for r in c["rows"] for k in r))
            colls.append(
                {
                    **c,
                    "label": cat.collection_label(coll) if cat else coll.replace("_", " "),
                    "fields": {k: cat.field_label(coll, k) if cat else k.replace("_", " ") for k in names},
                    "yes_no": yes_no_fields(cat, coll),
                }
            )
        out.append({**s, "cat": cat, "collections": colls})
    return out


def records_export(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The machine-readable records: services by name, collections by label, each record a
    mapping of field label to value (yes/no fields true/false)."""
    return [
        {
            "service": s["name"],
            "authority": s["authority"],
            "collections": [
                {
                    "collection": c["label"],
                    "records": [
                        {c["fields"][k]: _machine(v, k in c["yes_no"]) for k, v in row.items()}
                        for row in c["rows"]
                    ],
                }
                for c in s["collections"]
                if c["rows"]
            ],
        }
        for s in services
    ]


def records_csv(services: list[dict[str, Any]]) -> str:
    """One line per value: service, record type, record, field, value, all as a person reads them."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Service", "Record type", "Record", "Field", "Value"])
    for s in services:
        for c in s["collections"]:
            for i, r in enumerate(c["rows"], 1):
                rk = r.get(c["key_field"]) if c["key_field"] else i
                for k, v in r.items():
                    w.writerow([s["name"], c["label"], rk, c["fields"][k], shown(v, k in c["yes_no"])])
    return buf.getvalue()


def withheld_export(catalog: Catalog, withheld: list[Redaction]) -> list[dict[str, Any]]:
    """Where and why information was withheld (never what), in the catalogue's words."""
    out = []
    for r in withheld:
        cat = catalog.services.get(r.service)
        out.append(
            {
                "service": cat.name if cat else r.service,
                "collection": cat.collection_label(r.collection) if cat else r.collection,
                "record": r.record_key,
                "field": cat.field_label(r.collection, r.field) if cat else r.field,
                "why": r.kind.replace("_", " "),
                "legal_basis": r.legal_basis,
                "reference": r.redaction_id,
            }
        )
    return out


# -- the pack -------------------------------------------------------------------------------------------


def pack_files(
    settings: Settings,
    catalog: Catalog,
    subject: dict[str, Any],
    inp: Any,
    services: list[dict[str, Any]],
    redactions: list[Redaction],
    today: date,
    cover_letter: Callable[[dict[str, Any]], str] | None = None,
) -> dict[str, bytes]:
    """The response pack: cover letter, records (HTML, PDF), JSON and CSV exports.

    ``inp`` is the workflow's PackInput (request id, received, clock start, deadline, the services
    searched); ``services`` the redacted dossiers of gathering. ``cover_letter(facts)`` renders the
    council's letter (``letter_sar_cover``: letterhead, addressee, signature) with the Article 15
    information; without it (a request recorded without a council, in a catalogue of several
    and no default) the unsigned cover letter is used.
    """
    env = pack_jinja(settings)
    held = [s for s in services if any(c["rows"] for c in s["collections"])]
    holding = _labelled(catalog, held)
    art15 = [
        {
            "service": s["cat"],
            "retention": [(r.record_class, rule_text(r), r.source) for r in s["cat"].retention],
        }
        for s in holding
        if s["cat"] is not None
    ]
    withheld = [r for r in redactions if not r.released]
    by_basis: dict[str, int] = {}
    for r in withheld:
        by_basis[r.legal_basis] = by_basis.get(r.legal_basis, 0) + 1
    ctx = {
        "request_id": inp.request_id,
        "today": today.isoformat(),
        "subject": subject,
        "received_on": inp.received_on,
        "clock_start": inp.clock_start,
        "deadline": inp.deadline,
        "services": holding,
        "art15": art15,
        "ico": ICO,
        "withheld_by_basis": by_basis,
        "searched": [catalog[s].name for s in inp.services_searched],
        "not_holding": [s["name"] for s in services if s not in held],
        "shown": shown,
    }
    if cover_letter is not None:
        letter = cover_letter(
            {
                "searched": list(inp.services_searched),
                "holding": [s["service"] for s in holding],
                "not_holding": [
                    s["service"] for s in services if not any(c["rows"] for c in s["collections"])
                ],
                "withheld_by_basis": by_basis,
                "deadline": inp.deadline,
                "art15": art15,
            }
        )
    else:
        letter = env.get_template("sar_cover_letter.html.j2").render(**ctx)
    records_html = env.get_template("sar_records.html.j2").render(**ctx)
    pdf = render_pdf(letter + '<div style="page-break-before: always"></div>' + records_html)
    export = {
        # the layout's version: 2 names services, record types and fields by their labels
        "format": RECORDS_FORMAT,
        "request_id": inp.request_id,
        "generated_on": today.isoformat(),
        "subject": subject,
        "services": records_export(holding),
        "withheld": withheld_export(catalog, withheld),
    }
    return {
        "cover_letter.html": letter.encode(),
        "records.html": records_html.encode(),
        "records.pdf": pdf,
        "records.json": json.dumps(export, indent=2, default=json_default).encode(),
        "records.csv": records_csv(holding).encode(),
    }


def zip_pack(files: dict[str, bytes]) -> bytes:
    """The files zipped in name order with fixed timestamps (the same bytes on a retry) and a
    manifest of their SHA-256 digests."""
    manifest = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # stable bytes on retry
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
        info = zipfile.ZipInfo("manifest-sha256.json", date_time=(2020, 1, 1, 0, 0, 0))
        z.writestr(info, json.dumps(manifest, indent=2, sort_keys=True))
    return out.getvalue()
