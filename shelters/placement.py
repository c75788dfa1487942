"""Which administrative area a point lies in: one query for a single point, prepared geometries for many."""

from collections.abc import Sequence

from django.contrib.gis.geos import Point
from django.contrib.gis.geos.prepared import PreparedGeometry

from accounts.models import AdministrativeArea, AreaLevel


def area_for_point(*, point: Point) -> AdministrativeArea | None:
    """The deepest area of the tree (zones aside) that holds the point, or None when no area does."""
    candidates = list(
        AdministrativeArea.objects.filter(geometry__intersects=point).exclude(level=AreaLevel.ZONE).defer("geometry")
    )
    if not candidates:
        return None
    return max(candidates, key=lambda area: (len(area.ancestor_ids), area.pk))


class AreaLocator:
    """Finds the deepest area holding each of many points, descending the tree from `roots` (zones aside).

    Built once per bulk operation: the areas' prepared geometries answer point-in-polygon tests in memory.
    """

    def __init__(self, *, roots: Sequence[AdministrativeArea]) -> None:
        self._roots: list[int] = []
        self._children: dict[int, list[int]] = {}
        self._prepared: dict[int, PreparedGeometry] = {}
        self.areas: dict[int, AdministrativeArea] = {}
        paths = sorted({root.path for root in roots})
        # Roots inside other roots add nothing: their subtree is searched from the outer root.
        top = [path for path in paths if not any(path != other and path.startswith(other) for other in paths)]
        if not top:
            return
        condition = AdministrativeArea.objects.none()
        for path in top:
            condition = condition | AdministrativeArea.objects.filter(path__startswith=path)
        for area in condition.exclude(level=AreaLevel.ZONE).order_by("path"):
            self.areas[area.pk] = area
            self._prepared[area.pk] = area.geometry.prepared
            if area.path in top:
                self._roots.append(area.pk)
            elif area.parent_id is not None:
                self._children.setdefault(area.parent_id, []).append(area.pk)

    def locate(self, point: Point) -> AdministrativeArea | None:
        level = [pk for pk in self._roots if self._prepared[pk].intersects(point)]
        found: int | None = None
        while level:
            found = level[0]
            level = [pk for pk in self._children.get(found, []) if self._prepared[pk].intersects(point)]
        return self.areas[found] if found is not None else None
