"""Kernel models: the base model every app uses, and the append-only, hash-chained audit record."""

from typing import Any, NoReturn

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("The audit record is append-only: events cannot be updated.")

    def delete(self) -> NoReturn:
        raise TypeError("The audit record is append-only: events cannot be deleted.")


class AuditEvent(models.Model):
    """One state change or sensitive read. Each event's hash covers its content and the previous hash.

    The actor is kept as a bare id, never a foreign key or a name: erasing a person must not rewrite
    the chain, and the record itself holds no personal data beyond that pseudonymous id and the source.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    area_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    source = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("The audit record is append-only: events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("The audit record is append-only: events cannot be deleted.")


class AuditChainHead(models.Model):
    """The single row that serialises appends: its lock orders writers, its values name the chain's end."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_single_row")]

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"
