"""Shelters API: each view parses input, calls one service or selector, and formats the result (GeoJSON where
the answer is geographic)."""

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commsplatform.api_helpers import request_user as _user
from commsplatform.api_helpers import validated as _valid
from commsplatform.core.errors import ValidationFailed
from commsplatform.core.throttling import AnonRateThrottle, UserRateThrottle
from shelters import selectors, services
from shelters.api import params
from shelters.api import serializers as s
from shelters.api.pagination import GeoJsonLimitOffsetPagination
from shelters.models import (
    Asset,
    AssetState,
    AssetType,
    BedCategory,
    EvacuationRoute,
    Hazard,
    OccupancySnapshot,
    RouteStatus,
    Shelter,
    ShelterStatus,
    ShelterStay,
)
from shelters.selectors import NEED_FIELDS
from shelters.services.bulk_upload import MAX_UPLOAD_BYTES

PLACE_PARAMETERS = [
    OpenApiParameter("q", str, description="Free text: names in any language, address, postcode."),
    OpenApiParameter("street", str, description="Part of a street name."),
    OpenApiParameter("postcode", str, description="A postcode or its beginning."),
    OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat (WGS84)."),
    OpenApiParameter("lon", float, description="Longitude of a point to sort by distance from."),
    OpenApiParameter("lat", float, description="Latitude of that point."),
    OpenApiParameter("within_m", float, description="Only within this many metres of lon/lat."),
]


def _shelter_data(request: Request, shelter: Shelter, **context: Any) -> Any:
    staff = selectors.shelter_staff_may_view(user=request.user, shelter=shelter)
    serializer = s.ShelterStaffFeatureSerializer if staff else s.ShelterFeatureSerializer
    return serializer(shelter, context=context).data


# Shelters.


class ShelterListApi(generics.ListAPIView[Shelter]):
    """Search shelters (public): free text, street, postcode, bounding box, distance, status, hazard, area."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    serializer_class = s.ShelterFeatureSerializer
    pagination_class = GeoJsonLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Shelter]:
        query = self.request.query_params
        area = params.integer(query, "area", low=1, high=2**31 - 1, default=0)
        return selectors.shelter_list(
            query=selectors.ShelterQuery(
                place=params.place_query(query),
                status=params.choice_list(query, "status", ShelterStatus.values),
                hazard=params.choice(query, "hazard", Hazard.values),
                area_id=area or None,
                with_space=params.boolean(query, "with_space"),
            )
        )

    @extend_schema(
        parameters=[
            *PLACE_PARAMETERS,
            OpenApiParameter("status", str, description="Comma-separated statuses."),
            OpenApiParameter("hazard", str, enum=Hazard.values),
            OpenApiParameter("area", int, description="Only shelters inside this area."),
            OpenApiParameter("with_space", bool, description="Only open shelters with free places."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.ShelterCreateSerializer, responses={201: s.ShelterStaffFeatureSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.ShelterCreateSerializer, request.data)
        shelter_status = data.pop("status")
        shelter = services.shelter_create(
            actor=_user(request), fields=cast(services.ShelterFields, data), status=shelter_status
        )
        return Response(_shelter_data(request, selectors.shelter_get(shelter_id=shelter.pk)), status=201)


class ShelterNearestApi(APIView):
    """Nearest open shelters with room, from a point (or from where the signed-in resident last shared being)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float, description="Longitude (default: your shared or home location)."),
            OpenApiParameter("lat", float),
            OpenApiParameter("people", int, description="Places needed (default 1)."),
            OpenApiParameter("needs", str, description=f"Comma-separated: {', '.join(NEED_FIELDS)}."),
            OpenApiParameter("hazard", str, enum=Hazard.values),
            OpenApiParameter("language", str, description="A language spoken by staff, e.g. 'ja'."),
            OpenApiParameter("bed", str, enum=BedCategory.values),
            OpenApiParameter("limit", int, description="How many (1 to 50, default 5)."),
            OpenApiParameter("max_distance_m", float),
        ],
        responses=s.NearestResponseSerializer,
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        point = params.point(query) or selectors.resident_point(user=_user(request))
        if point is None:
            raise ValidationFailed("Give lon and lat, or share your location first.", fields={"lon": "required"})
        language = params.text(query, "language")
        nearest = selectors.shelter_nearest(
            point=point,
            people=params.integer(query, "people", low=1, high=500, default=1),
            needs=params.choice_list(query, "needs", NEED_FIELDS),
            hazard=params.choice(query, "hazard", Hazard.values),
            language=language or None,
            bed=params.choice(query, "bed", BedCategory.values),
            limit=params.integer(query, "limit", low=1, high=selectors.MAX_NEAREST, default=5),
            max_distance_m=params.number(query, "max_distance_m", low=1, high=params.MAX_RADIUS_M),
        )
        shelters = [item.shelter for item in nearest]
        shelter_ids = [shelter.id for shelter in shelters]
        context = {
            "distances": {item.shelter.id: item.distance_m for item in nearest},
            "beds": selectors.shelter_beds_by_shelter(shelter_ids=shelter_ids),
        }
        features = s.NearestShelterFeatureSerializer(shelters, many=True, context=context).data
        routes = selectors.route_list(shelter_ids=shelter_ids)
        zones = selectors.zones_at(point=point)
        return Response(
            {
                "type": "FeatureCollection",
                "features": features["features"],
                "routes": s.RouteFeatureSerializer(routes, many=True).data,
                "zones": s.ZoneFeatureSerializer(zones, many=True).data,
            }
        )


class ShelterDetailApi(APIView):
    """One shelter: public to read, like the list (staff over its area see contacts and notes too)."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=s.ShelterStaffFeatureSerializer)
    def get(self, request: Request, shelter_id: int) -> Response:
        return Response(_shelter_data(request, selectors.shelter_get(shelter_id=shelter_id)))

    @extend_schema(request=s.ShelterWriteSerializer, responses=s.ShelterStaffFeatureSerializer)
    def patch(self, request: Request, shelter_id: int) -> Response:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
        data = _valid(s.ShelterWriteSerializer, request.data, partial=True)
        services.shelter_update(actor=_user(request), shelter=shelter, fields=cast(services.ShelterFields, data))
        return Response(_shelter_data(request, selectors.shelter_get(shelter_id=shelter_id)))


class ShelterStatusApi(APIView):
    @extend_schema(request=s.ShelterStatusSerializer, responses=s.ShelterStaffFeatureSerializer)
    def post(self, request: Request, shelter_id: int) -> Response:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
        data = _valid(s.ShelterStatusSerializer, request.data)
        services.shelter_set_status(actor=_user(request), shelter=shelter, status=data["status"])
        return Response(_shelter_data(request, selectors.shelter_get(shelter_id=shelter_id)))


class ShelterOccupancyApi(APIView):
    @extend_schema(request=s.OccupancySetSerializer, responses=s.ShelterStaffFeatureSerializer)
    def put(self, request: Request, shelter_id: int) -> Response:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
        data = _valid(s.OccupancySetSerializer, request.data)
        services.shelter_occupancy_set(actor=_user(request), shelter=shelter, occupancy=data["occupancy"])
        return Response(_shelter_data(request, selectors.shelter_get(shelter_id=shelter_id)))


class ShelterCheckInApi(APIView):
    """Staff check a person or household in; a signed-in resident checks in themself (and their household)."""

    @extend_schema(request=s.CheckInSerializer, responses={201: s.StaySerializer, 409: s.RefusalSerializer})
    def post(self, request: Request, shelter_id: int) -> Response:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
        data = _valid(s.CheckInSerializer, request.data)
        try:
            stay = services.shelter_check_in(
                actor=_user(request),
                shelter=shelter,
                people=data["people"],
                beds=data.get("beds"),
                resident=data.get("resident"),
            )
        except services.ShelterFull as exc:
            alternative = exc.alternative
            return Response(
                {
                    "detail": exc.message,
                    "code": exc.code,
                    "alternative": None
                    if alternative is None
                    else {
                        "id": alternative.shelter.pk,
                        "name": alternative.shelter.name,
                        "distance_m": round(alternative.distance_m, 1),
                        "free_places": alternative.shelter.free_places,
                        "location": [alternative.shelter.lon, alternative.shelter.lat],
                    },
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(s.StaySerializer(stay).data, status=status.HTTP_201_CREATED)


class ShelterCheckOutApi(APIView):
    @extend_schema(request=s.CheckOutSerializer, responses=s.StaySerializer)
    def post(self, request: Request, shelter_id: int) -> Response:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
        data = _valid(s.CheckOutSerializer, request.data)
        stay = selectors.stay_get_for_user(
            user=_user(request), shelter=shelter, stay_id=data.get("stay"), reference=data.get("reference")
        )
        stay = services.shelter_check_out(actor=_user(request), stay=stay)
        return Response(s.StaySerializer(stay).data)


class ShelterHistoryApi(generics.ListAPIView[OccupancySnapshot]):
    serializer_class = s.SnapshotSerializer

    def get_queryset(self) -> QuerySet[OccupancySnapshot]:
        shelter = selectors.shelter_get(shelter_id=self.kwargs["shelter_id"])
        return selectors.shelter_history_for_user(user=_user(self.request), shelter=shelter)


class ShelterStayListApi(generics.ListAPIView[ShelterStay]):
    serializer_class = s.StaySerializer

    @extend_schema(parameters=[OpenApiParameter("all", bool, description="Include stays already checked out.")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ShelterStay]:
        shelter = selectors.shelter_get(shelter_id=self.kwargs["shelter_id"])
        return selectors.stay_list_for_user(
            user=_user(self.request), shelter=shelter, open_only=not params.boolean(self.request.query_params, "all")
        )


class MyStayApi(APIView):
    """Where the signed-in resident is checked in now, if anywhere."""

    @extend_schema(responses=s.MyStaySerializer)
    def get(self, request: Request) -> Response:
        stay = selectors.stay_current_for_user(user=_user(request))
        return Response({"stay": s.StaySerializer(stay).data if stay is not None else None})


# Evacuation routes.


class RouteListApi(generics.ListAPIView[EvacuationRoute]):
    """Evacuation routes (public), open or blocked."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    serializer_class = s.RouteFeatureSerializer
    pagination_class = GeoJsonLimitOffsetPagination

    def get_queryset(self) -> QuerySet[EvacuationRoute]:
        query = self.request.query_params
        return selectors.route_list(bbox=params.bbox(query), status=params.choice(query, "status", RouteStatus.values))

    @extend_schema(
        parameters=[
            OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat (WGS84)."),
            OpenApiParameter("status", str, enum=RouteStatus.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.RouteWriteSerializer, responses={201: s.RouteFeatureSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.RouteWriteSerializer, request.data)
        route = services.route_create(actor=_user(request), fields=cast(services.RouteFields, data))
        return Response(s.RouteFeatureSerializer(route).data, status=status.HTTP_201_CREATED)


class RouteDetailApi(APIView):
    """One evacuation route: public to read, like the list."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=s.RouteFeatureSerializer)
    def get(self, request: Request, route_id: int) -> Response:
        return Response(s.RouteFeatureSerializer(selectors.route_get(route_id=route_id)).data)

    @extend_schema(request=s.RouteWriteSerializer, responses=s.RouteFeatureSerializer)
    def patch(self, request: Request, route_id: int) -> Response:
        route = selectors.route_get(route_id=route_id)
        data = _valid(s.RouteWriteSerializer, request.data, partial=True)
        route = services.route_update(actor=_user(request), route=route, fields=cast(services.RouteFields, data))
        return Response(s.RouteFeatureSerializer(route).data)


# Assets.


class AssetListApi(generics.ListAPIView[Asset]):
    """Assets the reader may see: their organisation's own, and others' under a role or agreement over the area."""

    serializer_class = s.AssetFeatureSerializer
    pagination_class = GeoJsonLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Asset]:
        query = self.request.query_params
        owner = params.integer(query, "owner", low=1, high=2**31 - 1, default=0)
        return selectors.asset_list_for_user(
            user=_user(self.request),
            query=selectors.AssetQuery(
                place=params.place_query(query),
                asset_type=params.choice(query, "type", AssetType.values),
                state=params.choice(query, "state", AssetState.values),
                owner_id=owner or None,
            ),
        )

    @extend_schema(
        parameters=[
            *PLACE_PARAMETERS,
            OpenApiParameter("type", str, enum=AssetType.values),
            OpenApiParameter("state", str, enum=AssetState.values),
            OpenApiParameter("owner", int, description="Owner organisation id."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.AssetCreateSerializer, responses={201: s.AssetFeatureSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.AssetCreateSerializer, request.data)
        owner = data.pop("owner")
        external_id = data.pop("external_id")
        asset = services.asset_create(
            actor=_user(request), owner=owner, external_id=external_id, fields=cast(services.AssetFields, data)
        )
        return Response(s.AssetFeatureSerializer(asset).data, status=status.HTTP_201_CREATED)


class AssetDetailApi(APIView):
    @extend_schema(responses=s.AssetFeatureSerializer)
    def get(self, request: Request, asset_id: int) -> Response:
        return Response(
            s.AssetFeatureSerializer(selectors.asset_get_for_user(user=_user(request), asset_id=asset_id)).data
        )

    @extend_schema(request=s.AssetWriteSerializer, responses=s.AssetFeatureSerializer)
    def patch(self, request: Request, asset_id: int) -> Response:
        asset = selectors.asset_get_for_user(user=_user(request), asset_id=asset_id)
        data = _valid(s.AssetWriteSerializer, request.data, partial=True)
        asset = services.asset_update(actor=_user(request), asset=asset, fields=cast(services.AssetFields, data))
        return Response(s.AssetFeatureSerializer(asset).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, asset_id: int) -> Response:
        asset = selectors.asset_get_for_user(user=_user(request), asset_id=asset_id)
        services.asset_delete(actor=_user(request), asset=asset)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssetUploadApi(APIView):
    """Upload an owner's assets as CSV or GeoJSON: all or nothing, idempotent by the owner's ids."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.AssetUploadSerializer},
        responses={200: s.UploadReportSerializer, 400: s.UploadRefusalSerializer},
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.AssetUploadSerializer, request.data)
        upload = data["file"]
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise ValidationFailed("The file is too large: split it.", fields={"file": "too large"})
        try:
            report = services.asset_upload(
                actor=_user(request),
                owner=data["owner"],
                content=upload.read(),
                filename=upload.name or "",
                file_format=data.get("format"),
            )
        except services.AssetUploadFailed as exc:
            return Response(
                {
                    "detail": exc.message,
                    "code": exc.code,
                    "error_count": exc.total,
                    "errors": [error.as_dict() for error in exc.errors],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(s.UploadReportSerializer(report).data)
