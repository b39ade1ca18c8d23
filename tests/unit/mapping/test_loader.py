from __future__ import annotations

from pathlib import Path

import pytest

from classxpm.mapping.loader import (
    MAPPINGS_DIR_ENV,
    PROJECT_MAPPINGS_DIR,
    MappingError,
    load_default_mappings,
    load_mapping,
)

HEAD = "source_table: funds\ntarget: client\nkey: fund_id\n"
VALID = HEAD + "fields:\n  Name:\n    from: scope_description\n"

# (case, YAML text, key path, reason): each the only problem in its file.
INVALID = [
    ("unknown top-level key", VALID + "colour: red\n", "colour", "unknown key; allowed here: fields, key,"),
    (
        "unknown field key",
        HEAD + "fields:\n  Name:\n    frm: scope_description\n",
        "fields.Name.frm",
        "unknown key; allowed here: from, join, on_blank,",
    ),
    (
        "unknown XPM element",
        VALID + "  Nmae:\n    from: scope_description\n",
        "fields.Nmae",
        "'Nmae' is not an XPM client element",
    ),
    (
        "contact element on a client",
        VALID + "  Salutation:\n    from: phone\n",
        "fields.Salutation",
        "'Salutation' is not an XPM client element",
    ),
    (
        "wrong type: number for a column",
        HEAD + "fields:\n  Name:\n    from: 42\n",
        "fields.Name.from",
        "wrong type: expected text, found a number",
    ),
    (
        "wrong type: text for a flag",
        VALID + "  TaxNumber:\n    from: tfn\n    sensitive: definitely\n",
        "fields.TaxNumber.sensitive",
        "wrong type: expected true or false, found text",
    ),
    (
        "wrong type: list of fields",
        HEAD + "fields: [Name]\n",
        "fields",
        "wrong type: expected a mapping of keys",
    ),
    (
        "wrong type: a bare column for a field",
        HEAD + "fields:\n  Name: scope_description\n",
        "fields.Name",
        "wrong type: expected a mapping of keys such as from: <column>",
    ),
    (
        "wrong type: number for transforms",
        VALID + "    transform: 5\n",
        "fields.Name.transform",
        "wrong type: expected a list, found a number",
    ),
    (
        "missing key",
        "source_table: funds\ntarget: client\nfields:\n  Name:\n    from: abn\n",
        "key",
        "required key is missing",
    ),
    ("missing fields", HEAD, "fields", "required key is missing"),
    (
        "column that does not exist",
        HEAD + "fields:\n  Name:\n    from: fund_name\n",
        "fields.Name.from",
        "funds has no column 'fund_name'",
    ),
    (
        "joined column that does not exist",
        HEAD + "fields:\n  Name:\n    join: [scope_description, last_name]\n",
        "fields.Name.join[1]",
        "funds has no column 'last_name'",
    ),
    ("key column that does not exist", VALID.replace("fund_id", "fund_code"), "key", "funds has no column"),
    (
        "unknown source table",
        VALID.replace("funds", "fundz"),
        "source_table",
        "'fundz' is not allowed; use 'funds' or 'members'",
    ),
    (
        "unknown transform",
        VALID + "    transform: [strip, uppr]\n",
        "fields.Name.transform[1]",
        "'uppr' is not allowed; use 'strip', 'collapse_whitespace', 'upper' or 'digits_only'",
    ),
    (
        "unknown blank rule",
        VALID + "    on_blank: wipe\n",
        "fields.Name.on_blank",
        "'wipe' is not allowed; use 'keep' or 'clear'",
    ),
    (
        "two sources",
        VALID + "    value: Fund\n",
        "fields.Name",
        "give exactly one of from, join or value (found 2)",
    ),
    (
        "Name not mapped",
        HEAD + "fields:\n  Phone:\n    from: phone\n",
        "fields.Name",
        "XPM requires Name: map it",
    ),
    (
        "TaxNumber not sensitive",
        VALID + "  TaxNumber:\n    from: tfn\n",
        "fields.TaxNumber.sensitive",
        "TaxNumber holds a tax file number: set sensitive: true",
    ),
    (
        "bad YAML syntax",
        VALID + "  Phone: [from: phone\n",
        "line 8, column 1",
        "invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 7,",
    ),
    ("tab indentation", HEAD + "fields:\n\tName:\n", "line 5, column 1", "invalid YAML"),
    (
        "key given twice",
        VALID + "  Name:\n    from: scope_code\n",
        "line 7, column 3",
        "invalid YAML: key 'Name' is given twice",
    ),
    ("empty file", "", "(file)", "must hold a mapping with source_table, target, key, fields"),
    ("a list, not a mapping", "- Name\n", "(file)", "must hold a mapping"),
]


def write(tmp_path: Path, text: str, name: str = "client.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_mapping_loads(tmp_path):
    mapping = load_mapping(write(tmp_path, VALID))
    assert (mapping.source_table, mapping.target, mapping.key, list(mapping.fields)) == (
        "funds",
        "client",
        "fund_id",
        ["Name"],
    )


@pytest.mark.parametrize(
    ("text", "key", "reason"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_mapping_names_file_key_and_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    lines = str(error.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {key}: {reason}")


def test_every_problem_gets_its_own_line(tmp_path):
    text = HEAD + "fields:\n  Name:\n    from: 42\n    colour: red\n  Phone:\n    sensitive: sometimes\n"
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    assert sorted(str(error.value).splitlines()) == sorted(
        [
            f"{path}: fields.Name.from: wrong type: expected text, found a number",
            f"{path}: fields.Name.colour: unknown key; allowed here: from, join, on_blank, "
            "sensitive, separator, transform, value",
            f"{path}: fields.Phone.sensitive: wrong type: expected true or false, found text",
        ]
    )


def test_missing_file_is_a_mapping_error(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(MappingError, match=r"absent\.yaml: \(file\): cannot be read: No such file"):
        load_mapping(path)


def test_non_utf8_file_is_a_mapping_error(tmp_path):
    path = tmp_path / "client.yaml"
    path.write_bytes(VALID.encode("utf-16"))
    with pytest.raises(MappingError, match=r"cannot be read: not UTF-8 text"):
        load_mapping(path)


@pytest.mark.parametrize("tfn", ["123456782", "123 456 782", "123-456-782"])
def test_a_tfn_typed_into_a_mapping_never_reaches_the_message(tmp_path, tfn):
    text = HEAD + f"fields:\n  Name:\n    from: '{tfn}'\n  TaxNumber:\n    value: '{tfn}'\n"
    with pytest.raises(MappingError) as error:
        load_mapping(write(tmp_path, text))
    message = str(error.value)
    assert "fields.Name.from" in message
    assert "fields.TaxNumber.sensitive" in message
    assert tfn not in message
    assert "456" not in message


def test_literal_values_that_are_not_names_are_not_quoted(tmp_path):
    with pytest.raises(MappingError) as error:
        load_mapping(write(tmp_path, VALID + "    on_blank: 'keep it 123456782'\n"))
    assert "fields.Name.on_blank: this value is not allowed; use 'keep' or 'clear'" in str(error.value)


def test_default_mappings_are_the_shipped_files():
    mappings = load_default_mappings()
    assert (mappings.client.target, mappings.client.source_table, mappings.client.key) == (
        "client",
        "funds",
        "fund_id",
    )
    assert (mappings.contact.target, mappings.contact.source_table, mappings.contact.key) == (
        "contact",
        "members",
        "member_id",
    )
    assert Path(__file__).resolve().parents[3] / "include" / "mappings" == PROJECT_MAPPINGS_DIR


def test_mappings_directory_comes_from_the_environment(tmp_path, monkeypatch):
    write(tmp_path, VALID)
    write(tmp_path, (PROJECT_MAPPINGS_DIR / "contact.yaml").read_text(encoding="utf-8"), "contact.yaml")
    monkeypatch.setenv(MAPPINGS_DIR_ENV, str(tmp_path))
    assert list(load_default_mappings().client.fields) == ["Name"]


def test_default_mappings_report_every_bad_file_and_a_swapped_target(tmp_path):
    contact = (PROJECT_MAPPINGS_DIR / "contact.yaml").read_text(encoding="utf-8")
    write(tmp_path, contact, "client.yaml")
    with pytest.raises(MappingError) as error:
        load_default_mappings(tmp_path)
    assert str(error.value).splitlines() == [
        f"{tmp_path / 'client.yaml'}: target: must be client in client.yaml, found contact",
        f"{tmp_path / 'contact.yaml'}: (file): cannot be read: No such file or directory",
    ]


def test_a_tfn_typed_as_a_key_is_masked_too(tmp_path):
    with pytest.raises(MappingError) as error:
        load_mapping(write(tmp_path, VALID + "  '123 456 782':\n    from: tfn\n"))
    assert str(error.value).splitlines() == [
        f"{tmp_path / 'client.yaml'}: fields.########: '########' is not an XPM client element"
    ]


def test_the_business_structure_example_in_client_yaml_loads_with_xpms_smsf_name(tmp_path):
    shipped = (PROJECT_MAPPINGS_DIR / "client.yaml").read_text(encoding="utf-8")
    example = "  # BusinessStructure:\n  #   value: Self Managed Superannuation Fund\n"
    assert example in shipped
    mapping = load_mapping(write(tmp_path, shipped.replace(example, example.replace("# ", ""))))
    assert mapping.fields["BusinessStructure"].value == "Self Managed Superannuation Fund"
