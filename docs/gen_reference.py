"""Generate the reference pages: the API from the OpenAPI document the app serves, the providers'
options from ``GET /providers`` and their schemas, and the settings from the README's table.

Run by ``docs/conf.py`` at every build (or alone: ``python docs/gen_reference.py``); it builds the
app with ``create_app()`` on a throwaway SQLite database and asks it over the test client, so no
server, worker or network is needed. Output: ``docs/_generated/`` (``openapi.json`` and reST).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "_generated"
PROJECT = "docs"
METHODS = ("get", "post", "put", "patch", "delete")


def _esc(text: Any) -> str:
    """Plain text made safe for reST: markup characters outside ``literals`` are escaped."""
    parts = re.split(r"(``[^`]+``)", " ".join(str(text or "").split()))
    out = []
    for n, part in enumerate(parts):
        out.append(part if n % 2 else re.sub(r"([\\*`|_<>\[\]])", r"\\\1", part))
    return "".join(out)


def _heading(text: str, char: str) -> list[str]:
    return [text, char * len(text), ""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0] or ' '}")
        lines.extend(f"     - {cell or ' '}" for cell in row[1:])
    return [*lines, ""]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f":ref:`{name} <schema-{name.lower()}>`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items') or {})}"
    if isinstance(kind, list):
        kind = " | ".join(kind)
    extra = schema.get("format") or (("one of " + ", ".join(f"``{v}``" for v in schema["enum"])) if "enum" in
                                     schema else "")
    return f"{kind} ({extra})" if extra else str(kind)


def _fields(schema: dict[str, Any]) -> list[list[str]]:
    required = set(schema.get("required") or [])
    rows = []
    for name, prop in (schema.get("properties") or {}).items():
        default = f" Default: ``{json.dumps(prop['default'])}``." if "default" in prop else ""
        rows.append([f"``{name}``", _type(prop), "yes" if name in required else "",
                     _esc(prop.get("description", "")) + default])
    return rows


def render_api(spec: dict[str, Any]) -> str:
    """The OpenAPI document as reST: operations grouped by tag, then every schema."""
    lines: list[str] = []
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    for tag, ops in by_tag.items():
        lines += _heading(tags.get(tag) or tag, "-")
        for path, method, op in ops:
            lines += _heading(f"{method.upper()} {path}", "~")
            lines += [_esc(op.get("summary") or op.get("description") or ""), ""]
            params = [[f"``{p['name']}``", p["in"], _type(p.get("schema") or {}), "yes" if p.get("required") else "",
                       _esc(p.get("description", ""))] for p in op.get("parameters") or []]
            if params:
                lines += ["**Parameters**", ""] + _table(["name", "in", "type", "required", "description"], params)
            body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
            if body:
                lines += [f"**Request body**: {_type(body.get('schema') or {})}", ""]
            rows = []
            for code, resp in (op.get("responses") or {}).items():
                if "$ref" in resp:
                    resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
                schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema")
                rows.append([f"``{code}``", _esc(resp.get("description", "")), _type(schema) if schema else ""])
            lines += ["**Responses**", ""] + _table(["status", "meaning", "body"], rows)
    lines += _heading("Schemas", "-")
    for name, schema in sorted((spec.get("components") or {}).get("schemas", {}).items()):
        lines += [f".. _schema-{name.lower()}:", ""] + _heading(name, "~")
        if schema.get("description"):
            lines += [_esc(schema["description"]), ""]
        lines += _table(["field", "type", "required", "description"], _fields(schema))
    return "\n".join(lines) + "\n"


def render_providers(providers: dict[str, Any], schemas: dict[str, dict[str, dict]]) -> str:
    """Each provider: what it can be, and the options of its connection and environments."""
    lines: list[str] = []
    for name, info in providers.items():
        lines += [f".. _provider-{name}:", ""] + _heading(f"``{name}``", "-")
        lines += [f"{_esc(info['description'])}", "", f"Can be: {', '.join(info['abilities'])}.", ""]
        titles = {"connection": "Connection info (``connection_info``)",
                  "source": "Source environment (``source_environment``)",
                  "destination": "Destination environment (``destination_environment`` / ``target_environment``)"}
        for kind, schema in schemas[name].items():
            lines += _heading(titles[kind], "~") + _table(["option", "type", "required", "description"],
                                                         _fields(schema))
    return "\n".join(lines) + "\n"


def _md_inline(text: str) -> str:
    text = re.sub(r"`([^`]+)`", lambda m: f"``{m.group(1)}``", text)
    parts = re.split(r"(``[^`]+``)", text)
    return "".join(p if n % 2 else re.sub(r"(?<![*\w])\*(?![*\s])", r"\\*", p).replace("|", "\\|")
                   for n, p in enumerate(parts))


def render_settings(readme: str) -> str:
    """The README's configuration table (the settings and their defaults) as a reST table."""
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if cells[0] == "setting":
            continue
        rows.append([_md_inline(c) for c in cells])
    return "\n".join(_table(["setting", "default", "meaning"], rows)) + "\n"


def _app_client():
    os.environ.setdefault("CORIOLIS_STATE_DIR", tempfile.mkdtemp(prefix="coriolis-docs-"))
    sys.path.insert(0, str(ROOT))
    from coriolis.config import load_settings
    from coriolis_api.app import create_app

    state = os.environ["CORIOLIS_STATE_DIR"]
    settings = load_settings().replace(database_url=f"sqlite:///{state}/docs.sqlite", auth_strategy="noauth",
                                       state_dir=state)
    return create_app(settings).test_client()


def generate(out: Path = OUT) -> None:
    """Write ``openapi.json``, ``api.rst``, ``providers.rst`` and ``settings.rst`` into ``out``."""
    import logging

    logging.disable(logging.WARNING)  # create_app warns about noauth, which is what the docs build wants
    try:
        client = _app_client()
    finally:
        logging.disable(logging.NOTSET)
    out.mkdir(parents=True, exist_ok=True)
    spec = client.get("/openapi.json").get_json()
    (out / "openapi.json").write_text(json.dumps(spec, indent=2, sort_keys=True))
    (out / "api.rst").write_text(render_api(spec))
    providers = client.get(f"/v1/{PROJECT}/providers").get_json()["providers"]
    schemas: dict[str, dict[str, dict]] = {}
    for name, info in providers.items():
        kinds = ["connection"] + [k for k in ("source", "destination") if k in info["abilities"]]
        schemas[name] = {}
        for kind in kinds:
            answer = client.get(f"/v1/{PROJECT}/providers/{name}/schemas/{kind}").get_json()["schemas"]
            schema = next(iter(answer.values()))
            schemas[name][kind] = schema["oneOf"][0] if "oneOf" in schema else schema  # the connection's form
    (out / "providers.rst").write_text(render_providers(providers, schemas))
    (out / "settings.rst").write_text(render_settings((ROOT / "README.md").read_text()))


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
