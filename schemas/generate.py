"""Write the JSON Schema of every topic's key and value to schemas/json/.

Run `python -m schemas.generate` after changing a model; a test fails when
the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.events import TOPIC_MODELS

OUT = Path(__file__).parent / "json"


def render() -> dict[str, str]:
    files: dict[str, str] = {}
    for thing, (key_model, value_model) in TOPIC_MODELS.items():
        for role, model in (("key", key_model), ("value", value_model)):
            schema = model.model_json_schema()
            schema["$id"] = f"claimstream.{thing}.v1.{role}"
            files[f"{thing}.{role}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        path = OUT / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text)
    if check and stale:
        print("stale JSON schemas: " + ", ".join(stale) + " (run python -m schemas.generate)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
