"""The upward forwarder: stored readings reported to a regulator's platform that speaks SZY 206-2016
or SL 651-2014, with the uplink's guarantee (nothing lost; after a crash, only whole frames again).

It runs beside the edge agent and reads its buffer (never writes it); its own state file holds
the cursor, the readings waiting for the rest of their report and the frames until acknowledged::

    edge buffer --> source --> pending --> frames --> outbox --> link --TCP--> platform
    (readings)     (by id,    (cursor     (station,  (bytes as   (login, keep-alive,   |
                    read only) moved, one  element)   sent, one   one report at a      |
                               commit)                commit)     time)                |
                                                        ^                              |
                                                        +---- marked acknowledged <----+

Modules: ``config`` (forward.yaml), ``source`` (the buffer, read by id), ``outbox`` (the state
file), ``frames`` (readings → report frames), ``link`` (the TCP session), ``service`` (loops,
back-off, `watertel forward`). A cloud variant would read the store instead of the buffer
through the same ``source`` shape; it is not written yet.
"""
