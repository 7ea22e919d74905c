"""PKCS #11 URIs (RFC 7512): the RFC's own examples parse, print back and match."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKO
from tokenport.uri import Pkcs11Uri, UriError, is_uri

RFC_EXAMPLES = [
    "pkcs11:",
    "pkcs11:object=my-pubkey;type=public",
    "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
    ("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
     "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
     "?pin-source=file:/etc/token_pin"),
    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
    "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
    ("pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc."
     "?pin-value=the-pin"),
    "pkcs11:slot-description=Sun%20Metaslot",
    ("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
     "library-version=1.23"),
    ("pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;"
     "id=%01%02%03%Ba%dd%Ca%fe%ba%be%de%ad%be%ef;object=my-certificate;type=cert"),
    "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
    ("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;"
     "type=cert"),
    ("pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
     "?pin-source=file:/etc/token_pin&vendor-bbb=value-b"),
]


@pytest.mark.parametrize("text", RFC_EXAMPLES)
def test_rfc_examples_parse_and_print_back_to_the_same_uri(text: str) -> None:
    uri = Pkcs11Uri.parse(text)
    assert Pkcs11Uri.parse(str(uri)) == uri


def test_values_are_percent_decoded() -> None:
    uri = Pkcs11Uri.parse(RFC_EXAMPLES[3])
    assert uri.text("token") == "The Software PKCS#11 Softtoken"
    assert uri.text("manufacturer") == "Snake Oil, Inc."
    assert uri.get("id") == bytes.fromhex("69953e5cf4bdec91")
    assert uri.text("serial") == ""
    assert uri.text("pin-source") == "file:/etc/token_pin"
    assert uri.object_class == CKO.CERTIFICATE
    assert Pkcs11Uri.parse(RFC_EXAMPLES[10]).text("token") == "A name with a substring %;"
    assert Pkcs11Uri.parse(RFC_EXAMPLES[11]).text("token") == "Name with a small A with acute: á"


def test_object_template_names_label_id_and_class() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=dev;object=Device%20Cert;id=%01%ff;type=cert")
    assert uri.object_template() == [(CKA.LABEL, b"Device Cert"), (CKA.ID, b"\x01\xff"),
                                     (CKA.CLASS, CKO.CERTIFICATE)]
    assert uri.names_object
    assert not Pkcs11Uri.parse("pkcs11:token=dev").names_object


def test_printing_encodes_what_must_be_encoded() -> None:
    uri = Pkcs11Uri.of(token="my token;1", serial="0a1b", label=b"Device Priv TLS Key",
                       key_id=b"\x01A", object_class=CKO.PRIVATE_KEY)
    assert str(uri) == ("pkcs11:token=my%20token%3B1;serial=0a1b;object=Device%20Priv%20TLS%20Key;"
                        "id=%01%41;type=private")


def test_pin_value_in_the_path_is_accepted_and_printed_in_the_query() -> None:
    """OpenSC / libp11 write ';pin-value=' in the path; RFC 7512 puts it in the query."""
    uri = Pkcs11Uri.parse("pkcs11:token=dev;object=k;type=private;pin-value=123456")
    assert uri.text("pin-value") == "123456"
    assert str(uri) == "pkcs11:token=dev;object=k;type=private?pin-value=123456"
    assert "123456" not in repr(uri)


def test_matching_tokens_slots_and_libraries() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=dev;serial=0a1b;slot-id=1;library-version=0.1")
    assert uri.matches_token("dev", "tokenport", "tokenport", "0a1b")
    assert uri.matches_token("dev   ", "tokenport", "tokenport", "0a1b  ")  # blank padded
    assert not uri.matches_token("dev", "tokenport", "tokenport", "ffff")
    assert not uri.matches_token("prod", "tokenport", "tokenport", "0a1b")
    assert uri.matches_slot(1) and not uri.matches_slot(0)
    assert uri.matches_library("tokenport", "x", (0, 1))
    assert not uri.matches_library("tokenport", "x", (0, 2))
    assert Pkcs11Uri.parse("pkcs11:").matches_token("anything", "m", "m", "s")


def test_unrecognized_path_attributes_match_nothing_query_ones_are_ignored() -> None:
    """RFC 7512 s3.3."""
    vendor = Pkcs11Uri.parse(RFC_EXAMPLES[12])
    assert vendor.unrecognized == ["vendor-aaa"]
    assert not vendor.matches_token("my-token", "m", "m", "s")
    query_only = Pkcs11Uri.parse("pkcs11:token=my-token?vendor-bbb=b")
    assert query_only.matches_token("my-token", "m", "m", "s")


@pytest.mark.parametrize(("text", "reason"), [
    ("http://example.com", "starts with 'pkcs11:'"),
    ("pkcs11:token=a;token=b", "appears twice"),
    ("pkcs11:token=%zz", "percent-encoding"),
    ("pkcs11:token=%4", "percent-encoding"),
    ("pkcs11:type=key", "type must be one of"),
    ("pkcs11:slot-id=one", "slot-id"),
    ("pkcs11:library-version=1.x", "library-version"),
    ("pkcs11:token", "attribute=value"),
    ("pkcs11:token=dev?pin-value=1&pin-source=file:/p", "exclude each other"),
    ("pkcs11:token=%ff%fe", "not UTF-8"),
])
def test_malformed_uris_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(UriError, match=reason):
        Pkcs11Uri.parse(text)


def test_scheme_is_case_insensitive() -> None:
    assert is_uri("PKCS11:token=dev") and not is_uri("dev")
    assert Pkcs11Uri.parse("PKCS11:token=dev").text("token") == "dev"
