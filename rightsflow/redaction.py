"""Third-party redaction for subject access responses: pure functions, no I/O.

Information identifying someone other than the requester (another household member, an
informant, anyone else named in the records) is withheld unless they consent or disclosure is
reasonable (DPA 2018 Sch 2 Part 3 para 16). Professionals acting in their role (social workers,
practitioners, teachers, GPs) are not redacted by default. Social-work data may also be withheld
where disclosure would cause serious harm (DPA 2018 Sch 3 Part 3 para 10): a DPO decision only.

A redaction is one term in one field of one record. Its id is derived from where it is and
what it hides, so the same gathering always gives the same ids and a DPO's release of an id
still applies when redaction is re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

THIRD_PARTY_BASIS = (
    "DPA 2018 Sch 2 Part 3 para 16: information identifying another individual, withheld "
    "(no consent, disclosure not reasonable)"
)
SERIOUS_HARM_BASIS = (
    "DPA 2018 Sch 3 Part 3 para 10: social work data whose disclosure would be likely to cause "
    "serious harm (DPO decision)"
)
BASES = {"third-party": THIRD_PARTY_BASIS, "serious-harm": SERIOUS_HARM_BASIS}
# After an erasure: the erased person's name in the free text of a record kept for someone else
# (the family's case notes) is removed, so what is kept no longer says who the note was about.
ERASED_BASIS = (
    "UK GDPR Art 17(1): the person's personal data was erased; a mention of them in a record kept "
    "for other family members is removed"
)

# How each kind of third party was found (shown to the DPO; recorded with the redaction).
HOUSEHOLD_MEMBER = "household_member"
RELATED_PERSON = "related_person"
INFORMANT = "informant"
NAMED_IN_TEXT = "named_in_text"
DPO_ADDED = "dpo_added"

MASK = "[withheld: third party]"
ERASED_MASK = "[name removed]"
ERASED_PERSON = "erased_person"
HARM_MASK = "[withheld]"

_NAME = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)*"
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx)\.?"
# "Mrs Doris Kemp", "Mr Kemp": a titled private individual (an informant, unless a role follows).
_TITLED = re.compile(rf"\b{_TITLES}\s+{_NAME}(?:\s+{_NAME})?")
# Professionals acting in their role are not redacted.
_PRO_TITLED = re.compile(rf"\b(?:Dr|PC|DC|DS|Sgt|Insp|Prof|Cllr|Revd?)\.?\s+{_NAME}(?:\s+{_NAME})?")
_ROLES = (
    r"designated safeguarding lead|safeguarding lead|head ?teacher|teacher|social worker|health visitor|"
    r"school nurse|family practitioner|practitioner|key ?worker|family support worker|GP|doctor|nurse|"
    r"midwife|officer|team manager|manager|chair|SENCO|lead professional|reviewing officer|"
    r"psychologist|therapist|worker"
)
_ROLE_AFTER = re.compile(rf"^\s*(?:,|\(|-|–)?\s*(?:the\s+|a\s+|an\s+|our\s+)?(?:{_ROLES})\b", re.IGNORECASE)
_ROLE_BEFORE = re.compile(rf"\b(?:{_ROLES})\s+({_NAME}\s+{_NAME})", re.IGNORECASE)
_FULL_NAME = re.compile(rf"\b({_NAME})\s+({_NAME})\b")
_TOKEN = re.compile(rf"\b{_NAME}\b")


@dataclass(frozen=True)
class Term:
    """Something to withhold wherever it appears: a name or an identifier of a third party."""

    text: str
    kind: str
    identifier: bool = False  # digits/e-mail: matched ignoring spaces and case
    basis: str = THIRD_PARTY_BASIS
    overrides_professional: bool = False  # a DPO's addition applies even inside a professional's name


@dataclass
class Redaction:
    redaction_id: str
    service: str
    collection: str
    record_key: str
    field: str
    kind: str
    legal_basis: str
    text: str  # what is withheld: shown to the DPO, never leaves the claim check
    released: bool = False

    def public(self) -> dict[str, object]:
        """What the pack and the register may hold: where and why, not what."""
        d = asdict(self)
        d.pop("text")
        return d


@dataclass
class Redactor:
    """Finds and masks third-party information in gathered values.

    ``terms``: third parties' names and identifiers from the stores, and the DPO's additions.
    ``given_names`` / ``family_names``: every name the stores hold. In free text a held given
    name on its own is a private individual (families are written about by first name) and is
    withheld; a held given name followed by a held family name is a professional's full name
    (notes name staff in full) and is kept, unless it is a known third party's full name. A
    capitalised word after a held given name counts as a family name unless it is only known as
    a given name ("Sarah Williams" is a practitioner; "Sarah Amelia" is two people).
    ``keep``: the requester's own names (casefolded), never withheld.
    """

    terms: list[Term] = field(default_factory=list)
    given_names: set[str] = field(default_factory=set)
    family_names: set[str] = field(default_factory=set)
    keep: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    # Only ``terms`` are masked (no titled informants, no held given names): used to remove one
    # named person's mentions, e.g. after their erasure, with ``mask`` in their place.
    only_terms: bool = False
    mask: str = MASK
    # Worked out from ``terms`` as they stand (``_term_pattern``), not given: the compiled
    # pattern with the terms it was built for, the terms longest first, third parties' full names.
    _pattern_for: tuple[tuple[int, int], re.Pattern[str] | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _ordered: list[Term] = field(default_factory=list, init=False, repr=False, compare=False)
    _known_full_names: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def add(
        self,
        text: str | None,
        kind: str,
        *,
        identifier: bool = False,
        basis: str = THIRD_PARTY_BASIS,
        overrides_professional: bool = False,
    ) -> None:
        if not text:
            return
        text = " ".join(str(text).split())
        if len(text) < 2 or (not identifier and text.casefold() in self.keep):
            return
        if any(t.text.casefold() == text.casefold() and t.basis == basis for t in self.terms):
            return
        self.terms.append(Term(text, kind, identifier, basis, overrides_professional))

    def _term_pattern(self) -> re.Pattern[str] | None:
        # Built once for the terms as they stand (a pack redacts thousands of values with them).
        ident = (id(self.terms), len(self.terms))
        cached = self._pattern_for
        if cached is not None and cached[0] == ident:
            return cached[1]
        pattern = self._build_term_pattern()
        self._pattern_for = (ident, pattern)
        self._known_full_names = {t.text.casefold() for t in self.terms if not t.identifier and " " in t.text}
        return pattern

    def _build_term_pattern(self) -> re.Pattern[str] | None:
        parts: list[str] = []
        for i, t in enumerate(sorted(self.terms, key=lambda t: len(t.text), reverse=True)):
            if t.identifier:
                compact = re.sub(r"\s+", "", t.text)
                body = r"\s?".join(re.escape(ch) for ch in compact)
                parts.append(rf"(?P<t{i}>(?<![\w@.]){body}(?![\w@]))")
            else:
                parts.append(rf"(?P<t{i}>\b{re.escape(t.text)}\b)")
        self._ordered = sorted(self.terms, key=lambda t: len(t.text), reverse=True)
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def _third_party_full_names(self) -> set[str]:
        self._term_pattern()  # brings the kept set up to date with the terms
        return self._known_full_names

    def professional_spans(self, value: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        known = self._third_party_full_names()
        for m in _PRO_TITLED.finditer(value):
            spans.append(m.span())
        for m in _TITLED.finditer(value):
            if _ROLE_AFTER.match(value[m.end() :]):
                spans.append(m.span())
        for m in _ROLE_BEFORE.finditer(value):
            if m.group(1).casefold() not in known:
                spans.append(m.span(1))
        for m in _FULL_NAME.finditer(value):
            given, family = m.group(1), m.group(2)
            surname_like = family in self.family_names or family not in self.given_names
            if (
                given in self.given_names
                and surname_like
                and m.group(0).casefold() not in known
                and m.group(0).casefold() not in self.keep
            ):
                spans.append(m.span())
        return spans

    def redact_value(
        self,
        value: str,
        *,
        service: str,
        collection: str,
        record_key: str,
        field_name: str,
        found: dict[str, Redaction],
    ) -> str:
        """Mask every withheld term in ``value``; add a Redaction per (place, term) to ``found``."""
        protected = self.professional_spans(value)

        def inside(s: int, e: int) -> bool:
            return any(ps <= s and e <= pe for ps, pe in protected)

        hits: list[tuple[int, int, str, str]] = []  # start, end, kind, basis
        pattern = self._term_pattern()
        if pattern is not None:
            for m in pattern.finditer(value):
                term = self._ordered[int(m.lastgroup[1:])]  # type: ignore[index]
                if term.overrides_professional or term.identifier or not inside(*m.span()):
                    hits.append((m.start(), m.end(), term.kind, term.basis))
        for m in () if self.only_terms else _TITLED.finditer(value):
            if not inside(*m.span()):
                hits.append((m.start(), m.end(), INFORMANT, THIRD_PARTY_BASIS))
        for m in () if self.only_terms else _TOKEN.finditer(value):
            word = m.group(0)
            if word in self.given_names and word.casefold() not in self.keep and not inside(*m.span()):
                hits.append((m.start(), m.end(), NAMED_IN_TEXT, THIRD_PARTY_BASIS))
        # Longest first at each position; drop hits overlapping one already taken.
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        taken: list[tuple[int, int, str, str]] = []
        for h in hits:
            if taken and h[0] < taken[-1][1]:
                continue
            taken.append(h)
        out: list[str] = []
        pos = 0
        for start, end, kind, basis in taken:
            hit = value[start:end]
            key = re.sub(r"\s+", "", hit).casefold()
            rid = redaction_id(service, collection, record_key, field_name, key)
            red = found.setdefault(
                rid, Redaction(rid, service, collection, record_key, field_name, kind, basis, hit)
            )
            out.append(value[pos:start])
            if rid in self.released:
                red.released = True
                out.append(hit)
            else:
                out.append(HARM_MASK if basis == SERIOUS_HARM_BASIS else self.mask)
            pos = end
        out.append(value[pos:])
        return "".join(out)


def redaction_id(service: str, collection: str, record_key: str, field_name: str, term_key: str) -> str:
    digest = hashlib.sha256("\x00".join([service, collection, record_key, field_name, term_key]).encode())
    return "r" + digest.hexdigest()[:11]


def erased_person_redactor(given_name: str | None, family_name: str | None) -> Redactor:
    """A redactor of one erased person's mentions: their full name and their given name on its
    own (families are written about by first name). The family name alone is not removed: it
    names the household, whose records are kept for the others in it."""
    r = Redactor(only_terms=True, mask=ERASED_MASK)
    for given in (given_name or "").split():
        if family_name:
            r.add(f"{given} {family_name}", ERASED_PERSON, basis=ERASED_BASIS)
        r.add(given, ERASED_PERSON, basis=ERASED_BASIS)
    return r
