"""Transparent rules: a prediction + consented needs + language + where a person lives → communication groups.

Each rule is a small function with a stable name, stored with every assignment it makes, so that staff can
read why someone is in a group ("needs.mobility.zone fired: declared mobility need, home in zone 1").
The rules only read the context they are given; classifier/services.py builds it and applies the matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from accounts.models import AdministrativeArea, GroupKind, NeedKind

# A prediction must be at least this confident to put someone in a group on its own.
MIN_SCORE = 0.5


@dataclass(frozen=True)
class TextEvidence:
    text_id: int
    label: str
    score: float
    model_name: str
    model_version: str
    staff_labelled: bool = False


@dataclass
class RuleContext:
    user_id: int
    needs: frozenset[str]  # only the needs whose consent is active
    zone: AdministrativeArea | None  # evacuation zone of the home (AreaLevel.ZONE)
    district: AdministrativeArea | None  # district (or neighbourhood's district) of the home
    city: AdministrativeArea | None
    language: str
    language_score: float | None
    texts: list[TextEvidence] = field(default_factory=list)
    offering_help: frozenset[str] = frozenset()
    urgent_needs_label: str = "requests_or_urgent_needs"
    displaced_label: str = "displaced_people_and_evacuations"


@dataclass(frozen=True)
class GroupSpec:
    key: str
    name: str
    kind: str
    area: AdministrativeArea | None
    language: str = ""
    description: str = ""


@dataclass(frozen=True)
class Match:
    rule: str
    group: GroupSpec
    explanation: str
    evidence: TextEvidence | None = None
    score: float | None = None
    model_name: str = ""
    model_version: str = ""


def _best(ctx: RuleContext, labels: frozenset[str] | set[str]) -> TextEvidence | None:
    """The strongest text with one of these labels (a staff label counts as certain)."""
    candidates = [t for t in ctx.texts if t.label in labels and (t.staff_labelled or t.score >= MIN_SCORE)]
    return max(candidates, key=lambda t: (t.staff_labelled, t.score), default=None)


def _from_text(rule: str, group: GroupSpec, evidence: TextEvidence, why: str) -> Match:
    return Match(
        rule=rule,
        group=group,
        explanation=why,
        evidence=evidence,
        score=1.0 if evidence.staff_labelled else evidence.score,
        model_name="staff" if evidence.staff_labelled else evidence.model_name,
        model_version="" if evidence.staff_labelled else evidence.model_version,
    )


def rule_assisted_evacuation(ctx: RuleContext) -> list[Match]:
    """A declared mobility need and a home in an evacuation zone → "Assisted evacuation, <zone>"."""
    if NeedKind.MOBILITY not in ctx.needs or ctx.zone is None:
        return []
    group = GroupSpec(
        key=f"assisted-evacuation-{ctx.zone.pk}",
        name=f"Assisted evacuation, {ctx.zone.name}",
        kind=GroupKind.NEEDS,
        area=ctx.zone,
        description="Residents of the zone who declared that they need help to move.",
    )
    why = f"declared mobility need (consented); home in evacuation zone {ctx.zone.code}"
    return [Match(rule="needs.mobility.zone", group=group, explanation=why)]


def rule_medical_dependency(ctx: RuleContext) -> list[Match]:
    """A declared medical dependency → "Medical dependency, <district>" (power cuts, evacuation first)."""
    if NeedKind.MEDICAL not in ctx.needs or ctx.district is None:
        return []
    group = GroupSpec(
        key=f"medical-dependency-{ctx.district.pk}",
        name=f"Medical dependency, {ctx.district.name}",
        kind=GroupKind.NEEDS,
        area=ctx.district,
    )
    why = f"declared medical dependency (consented); home in district {ctx.district.code}"
    return [Match(rule="needs.medical.district", group=group, explanation=why)]


def rule_volunteers(ctx: RuleContext) -> list[Match]:
    """Offering help (rescue, volunteering, donations) → the volunteers' coordination group of the district."""
    area = ctx.district or ctx.city
    evidence = _best(ctx, ctx.offering_help)
    if evidence is None or area is None:
        return []
    group = GroupSpec(
        key=f"volunteers-{area.pk}",
        name=f"Volunteers' coordination, {area.name}",
        kind=GroupKind.VOLUNTEERS,
        area=area,
        description="People who offered help in the area.",
    )
    why = f"a message classified {evidence.label}; home in {area.code}"
    return [_from_text("prediction.offering_help.district", group, evidence, why)]


def rule_urgent_needs(ctx: RuleContext) -> list[Match]:
    """A request or urgent need → the district's follow-up group (staff reach them first)."""
    area = ctx.district or ctx.city
    evidence = _best(ctx, {ctx.urgent_needs_label})
    if evidence is None or area is None:
        return []
    group = GroupSpec(
        key=f"urgent-needs-{area.pk}", name=f"Urgent needs follow-up, {area.name}", kind=GroupKind.NEEDS, area=area
    )
    why = f"a message classified {evidence.label}; home in {area.code}"
    return [_from_text("prediction.urgent_needs.district", group, evidence, why)]


def rule_displaced(ctx: RuleContext) -> list[Match]:
    """Displaced or evacuating → the district's displaced residents group (shelters, returns)."""
    area = ctx.district or ctx.city
    evidence = _best(ctx, {ctx.displaced_label})
    if evidence is None or area is None:
        return []
    group = GroupSpec(
        key=f"displaced-{area.pk}", name=f"Displaced residents, {area.name}", kind=GroupKind.NEEDS, area=area
    )
    why = f"a message classified {evidence.label}; home in {area.code}"
    return [_from_text("prediction.displaced.district", group, evidence, why)]


def rule_language(ctx: RuleContext) -> list[Match]:
    """Someone who writes (or chose) another language than the site's default → its readers' group."""
    default = settings.LANGUAGE_CODE.split("-")[0]
    if not ctx.language or ctx.language.split("-")[0] == default:
        return []
    names = dict(settings.LANGUAGES)
    area = ctx.city or ctx.district
    suffix = f", {area.name}" if area else ""
    group = GroupSpec(
        key=f"language-{ctx.language}-{area.pk}" if area else f"language-{ctx.language}",
        name=f"{names.get(ctx.language, ctx.language)} readers{suffix}",
        kind=GroupKind.LANGUAGE,
        area=area,
        language=ctx.language,
    )
    if ctx.language_score is not None:
        why = f"messages detected as {ctx.language} (score {ctx.language_score:.2f})"
        return [
            Match(
                rule="language.detected",
                group=group,
                explanation=why,
                score=ctx.language_score,
                model_name="py3langid",
            )
        ]
    return [Match(rule="language.preferred", group=group, explanation=f"chose {ctx.language} as their language")]


RULES: list[Callable[[RuleContext], list[Match]]] = [
    rule_assisted_evacuation,
    rule_medical_dependency,
    rule_volunteers,
    rule_urgent_needs,
    rule_displaced,
    rule_language,
]


def rules_evaluate(ctx: RuleContext) -> list[Match]:
    """Every match of every rule, one per group (the first rule to name a group wins)."""
    seen: set[str] = set()
    matches: list[Match] = []
    for rule in RULES:
        for match in rule(ctx):
            if match.group.key not in seen:
                seen.add(match.group.key)
                matches.append(match)
    return matches
