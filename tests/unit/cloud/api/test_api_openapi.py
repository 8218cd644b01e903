"""The API's OpenAPI schema says what each operation answers (issue 19): a success response whose
JSON names its fields (a response model), or its media types (event streams, CSV, XLSX); and a
body model for each refusal it documents. The answers themselves are checked against this schema
by tests/integration/cloud/api/test_api_schemathesis.py."""

from __future__ import annotations

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.api import REGISTRY, gateways


def names_fields(schema: dict, components: dict, depth: int = 0) -> bool:
    """Whether ``schema`` (or what it refers to, its items or its alternatives) lists properties."""
    if "$ref" in schema:
        return names_fields(components[schema["$ref"].rsplit("/", 1)[1]], components, depth + 1)
    if schema.get("properties"):
        return True
    if "items" in schema:
        return names_fields(schema["items"], components, depth + 1)
    alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
    return bool(alternatives) and all(names_fields(s, components, depth + 1) for s in alternatives)


def test_every_operation_says_what_it_answers(tmp_path):
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(tmp_path / "registry.yaml")
    store = SqliteStore(tmp_path / "watertel.db")
    try:
        app = create_app(store, ApiConfig(), ReportsSetup(registry, RatesConfig(), tmp_path / "reports", AlarmsConfig()),
                         fleet=FleetSetup(tmp_path / "fleet", {"gw-hz": ["ST-XH"]}),
                         registry_file=tmp_path / "registry.yaml", gateways=gateways(tmp_path))
        spec = app.openapi()
    finally:
        store.close()
    components = spec["components"]["schemas"]
    vague, bare = [], []
    operations = [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()]
    for method, path, op in operations:
        success = [op["responses"][code] for code in op["responses"] if code.startswith("2")]
        assert len(success) == 1, (method, path)
        content = success[0].get("content", {})
        json_schema = content.get("application/json", {}).get("schema")
        if not content or (json_schema is not None and not names_fields(json_schema, components)):
            vague.append(f"{method} {path}")
        bare += [f"{method} {path}: {code}" for code, answer in op["responses"].items()
                 if code[0] in "45" and "schema" not in answer.get("content", {}).get("application/json", {})]
    assert len(operations) >= 50
    assert not vague, "success responses that do not say what comes back:\n" + "\n".join(vague)
    assert not bare, "refusals without a body model:\n" + "\n".join(bare)
