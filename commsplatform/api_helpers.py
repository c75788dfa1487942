"""Two helpers every API view module uses: the signed-in person, and input validated by a serializer."""

from typing import Any

from rest_framework.request import Request

from accounts.models import User


def request_user(request: Request) -> User:
    """The authenticated person (views run behind IsAuthenticated, so this holds)."""
    user = request.user
    assert isinstance(user, User)
    return user


def validated(serializer_class: type[Any], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate `data` with the serializer (a 400 with field errors otherwise) and return the clean values."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
