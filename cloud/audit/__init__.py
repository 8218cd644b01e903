"""The audit log: every write through the API and every state-changing command, who made it,
what it was, when, from where and how it ended; append-only, chained with HMAC-SM3 under a key
kept outside the database, its head signed (SM2) into checkpoints outside the database.

- chain.py: a row, how it is sealed, appending and reading rows;
- keys.py, config.py: the key files and the ``audit:`` settings;
- checkpoints.py: the signed checkpoint file; trail.py: what a process writes (rows and checkpoints);
- verify.py: `watertel audit verify`; commands.py: the audit row of a CLI action.
"""

from watertel.cloud.audit.chain import GENESIS, Entry, append, recent
from watertel.cloud.audit.verify import Verdict, verify

__all__ = ["GENESIS", "Entry", "Verdict", "append", "recent", "verify"]
