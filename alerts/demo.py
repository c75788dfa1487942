"""Demo data for alerts: a ready template for each demo district, and browser alerts for the demo resident."""

from accounts import services as accounts_services
from accounts.demo import DEMO_ORGANISATIONS, demo_username
from accounts.models import AdministrativeArea, AreaLevel, ChannelKind, Organisation, OrganisationKind, Role, User
from alerts.content import AlertContent, AreaContent, InfoContent
from alerts.models import AlertTemplate
from alerts.services import lifecycle


def alerts_demo_load(*, city: AdministrativeArea) -> int:
    """Idempotent: returns how many templates were created."""
    organisation = Organisation.objects.filter(name=DEMO_ORGANISATIONS[OrganisationKind.CIVIL_PROTECTION]).first()
    if organisation is None:
        return 0
    resident = User.objects.filter(username=demo_username(Role.RESIDENT)).first()
    if resident is not None and not resident.channel_identities.filter(kind=ChannelKind.WEB).exists():
        accounts_services.channel_identity_link(user=resident, kind=ChannelKind.WEB, external_id=f"user:{resident.pk}")
    created = 0
    for district in city.children.filter(level=AreaLevel.DISTRICT).order_by("code")[:5]:
        name = f"Flash flood warning: {district.name}"
        if AlertTemplate.objects.filter(organisation=organisation, name=name).exists():
            continue
        content = AlertContent(
            infos=[
                InfoContent(
                    language=language,
                    categories=["Met"],
                    event=event,
                    response_types=["Evacuate"],
                    urgency="Immediate",
                    severity="Severe",
                    certainty="Likely",
                    headline=headline,
                    description=description,
                    instruction=instruction,
                    areas=[AreaContent(area_desc=district.name, admin_area_ids=[district.pk])],
                )
                for language, event, headline, description, instruction in (
                    (
                        "en",
                        "Flash flood",
                        f"Flash flood warning for {district.name}",
                        "Heavy rain is expected to flood low-lying streets within hours.",
                        "Move to higher floors or to the nearest open shelter. Avoid underpasses.",
                    ),
                    (
                        "es",
                        "Inundación repentina",
                        f"Aviso de inundación repentina en {district.name}",
                        "Se esperan lluvias intensas que inundarán las calles bajas en las próximas horas.",
                        "Suba a pisos altos o vaya al refugio abierto más cercano. Evite los pasos subterráneos.",
                    ),
                )
            ]
        )
        lifecycle.alert_template_create(
            actor=None, organisation=organisation, area=district, name=name, content=content
        )
        created += 1
    return created
