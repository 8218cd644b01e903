"""What a region-scoped user's regions hold: the subjects of alarms and work orders. A subject is a
station (its county, city and province) or a gateway, whose security and device alarms
(``refused_envelope``, ``chain_gap``, ``buffer_full``, ``gateway_offline``, …) are raised on the
gateway's id: a gateway lies in every region of the stations it reports for, so the users of those
regions see its alarms (issue 21, item 9).

``create_app`` builds the map; registry and gateway writes refresh it in place, so every reader
of the app sees the change at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from watertel.cloud.api.deps import AncestryMap
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.registry import Registry


def subjects(registry: Registry | None, gateways: Iterable[GatewayEntry]) -> AncestryMap:
    """station → [county, city, province]; gateway → the regions of its stations (a station's
    own id wins should a gateway share it)."""
    stations = {s.id: registry.ancestry(s.region) for s in registry.stations} if registry else {}
    held = {g.id: list(dict.fromkeys(r for s in g.stations for r in stations.get(s) or ()))
            for g in gateways if g.id not in stations}
    return {**{gid: regions for gid, regions in held.items() if regions}, **stations}


def refresh(ancestry: AncestryMap, registry: Registry | None, gateways: Iterable[GatewayEntry]) -> None:
    """Bring the app's map in line with the registry and gateways as they are now, in place."""
    fresh = subjects(registry, gateways)
    ancestry.update(fresh)
    for gone in set(ancestry) - set(fresh):
        ancestry.pop(gone, None)
