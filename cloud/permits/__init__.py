"""Water-withdrawal permits (取水许可), in one package used by the alarms and the quality reports:

- model.py: the permits in the station registry (holder, permitted volume, permit year, meters, plans);
- withdrawal.py: each permit year's withdrawal from counter readings, its plans and projection;
- tiers.py: the early-warning tiers and the over-permit rule (``alarms.over_permit``);
- report.py: permits in reports (the rates report's ``over_permit`` list, `watertel report permits`).

The model is what the registry and most callers need, so it is importable from the package.
"""

from watertel.cloud.permits.model import Meter, Permit, Plan, permit_problems

__all__ = ["Meter", "Permit", "Plan", "permit_problems"]
