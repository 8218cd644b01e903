"""The profiles' README is generated from the YAML: a changed profile needs a regenerated README."""


from watertel.firmware_profiles.doc import render

from tests.support.paths import ROOT


def test_readme_matches_the_profiles():
    readme = ROOT / "firmware_profiles" / "README.md"
    assert readme.read_text() == render(), "run: watertel profile doc > firmware_profiles/README.md"


def test_every_point_and_fault_bit_is_documented():
    from watertel import firmware_profiles

    text = render()
    for path in firmware_profiles.profile_paths():
        profile = firmware_profiles.load(path)
        assert f"## `{path.stem}`" in text
        for p in profile.points:
            address = f"{p.address}.{p.bit}" if p.bit is not None else f"{p.address}"
            assert f"| {p.name} | {p.function.value} | {address} | {p.type.value}" in text
        for bit, name in (profile.status.faults.items() if profile.status else []):
            assert f"bit {bit}: {name}" in text
