"""Searching shelters by what a person needs: only shelters offering every need asked for; unknown needs refused."""

import pytest

from commsplatform.core.errors import ValidationFailed
from shelters import selectors
from tests.shelters.factories import ShelterFactory


@pytest.mark.django_db
def test_a_search_keeps_only_shelters_with_every_need(tree):
    ShelterFactory.create(name="Plain")
    ShelterFactory.create(name="Ramp", step_free_access=True)
    ShelterFactory.create(name="Ramp and pets", step_free_access=True, pets_allowed=True)

    def names(*needs: str) -> list[str]:
        return [s.name for s in selectors.shelter_list(query=selectors.ShelterQuery(needs=needs))]

    assert names() == ["Plain", "Ramp", "Ramp and pets"]
    assert names("accessible") == ["Ramp", "Ramp and pets"]
    assert names("accessible", "pets") == ["Ramp and pets"]
    with pytest.raises(ValidationFailed):
        names("wings")
