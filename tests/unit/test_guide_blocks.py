"""The guides' runnable blocks are found as tests/integration/test_guides.py needs them, and the
guides name what they claim to cover: every key and value of the profile format (vendor), every
setting of the rates (operator)."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from tests.support.guides import run_blocks, shown_in, with_ports
from tests.support.paths import ROOT
from watertel.cloud.quality.config import RatesConfig
from watertel.firmware_profiles.model import KINDS, DataType, Function, Point, Profile, WordOrder

GUIDES = ("integrator", "vendor", "operator")
DOC = """# A guide

```sh run
echo one
```

```text
one
```

Prose.

```sh run
echo two
```

Between.

```text
not the output of two
```

```sh
sudo illustrative
```
"""


def test_a_run_block_takes_the_text_block_right_after_it_as_its_output():
    first, second = run_blocks(DOC)
    assert (first.line, first.script, first.expected) == (3, "echo one\n", ["one"])
    assert (second.script, second.expected) == ("echo two\n", [])  # prose between: not its output


def test_plain_sh_blocks_are_not_run():
    assert [b.script for b in run_blocks(DOC)] == ["echo one\n", "echo two\n"]


def test_shown_lines_must_appear_in_order_with_ellipsis_inside_a_line():
    output = "gateway gw-1: running (status 3.0 s old)\nuplink: connected\n"
    assert shown_in(["gateway gw-1: running (status … s old)", "uplink: connected"], output) is None
    assert shown_in(["uplink: connected", "gateway gw-1"], output) == "gateway gw-1"
    assert shown_in(["gateway … connected"], output) == "gateway … connected"  # … does not cross lines


def test_ports_are_replaced_as_whole_numbers():
    assert with_ports("127.0.0.1:5020 port: 5020 15020 50201", {5020: 40001}) == "127.0.0.1:40001 port: 40001 15020 50201"


def test_every_guide_is_linked_from_the_readme_and_has_blocks_that_show_output():
    readme = (ROOT / "README.md").read_text()
    for guide in GUIDES:
        assert f"(docs/{guide}.md)" in readme, f"README.md does not link docs/{guide}.md"
        blocks = run_blocks((ROOT / "docs" / f"{guide}.md").read_text())
        assert len(blocks) >= 4, f"docs/{guide}.md: only {len(blocks)} `sh run` blocks"
        assert sum(bool(b.expected) for b in blocks) >= 3, f"docs/{guide}.md shows too little output to check"


def _fields(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every field name of ``model`` and of the models it nests, with the model it belongs to."""
    found = {name: model for name in model.model_fields}
    for info in model.model_fields.values():
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found |= {**_fields(inner), **found}
    return found


def test_the_vendor_guide_names_every_key_and_value_of_the_profile_format():
    guide = (ROOT / "docs" / "vendor.md").read_text()
    values = [*KINDS, *Function, *DataType, *WordOrder]
    missing = [f"{model.__name__}.{name}" for name, model in _fields(Profile).items() if f"`{name}`" not in guide]
    missing += [str(v) for v in values if f"`{v}`" not in guide]
    assert not missing, f"docs/vendor.md does not name {missing}"
    assert Point.model_fields["function"].default is Function.HOLDING and "**`holding`**" in guide


def test_the_operator_guide_names_every_rates_setting():
    guide = (ROOT / "docs" / "operator.md").read_text()
    missing = [name for name in _fields(RatesConfig) if name not in guide]
    assert not missing, f"docs/operator.md does not name {missing}"
